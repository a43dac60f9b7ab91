"""IO managers: small products as zarr datasets, movie products as lazy frame sources.

Both find a product at ``<store>/<asset>/<line>.zarr`` through the store resource (the one place that
builds store paths) and both write atomically, so a failed or killed run never leaves a half-written
product and never destroys the last good one.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import xarray as xr

from ace_assets.resources import ProductStore
from ace_core.io.frames import FrameSource
from ace_core.store import datasets, movies


def _path(store: ProductStore, context: dg.OutputContext | dg.InputContext) -> Path:
    if not context.has_partition_key:
        raise dg.DagsterInvariantViolationError(
            f"{context.asset_key.to_user_string()} must be partitioned by experiment line"
        )
    return store.path(tuple(context.asset_key.path), context.partition_key)


class DatasetIOManager(dg.ConfigurableIOManager):
    """xarray Datasets in, lazy xarray Datasets out; one zarr store per (product, line)."""

    store: ProductStore

    def handle_output(self, context: dg.OutputContext, obj: xr.Dataset) -> None:
        if not isinstance(obj, xr.Dataset):
            raise TypeError(
                f"{context.asset_key.to_user_string()} must return an xarray.Dataset, got {type(obj)}"
            )
        path = datasets.write_dataset(obj, _path(self.store, context))
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> xr.Dataset:
        return datasets.open_dataset(_path(self.store, context))


class MovieIOManager(dg.ConfigurableIOManager):
    """Movie products: the asset writes the movie to its store path chunk by chunk (no step holds a movie)
    and returns that path; downstream steps receive a lazy, picklable frame source over it (or over the raw
    recording, for a product that refers to it)."""

    store: ProductStore

    def handle_output(self, context: dg.OutputContext, obj: Path) -> None:
        path = _path(self.store, context)
        if Path(obj) != path or not path.exists():
            raise FileNotFoundError(
                f"{context.asset_key.to_user_string()} returned {obj} but its movie belongs at {path}"
            )
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> FrameSource:
        return movies.open_movie_source(_path(self.store, context))
