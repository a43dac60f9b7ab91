"""The experiment catalog: ``experiments.csv`` and ``analysis_parameters.csv`` of a project folder.

Both files are the lab's, in the reference toolkit's format: one row per experiment, selected by
the text in the ``line number`` column (an experiment key, and our Dagster partition key).
Values are converted by one set of rules (:func:`convert_value`); every problem is reported as a
:class:`~ace_core.errors.CatalogError` naming the file, the row and the column.

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
Windows).
"""

from __future__ import annotations

import ast
import copy
import csv
import datetime
import io
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any

from ace_core.errors import CatalogError
from ace_core.parameters import ALIASES, DEFAULT_PARAMETERS, INFORMATIONAL_COLUMNS, check_parameter

__all__ = [
    "CHANNELS_COLUMN",
    "DATE_COLUMN",
    "EXPERIMENTS_CSV",
    "EXPERIMENT_COLUMNS",
    "Experiment",
    "KEEP_AS_IS_COLUMNS",
    "LINE_COLUMN",
    "LineParameters",
    "NA_TEXTS",
    "PARAMETERS_CSV",
    "convert_value",
    "is_line_key",
    "line_parameters",
    "read_experiments",
    "read_parameter_rows",
    "unknown_parameter_columns",
    "write_experiments_csv",
    "write_parameters_csv",
]

logger = logging.getLogger(__name__)

EXPERIMENTS_CSV = "experiments.csv"
PARAMETERS_CSV = "analysis_parameters.csv"

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
_DATE = re.compile(r"\d{6}")
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
class _Row:
    physical_line: int
    cells: dict[str, str]


@dataclass(frozen=True)
class _Table:
    path: Path
    columns: tuple[str, ...]
    rows: dict[str, _Row]


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


def _read_table(path: Path) -> _Table:
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
    rows: dict[str, _Row] = {}
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
        rows[key] = _Row(physical_line, cells)
    return _Table(path, columns, rows)


# --- experiments.csv ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Experiment:
    """One row of ``experiments.csv``, with paths resolved under the data folder."""

    line: str
    subject_id: str | None
    date: datetime.date | None
    calcium_dirs: tuple[Path, ...]
    ephys_dir: Path | None
    channels: tuple[str, ...]
    emg_channel: str | None
    events_filename: str | None
    #: Every column of the row (including extra user columns), converted with :func:`convert_value`.
    fields: Mapping[str, Any]
    source: Path | None = None
    #: Remarks about the row that are not errors (e.g. a Windows path that cannot exist here).
    notes: tuple[str, ...] = field(default=())

    @property
    def calcium_dir(self) -> Path | None:
        """The calcium imaging directory; an error if the row lists several (use ``calcium_dirs``)."""
        if len(self.calcium_dirs) > 1:
            raise CatalogError(
                self.source or EXPERIMENTS_CSV,
                f"{len(self.calcium_dirs)} calcium imaging directories separated by ';' where one is "
                f"needed: {[str(p) for p in self.calcium_dirs]}",
                line=self.line,
                column=CALCIUM_COLUMN,
            )
        return self.calcium_dirs[0] if self.calcium_dirs else None


def _resolve_dir(text: str, data_path: Path, column: str, notes: list[str]) -> Path:
    """``data_path / text``; absolute paths stay absolute (pathlib join), as in the reference."""
    if os.name != "nt":
        windows = PureWindowsPath(text)
        if windows.drive:
            notes.append(f"{column}: {text!r} is an absolute Windows path; it cannot exist on this machine")
            return Path(text)
        if "\\" in text:
            text = windows.as_posix()
    return data_path / text


def _experiment(path: Path, key: str, cells: Mapping[str, str], data_path: Path) -> Experiment:
    fields = {name: convert_value(text, name) for name, text in cells.items()}
    notes: list[str] = []

    date = None
    if (text := fields.get(DATE_COLUMN)) is not None:
        try:
            if not _DATE.fullmatch(text):
                raise ValueError(text)
            date = datetime.datetime.strptime(text, "%y%m%d").date()
        except ValueError:
            raise CatalogError(
                path, f"{text!r} is not a date in YYMMDD form (e.g. 230901)", line=key, column=DATE_COLUMN
            ) from None

    calcium = fields.get(CALCIUM_COLUMN)
    calcium_dirs = tuple(
        _resolve_dir(part.strip(), data_path, CALCIUM_COLUMN, notes)
        for part in (calcium or "").split(";")
        if part.strip()
    )
    ephys_dir = None
    if (ephys := fields.get(EPHYS_COLUMN)) is not None:
        if ";" in ephys:
            raise CatalogError(
                path,
                f"several ephys directories ({ephys!r}) are not supported",
                line=key,
                column=EPHYS_COLUMN,
            )
        ephys_dir = _resolve_dir(ephys, data_path, EPHYS_COLUMN, notes)

    return Experiment(
        line=key,
        subject_id=fields.get("id"),
        date=date,
        calcium_dirs=calcium_dirs,
        ephys_dir=ephys_dir,
        channels=tuple(fields.get(CHANNELS_COLUMN) or ()),
        emg_channel=fields.get("emg channel"),
        events_filename=fields.get("events filename"),
        fields=fields,
        source=path,
        notes=tuple(notes),
    )


def read_experiments(
    project_path: str | os.PathLike[str], data_path: str | os.PathLike[str]
) -> dict[str, Experiment]:
    """All experiments of ``<project_path>/experiments.csv``, by line key, in file order.

    Directories are resolved under ``data_path``. A date that is not ``YYMMDD`` is an error
    (the reference silently kept the text); so is a row listing several ephys directories.
    """
    path = Path(project_path) / EXPERIMENTS_CSV
    table = _read_table(path)
    return {key: _experiment(path, key, row.cells, Path(data_path)) for key, row in table.rows.items()}


# --- analysis_parameters.csv --------------------------------------------------------------------------


@dataclass(frozen=True)
class LineParameters:
    """The effective pipeline parameters of one experiment line, with where they came from."""

    line: str
    #: :data:`DEFAULT_PARAMETERS` overridden by the recognised, non-missing values of the CSV row.
    values: Mapping[str, Any]
    #: Canonical names whose value came from the CSV.
    from_csv: frozenset[str]
    #: Columns that are neither parameters, aliases nor informational: reported, never used.
    unknown_columns: tuple[str, ...]
    notes: tuple[str, ...]
    source: Path | None

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def subset(self, names: Iterable[str]) -> dict[str, Any]:
        """Copies of the named values, e.g. the inputs of one product (for data versions/metadata)."""
        return {name: copy.deepcopy(self.values[name]) for name in names}


def _is_known(column: str) -> bool:
    return not column or column in DEFAULT_PARAMETERS or column in ALIASES or column in INFORMATIONAL_COLUMNS


def read_parameter_rows(project_path: str | os.PathLike[str]) -> dict[str, dict[str, Any]] | None:
    """Every row of ``analysis_parameters.csv`` (all columns, converted), or None if there is no file."""
    path = Path(project_path) / PARAMETERS_CSV
    if not path.exists():
        return None
    table = _read_table(path)
    return {
        key: {name: convert_value(text, name) for name, text in row.cells.items()}
        for key, row in table.rows.items()
    }


def unknown_parameter_columns(project_path: str | os.PathLike[str]) -> tuple[str, ...]:
    """Columns of ``analysis_parameters.csv`` that nothing uses (e.g. typos), in file order."""
    path = Path(project_path) / PARAMETERS_CSV
    if not path.exists():
        return ()
    return tuple(c for c in _read_table(path).columns if not _is_known(c))


def line_parameters(project_path: str | os.PathLike[str], line: str) -> LineParameters:
    """The parameters of ``line``: our defaults, overridden by its row of ``analysis_parameters.csv``.

    A missing file means "defaults" (with a note); a file without the line is an error. Aliases
    are accepted; when an alias and its canonical name are both set, the canonical one wins (e.g.
    ``crop_coords`` over the legacy ``crop``) and a note says so. Every recognised value is checked
    (:func:`~ace_core.parameters.check_parameter`) and a bad one is an error naming the column.
    """
    line = str(line)
    path = Path(project_path) / PARAMETERS_CSV
    values = copy.deepcopy(dict(DEFAULT_PARAMETERS))
    if not path.exists():
        return LineParameters(
            line=line,
            values=values,
            from_csv=frozenset(),
            unknown_columns=(),
            notes=(f"no {PARAMETERS_CSV} in {path.parent}: defaults",),
            source=None,
        )
    return _line_parameters_from_table(path, _read_table(path), line)


def parameters_by_line(
    project_path: str | os.PathLike[str], lines: Iterable[str]
) -> tuple[dict[str, LineParameters], dict[str, CatalogError]]:
    """:func:`line_parameters` of many lines from one read of the file: (parameters, errors) by line."""
    path = Path(project_path) / PARAMETERS_CSV
    if not path.exists():
        return {str(line): line_parameters(project_path, str(line)) for line in lines}, {}
    table = _read_table(path)
    found: dict[str, LineParameters] = {}
    errors: dict[str, CatalogError] = {}
    for line in map(str, lines):
        try:
            found[line] = _line_parameters_from_table(path, table, line)
        except CatalogError as exc:
            errors[line] = exc
    return found, errors


def _line_parameters_from_table(path: Path, table: _Table, line: str) -> LineParameters:
    values = copy.deepcopy(dict(DEFAULT_PARAMETERS))
    if line not in table.rows:
        raise CatalogError(
            path, f"no row for this line ({len(table.rows)} lines in the file)", line=line, column=LINE_COLUMN
        )
    cells = table.rows[line].cells
    converted = {name: convert_value(text, name) for name, text in cells.items()}

    chosen: dict[str, str] = {}  # canonical name -> column its value is taken from
    notes: list[str] = []
    for column in table.columns:
        if column in DEFAULT_PARAMETERS and converted[column] is not None:
            chosen[column] = column
    for column in table.columns:
        if column in ALIASES and converted[column] is not None:
            canonical = ALIASES[column]
            kind = "legacy" if column == "crop" else "alias"
            if canonical in chosen:
                notes.append(f"{column} ({kind}) ignored because {chosen[canonical]} is set")
            else:
                chosen[canonical] = column
                notes.append(f"{column} ({kind}) used as {canonical}")

    for canonical, column in chosen.items():
        try:
            values[canonical] = check_parameter(canonical, converted[column])
        except ValueError as exc:
            raise CatalogError(
                path, f"{cells[column].strip()!r} is not valid: expected {exc}", line=line, column=column
            ) from None

    return LineParameters(
        line=line,
        values=values,
        from_csv=frozenset(chosen),
        unknown_columns=tuple(c for c in table.columns if not _is_known(c)),
        notes=tuple(notes),
        source=path,
    )


# --- writing ------------------------------------------------------------------------------------------

_EXAMPLE_EXPERIMENT = {
    LINE_COLUMN: "Example",
    "id": "ExampleRat",
    DATE_COLUMN: "240101",
    "Box Calcium Folder ID": "NA",
    CALCIUM_COLUMN: "project/miniscope_data/ExampleRat/2024_01_01/12_00_00",
    "Box ephys folder ID": "NA",
    EPHYS_COLUMN: "project/Neuralynx_data/ExampleRat/2024-01-01_11-50-00",
    "rat weight (kg)": "0.500",
    "systemic drug": "NA",
    "systemic dose (% or mg/kg/min)": "NA",
    "systemic drug concentration (mg/mL)": "NA",
    "total systemic time (min)": "NA",
    "emg channel": "EMG.ncs",
    "events filename": "Events.nev",
    CHANNELS_COLUMN: "PFCLFPvsCBEEG;PFCEEGvsCBEEG;PCvsPFCEEG;CBvsPCEEG;EMG",
    "comments": "template row: copy it, give it a numeric line number",
}


def _literal(value: Any) -> str:
    """A value inside a list/tuple/dict, as a Python literal."""
    if isinstance(value, list | tuple | dict):
        return _format(value)
    if isinstance(value, Path):
        return repr(str(value))
    return repr(value)


def _format(value: Any) -> str:
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
    text = _format(value)
    if isinstance(value, str) and column != CHANNELS_COLUMN and convert_value(text, column) != value:
        if column not in KEEP_AS_IS_COLUMNS:
            text = repr(value)  # read back by the Python-literal rule
        if convert_value(text, column) != value:
            raise ValueError(
                f"column {column!r}: text {value!r} cannot be written so that it reads back as is"
            )
    return text


def _write_csv(
    path: str | os.PathLike[str], default_name: str, columns: list[str], lines: list[list[str]]
) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / default_name
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows(lines)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _rows_to_lines(columns: list[str], rows: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    lines = []
    for row in rows:
        key = str(row.get(LINE_COLUMN, ""))
        if not is_line_key(key):
            raise ValueError(f"line number {key!r} is not a valid experiment key")
        lines.append([_cell(row.get(c), c) for c in columns])
    return lines


def _columns(first: Iterable[str], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns = list(first)
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    return columns


def write_experiments_csv(
    path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]], *, example_row: bool = False
) -> Path:
    """Write ``experiments.csv`` atomically: the 16 columns, then extra columns in first-seen order.

    Values are written as the lab does (channel and calcium-directory lists joined by ``;``, dates
    as ``YYMMDD``, lists as ``[9119,9120]``, tuples as ``(7, 7)``, booleans as TRUE/FALSE), so that
    :func:`read_experiments` gives them back (tuples come back as lists). ``path`` may be a folder.
    ``example_row`` appends the lab's ``Example`` template row, which readers skip.
    """
    columns = _columns(EXPERIMENT_COLUMNS, rows)
    lines = _rows_to_lines(columns, rows)
    if example_row:
        lines.append([_EXAMPLE_EXPERIMENT.get(c, "") for c in columns])
    return _write_csv(path, EXPERIMENTS_CSV, columns, lines)


def write_parameters_csv(
    path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]], *, example_row: bool = False
) -> Path:
    """Write ``analysis_parameters.csv`` atomically: ``line number``, then columns in first-seen order.

    Same value formatting as :func:`write_experiments_csv`. ``example_row`` appends an ``Example``
    row holding our defaults in the parameter columns.
    """
    columns = _columns((LINE_COLUMN,), rows)
    lines = _rows_to_lines(columns, rows)
    if example_row:
        example = []
        for column in columns:
            name = ALIASES.get(column, column)
            if column == LINE_COLUMN:
                example.append("Example")
            elif name in DEFAULT_PARAMETERS:
                example.append(_format(DEFAULT_PARAMETERS[name]))
            else:
                example.append("")
        lines.append(example)
    return _write_csv(path, PARAMETERS_CSV, columns, lines)
