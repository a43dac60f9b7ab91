"""The lab's CSV files, read and written by one set of rules (experiments.csv, analysis_parameters.csv).

Both files are in the reference toolkit's format: one row per experiment, selected by the text in the
``line number`` column (an experiment key, and our Dagster partition key). Values are converted by one set
of rules (:func:`convert_value`); every problem is reported as a :class:`~ace_core.errors.CatalogError`
naming the file, the row and the column.

Row rules (both files):

* The header is the first line and must contain ``line number``; header names are stripped.
* Every non-blank row must have as many fields as the header (typical cause of a mismatch: an
  unquoted tuple such as ``(0, 1, 2)``).
* Blank rows, and rows whose ``line number`` does not start with a digit (the lab's ``Example``
  template row, notes), are skipped.
* A key that starts with a digit must match ``[0-9][A-Za-z0-9_-]*`` (``12``, ``007``, ``12a``,
  ``12_b``): it must be a safe Dagster partition key and a safe folder name. Keys are text:
  ``007`` stays ``007`` and differs from ``7``. Anything else (``12.0``, ``12/3``, ``12 a``) is an
  error, never a silent skip.
* A key may appear only once.

Files are read as UTF-8 (with or without BOM), falling back to Windows-1252 (Excel's "CSV" on
Windows). Files are written atomically, in the form the lab writes them, so that they read back as
written.
"""

from __future__ import annotations

import ast
import csv
import datetime
import io
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ace_core.errors import CatalogError
from ace_core.store.atomic import atomic_file

__all__ = [
    "CALCIUM_COLUMN",
    "CHANNELS_COLUMN",
    "DATE_COLUMN",
    "EPHYS_COLUMN",
    "EXPERIMENT_COLUMNS",
    "KEEP_AS_IS_COLUMNS",
    "LINE_COLUMN",
    "NA_TEXTS",
    "Row",
    "Table",
    "columns_of",
    "convert_value",
    "format_value",
    "is_line_key",
    "read_table",
    "write_table",
]

logger = logging.getLogger(__name__)

LINE_COLUMN = "line number"
DATE_COLUMN = "date (YYMMDD)"
CALCIUM_COLUMN = "calcium imaging directory"
EPHYS_COLUMN = "ephys directory"
CHANNELS_COLUMN = "LFP and EEG CSCs"

EXPERIMENT_COLUMNS: tuple[str, ...] = (
    LINE_COLUMN,
    "id",
    DATE_COLUMN,
    "Box Calcium Folder ID",
    CALCIUM_COLUMN,
    "Box ephys folder ID",
    EPHYS_COLUMN,
    "rat weight (kg)",
    "systemic drug",
    "systemic dose (% or mg/kg/min)",
    "systemic drug concentration (mg/mL)",
    "total systemic time (min)",
    "emg channel",
    "events filename",
    CHANNELS_COLUMN,
    "comments",
)

#: Cell texts that mean "no value" (compared case-insensitively after stripping).
NA_TEXTS: frozenset[str] = frozenset({"", "na", "n/a", "#n/a", "<na>", "nan", "-nan", "none", "null"})

#: Columns whose text is kept as it is (stripped; NA spellings still give None). The reference's
#: list, plus the key, the date (``000101`` must not become 101) and names that could look numeric.
KEEP_AS_IS_COLUMNS: frozenset[str] = frozenset(
    {
        LINE_COLUMN,
        "id",
        DATE_COLUMN,
        CALCIUM_COLUMN,
        EPHYS_COLUMN,
        "method_deconvolution",
        "method_init",
        "border_nan",
        "comments",
        "emg channel",
        "events filename",
        "channel_name",
    }
)

_KEY = re.compile(r"[0-9][A-Za-z0-9_-]*")
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INFINITE = re.compile(r"[+-]?(inf|infinity)", re.IGNORECASE)
_MALFORMED_HINT = "(an unquoted tuple such as (0, 1, 2)?)"


# --- values -------------------------------------------------------------------------------------------


def _normalise(value: Any) -> Any:
    """Tuples -> lists, integral floats -> int, recursively; reject anything not plain data."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, dict):
        return {_normalise(k): _normalise(v) for k, v in value.items()}
    raise TypeError(type(value).__name__)


def convert_value(text: str | None, column: str | None = None) -> Any:
    """Convert one CSV cell the way the lab's files are meant to be read.

    In order: the NA spellings (``NA``, ``N/A``, ``NaN``, ``None``, ``null``, blank, ...) give None;
    :data:`KEEP_AS_IS_COLUMNS` give the stripped text; ``LFP and EEG CSCs`` gives the list of
    ``;``-separated names; otherwise JSON (a ``( ... )`` tuple is read as a list, so ``(7, 7)`` ->
    ``[7, 7]`` and ``[9119,9120]`` -> a list), then a Python literal (``['0.avi']``, a dict), then
    ``true``/``false`` in any case, then a decimal number, else the stripped text.

    Tuples become lists and **every integral float becomes an int** (``40.0`` -> 40, also inside
    lists), as CaImAn needs ints where the reference's pandas reading produced floats. Text with
    leading zeros in an ordinary column is a number (``007`` -> 7); quote it (``'007'``) to keep it.
    """
    if text is None:
        return None
    stripped = text.strip()
    if stripped.lower() in NA_TEXTS:
        return None
    if column in KEEP_AS_IS_COLUMNS:
        return stripped
    if column == CHANNELS_COLUMN:
        return [name.strip() for name in stripped.split(";") if name.strip()]
    return _parse(stripped)


def _parse(text: str) -> Any:
    attempts = [text]
    if text.startswith("(") and text.endswith(")"):
        attempts.insert(0, f"[{text[1:-1]}]")
    for attempt in attempts:
        try:
            return _normalise(json.loads(attempt))
        except (ValueError, RecursionError):
            pass
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    else:
        # Bare numbers only in plain decimal form: Python would read 15_04_11 as 150411, 0x10 as 16.
        if not isinstance(value, int | float | complex) or isinstance(value, bool):
            try:
                return _normalise(value)
            except TypeError:
                pass
    if text.lower() in {"true", "false"}:
        return text.lower() == "true"
    if _DECIMAL.fullmatch(text) or _INFINITE.fullmatch(text):
        return _normalise(float(text))
    return text


# --- reading ------------------------------------------------------------------------------------------


def is_line_key(key: str) -> bool:
    """True if ``key`` is an acceptable experiment key (and so a safe Dagster partition key)."""
    return bool(_KEY.fullmatch(key))


@dataclass(frozen=True)
class Row:
    """One row: the physical line it starts on and its cells' text by column."""

    physical_line: int
    cells: dict[str, str]


@dataclass(frozen=True)
class Table:
    """A checked CSV file: its header and its experiment rows by line key."""

    path: Path
    columns: tuple[str, ...]
    rows: dict[str, Row]


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _records(path: Path) -> Iterable[tuple[int, list[str]]]:
    """(first physical line, fields) of every record; quoted fields may span lines."""
    reader = csv.reader(io.StringIO(_decode(path), newline=""))
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CatalogError(path, f"not readable as CSV: {exc}", line=start) from None
        yield start, fields
        start = reader.line_num + 1


def _check_key(path: Path, key: str, physical_line: int) -> None:
    if is_line_key(key):
        return
    bad = sorted({c for c in key[1:] if not (c.isascii() and (c.isalnum() or c in "_-"))})
    shown = ", ".join(repr(c) for c in bad) or "?"
    raise CatalogError(
        path,
        f"line number {key!r} (physical line {physical_line}) is not a valid experiment key: "
        f"it must be digits optionally followed by letters, digits, '_' or '-' "
        f"(it is a Dagster partition key and a folder name); not allowed: {shown}",
        line=key,
        column=LINE_COLUMN,
    )


def read_table(path: Path) -> Table:
    """Read and check one of the lab's CSV files (the rules of the module docstring).

    Raises
    ------
    CatalogError
        Naming the file, the row and the column of the first problem.
    """
    if not path.is_file():
        raise CatalogError(path, "file not found")
    records = iter(_records(path))
    try:
        _, header = next(records)
    except StopIteration:
        raise CatalogError(path, f"empty file; expected a header with a {LINE_COLUMN!r} column") from None
    columns = tuple(name.strip() for name in header)
    seen: set[str] = set()
    for name in columns:
        if name and name in seen:
            raise CatalogError(path, "column appears twice in the header", column=name)
        seen.add(name)
    if LINE_COLUMN not in columns:
        raise CatalogError(
            path, f"the header has no {LINE_COLUMN!r} column (columns: {list(columns)})", column=LINE_COLUMN
        )
    key_index = columns.index(LINE_COLUMN)
    rows: dict[str, Row] = {}
    for physical_line, fields in records:
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(columns):
            raise CatalogError(
                path,
                f"expected {len(columns)} fields, got {len(fields)} {_MALFORMED_HINT}",
                line=physical_line,
            )
        key = fields[key_index].strip()
        if not key or key[0] not in "0123456789":
            logger.debug("%s: skipped physical line %d (line number %r)", path, physical_line, key)
            continue
        _check_key(path, key, physical_line)
        if key in rows:
            raise CatalogError(
                path,
                f"appears twice, on physical lines {rows[key].physical_line} and {physical_line}",
                line=key,
                column=LINE_COLUMN,
            )
        cells = {}
        for number, (name, text) in enumerate(zip(columns, fields, strict=True), start=1):
            if name:
                cells[name] = text
            elif text.strip():
                raise CatalogError(
                    path, f"value {text.strip()!r} in field {number}, which has no header", line=key
                )
        rows[key] = Row(physical_line, cells)
    return Table(path, columns, rows)


# --- writing ------------------------------------------------------------------------------------------


def _literal(value: Any) -> str:
    """A value inside a list/tuple/dict, as a Python literal."""
    if isinstance(value, list | tuple | dict):
        return format_value(value)
    if isinstance(value, Path):
        return repr(str(value))
    return repr(value)


def format_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime.date):
        return value.strftime("%y%m%d")
    if isinstance(value, list):
        return "[" + ",".join(_literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write a {type(value).__name__} to a catalog CSV")


def _cell(value: Any, column: str) -> str:
    """The CSV text of ``value``; raises ValueError if it would not read back as ``value``."""
    if isinstance(value, list | tuple) and column in (CHANNELS_COLUMN, CALCIUM_COLUMN):
        return ";".join(str(v) for v in value)
    text = format_value(value)
    if isinstance(value, str) and column != CHANNELS_COLUMN and convert_value(text, column) != value:
        if column not in KEEP_AS_IS_COLUMNS:
            text = repr(value)  # read back by the Python-literal rule
        if convert_value(text, column) != value:
            raise ValueError(
                f"column {column!r}: text {value!r} cannot be written so that it reads back as is"
            )
    return text


def columns_of(first: Iterable[str], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """``first``, then every other key of ``rows`` in first-seen order."""
    columns = list(first)
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    return columns


def write_table(
    path: str | os.PathLike[str],
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    *,
    extra_lines: Sequence[Sequence[str]] = (),
) -> Path:
    """Write rows under ``columns`` atomically, each value as the lab writes it (see :func:`format_value`).

    Parameters
    ----------
    path
        The CSV file.
    columns
        Header, in order; a row's missing columns are written empty.
    rows
        One mapping per experiment line; its ``line number`` must be a valid key.
    extra_lines
        Lines of text appended as they are (e.g. the lab's ``Example`` template row).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        When a key is invalid or a value would not read back as written.
    """
    lines = []
    for row in rows:
        key = str(row.get(LINE_COLUMN, ""))
        if not is_line_key(key):
            raise ValueError(f"line number {key!r} is not a valid experiment key")
        lines.append([_cell(row.get(c), c) for c in columns])
    with atomic_file(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(list(columns))
        writer.writerows(lines)
        writer.writerows(extra_lines)
    return Path(path)
