"""Products: what each Dagster asset stores, assembled from the science in the other subpackages.

One function per product, in one module per asset group (``ephys``, ``sync``, ``miniscope``, ``movies``,
``cnmfe``, ``phase_locking``): it takes the upstream products and the line's parameters (keyword arguments
named as in ``analysis_parameters.csv``; ``line`` names the experiment line in preview titles and error
messages) and returns a :class:`Product`: the dataset to store, the key
numbers a person reads first, and a PNG preview. Movie products are written chunk by chunk to the path
they are given and carry no dataset. Nothing here imports Dagster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import xarray as xr

__all__ = ["Product"]


@dataclass(frozen=True, eq=False)
class Product:
    """A processing step's result.

    Attributes
    ----------
    dataset
        The product to store (None for a movie already written to its path).
    summary
        Key numbers and short facts (JSON-able values), shown as the product's metadata.
    preview
        A PNG picture of the product, or None.
    warnings
        Things a person should know that did not stop the step.
    """

    dataset: xr.Dataset | None
    summary: Mapping[str, Any] = field(default_factory=dict)
    preview: bytes | None = None
    warnings: tuple[str, ...] = ()
