"""Storage of products: atomic writes, zarr datasets and chunk-written movies.

``atomic``: files and directories written to a temporary sibling and renamed into place when complete.
``datasets``: xarray products as zarr (format 2, consolidated), opened lazily.
``movies``: movie products written a chunk of frames at a time, and frame sources over them.

The names below are re-exported on first use, so that importing the light ``atomic`` module (every CSV
writer does) does not load xarray and zarr into each worker process.
"""

import importlib

_EXPORTS = {
    "atomic_directory": "atomic",
    "atomic_file": "atomic",
    "recover_product": "atomic",
    "ZARR_FORMAT": "datasets",
    "open_dataset": "datasets",
    "write_dataset": "datasets",
    "MovieWriter": "movies",
    "open_movie": "movies",
    "write_region": "movies",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
