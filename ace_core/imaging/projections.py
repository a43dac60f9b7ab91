"""The seven projections of a movie (per-pixel max, min, mean, median, std, range; per-frame mean), streamed.

These are what the lab draws crops over (the reference's crop tool offers them as backgrounds), computed in
one pass over a :class:`~ace_core.io.frames.FrameSource` so that no step holds the movie.

Median (an exact per-pixel median needs every frame in memory, so):

* ``uint8`` movies (raw Miniscope frames): **exact**, from a per-pixel 256-bin histogram. Counts are
  ``uint16`` when the movie has at most 65535 frames (no bin can overflow) and ``uint32`` otherwise,
  so the histogram takes ``H * W * 512`` bytes (about 190 MB at 608 x 608), whatever the length.
  The median is numpy's: the mean of the two middle values when the frame count is even.
* any other dtype: the exact median of an evenly spaced subsample of at most ``median_sample_frames``
  frames (:func:`median_sample_indices`; the indices are known up front, so the subsample is collected
  during the same pass). Exact when the movie is no longer than that; otherwise flagged approximate.
  Memory ``median_sample_frames * H * W * 4`` bytes.

``std`` is the population standard deviation (numpy's ddof = 0), merged chunk by chunk (Chan et al.)
with float64 accumulators, which stays accurate where a running sum of squares would cancel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ace_core.io.frames import FrameSource, chunk_bounds

__all__ = ["Projections", "compute_projections", "median_sample_indices"]

Progress = Callable[[int, int], None]  # (frames done, total frames), as ace_assets.helpers.progress

# Frames converted to float64 at once (bounds the temporaries of the std merge to ~32 MB).
_SLAB_ELEMENTS = 4_000_000
# Pixels histogrammed at once (bounds the bincount temporaries).
_HIST_PIXELS = 16_384


@dataclass(frozen=True, eq=False)
class Projections:
    """Per-pixel projections of a movie and its per-frame mean.

    Attributes
    ----------
    max, min, mean, median, std, range
        (H, W) float32 projections.
    time
        (T,) float64 mean of each frame.
    median_is_approximate
        True when the median came from a subsample of the frames.
    median_method
        How the median was computed, in words.
    """

    max: np.ndarray
    min: np.ndarray
    mean: np.ndarray
    median: np.ndarray
    std: np.ndarray
    range: np.ndarray
    time: np.ndarray
    median_is_approximate: bool
    median_method: str

    @property
    def images(self) -> dict[str, np.ndarray]:
        """The six (H, W) projections by name (what a crop drawing tool offers as backgrounds)."""
        return {
            "max": self.max,
            "min": self.min,
            "mean": self.mean,
            "median": self.median,
            "std": self.std,
            "range": self.range,
        }


def median_sample_indices(n_frames: int, max_frames: int) -> np.ndarray:
    """Evenly spaced frame indices (first and last included) used for the subsample median.

    Parameters
    ----------
    n_frames
        Frames in the movie.
    max_frames
        Most frames to sample.

    Returns
    -------
    numpy.ndarray
        Sorted unique int indices; all frames when ``n_frames <= max_frames``.

    Raises
    ------
    ValueError
        If ``max_frames < 1``.
    """
    if max_frames < 1:
        raise ValueError(f"median_sample_frames must be >= 1, got {max_frames}")
    if n_frames <= max_frames:
        return np.arange(n_frames)
    return np.unique(np.round(np.linspace(0, n_frames - 1, max_frames)).astype(np.int64))


class _Histogram:
    """Per-pixel value counts of a uint8 movie."""

    def __init__(self, n_pixels: int, n_frames: int) -> None:
        dtype = np.uint16 if n_frames <= np.iinfo(np.uint16).max else np.uint32
        self.counts = np.zeros((n_pixels, 256), dtype=dtype)
        self.n = 0

    def add(self, frames: np.ndarray) -> None:
        flat = frames.reshape(frames.shape[0], -1)
        n_pixels = flat.shape[1]
        for p0 in range(0, n_pixels, _HIST_PIXELS):
            p1 = min(p0 + _HIST_PIXELS, n_pixels)
            index = flat[:, p0:p1].astype(np.int32) + (np.arange(p1 - p0, dtype=np.int32) * 256)
            block = np.bincount(index.ravel(), minlength=(p1 - p0) * 256)
            self.counts[p0:p1] += block.reshape(p1 - p0, 256).astype(self.counts.dtype)
        self.n += flat.shape[0]

    def median(self) -> np.ndarray:
        # numpy's median: the value of rank n//2 (0-based) for odd n, mean of ranks n//2 - 1 and n//2 for
        # even n; the value of rank r is the first bin whose cumulative count exceeds r.
        out = np.empty(self.counts.shape[0], dtype=np.float64)
        for p0 in range(0, self.counts.shape[0], _HIST_PIXELS):
            cumulative = np.cumsum(self.counts[p0 : p0 + _HIST_PIXELS], axis=1, dtype=np.int64)
            upper = (cumulative <= self.n // 2).sum(axis=1)
            if self.n % 2:
                out[p0 : p0 + _HIST_PIXELS] = upper
            else:
                lower = (cumulative <= self.n // 2 - 1).sum(axis=1)
                out[p0 : p0 + _HIST_PIXELS] = (lower + upper) / 2.0
        return out


def compute_projections(
    source: FrameSource,
    *,
    chunk_frames: int = 256,
    median_sample_frames: int = 200,
    progress: Progress | None = None,
) -> Projections:
    """Stream ``source`` once and return its seven projections (see the module docstring for the median).

    Parameters
    ----------
    source
        The movie.
    chunk_frames
        Frames read at a time.
    median_sample_frames
        Subsample size for the median of non-uint8 movies.
    progress
        Called as ``progress(done_frames, total_frames)`` after each chunk when given.

    Returns
    -------
    Projections

    Raises
    ------
    ValueError
        If the movie has no frames or the source returns frames of the wrong shape.
    """
    n_frames, height, width = int(source.n_frames), int(source.height), int(source.width)
    if n_frames < 1:
        raise ValueError("cannot project a movie with no frames")
    shape = (height, width)
    time = np.empty(n_frames, dtype=np.float64)
    vmax = vmin = None
    total = np.zeros(shape, dtype=np.float64)
    mean = np.zeros(shape, dtype=np.float64)
    m2 = np.zeros(shape, dtype=np.float64)
    count = 0
    histogram: _Histogram | None = None
    sample_idx: np.ndarray | None = None
    sample: np.ndarray | None = None
    slab = max(1, _SLAB_ELEMENTS // max(1, height * width))

    for start, stop in chunk_bounds(n_frames, chunk_frames):
        frames = np.asarray(source.read(start, stop))
        if frames.shape != (stop - start, height, width):
            raise ValueError(f"source returned frames of shape {frames.shape} for [{start}, {stop})")
        if histogram is None and sample_idx is None:
            if frames.dtype == np.uint8:
                histogram = _Histogram(height * width, n_frames)
            else:
                sample_idx = median_sample_indices(n_frames, median_sample_frames)
                sample = np.empty((sample_idx.size, height, width), dtype=np.float32)
        time[start:stop] = frames.mean(axis=(1, 2), dtype=np.float64)
        cmax, cmin = frames.max(axis=0), frames.min(axis=0)
        vmax = cmax if vmax is None else np.maximum(vmax, cmax)
        vmin = cmin if vmin is None else np.minimum(vmin, cmin)
        for s0 in range(0, frames.shape[0], slab):
            part = frames[s0 : s0 + slab].astype(np.float64)
            n_b = part.shape[0]
            part_sum = part.sum(axis=0)
            mean_b = part_sum / n_b
            part -= mean_b
            m2_b = np.einsum("tij,tij->ij", part, part)
            delta = mean_b - mean
            new_count = count + n_b
            mean += delta * (n_b / new_count)
            m2 += m2_b + delta**2 * (count * n_b / new_count)
            total += part_sum
            count = new_count
        if histogram is not None:
            histogram.add(frames)
        else:
            assert sample_idx is not None and sample is not None
            lo, hi = np.searchsorted(sample_idx, [start, stop])
            sample[lo:hi] = frames[sample_idx[lo:hi] - start]
        if progress is not None:
            progress(stop, n_frames)

    assert vmax is not None and vmin is not None
    if histogram is not None:
        median = histogram.median().reshape(shape)
        approximate = False
        method = f"exact: per-pixel 256-bin histogram of uint8 values over all {n_frames} frames"
    else:
        assert sample_idx is not None and sample is not None
        median = np.median(sample, axis=0)
        approximate = sample_idx.size < n_frames
        if approximate:
            method = (
                f"approximate: exact median of {sample_idx.size} evenly spaced frames of {n_frames} "
                f"(median_sample_indices({n_frames}, {median_sample_frames}))"
            )
        else:
            method = f"exact: all {n_frames} frames (no more than median_sample_frames)"
    vmax64, vmin64 = vmax.astype(np.float64), vmin.astype(np.float64)
    return Projections(
        max=vmax64.astype(np.float32),
        min=vmin64.astype(np.float32),
        mean=(total / count).astype(np.float32),
        median=np.asarray(median, dtype=np.float32),
        std=np.sqrt(m2 / count).astype(np.float32),
        range=(vmax64 - vmin64).astype(np.float32),
        time=time,
        median_is_approximate=approximate,
        median_method=method,
    )
