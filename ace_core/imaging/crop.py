"""Crop boxes: the reference's bottom-left-origin ``(x0, y0, x1, y1)`` coordinates as numpy slices.

The lab draws crops over a projection image shown with its origin at the bottom left (x to the right,
y upwards), so the stored coordinates are not row/column indices. With frame height ``H`` the box is
rows ``[min(H - y1, H - y0), max(H - y1, H - y0))`` and columns ``[min(x0, x1), max(x0, x1))``; the
order of the two corners does not matter. Example (the reference's own test): ``H = 24``, ``W = 32``,
``(2, 3, 20, 15)`` -> rows 9..20, columns 2..19, a 12 x 18 box.

Validation follows the reference's newer crop GUI: integers, ``0 <= x <= W``, ``0 <= y <= H``, non-zero
width and height, and never silent clamping: a box that does not fit the frame is an error naming the
bad value and the frame size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ace_core.errors import AceError

__all__ = ["CropBox", "CropError", "coords_from_box", "crop_box", "crop_frames"]

_NAMES = ("x0", "y0", "x1", "y1")


class CropError(AceError, ValueError):
    """Crop coordinates that do not describe a box inside the frame (a ``ValueError``)."""


@dataclass(frozen=True)
class CropBox:
    """A crop as numpy slices ``frames[..., row0:row1, col0:col1]`` (top-left origin, half-open).

    Attributes
    ----------
    row0, row1
        First row and one past the last (px).
    col0, col1
        First column and one past the last (px).

    Raises
    ------
    CropError
        On construction, unless ``0 <= row0 < row1`` and ``0 <= col0 < col1``.
    """

    row0: int
    row1: int
    col0: int
    col1: int

    def __post_init__(self) -> None:
        """Refuse an empty or negative box."""
        if not (0 <= self.row0 < self.row1 and 0 <= self.col0 < self.col1):
            raise CropError(f"empty or negative crop box {self}")

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the cropped frame (px)."""
        return self.row1 - self.row0, self.col1 - self.col0


def _as_int(value: Any) -> int | None:
    # Integers only, like the catalog (bool is not an integer here; neither is 67.0).
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    return None


def _format(values: Sequence[Any]) -> str:
    return "(" + ", ".join(str(v) for v in values) + ")"


def crop_box(coords: Any, height: int, width: int, *, line: str | int | None = None) -> CropBox:
    """Validate bottom-left-origin ``(x0, y0, x1, y1)`` against a ``height`` x ``width`` frame.

    Parameters
    ----------
    coords
        A sequence of four integers or a mapping with keys x0, y0, x1, y1 (the dict form the reference wrote
        back into ``analysis_parameters.csv``); booleans and floats such as 67.0 are not integers here.
    height, width
        Frame size (px).
    line
        Experiment line, named in error messages.

    Returns
    -------
    CropBox

    Raises
    ------
    CropError
        A ``ValueError`` naming ``line`` (when given), the coordinates, the bad value and the frame size,
        for a wrong count or type, a value outside ``0..W``/``0..H``, or zero width or height.
    """
    prefix = f"line {line}: " if line is not None else ""
    if isinstance(coords, Mapping):
        missing = [k for k in _NAMES if k not in coords]
        if missing:
            raise CropError(f"{prefix}crop_coords {dict(coords)!r}: missing {', '.join(missing)}")
        values: list[Any] = [coords[k] for k in _NAMES]
    elif isinstance(coords, Sequence | np.ndarray) and not isinstance(coords, str | bytes):
        values = list(coords)
    else:
        raise CropError(f"{prefix}crop_coords {coords!r}: expected four integers (x0, y0, x1, y1)")
    shown = f"{prefix}crop_coords {_format(values)}"
    if len(values) != 4:
        raise CropError(f"{shown}: expected four integers (x0, y0, x1, y1), got {len(values)} values")
    ints: list[int] = []
    for name, value in zip(_NAMES, values, strict=True):
        as_int = _as_int(value)
        if as_int is None:
            raise CropError(f"{shown}: {name} = {value!r} is not an integer")
        ints.append(as_int)
    x0, y0, x1, y1 = ints
    for name, value in zip(_NAMES, ints, strict=True):
        limit, axis = (width, "width") if name[0] == "x" else (height, "height")
        if not 0 <= value <= limit:
            raise CropError(f"{shown}: {name} = {value} is outside 0..{limit} (frame {axis} {limit})")
    if x0 == x1:
        raise CropError(f"{shown}: zero width (x0 = x1 = {x0}; frame width {width})")
    if y0 == y1:
        raise CropError(f"{shown}: zero height (y0 = y1 = {y0}; frame height {height})")
    return CropBox(row0=height - max(y0, y1), row1=height - min(y0, y1), col0=min(x0, x1), col1=max(x0, x1))


def crop_frames(frames: np.ndarray, box: CropBox) -> np.ndarray:
    """``frames[..., row0:row1, col0:col1]`` (a view) for one frame (H, W) or a stack (n, H, W).

    Parameters
    ----------
    frames
        One frame or a stack.
    box
        The crop.

    Returns
    -------
    numpy.ndarray
        A view of ``frames``.

    Raises
    ------
    CropError
        If the box does not fit the frames.
    """
    height, width = frames.shape[-2:]
    if box.row1 > height or box.col1 > width:
        raise CropError(f"crop box {box} does not fit frames of {height} x {width} (rows x cols)")
    return frames[..., box.row0 : box.row1, box.col0 : box.col1]


def coords_from_box(box: CropBox, height: int) -> tuple[int, int, int, int]:
    """Bottom-left-origin ``(x0, y0, x1, y1)`` of ``box`` (x0 < x1, y0 < y1): inverse of :func:`crop_box`.

    Parameters
    ----------
    box
        The crop.
    height
        Frame height (px).

    Returns
    -------
    tuple of int
        ``(x0, y0, x1, y1)``.

    Raises
    ------
    CropError
        If the box does not fit a frame of that height.
    """
    if box.row1 > height:
        raise CropError(f"crop box {box} does not fit a frame of height {height}")
    return box.col0, height - box.row1, box.col1, height - box.row0
