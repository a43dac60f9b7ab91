"""CNMF-E source extraction of one-photon movies (Zhou et al. 2018), written from the papers.

``params``: parameters (CaImAn's names) and the estimates' type. ``initialization``: seed images and the
greedy ``corr_pnr`` initialisation. ``background``: the ring model. ``updates``: temporal and spatial updates,
merging and quality metrics. ``deconvolution``: OASIS. ``patches``: the patch grid and stitching. ``fit``:
the whole fit, in bounded memory. ``estimates``: estimates as a product (xarray), curation applied.
"""

from ace_core.cnmfe.fit import correlation_pnr_images, fit_cnmfe
from ace_core.cnmfe.params import CNMFEEstimates, CNMFEParams
from ace_core.cnmfe.patches import patch_grid

__all__ = ["CNMFEEstimates", "CNMFEParams", "correlation_pnr_images", "fit_cnmfe", "patch_grid"]
