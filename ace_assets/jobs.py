"""Jobs: process one experiment line end to end."""

import dagster as dg

# Everything derived from the raw recordings (the raw folders themselves are external assets).
process_line_job = dg.define_asset_job(
    "process_line",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("raw"),
    description="Materialize every product of one experiment line (one run per line).",
)
