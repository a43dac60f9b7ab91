"""End to end on a real PostgreSQL server: `dagster dev` with run, event-log and schedule storage there.

`deploy/dagster.postgres.yaml` is the production instance. This test checks that shape against a real
server: a PostgreSQL server from Debian's packages (`scripts/setup_system.sh`) is started on a temporary
data directory and a loopback port (`tests/e2e/postgres_server.py`). A two-line synthetic project is then
served by `dagster dev` with `deploy/dagster.postgres.yaml` itself as its `dagster.yaml` (credentials in
PG* environment variables; its run queue lets up to 4 runs execute at once). Through the webserver and
psycopg2:

1. Dagster created its tables in that database, and DAGSTER_HOME holds no SQLite file, so the instance
   really runs on PostgreSQL and has not fallen back to the default SQLite storage;
2. the default-RUNNING `experiments_csv_sensor` launches one `process_line` run per line, both succeed,
   and two `process_line` runs executed at the same time (the sensor's, or two launched together);
3. a partition backfill of `filtered_lfp` and `lfp_phase` for both lines completes and re-materializes
   both partitions;
4. every one of those runs, and the backfill's materializations, are rows in PostgreSQL.

Both servers are stopped afterwards (`dagster dev` first, with anything it left running) and the data
directory is removed. Without the PostgreSQL binaries the test skips, unless ACE_REQUIRE_SYSTEM_TESTS=1
(CI), where it fails. Marked `e2e`; 3 to 3.5 minutes on a busy 2-core machine, nearly all of it the two
`process_line` runs (a step subprocess per asset) and the backfill daemon's 30 s evaluation interval.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.postgres_server import PostgresServer, postgres_server
from tests.e2e.test_operations_e2e import LINES, _backfill, _runs_at_once, _specs
from tests.e2e.test_webserver_e2e import (
    Server,
    _venv_bin,
    _wait_for_location,
    _wait_for_sensor_runs,
    dagster_dev_server,
)

BACKFILL_ASSETS = ["filtered_lfp", "lfp_phase"]
DURATION_S = 10  # the operations test's tiny lines, shorter still: what this test checks is the storage


DEPLOY_YAML = Path(__file__).resolve().parents[2] / "deploy" / "dagster.postgres.yaml"
POOLS = {"motion_correction": 2, "cnmfe": 2}  # the pools declared by the heavy steps


def _set_pool_limits(tmp: Path, dagster_yaml: str) -> None:
    """`dagster instance concurrency set` for each pool, as the README tells operators to do once.

    Dagster 1.13.27 on PostgreSQL: when two runs claim a pool that has no row yet, both insert its
    default limit; the loser's IntegrityError aborts its transaction and the step fails
    (UniqueViolation on concurrency_limits_concurrency_key_key). An explicit limit has a row from the start.
    """
    home = tmp / "setup_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(dagster_yaml)
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    for pool, limit in POOLS.items():
        subprocess.run(
            [str(_venv_bin() / "dagster"), "instance", "concurrency", "set", pool, str(limit)],
            env=env,
            check=True,
            capture_output=True,
        )


def _use_deploy_yaml(pg: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The production file itself, verbatim: its credentials come from PG* variables, set here."""
    for name, value in {
        "PGHOST": pg.host,
        "PGPORT": str(pg.port),
        "PGUSER": pg.user,
        "PGPASSWORD": pg.password,
        "PGDATABASE": pg.dbname,
    }.items():
        monkeypatch.setenv(name, value)  # inherited by `dagster dev`
    return DEPLOY_YAML.read_text()


def _query(pg: PostgresServer, sql: str, args: tuple = ()) -> list[tuple]:
    conn = pg.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


@pytest.mark.e2e
def test_run_and_backfill_on_postgres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t0 = time.monotonic()
    with postgres_server() as pg:
        print(f"PostgreSQL on {pg.host}:{pg.port} ready after {time.monotonic() - t0:.1f} s")
        dagster_yaml = _use_deploy_yaml(pg, monkeypatch)
        _set_pool_limits(tmp_path, dagster_yaml)
        with dagster_dev_server(tmp_path, _specs(DURATION_S), dagster_yaml) as server:
            _check_on_postgres(server, pg, t0)
    print(f"total, servers stopped: {time.monotonic() - t0:.1f} s")


def _check_on_postgres(server: Server, pg: PostgresServer, t0: float) -> None:
    print(f"`dagster dev` answered /server_info after {server.ready_after_s:.1f} s")
    _wait_for_location(server)

    # 1. The instance is on PostgreSQL: Dagster created its tables in our database (and, checked at the
    #    end, no process of it fell back to SQLite files in DAGSTER_HOME).
    tables = {row[0] for row in _query(pg, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"runs", "event_logs", "jobs", "job_ticks"} <= tables, sorted(tables)

    # 2. The sensor's run per line succeeds, and two process_line runs executed at once.
    sensor_runs = _wait_for_sensor_runs(server, LINES)
    print(f"sensor runs SUCCESS after {time.monotonic() - t0:.1f} s")
    runs = _runs_at_once(server, sensor_runs)
    spans = [(r["startTime"], r["endTime"]) for r in runs]
    print(f"two process_line runs at once: {spans} (done {time.monotonic() - t0:.1f} s)")

    # 3. A partition backfill of two cheap assets for both lines.
    backfill, bf_run_ids = _backfill(server, BACKFILL_ASSETS, LINES)
    print(f"backfill {backfill['status']} ({len(bf_run_ids)} runs) after {time.monotonic() - t0:.1f} s")

    # 4. What GraphQL reported is what PostgreSQL holds: the runs, and the backfill's materializations.
    run_ids = (
        {r["runId"] for rs in sensor_runs.values() for r in rs} | {r["runId"] for r in runs} | bf_run_ids
    )
    statuses = dict(_query(pg, "SELECT run_id, status FROM runs WHERE run_id = ANY(%s)", (list(run_ids),)))
    assert set(statuses) == run_ids, sorted(run_ids - set(statuses))
    assert all(statuses[rid] == "SUCCESS" for rid in bf_run_ids | {r["runId"] for r in runs}), statuses
    (n_runs,) = _query(pg, "SELECT count(*) FROM runs")[0]
    materialized = _query(
        pg,
        "SELECT asset_key, partition FROM event_logs"
        " WHERE dagster_event_type = 'ASSET_MATERIALIZATION' AND run_id = ANY(%s)",
        (list(bf_run_ids),),
    )
    expected = {(f'["{asset}"]', line) for asset in BACKFILL_ASSETS for line in LINES}
    assert set(materialized) == expected, materialized
    home = server.store.parent / "home"
    sqlite_files = [p for p in home.rglob("*") if p.suffix in (".db", ".sqlite")]
    assert not sqlite_files, f"SQLite storage appeared in DAGSTER_HOME: {sqlite_files}"
    print(f"PostgreSQL: {n_runs} runs, {len(materialized)} backfill materializations, {len(tables)} tables")
