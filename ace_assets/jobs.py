"""Jobs: process one experiment line end to end; the selections that reprocessing uses."""

from collections.abc import Iterable

import dagster as dg

# Observed sources: raw folders and per-product parameter groups.
SOURCES = dg.AssetSelection.groups("raw", "parameters", include_sources=True)

# Everything derived from the raw recordings (the raw folders themselves are external assets).
process_line_job = dg.define_asset_job(
    "process_line",
    selection=dg.AssetSelection.all() - SOURCES,
    description="Materialize every product of one experiment line (one run per line).",
)

observe_sources_job = dg.define_asset_job(
    "observe_sources",
    selection=SOURCES,
    description="Record the current data versions of every line's raw folders and parameter groups "
    "(what makes changed lines' products show as stale).",
)


def product_keys(asset_graph) -> list[dg.AssetKey]:
    """Every derived product (not the observed sources), sorted."""
    return sorted((dg.AssetSelection.all() - SOURCES).resolve(asset_graph))


def reprocess_keys(asset_graph, keys: Iterable[dg.AssetKey]) -> list[dg.AssetKey]:
    """`keys` and every product downstream of them: what must be re-made when they change.

    Dagster's staleness is direct-only, so re-making a product without its descendants would leave them
    built on the old version.
    """
    return sorted((dg.AssetSelection.assets(*keys).downstream() - SOURCES).resolve(asset_graph))
