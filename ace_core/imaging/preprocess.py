"""Miniscope preprocessing of the cropped movie: detrend -> optional ΔF/F, streamed, float32 out.

Every step reads the movie a chunk of frames at a time from a :class:`~ace_core.io.frames.FrameSource`;
nothing that grows with the recording length except per-frame vectors (T,) is held. The work is split
so that the expensive output pass can also run in worker processes:

* :func:`plan_preprocess` makes the statistics passes and returns a small picklable
  :class:`PreprocessPlan` (per-frame offsets (T,), per-pixel line fits (H, W), the ΔF/F pre-shift);
* :func:`preprocess_range` turns frames ``[start, stop)`` into output frames given a plan;
* :func:`preprocess` does both sequentially and writes through ``ace_core.store.movies``.

Definitions (the reference's):

* ``'median'`` detrend: m[t] = mean of frame t; every pixel of frame t is shifted by
  ``-(m[t] - median_t(m))`` (a global per-frame offset, not a running median).
* ``'linear'`` detrend: each pixel's least-squares line over time is removed, as
  ``scipy.signal.detrend(type='linear', axis=0)`` does (which also removes the pixel's mean).
* ΔF/F (CaImAn ``computeDFF``): if the movie's minimum is < 0 it is subtracted, and if the minimum is
  then 0, 1 is added. ``w = int(secs_window * frame_rate_hz)``; the time axis is reflect-padded to a
  multiple of w (floor half before, ceil half after); the baseline of each block of w frames is the
  ``quantile_min``-th percentile per pixel; it is expanded to one value per frame by linear
  interpolation with ``scipy.ndimage.zoom``'s grid mapping (padded frame i sits at block coordinate
  ``i * (B - 1) / (T' - 1)``), and the padding is removed. Output ``(F - F0) / sqrt(F0)``,
  ``(F - F0) / F0`` or ``F - F0``.

Departures from the reference, on purpose:

* The ΔF/F window uses the metadata ``frame_rate_hz``; the reference always used CaImAn's default 30 fps.
* The output is a lossless float32 movie; the reference rescaled it to an 8-bit AVI between the 1st and
  99.75th percentiles, and motion correction / CNMF-E read that quantised file.
* Errors are raised; the reference silently fell back to the undetrended movie.
* Arithmetic is float64 (CaImAn's ΔF/F works in float32); differences are at float32 rounding level.

Memory (bounded by the chunk and window sizes, never by the recording length): one read chunk of
``chunk_frames`` frames in the source's dtype plus its float32 output; float64 work in slabs of about
32 MB; per-frame vectors (T,) and for 'linear' two (H, W) float64 images. ΔF/F keeps only the block
baselines (H, W) that the current frames interpolate between, and computing one reads its w frames
at once in the source's dtype (37 MB for w = 100 uint8 frames of 608 x 608), then works in row bands.

Reads of the source: statistics (when detrending or ΔF/F), minimum (linear detrend with ΔF/F), the
output pass, and for ΔF/F each baseline block once more (about one more pass).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.ndimage
import xarray as xr

from ace_core.io.frames import FrameSource, chunk_bounds
from ace_core.store.movies import MOVIE_VARIABLE, MovieWriter, write_region

__all__ = [
    "DETREND_METHODS",
    "DFF_METHODS",
    "DffLayout",
    "PreprocessParams",
    "PreprocessPlan",
    "PreprocessSummary",
    "dff_direct",
    "plan_preprocess",
    "preprocess",
    "preprocess_range",
]

Progress = Callable[[int, int], None]  # (frames done, total frames), as ace_assets.helpers.progress

DETREND_METHODS = ("median", "linear")
DFF_METHODS = ("delta_f_over_sqrt_f", "delta_f_over_f", "only_baseline")

# Frames processed in float64 at once: bounds each temporary to ~32 MB whatever the chunk size.
_SLAB_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class PreprocessParams:
    """What to do to the movie; the reference's miniscope preprocessing parameters."""

    detrend_method: str | None = "median"
    df_over_f: bool = False
    df_over_f_method: str = "delta_f_over_sqrt_f"
    secs_window: float = 5.0
    quantile_min: float = 8.0
    # The recording's metadata frame rate: it sets the ΔF/F window (the reference silently used 30).
    frame_rate_hz: float = 20.0
    chunk_frames: int = 200

    def __post_init__(self) -> None:
        """Check every value; ValueError names the bad one."""
        if self.detrend_method is not None and self.detrend_method not in DETREND_METHODS:
            raise ValueError(
                f"detrend_method must be one of {DETREND_METHODS} or None, got {self.detrend_method!r}"
            )
        if self.df_over_f_method not in DFF_METHODS:
            raise ValueError(f"df_over_f_method must be one of {DFF_METHODS}, got {self.df_over_f_method!r}")
        if not (math.isfinite(self.frame_rate_hz) and self.frame_rate_hz > 0):
            raise ValueError(f"frame_rate_hz must be a positive number, got {self.frame_rate_hz!r}")
        if not (math.isfinite(self.secs_window) and self.secs_window > 0):
            raise ValueError(f"secs_window must be a positive number, got {self.secs_window!r}")
        if not 0 <= self.quantile_min <= 100:
            raise ValueError(f"quantile_min must be a percentile in 0..100, got {self.quantile_min!r}")
        if self.chunk_frames < 1:
            raise ValueError(f"chunk_frames must be >= 1, got {self.chunk_frames}")
        if self.df_over_f and self.window_frames < 1:
            raise ValueError(
                f"ΔF/F window of {self.secs_window} s at {self.frame_rate_hz} Hz is shorter than one frame"
            )

    @property
    def window_frames(self) -> int:
        """ΔF/F block length in frames: ``int(secs_window * frame_rate_hz)`` (truncated, as the reference)."""
        return int(self.secs_window * self.frame_rate_hz)


@dataclass(frozen=True)
class DffLayout:
    """Reflect padding and baseline blocks of ΔF/F for a movie of ``n_frames`` and a window of ``window``."""

    n_frames: int
    window: int

    @property
    def pad_before(self) -> int:
        """Reflected frames before the movie (floor half of the padding to a multiple of ``window``)."""
        return ((-self.n_frames) % self.window) // 2

    @property
    def pad_after(self) -> int:
        """Reflected frames after the movie (ceil half of the padding)."""
        return (-self.n_frames) % self.window - self.pad_before

    @property
    def n_padded(self) -> int:
        """Frames after padding, a multiple of ``window``."""
        return self.n_frames + (-self.n_frames) % self.window

    @property
    def n_blocks(self) -> int:
        """Number of baseline blocks of ``window`` frames."""
        return self.n_padded // self.window

    @property
    def zoom(self) -> float:
        """Block coordinate per padded frame, as ``scipy.ndimage.zoom`` computes it (grid_mode=False)."""
        return (self.n_blocks - 1) / (self.n_padded - 1) if self.n_padded > 1 else 1.0

    def source_frames(self, padded: np.ndarray) -> np.ndarray:
        """Original frame index of each padded index (``np.pad(mode='reflect')``, repeated if needed)."""
        j = np.asarray(padded, dtype=np.int64) - self.pad_before
        if self.n_frames == 1:
            return np.zeros_like(j)
        period = 2 * (self.n_frames - 1)
        j = np.mod(j, period)
        return np.where(j < self.n_frames, j, period - j)

    def block_frames(self, block: int) -> np.ndarray:
        """Original frame indices making up baseline block ``block`` (w of them, in padded order)."""
        return self.source_frames(np.arange(block * self.window, (block + 1) * self.window))

    def interpolation(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lower block, upper block, weight of the upper block) of each original frame's baseline."""
        coord = (np.asarray(frames, dtype=np.int64) + self.pad_before) * self.zoom
        coord = np.clip(coord, 0.0, self.n_blocks - 1)
        lower = np.floor(coord).astype(np.int64)
        frac = coord - lower
        upper = np.minimum(lower + 1, self.n_blocks - 1)
        return lower, upper, frac


@dataclass(frozen=True, eq=False)
class PreprocessPlan:
    """Everything :func:`preprocess_range` needs besides the frames (small, picklable)."""

    params: PreprocessParams
    n_frames: int
    height: int  # output frame size (that of the source)
    width: int
    trend: np.ndarray | None  # (T,) 'median': m[t] - median(m), subtracted from frame t
    intercept: np.ndarray | None  # (H, W) 'linear': pixel mean (value of the line at t_center)
    slope: np.ndarray | None  # (H, W) 'linear': per frame
    t_center: float
    data_min: float | None  # ΔF/F: minimum of the detrended movie
    shift_subtract: float  # ΔF/F pre-shift: subtracted first (the minimum when it is < 0, else 0)
    shift_add_one: bool  # ΔF/F pre-shift: then 1 added (when the minimum became 0)
    layout: DffLayout | None
    passes: int  # full reads of the source made by plan_preprocess

    @property
    def baseline_shift(self) -> float:
        """Total offset added to the detrended movie before ΔF/F."""
        return -self.shift_subtract + (1.0 if self.shift_add_one else 0.0)


def _slab(height: int, width: int) -> int:
    return max(1, _SLAB_ELEMENTS // max(1, height * width))


def _read(source: FrameSource, start: int, stop: int, params: PreprocessParams) -> np.ndarray:
    frames = np.asarray(source.read(start, stop))
    if frames.shape != (stop - start, source.height, source.width):
        raise ValueError(f"source returned frames of shape {frames.shape} for [{start}, {stop})")
    return frames


def _detrend(frames: np.ndarray, start: int, plan: PreprocessPlan, rows: slice = slice(None)) -> np.ndarray:
    """Frames [start, start + n) (or a band of their ``rows``) -> detrended float64 (ΔF/F's input)."""
    x = frames.astype(np.float64)
    if plan.trend is not None:
        x -= plan.trend[start : start + x.shape[0], None, None]
    elif plan.slope is not None and plan.intercept is not None:
        t = np.arange(start, start + x.shape[0], dtype=np.float64) - plan.t_center
        x -= plan.intercept[rows]
        x -= t[:, None, None] * plan.slope[rows]
    return x


def _pre_shift(x: np.ndarray, plan: PreprocessPlan) -> np.ndarray:
    if plan.shift_subtract:
        x -= plan.shift_subtract
    if plan.shift_add_one:
        x += 1.0
    return x


def _slabs(
    source: FrameSource, params: PreprocessParams, start: int, stop: int
) -> Iterator[tuple[int, np.ndarray]]:
    """(first frame, frames) over [start, stop): read ``chunk_frames`` at a time, yielded in slabs."""
    slab = _slab(source.height, source.width)
    for c0, c1 in chunk_bounds(stop, params.chunk_frames, start=start):
        frames = _read(source, c0, c1, params)
        for s in range(0, c1 - c0, slab):
            yield c0 + s, frames[s : s + slab]


def _planning_sweeps(params: PreprocessParams) -> int:
    """Full reads of the source made by :func:`plan_preprocess`."""
    stats = params.detrend_method is not None or params.df_over_f
    return int(stats) + int(params.df_over_f and params.detrend_method == "linear")


@dataclass
class _Counter:
    """Frames read so far over all sweeps, reported as ``progress(done, total)``."""

    progress: Progress | None
    total: int
    done: int = 0

    def advance(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(self.done, self.total)


def plan_preprocess(
    source: FrameSource, params: PreprocessParams, *, progress: Progress | None = None
) -> PreprocessPlan:
    """Statistics passes: the median-detrend offsets, the per-pixel lines, the ΔF/F pre-shift.

    Pass 1 (when detrending or ΔF/F): per-frame means and minima (T,), per-pixel sums (H, W) float64.
    Pass 2 (linear detrend with ΔF/F only): the minimum of the detrended movie.
    ``progress(done_frames, total_frames)`` counts frames over both passes.
    """
    return _plan(source, params, _Counter(progress, _planning_sweeps(params) * int(source.n_frames)))


def _output_shape(source: FrameSource, params: PreprocessParams) -> tuple[int, int, int]:
    """(T, H, W) of the output: the source's."""
    n_frames, height, width = int(source.n_frames), int(source.height), int(source.width)
    if n_frames < 1:
        raise ValueError("cannot preprocess a movie with no frames")
    return n_frames, height, width


def _plan(source: FrameSource, params: PreprocessParams, counter: _Counter) -> PreprocessPlan:
    n_frames, height, width = _output_shape(source, params)
    method = params.detrend_method
    t_center = (n_frames - 1) / 2.0
    trend = intercept = slope = None
    data_min: float | None = None
    passes = 0

    if method is not None or params.df_over_f:
        passes += 1
        means = np.empty(n_frames, dtype=np.float64)
        minima = np.empty(n_frames, dtype=np.float64)
        sum_x = np.zeros((height, width), dtype=np.float64) if method == "linear" else None
        sum_tx = np.zeros((height, width), dtype=np.float64) if method == "linear" else None
        for start, frames in _slabs(source, params, 0, n_frames):
            stop = start + frames.shape[0]
            counter.advance(stop - start)
            means[start:stop] = frames.mean(axis=(1, 2), dtype=np.float64)
            minima[start:stop] = frames.min(axis=(1, 2))
            if sum_x is not None and sum_tx is not None:
                x = frames.astype(np.float64)
                sum_x += x.sum(axis=0)
                sum_tx += np.tensordot(np.arange(start, stop) - t_center, x, axes=1)
        if method == "median":
            trend = means - np.median(means)
        elif method == "linear":
            assert sum_x is not None and sum_tx is not None
            intercept = sum_x / n_frames
            s_tt = n_frames * (n_frames**2 - 1) / 12.0  # sum of (t - t_center)^2
            slope = sum_tx / s_tt if s_tt > 0 else np.zeros_like(sum_tx)
        if params.df_over_f:
            # min(x - c) is min(x) - c exactly (rounding is monotonic): per-frame minima suffice, no pass.
            data_min = float(np.min(minima - trend)) if trend is not None else float(minima.min())

    draft = PreprocessPlan(
        params=params,
        n_frames=n_frames,
        height=height,
        width=width,
        trend=trend,
        intercept=intercept,
        slope=slope,
        t_center=t_center,
        data_min=data_min,
        shift_subtract=0.0,
        shift_add_one=False,
        layout=None,
        passes=passes,
    )
    if not params.df_over_f:
        return draft

    if method == "linear":
        passes += 1
        lowest = math.inf
        for start, frames in _slabs(source, params, 0, n_frames):
            lowest = min(lowest, float(_detrend(frames, start, draft).min()))
            counter.advance(frames.shape[0])
        data_min = lowest
    assert data_min is not None
    # Pre-shift: subtract a negative minimum; if the minimum is then 0, add 1 (strictly positive data).
    shift_subtract = data_min if data_min < 0 else 0.0
    return dataclasses.replace(
        draft,
        data_min=data_min,
        shift_subtract=shift_subtract,
        shift_add_one=data_min - shift_subtract == 0,
        layout=DffLayout(n_frames, params.window_frames),
        passes=passes,
    )


@dataclass
class _Baselines:
    """Block baselines (H, W) computed on demand; only those still needed are kept."""

    source: FrameSource
    plan: PreprocessPlan
    blocks: dict[int, np.ndarray] = field(default_factory=dict)

    def get(self, block: int) -> np.ndarray:
        if block not in self.blocks:
            self.blocks[block] = self._compute(block)
        return self.blocks[block]

    def keep_from(self, block: int) -> None:
        for k in [k for k in self.blocks if k < block]:
            del self.blocks[k]

    def _compute(self, block: int) -> np.ndarray:
        plan = self.plan
        assert plan.layout is not None
        idx = plan.layout.block_frames(block)
        lo, hi = int(idx.min()), int(idx.max()) + 1
        raw = _read(self.source, lo, hi, plan.params)  # in the source's dtype (uint8 for raw frames)
        order = None if np.array_equal(idx, np.arange(lo, hi)) else idx - lo  # edge blocks: reflected
        baseline = np.empty((plan.height, plan.width), dtype=np.float64)
        band = max(1, _SLAB_ELEMENTS // max(1, idx.size * plan.width))
        for r0 in range(0, plan.height, band):
            rows = slice(r0, r0 + band)
            x = _pre_shift(_detrend(raw[:, rows], lo, plan, rows), plan)
            if order is not None:
                x = x[order]
            baseline[rows] = np.percentile(x, plan.params.quantile_min, axis=0)
        return baseline


def _process(
    source: FrameSource, plan: PreprocessPlan, start: int, stop: int, baselines: _Baselines | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Output frames [start, stop) (float32) and the per-frame means before and after detrending."""
    params = plan.params
    n = stop - start
    out = np.empty((n, plan.height, plan.width), dtype=np.float32)
    mean_raw = np.empty(n, dtype=np.float64)
    mean_detrended = np.empty(n, dtype=np.float64)
    if params.df_over_f and baselines is None:
        baselines = _Baselines(source, plan)
    for s, raw in _slabs(source, params, start, stop):
        e = s + raw.shape[0]
        mean_raw[s - start : e - start] = raw.mean(axis=(1, 2), dtype=np.float64)
        x = _detrend(raw, s, plan)
        mean_detrended[s - start : e - start] = x.mean(axis=(1, 2))
        if params.df_over_f:
            assert plan.layout is not None and baselines is not None
            x = _pre_shift(x, plan)
            lower, upper, frac = plan.layout.interpolation(np.arange(s, e))
            first = int(lower.min())
            baselines.keep_from(first)
            stack = np.stack([baselines.get(k) for k in range(first, int(upper.max()) + 1)])
            frac = frac[:, None, None]
            f0 = (1.0 - frac) * stack[lower - first] + frac * stack[upper - first]
            x -= f0
            if params.df_over_f_method == "delta_f_over_sqrt_f":
                x /= np.sqrt(f0)
            elif params.df_over_f_method == "delta_f_over_f":
                x /= f0
        out[s - start : e - start] = x
    return out, mean_raw, mean_detrended


def preprocess_range(source: FrameSource, plan: PreprocessPlan, start: int, stop: int) -> np.ndarray:
    """Output frames [start, stop) as float32 (n, H, W); usable in worker processes with ``write_region``."""
    if not 0 <= start <= stop <= plan.n_frames:
        raise ValueError(f"frames [{start}, {stop}) outside 0..{plan.n_frames}")
    return _process(source, plan, start, stop, None)[0]


@dataclass(frozen=True, eq=False)
class PreprocessSummary:
    """What :func:`preprocess` did, with the per-frame traces a reviewer plots (all (T,) float64)."""

    n_frames: int
    height: int
    width: int
    detrend_method: str | None
    df_over_f: bool
    df_over_f_method: str | None
    frame_rate_hz: float
    secs_window: float
    quantile_min: float
    window_frames: int | None
    pad_before: int
    pad_after: int
    n_blocks: int
    data_min: float | None
    baseline_shift: float
    passes: int
    mean_before: np.ndarray  # per-frame mean of the input
    mean_after: np.ndarray  # ... after detrending (before ΔF/F)
    mean_output: np.ndarray  # ... of the frames written
    detrend_offset: np.ndarray | None  # 'median': m[t] - median(m), subtracted from frame t

    def attrs(self) -> dict[str, Any]:
        """Scalar provenance for the output movie's attributes."""
        return {
            "detrend_method": self.detrend_method,
            "df_over_f": self.df_over_f,
            "df_over_f_method": self.df_over_f_method,
            "frame_rate_hz": self.frame_rate_hz,
            "secs_window": self.secs_window,
            "quantile_min": self.quantile_min,
            "window_frames": self.window_frames,
            "dff_pad_before": self.pad_before,
            "dff_pad_after": self.pad_after,
            "dff_blocks": self.n_blocks,
            "dff_data_min": self.data_min,
            "dff_baseline_shift": self.baseline_shift,
            "dtype": "float32",
        }

    def to_dataset(self) -> xr.Dataset:
        """The traces as variables on the movie's ``frame`` dimension (for ``MovieWriter.add_variables``)."""
        data = {
            "mean_before": ("frame", self.mean_before),
            "mean_after": ("frame", self.mean_after),
            "mean_output": ("frame", self.mean_output),
        }
        if self.detrend_offset is not None:
            data["detrend_offset"] = ("frame", self.detrend_offset)
        return xr.Dataset(data)


def _sink(out: MovieWriter | str | Path, shape: tuple[int, int, int]) -> Callable[[int, np.ndarray], None]:
    if isinstance(out, MovieWriter):
        if out.tmp_path is None:
            raise ValueError(f"{out.path}: MovieWriter must be entered (`with MovieWriter(...) as w`)")
        if out.shape != shape:
            raise ValueError(f"{out.path}: writer holds {out.shape} frames x rows x cols, output is {shape}")
        return out.write
    import zarr

    path = Path(out)
    target = zarr.open_array(str(path / MOVIE_VARIABLE), mode="r")
    if tuple(target.shape) != shape:
        raise ValueError(f"{path}: store holds {tuple(target.shape)} frames x rows x cols, output is {shape}")
    return lambda start, frames: write_region(path, start, frames)


def preprocess(
    source: FrameSource,
    params: PreprocessParams,
    writer_or_tmp_path: MovieWriter | str | Path,
    *,
    progress: Progress | None = None,
) -> PreprocessSummary:
    """Detrend and (optionally) ΔF/F ``source`` into a float32 movie, chunk by chunk.

    ``writer_or_tmp_path`` is an entered :class:`~ace_core.store.movies.MovieWriter` or the ``tmp_path``
    of one (frames then go through ``write_region``); its shape must be the source's. Output
    frames are written ``params.chunk_frames`` at a time, so align the writer's chunks with that.
    ``progress(done_frames, total_frames)`` counts frames over all sweeps (statistics, minimum, output).
    """
    write = _sink(writer_or_tmp_path, _output_shape(source, params))
    counter = _Counter(progress, (_planning_sweeps(params) + 1) * int(source.n_frames))
    plan = _plan(source, params, counter)
    mean_raw = np.empty(plan.n_frames, dtype=np.float64)
    mean_detrended = np.empty(plan.n_frames, dtype=np.float64)
    mean_output = np.empty(plan.n_frames, dtype=np.float64)
    baselines = _Baselines(source, plan) if params.df_over_f else None
    for start, stop in chunk_bounds(plan.n_frames, params.chunk_frames):
        frames, mean_raw[start:stop], mean_detrended[start:stop] = _process(
            source, plan, start, stop, baselines
        )
        mean_output[start:stop] = frames.mean(axis=(1, 2), dtype=np.float64)
        write(start, frames)
        counter.advance(stop - start)
    layout = plan.layout
    return PreprocessSummary(
        n_frames=plan.n_frames,
        height=plan.height,
        width=plan.width,
        detrend_method=params.detrend_method,
        df_over_f=params.df_over_f,
        df_over_f_method=params.df_over_f_method if params.df_over_f else None,
        frame_rate_hz=params.frame_rate_hz,
        secs_window=params.secs_window,
        quantile_min=params.quantile_min,
        window_frames=params.window_frames if params.df_over_f else None,
        pad_before=layout.pad_before if layout else 0,
        pad_after=layout.pad_after if layout else 0,
        n_blocks=layout.n_blocks if layout else 0,
        data_min=plan.data_min,
        baseline_shift=plan.baseline_shift if params.df_over_f else 0.0,
        passes=plan.passes + 1 + (1 if params.df_over_f else 0),
        mean_before=mean_raw,
        mean_after=mean_detrended,
        mean_output=mean_output,
        detrend_offset=plan.trend,
    )


def dff_direct(
    movie: np.ndarray,
    frame_rate_hz: float,
    secs_window: float,
    quantile_min: float,
    method: str = "delta_f_over_sqrt_f",
) -> np.ndarray:
    """ΔF/F of an in-memory movie (T, H, W), pre-shift included, straight from the definition (float64).

    The reference computation for tests: ``np.pad(mode='reflect')``, ``np.percentile`` per block and
    ``scipy.ndimage.zoom(order=1)``, all on the whole movie.
    """
    if method not in DFF_METHODS:
        raise ValueError(f"method must be one of {DFF_METHODS}, got {method!r}")
    x = np.asarray(movie, dtype=np.float64)
    if x.min() < 0:
        x = x - x.min()
    if x.min() == 0:
        x = x + 1.0
    window = int(secs_window * frame_rate_hz)
    if window < 1:
        raise ValueError(f"window of {secs_window} s at {frame_rate_hz} Hz is shorter than one frame")
    n_frames = x.shape[0]
    missing = (-n_frames) % window
    before = missing // 2
    padded = np.pad(x, ((before, missing - before), (0, 0), (0, 0)), mode="reflect")
    blocks = padded.reshape(padded.shape[0] // window, window, *padded.shape[1:])
    block_baselines = np.percentile(blocks, quantile_min, axis=1)
    f0 = scipy.ndimage.zoom(block_baselines, (window, 1, 1), order=1, mode="constant", prefilter=False)
    if method == "delta_f_over_sqrt_f":
        out = (padded - f0) / np.sqrt(f0)
    elif method == "delta_f_over_f":
        out = (padded - f0) / f0
    else:
        out = padded - f0
    return out[before : before + n_frames]
