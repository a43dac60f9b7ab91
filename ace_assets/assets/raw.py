"""Raw recordings as external assets, so lineage starts at the lab's files."""

import dagster as dg

from ace_assets.partitions import experiment_lines

raw_neuralynx = dg.AssetSpec(
    "raw_neuralynx",
    partitions_def=experiment_lines,
    group_name="raw",
    kinds={"neuralynx"},
    description="The line's Neuralynx session folder (`ephys directory`): Events.nev and the .ncs channels.",
)

raw_miniscope = dg.AssetSpec(
    "raw_miniscope",
    partitions_def=experiment_lines,
    group_name="raw",
    kinds={"miniscope"},
    description="The line's UCLA Miniscope session folder (`calcium imaging directory`): N.avi, "
    "timeStamps.csv, "
    "metaData.json.",
)
