"""Miniscope V4 denoising: remove travelling horizontal bands (2-D FFT notch) and whole-frame flicker.

An optional first step of the miniscope chain (before motion correction), after the Miniscope V4
denoising recipe (`denoise_movie`: `frameStep`, `goodRadius`, `notchHalfWidth`,
`centerHalfHeightToLeave`, `cutoff`, `butterOrder`), written from its description.

Horizontal bands
    A band is an intensity pattern that varies along the rows (y) and is constant along a row (x); it
    travels up or down from frame to frame. Its energy sits in the column kx = 0 of each frame's 2-D
    spectrum, at ky != 0. The notch is a fixed (H, W) mask in `numpy.fft.fft2` layout (True = keep), with
    integer frequency indices ky in [-H/2, H/2), kx in [-W/2, W/2) (cycles per frame height / width):

        removed  <=>  |kx| <= notchHalfWidth  and  |ky| > centerHalfHeightToLeave     (the notch strip)
        removed  <=>  ky**2 + kx**2 > goodRadius**2                                   (outer low-pass)

    The central part of the strip (|ky| <= centerHalfHeightToLeave, which holds the DC term, the frame
    mean and the smooth one-photon background) is kept. `goodRadius` is the radius, in frequency bins, of
    the circular pass region; the default 2000 is larger than any Miniscope frame's spectrum, so it only
    acts when set small. The mask is symmetric under (ky, kx) -> (-ky, -kx), so filtered frames are real.

"Estimated on every frameStep-th frame"
    As in the recipe, the mean spectrum of every `frameStep`-th frame is what the band estimate is made
    from: pass 1 accumulates the mean power of the kx = 0 column (`band_profile_before`, per ky) over
    those frames, pass 2 the same on the output (`band_profile_after`). The mask itself is fixed by the
    parameters (it does not adapt to the data), which keeps the step a linear, chunk-independent filter;
    the profiles are the QC that shows which ky carried band energy and that it is gone.

Flicker
    m[t] is the mean of raw frame t. It is low-passed with a zero-phase Butterworth filter (order
    `butterOrder`, applied forwards and backwards by `scipy.signal.sosfiltfilt`, so the effective
    attenuation is that of order 2 * butterOrder) with cut-off `cutoff` in Hz at the movie's frame rate
    `frame_rate_hz`; the high-frequency part is removed by adding `lowpass(m)[t] - m[t]` to every pixel of
    frame t. The notch keeps the DC bin, so it does not change frame means and the two corrections commute.
    `cutoff` None, or at / above the Nyquist frequency, disables the flicker correction. The ends are
    padded by reflection about a local line fit (`flicker_correction`); within about one cut-off period of
    the first / last frame slow and fast cannot be told apart, so some flicker may remain there.

Streaming: two passes over a `FrameSource`, `chunk_frames` frames at a time. Memory is one chunk of
float32 frames and its half-spectrum, plus O(T + H * W) for the means, the mask and the profiles.
Output frames are float32 and written through `write(start, frames)` (e.g. `MovieWriter.write`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import signal

from ace_core.io.frames import FrameSource, chunk_bounds

__all__ = [
    "DenoiseParams",
    "DenoiseSummary",
    "band_power",
    "denoise",
    "denoise_frames",
    "flicker_correction",
    "notch_mask",
]

Progress = Callable[[int, int], None]  # (frames done, total frames) over both passes


@dataclass(frozen=True)
class DenoiseParams:
    """Parameters (names and defaults of the Miniscope V4 recipe, whose ``fs`` is the movie's frame rate).

    Attributes
    ----------
    centerHalfHeightToLeave
        Frequency bins (cycles per frame height); ``|ky| <=`` this is kept.
    notchHalfWidth
        Frequency bins (cycles per frame width); the notch strip is ``|kx| <=`` this.
    goodRadius
        Frequency bins; bins farther than this from the origin are removed.
    frameStep
        Frames; the band profile is estimated on frames 0, frameStep, 2 * frameStep, ...
    cutoff
        Low-pass cut-off (Hz) of the per-frame mean, or None: no flicker correction.
    butterOrder
        Butterworth order (4-9 recommended; applied zero-phase, i.e. twice).
    frame_rate_hz
        The movie's frame rate (Hz) (the recipe's ``fs``).
    chunk_frames
        Frames read and filtered at a time.

    Raises
    ------
    ValueError
        On construction, for a negative notch size, ``goodRadius <= 0``, ``frameStep < 1``, ``cutoff <= 0``,
        ``butterOrder < 1``, ``frame_rate_hz <= 0`` or ``chunk_frames < 1``.
    """

    centerHalfHeightToLeave: int = 90
    notchHalfWidth: int = 3
    goodRadius: float = 2000.0
    frameStep: int = 10
    cutoff: float | None = 3.0
    butterOrder: int = 6
    frame_rate_hz: float = 30.0
    chunk_frames: int = 200

    def __post_init__(self) -> None:
        """Check every value (see the class's Raises section)."""
        if self.centerHalfHeightToLeave < 0:
            raise ValueError(f"centerHalfHeightToLeave must be >= 0, got {self.centerHalfHeightToLeave}")
        if self.notchHalfWidth < 0:
            raise ValueError(f"notchHalfWidth must be >= 0, got {self.notchHalfWidth}")
        if not self.goodRadius > 0:
            raise ValueError(f"goodRadius must be > 0, got {self.goodRadius}")
        if self.frameStep < 1:
            raise ValueError(f"frameStep must be >= 1, got {self.frameStep}")
        if self.cutoff is not None and not self.cutoff > 0:
            raise ValueError(f"cutoff must be > 0 Hz or None, got {self.cutoff}")
        if self.butterOrder < 1:
            raise ValueError(f"butterOrder must be >= 1, got {self.butterOrder}")
        if not self.frame_rate_hz > 0:
            raise ValueError(f"frame_rate_hz must be > 0, got {self.frame_rate_hz}")
        if self.chunk_frames < 1:
            raise ValueError(f"chunk_frames must be >= 1, got {self.chunk_frames}")

    @classmethod
    def from_parameters(cls, values: Mapping[str, Any], *, frame_rate_hz: float) -> DenoiseParams:
        """Build from a line's parameter dict (recipe names); other keys, and ``fs``, are ignored.

        Parameters
        ----------
        values
            Parameter values by name. None values mean "default", except ``cutoff`` None / False / 'none',
            which disables the flicker correction.
        frame_rate_hz
            The movie's frame rate (Hz); always used as the frame rate.

        Returns
        -------
        DenoiseParams

        Raises
        ------
        ValueError
            As the constructor, or when a value cannot be converted to a number.
        """
        names = {f.name for f in dataclasses.fields(cls)} - {"frame_rate_hz"}
        kwargs: dict[str, Any] = {"frame_rate_hz": float(frame_rate_hz)}
        for key, value in values.items():
            if key not in names:
                continue
            if key == "cutoff":
                if value is None or value is False or str(value).lower() in {"none", "false"}:
                    kwargs[key] = None
                else:
                    kwargs[key] = float(value)
            elif value is not None:
                kwargs[key] = float(value) if key == "goodRadius" else int(value)
        return cls(**kwargs)

    @property
    def flicker_enabled(self) -> bool:
        """Whether the flicker correction runs (a cut-off below the Nyquist frequency)."""
        return self.cutoff is not None and self.cutoff < self.frame_rate_hz / 2


@dataclass(frozen=True)
class DenoiseSummary:
    """What :func:`denoise` did, for QC.

    Attributes
    ----------
    mask
        (H, W) bool, fft2 layout, True = kept.
    sampled_frames
        Indices of the frames the band profiles were estimated on (every frameStep-th).
    band_profile_before, band_profile_after
        (H,) float64, mean over those frames of ``|F[ky, 0]|**2 / (H * W)**2`` of the input / output,
        indexed like fft2 rows (ky = 0, 1, ..., -1).
    mean_before, mean_after
        (T,) per-frame means of input and output.
    flicker_correction
        (T,) the offset added to each frame (zeros when disabled).
    flicker_applied
        Whether the low-pass ran.
    """

    mask: np.ndarray
    sampled_frames: np.ndarray
    band_profile_before: np.ndarray
    band_profile_after: np.ndarray
    mean_before: np.ndarray
    mean_after: np.ndarray
    flicker_correction: np.ndarray
    flicker_applied: bool

    @property
    def band_power_removed_db(self) -> float:
        """10 log10 of the kx = 0 power before over after (dB), summed over notched ky (sampled frames)."""
        notched = ~self.mask[:, 0]
        before = float(self.band_profile_before[notched].sum())
        after = float(self.band_profile_after[notched].sum())
        if before == 0:
            return 0.0
        return float(10 * np.log10(before / after)) if after > 0 else float("inf")


def _freq_index(n: int) -> np.ndarray:
    return np.rint(np.fft.fftfreq(n) * n).astype(np.int64)


def notch_mask(height: int, width: int, params: DenoiseParams) -> np.ndarray:
    """The notch of the module docstring as a mask.

    Parameters
    ----------
    height, width
        Frame size (px).
    params
        Notch parameters.

    Returns
    -------
    numpy.ndarray
        (height, width) bool in fft2 layout, True = keep.
    """
    ky = _freq_index(height)[:, None]
    kx = _freq_index(width)[None, :]
    strip = (np.abs(kx) <= params.notchHalfWidth) & (np.abs(ky) > params.centerHalfHeightToLeave)
    outside = ky.astype(np.float64) ** 2 + kx.astype(np.float64) ** 2 > float(params.goodRadius) ** 2
    return ~(strip | outside)


def _as_stack(frames: np.ndarray) -> np.ndarray:
    arr = np.asarray(frames)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"frames must be (n, H, W) or (H, W), got shape {np.shape(frames)}")
    return arr


def denoise_frames(
    frames: np.ndarray, mask: np.ndarray, flicker_correction: np.ndarray | None = None
) -> np.ndarray:
    """Notch-filter frames with ``mask`` and add the per-frame ``flicker_correction`` if given.

    Parameters
    ----------
    frames
        (n, H, W) or (H, W) frames of any real dtype.
    mask
        (H, W) bool, fft2 layout, True = keep (:func:`notch_mask`).
    flicker_correction
        (n,) offsets added to each frame, or None.

    Returns
    -------
    numpy.ndarray
        float32 (n, H, W).

    Raises
    ------
    ValueError
        If the frames are not 2-D/3-D, or ``mask`` or ``flicker_correction`` do not match them.
    """
    arr = _as_stack(frames)
    n, h, w = arr.shape
    mask = np.asarray(mask)
    if mask.shape != (h, w):
        raise ValueError(f"mask shape {mask.shape} does not match frames {(h, w)}")
    half = mask[:, : w // 2 + 1].astype(np.float32)
    if bool(np.all(half == 1)):
        out = arr.astype(np.float32, copy=True)
    else:
        spec = np.fft.rfft2(arr.astype(np.float32, copy=False), axes=(1, 2))
        spec *= half
        out = np.fft.irfft2(spec, s=(h, w), axes=(1, 2)).astype(np.float32, copy=False)
    if flicker_correction is not None:
        corr = np.asarray(flicker_correction, dtype=np.float32).reshape(-1)
        if corr.shape[0] != n:
            raise ValueError(f"flicker_correction has {corr.shape[0]} values for {n} frames")
        out += corr[:, None, None]
    return out


def flicker_correction(means: np.ndarray, params: DenoiseParams) -> np.ndarray:
    """Offset per frame, ``lowpass(means) - means`` (zero-phase Butterworth; see the module docstring).

    Parameters
    ----------
    means
        (T,) per-frame means of the raw movie.
    params
        ``cutoff``, ``butterOrder`` and ``frame_rate_hz`` are used.

    Returns
    -------
    numpy.ndarray
        float64 (T,); zeros when the correction is disabled or there are fewer than 2 frames.
    """
    m = np.asarray(means, dtype=np.float64).reshape(-1)
    if not params.flicker_enabled or m.size < 2:
        return np.zeros_like(m)
    sos = signal.butter(params.butterOrder, params.cutoff, btype="low", fs=params.frame_rate_hz, output="sos")
    # Pad each end with a point reflection about a local straight-line fit of the last (first) cut-off
    # period, evaluated at the end frame: slow trends (bleaching) continue smoothly, while the fast
    # flicker is not reflected about its own end value (which would put a step into the low-pass).
    # The padding (~6 cut-off periods) lets the filter's transients settle outside the movie.
    pad = min(m.size - 1, max(3 * (2 * len(sos) + 1), int(np.ceil(6 * params.frame_rate_hz / params.cutoff))))
    fit = min(m.size, max(2, int(np.ceil(params.frame_rate_hz / params.cutoff))))
    head = 2 * _line_end(m[:fit][::-1]) - m[pad:0:-1]
    tail = 2 * _line_end(m[-fit:]) - m[-2 : -pad - 2 : -1]
    padded = np.concatenate([head, m, tail])
    low = signal.sosfiltfilt(sos, padded, padtype=None)[pad : pad + m.size]
    return low - m


def _line_end(values: np.ndarray) -> float:
    """Value at the last sample of the least-squares line through `values`."""
    x = np.arange(values.size, dtype=np.float64)
    slope, intercept = np.polyfit(x, values, 1)
    return float(slope * x[-1] + intercept)


def _column_power(frames: np.ndarray) -> np.ndarray:
    """(n, H) |F[ky, kx = 0]|**2 / (H W)**2: the x-constant part of each frame, per ky (fft along y of
    the row means)."""
    arr = _as_stack(frames)
    h, w = arr.shape[1:]
    col = np.fft.fft(arr.astype(np.float64).mean(axis=2), axis=1) / h
    return np.abs(col) ** 2


def band_power(frames: np.ndarray, ky: int) -> float:
    """Mean over frames of the power of the x-constant (kx = 0) component at vertical frequency ``ky``.

    Both signs are counted: a band ``A sin(2 pi (ky y / H - phi_t))`` gives ``A**2 / 2``.

    Parameters
    ----------
    frames
        (n, H, W) or (H, W).
    ky
        Vertical frequency (cycles per frame height).

    Returns
    -------
    float
        Power, in squared pixel units.
    """
    power = _column_power(frames)
    h = power.shape[1]
    ky = int(ky) % h
    total = power[:, ky]
    if ky != 0 and ky * 2 != h:
        total = total + power[:, (-ky) % h]
    return float(total.mean())


def denoise(
    source: FrameSource,
    params: DenoiseParams,
    write: Callable[[int, np.ndarray], None],
    *,
    progress: Progress | None = None,
) -> DenoiseSummary:
    """Denoise a movie in two streaming passes.

    Pass 1 reads every frame for its mean (the flicker low-pass) and the kx = 0 spectrum of every
    frameStep-th frame (band profile); pass 2 applies the notch and the flicker correction per chunk.

    Parameters
    ----------
    source
        The movie.
    params
        Denoising parameters.
    write
        ``write(start, frames_float32)`` receives each output chunk, in order.
    progress
        ``progress(done, total)`` counts frames read over both passes (total = 2 T).

    Returns
    -------
    DenoiseSummary

    Raises
    ------
    ValueError
        If the source returns frames of an unexpected shape.
    """
    n, h, w = int(source.n_frames), int(source.height), int(source.width)
    bounds = chunk_bounds(n, params.chunk_frames)
    mask = notch_mask(h, w, params)
    step = params.frameStep
    sampled = np.arange(0, n, step, dtype=np.int64)
    total, done = 2 * n, 0

    means = np.empty(n, np.float64)
    profile_before = np.zeros(h, np.float64)
    for s, e in bounds:
        chunk = _as_stack(source.read(s, e))
        if chunk.shape != (e - s, h, w):
            raise ValueError(
                f"source gave shape {chunk.shape} for frames [{s}, {e}), expected {(e - s, h, w)}"
            )
        means[s:e] = chunk.reshape(e - s, -1).mean(axis=1, dtype=np.float64)
        local = np.arange((-s) % step, e - s, step)
        if local.size:
            profile_before += _column_power(chunk[local]).sum(axis=0)
        done += e - s
        if progress is not None:
            progress(done, total)

    correction = flicker_correction(means, params)
    mean_after = np.empty(n, np.float64)
    profile_after = np.zeros(h, np.float64)
    for s, e in bounds:
        out = denoise_frames(source.read(s, e), mask, correction[s:e])
        mean_after[s:e] = out.reshape(e - s, -1).mean(axis=1, dtype=np.float64)
        local = np.arange((-s) % step, e - s, step)
        if local.size:
            profile_after += _column_power(out[local]).sum(axis=0)
        write(s, out)
        done += e - s
        if progress is not None:
            progress(done, total)

    count = max(sampled.size, 1)
    return DenoiseSummary(
        mask=mask,
        sampled_frames=sampled,
        band_profile_before=profile_before / count,
        band_profile_after=profile_after / count,
        mean_before=means,
        mean_after=mean_after,
        flicker_correction=correction,
        flicker_applied=params.flicker_enabled and n >= 2,
    )
