"""Observed sources: each line's parameter groups (one per set of products that read them) and its curation
decisions file. A version is the hash of the line's values, so editing a row of analysis_parameters.csv
makes stale only the products of that line that read the edited values.

The groups come from the parameter table (``ace_core.catalog.parameter_table.GROUPS``); ``source(name)``
is what a product lists in its ``deps``.
"""

import dagster as dg

from ace_assets.partitions import experiment_lines
from ace_assets.resources import ProjectCatalog
from ace_core.catalog import versions
from ace_core.catalog.parameter_table import GROUPS, group_parameters


def _parameter_source(name: str) -> dg.SourceAsset:
    @dg.observable_source_asset(
        name=name,
        partitions_def=experiment_lines,
        description=f"The line's values of {', '.join(group_parameters(name))} (defaults + "
        "analysis_parameters.csv); version = hash of those values.",
    )
    def _observe(context, catalog: ProjectCatalog) -> dg.DataVersionsByPartition:
        lines = context.instance.get_dynamic_partitions(experiment_lines.name)
        by_group = versions.parameter_versions(catalog.project_path, lines, [name], warn=context.log.warning)
        return dg.DataVersionsByPartition(by_group[name])

    return _observe


#: One observed source per parameter group whose values change results.
PARAMETER_SOURCES = [_parameter_source(name) for name, group in GROUPS.items() if group.observed]


@dg.observable_source_asset(
    partitions_def=experiment_lines,
    description="The line's component decisions file, <project>/curation/<line>.csv; "
    "version = hash of its content ('none' without a file).",
)
def curation_decisions(context, catalog: ProjectCatalog) -> dg.DataVersionsByPartition:
    lines = context.instance.get_dynamic_partitions(experiment_lines.name)
    return dg.DataVersionsByPartition(versions.curation_versions(catalog.project_path, lines))


def source(group: str) -> dg.SourceAsset:
    """The observed source of a parameter group (what a product that reads the group depends on)."""
    return next(s for s in PARAMETER_SOURCES if s.key == dg.AssetKey(group))
