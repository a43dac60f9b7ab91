"""Simple analyses of neuron traces (K neurons x T frames): windowed z-score and event-triggered averages.

Counterparts of the reference's ``z_score(dataArray, frameWindow)`` and
``spike_trig_avg(eventArray, dataArray, framesb, framesa)``, with the window definitions made explicit.
"""

from __future__ import annotations

from collections.abc import Mapping

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
    ``T mod w`` remaining frames (a short window, not merged). ``None`` (or ``w >= T``) z-scores the whole
    trace. A window whose values are all equal gives 0. Accepts (T,) or (K, T); returns the same shape.
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
    event_frames: Mapping[int, np.ndarray],
    frames_before: int,
    frames_after: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean trace of each neuron around each of its own events (reference ``spike_trig_avg``).

    The window of an event at frame ``e`` is frames ``e - frames_before .. e + frames_after`` inclusive,
    so ``L = frames_before + frames_after + 1`` and ``lags = arange(-frames_before, frames_after + 1)``.
    Events whose window does not fit inside ``[0, T)`` are excluded (never padded); ``counts[k]`` is the
    number of events averaged for neuron ``k``, so ``len(event_frames[k]) - counts[k]`` were excluded.
    Neurons with no usable event get a NaN row. ``event_frames`` maps neuron index -> integer frames.

    Returns ``(mean (K, L), counts (K,), lags (L,))``; ``traces`` may be (T,) (treated as K = 1).
    """
    x, _ = _as_2d(traces)
    n_neurons, n_frames = x.shape
    fb, fa = int(frames_before), int(frames_after)
    if fb != frames_before or fa != frames_after or fb < 0 or fa < 0:
        raise ValueError(
            f"frames_before and frames_after must be integers >= 0; got {frames_before}, {frames_after}"
        )
    lags = np.arange(-fb, fa + 1)
    mean = np.full((n_neurons, lags.size), np.nan)
    counts = np.zeros(n_neurons, dtype=np.int64)
    for neuron, frames in event_frames.items():
        k = int(neuron)
        if k != neuron or not 0 <= k < n_neurons:
            raise ValueError(f"neuron index {neuron!r} is not in 0..{n_neurons - 1}")
        e = np.asarray(frames, dtype=np.float64).ravel()
        if e.size and not np.all(np.isfinite(e) & (e == np.round(e))):
            raise ValueError(f"event frames of neuron {k} must be integers")
        e = e.astype(np.int64)
        e = e[(e - fb >= 0) & (e + fa <= n_frames - 1)]
        counts[k] = e.size
        if e.size:
            mean[k] = x[k, e[:, np.newaxis] + lags[np.newaxis, :]].mean(axis=0)
    return mean, counts, lags
