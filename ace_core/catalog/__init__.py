"""The lab's project folder: ``experiments.csv``, ``analysis_parameters.csv``, curation decisions, and the
layout of the product store.

``csv_table``: the one reader and writer of the lab's CSV files. ``experiments``: rows of experiments.csv.
``parameter_table``: every analysis parameter, declared once; ``forms``: how values are checked.
``parameters``: a line's effective parameters. ``curation``: component decisions as data. ``layout``: every
path of the project and of the store. ``line``: one line's experiment, parameters and recording, resolved
once. ``versions``: cheap versions of raw folders, parameter groups and curation files.
"""

from ace_core.catalog.csv_table import (
    CALCIUM_COLUMN,
    CHANNELS_COLUMN,
    DATE_COLUMN,
    EPHYS_COLUMN,
    EXPERIMENT_COLUMNS,
    KEEP_AS_IS_COLUMNS,
    LINE_COLUMN,
    NA_TEXTS,
    convert_value,
    is_line_key,
)
from ace_core.catalog.experiments import Experiment, read_experiments, write_experiments_csv
from ace_core.catalog.layout import EXPERIMENTS_CSV, PARAMETERS_CSV
from ace_core.catalog.line import LineContext
from ace_core.catalog.parameters import (
    LineParameters,
    line_parameters,
    parameters_by_line,
    read_parameter_rows,
    unknown_parameter_columns,
    write_parameters_csv,
)

__all__ = [
    "CALCIUM_COLUMN",
    "CHANNELS_COLUMN",
    "DATE_COLUMN",
    "EPHYS_COLUMN",
    "EXPERIMENTS_CSV",
    "EXPERIMENT_COLUMNS",
    "KEEP_AS_IS_COLUMNS",
    "LINE_COLUMN",
    "NA_TEXTS",
    "PARAMETERS_CSV",
    "Experiment",
    "LineContext",
    "LineParameters",
    "convert_value",
    "is_line_key",
    "line_parameters",
    "parameters_by_line",
    "read_experiments",
    "read_parameter_rows",
    "unknown_parameter_columns",
    "write_experiments_csv",
    "write_parameters_csv",
]
