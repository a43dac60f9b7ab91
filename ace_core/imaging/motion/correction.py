"""Motion correction of a whole movie, streamed: template, passes over chunks on any executor, QC, product."""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ace_core.imaging.motion.geometry import patch_centers
from ace_core.imaging.motion.params import MotionCorrectionParams
from ace_core.imaging.motion.registration import BATCH_FRAMES, Registration, estimate_shifts
from ace_core.imaging.motion.resampling import apply_shifts
from ace_core.io.frames import FrameSource, chunk_bounds
from ace_core.store import movies

__all__ = [
    "ChunkResult",
    "MotionCorrectionResult",
    "copy_chunk",
    "correct_chunk",
    "crispness",
    "identity_result",
    "make_template",
    "motion_correct",
    "result_dataset",
]


@dataclass(frozen=True)
class MotionCorrectionResult:
    """Shifts, template and QC of one run.

    Attributes
    ----------
    template
        (H, W) float32 final template.
    rigid_shifts
        (n, 2) corrections applied (= -displacement), (dy, dx) (px).
    patch_shifts, patch_centers
        (n, npy, npx, 2) patch corrections and (npy, npx, 2) patch centres (px); None unless piecewise.
    corr_before, corr_after
        Pearson correlation of each frame with the template, both on the band-passed, apodised
        representation used for estimation (raw frames are dominated by the smooth background, whose
        correlation barely moves).
    mean_before, mean_after
        (H, W) mean images of the input and of the corrected movie.
    crispness_before, crispness_after
        Frobenius norm of the gradient magnitude of the mean image (NoRMCorre paper), over the interior
        (a ``max_shifts`` border excluded).
    params
        The parameters used.
    """

    template: np.ndarray
    rigid_shifts: np.ndarray
    patch_shifts: np.ndarray | None
    patch_centers: np.ndarray | None
    corr_before: np.ndarray
    corr_after: np.ndarray
    mean_before: np.ndarray
    mean_after: np.ndarray
    crispness_before: float
    crispness_after: float
    params: MotionCorrectionParams


@dataclass(frozen=True)
class ChunkResult:
    """What a worker returns for frames ``[start, stop)``: per-frame values and (H, W) float64 sums.

    Attributes
    ----------
    start, stop
        The frames.
    rigid_shifts, patch_shifts, corr_before, corr_after
        Per-frame values, as in :class:`MotionCorrectionResult`.
    sum_before, sum_after
        (H, W) sums of the input and of the finite corrected values.
    count_after
        (H, W) number of finite corrected values (NaN borders).
    """

    start: int
    stop: int
    rigid_shifts: np.ndarray
    patch_shifts: np.ndarray | None
    corr_before: np.ndarray
    corr_after: np.ndarray
    sum_before: np.ndarray
    sum_after: np.ndarray
    count_after: np.ndarray  # (H, W) number of finite corrected values (NaN borders)


def make_template(source: FrameSource, params: MotionCorrectionParams) -> np.ndarray:
    """(H, W) float32 template in original intensity from the first ``template_frames`` frames.

    Mean of the frames, then ``template_iters`` times: rigid-register the frames to the band-passed
    template and re-average the shifted original frames ('copy' borders). Depends only on those frames,
    not on chunking.

    Parameters
    ----------
    source
        The movie.
    params
        Motion-correction parameters.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValueError
        If the movie is empty, or as :class:`~ace_core.imaging.motion.registration.Registration`.
    """
    n = min(params.template_frames, source.n_frames)
    if n < 1:
        raise ValueError("cannot build a template from an empty movie")
    frames = np.concatenate(
        [np.asarray(source.read(s, e), np.float32) for s, e in chunk_bounds(n, params.chunk_frames)]
    )
    template = frames.mean(axis=0, dtype=np.float64).astype(np.float32)
    rigid_params = dataclasses.replace(params, pw_rigid=False, border_nan="copy")
    for _ in range(params.template_iters):
        shifts, _ = estimate_shifts(frames, template, rigid_params)
        total = np.zeros(template.shape, np.float64)
        for b in range(0, n, BATCH_FRAMES):
            sl = slice(b, b + BATCH_FRAMES)
            total += apply_shifts(frames[sl], shifts[sl], params=rigid_params).sum(axis=0, dtype=np.float64)
        template = (total / n).astype(np.float32)
    return template


def correct_chunk(
    source: FrameSource,
    start: int,
    stop: int,
    template: np.ndarray,
    params: MotionCorrectionParams,
    out_tmp_path: str | Path | None,
) -> ChunkResult:
    """Worker: estimate and apply shifts to frames ``[start, stop)``, write them, return the small results.

    Top level and picklable so any ``concurrent.futures.Executor`` (process pool, Dask) can run it; it reads
    its own frames, so only the template and parameters travel to it.

    Parameters
    ----------
    source
        The movie.
    start, stop
        The frames.
    template
        (H, W) template.
    params
        Motion-correction parameters.
    out_tmp_path
        Temporary store of an open ``MovieWriter`` to write the corrected frames to (float32), or None.

    Returns
    -------
    ChunkResult
    """
    reg = Registration(np.asarray(template, np.float32), params)
    frames = np.asarray(source.read(start, stop))
    n = frames.shape[0]
    h, w = reg.shape
    corrected = np.empty((n, h, w), np.float32)
    rigid = np.empty((n, 2), np.float32)
    patches = np.empty((n, *reg.centers.shape[:2], 2), np.float32) if reg.pw else None
    corr_before = np.empty(n, np.float32)
    corr_after = np.empty(n, np.float32)
    sum_before = np.zeros((h, w), np.float64)
    for b in range(0, n, BATCH_FRAMES):
        sl = slice(b, min(b + BATCH_FRAMES, n))
        batch = frames[sl].astype(np.float32, copy=False)
        r, p, c0 = reg.estimate(batch)
        rigid[sl], corr_before[sl] = r, c0
        if patches is not None:
            patches[sl] = p
        corrected[sl] = apply_shifts(batch, r, p, reg.centers, params=params)
        corr_after[sl] = reg.corr(corrected[sl])
        sum_before += batch.sum(axis=0, dtype=np.float64)
    finite = np.isfinite(corrected)
    if out_tmp_path is not None:
        movies.write_region(out_tmp_path, start, corrected)
    return ChunkResult(
        start=start,
        stop=stop,
        rigid_shifts=rigid,
        patch_shifts=patches,
        corr_before=corr_before,
        corr_after=corr_after,
        sum_before=sum_before,
        sum_after=np.where(finite, corrected, 0).sum(axis=0, dtype=np.float64),
        count_after=finite.sum(axis=0, dtype=np.int32),
    )


def copy_chunk(
    source: FrameSource,
    start: int,
    stop: int,
    template: np.ndarray,
    params: MotionCorrectionParams,
    out_tmp_path: str | Path | None,
) -> ChunkResult:
    """Worker for :func:`identity_result`: frames ``[start, stop)`` written unchanged (float32).

    QC against the template, zero shifts. Same signature and results as :func:`correct_chunk`.

    Parameters
    ----------
    source, start, stop, template, params, out_tmp_path
        As :func:`correct_chunk`.

    Returns
    -------
    ChunkResult
    """
    reg = Registration(np.asarray(template, np.float32), dataclasses.replace(params, pw_rigid=False))
    frames = np.asarray(source.read(start, stop)).astype(np.float32)
    n = frames.shape[0]
    corr = np.concatenate([reg.corr(frames[b : b + BATCH_FRAMES]) for b in range(0, n, BATCH_FRAMES)]).astype(
        np.float32
    )
    if out_tmp_path is not None:
        movies.write_region(out_tmp_path, start, frames)
    total = frames.sum(axis=0, dtype=np.float64)
    return ChunkResult(
        start=start,
        stop=stop,
        rigid_shifts=np.zeros((n, 2), np.float32),
        patch_shifts=None,
        corr_before=corr,
        corr_after=corr,
        sum_before=total,
        sum_after=total,
        count_after=np.full(frames.shape[1:], n, np.int32),
    )


def crispness(image: np.ndarray, border: int | tuple[int, int] = 0) -> float:
    """Frobenius norm of the gradient magnitude of an image (NoRMCorre's sharpness of a mean image).

    Parameters
    ----------
    image
        (H, W); NaN values are ignored.
    border
        Pixels left out at each edge, one value or (y, x).

    Returns
    -------
    float
    """
    by, bx = (border, border) if isinstance(border, int) else border
    img = np.asarray(image, np.float64)
    img = img[by : img.shape[0] - by or None, bx : img.shape[1] - bx or None]
    gy, gx = np.gradient(img)
    return float(np.sqrt(np.nansum(gy**2 + gx**2)))


class _Accumulator:
    """Per-frame results in place and running (H, W) sums, so memory does not grow with chunk count."""

    def __init__(self, n_frames: int, shape: tuple[int, int], patch_grid_shape: tuple[int, int] | None):
        self.rigid = np.zeros((n_frames, 2), np.float32)
        self.patches = (
            None if patch_grid_shape is None else np.zeros((n_frames, *patch_grid_shape, 2), np.float32)
        )
        self.corr_before = np.full(n_frames, np.nan, np.float32)
        self.corr_after = np.full(n_frames, np.nan, np.float32)
        self.sum_before = np.zeros(shape, np.float64)
        self.sum_after = np.zeros(shape, np.float64)
        self.count_after = np.zeros(shape, np.int64)
        self.n_frames = n_frames

    def add(self, res: ChunkResult) -> None:
        sl = slice(res.start, res.stop)
        self.rigid[sl] = res.rigid_shifts
        if self.patches is not None:
            self.patches[sl] = res.patch_shifts
        self.corr_before[sl] = res.corr_before
        self.corr_after[sl] = res.corr_after
        self.sum_before += res.sum_before
        self.sum_after += res.sum_after
        self.count_after += res.count_after

    def means(self) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            after = (self.sum_after / self.count_after).astype(np.float32)
        return (self.sum_before / max(self.n_frames, 1)).astype(np.float32), after


_Worker = Callable[[FrameSource, int, int, np.ndarray, MotionCorrectionParams, Any], ChunkResult]


def _run_pass(
    worker: _Worker,
    source: FrameSource,
    template: np.ndarray,
    params: MotionCorrectionParams,
    out_tmp_path: Path | None,
    executor: cf.Executor | None,
    max_in_flight: int,
    consume: Callable[[ChunkResult], None],
) -> None:
    """Run `worker` over all chunks; at most `max_in_flight` chunks submitted at once (bounded memory)."""
    bounds = chunk_bounds(source.n_frames, params.chunk_frames)
    if executor is None:
        for s, e in bounds:
            consume(worker(source, s, e, template, params, out_tmp_path))
        return
    pending: set[cf.Future] = set()
    todo = iter(bounds)
    try:
        while True:
            for s, e in todo:
                pending.add(executor.submit(worker, source, s, e, template, params, out_tmp_path))
                if len(pending) >= max_in_flight:
                    break
            if not pending:
                break
            done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                consume(fut.result())
    finally:
        for fut in pending:
            fut.cancel()


def _executor_workers(executor: cf.Executor) -> int:
    return int(getattr(executor, "_max_workers", None) or os.cpu_count() or 1)


def motion_correct(
    source: FrameSource,
    params: MotionCorrectionParams,
    *,
    out_tmp_path: Path | None = None,
    executor: cf.Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
    n_workers: int | None = None,
) -> MotionCorrectionResult:
    """Motion-correct a movie chunk by chunk.

    Parameters
    ----------
    source
        The movie.
    params
        Motion-correction parameters.
    out_tmp_path
        An open MovieWriter's tmp store (float32, chunked by ``params.chunk_frames``) to write the corrected
        movie to, or None.
    executor
        None runs in-process; otherwise at most 2 x ``n_workers`` chunks are in flight.
    progress
        ``progress(done, total)``, called as chunks finish; total = ``niter_rig`` x n_frames (every pass
        reads the whole movie; only the last one writes).
    n_workers
        Default: the executor's worker count, else the CPU count.

    Returns
    -------
    MotionCorrectionResult

    Raises
    ------
    ValueError
        If the movie is empty or ``max_shifts`` / ``max_deviation_rigid`` do not fit the frames.
    """
    template = make_template(source, params)
    return _passes(correct_chunk, source, template, params, out_tmp_path, executor, progress, n_workers)


def identity_result(
    source: FrameSource,
    params: MotionCorrectionParams,
    *,
    out_tmp_path: Path | None = None,
    executor: cf.Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
    n_workers: int | None = None,
) -> MotionCorrectionResult:
    """No correction (``apply_motion_correction`` off): the movie copied as float32 to ``out_tmp_path``.

    Zero shifts, and the same QC against a plain mean of the first ``template_frames`` frames, so products
    and their previews look the same whether or not motion was corrected.

    Parameters
    ----------
    source, params, out_tmp_path, executor, progress, n_workers
        As :func:`motion_correct` (one pass, rigid).

    Returns
    -------
    MotionCorrectionResult
    """
    n = min(params.template_frames, source.n_frames)
    total = np.zeros((source.height, source.width), np.float64)
    for s, e in chunk_bounds(n, params.chunk_frames):
        total += np.asarray(source.read(s, e), np.float32).sum(axis=0, dtype=np.float64)
    template = (total / max(n, 1)).astype(np.float32)
    rigid = dataclasses.replace(params, pw_rigid=False, niter_rig=1)
    return _passes(copy_chunk, source, template, rigid, out_tmp_path, executor, progress, n_workers)


def _passes(
    worker: _Worker,
    source: FrameSource,
    template: np.ndarray,
    params: MotionCorrectionParams,
    out_tmp_path: Path | None,
    executor: cf.Executor | None,
    progress: Callable[[int, int], None] | None,
    n_workers: int | None,
) -> MotionCorrectionResult:
    n_frames, shape = source.n_frames, (source.height, source.width)
    workers = n_workers or (_executor_workers(executor) if executor is not None else 1)
    total, done = params.niter_rig * n_frames, [0]
    grid = patch_centers(shape, params).shape[:2] if params.pw_rigid else None
    for it in range(params.niter_rig):
        last = it == params.niter_rig - 1
        acc = _Accumulator(n_frames, shape, grid)

        def consume(res: ChunkResult, acc: _Accumulator = acc) -> None:
            acc.add(res)
            done[0] += res.stop - res.start
            if progress is not None:
                progress(done[0], total)

        out = out_tmp_path if last else None
        _run_pass(worker, source, template, params, out, executor, 2 * workers, consume)
        mean_before, mean_after = acc.means()
        if not last:  # NoRMCorre's template update: the registered mean of the whole movie
            template = np.where(np.isfinite(mean_after), mean_after, template).astype(np.float32)
    border = tuple(min(m, s // 4) for m, s in zip(params.max_shifts, shape, strict=True))
    return MotionCorrectionResult(
        template=template.astype(np.float32),
        rigid_shifts=acc.rigid,
        patch_shifts=acc.patches,
        patch_centers=patch_centers(shape, params) if params.pw_rigid else None,
        corr_before=acc.corr_before,
        corr_after=acc.corr_after,
        mean_before=mean_before,
        mean_after=mean_after,
        crispness_before=crispness(mean_before, border),
        crispness_after=crispness(mean_after, border),
        params=params,
    )


def result_dataset(result: MotionCorrectionResult, *, frame_rate_hz: float | None = None) -> xr.Dataset:
    """The shifts, template and QC as an xarray Dataset (the ``motion_shifts`` product).

    Parameters
    ----------
    result
        The run.
    frame_rate_hz
        When given, adds a ``time_s`` coordinate and the ``frame_rate_hz`` attribute.

    Returns
    -------
    xarray.Dataset
        Variables: rigid_shifts (frame, axis), patch_shifts (frame, patch_y, patch_x, axis) and
        patch_centers when piecewise, corr_before / corr_after (frame), template / mean_before /
        mean_after (y, x). Attributes: crispness, the sign convention and the parameters (JSON).
    """
    n = result.rigid_shifts.shape[0]
    coords: dict[str, Any] = {"frame": np.arange(n), "axis": ["y", "x"]}
    if frame_rate_hz:
        coords["time_s"] = ("frame", np.arange(n) / float(frame_rate_hz))
    data: dict[str, Any] = {
        "rigid_shifts": (("frame", "axis"), result.rigid_shifts),
        "corr_before": ("frame", result.corr_before),
        "corr_after": ("frame", result.corr_after),
        "template": (("y", "x"), result.template),
        "mean_before": (("y", "x"), result.mean_before),
        "mean_after": (("y", "x"), result.mean_after),
    }
    if result.patch_shifts is not None:
        data["patch_shifts"] = (("frame", "patch_y", "patch_x", "axis"), result.patch_shifts)
        data["patch_centers"] = (("patch_y", "patch_x", "axis"), result.patch_centers)
    params = {
        k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(result.params).items()
    }
    attrs = {
        "crispness_before": float(result.crispness_before),
        "crispness_after": float(result.crispness_after),
        "shift_convention": "correction applied, (dy, dx) px: corrected(y, x) = frame(y - dy, x - dx)",
        "parameters_json": json.dumps(params),
    }
    if frame_rate_hz:
        attrs["frame_rate_hz"] = float(frame_rate_hz)
    return xr.Dataset(data, coords=coords, attrs=attrs)
