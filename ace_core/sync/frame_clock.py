"""Miniscope frame clock on the ephys clock (`t_ca_im`) from Neuralynx frame-sync TTL edges.

The miniscope DAQ toggles a line once per acquired frame; Neuralynx records every edge. So the sorted
edge times are the frame times, after two repairs the lab relies on:

1. `fix_TTL_gaps`: edges lost (e.g. a USB hiccup, an ephys recording pause) leave an interval much
   longer than a frame period. We fill it with evenly spaced times and mark the filled frames as
   low confidence. The threshold is a multiple of the *nominal frame period* (the reference hard-codes
   0.065 s, which only makes sense at 30 fps).
2. `delete_TTLs`: spurious edges listed in `indices of TTL events to delete` are removed. As in the
   reference, the indices refer to the gap-filled array.

Fixes over the reference: `low_confidence_periods` are expressed in the *final* frame indices (the
reference's rows go stale after later insertions and deletions), and the number of frame times is
checked against the number of movie frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ace_core.errors import SyncError


@dataclass(frozen=True)
class FrameClock:
    """Ephys-clock time of every movie frame plus the provenance of each time.

    Attributes
    ----------
    t_ca_im_s
        (n_frames,) float64: time of each frame (s) on the ephys session clock.
    interpolated
        (n_frames,) bool: the time was filled in over a TTL gap.
    low_confidence_periods
        (n, 2) int64: ``[last good frame, first good frame]`` around each run of filled frames.
    gaps
        (n, 3) float64: ``[edge index before the gap (raw), gap length (s), frames inserted]``.
    deleted_indices
        Indices (in the gap-filled array) that were removed.
    n_raw_edges
        Number of TTL edges received.
    gap_threshold_s
        Intervals longer than this (s) count as gaps.
    """

    t_ca_im_s: np.ndarray  # (n_frames,) float64, seconds on the ephys session clock
    interpolated: np.ndarray  # (n_frames,) bool: time was filled in over a TTL gap
    low_confidence_periods: (
        np.ndarray
    )  # (n, 2) int64: [last good frame, first good frame] around filled frames
    gaps: np.ndarray  # (n, 3) float64: [edge index before the gap (raw), gap length (s), frames inserted]
    deleted_indices: np.ndarray  # indices (in the gap-filled array) that were removed
    n_raw_edges: int
    gap_threshold_s: float

    @property
    def n_frames(self) -> int:
        """Number of frame times."""
        return int(self.t_ca_im_s.size)

    @property
    def n_unrepaired_gaps(self) -> int:
        """Gaps still present in the final clock (only possible when gap fixing was off)."""
        return int(np.count_nonzero(np.diff(self.t_ca_im_s) > self.gap_threshold_s))


def find_ttl_gaps(edge_times_s: np.ndarray, gap_threshold_s: float) -> np.ndarray:
    """Indices ``k`` where the interval ``edge[k] -> edge[k+1]`` exceeds the threshold.

    Parameters
    ----------
    edge_times_s
        Sorted edge times (s).
    gap_threshold_s
        Gap threshold (s).

    Returns
    -------
    numpy.ndarray
        The indices ``k`` (int).
    """
    return np.flatnonzero(np.diff(edge_times_s) > gap_threshold_s)


def fill_ttl_gaps(
    edge_times_s: np.ndarray, frame_rate_hz: float, gap_threshold_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Insert evenly spaced frame times into every gap.

    A gap of length D holds L = round(D * frame_rate_hz) frame periods (at least 1), so L - 1 frames are
    inserted at T[k] + m * D / L (m = 1 .. L-1), as in the reference.

    Parameters
    ----------
    edge_times_s
        Sorted edge times (s).
    frame_rate_hz
        Nominal frame rate (Hz).
    gap_threshold_s
        Gap threshold (s).

    Returns
    -------
    times : numpy.ndarray
        Edge times with the inserted ones (s).
    interpolated : numpy.ndarray
        Bool per time: True for inserted times.
    gaps : numpy.ndarray
        (n_gaps, 3) table, as :attr:`FrameClock.gaps`.
    """
    times = np.asarray(edge_times_s, dtype=np.float64)
    gap_idx = find_ttl_gaps(times, gap_threshold_s)
    pieces: list[np.ndarray] = []
    flags: list[np.ndarray] = []
    gaps = np.zeros((gap_idx.size, 3))
    start = 0
    for row, k in enumerate(gap_idx):
        pieces.append(times[start : k + 1])
        flags.append(np.zeros(k + 1 - start, dtype=bool))
        dur = times[k + 1] - times[k]
        n_periods = max(int(round(dur * frame_rate_hz)), 1)
        inserted = times[k] + np.arange(1, n_periods) * (dur / n_periods)
        pieces.append(inserted)
        flags.append(np.ones(inserted.size, dtype=bool))
        gaps[row] = (k, dur, inserted.size)
        start = k + 1
    pieces.append(times[start:])
    flags.append(np.zeros(times.size - start, dtype=bool))
    return np.concatenate(pieces), np.concatenate(flags), gaps


def low_confidence_periods(interpolated: np.ndarray) -> np.ndarray:
    """Rows ``[last good frame, first good frame]`` around each run of interpolated frames (final indices).

    Same row meaning as the reference (the filled frames lie strictly between the two indices), but
    derived from the final per-frame flags so the indices stay valid after deletions. A run touching the
    start of the recording uses -1 as its left bound, one touching the end uses n_frames as its right bound.

    Parameters
    ----------
    interpolated
        Bool per frame.

    Returns
    -------
    numpy.ndarray
        (n_runs, 2) int64.
    """
    flags = np.concatenate([[False], np.asarray(interpolated, dtype=bool), [False]])
    edges = np.diff(flags.astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    return (
        np.stack([starts - 1, stops], axis=1).astype(np.int64) if starts.size else np.zeros((0, 2), np.int64)
    )


def compute_t_ca_im(
    edge_times_s: np.ndarray,
    frame_rate_hz: float,
    *,
    fix_TTL_gaps: bool = True,  # noqa: N803 - the reference's parameter name
    delete_indices: Sequence[int] = (),
    gap_threshold_periods: float = 1.5,
) -> FrameClock:
    """Frame times on the ephys clock from sorted TTL edge times (one edge per frame).

    Parameters
    ----------
    edge_times_s
        TTL edge times (s) on the ephys clock (sorted here).
    frame_rate_hz
        Nominal frame rate (Hz).
    fix_TTL_gaps
        Fill gaps with evenly spaced, low-confidence frame times (:func:`fill_ttl_gaps`).
    delete_indices
        Spurious edges to remove, as indices into the gap-filled array (as in the reference).
    gap_threshold_periods
        An interval longer than this many nominal frame periods is a gap.

    Returns
    -------
    FrameClock

    Raises
    ------
    SyncError
        When there are no edges, the frame rate is not positive, gaps are found and ``fix_TTL_gaps`` is False,
        or a deletion index is out of range.
    """
    edges = np.sort(np.asarray(edge_times_s, dtype=np.float64))
    if edges.size == 0:
        raise SyncError("no frame-sync TTL edges found in the Neuralynx events")
    if not frame_rate_hz > 0:
        raise SyncError(f"frame rate must be positive, got {frame_rate_hz!r}")
    threshold_s = gap_threshold_periods / frame_rate_hz
    if fix_TTL_gaps:
        times, interpolated, gaps = fill_ttl_gaps(edges, frame_rate_hz, threshold_s)
    else:
        times, interpolated, gaps = edges, np.zeros(edges.size, dtype=bool), np.zeros((0, 3))
        found = find_ttl_gaps(edges, threshold_s)
        if found.size:
            first = found[0]
            raise SyncError(
                f"{found.size} gap(s) in the TTL edges longer than {threshold_s:.4f} s "
                f"({gap_threshold_periods} frame periods), the first after edge {first} "
                f"({edges[first + 1] - edges[first]:.4f} s); set fix_TTL_gaps to fill them"
            )
    delete = np.unique(np.asarray(list(delete_indices), dtype=np.int64))
    if delete.size:
        bad = delete[(delete < 0) | (delete >= times.size)]
        if bad.size:
            raise SyncError(
                f"indices of TTL events to delete {bad.tolist()} are outside 0..{times.size - 1} "
                f"(the gap-filled edge count)"
            )
        keep = np.ones(times.size, dtype=bool)
        keep[delete] = False
        times, interpolated = times[keep], interpolated[keep]
    return FrameClock(
        t_ca_im_s=times,
        interpolated=interpolated,
        low_confidence_periods=low_confidence_periods(interpolated),
        gaps=gaps,
        deleted_indices=delete,
        n_raw_edges=int(edges.size),
        gap_threshold_s=threshold_s,
    )


def check_frame_count(clock: FrameClock, n_movie_frames: int, *, source: str = "movie") -> None:
    """Check that there is exactly one frame time per movie frame.

    Parameters
    ----------
    clock
        The frame clock.
    n_movie_frames
        Frames in the movie.
    source
        Names the movie in the error message.

    Raises
    ------
    SyncError
        If the counts differ (the message gives the edges received, filled and deleted).
    """
    if clock.n_frames != n_movie_frames:
        filled = int(clock.interpolated.sum())
        raise SyncError(
            f"frame clock has {clock.n_frames} frame times (from {clock.n_raw_edges} TTL edges, "
            f"{filled} filled, {clock.deleted_indices.size} deleted) "
            f"but the {source} has {n_movie_frames} frames"
        )
