"""``experiments.csv``: one row per experiment line, with the line's raw-data folders and subject.

Directories are resolved under the data folder (``ACE_DATA_PATH``); absolute paths stay absolute and
relative Windows paths are normalised, as in the reference.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any

from ace_core.catalog import layout
from ace_core.catalog.csv_table import (
    CALCIUM_COLUMN,
    CHANNELS_COLUMN,
    DATE_COLUMN,
    EPHYS_COLUMN,
    EXPERIMENT_COLUMNS,
    LINE_COLUMN,
    columns_of,
    convert_value,
    read_table,
    write_table,
)
from ace_core.errors import CatalogError

__all__ = ["Experiment", "read_experiments", "write_experiments_csv"]

_DATE = re.compile(r"\d{6}")


@dataclass(frozen=True)
class Experiment:
    """One row of ``experiments.csv``, with paths resolved under the data folder."""

    line: str
    subject_id: str | None
    date: datetime.date | None
    calcium_dirs: tuple[Path, ...]
    ephys_dir: Path | None
    channels: tuple[str, ...]
    emg_channel: str | None
    events_filename: str | None
    #: Every column of the row (including extra user columns), converted with :func:`convert_value`.
    fields: Mapping[str, Any]
    source: Path | None = None
    #: Remarks about the row that are not errors (e.g. a Windows path that cannot exist here).
    notes: tuple[str, ...] = field(default=())

    @property
    def calcium_dir(self) -> Path | None:
        """The calcium imaging directory; an error if the row lists several (use ``calcium_dirs``)."""
        if len(self.calcium_dirs) > 1:
            raise CatalogError(
                self.source or layout.EXPERIMENTS_CSV,
                f"{len(self.calcium_dirs)} calcium imaging directories separated by ';' where one is "
                f"needed: {[str(p) for p in self.calcium_dirs]}",
                line=self.line,
                column=CALCIUM_COLUMN,
            )
        return self.calcium_dirs[0] if self.calcium_dirs else None


def _resolve_dir(text: str, data_path: Path, column: str, notes: list[str]) -> Path:
    """``data_path / text``; absolute paths stay absolute (pathlib join), as in the reference."""
    if os.name != "nt":
        windows = PureWindowsPath(text)
        if windows.drive:
            notes.append(f"{column}: {text!r} is an absolute Windows path; it cannot exist on this machine")
            return Path(text)
        if "\\" in text:
            text = windows.as_posix()
    return data_path / text


def _experiment(path: Path, key: str, cells: Mapping[str, str], data_path: Path) -> Experiment:
    fields = {name: convert_value(text, name) for name, text in cells.items()}
    notes: list[str] = []

    date = None
    if (text := fields.get(DATE_COLUMN)) is not None:
        try:
            if not _DATE.fullmatch(text):
                raise ValueError(text)
            date = datetime.datetime.strptime(text, "%y%m%d").date()
        except ValueError:
            raise CatalogError(
                path, f"{text!r} is not a date in YYMMDD form (e.g. 230901)", line=key, column=DATE_COLUMN
            ) from None

    calcium = fields.get(CALCIUM_COLUMN)
    calcium_dirs = tuple(
        _resolve_dir(part.strip(), data_path, CALCIUM_COLUMN, notes)
        for part in (calcium or "").split(";")
        if part.strip()
    )
    ephys_dir = None
    if (ephys := fields.get(EPHYS_COLUMN)) is not None:
        if ";" in ephys:
            raise CatalogError(
                path,
                f"several ephys directories ({ephys!r}) are not supported",
                line=key,
                column=EPHYS_COLUMN,
            )
        ephys_dir = _resolve_dir(ephys, data_path, EPHYS_COLUMN, notes)

    return Experiment(
        line=key,
        subject_id=fields.get("id"),
        date=date,
        calcium_dirs=calcium_dirs,
        ephys_dir=ephys_dir,
        channels=tuple(fields.get(CHANNELS_COLUMN) or ()),
        emg_channel=fields.get("emg channel"),
        events_filename=fields.get("events filename"),
        fields=fields,
        source=path,
        notes=tuple(notes),
    )


def read_experiments(
    project_path: str | os.PathLike[str], data_path: str | os.PathLike[str]
) -> dict[str, Experiment]:
    """All experiments of ``<project_path>/experiments.csv``, by line key, in file order.

    Directories are resolved under ``data_path``. A date that is not ``YYMMDD`` is an error
    (the reference silently kept the text); so is a row listing several ephys directories.
    """
    path = layout.experiments_path(project_path)
    table = read_table(path)
    return {key: _experiment(path, key, row.cells, Path(data_path)) for key, row in table.rows.items()}


_EXAMPLE_EXPERIMENT = {
    LINE_COLUMN: "Example",
    "id": "ExampleRat",
    DATE_COLUMN: "240101",
    "Box Calcium Folder ID": "NA",
    CALCIUM_COLUMN: "project/miniscope_data/ExampleRat/2024_01_01/12_00_00",
    "Box ephys folder ID": "NA",
    EPHYS_COLUMN: "project/Neuralynx_data/ExampleRat/2024-01-01_11-50-00",
    "rat weight (kg)": "0.500",
    "systemic drug": "NA",
    "systemic dose (% or mg/kg/min)": "NA",
    "systemic drug concentration (mg/mL)": "NA",
    "total systemic time (min)": "NA",
    "emg channel": "EMG.ncs",
    "events filename": "Events.nev",
    CHANNELS_COLUMN: "PFCLFPvsCBEEG;PFCEEGvsCBEEG;PCvsPFCEEG;CBvsPCEEG;EMG",
    "comments": "template row: copy it, give it a numeric line number",
}


def write_experiments_csv(
    path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]], *, example_row: bool = False
) -> Path:
    """Write ``experiments.csv`` atomically: the 16 columns, then extra columns in first-seen order.

    Values are written as the lab does (channel and calcium-directory lists joined by ``;``, dates
    as ``YYMMDD``, lists as ``[9119,9120]``, tuples as ``(7, 7)``, booleans as TRUE/FALSE), so that
    :func:`read_experiments` gives them back (tuples come back as lists). ``path`` may be a folder.
    ``example_row`` appends the lab's ``Example`` template row, which readers skip.
    """
    path = Path(path)
    if path.is_dir():
        path = layout.experiments_path(path)
    columns = columns_of(EXPERIMENT_COLUMNS, rows)
    extra = [[_EXAMPLE_EXPERIMENT.get(c, "") for c in columns]] if example_row else []
    return write_table(path, columns, rows, extra_lines=extra)
