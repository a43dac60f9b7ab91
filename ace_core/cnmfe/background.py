"""CNMF-E ring-model background (Zhou et al. 2018), written from the paper.

The one-photon background B (pixels x frames) is modelled as a constant image plus a fluctuating part that is
predicted, at every pixel, from the pixels on a ring around it:

    B = b0 1^T + W (Y - A C - b0 1^T),       W[i, j] != 0 only if  r <= |x_i - x_j| < r + 1

The ring lies outside the neuron centred on pixel i, so W cannot explain a neuron's own transients by its
surroundings, while the smooth, spatially extended background fluctuations are predicted well. Given A C,
b0 is the pixel's mean residual and each row of W is an independent least-squares regression (normal
equations of at most 2 pi (r+1) unknowns, solved in batches, with a tiny ridge so rings cut by the frame
border stay well-posed). As in CNMF-E, W is fitted and applied on a grid down-sampled by `ssub_B` (block
means; the background is smooth) and the prediction is brought back to full resolution by bilinear
interpolation. The fit uses at most `max_fit_frames` block-averaged frames: the weights describe spatial
structure, a few thousand samples determine a few dozen weights; applying W uses every frame.

Ring radius (ours, documented): r = ring_size_factor * gSiz / 2 full-resolution pixels (gSiz is the neuron
diameter), i.e. r / ssub_B on the down-sampled grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

__all__ = [
    "RingModel",
    "downsample_operator",
    "fit_ring_model",
    "ring_offsets",
    "upsample_operator",
]

_RIDGE = 1e-3  # relative ridge on the ring regressions
_WHOLE_GRAM_PIXELS = 4096  # down-sampled grids up to this size use one Gram matrix
_SOLVE_PIXELS = 256


def ring_offsets(radius: float) -> np.ndarray:
    """Integer (dy, dx) offsets with ``radius <= distance < radius + 1`` (a one-pixel-wide ring).

    Parameters
    ----------
    radius
        Inner radius (px of the grid it is used on).

    Returns
    -------
    numpy.ndarray
        (m, 2) int offsets.
    """
    r = int(np.ceil(radius + 1))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    d = np.hypot(yy, xx)
    sel = (d >= radius) & (d < radius + 1)
    return np.stack([yy[sel], xx[sel]], axis=1)


def _block_mean_1d(n: int, s: int) -> sparse.csr_matrix:
    nd = -(-n // s)
    rows = np.arange(n) // s
    counts = np.bincount(rows, minlength=nd).astype(np.float64)
    return sparse.csr_matrix((1.0 / counts[rows], (rows, np.arange(n))), shape=(nd, n))


def _linear_up_1d(n: int, s: int) -> sparse.csr_matrix:
    """(n, nd) linear interpolation from block centres back to pixels (clamped at the ends)."""
    nd = -(-n // s)
    if nd == 1:
        return sparse.csr_matrix(np.ones((n, 1)))
    starts = np.arange(nd) * s
    centres = (starts + np.minimum(starts + s, n) - 1) / 2.0
    x = np.arange(n, dtype=np.float64)
    j = np.clip(np.searchsorted(centres, x) - 1, 0, nd - 2)
    t = np.clip((x - centres[j]) / (centres[j + 1] - centres[j]), 0.0, 1.0)
    rows = np.r_[np.arange(n), np.arange(n)]
    cols = np.r_[j, j + 1]
    vals = np.r_[1 - t, t]
    return sparse.csr_matrix((vals, (rows, cols)), shape=(n, nd))


def downsample_operator(dims: tuple[int, int], s: int) -> sparse.csr_matrix:
    """Block-mean operator on row-major pixel vectors.

    Parameters
    ----------
    dims
        Full-resolution size (h, w).
    s
        Block size; <= 1 gives the identity.

    Returns
    -------
    scipy.sparse.csr_matrix
        (hd*wd, h*w) float32, ``hd = ceil(h / s)`` (edge blocks average fewer pixels).
    """
    if s <= 1:
        return sparse.identity(dims[0] * dims[1], format="csr", dtype=np.float32)
    return sparse.kron(_block_mean_1d(dims[0], s), _block_mean_1d(dims[1], s), format="csr").astype(
        np.float32
    )


def upsample_operator(dims: tuple[int, int], s: int) -> sparse.csr_matrix:
    """Bilinear interpolation operator from block centres back to pixels, on row-major pixel vectors.

    Parameters
    ----------
    dims
        Full-resolution size (h, w).
    s
        Block size; <= 1 gives the identity.

    Returns
    -------
    scipy.sparse.csr_matrix
        (h*w, hd*wd) float32, clamped at the ends.
    """
    if s <= 1:
        return sparse.identity(dims[0] * dims[1], format="csr", dtype=np.float32)
    return sparse.kron(_linear_up_1d(dims[0], s), _linear_up_1d(dims[1], s), format="csr").astype(np.float32)


@dataclass
class RingModel:
    """Fitted ring background of one field.

    Attributes
    ----------
    b0
        (P,) constant background, full resolution.
    W
        (Pd, Pd) ring weights on the ``ssub_B`` grid.
    dims
        Full-resolution field size (h, w).
    ssub_B
        Down-sampling factor of ``W``'s grid.
    radius_px
        Ring radius (full-resolution px).
    """

    b0: np.ndarray
    W: sparse.csr_matrix
    dims: tuple[int, int]
    ssub_B: int
    radius_px: float

    def fluctuation(self, resid_ds: np.ndarray) -> np.ndarray:
        """Predicted fluctuating background from the down-sampled residual.

        Parameters
        ----------
        resid_ds
            (T, Pd) down-sampled residual ``D(Y - AC - b0)``.

        Returns
        -------
        numpy.ndarray
            (T, P) float32, full resolution.
        """
        up = upsample_operator(self.dims, self.ssub_B)
        pred = (self.W @ resid_ds.T).T  # (T, Pd)
        return np.asarray((up @ pred.T).T, dtype=np.float32)


def _solve_block(gram: np.ndarray, ring: np.ndarray, valid: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Ridge normal equations of the pixels of one block from the Gram matrix of its neighbourhood:
    ring (nb, m) and target (nb,) index that neighbourhood; invalid ring entries get weight 0."""
    g = gram[ring[:, :, None], ring[:, None, :]].astype(np.float64) * (valid[:, :, None] & valid[:, None, :])
    rhs = gram[ring, target[:, None]].astype(np.float64) * valid
    diag = np.einsum("bmm->bm", g)
    ridge = _RIDGE * diag.sum(axis=1) / np.maximum(valid.sum(axis=1), 1) + 1e-12
    g += ridge[:, None, None] * np.eye(ring.shape[1])[None]
    return np.linalg.solve(g, rhs[..., None])[..., 0] * valid


def fit_ring_model(
    resid_ds: np.ndarray,
    dims: tuple[int, int],
    *,
    radius_px: float,
    ssub_B: int,
    b0: np.ndarray,
    max_fit_frames: int = 1000,
) -> RingModel:
    """Fit W from the down-sampled, mean-free residual ``D(Y - A C - b0)`` of a field (module docstring).

    Parameters
    ----------
    resid_ds
        (T, Pd) residual on the ``ssub_B`` grid.
    dims
        Full-resolution field size (h, w).
    radius_px
        Ring radius (full-resolution px).
    ssub_B
        Down-sampling factor of the grid.
    b0
        (P,) constant background, stored with the model.
    max_fit_frames
        At most this many block-averaged frames are used for the fit.

    Returns
    -------
    RingModel
    """
    h, w = dims
    hd, wd = -(-h // ssub_B), -(-w // ssub_B)
    n_t = resid_ds.shape[0]
    x = np.asarray(resid_ds, dtype=np.float32)
    if n_t > max_fit_frames:  # block means: keep every part of the recording, fewer samples
        step = int(np.ceil(n_t / max_fit_frames))
        full = (n_t // step) * step
        x = x[:full].reshape(n_t // step, step, -1).mean(axis=1)
    offs = ring_offsets(radius_px / ssub_B)
    ext = int(np.abs(offs).max())
    x3 = x.reshape(x.shape[0], hd, wd)
    # Blocks of pixels share one Gram matrix of their neighbourhood (block + ring reach): one GEMM for a
    # patch-sized grid, a few large ones otherwise, never one small product per pixel (many small BLAS calls
    # are slow, and erratically so with multi-threaded BLAS on few cores).
    blk = max(hd, wd) if hd * wd <= _WHOLE_GRAM_PIXELS else max(32, 2 * ext)
    idx = np.zeros((hd * wd, offs.shape[0]), np.int64)
    valid = np.zeros(idx.shape, bool)
    weights = np.zeros(idx.shape, np.float64)
    for by in range(0, hd, blk):
        for bx in range(0, wd, blk):
            ry, rx = np.arange(by, min(hd, by + blk)), np.arange(bx, min(wd, bx + blk))
            u0, u1 = max(0, by - ext), min(hd, by + blk + ext)
            v0, v1 = max(0, bx - ext), min(wd, bx + blk + ext)
            xu = x3[:, u0:u1, v0:v1].reshape(x3.shape[0], -1)
            gram = xu.T @ xu
            py, px = (a.ravel() for a in np.meshgrid(ry, rx, indexing="ij"))
            ny, nx = py[:, None] + offs[None, :, 0], px[:, None] + offs[None, :, 1]
            ok = (ny >= 0) & (ny < hd) & (nx >= 0) & (nx < wd)
            local = np.where(ok, (ny - u0) * (v1 - v0) + (nx - v0), 0)
            target = (py - u0) * (v1 - v0) + (px - v0)
            pix = py * wd + px
            for s in range(0, pix.size, _SOLVE_PIXELS):  # bounded temporaries (pixels x ring x ring)
                sl = slice(s, s + _SOLVE_PIXELS)
                weights[pix[sl]] = _solve_block(gram, local[sl], ok[sl], target[sl])
            idx[pix] = np.where(ok, ny * wd + nx, 0)
            valid[pix] = ok
    keep = valid & (weights != 0)
    W = sparse.csr_matrix(
        (weights[keep].astype(np.float32), (np.nonzero(keep)[0], idx[keep])), shape=(hd * wd, hd * wd)
    )
    return RingModel(
        b0=np.asarray(b0, np.float32), W=W, dims=(h, w), ssub_B=ssub_B, radius_px=float(radius_px)
    )
