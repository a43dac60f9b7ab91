"""End to end: `dagster dev -w workspace.yaml` loads the definitions and the user path works over HTTP.

A two-line synthetic project (one clean line, one with a TTL gap and a spurious edge) is generated in a
temporary folder, `dagster dev` is started on it with its own DAGSTER_HOME, and the default-RUNNING
`experiments_csv_sensor` is left to do what it does for a lab: add both lines as `experiment_line`
partitions and launch one `process_line` run per line. Everything is then checked through the webserver's
GraphQL API (assets, partitions, materializations, the `t_ca_im_matches_movie` check) and on disk (the
`t_ca_im` zarr products open with plain xarray).

Marked `e2e`; it runs by default and takes about 40 s on a 2-core machine (`-m "not e2e"` skips it).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
import xarray as xr

from ace_core.simulation.calcium import CalciumMovieSpec
from ace_core.simulation.experiment import ExperimentSpec, ExperimentTruth, generate_project

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCATION = "ace_assets"
REPOSITORY = "__repository__"
SENSOR = "experiments_csv_sensor"
JOB = "process_line"
ASSETS = {
    "raw_neuralynx",
    "raw_miniscope",
    "lfp",
    "filtered_lfp",
    "lfp_phase",
    "lfp_spectrogram",
    "ttl_events",
    "t_ca_im",
}
CHECK = "t_ca_im_matches_movie"
DURATION_S, FPS = 20, 20.0
N_FRAMES = int(DURATION_S * FPS)  # 400

# Bounds on waits for events (the loops return as soon as the event happens): generous, because a loaded
# 2-core machine runs two lines' 30-step runs in about 4 minutes, a quiet one in under 2.
SERVER_TIMEOUT_S = 90
RUNS_TIMEOUT_S = 900
POLL_S = 1.0


def _specs() -> list[ExperimentSpec]:
    movie = CalciumMovieSpec(height_px=48, width_px=48, n_neurons=5)
    return [
        ExperimentSpec(line="1", seed=11, duration_s=DURATION_S, frame_rate_hz=FPS, movie=movie),
        ExperimentSpec(
            line="2",
            seed=12,
            duration_s=DURATION_S,
            frame_rate_hz=FPS,
            movie=movie,
            ttl_gap=(100, 5),
            spurious_edge_after_frame=50,
        ),
    ]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _venv_bin() -> Path:
    venv_bin = REPO_ROOT / ".venv" / "bin"
    return venv_bin if (venv_bin / "dagster").exists() else Path(sys.executable).parent


def _restore_default_sigint() -> None:  # runs in the child before exec
    # A parent started with `&` from a non-interactive shell ignores SIGINT, the child would inherit that,
    # and dagster maps SIGTERM to the SIGINT handler: neither signal would then stop it (pitfall P12).
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log_path: Path
    store: Path
    truths: dict[str, ExperimentTruth]
    started_at: float  # time.monotonic() when `dagster dev` was started
    started_wall: float  # time.time() at the same instant (GraphQL timestamps are epoch seconds)
    ready_after_s: float = float("nan")

    def log_tail(self, n_chars: int = 6000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"<no server log: {exc}>"
        return text[-n_chars:]

    def gql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            payload = json.loads(resp.read())
        if payload.get("errors"):
            raise AssertionError(f"GraphQL errors: {json.dumps(payload['errors'], indent=2)[:3000]}")
        return payload["data"]


def _wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + SERVER_TIMEOUT_S
    last_error = "no attempt"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(f"`dagster dev` exited with {server.proc.returncode} before serving")
        try:
            with urllib.request.urlopen(f"{server.url}/server_info", timeout=5) as resp:
                if resp.status == 200:
                    server.ready_after_s = time.monotonic() - server.started_at
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last_error = repr(exc)
        time.sleep(POLL_S)
    raise AssertionError(f"/server_info did not answer 200 within {SERVER_TIMEOUT_S} s ({last_error})")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
        print(f"`dagster dev` stopped by SIGTERM in {time.monotonic() - t0:.1f} s (rc {proc.returncode})")
    except subprocess.TimeoutExpired:
        print("`dagster dev` ignored SIGTERM for 60 s: killing its process group")
        # Its own session (start_new_session=True): kill it and its code server, webserver and daemon.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)


@contextlib.contextmanager
def dagster_dev_server(tmp: Path, specs: list[ExperimentSpec], dagster_yaml: str) -> Iterator[Server]:
    """Generate a project from `specs` under `tmp` and serve it with `dagster dev` until the block exits."""
    project, data, store, home = tmp / "project", tmp / "data", tmp / "store", tmp / "home"
    truths = generate_project(project, data, specs)
    home.mkdir()
    (home / "dagster.yaml").write_text(dagster_yaml)

    env = dict(os.environ)
    env.update(
        DAGSTER_HOME=str(home),
        ACE_PROJECT_PATH=str(project),
        ACE_DATA_PATH=str(data),
        ACE_STORE_PATH=str(store),
        PATH=os.pathsep.join([str(_venv_bin()), env.get("PATH", "")]),
        PYTHONUNBUFFERED="1",
    )
    port = _free_port()
    log_path = tmp / "dagster_dev.log"
    cmd = [str(_venv_bin() / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_restore_default_sigint,
        )
    server = Server(
        url=f"http://127.0.0.1:{port}",
        proc=proc,
        log_path=log_path,
        store=store,
        truths=truths,
        started_at=time.monotonic(),
        started_wall=time.time(),
    )
    try:
        _wait_until_up(server)
        yield server
    except BaseException:
        print(f"--- tail of {log_path} ---\n{server.log_tail()}")
        raise
    finally:
        _stop(proc)
        _end_leftovers(proc.pid)  # its own process group (start_new_session=True)


def _live_members(group: int) -> dict[int, str]:
    """Processes of process group `group` that are not zombies, with their command lines (Linux /proc)."""
    members = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue  # exited meanwhile
        if int(pgrp) == group and state != "Z":
            members[int(stat.parent.name)] = cmdline[:100]
    return members


def _end_leftovers(group: int, grace_s: float = 15.0) -> None:
    # `dagster dev` exits on SIGTERM, but stopped with a run in flight (an assertion failed mid-run) it
    # leaves its code server, run worker and step processes behind, deaf to SIGTERM and retrying forever a
    # database that is about to be stopped. After a normal stop its code server may take a moment to exit.
    deadline = time.monotonic() + grace_s
    while (members := _live_members(group)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid, cmdline in members.items():
        print(f"killing {pid}, left running by `dagster dev`: {cmdline}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # The lines are 27 s of ephys, shorter than the default 30 s LFP spectrogram window: lfp_spectrogram
    # shortens the window (with a warning) instead of failing the run.
    with dagster_dev_server(
        tmp_path_factory.mktemp("ace_e2e"), _specs(), "telemetry:\n  enabled: false\n"
    ) as server:
        yield server


# --- GraphQL -------------------------------------------------------------------------------------------

WORKSPACE_Q = """
{ workspaceOrError { __typename
    ... on Workspace { locationEntries { name loadStatus
        locationOrLoadError { __typename ... on PythonError { message stack } } } }
    ... on PythonError { message } } }
"""

ASSET_NODES_Q = """
{ assetNodes { assetKey { path } isPartitioned partitionDefinition { type name } } }
"""

RUNS_Q = """
query Runs($job: String!) {
  runsOrError(filter: {pipelineName: $job}) {
    __typename
    ... on Runs { results { runId status creationTime tags { key value } } }
    ... on PythonError { message }
  }
}
"""

RUN_LOGS_Q = """
query Logs($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection { events { __typename
        ... on MessageEvent { message level stepKey }
        ... on ExecutionStepFailureEvent { error { message stack cause { message stack } } } } }
  }
}
"""

SENSOR_Q = """
query Sensor($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { status ticks(limit: 10) {
        status timestamp runIds skipReason error { message }
        dynamicPartitionsRequestResults { partitionsDefName partitionKeys type skippedPartitionKeys } } } }
  }
}
"""

ASSET_PARTITIONS_Q = """
{ assetNodes { assetKey { path } isMaterializable
    partitionKeysByDimension { partitionKeys }
    assetPartitionStatuses { __typename
      ... on DefaultPartitionStatuses { materializedPartitions failedPartitions } } } }
"""

CHECK_EXECUTIONS_Q = """
query Checks($path: [String!]!, $check: String!) {
  assetCheckExecutions(assetKey: {path: $path}, checkName: $check, limit: 20) {
    runId status partition evaluation { success partition description }
  }
}
"""


def _wait_for_location(server: Server) -> None:
    deadline = time.monotonic() + SERVER_TIMEOUT_S
    while time.monotonic() < deadline:
        ws = server.gql(WORKSPACE_Q)["workspaceOrError"]
        assert ws["__typename"] == "Workspace", ws
        entries = {e["name"]: e for e in ws["locationEntries"]}
        assert LOCATION in entries, f"workspace.yaml should define location {LOCATION!r}: {list(entries)}"
        entry = entries[LOCATION]
        loaded = entry["locationOrLoadError"]
        if loaded and loaded["__typename"] == "PythonError":
            raise AssertionError(f"code location failed to load:\n{loaded['message']}\n{loaded['stack']}")
        if entry["loadStatus"] == "LOADED" and loaded:
            return
        time.sleep(POLL_S)
    raise AssertionError(f"code location {LOCATION!r} not loaded within {SERVER_TIMEOUT_S} s")


def _sensor_ticks(server: Server) -> list[dict]:
    selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": SENSOR}
    sensor = server.gql(SENSOR_Q, {"selector": selector})["sensorOrError"]
    assert sensor["__typename"] == "Sensor", sensor
    return sensor["sensorState"]["ticks"]


def _failure_report(server: Server, run_id: str) -> str:
    logs = server.gql(RUN_LOGS_Q, {"runId": run_id})["logsForRun"]
    lines = []
    for ev in logs.get("events", []):
        if ev.get("level") in ("ERROR", "CRITICAL") or ev["__typename"] == "ExecutionStepFailureEvent":
            lines.append(f"[{ev.get('stepKey')}] {ev.get('message')}")
            error = ev.get("error")
            while error:
                lines.append(error["message"] + "".join(error["stack"] or []))
                error = error.get("cause")
    return "\n".join(lines) or json.dumps(logs)[:4000]


def _wait_for_sensor_runs(server: Server, lines: list[str]) -> dict[str, dict]:
    """One successful `process_line` run per line; returns them by partition key."""
    deadline = time.monotonic() + RUNS_TIMEOUT_S
    runs: dict[str, dict] = {}
    while time.monotonic() < deadline:
        result = server.gql(RUNS_Q, {"job": JOB})["runsOrError"]
        assert result["__typename"] == "Runs", result
        runs = {}
        for run in result["results"]:
            tags = {t["key"]: t["value"] for t in run["tags"]}
            runs.setdefault(tags.get("dagster/partition"), []).append({**run, "tags": tags})
        for line in lines:
            for run in runs.get(line, []):
                if run["status"] in ("FAILURE", "CANCELED"):
                    raise AssertionError(
                        f"run {run['runId']} for line {line} ended {run['status']}:\n"
                        f"{_failure_report(server, run['runId'])}"
                    )
        if all(any(r["status"] == "SUCCESS" for r in runs.get(line, [])) for line in lines):
            return {line: runs[line] for line in lines}
        time.sleep(2 * POLL_S)
    summary = {k: [(r["runId"], r["status"]) for r in v] for k, v in runs.items()}
    raise AssertionError(
        f"no SUCCESS run for every line within {RUNS_TIMEOUT_S} s; runs: {summary}; "
        f"sensor ticks: {json.dumps(_sensor_ticks(server), indent=1)[:3000]}"
    )


# --- the test ------------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_dagster_dev_sensor_materializes_every_line(dagster_dev: Server) -> None:
    try:
        _check_user_path(dagster_dev)
    except BaseException:
        print(f"--- tail of {dagster_dev.log_path} ---\n{dagster_dev.log_tail()}")
        raise


def _check_user_path(server: Server) -> None:
    lines = sorted(server.truths)
    print(f"`dagster dev` answered /server_info after {server.ready_after_s:.1f} s")
    _wait_for_location(server)

    # 1. The definitions: every asset, all partitioned by the dynamic `experiment_line` definition.
    nodes = {"/".join(n["assetKey"]["path"]): n for n in server.gql(ASSET_NODES_Q)["assetNodes"]}
    assert ASSETS <= set(nodes), f"missing assets: {sorted(ASSETS - set(nodes))}"
    for name in ASSETS:
        assert nodes[name]["isPartitioned"], name
        assert nodes[name]["partitionDefinition"] == {"type": "DYNAMIC", "name": "experiment_line"}, (
            name,
            nodes[name]["partitionDefinition"],
        )

    # 2. The default-RUNNING sensor adds both lines and launches one successful run per line.
    runs = _wait_for_sensor_runs(server, lines)
    after_start = time.monotonic() - server.started_at
    ticks = _sensor_ticks(server)
    launching = [t for t in ticks if t["runIds"]]
    assert launching, f"no sensor tick launched runs: {ticks}"
    sensor_run_ids = {rid for t in launching for rid in t["runIds"]}
    added = [
        (r["partitionsDefName"], r["type"], key)
        for t in ticks
        for r in t["dynamicPartitionsRequestResults"]
        for key in r["partitionKeys"] or []
    ]
    assert sorted(added) == [("experiment_line", "ADD_PARTITIONS", line) for line in lines], ticks
    for line in lines:
        (run,) = [r for r in runs[line] if r["status"] == "SUCCESS"]
        assert run["runId"] in sensor_run_ids, f"line {line}: run {run['runId']} not launched by {SENSOR}"
        assert run["tags"].get("dagster/sensor_name") == SENSOR, run["tags"]
        assert run["tags"].get("ace/trigger") == "new_line", run["tags"]
    first_tick = min(t["timestamp"] for t in launching) - server.started_wall
    first_run = min(r["creationTime"] for v in runs.values() for r in v) - server.started_wall
    print(
        f"after `dagster dev` started: sensor tick that added the lines {first_tick:.1f} s, "
        f"first run created {first_run:.1f} s, both runs SUCCESS {after_start:.1f} s"
    )

    # 3. Both lines are partitions of every asset, and every derived asset (t_ca_im included) is
    #    materialized for both, seen through the webserver.
    nodes = {"/".join(n["assetKey"]["path"]): n for n in server.gql(ASSET_PARTITIONS_Q)["assetNodes"]}
    derived = {name for name in ASSETS if nodes[name]["isMaterializable"]}
    assert "t_ca_im" in derived and ASSETS - derived == {"raw_neuralynx", "raw_miniscope"}, derived
    for name in ASSETS:
        (dimension,) = nodes[name]["partitionKeysByDimension"]
        assert sorted(dimension["partitionKeys"]) == lines, (name, dimension)
    for name in derived:
        statuses = nodes[name]["assetPartitionStatuses"]
        assert statuses["__typename"] == "DefaultPartitionStatuses", (name, statuses)
        assert sorted(statuses["materializedPartitions"]) == lines, (name, statuses)
        assert statuses["failedPartitions"] == [], (name, statuses)

    # 4. The partitioned asset check passed for both lines (the gap line after gap filling and deletion).
    executions = server.gql(CHECK_EXECUTIONS_Q, {"path": ["t_ca_im"], "check": CHECK})["assetCheckExecutions"]
    by_partition = {e["partition"]: e for e in executions}
    assert sorted(by_partition) == lines, executions
    for line in lines:
        ex = by_partition[line]
        assert ex["status"] == "SUCCEEDED", ex
        assert ex["evaluation"]["success"] and ex["evaluation"]["partition"] == line, ex

    # 5. The products are plain zarr: 400 frame times per line, matching the generator's truth.
    for line in lines:
        truth = server.truths[line]
        path = server.store / "t_ca_im" / f"{line}.zarr"
        with xr.open_zarr(path) as ds:
            assert ds.sizes["frame"] == N_FRAMES
            t = ds["t_ca_im_s"].values
            assert int(ds["interpolated"].values.sum()) == len(truth.dropped_frames)
        assert np.abs(t - truth.frame_times_s).max() < 1e-3, line


def _ui_screenshots_module():
    """scripts/ui_screenshots.py (a script, not a package module), loaded by path."""
    path = REPO_ROOT / "scripts" / "ui_screenshots.py"
    spec = importlib.util.spec_from_file_location("ui_screenshots", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.e2e
def test_ui_screenshots_of_the_asset_graph_and_a_partitions_page(dagster_dev: Server, tmp_path: Path) -> None:
    """Headless Debian Chromium, driven by Playwright, photographs the running UI (after the line runs)."""
    require = os.environ.get("ACE_REQUIRE_SYSTEM_TESTS") == "1"
    missing = [name for name in ("playwright",) if importlib.util.find_spec(name) is None]
    if shutil.which("chromium") is None and not os.environ.get("ACE_CHROMIUM"):
        missing.append("chromium")
    if missing:
        message = f"{missing} not installed: run scripts/setup_system.sh and scripts/setup.sh"
        pytest.fail(message) if require else pytest.skip(message)
    lines = sorted(dagster_dev.truths)
    _wait_for_sensor_runs(dagster_dev, lines)  # products to show (no-op if the test above ran)

    ui = _ui_screenshots_module()
    t0 = time.monotonic()
    text: dict[str, list[str]] = {}
    shots = ui.take_screenshots(dagster_dev.url, tmp_path, asset="t_ca_im", partition="2", page_text=text)
    print(f"screenshots in {time.monotonic() - t0:.1f} s: {shots}")
    assert set(shots) == {"asset_graph", "asset_partitions"}, shots
    for name, path in shots.items():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
        image = mpimg.imread(path)
        assert image.shape[:2] == (ui.VIEWPORT["height"], ui.VIEWPORT["width"]), (name, image.shape)
        assert image[..., :3].std() > 0.05, f"{name} is blank"
    # What was on screen: every group and a node of each stage of the chain (the graph renders only the
    # nodes in view) ...
    graph = set(text["asset_graph"])
    assert set(ui.GRAPH_GROUPS) | set(ui.GRAPH_ASSETS) <= graph, sorted(graph)
    # ... and both lines as partitions of t_ca_im, line 2 selected with the metadata of its TTL gap.
    page = text["asset_partitions"]
    assert set(lines) <= set(page) and "Materialized (2)" in page, page
    assert {"Latest materialization", "frames_filled", "low_confidence_periods"} <= set(page), page
