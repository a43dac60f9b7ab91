"""Applying shifts: rigid sub-pixel shifts (cubic convolution or Fourier) and piecewise-rigid resampling
of the ORIGINAL frames, with CaImAn's border options."""

from __future__ import annotations

import math

import numpy as np
import scipy.fft as sfft
from scipy import ndimage

from ace_core.imaging.motion.geometry import interp_matrix, shift_field
from ace_core.imaging.motion.params import MotionCorrectionParams
from ace_core.imaging.motion.registration import FFT_WORKERS

__all__ = ["apply_shifts"]

_KEYS_A = -0.75  # cubic-convolution parameter of OpenCV's INTER_CUBIC


def _keys_weights(t: np.ndarray) -> np.ndarray:
    """(4, ...) cubic-convolution weights for samples at offsets -1, 0, 1, 2 from floor, fraction t."""
    a = _KEYS_A

    def near(x: np.ndarray) -> np.ndarray:
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: np.ndarray) -> np.ndarray:
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return np.stack([far(1 + t), near(t), near(1 - t), far(2 - t)])


def _source_index(idx: np.ndarray, n: int, mode: str) -> np.ndarray:
    if mode == "reflect":  # half-sample symmetric, like OpenCV BORDER_REFLECT
        period = 2 * n
        idx = np.mod(idx, period)
        return np.where(idx >= n, period - 1 - idx, idx)
    return np.clip(idx, 0, n - 1)


def _shift_cubic(frame: np.ndarray, shift: np.ndarray, mode: str) -> np.ndarray:
    """Rigid sub-pixel shift by separable cubic convolution (Keys, a=-0.75)."""
    out = frame
    for axis in (0, 1):
        n = frame.shape[axis]
        src = np.arange(n) - shift[axis]
        base = np.floor(src)
        wts = _keys_weights(np.float32(src[0] - base[0])).astype(np.float32)
        base = base.astype(np.int64)
        acc = None
        for k in range(4):
            idx = _source_index(base + (k - 1), n, mode)
            term = np.take(out, idx, axis=axis) * wts[k]
            acc = term if acc is None else acc + term
        out = acc
    return out


def _shift_fourier(frame: np.ndarray, shift: np.ndarray, mode: str, pad: tuple[int, int]) -> np.ndarray:
    """Rigid sub-pixel shift by the Fourier shift theorem on a padded frame (padding sets the border)."""
    np_mode = "symmetric" if mode == "reflect" else "edge"
    padded = np.pad(frame, ((pad[0], pad[0]), (pad[1], pad[1])), mode=np_mode)
    h, w = padded.shape
    spec = sfft.rfft2(padded, workers=FFT_WORKERS)
    ramp_y = np.exp(-2j * np.pi * sfft.fftfreq(h) * shift[0]).astype(np.complex64)
    ramp_x = np.exp(-2j * np.pi * sfft.rfftfreq(w) * shift[1]).astype(np.complex64)
    spec *= ramp_y[:, None]
    spec *= ramp_x[None, :]
    out = sfft.irfft2(spec, s=(h, w), workers=FFT_WORKERS)
    return out[pad[0] : pad[0] + frame.shape[0], pad[1] : pad[1] + frame.shape[1]].astype(np.float32)


def _fill_outside(out: np.ndarray, outside: np.ndarray, mode: str, frame: np.ndarray) -> None:
    if mode in ("copy", "reflect") or not outside.any():
        return
    value = {"nan": np.nan, "zero": 0.0}.get(mode)
    out[outside] = np.float32(frame.min()) if value is None else value


def apply_shifts(
    frames: np.ndarray,
    rigid_shifts: np.ndarray,
    patch_shifts: np.ndarray | None = None,
    patch_centers: np.ndarray | None = None,
    *,
    params: MotionCorrectionParams,
) -> np.ndarray:
    """Correct ORIGINAL frames with rigid corrections or, piecewise, with patch corrections.

    Piecewise: the patch-centre grid is interpolated to every pixel and the frame is resampled with
    ``map_coordinates`` (cubic spline with ``shifts_opencv``, else linear). Rigid: cubic convolution
    (``shifts_opencv``) or a Fourier shift.

    Parameters
    ----------
    frames
        (n, H, W), any real dtype.
    rigid_shifts
        (n, 2) corrections (dy, dx) (px); used when ``patch_shifts`` is None.
    patch_shifts
        (n, npy, npx, 2) corrections (px), or None for rigid correction.
    patch_centers
        (npy, npx, 2) patch centres (px); default from ``params``.
    params
        ``border_nan``, ``shifts_opencv``, ``max_shifts`` and the patch grid are used.

    Returns
    -------
    numpy.ndarray
        float32 (n, H, W); borders per ``params.border_nan``.
    """
    frames = np.asarray(frames)
    n, h, w = frames.shape
    mode = params.border_mode
    out = np.empty((n, h, w), np.float32)
    rigid_shifts = np.asarray(rigid_shifts, np.float64).reshape(n, 2)
    if patch_shifts is not None:
        centers = patch_centers
        if centers is None:
            centers = patch_centers((h, w), params)
        centers = np.asarray(centers, np.float64)
        order = 3 if params.shifts_opencv else 1
        ay = interp_matrix(h, centers[:, 0, 0], order)
        ax = interp_matrix(w, centers[0, :, 1], order)
        grid = np.indices((h, w), dtype=np.float32)
        nd_mode = "reflect" if mode == "reflect" else "nearest"
        for i in range(n):
            g = np.asarray(patch_shifts[i], np.float32)
            coords = grid - shift_field(ay, ax, g)
            frame = frames[i].astype(np.float32, copy=False)
            out[i] = ndimage.map_coordinates(frame, coords, order=order, mode=nd_mode, output=np.float32)
            outside = (coords[0] < -1e-3) | (coords[0] > h - 1 + 1e-3)
            outside |= (coords[1] < -1e-3) | (coords[1] > w - 1 + 1e-3)
            _fill_outside(out[i], outside, mode, frame)
        return out
    pad = (params.max_shifts[0] + 2, params.max_shifts[1] + 2)
    rows, cols = np.arange(h), np.arange(w)
    for i in range(n):
        frame = frames[i].astype(np.float32, copy=False)
        s = rigid_shifts[i]
        if params.shifts_opencv:
            out[i] = _shift_cubic(frame, s, mode)
        else:
            p = (max(pad[0], int(math.ceil(abs(s[0]))) + 2), max(pad[1], int(math.ceil(abs(s[1]))) + 2))
            out[i] = _shift_fourier(frame, s, mode, p)
        outside = ((rows - s[0] < -1e-3) | (rows - s[0] > h - 1 + 1e-3))[:, None] | (
            (cols - s[1] < -1e-3) | (cols - s[1] > w - 1 + 1e-3)
        )[None, :]
        _fill_outside(out[i], outside, mode, frame)
    return out
