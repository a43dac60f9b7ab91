"""One experiment line as a processing step sees it: its catalog row, its parameters and its recording.

Each is resolved at most once, on first use: a step that only needs parameters never parses
``experiments.csv``; a step that needs the Miniscope device folder or its timestamps does not probe the
movies; a step that needs the recording opens (and probes) it once.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ace_core.catalog import layout
from ace_core.catalog.csv_table import CALCIUM_COLUMN, EPHYS_COLUMN, LINE_COLUMN
from ace_core.catalog.experiments import Experiment, read_experiments
from ace_core.catalog.parameters import LineParameters, line_parameters
from ace_core.errors import CatalogError
from ace_core.io.miniscope import (
    TIMESTAMPS_FILE,
    MiniscopeRecording,
    find_device_dir,
    open_recording,
    read_timestamps,
)

__all__ = ["LineContext"]


class LineContext:
    """The experiment, parameters and recording of one line, each read once.

    Parameters
    ----------
    project_path
        The project folder (``experiments.csv``, ``analysis_parameters.csv``).
    data_path
        Root under which the catalog's raw-data directories resolve.
    line
        The experiment line (partition key).
    overrides
        Parameter values for this run only (None values are ignored), checked like CSV values.
    overrides_source
        Where the overrides come from, named in error messages.
    """

    def __init__(
        self,
        project_path: str | os.PathLike[str],
        data_path: str | os.PathLike[str],
        line: str,
        *,
        overrides: Mapping[str, Any] | None = None,
        overrides_source: str = "run overrides",
    ) -> None:
        self.project_path = Path(project_path)
        self.data_path = Path(data_path)
        self.line = str(line)
        self._overrides = dict(overrides or {})
        self._overrides_source = overrides_source

    def __repr__(self) -> str:
        return f"LineContext(line={self.line!r}, project_path={str(self.project_path)!r})"

    @functools.cached_property
    def experiment(self) -> Experiment:
        """The line's row of ``experiments.csv``.

        Raises
        ------
        CatalogError
            When the file cannot be read or has no row for the line.
        """
        experiments = read_experiments(self.project_path, self.data_path)
        if self.line not in experiments:
            raise CatalogError(
                layout.experiments_path(self.project_path),
                f"no such experiment line ({len(experiments)} lines in the file; was the row removed after "
                "the partition was added?)",
                line=self.line,
                column=LINE_COLUMN,
            )
        return experiments[self.line]

    @functools.cached_property
    def parameters(self) -> LineParameters:
        """Defaults <- the line's ``analysis_parameters.csv`` row <- this run's overrides."""
        params = line_parameters(self.project_path, self.line)
        return params.with_overrides(self._overrides, source=self._overrides_source)

    @functools.cached_property
    def recording(self) -> MiniscopeRecording:
        """The line's Miniscope recording (metadata, timestamps and movie headers; no pixels)."""
        return open_recording(self.device_dir)

    @functools.cached_property
    def device_dir(self) -> Path:
        """The Miniscope device folder (the movies' folder) of the line's session; no movie is opened."""
        if "recording" in self.__dict__:
            return self.recording.device_dir
        return find_device_dir(self.calcium_dir)

    @property
    def session_dir(self) -> Path:
        """The Miniscope DAQ session folder (it holds ``notes.csv``)."""
        return self.device_dir.parent

    @functools.cached_property
    def timestamps_s(self) -> np.ndarray:
        """Host-clock time of every frame (s), from ``timeStamps.csv``; no movie is opened."""
        if "recording" in self.__dict__:
            return self.recording.timestamps_s
        return read_timestamps(self.device_dir / TIMESTAMPS_FILE)[1]

    @property
    def ephys_dir(self) -> Path:
        """The line's Neuralynx session folder."""
        return self._raw_dir(self.experiment.ephys_dir, EPHYS_COLUMN)

    @property
    def calcium_dir(self) -> Path:
        """The line's Miniscope session folder."""
        return self._raw_dir(self.experiment.calcium_dir, CALCIUM_COLUMN)

    def _raw_dir(self, folder: Path | None, column: str) -> Path:
        where = layout.experiments_path(self.project_path)
        if folder is None:
            raise CatalogError(
                where, "no folder given; expected a path under the data folder", line=self.line, column=column
            )
        if not folder.is_dir():
            raise CatalogError(
                where,
                f"folder {str(folder)!r} does not exist (raw data not copied yet?)",
                line=self.line,
                column=column,
            )
        return folder

    def values(self, product: str) -> dict[str, Any]:
        """The parameter values a product reads, by parameter name (for metadata)."""
        return self.parameters.for_product(product)

    def kwargs(self, product: str) -> dict[str, Any]:
        """The values that change a product's result, as keyword arguments of the function that makes it."""
        return self.parameters.kwargs_for(product)
