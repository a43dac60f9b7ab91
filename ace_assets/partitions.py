"""The one partitioning of ACE Assets: experiment lines (`line number` in experiments.csv)."""

import dagster as dg

experiment_lines = dg.DynamicPartitionsDefinition(name="experiment_line")
