"""Nightly backfill of every line whose products are missing or stale.

`build_schedule_from_partitioned_job` rejects dynamic partitions, so the schedule computes the lines
itself: one run per line, selecting the missing/stale products and everything downstream of them
(staleness is not transitive in Dagster, so downstream products are re-made with them).
"""

import os

import dagster as dg

from ace_assets.helpers.staleness import stale_or_missing
from ace_assets.jobs import process_line_job, product_keys, reprocess_keys
from ace_assets.partitions import experiment_lines

NIGHTLY_CRON = os.environ.get("ACE_NIGHTLY_CRON", "0 2 * * *")


@dg.schedule(
    cron_schedule=NIGHTLY_CRON,
    job=process_line_job,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Each night (ACE_NIGHTLY_CRON), one run per line whose products are missing or stale.",
)
def nightly_reprocess(context: dg.ScheduleEvaluationContext):
    graph = context.repository_def.asset_graph
    lines = context.instance.get_dynamic_partitions(experiment_lines.name)
    todo = stale_or_missing(context.instance, graph, product_keys(graph), lines)
    if not todo:
        return dg.SkipReason(f"all {len(lines)} lines are up to date")
    requests = []
    for line, keys in todo.items():
        requests.append(
            dg.RunRequest(
                partition_key=line,
                asset_selection=reprocess_keys(graph, keys),
                tags={
                    "ace/trigger": "nightly",
                    "ace/reason": ",".join(k.to_user_string() for k in keys)[:200],
                },
            )
        )
    context.log.info(f"lines to reprocess: {sorted(todo)}")
    return requests
