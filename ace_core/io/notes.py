"""Miniscope DAQ ``notes.csv``: the experimenter's typed notes, stamped on the host clock.

The file lies in the session folder (found by the prefix ``notes``) and holds ``<integer ms since the
recording start>,<note>`` rows after a header line, as written by the UCLA DAQ software. The host clock is
the clock of ``timeStamps.csv``; :func:`ace_core.sync.clocks.events_on_both_clocks` places the notes on the
ephys clock too.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from ace_core.errors import InputFormatError

__all__ = ["NOTES_FILE", "NOTES_HEADER", "read_notes"]

NOTES_FILE = "notes.csv"
NOTES_HEADER = ("Time Stamp (ms)", "Note")
_TIME_COLUMN, _LABEL_COLUMN = NOTES_HEADER


def _notes_files(session_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in session_dir.iterdir()
        if p.is_file() and p.name.lower().startswith("notes") and p.suffix.lower() == ".csv"
    )


def _parse_ms(text: str) -> int | None:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if np.isfinite(value) and value == int(value) else None


def read_notes(session_dir: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Notes of the session's ``notes*.csv`` file, on the host clock.

    Column 0 is an integer number of ms, the rest of the row is the note (a note holding commas is
    rejoined). The first line is the header and is skipped, unless its first field is an integer (a
    header-less file). Blank lines are skipped.

    Parameters
    ----------
    session_dir
        The Miniscope session folder.

    Returns
    -------
    tuple of ndarray
        ``(times_s, labels)``: seconds since the recording start and the note texts; two empty arrays when
        the folder has no notes file.

    Raises
    ------
    InputFormatError
        When ``session_dir`` is not a folder, holds more than one notes file, or a row has no integer
        number of ms or no note (naming the line and column).
    """
    session_dir = Path(session_dir)
    if not session_dir.is_dir():
        raise InputFormatError(session_dir, "not a folder; expected a Miniscope session folder")
    files = _notes_files(session_dir)
    if not files:
        return np.zeros(0, dtype=np.float64), np.zeros(0, dtype=str)
    if len(files) > 1:
        raise InputFormatError(
            session_dir, f"more than one notes file ({[p.name for p in files]}); expected at most one"
        )
    path = files[0]
    times_ms: list[int] = []
    labels: list[str] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            ms = _parse_ms(row[0])
            if line == 1 and ms is None:  # the header
                continue
            if ms is None:
                raise InputFormatError(
                    path,
                    f"value {row[0].strip()!r} is not an integer number of ms",
                    line=line,
                    column=_TIME_COLUMN,
                )
            if len(row) < 2:
                raise InputFormatError(
                    path, f"row has {len(row)} field; expected '<ms>,<note>'", line=line, column=_LABEL_COLUMN
                )
            times_ms.append(ms)
            labels.append(",".join(row[1:]).strip())
    return np.asarray(times_ms, dtype=np.float64) / 1000.0, np.asarray(labels, dtype=str)
