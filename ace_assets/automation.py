"""Declarative automation: the alternative to the nightly schedule, off by default.

With the `ace_automation` sensor turned on (UI: Automation), every product carries
`AutomationCondition.eager()`: a line's products are requested as soon as the line appears (new partition)
or a source it depends on gets a new data version (the `source_change_sensor` records those), once
nothing upstream is missing or in progress. The nightly schedule batches the same work into one window
instead; pick one of the two.

Pitfalls (Dagster 1.13): `on_missing`/`eager` treat partitions that existed when automation was first
turned on as handled (run one backfill of missing lines then), and adding `code_version_changed()` would
re-make every line on each code change (bounded only by pools and the run queue), so it is left out.
"""

from collections.abc import Sequence

import dagster as dg

from ace_assets.jobs import SOURCES

PRODUCT_CONDITION = dg.AutomationCondition.eager()


def with_automation_condition(products: Sequence[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """The products with PRODUCT_CONDITION declared (evaluated only while `ace_automation` runs)."""
    return list(
        dg.map_asset_specs(
            lambda spec: spec.replace_attributes(automation_condition=PRODUCT_CONDITION), products
        )
    )


ace_automation = dg.AutomationConditionSensorDefinition(
    "ace_automation",
    target=dg.AssetSelection.all() - SOURCES,
    default_status=dg.DefaultSensorStatus.STOPPED,
    minimum_interval_seconds=60,
    description="Declarative automation (eager) for every product: the alternative to nightly_reprocess.",
)
