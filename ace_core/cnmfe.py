"""CNMF-E source extraction of one-photon (Miniscope) movies (Zhou et al. 2018), in bounded memory.

Written from the papers (CNMF-E: Zhou et al. 2018 eLife; CNMF: Pnevmatikakis et al. 2016; OASIS: Friedrich et
al. 2017); no CaImAn code is used. Parameter names and lab defaults are CaImAn's (`CNMFParams`), so a lab's
`analysis_parameters.csv` CaImAn block can be passed to `CNMFEParams.from_parameters` unchanged.

Model: Y = A C + B + E, A >= 0 spatial footprints (pixels x K), C >= 0 calcium traces following AR(p)
dynamics driven by spikes S >= 0, B the one-photon background (ring model, `cnmfe_background`), E noise.

Per field (one patch, or the whole frame when rf is None), held in memory as (T, pixels) float32:
 1. `corr_pnr` initialisation on the temporally (`tsub`) and spatially (`ssub`) down-sampled movie
    (`cnmfe_init`);
 2. `max_iter` rounds of: ring background (W, b0) given A C -> temporal update (HALS + OASIS) -> spatial
    update (non-negative, support-constrained HALS) -> merging (`cnmfe_updates`);
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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from ace_core import parameters
from ace_core.cnmfe_background import RingModel, downsample_operator, fit_ring_model, upsample_operator
from ace_core.cnmfe_init import downsample_space, downsample_time, greedy_corr_pnr, seed_images
from ace_core.cnmfe_updates import (
    TemporalResult,
    clean_footprints,
    merge_components,
    quality,
    search_masks,
    update_spatial,
    update_temporal,
)
from ace_core.frames import ArraySource, FrameSource, ZarrMovieSource, chunk_bounds

__all__ = [
    "CNMFEEstimates",
    "CNMFEParams",
    "correlation_pnr_images",
    "fit_cnmfe",
    "patch_grid",
]


def _pair(value: Any, name: str, kind: type = int) -> tuple:
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, list | tuple | np.ndarray) or len(value) != 2:
        raise ValueError(f"{name} must be a number or a pair, got {value!r}")
    return tuple(kind(v) for v in value)


# ------------------------------------------------------------------------------------------- parameters

# Keys we consume (CNMFEParams fields) come from the dataclass. These CaImAn keys are accepted and have no
# effect at the value given here (CNMF-E defaults); any other value is reported as inapplicable.
_NEUTRAL = {
    "method_init": "corr_pnr",
    "normalize_init": False,
    "low_rank_background": None,
    "nb_patch": 0,
    "use_cnn": False,
}
# CaImAn keys that do not apply to this implementation whatever their value (reported as inapplicable).
_OTHER_CAIMAN = {
    "only_init",  # our patches always run the whole CNMF-E (see module docstring)
    "fnames",
    "dims",
    "fr",  # the frame rate comes from the movie's metadata (from_parameters' frame_rate_hz)
    "n_processes",
    "dview",
    "memory_fact",
    "n_pixels_per_process",
    "block_size_spat",
    "block_size_temp",
    "num_blocks_per_run_spat",
    "num_blocks_per_run_temp",
    "bas_nonneg",
    "noise_method",
    "noise_range",
    "lags",
    "fudge_factor",
    "nIter",
    "maxIter",
    "alpha_snmf",
    "min_cnn_thr",
    "cnn_lowest",
    "gnb",
    "rolling_sum",
    "rolling_length",
    "thr_method",
    "maxthr",
    "nrgthr",
    "expandCore",
    "extract_cc",
    "se",
    "ss",
    "dist",
    "check_nan",
    "optimize_g",
    "method_ls",
    "rval_lowest",
    "SNR_lowest",
    "use_ecc",
    "max_ecc",
    "in_memory",
    "remove_very_bad_comps",
    "skip_refinement",
    "Ain",
    "nb",
}


@dataclass(frozen=True)
class CNMFEParams:
    """CNMF-E parameters: CaImAn names and the lab's defaults (reference section 1.4).

    The lab defaults suit the lab's 608x608 Miniscope frames (gSig 7). For the synthetic movies of
    `synth_calcium` (neuron radius 5 px, Gaussian sigma ~2.5 px) use gSig=(3, 3), gSiz=(13, 13).

    CaImAn keys: gSig (Gaussian width of the seed filter, px), gSiz (neuron box / kernel size, odd px),
    min_corr / min_pnr (seed thresholds), center_psf (zero-mean seed kernel, one-photon), tsub / ssub
    (down-sampling during initialisation), ssub_B (down-sampling of the ring background), ring_size_factor
    (ring radius = ring_size_factor * gSiz / 2), nb (0 = ring model; the only one implemented), p (AR order
    0-2), decay_time (s; sets AR(1) coefficient exp(-1 / (decay_time fr)); for p = 2 it is the fallback when
    the autocovariance fit fails), fr (Hz), merge_thr, rf (patch half-size; None = whole frame), stride
    (patch overlap, px), del_duplicates, K (max components per patch; None = no limit), border_pix (seeds
    and footprints excluded this close to the frame edge), min_SNR / rval_thr (quality, `idx_good`),
    method_deconvolution ('oasis'), update_background_components, s_min (smallest spike in units of C).

    Ours: s_min_sd (smallest spike in noise SDs of each trace when s_min is None: the thresholded OASIS of
    Friedrich et al. 2017, which drops the many tiny spikes of the L1 solution), max_iter (alternating
    rounds), chunk_frames (frames per read), ring_fit_frames (block-averaged frames used to fit W).
    """

    gSig: tuple[int, int] = (7, 7)
    gSiz: tuple[int, int] = (29, 29)
    min_corr: float = 0.8
    min_pnr: float = 10.0
    center_psf: bool = True
    tsub: int = 2
    ssub: int = 1
    ssub_B: int = 2
    ring_size_factor: float = 1.4
    nb: int = 0
    p: int = 1
    decay_time: float | None = 0.4
    fr: float = 20.0
    merge_thr: float = 0.7
    rf: int | None = 40
    stride: int = 20
    del_duplicates: bool = True
    K: int | None = None
    border_pix: int = 0
    min_SNR: float = 2.5
    rval_thr: float = 0.85
    method_deconvolution: str = "oasis"
    update_background_components: bool = True
    s_min: float | None = None
    s_min_sd: float = 3.0
    max_iter: int = 2
    chunk_frames: int = 200
    ring_fit_frames: int = 1000

    def __post_init__(self) -> None:
        fix = object.__setattr__
        fix(self, "gSig", _pair(self.gSig, "gSig"))
        gsiz = _pair(self.gSiz, "gSiz")
        fix(self, "gSiz", tuple(v if v % 2 else v + 1 for v in gsiz))  # kernels need a centre pixel
        problems = []
        if min(self.gSig) < 1 or min(self.gSiz) < 3:
            problems.append("gSig must be >= 1 and gSiz >= 3")
        for name in ("tsub", "ssub", "ssub_B", "max_iter", "chunk_frames", "ring_fit_frames"):
            if int(getattr(self, name)) < 1:
                problems.append(f"{name} must be >= 1")
        if self.nb != 0:
            problems.append(f"nb must be 0 (ring-model background, CNMF-E); got {self.nb}")
        if self.p not in (0, 1, 2):
            problems.append(f"p must be 0, 1 or 2, got {self.p}")
        if self.method_deconvolution != "oasis":
            problems.append(f"method_deconvolution must be 'oasis', got {self.method_deconvolution!r}")
        if not self.fr > 0:
            problems.append("fr must be > 0")
        if self.rf is not None and (self.rf < 1 or not 0 <= self.stride < 2 * self.rf + 1):
            problems.append("need rf >= 1 and 0 <= stride < 2 rf + 1")
        if self.K is not None and self.K < 1:
            problems.append("K must be None or >= 1")
        if self.border_pix < 0 or self.ring_size_factor <= 0:
            problems.append("border_pix must be >= 0 and ring_size_factor > 0")
        if problems:
            raise ValueError("CNMFEParams: " + "; ".join(problems))

    @property
    def ring_radius_px(self) -> float:
        """Ring radius in full-resolution pixels: ring_size_factor * gSiz / 2."""
        return self.ring_size_factor * self.gSiz[0] / 2

    @classmethod
    def from_parameters(
        cls, values: Mapping[str, Any], *, frame_rate_hz: float
    ) -> tuple[CNMFEParams, dict[str, list[str]]]:
        """Build from a CaImAn-named mapping; returns (params, {"unknown": [...], "inapplicable": [...]}).

        `fr` is always the movie's `frame_rate_hz` (a different `fr` in `values` is listed as inapplicable).
        'inapplicable': CaImAn keys with no effect here (motion-correction keys, `only_init`, CNN, or a
        non-default `normalize_init`, `low_rank_background`, `nb_patch`, `use_cnn`, `method_init`,
        `method_deconvolution`); 'unknown': keys that are neither. None values mean "default"."""
        names = {f.name for f in dataclasses.fields(cls)} - {"fr"}
        kwargs: dict[str, Any] = {"fr": float(frame_rate_hz)}
        unknown: list[str] = []
        inapplicable: list[str] = []
        for key, value in values.items():
            if key == "fr":
                if value is not None and float(value) != float(frame_rate_hz):
                    inapplicable.append(key)
            elif key in _NEUTRAL:
                if value != _NEUTRAL[key] and not (value is None and key != "low_rank_background"):
                    inapplicable.append(key)
            elif key == "method_deconvolution" and value not in (None, "oasis"):
                inapplicable.append(key)  # only OASIS is implemented; it is used instead
            elif key == "nb" and value not in (None, 0):
                inapplicable.append(key)  # only the ring model (nb = 0) is implemented
            elif key in names:
                if value is not None or key in {"rf", "K", "decay_time", "s_min"}:
                    kwargs[key] = tuple(value) if isinstance(value, list) else value
            elif key in parameters.CAIMAN_PARAMETERS or key in _OTHER_CAIMAN:
                inapplicable.append(key)
            else:
                unknown.append(key)
        return cls(**kwargs), {"unknown": sorted(unknown), "inapplicable": sorted(inapplicable)}


@dataclass(frozen=True, eq=False)
class CNMFEEstimates:
    """Result of `fit_cnmfe` (see the module docstring for conventions).

    A (H*W, K) CSC, pixel order C (row-major); C, S, YrA (K, T) float32; noise (K,) std of each raw trace;
    g (K, p) AR coefficients; bl (K,) baseline of each raw trace; b0 (H, W) constant background image;
    background: ring-model summary (radius, ssub_B, number of weights, per patch); snr, r_values (K,) and
    idx_good (snr >= min_SNR and r_value >= rval_thr); corr_image, pnr_image (H, W) seed images (on the
    tsub-averaged movie); patches: (row0, row1, col0, col1) of each patch; patch_of: (K,) patch index of
    each unit; parameter_report: {"unknown": [...], "inapplicable": [...]} from `from_parameters`.
    """

    A: sparse.csc_matrix
    C: np.ndarray
    S: np.ndarray
    YrA: np.ndarray
    noise: np.ndarray
    g: np.ndarray
    bl: np.ndarray
    b0: np.ndarray
    background: dict[str, Any]
    snr: np.ndarray
    r_values: np.ndarray
    idx_good: np.ndarray
    dims: tuple[int, int]
    params: CNMFEParams
    corr_image: np.ndarray
    pnr_image: np.ndarray
    patches: list[tuple[int, int, int, int]] = field(default_factory=list)
    patch_of: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    parameter_report: dict[str, list[str]] = field(default_factory=dict)

    @property
    def n_components(self) -> int:
        return int(self.A.shape[1])

    def footprint(self, k: int) -> np.ndarray:
        """(H, W) footprint of unit k."""
        return np.asarray(self.A[:, k].todense()).reshape(self.dims)


# ------------------------------------------------------------------------------------------------ patches


def _starts_1d(n: int, rf: int | None, stride: int) -> list[tuple[int, int]]:
    if rf is None:
        return [(0, n)]
    size = 2 * rf + 1
    if n <= size:
        return [(0, n)]
    step = size - stride
    starts = list(range(0, n - size, step)) + [n - size]
    return [(s, s + size) for s in sorted(set(starts))]


def _owned_1d(spans: list[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    """Split each overlap at its middle: every index is owned by exactly one span."""
    bounds = [0]
    for (_, e0), (s1, _) in zip(spans[:-1], spans[1:], strict=True):
        bounds.append((s1 + e0 + 1) // 2)
    bounds.append(n)
    return [(bounds[i], bounds[i + 1]) for i in range(len(spans))]


def patch_grid(
    dims: tuple[int, int], rf: int | None, stride: int
) -> list[tuple[tuple[int, int, int, int], tuple[int, int, int, int]]]:
    """[(patch (r0, r1, c0, c1), owned (r0, r1, c0, c1))]: patches of 2 rf + 1 px overlapping by `stride`
    px, the last one flush with the frame edge; owned regions tile the frame exactly."""
    rows = _starts_1d(dims[0], rf, stride)
    cols = _starts_1d(dims[1], rf, stride)
    own_r = _owned_1d(rows, dims[0])
    own_c = _owned_1d(cols, dims[1])
    return [
        ((r0, r1, c0, c1), (o0, o1, p0, p1))
        for (r0, r1), (o0, o1) in zip(rows, own_r, strict=True)
        for (c0, c1), (p0, p1) in zip(cols, own_c, strict=True)
    ]


def _region_reader(source: FrameSource, rows: tuple[int, int], cols: tuple[int, int]):
    """Read [start, stop) of a region; zarr stores and in-memory arrays are sliced directly (a zarr store
    chunked in space then decompresses only the chunks a patch touches), other sources read whole frames."""
    r, c = slice(*rows), slice(*cols)
    if isinstance(source, ArraySource):
        return lambda s, e: source.movie[s:e, r, c]
    if isinstance(source, ZarrMovieSource):
        import zarr

        arr = zarr.open_group(str(source.path), mode="r")[source.variable]
        return lambda s, e: arr[s:e, r, c]
    return lambda s, e: source.read(s, e)[:, r, c]


def _read_region(
    source: FrameSource, rows: tuple[int, int], cols: tuple[int, int], chunk_frames: int
) -> np.ndarray:
    n = source.n_frames
    read = _region_reader(source, rows, cols)
    out = np.empty((n, rows[1] - rows[0], cols[1] - cols[0]), np.float32)
    for s, e in chunk_bounds(n, chunk_frames):
        out[s:e] = read(s, e)
    return out


# ------------------------------------------------------------------------------------------ one field


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


# ------------------------------------------------------------------------------------------ patch jobs


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
    movie = _read_region(source, (r0, r1), (c0, c1), params.chunk_frames)
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


def _centroids(A: sparse.csc_matrix, dims: tuple[int, int]) -> np.ndarray:
    rows, cols = np.divmod(np.arange(dims[0] * dims[1]), dims[1])
    mass = np.asarray(A.sum(axis=0)).ravel()
    mass = np.where(mass > 0, mass, 1.0)
    return np.stack([(A.T @ rows) / mass, (A.T @ cols) / mass], axis=1)


def _to_global(
    a: sparse.csc_matrix, bounds: tuple[int, int, int, int], dims: tuple[int, int]
) -> sparse.csc_matrix:
    r0, r1, c0, c1 = bounds
    coo = a.tocoo()
    pr, pc = np.divmod(coo.row, c1 - c0)
    rows = (pr + r0) * dims[1] + (pc + c0)
    return sparse.csc_matrix((coo.data, (rows, coo.col)), shape=(dims[0] * dims[1], a.shape[1]))


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


def _drop_duplicates(
    A: sparse.csc_matrix, C: np.ndarray, snr: np.ndarray, patch_of: np.ndarray, merge_thr: float
) -> np.ndarray:
    """Keep-mask removing cross-patch duplicates: overlapping footprints whose traces correlate above
    merge_thr (CaImAn's merge criterion); the unit with the higher snr is kept, most overlapping first."""
    K = A.shape[1]
    keep = np.ones(K, bool)
    if K < 2:
        return keep
    gram = (A.T @ A).tocoo()
    pairs = [(i, j, v) for i, j, v in zip(gram.row, gram.col, gram.data, strict=True) if i < j]
    order = sorted(pairs, key=lambda t: -t[2])
    for i, j, cos in order:
        if cos <= 0 or patch_of[i] == patch_of[j] or not (keep[i] and keep[j]):
            continue
        ci, cj = C[i].astype(np.float64), C[j].astype(np.float64)
        if ci.std() == 0 or cj.std() == 0 or np.corrcoef(ci, cj)[0, 1] <= merge_thr:
            continue
        keep[j if snr[i] >= snr[j] else i] = False
    return keep


def fit_cnmfe(
    source: FrameSource,
    params: CNMFEParams,
    *,
    executor: cf.Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
    parameter_report: Mapping[str, list[str]] | None = None,
) -> CNMFEEstimates:
    """Run CNMF-E on a motion-corrected movie (any FrameSource; frames are converted to float32).

    With `rf` set, patches are fitted independently (on `executor` if given, each worker reading its own
    frames; else in this process) and stitched (module docstring); `progress(done, total)` counts patches.
    `parameter_report` (from `CNMFEParams.from_parameters`) is stored with the estimates."""
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
        a = _to_global(res.A, bounds, dims)
        keep = np.ones(a.shape[1], bool)
        if params.del_duplicates and len(grid) > 1:
            cen = _centroids(a, dims)
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
        keep = _drop_duplicates(A, tr.C, snr_a, patch_a, params.merge_thr)
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


# ------------------------------------------------------------------------------------------ seed images


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
    """(corr, pnr) images (H, W) of a movie, computed tile by tile (each tile with a margin of the kernel
    half-width + 1, so results equal the whole-frame computation) to bound memory by one tile's frames.

    gSiz defaults to 4 gSig + 1. Used to choose min_corr / min_pnr (CaImAn's `correlation_pnr`)."""
    gsig = _pair(gSig, "gSig", float)
    gsiz = _pair(gSiz if gSiz is not None else (4 * int(gsig[0]) + 1, 4 * int(gsig[1]) + 1), "gSiz")
    gsiz = tuple(v if v % 2 else v + 1 for v in gsiz)
    h, w = int(source.height), int(source.width)
    my, mx = gsiz[0] // 2 + 1, gsiz[1] // 2 + 1
    corr = np.zeros((h, w), np.float32)
    pnr = np.zeros((h, w), np.float32)
    for r0 in range(0, h, tile_px):
        for c0 in range(0, w, tile_px):
            r1, c1 = min(h, r0 + tile_px), min(w, c0 + tile_px)
            R0, R1, C0, C1 = max(0, r0 - my), min(h, r1 + my), max(0, c0 - mx), min(w, c1 + mx)
            block = downsample_time(_read_region(source, (R0, R1), (C0, C1), chunk_frames), tsub)
            im = seed_images(block, gsig, gsiz, center_psf)
            corr[r0:r1, c0:c1] = im.corr[r0 - R0 : r1 - R0, c0 - C0 : c1 - C0]
            pnr[r0:r1, c0:c1] = im.pnr[r0 - R0 : r1 - R0, c0 - C0 : c1 - C0]
    return corr, pnr
