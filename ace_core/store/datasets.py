"""Products as zarr datasets: written atomically, opened lazily with plain xarray.

Products are zarr format 2 with consolidated metadata: ``xarray.open_zarr(path)`` opens them with no
warnings and no Dagster.
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from ace_core.store.atomic import atomic_directory, recover_product

__all__ = ["ZARR_FORMAT", "existing_product", "open_dataset", "write_dataset"]

ZARR_FORMAT = 2


def write_dataset(ds: xr.Dataset, path: str | Path) -> Path:
    """Write a dataset as a zarr product, atomically.

    Parameters
    ----------
    ds
        The product.
    path
        Final path of the zarr store (``<store>/<asset>/<line>.zarr``).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    with atomic_directory(path) as tmp:
        ds.to_zarr(tmp, mode="w", zarr_format=ZARR_FORMAT, consolidated=True)
    return path


def open_dataset(path: str | Path) -> xr.Dataset:
    """Open a product lazily (the same call a user makes without Dagster).

    Parameters
    ----------
    path
        Path of the zarr store.

    Returns
    -------
    xarray.Dataset
        Lazy dataset; nothing is read until a variable is accessed.

    Raises
    ------
    FileNotFoundError
        When the product has not been written.
    """
    return xr.open_zarr(existing_product(path))


def existing_product(path: str | Path) -> Path:
    """The path of a product that exists, after putting back one a killed replacement left aside.

    Raises
    ------
    FileNotFoundError
        When the product has not been written.
    """
    path = Path(path)
    recover_product(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: product not found (has it been materialized?)")
    return path
