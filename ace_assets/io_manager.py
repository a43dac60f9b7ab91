"""IO manager writing each product atomically as zarr under `<store>/<asset>/<line>.zarr`."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import xarray as xr

from ace_core import store


class ZarrProductIOManager(dg.ConfigurableIOManager):
    """xarray Datasets in, lazy xarray Datasets out; one zarr store per (asset, line).

    A product is written to a temporary sibling and renamed into place only when complete, so a failed
    or killed run never leaves a half-written product and never destroys the last good one.
    """

    store_path: str

    def _path(self, context: dg.OutputContext | dg.InputContext) -> Path:
        key = context.asset_key.path
        if not context.has_partition_key:
            raise dg.DagsterInvariantViolationError(f"{'/'.join(key)} must be partitioned by experiment line")
        return Path(self.store_path).joinpath(*key) / f"{context.partition_key}.zarr"

    def handle_output(self, context: dg.OutputContext, obj: xr.Dataset) -> None:
        if not isinstance(obj, xr.Dataset):
            raise TypeError(
                f"{context.asset_key.to_user_string()} must return an xarray.Dataset, got {type(obj)}"
            )
        path = store.write_dataset(obj, self._path(context))
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> xr.Dataset:
        return store.open_dataset(self._path(context))
