"""Map miniscope frames to ephys samples and back.

The ephys channel is a uniform grid ``t_n = t0 + n / fs`` (``EphysChannel.time_s``), NaN where the
recording was paused; the frame clock ``t_ca_im`` gives the ephys-clock time of every movie frame. Three maps
are needed downstream:

* :func:`nearest_sample_index`: frame time -> nearest ephys sample (``ephys_idx_all_TTL_events`` and, per
  event frame, ``ephys_idx_ca_events``). Ties go to the lower index and times outside the recording clamp
  to the first/last sample, as in the reference. Computed arithmetically (no time vector, which would be
  1.2 GB for an hour at 40 kHz), then refined on the float grid so that it equals a brute-force argmin.
* :func:`frame_of_sample`: ephys sample -> frame number (``ca_frame_num_of_ephys_idx``), in the reference's
  "next frame at or after the sample" convention or the "frame whose exposure contains the sample" one.
* :func:`low_confidence_mask`: per-frame flags for frames whose time was interpolated over a TTL gap.
"""

from __future__ import annotations

import numpy as np

__all__ = ["frame_of_sample", "low_confidence_mask", "nearest_sample_index", "sample_times"]

_CONVENTIONS = ("next", "previous")


def sample_times(sample_t0_s: float, fs_hz: float, index: np.ndarray) -> np.ndarray:
    """Times (s) of grid samples ``index``, computed exactly as ``EphysChannel.time_s`` (``t0 + n / fs``).

    Parameters
    ----------
    sample_t0_s
        Time of sample 0 (s).
    fs_hz
        Sampling rate (Hz).
    index
        Sample indices, any shape.

    Returns
    -------
    numpy.ndarray
        float64 times (s), shaped like ``index``.
    """
    return float(sample_t0_s) + np.asarray(index, dtype=np.float64) / float(fs_hz)


def nearest_sample_index(times_s: np.ndarray, sample_t0_s: float, fs_hz: float, n_samples: int) -> np.ndarray:
    """Index of the grid sample nearest to each time: ``argmin_n |t_n - T|``, ties to the lower index.

    The grid is ``t_n = t0 + n / fs`` for ``n = 0 .. n_samples - 1`` (float64, as ``EphysChannel.time_s``).
    Times before the first or after the last sample clamp to 0 / ``n_samples - 1``. A first guess
    ``ceil((T - t0) * fs - 0.5)`` (which sends an exact half-sample tie ``k + 0.5`` to ``k``) is refined
    among its neighbours using the float grid itself, so the result equals the brute-force argmin even
    where rounding makes the arithmetic guess disagree with the grid by one sample.

    Parameters
    ----------
    times_s
        Times (s) on the ephys clock, any shape.
    sample_t0_s
        Time of sample 0 (s).
    fs_hz
        Sampling rate (Hz).
    n_samples
        Length of the grid.

    Returns
    -------
    numpy.ndarray
        int64 with the shape of ``times_s``.

    Raises
    ------
    ValueError
        For non-finite times, an empty grid or a non-positive rate.
    """
    t = np.asarray(times_s, dtype=np.float64)
    n_samples = int(n_samples)
    fs_hz = float(fs_hz)
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if not (np.isfinite(fs_hz) and fs_hz > 0):
        raise ValueError(f"fs_hz must be a positive finite number, got {fs_hz!r}")
    if not np.all(np.isfinite(t)):
        raise ValueError("times_s must be finite (a NaN frame time has no nearest sample)")
    x = (t - float(sample_t0_s)) * fs_hz
    guess = np.clip(np.ceil(x - 0.5), 0, n_samples - 1).astype(np.int64)
    # Refine on the float grid: the first minimum over guess-2 .. guess+2 (clipped) is the global one,
    # because |t_n - T| is non-increasing then non-decreasing along the monotone grid.
    offsets = np.arange(-2, 3, dtype=np.int64)
    cand = np.clip(guess[..., None] + offsets, 0, n_samples - 1)
    dist = np.abs(sample_times(sample_t0_s, fs_hz, cand) - t[..., None])
    # Clipped duplicates have equal distance and sit at the lowest/highest end, so argmin's first
    # occurrence still picks the lowest index among ties.
    best = np.argmin(dist, axis=-1)
    return np.take_along_axis(cand, best[..., None], axis=-1)[..., 0]


def frame_of_sample(
    ephys_idx_all: np.ndarray,
    n_samples: int,
    *,
    convention: str = "next",
    no_frame: int = -1,
    max_lag_samples: int | None = None,
) -> np.ndarray:
    """Frame number of every ephys sample (``ca_frame_num_of_ephys_idx``).

    * ``convention="next"`` (the reference's): ``F[n] = min{k : e_k >= n}``, i.e. ``F[n] = k`` for
      ``e_{k-1} < n <= e_k`` and ``F[n] = 0`` for ``n <= e_0``. Samples after the last TTL have no next frame
      and get ``no_frame``. The reference wrote 0 there too, which is indistinguishable from real frame 0;
      pass ``no_frame=0`` to reproduce it exactly. Default -1, so post-roll samples are never attributed to
      frame 0.
    * ``convention="previous"``: the frame whose exposure contains the sample, ``F[n] = max{k : e_k <= n}``;
      ``no_frame`` before the first TTL. After the last TTL the last frame is taken to last one median
      frame interval, later samples get ``no_frame``.

    Parameters
    ----------
    ephys_idx_all
        ``ephys_idx_all[k]`` is the ephys sample of frame k's TTL (integers, non-decreasing, within
        ``0 .. n_samples-1``).
    n_samples
        Length of the ephys grid.
    convention
        ``"next"`` or ``"previous"``, as above.
    no_frame
        Value for samples without a frame.
    max_lag_samples
        When given, samples farther than this from their assigned frame's TTL sample get ``no_frame`` as
        well (e.g. samples inside an unfilled TTL gap or in the pre-roll with ``"next"``).

    Returns
    -------
    numpy.ndarray
        int32 of length ``n_samples``. int32 halves the memory of int64 (an hour at 40 kHz is 576 MB) and
        holds 2^31 frames.

    Raises
    ------
    ValueError
        For an unknown convention, or ``ephys_idx_all`` empty, not 1-D, not integer, decreasing or outside
        the grid.
    """
    if convention not in _CONVENTIONS:
        raise ValueError(f"convention must be one of {_CONVENTIONS}, got {convention!r}")
    e = np.asarray(ephys_idx_all)
    n_samples = int(n_samples)
    if e.ndim != 1 or e.size == 0:
        raise ValueError(f"ephys_idx_all must be a non-empty 1-D array, got shape {e.shape}")
    if not np.issubdtype(e.dtype, np.integer):
        raise ValueError(f"ephys_idx_all must hold integer sample indices, got dtype {e.dtype}")
    e = e.astype(np.int64)
    if np.any(np.diff(e) < 0):
        raise ValueError("ephys_idx_all must be non-decreasing (frame TTLs in time order)")
    if e[0] < 0 or e[-1] >= n_samples:
        raise ValueError(f"ephys_idx_all must lie within 0..{n_samples - 1}, got {e.min()}..{e.max()}")
    k_frames = e.size
    frame_ids = np.arange(k_frames, dtype=np.int32)
    none = np.int32(-1)  # internal marker, replaced by no_frame at the end
    if convention == "next":
        # Frame k owns the samples e_{k-1}+1 .. e_k (with e_{-1} = -1); duplicates own nothing.
        counts = np.diff(np.concatenate(([-1], e)))
        out = np.repeat(frame_ids, counts)
        out = np.concatenate((out, np.full(n_samples - out.size, none, dtype=np.int32)))
    else:
        # Frame k owns e_k .. e_{k+1}-1; the last frame owns one median interval (at least its own sample).
        last_len = max(int(np.median(np.diff(e))), 1) if k_frames > 1 else 1
        stop = min(int(e[-1]) + last_len, n_samples)
        counts = np.diff(np.concatenate((e, [stop])))
        head = np.full(int(e[0]), none, dtype=np.int32)
        tail = np.full(n_samples - stop, none, dtype=np.int32)
        out = np.concatenate((head, np.repeat(frame_ids, counts), tail))
    if max_lag_samples is not None:
        has = out >= 0
        lag = np.abs(np.arange(n_samples, dtype=np.int64) - e[np.where(has, out, 0)])
        out[has & (lag > int(max_lag_samples))] = none
    if no_frame != -1:
        out[out < 0] = no_frame
    return out


def low_confidence_mask(n_frames: int, low_confidence_periods: np.ndarray) -> np.ndarray:
    """Bool per frame, True for frames strictly between a row's bounds ``[last good, first good]``.

    Those frames' times were interpolated over a TTL gap, so their ephys alignment is a guess.

    Parameters
    ----------
    n_frames
        Number of frames.
    low_confidence_periods
        ``FrameClock.low_confidence_periods`` rows in final frame indices; the first bound may be -1 and the
        second ``n_frames`` for runs touching the recording's ends.

    Returns
    -------
    numpy.ndarray
        Bool, length ``n_frames``.

    Raises
    ------
    ValueError
        If a row does not satisfy last good frame < first good frame.
    """
    n_frames = int(n_frames)
    rows = np.asarray(low_confidence_periods, dtype=np.int64).reshape(-1, 2)
    mask = np.zeros(n_frames, dtype=bool)
    if rows.size == 0:
        return mask
    if np.any(rows[:, 0] >= rows[:, 1]):
        raise ValueError("low_confidence_periods rows must satisfy last good frame < first good frame")
    delta = np.zeros(n_frames + 1, dtype=np.int64)
    starts = np.clip(rows[:, 0] + 1, 0, n_frames)
    stops = np.clip(rows[:, 1], 0, n_frames)
    np.add.at(delta, starts, 1)
    np.add.at(delta, stops, -1)
    mask[:] = np.cumsum(delta[:-1]) > 0
    return mask
