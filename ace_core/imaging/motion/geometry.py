"""Geometry of piecewise-rigid correction: the patch grid, patch centres, and the shift field between them."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ace_core.imaging.motion.params import MotionCorrectionParams

__all__ = ["interp_matrix", "patch_centers", "patch_grid", "shift_field"]


def patch_grid(
    height: int, width: int, strides: tuple[int, int], overlaps: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Patch starts along y and x and the patch size (strides + overlaps, at most the frame).

    Patches are spread evenly so the first starts at 0 and the last ends at the frame edge, with spacing
    at most ``strides`` (CaImAn adds an extra, nearly coincident last patch instead).

    Parameters
    ----------
    height, width
        Frame size (px).
    strides, overlaps
        Patch spacing and extra patch size, (y, x) (px).

    Returns
    -------
    starts_y, starts_x : numpy.ndarray
        int64 patch starts (px).
    size : tuple of int
        Patch size (rows, cols) (px).
    """
    starts, size = [], []
    for dim, stride, overlap in ((height, strides[0], overlaps[0]), (width, strides[1], overlaps[1])):
        p = min(stride + overlap, dim)
        n = int(math.ceil((dim - p) / stride)) + 1
        starts.append(np.round(np.linspace(0, dim - p, n)).astype(np.int64))
        size.append(p)
    return starts[0], starts[1], (size[0], size[1])


def patch_centers(shape: tuple[int, int], params: MotionCorrectionParams) -> np.ndarray:
    """Centre of every patch, for the grid of ``params``.

    Parameters
    ----------
    shape
        Frame size (H, W) (px).
    params
        ``strides`` and ``overlaps`` are used.

    Returns
    -------
    numpy.ndarray
        (npy, npx, 2) float32 (y, x) centres (px).
    """
    ys, xs, psize = patch_grid(shape[0], shape[1], params.strides, params.overlaps)
    grid = np.meshgrid(ys + (psize[0] - 1) / 2, xs + (psize[1] - 1) / 2, indexing="ij")
    return np.stack(grid, axis=-1).astype(np.float32)


def interp_matrix(n_out: int, centers: np.ndarray, order: int) -> np.ndarray:
    """Weights interpolating values at patch centres to every pixel of one axis (clamped ends).

    Parameters
    ----------
    n_out
        Pixels along the axis.
    centers
        Patch-centre coordinates along the axis (px), increasing.
    order
        Spline order (1 linear, 3 cubic), lowered when there are too few centres.

    Returns
    -------
    numpy.ndarray
        (n_out, n_centers) float32.
    """
    k = len(centers)
    if k == 1:
        return np.ones((n_out, 1), np.float32)
    pos = np.interp(np.arange(n_out, dtype=np.float64), centers, np.arange(k, dtype=np.float64))
    order = min(order, k - 1)
    eye = np.eye(k)
    cols = [ndimage.map_coordinates(eye[j], [pos], order=order, mode="nearest") for j in range(k)]
    return np.stack(cols, axis=1).astype(np.float32)


def shift_field(ay: np.ndarray, ax: np.ndarray, patch_shifts: np.ndarray) -> np.ndarray:
    """(2, H, W) correction field from (npy, npx, 2) patch shifts: ``ay @ grid @ ax.T`` per axis.

    Written as a sum of outer products. Not one (H, npx) x (npx, W) matmul: a multi-threaded BLAS
    oversubscribed by a process pool stalls on such small products (measured 40x slower), and einsum is
    4x slower.

    Parameters
    ----------
    ay, ax
        (H, npy) and (W, npx) weights from :func:`interp_matrix`.
    patch_shifts
        (npy, npx, 2) corrections (px).

    Returns
    -------
    numpy.ndarray
        (2, H, W) float32 corrections (dy, dx) (px).
    """
    g = np.asarray(patch_shifts, np.float32)
    out = np.empty((2, ay.shape[0], ax.shape[0]), np.float32)
    for a in range(2):
        coarse = np.einsum("yi,ij->yj", ay, g[..., a])  # (H, npx), tiny
        np.multiply(coarse[:, :1], ax[None, :, 0], out=out[a])
        for j in range(1, ax.shape[1]):
            out[a] += coarse[:, j, None] * ax[None, :, j]
    return out
