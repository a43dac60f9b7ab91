"""Atomic zarr products: a product is complete on disk or absent, never half-written.

Writes go to a hidden temporary sibling and are renamed into place only when complete. Replacing an
existing product first renames the old one aside, then moves the new one in, then deletes the old one, so
a run killed at any instant leaves either the last good product or (in the short window between the two
renames) the last good product under `.<name>.old-*`, which `recover_product` puts back.

Products are zarr format 2 with consolidated metadata: `xarray.open_zarr(path)` opens them with no
warnings and no Dagster.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import xarray as xr

ZARR_FORMAT = 2


def _tmp_sibling(path: Path, tag: str) -> Path:
    return path.parent / f".{path.name}.{tag}-{uuid.uuid4().hex[:8]}"


def recover_product(path: str | Path) -> None:
    """Put back a product that a killed replacement left renamed aside."""
    path = Path(path)
    if path.exists():
        return
    olds = sorted(path.parent.glob(f".{path.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if olds:
        os.replace(olds[-1], path)


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a temporary directory path; on success it replaces `path`, on failure it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover_product(path)
    tmp = _tmp_sibling(path, "tmp")
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = _tmp_sibling(path, "old")
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_dataset(ds: xr.Dataset, path: str | Path) -> Path:
    """Write `ds` as a zarr product at `path` atomically."""
    path = Path(path)
    with atomic_directory(path) as tmp:
        ds.to_zarr(tmp, mode="w", zarr_format=ZARR_FORMAT, consolidated=True)
    return path


def open_dataset(path: str | Path) -> xr.Dataset:
    """Open a product lazily (the same call a user makes without Dagster)."""
    path = Path(path)
    recover_product(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: product not found (has it been materialized?)")
    return xr.open_zarr(path)
