"""End to end, the operator's path: pool limits, a partition backfill and per-line staleness over GraphQL.

A two-line synthetic project (tiny 48x48 movies) is generated in a temporary folder and `dagster dev` is
started on it with its own DAGSTER_HOME, whose `dagster.yaml` limits every concurrency pool (so the
`motion_correction` pool of the `motion_correction` step) to one step at a time. Then, through the
webserver:

1. the default-RUNNING `experiments_csv_sensor` adds both lines and launches one `process_line` run per
   line, and both succeed;
2. the two runs overlapped in time but their `motion_correction` steps did not (the pool);
3. a partition backfill of `filtered_lfp` and `lfp_phase` for both lines completes and re-materializes
   both partitions;
4. after line 2's `filter_range` and line 1's `crop_coords` are edited in analysis_parameters.csv and the
   `observe_sources` job runs, `filtered_lfp` is STALE for line 2 only and `cropped_movie` for line 1
   only; the other products stay FRESH.

For partitioned observable deps, staleness compares against the observation pointer recorded at
materialization time (pitfall P6): a product made before its sources were ever observed never turns
stale. `cropped_movie[1]` turning stale shows that `experiments_csv_sensor` observed the line's sources
before launching its first run.

Marked `e2e`; about 3 minutes on a 2-core machine (`-m "not e2e"` skips it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from ace_core import catalog
from ace_core.simulation.calcium import CalciumMovieSpec
from ace_core.simulation.experiment import ExperimentSpec
from tests.e2e.test_webserver_e2e import (
    JOB,
    LOCATION,
    POLL_S,
    REPOSITORY,
    Server,
    _failure_report,
    _wait_for_location,
    _wait_for_sensor_runs,
    dagster_dev_server,
)

LINES = ["1", "2"]
DURATION_S, FPS = 15, 20.0
POOL_STEP = "motion_correction"
OBSERVE_JOB = "observe_sources"
# Generous bounds on waits for events (a loaded machine can take several times a quiet one's minutes).
RUN_TIMEOUT_S = 600
BACKFILL_TIMEOUT_S = 600

DAGSTER_YAML = """\
telemetry:
  enabled: false
concurrency:
  pools:
    granularity: op
    default_limit: 1
"""


def _specs(duration_s: float = DURATION_S) -> list[ExperimentSpec]:
    movie = CalciumMovieSpec(height_px=48, width_px=48, n_neurons=3)
    return [
        ExperimentSpec(line=line, seed=20 + i, duration_s=duration_s, frame_rate_hz=FPS, movie=movie)
        for i, line in enumerate(LINES)
    ]


@pytest.fixture(scope="module")
def ops_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with dagster_dev_server(tmp_path_factory.mktemp("ace_ops_e2e"), _specs(), DAGSTER_YAML) as server:
        yield server


# --- GraphQL -------------------------------------------------------------------------------------------

RUN_Q = """
query Run($runId: ID!) {
  runOrError(runId: $runId) { __typename
    ... on Run { runId status startTime endTime tags { key value }
      stepStats { stepKey status startTime endTime } }
    ... on PythonError { message } }
}
"""

RUN_MESSAGES_Q = """
query Logs($runId: ID!) {
  logsForRun(runId: $runId) { __typename
    ... on EventConnection { events { __typename ... on MessageEvent { message stepKey } } } }
}
"""

LAUNCH_RUN_M = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) { __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message } }
}
"""

LAUNCH_BACKFILL_M = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) { __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack } }
}
"""

BACKFILL_Q = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) { __typename
    ... on PartitionBackfill { id status numPartitions partitionNames error { message } }
    ... on PythonError { message } }
}
"""

RUNS_BY_TAG_Q = """
query RunsByTag($key: String!, $value: String!) {
  runsOrError(filter: {tags: [{key: $key, value: $value}]}) { __typename
    ... on Runs { results { runId status tags { key value } } } }
}
"""

MATERIALIZATIONS_Q = """
query Mats($path: [String!]!, $partitions: [String!]) {
  assetNodeOrError(assetKey: {path: $path}) { __typename
    ... on AssetNode { assetMaterializations(partitions: $partitions) { partition runId timestamp } } }
}
"""

STALE_Q = """
query Stale($path: [String!]!, $partition: String!) {
  assetNodeOrError(assetKey: {path: $path}) { __typename
    ... on AssetNode { staleStatus(partition: $partition) staleCauses(partition: $partition) { reason } } }
}
"""


def _launch_job(server: Server, job: str, tags: dict[str, str] | None = None) -> str:
    params = {
        "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": job},
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
    }
    result = server.gql(LAUNCH_RUN_M, {"params": params})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def _run(server: Server, run_id: str) -> dict:
    run = server.gql(RUN_Q, {"runId": run_id})["runOrError"]
    assert run["__typename"] == "Run", run
    return run


def _wait_for_runs(server: Server, run_ids: list[str]) -> dict[str, dict]:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        runs = {rid: _run(server, rid) for rid in run_ids}
        for rid, run in runs.items():
            if run["status"] in ("FAILURE", "CANCELED"):
                raise AssertionError(f"run {rid} ended {run['status']}:\n{_failure_report(server, rid)}")
        if all(r["status"] == "SUCCESS" for r in runs.values()):
            return runs
        time.sleep(POLL_S)
    raise AssertionError(
        f"runs not SUCCESS within {RUN_TIMEOUT_S} s: {[(r, runs[r]['status']) for r in runs]}"
    )


def _step(run: dict, key: str) -> dict:
    (step,) = [s for s in run["stepStats"] if s["stepKey"] == key]
    assert step["status"] == "SUCCESS" and step["startTime"] and step["endTime"], step
    return step


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return min(a[1], b[1]) - max(a[0], b[0])


def _runs_at_once(server: Server, sensor_runs: dict[str, list[dict]]) -> list[dict]:
    """The lines' successful sensor runs if they overlapped in time, else two `process_line` runs launched
    at once; asserts that the returned runs did overlap (two runs executing together)."""
    run_ids = [next(r["runId"] for r in sensor_runs[line] if r["status"] == "SUCCESS") for line in LINES]
    runs = [_run(server, rid) for rid in run_ids]
    spans = [(r["startTime"], r["endTime"]) for r in runs]
    if _overlap(*spans) <= 0:
        print(f"sensor runs did not overlap ({spans}): launching two more process_line runs at once")
        run_ids = [_launch_job(server, JOB, {"dagster/partition": line}) for line in LINES]
        runs = list(_wait_for_runs(server, run_ids).values())
        spans = [(r["startTime"], r["endTime"]) for r in runs]
    assert _overlap(*spans) > 0, f"the two process_line runs never ran at the same time: {spans}"
    return runs


def _backfill(server: Server, assets: list[str], partitions: list[str]) -> tuple[dict, set[str]]:
    """Backfill `assets` for `partitions`, wait until it completes, and check that every backfill run
    succeeded and re-materialized every asset partition; returns the backfill and its run ids."""
    params = {"partitionNames": partitions, "assetSelection": [{"path": [asset]} for asset in assets]}
    launched = server.gql(LAUNCH_BACKFILL_M, {"params": params})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]
    deadline = time.monotonic() + BACKFILL_TIMEOUT_S
    while True:
        backfill = server.gql(BACKFILL_Q, {"id": backfill_id})["partitionBackfillOrError"]
        assert backfill["__typename"] == "PartitionBackfill", backfill
        if backfill["status"] in ("COMPLETED_SUCCESS", "COMPLETED"):
            break
        assert backfill["status"] not in ("FAILED", "COMPLETED_FAILED", "CANCELED", "CANCELING"), backfill
        assert time.monotonic() < deadline, f"backfill not done within {BACKFILL_TIMEOUT_S} s: {backfill}"
        time.sleep(2 * POLL_S)
    bf_runs = server.gql(RUNS_BY_TAG_Q, {"key": "dagster/backfill", "value": backfill_id})["runsOrError"]
    bf_run_ids = {r["runId"] for r in bf_runs["results"]}
    assert bf_run_ids and all(r["status"] == "SUCCESS" for r in bf_runs["results"]), bf_runs
    for asset in assets:
        node = server.gql(MATERIALIZATIONS_Q, {"path": [asset], "partitions": partitions})["assetNodeOrError"]
        by_backfill = {m["partition"] for m in node["assetMaterializations"] if m["runId"] in bf_run_ids}
        assert sorted(by_backfill) == sorted(partitions), (asset, node["assetMaterializations"])
    return backfill, bf_run_ids


def _stale(server: Server, asset: str, partition: str) -> tuple[str, list[str]]:
    node = server.gql(STALE_Q, {"path": [asset], "partition": partition})["assetNodeOrError"]
    assert node["__typename"] == "AssetNode", node
    return node["staleStatus"], [c["reason"] for c in node["staleCauses"]]


# --- the test ------------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_pool_backfill_and_staleness(ops_server: Server) -> None:
    try:
        _check_operations(ops_server)
    except BaseException:
        print(f"--- tail of {ops_server.log_path} ---\n{ops_server.log_tail()}")
        raise


def _check_operations(server: Server) -> None:
    t0 = time.monotonic()
    _wait_for_location(server)

    # 1. The sensor adds both lines and launches one process_line run per line; both succeed.
    sensor_runs = _wait_for_sensor_runs(server, LINES)
    print(f"sensor runs SUCCESS after {time.monotonic() - t0:.1f} s")

    # 2. Pool `motion_correction` (limit 1): the runs overlap, their motion_correction steps do not.
    runs = _runs_at_once(server, sensor_runs)
    run_ids = [r["runId"] for r in runs]
    spans = [(r["startTime"], r["endTime"]) for r in runs]
    steps = [_step(r, POOL_STEP) for r in runs]
    step_spans = [(s["startTime"], s["endTime"]) for s in steps]
    assert _overlap(*step_spans) <= 0, f"{POOL_STEP} steps overlapped despite pool limit 1: {step_spans}"
    blocked = [
        ev["message"]
        for rid in run_ids
        for ev in server.gql(RUN_MESSAGES_Q, {"runId": rid})["logsForRun"]["events"]
        if "blocked by limit for pool" in (ev.get("message") or "")
    ]
    print(f"runs {spans}; {POOL_STEP} steps {step_spans}; pool-blocked messages: {blocked[:2]}")

    # 3. Backfill filtered_lfp + lfp_phase for both lines.
    backfill, bf_run_ids = _backfill(server, ["filtered_lfp", "lfp_phase"], LINES)
    print(f"backfill {backfill['status']} ({len(bf_run_ids)} runs) after {time.monotonic() - t0:.1f} s")

    for asset in ("filtered_lfp", "cropped_movie"):
        for line in LINES:
            assert _stale(server, asset, line)[0] == "FRESH", (asset, line, _stale(server, asset, line))

    # 4. Edit line 2's filter_range and line 1's crop, observe: only filtered_lfp[2] and cropped_movie[1]
    #    are stale. cropped_movie was made only by the sensor's run, so its staleness shows that the sensor
    #    observed the sources before that first run (pitfall P6).
    project = server.store.parent / "project"
    rows = catalog.read_parameter_rows(project)
    assert rows is not None and list(rows["2"]["filter_range"]) != [1.0, 3.0], rows
    rows["2"]["filter_range"] = [1.0, 3.0]
    rows["1"]["crop_coords"] = [2, 2, 46, 46]
    catalog.write_parameters_csv(project / catalog.PARAMETERS_CSV, list(rows.values()))
    _wait_for_runs(server, [_launch_job(server, OBSERVE_JOB)])

    status, causes = _stale(server, "filtered_lfp", "2")
    assert status == "STALE" and causes, (status, causes)
    assert any("new data version" in c for c in causes), causes
    assert _stale(server, "filtered_lfp", "1") == ("FRESH", []), _stale(server, "filtered_lfp", "1")
    assert _stale(server, "cropped_movie", "2")[0] == "FRESH", _stale(server, "cropped_movie", "2")
    assert _stale(server, "cropped_movie", "1")[0] == "STALE", _stale(server, "cropped_movie", "1")
    assert _stale(server, "filtered_lfp", "1")[0] == "FRESH", _stale(server, "filtered_lfp", "1")
    print(f"filtered_lfp[2] STALE: {json.dumps(causes)}; total {time.monotonic() - t0:.1f} s")
