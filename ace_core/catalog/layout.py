"""Where every file of a project and of the product store lives: the one place that builds these paths.

A project folder holds ``experiments.csv``, ``analysis_parameters.csv`` and ``curation/<line>.csv``; the
product store holds one zarr store per product and line, ``<store>/<product>/<line>.zarr``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "CURATION_DIR",
    "EXPERIMENTS_CSV",
    "PARAMETERS_CSV",
    "curation_path",
    "experiments_path",
    "parameters_path",
    "product_path",
]

EXPERIMENTS_CSV = "experiments.csv"
PARAMETERS_CSV = "analysis_parameters.csv"
CURATION_DIR = "curation"


def experiments_path(project_path: str | os.PathLike[str]) -> Path:
    """``<project>/experiments.csv``."""
    return Path(project_path) / EXPERIMENTS_CSV


def parameters_path(project_path: str | os.PathLike[str]) -> Path:
    """``<project>/analysis_parameters.csv``."""
    return Path(project_path) / PARAMETERS_CSV


def curation_path(project_path: str | os.PathLike[str], line: str) -> Path:
    """``<project>/curation/<line>.csv``: the component decisions of one line."""
    return Path(project_path) / CURATION_DIR / f"{line}.csv"


def product_path(store_path: str | os.PathLike[str], product: str | tuple[str, ...], line: str) -> Path:
    """``<store>/<product>/<line>.zarr``: where one line's product is stored.

    Parameters
    ----------
    store_path
        Root of the product store (``ACE_STORE_PATH``).
    product
        Product (asset) name; a tuple is a multi-part asset key, one folder per part.
    line
        Experiment line (partition key).
    """
    parts = (product,) if isinstance(product, str) else tuple(product)
    return Path(store_path).joinpath(*parts) / f"{line}.zarr"
