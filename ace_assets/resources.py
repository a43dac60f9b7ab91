"""Resources: where a lab's files live (the project catalog and the product store), and how heavy steps run.

Paths come from environment variables with local defaults (the demo project inside the checkout), so
``dagster dev -w workspace.yaml`` works out of the box and a lab points it at its own folders with
``ACE_PROJECT_PATH``, ``ACE_DATA_PATH`` and ``ACE_STORE_PATH``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg

from ace_assets import launchpad
from ace_core import parallel
from ace_core.catalog import LineContext, LineParameters, layout, read_experiments, versions
from ace_core.catalog.experiments import Experiment

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_ROOT = REPO_ROOT / "demo_project"


def default_project_path() -> str:
    return os.environ.get("ACE_PROJECT_PATH", str(DEMO_ROOT / "project"))


def default_data_path() -> str:
    return os.environ.get("ACE_DATA_PATH", str(DEMO_ROOT / "data"))


def default_store_path() -> str:
    return os.environ.get("ACE_STORE_PATH", str(DEMO_ROOT / "store"))


class ProjectCatalog(dg.ConfigurableResource):
    """The lab's project folder (experiments.csv, analysis_parameters.csv, curation/) and raw-data root.

    ``line(context, config)`` is how a step sees its experiment line: the row, the parameters (defaults <-
    CSV row <- this run's Launchpad config, all checked alike) and the recording, each read once.
    """

    project_path: str
    data_path: str

    def experiments(self) -> dict[str, Experiment]:
        return read_experiments(self.project_path, self.data_path)

    def line(self, context: dg.AssetExecutionContext, config: dg.Config | None = None) -> LineContext:
        return LineContext(
            self.project_path,
            self.data_path,
            context.partition_key,
            overrides=launchpad.overrides(config),
            overrides_source=f"Launchpad config of {context.op_def.name}",
        )

    def source_versions(
        self,
        lines: list[str],
        experiments: dict[str, Experiment] | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> dict[str, dict[str, str]]:
        """Current version of every observed source of ``lines`` (see ``ace_core.catalog.versions``)."""
        kwargs = {"warn": warn} if warn is not None else {}
        return versions.source_versions(self.project_path, self.data_path, lines, experiments, **kwargs)


class ProductStore(dg.ConfigurableResource):
    """Where products are written: ``<store_path>/<product>/<line>.zarr``."""

    store_path: str

    def path(self, product: str | tuple[str, ...], line: str) -> Path:
        return layout.product_path(self.store_path, product, line)

    def output_path(self, context: dg.AssetExecutionContext, product: str | None = None) -> Path:
        """Path of this step's product (``product`` names one output of a multi-asset)."""
        key = dg.AssetKey(product) if product else context.asset_key
        return self.path(tuple(key.path), context.partition_key)


class ComputeResource(dg.ConfigurableResource):
    """How heavy steps run: up to ``max_workers`` processes over chunks of frames (1 = in-process, serially).

    The line's ``n_processes`` caps it and ``parallel: FALSE`` in its parameter row turns it off. The
    executor is a ``concurrent.futures`` one, so a Dask cluster's ``Client.get_executor()`` can replace the
    pool.
    """

    max_workers: int = max(1, os.cpu_count() or 1)

    def workers_for(self, line_params: LineParameters) -> int:
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
