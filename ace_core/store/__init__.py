"""Storage of products: atomic writes, zarr datasets and chunk-written movies.

``atomic``: files and directories written to a temporary sibling and renamed into place when complete.
``datasets``: xarray products as zarr (format 2, consolidated), opened lazily.
``movies``: movie products written a chunk of frames at a time, and frame sources over them.
"""

from ace_core.store.atomic import atomic_directory, atomic_file, recover_product
from ace_core.store.datasets import ZARR_FORMAT, open_dataset, write_dataset
from ace_core.store.movies import MovieWriter, open_movie, write_region

__all__ = [
    "ZARR_FORMAT",
    "MovieWriter",
    "atomic_directory",
    "atomic_file",
    "open_dataset",
    "open_movie",
    "recover_product",
    "write_dataset",
    "write_region",
]
