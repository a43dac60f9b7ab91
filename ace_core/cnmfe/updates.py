"""CNMF-E alternating updates on one field held in memory: temporal, spatial, merging, quality metrics.

Both updates are block-coordinate descent on ||Ynb - A C||^2 with Ynb = Y - B the background-subtracted
data (hierarchical alternating least squares, as CNMF-E does; Zhou et al. 2018, Pnevmatikakis et al. 2016):

* temporal: with U = A^T Ynb and V = A^T A, the raw trace of neuron k is y_k = c_k + (U_k - V_k C) / V_kk
  (its own projection after removing the others); c_k is the OASIS deconvolution of y_k under an AR(p)
  model (`deconvolution.deconvolve`), so C is non-negative and driven by sparse spikes S.
* spatial: with Q = Ynb^T C^T and M = C C^T, a_k = max(0, a_k + (Q_k - A M_k) / M_kk) restricted to a
  search region (the current support dilated by a disk of radius gSig, within gSiz/2 + gSig of the
  footprint's centroid, inside the field and outside any excluded border): non-negative and
  support-constrained, so a footprint can grow into its own neuron but neither jump to a distant one nor
  spread over the diffuse background. Footprints are then cut to their connected part around the peak
  and scaled to unit L2 norm (C takes the scale, so C is in data units x sqrt(pixels)).

Merging: two components whose supports overlap and whose traces correlate above `merge_thr` are replaced by
the rank-1 non-negative approximation of a_i c_i + a_j c_j (groups by connected components of that graph).

Quality (per component, reported; `idx_good` = snr >= min_SNR and r_value >= rval_thr):
* snr: event exceptionality of the raw trace y = C + YrA + bl (the idea of Giovannucci et al. 2019, written
  from the paper): with m the trace's mode (half-sample mode) and sd the RMS of the samples below it (the
  noise seen from below, where transients do not reach; slow drifts widen it), z = (y - m) / sd; over every
  window of N = 5 frames, the geometric mean of the Gaussian tail probabilities Q(z) is turned back into a
  z-value; snr is the largest. Pure noise gives ~2, a real transient tens; slow background residue (a
  "ghost") gives a low value because its drift also lies below the mode.
* r_value: spatial consistency (Pnevmatikakis et al. 2016 / Giovannucci et al. 2019): Pearson correlation
  between the footprint and the mean of (the data minus the other components) over the frames where the
  component is most active (c > 30 % of its peak), on the footprint's neighbourhood.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.special import log_ndtr, ndtri

from ace_core.cnmfe.deconvolution import Deconvolved, deconvolve

__all__ = [
    "TemporalResult",
    "clean_footprints",
    "exceptionality_snr",
    "merge_components",
    "quality",
    "search_masks",
    "update_spatial",
    "update_temporal",
]

_ACTIVE_FRACTION = 0.3
_SNR_WINDOW = 5  # frames per window of the exceptionality SNR (CaImAn's N)
_FOOTPRINT_FLOOR = 0.01  # footprint values below this fraction of the peak are set to 0 after an update


@dataclass
class TemporalResult:
    """Result of :func:`update_temporal`, per component."""

    C: np.ndarray  # (K, T) float32 denoised, baseline removed
    S: np.ndarray  # (K, T) float32 spikes
    YrA: np.ndarray  # (K, T) float32 residual: raw trace = C + YrA + bl
    bl: np.ndarray  # (K,) baseline of the raw trace
    sn: np.ndarray  # (K,) noise std of the raw trace
    g: np.ndarray  # (K, p) AR coefficients


def update_temporal(
    U: np.ndarray,
    V: np.ndarray,
    C: np.ndarray,
    *,
    p: int,
    decay_time_s: float | None,
    frame_rate_hz: float,
    s_min: float | None,
    s_min_sd: float,
    n_passes: int = 2,
) -> TemporalResult:
    """HALS sweeps over components, each raw trace deconvolved by OASIS (see the module docstring).

    Parameters
    ----------
    U
        (K, T) ``A^T Ynb``.
    V
        (K, K) ``A^T A``.
    C
        (K, T) current traces (the starting point).
    p, decay_time_s, frame_rate_hz, s_min, s_min_sd
        As :func:`~ace_core.cnmfe.deconvolution.deconvolve`.
    n_passes
        Sweeps over all components.

    Returns
    -------
    TemporalResult
    """
    K, n_t = U.shape
    C = np.array(C, dtype=np.float64, copy=True)
    S = np.zeros((K, n_t))
    bl = np.zeros(K)
    sn = np.zeros(K)
    g = np.zeros((K, p))
    diag = np.maximum(np.diag(V), 1e-12)
    for _ in range(max(1, n_passes)):
        for k in range(K):
            y = C[k] + (U[k] - V[k] @ C) / diag[k]
            d: Deconvolved = deconvolve(
                y, p=p, decay_time_s=decay_time_s, frame_rate_hz=frame_rate_hz, s_min=s_min, s_min_sd=s_min_sd
            )
            C[k], S[k], bl[k], sn[k] = d.c, d.s, d.b, d.sn
            g[k, : d.g.size] = d.g
    yra = (U - V @ C) / diag[:, None] - bl[:, None]
    return TemporalResult(
        C=C.astype(np.float32), S=S.astype(np.float32), YrA=yra.astype(np.float32), bl=bl, sn=sn, g=g
    )


def _disk(radius: float) -> np.ndarray:
    r = max(1, int(np.ceil(radius)))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return (yy**2 + xx**2) <= radius**2 + 1e-9


def search_masks(
    A: np.ndarray,
    dims: tuple[int, int],
    radius: float,
    allowed: np.ndarray | None = None,
    max_extent: tuple[float, float] | None = None,
) -> np.ndarray:
    """Where each footprint may be in the spatial update.

    Parameters
    ----------
    A
        (P, K) footprints.
    dims
        Field size (h, w).
    radius
        Each footprint's support is dilated by a disk of this radius (px).
    allowed
        (h, w) bool, e.g. False on an excluded border; None: everywhere.
    max_extent
        Semi-axes (px) of an ellipse around the footprint's centroid the mask is limited to, so a footprint
        cannot grow without bound into diffuse background; None: no limit.

    Returns
    -------
    numpy.ndarray
        (P, K) bool.
    """
    h, w = dims
    out = np.zeros(A.shape, bool)
    disk = _disk(radius)
    pad = disk.shape[0] // 2
    for k in range(A.shape[1]):
        sup = (A[:, k] > 0).reshape(h, w)
        rows, cols = np.nonzero(sup)
        if rows.size == 0:
            continue
        r0, r1 = max(0, rows.min() - pad), min(h, rows.max() + pad + 1)
        c0, c1 = max(0, cols.min() - pad), min(w, cols.max() + pad + 1)
        m = np.zeros((h, w), bool)
        m[r0:r1, c0:c1] = ndimage.binary_dilation(sup[r0:r1, c0:c1], structure=disk)
        if max_extent is not None:
            wts = A[:, k].reshape(h, w)[rows, cols]
            cy, cx = float(rows @ wts / wts.sum()), float(cols @ wts / wts.sum())
            yy, xx = np.ogrid[:h, :w]
            m &= ((yy - cy) / max_extent[0]) ** 2 + ((xx - cx) / max_extent[1]) ** 2 <= 1.0
        out[:, k] = m.ravel()
    if allowed is not None:
        out &= allowed.ravel()[:, None]
    return out


def update_spatial(
    Q: np.ndarray, M: np.ndarray, A: np.ndarray, masks: np.ndarray, n_passes: int = 2
) -> np.ndarray:
    """Non-negative, support-constrained HALS sweeps (see the module docstring).

    Parameters
    ----------
    Q
        (P, K) ``Ynb^T C^T``.
    M
        (K, K) ``C C^T``.
    A
        (P, K) current footprints.
    masks
        (P, K) bool from :func:`search_masks`.
    n_passes
        Sweeps over all components.

    Returns
    -------
    numpy.ndarray
        (P, K) float32 footprints; a component with an all-zero trace gets a zero footprint.
    """
    A = np.array(A, dtype=np.float64, copy=True)
    diag = np.diag(M)
    for _ in range(max(1, n_passes)):
        for k in range(A.shape[1]):
            if diag[k] <= 0:
                A[:, k] = 0
                continue
            m = masks[:, k]
            ak = A[m, k] + (Q[m, k] - A[m] @ M[:, k]) / diag[k]
            A[:, k] = 0
            A[m, k] = np.maximum(ak, 0)
    return A.astype(np.float32)


def clean_footprints(A: np.ndarray, C: np.ndarray, dims: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Cut each footprint to its 8-connected part (above 1 % of the peak) around the peak; unit L2 norm.

    Parameters
    ----------
    A
        (P, K) footprints.
    C
        (K, T) traces; the scale is moved into them.
    dims
        Field size (h, w).

    Returns
    -------
    A, C : numpy.ndarray
        New arrays; empty components keep a zero column and a zero trace (the caller drops them).
    """
    h, w = dims
    A = A.copy()
    C = C.copy()
    struct = np.ones((3, 3), bool)
    for k in range(A.shape[1]):
        a = A[:, k].reshape(h, w)
        peak = a.max(initial=0.0)
        if peak <= 0:
            A[:, k] = 0
            C[k] = 0
            continue
        keep = a >= _FOOTPRINT_FLOOR * peak
        labels, _ = ndimage.label(keep, structure=struct)
        lab = labels.flat[int(np.argmax(a))]
        a = np.where(labels == lab, a, 0.0)
        norm = float(np.linalg.norm(a))
        A[:, k] = (a / norm).ravel()
        C[k] *= norm
    return A, C


def merge_components(
    A: np.ndarray, C: np.ndarray, merge_thr: float, n_iter: int = 10
) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
    """Merge groups of overlapping components whose traces correlate above ``merge_thr``.

    Each group (connected components of the "overlapping and correlated" graph) is replaced by the rank-1
    non-negative approximation of its summed ``a_k c_k``.

    Parameters
    ----------
    A
        (P, K) footprints.
    C
        (K, T) traces.
    merge_thr
        Correlation threshold.
    n_iter
        Alternating iterations of the rank-1 fit.

    Returns
    -------
    A, C : numpy.ndarray
        Unmerged components first, then one per merged group.
    groups : list of list of int
        The merged original indices (only groups of >= 2).
    """
    K = A.shape[1]
    if K < 2:
        return A, C, []
    support = (A > 0).astype(np.float32)
    overlap = (support.T @ support) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(C.astype(np.float64))
    corr = np.nan_to_num(corr, nan=0.0)
    link = overlap & (corr > merge_thr)
    np.fill_diagonal(link, False)
    if not link.any():
        return A, C, []
    from scipy.sparse.csgraph import connected_components

    n_groups, labels = connected_components(link, directed=False)
    groups = [list(np.flatnonzero(labels == g)) for g in range(n_groups)]
    groups = [g for g in groups if len(g) > 1]
    keep = np.ones(K, bool)
    new_a, new_c = [], []
    for grp in groups:
        pix = np.flatnonzero(support[:, grp].any(axis=1))
        x = A[np.ix_(pix, grp)].astype(np.float64) @ C[grp].astype(np.float64)  # (p, T)
        best = grp[int(np.argmax([np.linalg.norm(C[k]) for k in grp]))]
        c = C[best].astype(np.float64).copy()
        a = np.zeros(pix.size)
        for _ in range(n_iter):
            a = np.maximum(x @ c, 0) / max(c @ c, 1e-12)
            c = np.maximum(a @ x, 0) / max(a @ a, 1e-12)
        norm = np.linalg.norm(a)
        col = np.zeros(A.shape[0], np.float32)
        if norm > 0:
            col[pix] = a / norm
            c = c * norm
        new_a.append(col)
        new_c.append(c.astype(np.float32))
        keep[grp] = False
    A = np.concatenate([A[:, keep], np.stack(new_a, axis=1)], axis=1)
    C = np.concatenate([C[keep], np.stack(new_c)], axis=0)
    return A, C, [[int(i) for i in g] for g in groups]


def _half_sample_mode(x: np.ndarray) -> float:
    """Mode of a sample by repeatedly halving to the densest half (Bickel & Fruehwirth 2006)."""
    v = np.sort(np.asarray(x, dtype=np.float64))
    while v.size > 3:
        h = (v.size + 1) // 2
        widths = v[h - 1 :] - v[: v.size - h + 1]
        i = int(np.argmin(widths))
        v = v[i : i + h]
    return float(v.mean()) if v.size else 0.0


def exceptionality_snr(y: np.ndarray, n_frames: int = _SNR_WINDOW) -> float:
    """SNR of the most exceptional ``n_frames``-long stretch of trace ``y`` (see the module docstring).

    Parameters
    ----------
    y
        (T,) raw trace.
    n_frames
        Window length (frames).

    Returns
    -------
    float
        0 for a trace shorter than the window or without samples below its mode.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.size < n_frames:
        return 0.0
    mode = _half_sample_mode(y)
    below = y[y < mode] - mode
    sd = float(np.sqrt(np.mean(below**2))) if below.size else 0.0
    if sd <= 0:
        return 0.0
    logq = log_ndtr(-(y - mode) / sd)  # log tail probability per sample
    window = np.convolve(logq, np.ones(n_frames) / n_frames, mode="valid")
    return _z_from_log_tail(float(window.min()))


def _z_from_log_tail(log_p: float) -> float:
    """z with log Q(z) = log_p (Q the standard normal tail), also where exp(log_p) underflows."""
    if not np.isfinite(log_p):
        return float("inf") if log_p < 0 else 0.0
    if log_p > -700:
        return float(-ndtri(np.exp(log_p)))
    z = np.sqrt(-2 * log_p)
    for _ in range(8):  # Q(z) ~ phi(z) / z for large z
        z = np.sqrt(-2 * (log_p + np.log(z) + 0.5 * np.log(2 * np.pi)))
    return float(z)


def quality(
    Ynb: np.ndarray, A: np.ndarray, C: np.ndarray, raw: np.ndarray, dims: tuple[int, int], margin: int
) -> tuple[np.ndarray, np.ndarray]:
    """(snr, r_value) of each component (see the module docstring).

    Parameters
    ----------
    Ynb
        (T, P) background-subtracted data.
    A
        (P, K) footprints.
    C
        (K, T) denoised traces.
    raw
        (K, T) raw traces ``C + YrA + bl``.
    dims
        Field size (h, w).
    margin
        The r_value neighbourhood is the footprint's bounding box widened by this many px.

    Returns
    -------
    snr, r_values : numpy.ndarray
        (K,) each; r_value is 0 for a component without activity.
    """
    K = A.shape[1]
    h, w = dims
    snr = np.zeros(K)
    rval = np.zeros(K)
    for k in range(K):
        c = C[k]
        peak = float(c.max(initial=0.0))
        snr[k] = exceptionality_snr(raw[k])
        if peak <= 0:
            continue
        active = np.flatnonzero(c >= _ACTIVE_FRACTION * peak)
        a = A[:, k].reshape(h, w)
        rows, cols = np.nonzero(a)
        r0, r1 = max(0, rows.min() - margin), min(h, rows.max() + margin + 1)
        c0, c1 = max(0, cols.min() - margin), min(w, cols.max() + margin + 1)
        box = (np.arange(r0, r1)[:, None] * w + np.arange(c0, c1)[None]).ravel()
        others = [j for j in range(K) if j != k and np.any(A[box, j] > 0)]
        mean_img = Ynb[np.ix_(active, box)].mean(axis=0, dtype=np.float64)
        if others:
            mean_img -= A[np.ix_(box, others)].astype(np.float64) @ C[others][:, active].mean(axis=1)
        ak = A[box, k].astype(np.float64)
        if ak.std() > 0 and mean_img.std() > 0:
            rval[k] = float(np.corrcoef(ak, mean_img)[0, 1])
    return snr, rval
