"""The lab's project folder: ``experiments.csv``, ``analysis_parameters.csv``, curation decisions, and the
layout of the product store.

``csv_table``: the one reader and writer of the lab's CSV files. ``experiments``: rows of experiments.csv.
``parameter_table``: every analysis parameter, declared once; ``forms``: how values are checked.
``parameters``: a line's effective parameters. ``curation``: component decisions as data. ``layout``: every
path of the project and of the store. ``line``: one line's experiment, parameters and recording, resolved
once. ``versions``: cheap versions of raw folders, parameter groups and curation files.

The names below are re-exported on first use, so that a module needing only the parameter table (CNMF-E
workers do) does not load the CSV reader, the Miniscope reader and their dependencies.
"""

import importlib

_EXPORTS = {
    **dict.fromkeys(
        (
            "CALCIUM_COLUMN",
            "CHANNELS_COLUMN",
            "DATE_COLUMN",
            "EPHYS_COLUMN",
            "EXPERIMENT_COLUMNS",
            "KEEP_AS_IS_COLUMNS",
            "LINE_COLUMN",
            "NA_TEXTS",
            "convert_value",
            "is_line_key",
        ),
        "csv_table",
    ),
    **dict.fromkeys(("Experiment", "read_experiments", "write_experiments_csv"), "experiments"),
    **dict.fromkeys(("EXPERIMENTS_CSV", "PARAMETERS_CSV"), "layout"),
    "LineContext": "line",
    **dict.fromkeys(
        (
            "LineParameters",
            "line_parameters",
            "parameters_by_line",
            "read_parameter_rows",
            "unknown_parameter_columns",
            "write_parameters_csv",
        ),
        "parameters",
    ),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
