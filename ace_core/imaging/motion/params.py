"""Motion-correction parameters: CaImAn's ``motion`` names and the lab's defaults, checked once."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MotionCorrectionParams"]

_BORDER_MODES = {"copy", "nan", "min", "zero", "reflect"}


def _pair(value: Any, name: str) -> tuple[int, int]:
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, list | tuple | np.ndarray) or len(value) != 2:
        raise ValueError(f"{name} must be an integer or a pair of integers, got {value!r}")
    out = tuple(int(v) for v in value)
    if any(float(v) != float(o) for v, o in zip(value, out, strict=True)):
        raise ValueError(f"{name} must be integers, got {value!r}")
    return out  # type: ignore[return-value]


def _border_mode(value: str | bool) -> str:
    """Canonical border mode: CaImAn's `border_nan` values (True, False, 'copy', 'min') plus 'nan', 'zero'."""
    if value is True:
        return "nan"
    if value is False:
        return "reflect"
    if isinstance(value, str):
        low = value.strip().lower()
        low = {"true": "nan", "false": "reflect"}.get(low, low)
        if low in _BORDER_MODES:
            return low
    raise ValueError(f"border_nan must be 'copy', 'min', 'nan', 'zero', True or False, got {value!r}")


@dataclass(frozen=True)
class MotionCorrectionParams:
    """Motion-correction parameters; names and defaults follow CaImAn's ``motion`` group (lab defaults).

    Integers given as one value become pairs; lists become tuples.

    Attributes
    ----------
    max_shifts
        Largest rigid correction searched, (y, x) (px).
    gSig_filt
        Neuron half-size (px) setting the DoG band-pass of the estimation; None: no band-pass (raw frames).
    pw_rigid
        Piecewise-rigid correction after the rigid one.
    strides, overlaps
        Patch spacing and extra patch size, (y, x) (px).
    max_deviation_rigid
        Largest deviation of a patch's shift from the rigid shift (px).
    upsample_factor_grid
        Patch shifts are resolved to 1/upsample_factor_grid px.
    border_nan
        Pixels whose source lies outside the frame: 'copy' replicate edge values, True / 'nan' NaN, 'min' the
        frame's minimum, 'zero' 0, False mirror (CaImAn's warp default, BORDER_REFLECT).
    shifts_opencv
        The resampler: True -> cubic (Keys a=-0.75 convolution for rigid shifts, the kernel of OpenCV's
        INTER_CUBIC; cubic spline for the piecewise field), False -> Fourier shift for rigid shifts and linear
        interpolation of the piecewise field.
    template_frames, template_iters
        Ours (not CaImAn's): initial template from the first ``template_frames`` frames, re-registered
        ``template_iters`` times.
    chunk_frames
        Ours: frames per streamed chunk.
    niter_rig
        Whole-movie passes; each pass but the last only re-estimates the template.
    upsample_factor
        Ours: rigid sub-pixel resolution, 1/upsample_factor px.
    min_patch_corr
        Ours: normalised band-passed correlation peak below which a patch falls back to the rigid shift.
    patch_median
        Ours: size of the median filter over the patch grid applied to deviations from the rigid shift
        (1 = off, as NoRMCorre).
    subpixel
        Ours: sub-pixel refinement, 'cubic' (interpolated correlation surface) or 'dft' (local upsampled DFT).

    Raises
    ------
    ValueError
        On construction, naming every value out of range, or for a bad pair or border mode.
    """

    max_shifts: tuple[int, int] = (15, 15)
    gSig_filt: tuple[int, int] | None = (7, 7)
    pw_rigid: bool = True
    strides: tuple[int, int] = (48, 48)
    overlaps: tuple[int, int] = (24, 24)
    max_deviation_rigid: int = 7
    upsample_factor_grid: int = 4
    border_nan: str | bool = "copy"
    shifts_opencv: bool = True
    template_frames: int = 200
    chunk_frames: int = 100
    niter_rig: int = 1
    upsample_factor: int = 10
    template_iters: int = 2
    min_patch_corr: float = 0.3
    patch_median: int = 3
    subpixel: str = "cubic"

    def __post_init__(self) -> None:
        """Normalise pairs and ``gSig_filt``, then check every value (see the class's Raises section)."""
        fix = object.__setattr__
        fix(self, "max_shifts", _pair(self.max_shifts, "max_shifts"))
        fix(self, "strides", _pair(self.strides, "strides"))
        fix(self, "overlaps", _pair(self.overlaps, "overlaps"))
        if self.gSig_filt is not None and self.gSig_filt is not False:
            fix(self, "gSig_filt", _pair(self.gSig_filt, "gSig_filt"))
        else:
            fix(self, "gSig_filt", None)
        _border_mode(self.border_nan)
        problems = []
        if min(self.max_shifts) < 0 or self.max_deviation_rigid < 0 or min(self.overlaps) < 0:
            problems.append("max_shifts, max_deviation_rigid and overlaps must be >= 0")
        if min(self.strides) < 1 or (self.gSig_filt is not None and min(self.gSig_filt) < 1):
            problems.append("strides and gSig_filt must be >= 1")
        for name in (
            "upsample_factor_grid",
            "upsample_factor",
            "template_frames",
            "chunk_frames",
            "niter_rig",
            "patch_median",
        ):
            if int(getattr(self, name)) < 1:
                problems.append(f"{name} must be >= 1")
        if self.subpixel not in ("cubic", "dft"):
            problems.append(f"subpixel must be 'cubic' or 'dft', got {self.subpixel!r}")
        if self.template_iters < 0:
            problems.append("template_iters must be >= 0")
        if problems:
            raise ValueError("MotionCorrectionParams: " + "; ".join(problems))

    @property
    def border_mode(self) -> str:
        """Canonical border mode: 'copy', 'nan', 'min', 'zero' or 'reflect'."""
        return _border_mode(self.border_nan)

    @classmethod
    def from_parameters(cls, values: Mapping[str, Any]) -> MotionCorrectionParams:
        """Build from a line's parameter dict (CaImAn names; lists become tuples); other keys are ignored.

        Parameters
        ----------
        values
            Parameter values by name; ``gSig_filt`` None / False / 'none' means no band-pass (two-photon
            style, raw frames).

        Returns
        -------
        MotionCorrectionParams

        Raises
        ------
        ValueError
            As the constructor.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key not in names:
                continue
            if key == "gSig_filt" and (
                value is None or value is False or str(value).lower() in {"none", "false"}
            ):
                value = None
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[key] = value
        return cls(**kwargs)
