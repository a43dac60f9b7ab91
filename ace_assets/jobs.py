"""Jobs: process one experiment line end to end."""

import dagster as dg

from ace_assets.partitions import experiment_lines

# Everything derived from the raw recordings (the raw folders themselves are external assets).
process_line_job = dg.define_asset_job(
    "process_line",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("raw"),
    partitions_def=experiment_lines,
    description="Materialize every product of one experiment line (one run per line).",
)
