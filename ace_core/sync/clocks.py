"""Experiment events (Neuralynx annotations and Miniscope ``notes.csv``) placed on both clocks.

Two clocks exist in a session: the Miniscope host clock (``timeStamps.csv``, ``notes.csv`` and
``headOrientation.csv``: seconds since the recording start) and the ephys clock (Neuralynx, seconds). The
frames tie them together: frame ``k`` has host time ``frame_host_times_s[k]`` and ephys time
``t_ca_im_s[k]``. :func:`map_between_clocks` maps any time from one clock to the other by linear
interpolation between frames (``np.interp``); times outside the movie's span map to NaN (we do not
extrapolate the drift beyond the frames that measure it).

The Miniscope notes come from :func:`ace_core.io.notes.read_notes`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "EVENT_TABLE_COLUMNS",
    "events_on_both_clocks",
    "map_between_clocks",
    "nearest_frame",
]

EVENT_TABLE_COLUMNS = ("source", "label", "t_ephys_s", "t_miniscope_s", "frame")


# ----------------------------------------------------------------------------------------------------
# Clock mapping through the frames
# ----------------------------------------------------------------------------------------------------


def _frame_clocks(frame_host_times_s: np.ndarray, t_ca_im_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    host = np.asarray(frame_host_times_s, dtype=np.float64).ravel()
    ephys = np.asarray(t_ca_im_s, dtype=np.float64).ravel()
    if host.shape != ephys.shape:
        raise ValueError(
            f"frame_host_times_s has {host.size} frames but t_ca_im_s has {ephys.size}; "
            "both must give one time per movie frame"
        )
    if host.size == 0:
        raise ValueError("no frames: the clock relation needs at least one frame")
    for name, t in (("frame_host_times_s", host), ("t_ca_im_s", ephys)):
        if not np.all(np.isfinite(t)):
            raise ValueError(f"{name} contains non-finite times")
        if np.any(np.diff(t) < 0):
            raise ValueError(f"{name} is not non-decreasing; frame times must follow the frame order")
    return host, ephys


def map_between_clocks(times_s: np.ndarray, from_frames_s: np.ndarray, to_frames_s: np.ndarray) -> np.ndarray:
    """Map ``times_s`` from one clock to the other through the frames, linearly between frames.

    Parameters
    ----------
    times_s
        Times (s) on the "from" clock, any shape.
    from_frames_s, to_frames_s
        Time (s) of each frame ``k`` on the two clocks (finite, non-decreasing, same length).

    Returns
    -------
    numpy.ndarray
        Times (s) on the "to" clock, shaped like ``times_s``. Times before the first or after the last frame
        (and NaN inputs) give NaN.

    Raises
    ------
    ValueError
        If the frame times differ in length, are empty, non-finite or decreasing.
    """
    src, dst = _frame_clocks(from_frames_s, to_frames_s)
    t = np.asarray(times_s, dtype=np.float64)
    return np.interp(t, src, dst, left=np.nan, right=np.nan)


def nearest_frame(times_s: np.ndarray, frame_times_s: np.ndarray) -> np.ndarray:
    """Index of the frame nearest to each time (ties to the earlier frame).

    Parameters
    ----------
    times_s
        Times (s), any shape.
    frame_times_s
        Frame times (s) on the same clock, non-decreasing.

    Returns
    -------
    numpy.ndarray
        int64 frame indices shaped like ``times_s``; -1 outside the frames' span (and for NaN times or no
        frames).
    """
    frames = np.asarray(frame_times_s, dtype=np.float64).ravel()
    t = np.asarray(times_s, dtype=np.float64)
    out = np.full(t.shape, -1, dtype=np.int64)
    if frames.size == 0:
        return out
    inside = np.isfinite(t) & (t >= frames[0]) & (t <= frames[-1])
    ti = t[inside]
    right = np.clip(np.searchsorted(frames, ti, side="left"), 0, frames.size - 1)
    left = np.clip(right - 1, 0, frames.size - 1)
    choose_left = np.abs(ti - frames[left]) <= np.abs(frames[right] - ti)
    out[inside] = np.where(choose_left, left, right)
    return out


# ----------------------------------------------------------------------------------------------------
# Events on both clocks
# ----------------------------------------------------------------------------------------------------


def events_on_both_clocks(
    ephys_events: tuple[np.ndarray, np.ndarray],
    miniscope_notes: tuple[np.ndarray, np.ndarray],
    frame_host_times_s: np.ndarray,
    t_ca_im_s: np.ndarray,
) -> pd.DataFrame:
    """One table of all experiment events with their times on both clocks.

    A time mapped from the other clock is NaN outside the movie's span.

    Parameters
    ----------
    ephys_events
        ``(times_s, labels)`` on the ephys clock (e.g. ``EphysEvents.experiment_events()``).
    miniscope_notes
        ``(times_s, labels)`` on the host clock (:func:`ace_core.io.notes.read_notes`).
    frame_host_times_s, t_ca_im_s
        Host and ephys time of each movie frame.

    Returns
    -------
    pandas.DataFrame
        Columns ``source`` ("neuralynx"/"miniscope"), ``label``, ``t_ephys_s``, ``t_miniscope_s`` (host
        clock, s since the recording start), ``frame`` (frame nearest to the event on its own clock; -1
        outside the movie). Rows are sorted by ephys time (events without one last, in their original order).

    Raises
    ------
    ValueError
        When the frame times are inconsistent (see :func:`map_between_clocks`) or a source has not one label
        per time.
    """
    host, ephys = _frame_clocks(frame_host_times_s, t_ca_im_s)
    e_t = np.asarray(ephys_events[0], dtype=np.float64).ravel()
    e_lab = np.asarray(ephys_events[1]).astype(str).ravel()
    m_t = np.asarray(miniscope_notes[0], dtype=np.float64).ravel()
    m_lab = np.asarray(miniscope_notes[1]).astype(str).ravel()
    if e_t.size != e_lab.size or m_t.size != m_lab.size:
        raise ValueError("each event source needs one label per time")
    table = pd.DataFrame(
        {
            "source": ["neuralynx"] * e_t.size + ["miniscope"] * m_t.size,
            "label": np.concatenate([e_lab, m_lab]).tolist(),
            "t_ephys_s": np.concatenate([e_t, map_between_clocks(m_t, host, ephys)]),
            "t_miniscope_s": np.concatenate([map_between_clocks(e_t, ephys, host), m_t]),
            "frame": np.concatenate([nearest_frame(e_t, ephys), nearest_frame(m_t, host)]).astype(np.int64),
        },
        columns=list(EVENT_TABLE_COLUMNS),
    )
    return table.sort_values("t_ephys_s", kind="stable", na_position="last").reset_index(drop=True)
