"""Simple analyses of neuron traces (K neurons x T frames): windowed z-score and event-triggered averages.

Counterparts of the reference's ``z_score(dataArray, frameWindow)`` and
``spike_trig_avg(eventArray, dataArray, framesb, framesa)``, with the window definitions made explicit.
"""

from __future__ import annotations

import numpy as np

__all__ = ["event_triggered_average", "z_score"]


def _as_2d(traces: np.ndarray) -> tuple[np.ndarray, bool]:
    x = np.asarray(traces, dtype=np.float64)
    if x.ndim == 1:
        return x[np.newaxis, :], True
    if x.ndim != 2:
        raise ValueError(f"traces must be (T,) or (K, T); got shape {x.shape}")
    return x, False


def _zscore_block(block: np.ndarray) -> np.ndarray:
    mean = block.mean(axis=1, keepdims=True)
    std = block.std(axis=1, keepdims=True)
    centred = block - mean
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(std > 0, centred / np.where(std > 0, std, 1.0), 0.0)


def z_score(traces: np.ndarray, frame_window: int | None = None) -> np.ndarray:
    """Z-score each trace (row) in consecutive, non-overlapping windows of ``frame_window`` frames.

    As in the reference ``z_score(dataArray, frameWindow)``: frames ``[0, w)``, ``[w, 2w)``, ... are each
    z-scored with their own mean and (population, ddof=0) standard deviation; the last window holds the
    ``T mod w`` remaining frames (a short window, not merged). A window whose values are all equal gives 0.

    Parameters
    ----------
    traces
        (T,) or (K, T).
    frame_window
        Window length w (frames); None (or ``w >= T``) z-scores the whole trace.

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``traces``.

    Raises
    ------
    ValueError
        If ``traces`` is not 1-D or 2-D, or ``frame_window`` is not a positive integer.
    """
    x, was_1d = _as_2d(traces)
    n_frames = x.shape[1]
    if frame_window is None or n_frames == 0:
        window = max(n_frames, 1)
    else:
        window = int(frame_window)
        if window != frame_window or window < 1:
            raise ValueError(f"frame_window must be a positive integer; got {frame_window!r}")
    out = np.empty_like(x)
    for start in range(0, n_frames, window):
        out[:, start : start + window] = _zscore_block(x[:, start : start + window])
    return out[0] if was_1d else out


def event_triggered_average(
    traces: np.ndarray,
    event_unit: np.ndarray,
    event_frame: np.ndarray,
    frames_before: int,
    frames_after: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean trace of each unit around each of its own events (the reference's ``spike_trig_avg``).

    The window of an event at frame ``e`` is frames ``e - frames_before .. e + frames_after`` inclusive,
    so ``L = frames_before + frames_after + 1`` and ``lags = arange(-frames_before, frames_after + 1)``.
    Events whose window does not fit inside ``[0, T)`` are excluded (never padded).

    Parameters
    ----------
    traces
        (K, T) traces, or (T,) treated as K = 1.
    event_unit, event_frame
        The events as one flat table: (M,) row of ``traces`` and (M,) frame of each.
    frames_before, frames_after
        Window around each event (frames, >= 0).

    Returns
    -------
    mean, counts, lags : numpy.ndarray
        Mean (K, L), NaN rows for units without a usable event; events averaged per unit (K,); lags (L,).

    Raises
    ------
    ValueError
        For negative or non-integer windows, unit rows outside ``0..K-1`` or non-integer frames.
    """
    x, _ = _as_2d(traces)
    n_units, n_frames = x.shape
    fb, fa = int(frames_before), int(frames_after)
    if fb != frames_before or fa != frames_after or fb < 0 or fa < 0:
        raise ValueError(
            f"frames_before and frames_after must be integers >= 0; got {frames_before}, {frames_after}"
        )
    unit = np.asarray(event_unit).ravel()
    e = np.asarray(event_frame, dtype=np.float64).ravel()
    if unit.shape != e.shape:
        raise ValueError(f"one unit per event frame: {unit.size} units, {e.size} frames")
    if unit.size and (unit.min() < 0 or unit.max() >= n_units or np.any(unit != np.round(unit))):
        raise ValueError(f"event units must be trace rows 0..{n_units - 1}")
    if e.size and not np.all(np.isfinite(e) & (e == np.round(e))):
        raise ValueError("event frames must be integers")
    unit, e = unit.astype(np.int64), e.astype(np.int64)
    fits = (e - fb >= 0) & (e + fa <= n_frames - 1)
    lags = np.arange(-fb, fa + 1)
    mean = np.full((n_units, lags.size), np.nan)
    counts = np.bincount(unit[fits], minlength=n_units).astype(np.int64)
    for k in np.flatnonzero(counts):
        frames = e[fits & (unit == k)]
        mean[k] = x[k, frames[:, np.newaxis] + lags[np.newaxis, :]].mean(axis=0)
    return mean, counts, lags
