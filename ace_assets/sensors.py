"""Sensor that turns rows of experiments.csv into partitions and runs."""

import json

import dagster as dg

from ace_assets.jobs import process_line_job
from ace_assets.partitions import experiment_lines
from ace_assets.resources import AcePaths
from ace_core.errors import AceError


def _has_raw_data(exp) -> bool:
    return exp.ephys_dir is not None and exp.ephys_dir.is_dir() and any(d.is_dir() for d in exp.calcium_dirs)


@dg.sensor(
    job=process_line_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Adds every new `line number` of experiments.csv as a partition and requests its run "
    "once both raw folders exist.",
)
def experiments_csv_sensor(context: dg.SensorEvaluationContext, paths: AcePaths):
    try:
        experiments = paths.experiments()
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
    return dg.SensorResult(
        dynamic_partitions_requests=[experiment_lines.build_add_request(new)] if new else [],
        run_requests=[dg.RunRequest(partition_key=line, tags={"ace/trigger": "new_line"}) for line in ready],
        cursor=json.dumps(sorted(requested | set(ready))),
    )
