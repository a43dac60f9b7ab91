"""Write the Miniscope DAQ's small CSV side files for simulated sessions.

``headOrientation.csv`` (the V4 BNO's quaternions, in the device folder) and ``notes.csv`` (typed notes, in
the session folder), laid out as the DAQ writes them so that the real readers
(:mod:`ace_core.io.head_orientation`, :mod:`ace_core.io.notes`) are exercised. Each file is written
atomically (:func:`atomic_file`).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ace_core.io.head_orientation import HEAD_ORIENTATION_FILE, HEAD_ORIENTATION_HEADER
from ace_core.io.notes import NOTES_FILE, NOTES_HEADER
from ace_core.store.atomic import atomic_file

__all__ = ["write_head_orientation_csv", "write_notes_csv"]


def write_head_orientation_csv(
    device_dir: str | os.PathLike, time_ms: np.ndarray, quaternions: np.ndarray
) -> Path:
    """Write ``headOrientation.csv`` as the DAQ does (integer ms, quaternion w, x, y, z).

    Parameters
    ----------
    device_dir
        The Miniscope device folder (created if needed).
    time_ms
        Host-clock sample times in ms since the recording start; whole values are written as integers.
    quaternions
        ``(n, 4)`` quaternions in (w, x, y, z) order, one per time.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ValueError
        When ``quaternions`` is not of shape ``(len(time_ms), 4)``.
    """
    t = np.asarray(time_ms, dtype=np.float64).ravel()
    q = np.asarray(quaternions, dtype=np.float64)
    if q.shape != (t.size, 4):
        raise ValueError(f"quaternions must have shape ({t.size}, 4); got {q.shape}")
    path = Path(device_dir) / HEAD_ORIENTATION_FILE
    with atomic_file(path, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEAD_ORIENTATION_HEADER)
        for ti, qi in zip(t, q, strict=True):
            stamp = str(int(ti)) if ti == int(ti) else repr(float(ti))
            writer.writerow([stamp, *(f"{v:.9g}" for v in qi)])
    return path


def write_notes_csv(session_dir: str | os.PathLike, times_ms: Sequence[int], labels: Sequence[str]) -> Path:
    """Write ``notes.csv`` as the DAQ does (header, then ``<ms>,<note>``).

    Parameters
    ----------
    session_dir
        The Miniscope session folder (created if needed).
    times_ms
        Host-clock times in ms since the recording start, rounded to integers when written.
    labels
        One note per time.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ValueError
        When ``times_ms`` and ``labels`` differ in length.
    """
    if len(times_ms) != len(labels):
        raise ValueError(f"{len(times_ms)} times but {len(labels)} labels")
    path = Path(session_dir) / NOTES_FILE
    with atomic_file(path, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(NOTES_HEADER)
        for ms, label in zip(times_ms, labels, strict=True):
            writer.writerow([int(round(float(ms))), str(label)])
    return path
