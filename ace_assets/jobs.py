"""Jobs: process one experiment line end to end."""

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
