"""A throwaway PostgreSQL server for tests: Debian's binaries, a temporary data directory, a loopback port.

`postgres_server()` runs `initdb` on a fresh directory under /tmp, starts the server with `pg_ctl` on
127.0.0.1 and a free port (its unix socket inside that directory, not the system-wide
/var/run/postgresql), creates one database, yields its coordinates and always stops the server and
removes the directory afterwards.

The binaries come from Debian's `postgresql` package (`scripts/setup_system.sh` installs it). Without
them the test skips, unless ACE_REQUIRE_SYSTEM_TESTS=1 (set by `.ci/run`), where it fails instead.
PostgreSQL refuses to run as root, so as root every server command runs as the package's `postgres`
user through `runuser`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import psycopg2
import pytest

from tests.e2e.test_webserver_e2e import _free_port

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
SERVER_USER = "postgres"  # created by Debian's postgresql-common
START_TIMEOUT_S = 60


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str  # trust authentication accepts any; Dagster's postgres_db config wants one anyway
    dbname: str
    log_path: Path

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.dbname}"

    def connect(self, dbname: str | None = None) -> psycopg2.extensions.connection:
        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname or self.dbname,
            connect_timeout=10,
        )

    def log_tail(self, n_chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n_chars:]
        except OSError as exc:
            return f"<no server log: {exc}>"


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("ACE_REQUIRE_SYSTEM_TESTS") == "1":
        pytest.fail(f"{reason}; run scripts/setup_system.sh", pytrace=False)
    pytest.skip(reason)


def find_pg_bin() -> Path | None:
    """The newest installed /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl, if any."""

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", Path(path).parent.name))

    for candidate in sorted(glob.glob(PG_BIN_GLOB), key=version, reverse=True):
        bin_dir = Path(candidate)
        if (bin_dir / "initdb").exists() and (bin_dir / "pg_ctl").exists():
            return bin_dir
    return None


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *cmd] if os.geteuid() == 0 else cmd


@contextlib.contextmanager
def postgres_server(dbname: str = "ace_dagster", user: str = "ace") -> Iterator[PostgresServer]:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        _unavailable(f"PostgreSQL server binaries not found under {PG_BIN_GLOB}")
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam(SERVER_USER)
        except KeyError:
            _unavailable(f"running as root and there is no {SERVER_USER!r} user to run PostgreSQL as")
    # Not pytest's tmp_path: /tmp/pytest-of-root is mode 700, so the `postgres` user could not reach it.
    base = Path(tempfile.mkdtemp(prefix="ace_pg_"))
    if os.geteuid() == 0:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data, log_path = base / "data", base / "server.log"
    server = PostgresServer("127.0.0.1", _free_port(), user, "ace", dbname, log_path)

    def pg(*args: str) -> subprocess.CompletedProcess:
        # cwd=base: the server user may not be allowed into the caller's working directory.
        return subprocess.run(
            _as_server_user([str(bin_dir / args[0]), *args[1:]]),
            cwd=base,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S + 30,
        )

    wait = ["-w", "-t", str(START_TIMEOUT_S)]  # pg_ctl waits for the server to start or stop
    try:
        # Trust authentication: the server only listens on loopback and a socket in a private directory.
        init = pg("initdb", "-D", str(data), "-U", user, "--auth=trust", "--encoding=UTF8", "--locale=C")
        assert init.returncode == 0, f"initdb failed:\n{init.stdout}\n{init.stderr}"
        options = f"-c listen_addresses=127.0.0.1 -p {server.port} -c unix_socket_directories={base}"
        start = pg("pg_ctl", "-D", str(data), "-l", str(log_path), *wait, "-o", options, "start")
        assert start.returncode == 0, f"pg_ctl start failed:\n{start.stdout}\n{start.stderr}"
        conn = server.connect(dbname="postgres")
        try:
            conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{dbname}"')
        finally:
            conn.close()
        yield server
    except BaseException:
        print(f"--- tail of PostgreSQL log {log_path} ---\n{server.log_tail()}")
        raise
    finally:
        # postmaster.pid rather than pg_ctl's answer: a start that timed out may still have left a server.
        if (data / "postmaster.pid").exists():
            stop = pg("pg_ctl", "-D", str(data), "-m", "fast", *wait, "stop")
            if stop.returncode != 0:
                print(f"pg_ctl stop failed:\n{stop.stdout}\n{stop.stderr}")
        shutil.rmtree(base, ignore_errors=True)
