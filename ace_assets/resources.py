"""Resources: where a lab's files live, and each line's analysis parameters.

Paths come from environment variables with local defaults (the demo project inside the checkout), so
`dagster dev -w workspace.yaml` works out of the box and a lab points it at its own folders with
`ACE_PROJECT_PATH`, `ACE_DATA_PATH` and `ACE_STORE_PATH`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg

from ace_core import catalog, parallel
from ace_core.errors import CatalogError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_ROOT = REPO_ROOT / "demo_project"


def default_project_path() -> str:
    return os.environ.get("ACE_PROJECT_PATH", str(DEMO_ROOT / "project"))


def default_data_path() -> str:
    return os.environ.get("ACE_DATA_PATH", str(DEMO_ROOT / "data"))


def default_store_path() -> str:
    return os.environ.get("ACE_STORE_PATH", str(DEMO_ROOT / "store"))


class AcePaths(dg.ConfigurableResource):
    """The project folder (experiments.csv, analysis_parameters.csv), raw-data root and product store."""

    project_path: str
    data_path: str
    store_path: str

    def experiments(self) -> dict[str, catalog.Experiment]:
        return catalog.read_experiments(self.project_path, self.data_path)

    def experiment(self, line: str) -> catalog.Experiment:
        experiments = self.experiments()
        if line not in experiments:
            raise CatalogError(
                Path(self.project_path) / catalog.EXPERIMENTS_CSV,
                "no such experiment line (was the row removed after the partition was added?)",
                line=line,
                column="line number",
            )
        return experiments[line]

    def product_path(self, asset_name: str, line: str) -> Path:
        return Path(self.store_path) / asset_name / f"{line}.zarr"


class LineParameters(dg.ConfigurableResource):
    """Per-line analysis parameters: defaults overridden by the line's analysis_parameters.csv row."""

    paths: AcePaths

    def for_line(self, line: str) -> catalog.LineParameters:
        return catalog.line_parameters(self.paths.project_path, line)


def effective_parameters(
    line_params: catalog.LineParameters, config: dg.Config | None, names: list[str]
) -> dict[str, Any]:
    """Values used by one asset: defaults <- the line's CSV row <- Launchpad overrides (non-None fields).

    Config field names are the CSV names with spaces replaced by underscores.
    """
    values = line_params.subset(names)
    if config is not None:
        for name in names:
            override = getattr(config, name.replace(" ", "_"), None)
            if override is not None:
                values[name] = override
    return values


class ComputeResource(dg.ConfigurableResource):
    """How heavy steps run: up to `max_workers` processes over chunks of frames (1 = in-process, serially).

    The line's `n_processes` caps it and `parallel: FALSE` in its parameter row turns it off. The executor
    is a `concurrent.futures` one, so a Dask cluster's `Client.get_executor()` can replace the pool.
    """

    max_workers: int = max(1, os.cpu_count() or 1)

    def workers_for(self, line_params: catalog.LineParameters) -> int:
        if "parallel" in line_params.from_csv and not line_params["parallel"]:
            return 1
        return max(1, min(self.max_workers, int(line_params["n_processes"] or 1)))

    @contextlib.contextmanager
    def executor(self, workers: int) -> Iterator[concurrent.futures.Executor | None]:
        if workers <= 1:
            yield None
            return
        ctx = multiprocessing.get_context("spawn")  # no fork of a threaded Dagster process
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=parallel.limit_worker_threads
        ) as pool:
            yield pool
