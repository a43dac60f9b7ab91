"""Amplitude-threshold artifact removal for ephys channels (reference ``remove_artifacts`` semantics).

Large excursions (movement, cable knocks, saturation) are zeroed, together with everything between
two artifacts closer than ``merge_s``, and the edges of every zeroed stretch are ramped down with an
inverted Hann window so the cut introduces no step. The reference hard-coded the threshold (1500 uV),
the merge distance (60 s) and the mean subtraction and ran only for Neuralynx data; here
they are parameters with the reference values as defaults, and any sampled signal in uV is accepted.
NaN gaps (between recording segments) stay NaN and are never treated as artifacts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage
import scipy.signal

__all__ = ["ArtifactResult", "remove_artifacts"]


@dataclass(frozen=True, eq=False)
class ArtifactResult:
    """Output of :func:`remove_artifacts`.

    Attributes
    ----------
    signal_uv
        Cleaned signal (µV, float64; mean-subtracted when requested).
    mask
        True where a finite sample was declared artifact and zeroed (NaN samples are never masked).
    n_artifacts
        Number of zeroed stretches after merging.
    fraction_masked
        Masked samples / finite samples.
    """

    signal_uv: np.ndarray
    mask: np.ndarray
    n_artifacts: int
    fraction_masked: float


def _runs(mask: np.ndarray) -> np.ndarray:
    """(n, 2) ``[start, stop)`` of True runs of a 1-D boolean array."""
    edges = np.flatnonzero(np.diff(np.concatenate(([False], mask, [False])).astype(np.int8)))
    return edges.reshape(-1, 2)


def remove_artifacts(
    x_uv: np.ndarray,
    fs_hz: float,
    *,
    threshold_uv: float = 1500.0,
    merge_s: float = 60.0,
    taper_samples: int = 75,
    subtract_mean: bool = True,
) -> ArtifactResult:
    """Zero samples with ``|x| > threshold_uv`` and taper the edges of the zeroed stretches.

    Steps (the reference toolkit's semantics):

    1. subtract the mean of the finite samples (``subtract_mean``; the reference did, so the returned
       signal is zero-mean);
    2. mask ``|x| > threshold_uv``;
    3. mask the whole stretch between two masked runs whose gap is shorter than ``merge_s`` (in samples:
       ``< merge_s * fs_hz``; NaN samples inside stay NaN);
    4. zero masked samples and multiply each sample at distance ``d`` (samples) from the nearest masked
       sample by ``w[h + d]`` for ``d <= h``, ``w = 1 - hann(taper_samples)`` (symmetric),
       ``h = taper_samples // 2``, i.e. an h-sample ramp on each side, applied once (the nearest masked
       sample decides, ramps never compound). For an even ``taper_samples`` the ramp stops at
       ``d = taper_samples - 1 - h`` (end of ``w``); 0 or 1 disables it.

    Parameters
    ----------
    x_uv
        1-D signal (µV); NaN gaps allowed. Not modified (a copy is cleaned).
    fs_hz
        Sampling rate (Hz).
    threshold_uv
        Artifact threshold on ``|x|`` (µV), after mean subtraction.
    merge_s
        Artifacts closer than this (s) are merged with everything between them.
    taper_samples
        Length of the Hann taper (samples).
    subtract_mean
        Subtract the mean of the finite samples first.

    Returns
    -------
    ArtifactResult

    Raises
    ------
    ValueError
        If ``x_uv`` is not 1-D, ``fs_hz`` is not positive and finite, ``threshold_uv <= 0``,
        ``merge_s < 0``, or ``taper_samples`` is not a non-negative integer.
    """
    x = np.array(x_uv, dtype=np.float64)  # always a copy
    if x.ndim != 1:
        raise ValueError(f"x_uv must be 1-D, got shape {x.shape}")
    if not (np.isfinite(fs_hz) and fs_hz > 0):
        raise ValueError(f"fs_hz must be a positive finite number, got {fs_hz!r}")
    if not threshold_uv > 0:
        raise ValueError(f"threshold_uv must be > 0, got {threshold_uv!r}")
    if not merge_s >= 0:
        raise ValueError(f"merge_s must be >= 0, got {merge_s!r}")
    if int(taper_samples) != taper_samples or taper_samples < 0:
        raise ValueError(f"taper_samples must be a non-negative integer, got {taper_samples!r}")
    taper_samples = int(taper_samples)

    finite = np.isfinite(x)
    n_finite = int(finite.sum())
    if subtract_mean and n_finite:
        x[finite] -= x[finite].mean()

    with np.errstate(invalid="ignore"):
        mask = np.abs(x) > threshold_uv  # NaN compares False

    runs = _runs(mask)
    if len(runs) > 1:
        gaps = runs[1:, 0] - runs[:-1, 1]
        merge = gaps < merge_s * fs_hz
        for (_, stop), (start, _) in zip(runs[:-1][merge], runs[1:][merge], strict=True):
            mask[stop:start] = True
        runs = _runs(mask)
    mask &= finite
    n_artifacts = len(runs)

    if n_artifacts:
        half = taper_samples // 2
        d_max = taper_samples - 1 - half  # == half for odd lengths (the reference's 75)
        if d_max > 0:
            w = 1.0 - scipy.signal.windows.hann(taper_samples, sym=True)
            # Only samples within `d_max` of a masked run are affected: compute distances zone by zone
            # (union of the runs widened by `d_max`) instead of over the whole, possibly huge, signal.
            lo = np.maximum(runs[:, 0] - d_max, 0)
            hi = np.minimum(runs[:, 1] + d_max, x.size)
            new_zone = np.concatenate(([True], lo[1:] > hi[:-1]))
            last = np.concatenate((new_zone[1:], [True]))
            for a, b in zip(lo[new_zone], hi[last], strict=True):
                local = mask[a:b]
                d = scipy.ndimage.distance_transform_edt(~local)
                near = (~local) & (d <= d_max)
                seg = x[a:b]
                seg[near] *= w[half + d[near].astype(np.int64)]
        x[mask] = 0.0

    fraction = float(mask.sum() / n_finite) if n_finite else 0.0
    return ArtifactResult(signal_uv=x, mask=mask, n_artifacts=n_artifacts, fraction_masked=fraction)
