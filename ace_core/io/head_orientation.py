"""Head orientation of Miniscopes with an IMU (V4 BNO): read ``headOrientation.csv``.

The DAQ writes ``<device dir>/headOrientation.csv`` with the header ``Time Stamp (ms),qw,qx,qy,qz``: one
unit quaternion (w, x, y, z) per IMU sample, stamped on the host clock in ms since the recording start (the
clock of ``timeStamps.csv``). Rows may be filtered out, so samples are not one per frame. Columns are read
by name. Euler angles and the mapping onto the ephys clock are in :mod:`ace_core.analysis.head_orientation`.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ace_core.errors import InputFormatError

__all__ = [
    "HEAD_ORIENTATION_FILE",
    "HEAD_ORIENTATION_HEADER",
    "HeadOrientation",
    "read_head_orientation",
]

HEAD_ORIENTATION_FILE = "headOrientation.csv"
HEAD_ORIENTATION_HEADER = ("Time Stamp (ms)", "qw", "qx", "qy", "qz")


@dataclass(frozen=True, eq=False)
class HeadOrientation:
    """IMU samples of one device.

    Attributes
    ----------
    time_ms
        Host-clock sample times (ms since the recording start).
    quaternions
        Unit quaternions, shape (n, 4), (w, x, y, z).
    path
        The ``headOrientation.csv`` file.
    """

    time_ms: np.ndarray = field(repr=False)
    quaternions: np.ndarray = field(repr=False)
    path: Path

    @property
    def time_s(self) -> np.ndarray:
        """Host-clock sample times (s) (the clock of ``MiniscopeRecording.timestamps_s``)."""
        return self.time_ms / 1000.0

    @property
    def n_samples(self) -> int:
        """Number of IMU samples."""
        return int(self.time_ms.shape[0])


def _cell(path: Path, row: list[str], index: int, column: str, line: int) -> float:
    if index >= len(row):
        raise InputFormatError(
            path, f"row has {len(row)} fields; expected a number", line=line, column=column
        )
    text = row[index].strip()
    try:
        value = float(text)
    except ValueError:
        raise InputFormatError(path, f"value {text!r} is not a number", line=line, column=column) from None
    if not math.isfinite(value):
        raise InputFormatError(path, f"value {text!r} is not finite", line=line, column=column)
    return value


def read_head_orientation(device_dir: str | os.PathLike) -> HeadOrientation | None:
    """Read ``<device_dir>/headOrientation.csv``.

    Columns are found by name in the header; extra columns are ignored; blank lines are skipped.

    Parameters
    ----------
    device_dir
        The Miniscope device folder.

    Returns
    -------
    HeadOrientation or None
        The samples, or None when the file does not exist (a scope without IMU).

    Raises
    ------
    InputFormatError
        On an empty file, a missing column, or a non-numeric, non-finite or missing value; the error names
        the file, the 1-based line (header = line 1) and the column.
    """
    path = Path(device_dir) / HEAD_ORIENTATION_FILE
    if not path.is_file():
        return None
    times: list[float] = []
    quats: list[list[float]] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise InputFormatError(
                path, f"file is empty; expected the header {','.join(HEAD_ORIENTATION_HEADER)}"
            )
        names = [name.strip() for name in header]
        missing = [name for name in HEAD_ORIENTATION_HEADER if name not in names]
        if missing:
            raise InputFormatError(
                path,
                f"header lacks column(s) {missing}; found {names}, expected {list(HEAD_ORIENTATION_HEADER)}",
                line=1,
            )
        idx = [names.index(name) for name in HEAD_ORIENTATION_HEADER]
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            line = reader.line_num
            values = [
                _cell(path, row, i, name, line) for i, name in zip(idx, HEAD_ORIENTATION_HEADER, strict=True)
            ]
            times.append(values[0])
            quats.append(values[1:])
    return HeadOrientation(
        time_ms=np.asarray(times, dtype=np.float64),
        quaternions=np.asarray(quats, dtype=np.float64).reshape(-1, 4),
        path=path,
    )
