"""CNMF-E source extraction of one-photon (Miniscope) movies (Zhou et al. 2018), in bounded memory.

Written from the papers (CNMF-E: Zhou et al. 2018 eLife; CNMF: Pnevmatikakis et al. 2016; OASIS: Friedrich et
al. 2017); no CaImAn code is used. Parameter names and lab defaults are CaImAn's (`CNMFParams`), so a lab's
`analysis_parameters.csv` CaImAn block can be passed to `CNMFEParams.from_parameters` unchanged.

Model: Y = A C + B + E, A >= 0 spatial footprints (pixels x K), C >= 0 calcium traces following AR(p)
dynamics driven by spikes S >= 0, B the one-photon background (ring model,
:mod:`~ace_core.cnmfe.background`), E noise.

Per field (one patch, or the whole frame when rf is None), held in memory as (T, pixels) float32:
 1. `corr_pnr` initialisation on the temporally (`tsub`) and spatially (`ssub`) down-sampled movie
    (:mod:`~ace_core.cnmfe.initialization`);
 2. `max_iter` rounds of: ring background (W, b0) given A C -> temporal update (HALS + OASIS) -> spatial
    update (non-negative, support-constrained HALS) -> merging (:mod:`~ace_core.cnmfe.updates`);
 3. a last background and temporal update, then the quality metrics snr and r_value.

Patches (`rf` not None): the frame is tiled with patches of (2 rf + 1) px overlapping by `stride` px (CaImAn's
meaning of `stride`). Each patch is an independent CNMF-E problem that a worker reads from the
`FrameSource` itself (`executor.submit`; sources are picklable), so memory is bounded by one patch's
(T, patch pixels) data per worker plus (H, W)-sized images, whatever the field of view. Unlike CaImAn
(`only_init`: patches only initialise, then one whole-frame CNMF-E pass over a memory map), the whole
algorithm runs per patch, which is what keeps memory bounded without a memory-mapped copy of the movie.
Stitching: every pixel is *owned* by one patch (overlaps are split at their middle); with `del_duplicates` a
component is kept only by the patch that owns its centroid. Remaining cross-patch pairs with overlapping
footprints and trace correlation above `merge_thr` (the merge criterion) are one neuron seen twice (or cut
by a patch edge): the one with the higher snr is kept. `corr_image`, `pnr_image` and `b0` are assembled
from the owned regions.

Conventions: `A` is a scipy CSC matrix (H*W, K) whose rows are pixels in C (row-major) order,
pixel = row * W + col (CaImAn stores F order: transpose the image index to compare); columns have unit L2
norm, so C is in data units x sqrt(pixels). C, S, YrA are (K, T) float32; the raw trace of unit k is
C[k] + YrA[k] + bl[k].
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ace_core.cnmfe.background import RingModel, downsample_operator, fit_ring_model, upsample_operator
from ace_core.cnmfe.initialization import downsample_space, downsample_time, greedy_corr_pnr, seed_images
from ace_core.cnmfe.params import CNMFEEstimates, CNMFEParams, int_pair
from ace_core.cnmfe.patches import centroids, drop_duplicates, patch_grid, read_region, to_global
from ace_core.cnmfe.updates import (
    TemporalResult,
    clean_footprints,
    merge_components,
    quality,
    search_masks,
    update_spatial,
    update_temporal,
)
from ace_core.io.frames import FrameSource, chunk_bounds

__all__ = ["correlation_pnr_images", "fit_cnmfe"]


@dataclass
class _FieldResult:
    """CNMF-E of one field (patch coordinates): dense A (P, K) and everything per unit."""

    A: np.ndarray
    temporal: TemporalResult
    snr: np.ndarray
    r_values: np.ndarray
    corr: np.ndarray
    pnr: np.ndarray
    b0: np.ndarray
    ring_weights: int


def _background(
    y_ds: np.ndarray,
    mean_y: np.ndarray,
    A: np.ndarray,
    C: np.ndarray,
    D: sparse.csr_matrix,
    dims: tuple[int, int],
    params: CNMFEParams,
    ring: RingModel | None,
) -> tuple[RingModel, np.ndarray]:
    """(ring model, down-sampled mean-free residual D(Y - AC - b0)); refits W, b0 unless `ring` is given."""
    b0 = mean_y - A @ C.mean(axis=1) if ring is None else ring.b0
    da = np.asarray(D @ A)
    resid = y_ds - (C.T @ da.T).astype(np.float32) - np.asarray(D @ b0, np.float32)[None]
    if ring is None:
        ring = fit_ring_model(
            resid,
            dims,
            radius_px=params.ring_radius_px,
            ssub_B=params.ssub_B,
            b0=b0,
            max_fit_frames=params.ring_fit_frames,
        )
    return ring, resid


def _subtract_background(y: np.ndarray, ring: RingModel, resid: np.ndarray, chunk: int) -> np.ndarray:
    up = upsample_operator(ring.dims, ring.ssub_B)
    out = np.empty_like(y)
    for s, e in chunk_bounds(y.shape[0], chunk):
        pred = ring.W @ resid[s:e].T  # (Pd, n)
        out[s:e] = y[s:e] - ring.b0[None] - np.asarray(up @ pred).T
    return out


def _upsample_init(
    a_ds: np.ndarray, dims_ds: tuple[int, int], dims: tuple[int, int], ssub: int
) -> np.ndarray:
    if ssub <= 1:
        return a_ds
    out = np.zeros((dims[0] * dims[1], a_ds.shape[1]), np.float32)
    for k in range(a_ds.shape[1]):
        img = np.kron(a_ds[:, k].reshape(dims_ds), np.ones((ssub, ssub), np.float32))[: dims[0], : dims[1]]
        out[:, k] = img.ravel() / max(np.linalg.norm(img), 1e-12)
    return out


def _fit_field(movie: np.ndarray, params: CNMFEParams, allowed: np.ndarray) -> _FieldResult:
    """CNMF-E on one field held in memory, movie (T, h, w) float32; `allowed` (h, w) where seeds and
    footprints may be (False on an excluded border)."""
    n_t, h, w = movie.shape
    dims = (h, w)
    y = movie.reshape(n_t, h * w)
    # 1. initialisation on the down-sampled movie
    small = downsample_space(downsample_time(movie, params.tsub), params.ssub)
    s = params.ssub
    gsig = (params.gSig[0] / s, params.gSig[1] / s)
    gsiz = tuple(max(3, (v // s) | 1) for v in params.gSiz)
    images = seed_images(small, gsig, gsiz, params.center_psf)
    corr, pnr = images.corr.copy(), images.pnr.copy()
    seed_mask = allowed if s == 1 else downsample_space(allowed[None].astype(np.float32), s)[0] > 0.999
    init = greedy_corr_pnr(
        small,
        images,
        gSig=gsig,
        gSiz=gsiz,
        min_corr=params.min_corr,
        min_pnr=params.min_pnr,
        center_psf=params.center_psf,
        max_components=params.K,
        seed_mask=seed_mask,
    )
    del images, small
    if s > 1:
        corr = np.kron(corr, np.ones((s, s), np.float32))[:h, :w]
        pnr = np.kron(pnr, np.ones((s, s), np.float32))[:h, :w]
    A = _upsample_init(init.A, (-(-h // s), -(-w // s)), dims, s) * allowed.ravel()[:, None]
    C = np.repeat(init.C, params.tsub, axis=1)[:, :n_t]
    if C.shape[1] < n_t:
        C = np.pad(C, ((0, 0), (0, n_t - C.shape[1])), mode="edge")
    # 2. alternating updates
    D = downsample_operator(dims, params.ssub_B)
    y_ds = np.asarray((D @ y.T).T, np.float32)
    mean_y = y.mean(axis=0, dtype=np.float64).astype(np.float32)
    radius = float(np.mean(params.gSig))
    extent = (params.gSiz[0] / 2 + params.gSig[0], params.gSiz[1] / 2 + params.gSig[1])
    temporal_kw = dict(
        p=params.p,
        decay_time_s=params.decay_time,
        frame_rate_hz=params.fr,
        s_min=params.s_min,
        s_min_sd=params.s_min_sd,
    )
    ring: RingModel | None = None
    for _ in range(params.max_iter):
        if A.shape[1] == 0:
            break
        ring, resid = _background(
            y_ds, mean_y, A, C, D, dims, params, None if params.update_background_components else ring
        )
        ynb = _subtract_background(y, ring, resid, params.chunk_frames)
        tr = update_temporal((ynb @ A).T, A.T @ A, C, **temporal_kw)
        C = tr.C
        masks = search_masks(A, dims, radius, allowed, extent)
        A = update_spatial(ynb.T @ C.T, C @ C.T, A, masks)
        del ynb
        A, C = clean_footprints(A, C, dims)
        alive = (A.max(axis=0) > 0) & (C.max(axis=1) > 0)
        A, C = A[:, alive], C[alive]
        A, C, _ = merge_components(A, C, params.merge_thr)
    # 3. final background and traces, quality
    ring, resid = _background(
        y_ds,
        mean_y,
        A,
        C,
        D,
        dims,
        params,
        None if (params.update_background_components or ring is None) else ring,
    )
    ynb = _subtract_background(y, ring, resid, params.chunk_frames)
    if A.shape[1]:
        tr = update_temporal((ynb @ A).T, A.T @ A, C, **temporal_kw)
        alive = tr.C.max(axis=1) > 0
        A = A[:, alive]
        tr = TemporalResult(*(getattr(tr, f.name)[alive] for f in dataclasses.fields(TemporalResult)))
    else:
        tr = TemporalResult(
            *(np.zeros((0, n_t), np.float32),) * 3, np.zeros(0), np.zeros(0), np.zeros((0, params.p))
        )
    snr, rval = quality(
        ynb, A, tr.C, tr.C + tr.YrA + tr.bl[:, None], dims, margin=int(math.ceil(np.mean(params.gSig)))
    )
    return _FieldResult(
        A=A,
        temporal=tr,
        snr=snr,
        r_values=rval,
        corr=corr,
        pnr=pnr,
        b0=ring.b0.reshape(dims),
        ring_weights=int(ring.W.nnz),
    )


@dataclass
class _PatchResult:
    index: int
    bounds: tuple[int, int, int, int]
    A: sparse.csc_matrix  # (patch pixels, K)
    temporal: TemporalResult
    snr: np.ndarray
    r_values: np.ndarray
    corr: np.ndarray
    pnr: np.ndarray
    b0: np.ndarray
    ring_weights: int


def _fit_patch(
    source: FrameSource, index: int, bounds: tuple[int, int, int, int], params: CNMFEParams
) -> _PatchResult:
    """Worker: read the patch's frames from the source, run CNMF-E on it (top level, picklable)."""
    r0, r1, c0, c1 = bounds
    movie = read_region(source, (r0, r1), (c0, c1), params.chunk_frames)
    allowed = np.ones((r1 - r0, c1 - c0), bool)
    if params.border_pix:
        rows = np.arange(r0, r1)[:, None]
        cols = np.arange(c0, c1)[None]
        b = params.border_pix
        allowed = (rows >= b) & (rows < source.height - b) & (cols >= b) & (cols < source.width - b)
    res = _fit_field(movie, params, allowed)
    return _PatchResult(
        index=index,
        bounds=bounds,
        A=sparse.csc_matrix(res.A),
        temporal=res.temporal,
        snr=res.snr,
        r_values=res.r_values,
        corr=res.corr,
        pnr=res.pnr,
        b0=res.b0,
        ring_weights=res.ring_weights,
    )


def _run_patches(
    source: FrameSource,
    grid: list[tuple[tuple[int, int, int, int], tuple[int, int, int, int]]],
    params: CNMFEParams,
    executor: cf.Executor | None,
    progress: Callable[[int, int], None] | None,
) -> list[_PatchResult]:
    total = len(grid)
    results: list[_PatchResult] = []
    if executor is None:
        for i, (bounds, _) in enumerate(grid):
            results.append(_fit_patch(source, i, bounds, params))
            if progress is not None:
                progress(i + 1, total)
        return results
    futures = [executor.submit(_fit_patch, source, i, bounds, params) for i, (bounds, _) in enumerate(grid)]
    try:
        for done, fut in enumerate(cf.as_completed(futures), start=1):
            results.append(fut.result())
            if progress is not None:
                progress(done, total)
    finally:
        for fut in futures:
            fut.cancel()
    return sorted(results, key=lambda r: r.index)


def fit_cnmfe(
    source: FrameSource,
    params: CNMFEParams,
    *,
    executor: cf.Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
    parameter_report: Mapping[str, list[str]] | None = None,
) -> CNMFEEstimates:
    """Run CNMF-E on a motion-corrected movie (any FrameSource; frames are converted to float32).

    With ``rf`` set, patches are fitted independently and stitched (see the module docstring).

    Parameters
    ----------
    source
        The movie.
    params
        CNMF-E parameters.
    executor
        Runs the patches, each worker reading its own frames; None: in this process.
    progress
        ``progress(done, total)``, counting patches.
    parameter_report
        From :meth:`CNMFEParams.from_parameters`, stored with the estimates.

    Returns
    -------
    CNMFEEstimates
    """
    dims = (int(source.height), int(source.width))
    n_t = int(source.n_frames)
    grid = patch_grid(dims, params.rf, params.stride)
    results = _run_patches(source, grid, params, executor, progress)
    corr = np.zeros(dims, np.float32)
    pnr = np.zeros(dims, np.float32)
    b0 = np.zeros(dims, np.float32)
    blocks_a, blocks_t, snr, rval, patch_of = [], [], [], [], []
    for res, (bounds, owned) in zip(results, grid, strict=True):
        r0, r1, c0, c1 = bounds
        o0, o1, p0, p1 = owned
        sl = (slice(o0 - r0, o1 - r0), slice(p0 - c0, p1 - c0))
        corr[o0:o1, p0:p1] = res.corr[sl]
        pnr[o0:o1, p0:p1] = res.pnr[sl]
        b0[o0:o1, p0:p1] = res.b0[sl]
        if res.A.shape[1] == 0:
            continue
        a = to_global(res.A, bounds, dims)
        keep = np.ones(a.shape[1], bool)
        if params.del_duplicates and len(grid) > 1:
            cen = centroids(a, dims)
            keep = (cen[:, 0] >= o0) & (cen[:, 0] < o1) & (cen[:, 1] >= p0) & (cen[:, 1] < p1)
        blocks_a.append(a[:, keep])
        t = res.temporal
        blocks_t.append(TemporalResult(t.C[keep], t.S[keep], t.YrA[keep], t.bl[keep], t.sn[keep], t.g[keep]))
        snr.append(res.snr[keep])
        rval.append(res.r_values[keep])
        patch_of.append(np.full(int(keep.sum()), res.index))
    if blocks_a:
        A = sparse.hstack(blocks_a, format="csc")
        tr = TemporalResult(
            *(
                np.concatenate([getattr(b, f.name) for b in blocks_t])
                for f in dataclasses.fields(TemporalResult)
            )
        )
        snr_a, rval_a, patch_a = np.concatenate(snr), np.concatenate(rval), np.concatenate(patch_of)
    else:
        A = sparse.csc_matrix((dims[0] * dims[1], 0), dtype=np.float32)
        zero = np.zeros((0, n_t), np.float32)
        tr = TemporalResult(zero, zero, zero, np.zeros(0), np.zeros(0), np.zeros((0, params.p)))
        snr_a = rval_a = np.zeros(0)
        patch_a = np.zeros(0, np.int64)
    if len(grid) > 1 and A.shape[1] > 1:
        keep = drop_duplicates(A, tr.C, snr_a, patch_a, params.merge_thr)
        A = A[:, keep]
        tr = TemporalResult(*(getattr(tr, f.name)[keep] for f in dataclasses.fields(TemporalResult)))
        snr_a, rval_a, patch_a = snr_a[keep], rval_a[keep], patch_a[keep]
    idx_good = (snr_a >= params.min_SNR) & (rval_a >= params.rval_thr)
    background = {
        "model": "ring",
        "ring_radius_px": params.ring_radius_px,
        "ssub_B": params.ssub_B,
        "n_patches": len(grid),
        "ring_weights_per_patch": [int(r.ring_weights) for r in results],
    }
    return CNMFEEstimates(
        A=A.astype(np.float32).tocsc(),
        C=tr.C.astype(np.float32),
        S=tr.S.astype(np.float32),
        YrA=tr.YrA.astype(np.float32),
        noise=tr.sn,
        g=tr.g,
        bl=tr.bl,
        b0=b0,
        background=background,
        snr=snr_a,
        r_values=rval_a,
        idx_good=idx_good,
        dims=dims,
        params=params,
        corr_image=corr,
        pnr_image=pnr,
        patches=[g[0] for g in grid],
        patch_of=patch_a,
        parameter_report=dict(parameter_report or {"unknown": [], "inapplicable": []}),
    )


def correlation_pnr_images(
    source: FrameSource,
    gSig: int | tuple[int, int],
    *,
    gSiz: int | tuple[int, int] | None = None,
    center_psf: bool = True,
    chunk_frames: int = 200,
    tsub: int = 1,
    tile_px: int = 128,
) -> tuple[np.ndarray, np.ndarray]:
    """(corr, pnr) seed images (H, W) of a movie, computed tile by tile to bound memory by one tile's frames.

    Each tile gets a margin of the kernel half-width + 1, so results equal the whole-frame computation. Used
    to choose min_corr / min_pnr (CaImAn's ``correlation_pnr``).

    Parameters
    ----------
    source
        The movie.
    gSig
        Gaussian width of the seed filter (px), one value or a pair.
    gSiz
        Kernel size (px, made odd); default 4 gSig + 1.
    center_psf
        Zero-mean seed kernel.
    chunk_frames
        Frames read at a time.
    tsub
        Temporal down-sampling before filtering.
    tile_px
        Tile size (px).

    Returns
    -------
    corr, pnr : numpy.ndarray
        float32 (H, W) local-correlation and peak-to-noise images.
    """
    gsig = int_pair(gSig, "gSig", float)
    gsiz = int_pair(gSiz if gSiz is not None else (4 * int(gsig[0]) + 1, 4 * int(gsig[1]) + 1), "gSiz")
    gsiz = tuple(v if v % 2 else v + 1 for v in gsiz)
    h, w = int(source.height), int(source.width)
    my, mx = gsiz[0] // 2 + 1, gsiz[1] // 2 + 1
    corr = np.zeros((h, w), np.float32)
    pnr = np.zeros((h, w), np.float32)
    for r0 in range(0, h, tile_px):
        for c0 in range(0, w, tile_px):
            r1, c1 = min(h, r0 + tile_px), min(w, c0 + tile_px)
            R0, R1, C0, C1 = max(0, r0 - my), min(h, r1 + my), max(0, c0 - mx), min(w, c1 + mx)
            block = downsample_time(read_region(source, (R0, R1), (C0, C1), chunk_frames), tsub)
            im = seed_images(block, gsig, gsiz, center_psf)
            corr[r0:r1, c0:c1] = im.corr[r0 - R0 : r1 - R0, c0 - C0 : c1 - C0]
            pnr[r0:r1, c0:c1] = im.pnr[r0 - R0 : r1 - R0, c0 - C0 : c1 - C0]
    return corr, pnr
