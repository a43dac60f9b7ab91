"""CNMF-E seed images and greedy `corr_pnr` initialisation (Zhou et al. 2018, eLife 7:e28728), from the paper.

One-photon frames are dominated by a smooth, bright background, so seeds are found on *filtered* frames:
each frame is correlated with a Gaussian of width `gSig` cut to a `gSiz` box; with `center_psf` the kernel's
mean over the box is subtracted, so it sums to zero and a smooth background (any plane) filters to ~0 while a
neuron-sized blob stands out (template matching). On the filtered movie F (median over time removed):

* peak-to-noise ratio  PNR(x) = max_t F(x, t) / sn(x),  sn the pixel's noise (`deconvolution.noise_std`);
* local correlation    Cn(x)  = mean over the 8 neighbours y of corr_t(F'(x), F'(y)), where F' is F with
  values below 3 sn set to 0, so only transients (not noise, not slow background residue) correlate.

Greedy initialisation: among pixels with Cn >= min_corr and PNR >= min_pnr take the one with the largest
Cn * PNR. Its filtered trace is the first guess of the neuron's activity; the footprint is the per-pixel
regression of the (raw, temporally down-sampled) data in a box around the seed on that trace, with the
median trace of the box's border pixels as a local background regressor (plus a constant). Trace and
footprint are refined once, the footprint is cut to its connected part above 10 % of its peak, and the
neuron is removed from the raw and filtered data; PNR and Cn are recomputed around it and the search goes on
until no seed passes (or `K` neurons). Everything here works on one patch held in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ace_core.cnmfe.deconvolution import noise_std

__all__ = [
    "InitResult",
    "SeedImages",
    "downsample_space",
    "downsample_time",
    "filter_frames",
    "filter_kernel",
    "greedy_corr_pnr",
    "local_correlation",
    "seed_images",
]

_THRESHOLD_SD = 3.0  # filtered values below this many noise SDs are zeroed before the correlation image
_FOOTPRINT_CUT = 0.1  # footprint pixels below this fraction of the peak are dropped at initialisation


def _gauss1d(sigma: float, half: int) -> np.ndarray:
    k = np.arange(-half, half + 1, dtype=np.float64)
    return np.exp(-0.5 * (k / max(sigma, 1e-6)) ** 2)


def filter_kernel(gSig: tuple[float, float], gSiz: tuple[int, int], center_psf: bool = True) -> np.ndarray:
    """The 2-D seed filter: Gaussian(gSig) on a gSiz box, mean-subtracted if ``center_psf``, unit L2 norm.

    The unit norm makes white pixel noise of std s filter to noise of std s, so PNR is comparable across
    kernels.

    Parameters
    ----------
    gSig
        Gaussian width (px).
    gSiz
        Box size (px).
    center_psf
        Subtract the kernel's mean over the box.

    Returns
    -------
    numpy.ndarray
        float64, shape (2 (gSiz[0] // 2) + 1, 2 (gSiz[1] // 2) + 1).
    """
    gy = _gauss1d(gSig[0], gSiz[0] // 2)
    gx = _gauss1d(gSig[1], gSiz[1] // 2)
    k = np.outer(gy, gx)
    if center_psf:
        k = k - k.mean()
    return k / np.linalg.norm(k)


def filter_frames(
    frames: np.ndarray, gSig: tuple[float, float], gSiz: tuple[int, int], center_psf: bool = True
) -> np.ndarray:
    """Frames correlated with :func:`filter_kernel`, computed separably.

    The Gaussian is separable and its mean term is a box sum. Border mode 'reflect'.

    Parameters
    ----------
    frames
        (n, h, w).
    gSig, gSiz, center_psf
        As :func:`filter_kernel`.

    Returns
    -------
    numpy.ndarray
        float32 (n, h, w).
    """
    frames = np.asarray(frames, dtype=np.float32)
    hy, hx = gSiz[0] // 2, gSiz[1] // 2
    gy = _gauss1d(gSig[0], hy)
    gx = _gauss1d(gSig[1], hx)
    k = np.outer(gy, gx)
    mean = k.mean() if center_psf else 0.0
    norm = np.linalg.norm(k - mean)
    out = ndimage.correlate1d(frames, (gy / norm).astype(np.float32), axis=1, mode="reflect")
    out = ndimage.correlate1d(out, (gx).astype(np.float32), axis=2, mode="reflect")
    if center_psf:
        box = ndimage.correlate1d(
            frames, np.full(2 * hy + 1, mean / norm, np.float32), axis=1, mode="reflect"
        )
        box = ndimage.correlate1d(box, np.ones(2 * hx + 1, np.float32), axis=2, mode="reflect")
        out -= box
    return out


def downsample_time(frames: np.ndarray, tsub: int) -> np.ndarray:
    """Mean over consecutive blocks of ``tsub`` frames (a last partial block is averaged on its own).

    Parameters
    ----------
    frames
        (n, ...).
    tsub
        Block length; <= 1 returns the frames as float32.

    Returns
    -------
    numpy.ndarray
        float32 (ceil(n / tsub), ...).
    """
    if tsub <= 1:
        return np.asarray(frames, dtype=np.float32)
    n = frames.shape[0]
    full = (n // tsub) * tsub
    parts = []
    if full:
        parts.append(frames[:full].reshape(n // tsub, tsub, *frames.shape[1:]).mean(axis=1, dtype=np.float32))
    if full < n:
        parts.append(frames[full:].mean(axis=0, dtype=np.float32)[None])
    return np.concatenate(parts).astype(np.float32, copy=False)


def downsample_space(frames: np.ndarray, ssub: int) -> np.ndarray:
    """Mean over ssub x ssub pixel blocks of (n, h, w) frames (edge blocks may be partial).

    Parameters
    ----------
    frames
        (n, h, w).
    ssub
        Block size; <= 1 returns the frames as float32.

    Returns
    -------
    numpy.ndarray
        float32 (n, ceil(h / ssub), ceil(w / ssub)).
    """
    if ssub <= 1:
        return np.asarray(frames, dtype=np.float32)
    n, h, w = frames.shape
    hd, wd = -(-h // ssub), -(-w // ssub)
    pad = np.pad(frames.astype(np.float32), ((0, 0), (0, hd * ssub - h), (0, wd * ssub - w)))
    ones = np.pad(np.ones((h, w), np.float32), ((0, hd * ssub - h), (0, wd * ssub - w)))
    total = pad.reshape(n, hd, ssub, wd, ssub).sum(axis=(2, 4))
    count = ones.reshape(hd, ssub, wd, ssub).sum(axis=(1, 3))
    return total / count


def local_correlation(x: np.ndarray) -> np.ndarray:
    """Mean temporal correlation of each pixel of x (n, h, w) with its (up to 8) neighbours.

    Parameters
    ----------
    x
        (n, h, w).

    Returns
    -------
    numpy.ndarray
        float32 (h, w); constant pixels count as uncorrelated (0).
    """
    x = np.asarray(x, dtype=np.float32)
    n, h, w = x.shape
    z = x - x.mean(axis=0, dtype=np.float32)
    sd = np.sqrt(np.mean(z * z, axis=0, dtype=np.float32))
    z = np.divide(z, sd, out=np.zeros_like(z), where=sd > 0)
    total = np.zeros((h, w), np.float32)
    count = np.zeros((h, w), np.float32)
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        ys, yd = slice(0, h - dy), slice(dy, h)
        xs, xd = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
        prod = np.einsum("tij,tij->ij", z[:, ys, xs], z[:, yd, xd]) / n
        total[ys, xs] += prod
        total[yd, xd] += prod
        count[ys, xs] += 1
        count[yd, xd] += 1
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


@dataclass
class SeedImages:
    """Seed images of a (down-sampled) movie.

    Attributes
    ----------
    filtered
        (n, h, w) filtered movie F with its per-pixel median removed.
    sn
        (h, w) noise std of F (at least 1e-6).
    pnr
        (h, w) peak-to-noise ratio.
    corr
        (h, w) local correlation of the thresholded F.
    """

    filtered: np.ndarray
    sn: np.ndarray
    pnr: np.ndarray
    corr: np.ndarray


def _thresholded(filtered: np.ndarray, sn: np.ndarray) -> np.ndarray:
    return np.where(filtered >= _THRESHOLD_SD * sn, filtered, np.float32(0))


def seed_images(
    frames: np.ndarray, gSig: tuple[float, float], gSiz: tuple[int, int], center_psf: bool = True
) -> SeedImages:
    """Filtered movie, noise, PNR and correlation images of frames (n, h, w) (already down-sampled).

    Parameters
    ----------
    frames
        (n, h, w).
    gSig, gSiz, center_psf
        As :func:`filter_kernel`.

    Returns
    -------
    SeedImages
    """
    f = filter_frames(frames, gSig, gSiz, center_psf)
    f -= np.median(f, axis=0)
    sn = noise_std(f, axis=0).astype(np.float32)
    sn = np.maximum(sn, np.float32(1e-6))
    pnr = f.max(axis=0) / sn
    corr = local_correlation(_thresholded(f, sn))
    return SeedImages(filtered=f, sn=sn, pnr=pnr.astype(np.float32), corr=corr)


@dataclass
class InitResult:
    """Result of :func:`greedy_corr_pnr`, on the down-sampled grid and time.

    Attributes
    ----------
    A
        (h*w, K) footprints with unit L2 norm.
    C
        (K, n) traces (median ~0).
    seeds
        (row, col) of each seed.
    """

    A: np.ndarray
    C: np.ndarray
    seeds: list[tuple[int, int]]


def _disk(radius: float) -> np.ndarray:
    r = int(np.ceil(radius))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return (yy**2 + xx**2) <= radius**2 + 1e-9


def _fit_footprint(yb: np.ndarray, c: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Per-pixel least squares yb ~ a c + beta bg + const; returns coefficients (2, nb): a, beta.

    Normal equations of the two centred regressors (a LAPACK least-squares call per seed is slow and
    gains nothing with two regressors)."""
    design = np.stack([c - c.mean(), bg - bg.mean()], axis=1)
    gram = design.T @ design
    gram += np.eye(2) * (1e-9 * np.trace(gram) + 1e-12)
    rhs = design.T @ (yb - yb.mean(axis=0)).astype(np.float64)
    return np.linalg.solve(gram, rhs)


def greedy_corr_pnr(
    frames: np.ndarray,
    images: SeedImages,
    *,
    gSig: tuple[float, float],
    gSiz: tuple[int, int],
    min_corr: float,
    min_pnr: float,
    center_psf: bool = True,
    max_components: int | None = None,
    seed_mask: np.ndarray | None = None,
) -> InitResult:
    """Greedy seed-and-fit (see the module docstring) on frames and their :func:`seed_images`.

    Parameters
    ----------
    frames
        (n, h, w) raw, down-sampled frames.
    images
        Their seed images, updated in place (neurons are subtracted from the filtered movie).
    gSig, gSiz, center_psf
        As :func:`filter_kernel`.
    min_corr, min_pnr
        Seed thresholds.
    max_components
        Stop after this many neurons; None: no limit.
    seed_mask
        (h, w) bool, where seeds may be taken (e.g. away from an excluded border); None: everywhere.

    Returns
    -------
    InitResult
    """
    frames = np.asarray(frames, dtype=np.float32)
    n, h, w = frames.shape
    resid = frames.copy()
    kernel = filter_kernel(gSig, gSiz, center_psf)
    kh, kw = kernel.shape[0] // 2, kernel.shape[1] // 2
    half = (gSiz[0] // 2 + int(round(gSig[0])), gSiz[1] // 2 + int(round(gSig[1])))
    tried = np.zeros((h, w), bool) if seed_mask is None else ~seed_mask.astype(bool)
    min_pixels = max(3, int(np.pi * gSig[0] * gSig[1] / 4))
    blocked = _disk(max(1.0, 0.5 * min(gSig)))
    footprints: list[np.ndarray] = []
    traces: list[np.ndarray] = []
    seeds: list[tuple[int, int]] = []
    f, sn = images.filtered, images.sn
    while max_components is None or len(traces) < max_components:
        score = np.where(
            (images.corr >= min_corr) & (images.pnr >= min_pnr) & ~tried, images.corr * images.pnr, -np.inf
        )
        flat = int(np.argmax(score))
        if not np.isfinite(score.flat[flat]):
            break
        r, c = divmod(flat, w)
        tried[r, c] = True
        r0, r1 = max(0, r - half[0]), min(h, r + half[0] + 1)
        c0, c1 = max(0, c - half[1]), min(w, c + half[1] + 1)
        yb = resid[:, r0:r1, c0:c1].reshape(n, -1)
        bh, bw = r1 - r0, c1 - c0
        border = np.ones((bh, bw), bool)
        border[1:-1, 1:-1] = False
        bg = np.median(yb[:, border.ravel()], axis=1)
        trace = f[:, r, c].astype(np.float64)
        a = np.zeros(bh * bw)
        for _ in range(2):  # footprint from the filtered trace, then trace from the footprint, once more
            coef = _fit_footprint(yb, trace, bg)
            a = np.maximum(coef[0], 0)
            if not np.any(a > 0):
                break
            cleaned = yb - yb.mean(axis=0) - np.outer(bg - bg.mean(), coef[1])
            trace = cleaned @ a / (a @ a)
        a2 = a.reshape(bh, bw)
        if a2.max(initial=0) > 0:
            keep = a2 >= _FOOTPRINT_CUT * a2.max()
            labels, _ = ndimage.label(keep)
            lab = labels[r - r0, c - c0] or labels.flat[int(np.argmax(a2))]
            a2 = np.where(labels == lab, a2, 0.0)
        if np.count_nonzero(a2) < min_pixels:
            _block(tried, r, c, blocked)
            continue
        a2 /= np.linalg.norm(a2)
        coef = _fit_footprint(yb, trace, bg)
        cleaned = yb - yb.mean(axis=0) - np.outer(bg - bg.mean(), coef[1])
        trace = cleaned @ a2.ravel()
        trace = (trace - np.median(trace)).astype(np.float32)
        # remove the neuron from the raw and the filtered movie, refresh the seed images around it
        resid[:, r0:r1, c0:c1] -= trace[:, None, None] * a2.astype(np.float32)[None]
        R0, R1 = max(0, r0 - kh), min(h, r1 + kh)
        C0, C1 = max(0, c0 - kw), min(w, c1 + kw)
        a_full = np.zeros((R1 - R0, C1 - C0))
        a_full[r0 - R0 : r1 - R0, c0 - C0 : c1 - C0] = a2
        fa = ndimage.correlate(a_full, kernel, mode="constant").astype(np.float32)
        f[:, R0:R1, C0:C1] -= trace[:, None, None] * fa[None]
        images.pnr[R0:R1, C0:C1] = f[:, R0:R1, C0:C1].max(axis=0) / sn[R0:R1, C0:C1]
        P0, P1 = max(0, R0 - 1), min(h, R1 + 1)
        Q0, Q1 = max(0, C0 - 1), min(w, C1 + 1)
        sub = local_correlation(_thresholded(f[:, P0:P1, Q0:Q1], sn[P0:P1, Q0:Q1]))
        images.corr[R0:R1, C0:C1] = sub[R0 - P0 : R1 - P0, C0 - Q0 : C1 - Q0]
        full = np.zeros((h, w), np.float32)
        full[r0:r1, c0:c1] = a2
        footprints.append(full.ravel())
        traces.append(trace)
        seeds.append((r, c))
    A = np.stack(footprints, axis=1) if footprints else np.zeros((h * w, 0), np.float32)
    C = np.stack(traces) if traces else np.zeros((0, n), np.float32)
    return InitResult(A=A.astype(np.float32), C=C.astype(np.float32), seeds=seeds)


def _block(tried: np.ndarray, r: int, c: int, disk: np.ndarray) -> None:
    rad = disk.shape[0] // 2
    h, w = tried.shape
    r0, r1 = max(0, r - rad), min(h, r + rad + 1)
    c0, c1 = max(0, c - rad), min(w, c + rad + 1)
    tried[r0:r1, c0:c1] |= disk[r0 - r + rad : r1 - r + rad, c0 - c + rad : c1 - c + rad]
