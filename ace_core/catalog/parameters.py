"""A line's effective analysis parameters: defaults <- its analysis_parameters.csv row <- run overrides.

Every value, whether from the CSV or from a run's overrides (the Dagster Launchpad), is checked by the one
form its parameter declares in :mod:`ace_core.catalog.parameter_table`. Columns that are neither parameters,
aliases, reference vocabulary nor informational are reported as unknown and never used.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ace_core.catalog import layout
from ace_core.catalog.csv_table import LINE_COLUMN, Table, columns_of, convert_value, format_value, read_table
from ace_core.catalog.csv_table import write_table as _write_table
from ace_core.catalog.parameter_table import (
    ALIASES,
    DEFAULT_PARAMETERS,
    GROUPS,
    INFORMATIONAL_COLUMNS,
    NOT_USED,
    PARAMETERS,
    check_parameter,
    product_parameters,
)
from ace_core.errors import CatalogError, ParameterError

__all__ = [
    "LineParameters",
    "line_parameters",
    "parameters_by_line",
    "read_parameter_rows",
    "unknown_parameter_columns",
    "write_parameters_csv",
]


@dataclass(frozen=True)
class LineParameters:
    """The effective pipeline parameters of one experiment line, with where they came from.

    Attributes
    ----------
    line
        The experiment line.
    values
        :data:`~ace_core.catalog.parameter_table.DEFAULT_PARAMETERS` overridden by the recognised,
        non-missing values of the CSV row, then by run overrides.
    from_csv
        Names whose value came from the CSV row.
    unknown_columns
        Columns that are neither parameters, aliases nor known vocabulary: reported, never used.
    notes
        Remarks that are not errors (an alias used, a reference column set but not used, ...).
    source
        The CSV file, or None when there is none (defaults).
    overridden
        Names whose value came from run overrides (the Launchpad).
    """

    line: str
    values: Mapping[str, Any]
    from_csv: frozenset[str]
    unknown_columns: tuple[str, ...]
    notes: tuple[str, ...]
    source: Path | None
    overridden: frozenset[str] = field(default=frozenset())

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def subset(self, names: Iterable[str]) -> dict[str, Any]:
        """Copies of the named values (the inputs of one product, for data versions and metadata)."""
        return {name: copy.deepcopy(self.values[name]) for name in names}

    def for_product(self, product: str, *, observed_only: bool = False) -> dict[str, Any]:
        """Copies of the values a product reads, by parameter name.

        Parameters
        ----------
        product
            Product (asset) name.
        observed_only
            Leave out parameters that do not change results (worker counts).
        """
        names = [
            n
            for n in product_parameters(product)
            if not observed_only or any(GROUPS[g].observed for g in PARAMETERS[n].groups)
        ]
        return self.subset(names)

    def kwargs_for(self, product: str) -> dict[str, Any]:
        """The values that change a product's result, keyed by Python identifier (spaces as ``_``), to be
        passed as keyword arguments to the function that makes the product."""
        return {PARAMETERS[n].field_name: v for n, v in self.for_product(product, observed_only=True).items()}

    def with_overrides(self, overrides: Mapping[str, Any], *, source: str) -> LineParameters:
        """These parameters with some values replaced, each checked like a CSV value.

        Parameters
        ----------
        overrides
            Values by parameter name; None values are ignored (they mean "not overridden").
        source
            Where the overrides come from, for error messages (e.g. "Launchpad config of t_ca_im").

        Raises
        ------
        ParameterError
            Naming the source, the parameter and the expected form, for an unknown name or a bad value.
        """
        values = dict(self.values)
        changed = set()
        for name, value in overrides.items():
            if value is None:
                continue
            if name not in PARAMETERS:
                raise ParameterError(f"{source}: {name!r} is not a parameter")
            try:
                values[name] = check_parameter(name, value)
            except ValueError as exc:
                raise ParameterError(
                    f"line {self.line}, {source}: {name} = {value!r} is not valid: expected {exc}"
                ) from None
            changed.add(name)
        if not changed:
            return self
        return replace(self, values=values, overridden=self.overridden | frozenset(changed))


def _is_known(column: str) -> bool:
    return (
        not column
        or column in DEFAULT_PARAMETERS
        or column in ALIASES
        or column in NOT_USED
        or column in INFORMATIONAL_COLUMNS
    )


def read_parameter_rows(project_path: str | os.PathLike[str]) -> dict[str, dict[str, Any]] | None:
    """Every row of ``analysis_parameters.csv`` (all columns, converted), or None if there is no file."""
    path = layout.parameters_path(project_path)
    if not path.exists():
        return None
    table = read_table(path)
    return {
        key: {name: convert_value(text, name) for name, text in row.cells.items()}
        for key, row in table.rows.items()
    }


def unknown_parameter_columns(project_path: str | os.PathLike[str]) -> tuple[str, ...]:
    """Columns of ``analysis_parameters.csv`` that nothing uses (e.g. typos), in file order."""
    path = layout.parameters_path(project_path)
    if not path.exists():
        return ()
    return tuple(c for c in read_table(path).columns if not _is_known(c))


def _defaults(line: str, path: Path) -> LineParameters:
    return LineParameters(
        line=line,
        values=copy.deepcopy(dict(DEFAULT_PARAMETERS)),
        from_csv=frozenset(),
        unknown_columns=(),
        notes=(f"no {layout.PARAMETERS_CSV} in {path.parent}: defaults",),
        source=None,
    )


def line_parameters(project_path: str | os.PathLike[str], line: str) -> LineParameters:
    """The parameters of one line: our defaults, overridden by its row of ``analysis_parameters.csv``.

    Parameters
    ----------
    project_path
        The project folder.
    line
        The experiment line.

    Returns
    -------
    LineParameters
        A missing file means "defaults" (with a note). Aliases are accepted; when an alias and its
        canonical name are both set, the canonical one wins (``crop_coords`` over the legacy ``crop``) and
        a note says so.

    Raises
    ------
    CatalogError
        When the file has no row for the line, or a value does not have its parameter's form (naming the
        file, the line and the column).
    """
    line = str(line)
    path = layout.parameters_path(project_path)
    if not path.exists():
        return _defaults(line, path)
    return _from_table(path, read_table(path), line)


def parameters_by_line(
    project_path: str | os.PathLike[str], lines: Iterable[str]
) -> tuple[dict[str, LineParameters], dict[str, CatalogError]]:
    """:func:`line_parameters` of many lines from one read of the file: (parameters, errors) by line."""
    path = layout.parameters_path(project_path)
    if not path.exists():
        return {str(line): _defaults(str(line), path) for line in lines}, {}
    table = read_table(path)
    found: dict[str, LineParameters] = {}
    errors: dict[str, CatalogError] = {}
    for line in map(str, lines):
        try:
            found[line] = _from_table(path, table, line)
        except CatalogError as exc:
            errors[line] = exc
    return found, errors


def _from_table(path: Path, table: Table, line: str) -> LineParameters:
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
        elif column in NOT_USED and converted[column] is not None:
            notes.append(f"{column} is set but not used: {NOT_USED[column]}")
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


def write_parameters_csv(
    path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]], *, example_row: bool = False
) -> Path:
    """Write ``analysis_parameters.csv`` atomically: ``line number``, then columns in first-seen order.

    Same value formatting as :func:`~ace_core.catalog.experiments.write_experiments_csv`. ``path`` may be
    the project folder. ``example_row`` appends an ``Example`` row holding our defaults in the parameter
    columns.
    """
    path = Path(path)
    if path.is_dir():
        path = layout.parameters_path(path)
    columns = columns_of((LINE_COLUMN,), rows)
    extra = []
    if example_row:
        example = []
        for column in columns:
            name = ALIASES.get(column, column)
            if column == LINE_COLUMN:
                example.append("Example")
            elif name in DEFAULT_PARAMETERS:
                example.append(format_value(DEFAULT_PARAMETERS[name]))
            else:
                example.append("")
        extra.append(example)
    return _write_table(path, columns, rows, extra_lines=extra)
