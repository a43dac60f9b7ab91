"""Products are complete or absent: a failed write never leaves a half product or loses the last good one."""

import numpy as np
import pytest
import xarray as xr

from ace_core import store


def dataset(value: float) -> xr.Dataset:
    return xr.Dataset({"x": ("t", np.full(100, value))}, attrs={"version": value})


def test_write_and_reopen_without_dagster(tmp_path):
    path = store.write_dataset(dataset(1.0), tmp_path / "lfp" / "1.zarr")
    ds = xr.open_zarr(path)
    assert ds.attrs["version"] == 1.0 and float(ds["x"].mean()) == 1.0


def test_failed_replacement_keeps_last_good_product(tmp_path, monkeypatch):
    path = tmp_path / "lfp" / "1.zarr"
    store.write_dataset(dataset(1.0), path)

    def broken_to_zarr(self, target, **kwargs):
        (target / "partial").mkdir(parents=True)  # something was written before the crash
        raise RuntimeError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_zarr", broken_to_zarr)
    with pytest.raises(RuntimeError, match="disk full"):
        store.write_dataset(dataset(2.0), path)
    monkeypatch.undo()
    assert store.open_dataset(path).attrs["version"] == 1.0
    assert sorted(p.name for p in path.parent.iterdir()) == ["1.zarr"]  # no temporary left behind


def test_successful_replacement(tmp_path):
    path = tmp_path / "1.zarr"
    store.write_dataset(dataset(1.0), path)
    store.write_dataset(dataset(2.0), path)
    assert store.open_dataset(path).attrs["version"] == 2.0
    assert [p.name for p in tmp_path.iterdir()] == ["1.zarr"]


def test_product_renamed_aside_by_a_killed_run_is_recovered(tmp_path):
    path = tmp_path / "1.zarr"
    store.write_dataset(dataset(1.0), path)
    path.rename(tmp_path / ".1.zarr.old-deadbeef")  # killed between the two renames
    assert store.open_dataset(path).attrs["version"] == 1.0


def test_missing_product_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="2.zarr: product not found"):
        store.open_dataset(tmp_path / "2.zarr")
