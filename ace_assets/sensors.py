"""Sensors: rows of experiments.csv become partitions and runs; changed sources become observations."""

import hashlib
import json
import os

import dagster as dg

from ace_assets.jobs import process_line_job
from ace_assets.partitions import experiment_lines
from ace_assets.resources import ProjectCatalog
from ace_core.errors import AceError

# Dagster's tag for an observation's data version (what staleness compares).
DATA_VERSION_TAG = "dagster/data_version"
OBSERVE_INTERVAL_S = int(os.environ.get("ACE_OBSERVE_INTERVAL_S", "300"))


def _digest(version: str) -> str:
    # Cursors hold a short digest per (source, line): hundreds of lines x 16 sources stay small.
    return hashlib.sha1(version.encode()).hexdigest()[:10]


def _observations(versions: dict[str, dict[str, str]], last: dict[str, dict[str, str]] | None = None):
    """One AssetObservation per (source, line); with `last` (the cursor), just those whose version moved."""
    events = []
    for name, by_line in versions.items():
        for line, version in by_line.items():
            if last is None or last.get(line, {}).get(name) != _digest(version):
                events.append(
                    dg.AssetObservation(asset_key=name, partition=line, tags={DATA_VERSION_TAG: version})
                )
    return events


def _cursor(versions: dict[str, dict[str, str]]) -> str:
    by_line: dict[str, dict[str, str]] = {}
    for name, lines in versions.items():
        for line, version in lines.items():
            by_line.setdefault(line, {})[name] = _digest(version)
    return json.dumps(by_line, separators=(",", ":"))


def _has_raw_data(exp) -> bool:
    return exp.ephys_dir is not None and exp.ephys_dir.is_dir() and any(d.is_dir() for d in exp.calcium_dirs)


@dg.sensor(
    job=process_line_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Adds every new `line number` of experiments.csv as a partition and requests its run "
    "once both raw folders exist.",
)
def experiments_csv_sensor(context: dg.SensorEvaluationContext, catalog: ProjectCatalog):
    try:
        experiments = catalog.experiments()
    except (AceError, OSError) as exc:
        return dg.SkipReason(f"cannot read the experiment catalog: {exc}")
    known = set(context.instance.get_dynamic_partitions(experiment_lines.name))
    requested = set(json.loads(context.cursor)) if context.cursor else set(known)
    new = [line for line in experiments if line not in known]
    ready = [line for line, exp in experiments.items() if line not in requested and _has_raw_data(exp)]
    waiting = sorted(set(experiments) - requested - set(ready))
    if waiting:
        context.log.info(f"lines waiting for their raw folders: {waiting}")
    if not new and not ready:
        return dg.SkipReason("no new experiment lines")
    # Observe the sources of the lines about to run, before their first materialization: staleness of a
    # partitioned product only tracks observations recorded before it was materialized.
    versions = catalog.source_versions(ready, experiments, warn=context.log.warning) if ready else {}
    observations = _observations(versions)
    return dg.SensorResult(
        asset_events=observations,
        dynamic_partitions_requests=[experiment_lines.build_add_request(new)] if new else [],
        run_requests=[dg.RunRequest(partition_key=line, tags={"ace/trigger": "new_line"}) for line in ready],
        cursor=json.dumps(sorted(requested | set(ready))),
    )


@dg.sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=OBSERVE_INTERVAL_S,
    description="Every ACE_OBSERVE_INTERVAL_S seconds (300), fingerprints each line's raw folders, "
    "parameter rows and curation file, and records an observation for each one that changed, so edited "
    "lines show as stale without anyone clicking 'Observe sources'.",
)
def source_change_sensor(context: dg.SensorEvaluationContext, catalog: ProjectCatalog):
    lines = context.instance.get_dynamic_partitions(experiment_lines.name)
    try:
        versions = catalog.source_versions(lines, warn=context.log.warning)
    except (AceError, OSError) as exc:
        return dg.SkipReason(f"cannot fingerprint the sources: {exc}")
    last = json.loads(context.cursor) if context.cursor else {}
    events = _observations(versions, last)
    cursor = _cursor(versions)
    if not events:
        return dg.SensorResult(skip_reason=f"no source of {len(lines)} lines changed", cursor=cursor)
    changed = sorted({e.partition for e in events})
    context.log.info(f"{len(events)} changed source version(s) on line(s) {changed}")
    return dg.SensorResult(asset_events=events, cursor=cursor)
