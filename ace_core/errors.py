"""Error types. Every error about bad input names the file, the place in it and what was expected."""

from __future__ import annotations

from pathlib import Path


class AceError(Exception):
    """Base class of all ACE errors."""


class InputFormatError(AceError, ValueError):
    """A file (or folder) does not have the content we expect (a ``ValueError``).

    The message always starts with the path, then the location (line/row, column) when known.

    Parameters
    ----------
    path
        The file or folder.
    message
        What is wrong and what was expected.
    line
        Line number (int), or a row's key (str, shown quoted), when known.
    column
        Column name, when known.

    Attributes
    ----------
    path, line, column
        As given (``path`` as a :class:`~pathlib.Path`).
    """

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        line: str | int | None = None,
        column: str | None = None,
    ) -> None:
        """Build the message ``"<path>[, line <line>][, column <column>]: <message>"``."""
        self.path = Path(path)
        self.line = line
        self.column = column
        where = str(self.path)
        if line is not None:
            where += f", line number {line!r}" if isinstance(line, str) else f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")


class CatalogError(InputFormatError):
    """A problem in experiments.csv or analysis_parameters.csv (an :class:`InputFormatError`)."""


class SyncError(AceError):
    """The TTL frame clock cannot be reconciled with the movie."""


class ParameterError(AceError, ValueError):
    """A parameter value given outside the CSV (a run's overrides) does not have its parameter's form.

    A ``ValueError``.
    """
