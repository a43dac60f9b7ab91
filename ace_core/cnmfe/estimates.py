"""CNMF-E estimates as an xarray Dataset (the `cnmfe_estimates` / `curated_estimates` products).

Footprints are stored sparse (CSC components `A_data`, `A_indices`, `A_indptr`; pixels in row-major
order, one column per unit); traces C, S, YrA are (unit, frame). `unit_id` keeps each unit's original
0-based component id through curation, and `estimates_hash` identifies the estimates a curation
decision was made on.
"""

import hashlib
import json
from collections.abc import Sequence

import numpy as np
import xarray as xr
from scipy import sparse

from ace_core.cnmfe.params import CNMFEEstimates


def _hash(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def estimates_to_dataset(est: CNMFEEstimates, *, frame_rate_hz: float) -> xr.Dataset:
    """The estimates as an xarray Dataset (see the module docstring for the layout).

    Parameters
    ----------
    est
        The estimates of a fit.
    frame_rate_hz
        Frame rate (Hz), stored in the attributes.

    Returns
    -------
    xarray.Dataset
        Footprints ``A_data``/``A_indices``/``A_indptr``; ``C``, ``S``, ``YrA`` (unit, frame); per-unit
        ``noise``, ``g``, ``bl``, ``snr``, ``r_values``, ``idx_good``, ``patch_of`` (-1 when not one per
        unit); images ``b0``, ``corr_image``, ``pnr_image`` (y, x); coordinate ``unit_id``; attributes
        ``dims``, ``frame_rate_hz``, ``pixel_order``, the parameters, background and parameter report as
        JSON, ``patches`` and ``estimates_hash``.
    """
    A = est.A.tocsc()
    K = A.shape[1]
    ds = xr.Dataset(
        {
            "A_data": ("nnz", A.data.astype(np.float32)),
            "A_indices": ("nnz", A.indices.astype(np.int64)),
            "A_indptr": ("unit_ptr", A.indptr.astype(np.int64)),
            "C": (("unit", "frame"), est.C.astype(np.float32)),
            "S": (("unit", "frame"), est.S.astype(np.float32)),
            "YrA": (("unit", "frame"), est.YrA.astype(np.float32)),
            "noise": ("unit", est.noise.astype(np.float32)),
            "g": (("unit", "lag"), np.asarray(est.g, dtype=np.float32).reshape(K, -1)),
            "bl": ("unit", est.bl.astype(np.float32)),
            "snr": ("unit", est.snr.astype(np.float32)),
            "r_values": ("unit", est.r_values.astype(np.float32)),
            "idx_good": ("unit", est.idx_good.astype(bool)),
            "patch_of": (
                "unit",
                np.asarray(est.patch_of, dtype=np.int64).reshape(-1)[:K]
                if np.size(est.patch_of) == K
                else np.full(K, -1),
            ),
            "b0": (("y", "x"), est.b0.astype(np.float32)),
            "corr_image": (("y", "x"), est.corr_image.astype(np.float32)),
            "pnr_image": (("y", "x"), est.pnr_image.astype(np.float32)),
        },
        coords={"unit_id": ("unit", np.arange(K))},
        attrs={
            "dims": list(est.dims),
            "frame_rate_hz": float(frame_rate_hz),
            "pixel_order": "C (row-major): pixel index = row * width + col",
            "params_json": json.dumps(
                {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(est.params).items()},
                default=str,
            ),
            "background_json": json.dumps(est.background, default=str),
            "parameter_report_json": json.dumps(est.parameter_report),
            "patches": [list(p) for p in est.patches],
        },
    )
    ds.attrs["estimates_hash"] = _hash(A.data, A.indices, A.indptr, est.C)
    return ds


def footprints(ds: xr.Dataset) -> sparse.csc_matrix:
    """Footprints of an estimates dataset as a sparse matrix.

    Parameters
    ----------
    ds
        An estimates dataset (:func:`estimates_to_dataset`, :func:`select_units`).

    Returns
    -------
    scipy.sparse.csc_matrix
        (H*W, K), row-major pixels.
    """
    h, w = ds.attrs["dims"]
    return sparse.csc_matrix(
        (ds["A_data"].values, ds["A_indices"].values, ds["A_indptr"].values), shape=(h * w, ds.sizes["unit"])
    )


def select_units(ds: xr.Dataset, keep: Sequence[int] | np.ndarray, **attrs) -> xr.Dataset:
    """A copy with only the units at positions ``keep`` (footprints re-packed); the input is not changed.

    Parameters
    ----------
    ds
        An estimates dataset.
    keep
        Positions (not ``unit_id`` values) of the units to keep, in the order wanted.
    **attrs
        Attributes added to (or replacing) the copy's.

    Returns
    -------
    xarray.Dataset
        The unit variables, the footprints and the images ``b0``, ``corr_image``, ``pnr_image``, loaded.
    """
    keep = np.asarray(keep, dtype=np.int64)
    A = footprints(ds)[:, keep].tocsc()
    unit_vars = [n for n, v in ds.data_vars.items() if v.dims[:1] == ("unit",)]
    out = ds[unit_vars + ["b0", "corr_image", "pnr_image"]].isel(unit=keep).load()
    out = out.assign(
        A_data=("nnz", A.data.astype(np.float32)),
        A_indices=("nnz", A.indices.astype(np.int64)),
        A_indptr=("unit_ptr", A.indptr.astype(np.int64)),
    )
    out.attrs = {**ds.attrs, **attrs}
    return out
