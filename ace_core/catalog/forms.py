"""Value forms of the analysis parameters: what a value must look like, checked one way everywhere.

A :class:`Form` pairs a check (returns the value in canonical form or raises :class:`InvalidValue`) with
the text an error message shows ("two frequencies in Hz, 0 <= low < high") and the Python type a
Launchpad field of that parameter takes. CSV cells, Launchpad overrides and defaults all pass through the
same check.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Form", "InvalidValue"]


class InvalidValue(ValueError):
    """A value does not have its parameter's form."""


@dataclass(frozen=True)
class Form:
    """How a parameter's value is checked, described and typed.

    Attributes
    ----------
    check
        Returns the value in canonical form (tuples as lists, ``FALSE`` as None where allowed);
        raises :class:`InvalidValue` when the value does not fit.
    expected
        What a valid value looks like, for error messages and documentation.
    config_type
        Type of the Launchpad field (``bool``, ``int``, ``float``, ``str``, ``list[int]``, ...).
    """

    check: Callable[[Any], Any]
    expected: str
    config_type: Any

    def optional(self, expected: str | None = None) -> Form:
        """The same form, also accepting None (empty cell)."""
        return Form(
            lambda value: None if value is None else self.check(value),
            expected or f"{self.expected}, or empty",
            self.config_type,
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fail() -> None:
    raise InvalidValue


def _check_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        _fail()
    return value


def _check_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        _fail()
    return value


def _false_text(value: Any) -> bool:
    """FALSE in a CSV cell arrives as a bool; typed in the Launchpad it arrives as text."""
    return value is False or (isinstance(value, str) and value.strip().lower() in {"false", "none"})


BOOL = Form(_check_bool, "TRUE or FALSE", bool)
TEXT = Form(_check_text, "a non-empty text", str)


def integer(minimum: int, expected: str) -> Form:
    """An integer >= ``minimum``."""

    def check(value: Any) -> int:
        if not _is_int(value) or value < minimum:
            _fail()
        return value

    return Form(check, expected, int)


def number(
    expected: str, minimum: float = -math.inf, maximum: float = math.inf, *, strict: bool = False
) -> Form:
    """A finite number in [minimum, maximum] (``strict``: minimum excluded)."""

    def check(value: Any) -> float:
        if not _is_number(value):
            _fail()
        if (value <= minimum if strict else value < minimum) or value > maximum:
            _fail()
        return value

    return Form(check, expected, float)


def choice(*allowed: str, false_means_none: bool = False) -> Form:
    """One of ``allowed`` (any case, returned lower-case); with ``false_means_none``, FALSE gives None."""
    shown = ", ".join(allowed[:-1]) + f" or {allowed[-1]}" if len(allowed) > 1 else allowed[0]

    def check(value: Any) -> str | None:
        if false_means_none and _false_text(value):
            return None
        if not isinstance(value, str) or value.strip().lower() not in allowed:
            _fail()
        return value.strip().lower()

    return Form(check, shown + (", or FALSE for none" if false_means_none else ""), str)


def _check_band(value: Any) -> list[float]:
    if not isinstance(value, list | tuple) or len(value) != 2 or not all(map(_is_number, value)):
        _fail()
    low, high = value
    if not 0 <= low < high:
        _fail()
    return list(value)


def band(example: str) -> Form:
    """Two increasing non-negative frequencies (Hz)."""
    return Form(_check_band, f"two frequencies in Hz, 0 <= low < high, e.g. {example}", list[float])


def _check_cut(value: Any) -> float | list[float]:
    # A one-element list is what a Launchpad list field gives for a single cut-off.
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    if _is_number(value) and value > 0:
        return value
    return _check_band(value)


CUT = Form(_check_cut, "a positive frequency, or two frequencies 0 <= low < high (Hz)", list[float])


def int_pair(minimum: int, example: str) -> Form:
    """Two integers >= ``minimum`` (one integer n means (n, n)), e.g. CaImAn's ``(7, 7)``."""
    element = integer(minimum, "").check

    def check(value: Any) -> list[int]:
        if _is_int(value):
            value = [value, value]
        if not isinstance(value, list | tuple) or len(value) != 2:
            _fail()
        return [element(v) for v in value]

    word = "positive" if minimum == 1 else "non-negative"
    return Form(check, f"two {word} integers (px), e.g. {example}", list[int])


def _check_ttl_indices(value: Any) -> list[int]:
    if _is_int(value):
        value = [value]
    if not isinstance(value, list | tuple):
        _fail()
    return [integer(0, "").check(v) for v in value]


TTL_INDICES = Form(_check_ttl_indices, "a list of non-negative integers, e.g. [9119,9120]", list[int])


def _check_crop_coords(value: Any) -> list[int]:
    # A dict is what the reference wrote back into the CSV (the text of {x0, y0, x1, y1}).
    if isinstance(value, dict):
        try:
            value = [value[k] for k in ("x0", "y0", "x1", "y1")]
        except KeyError:
            _fail()
    if not isinstance(value, list | tuple) or len(value) != 4:
        _fail()
    coords = [integer(0, "").check(v) for v in value]
    if coords[0] == coords[2] or coords[1] == coords[3]:
        _fail()
    return coords


CROP_COORDS = Form(
    _check_crop_coords,
    "four non-negative integers (x0, y0, x1, y1) with x0 != x1 and y0 != y1, e.g. (67, 503, 555, 61)",
    list[int],
)


def _check_border_nan(value: Any) -> bool | str:
    # border_nan is a keep-as-is column (the reference's rule), so TRUE/FALSE arrive as text.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    if isinstance(value, str) and value.strip().lower() in {"copy", "min"}:
        return value.strip().lower()
    _fail()


BORDER_NAN = Form(_check_border_nan, "copy, min, TRUE or FALSE", str)
