"""Source-extraction products: CNMF-E estimates, curated estimates, calcium events (one flat table of unit
id and frame), z-scored traces and event-triggered averages."""

from __future__ import annotations

import concurrent.futures as cf
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from ace_core.analysis import events as event_detection
from ace_core.analysis import traces
from ace_core.catalog import curation
from ace_core.cnmfe import estimates, fit_cnmfe
from ace_core.cnmfe.params import CNMFEParams
from ace_core.io.frames import ZarrMovieSource
from ace_core.products import Product
from ace_core.viz import previews

__all__ = [
    "calcium_events",
    "cnmfe_estimates",
    "curated_estimates",
    "event_triggered_averages",
    "zscored_traces",
]

Progress = Callable[[int, int], None]


def _components_png(ds: xr.Dataset, title: str, kept: np.ndarray | None = None) -> bytes:
    h, w = ds.attrs["dims"]
    A = estimates.footprints(ds)
    fps = np.asarray(A.T.todense()).reshape(-1, h, w) if A.shape[1] else np.zeros((0, h, w))
    return previews.components_png(
        ds["corr_image"].values, fps, ds["C"].values, float(ds.attrs["frame_rate_hz"]), title=title, kept=kept
    )


def cnmfe_estimates(
    motion_corrected_movie: ZarrMovieSource,
    caiman_parameters: Mapping[str, Any],
    *,
    executor: cf.Executor | None = None,
    progress: Progress | None = None,
    line: str = "",
) -> Product:
    """CNMF-E (Zhou et al. 2018) on the motion-corrected movie, with the line's CaImAn parameters.

    Parameters
    ----------
    motion_corrected_movie
        The movie (its frame rate comes from the product).
    caiman_parameters
        CaImAn-named values; unknown or inapplicable keys are reported, never silently dropped.
    executor
        Where patches run (None: in this process).

    Returns
    -------
    Product
        The estimates (footprints sparse, traces, quality metrics, seed images, parameters used); the
        summary holds the component counts, the ``estimates_hash`` curation decisions must carry, and the
        keys reported.
    """
    fr = motion_corrected_movie.frame_rate_hz
    params, report = CNMFEParams.from_parameters(caiman_parameters, frame_rate_hz=fr)
    est = fit_cnmfe(
        motion_corrected_movie, params, executor=executor, progress=progress, parameter_report=report
    )
    ds = estimates.estimates_to_dataset(est, frame_rate_hz=fr)
    summary = {
        "n_components": int(est.n_components),
        "n_good": int(est.idx_good.sum()),
        "median_snr": float(np.median(est.snr)) if est.n_components else float("nan"),
        "n_patches": len(est.patches),
        "estimates_hash": ds.attrs["estimates_hash"],
        "unknown_caiman_keys": report.get("unknown", []),
        "inapplicable_caiman_keys": report.get("inapplicable", []),
    }
    png = _components_png(ds, f"line {line}: CNMF-E components", kept=est.idx_good)
    return Product(ds, summary, png)


def curated_estimates(cnmfe_estimates: xr.Dataset, project_path: str | os.PathLike, *, line: str) -> Product:
    """The kept components, on a copy (the original estimates are never changed).

    Decisions come from ``<project>/curation/<line>.csv`` (tied to the estimates' hash); units without a
    decision follow the automatic proposal of the quality metrics (``min_SNR``, ``rval_thr``).

    Parameters
    ----------
    cnmfe_estimates
        The ``cnmfe_estimates`` product.
    project_path, line
        Where the line's decisions file lives.

    Raises
    ------
    InputFormatError
        When the decisions file is malformed or was made on other estimates (naming file, row and column).
    """
    unit_ids = cnmfe_estimates["unit_id"].values
    decision = curation.decide(
        project_path,
        line,
        unit_ids=unit_ids,
        idx_good=cnmfe_estimates["idx_good"].values,
        estimates_hash=cnmfe_estimates.attrs["estimates_hash"],
    )
    kept = np.flatnonzero(decision.keep)
    ds = estimates.select_units(
        cnmfe_estimates,
        kept,
        curation_source=decision.source,
        curation_reviewers=list(decision.reviewers),
        source_estimates_hash=cnmfe_estimates.attrs["estimates_hash"],
    )
    summary = {
        "curation": decision.source,
        "n_kept": int(kept.size),
        "n_total": int(decision.keep.size),
        "n_reviewed": decision.n_reviewed,
        "reviewers": list(decision.reviewers),
        "kept_unit_ids": unit_ids[kept].tolist(),
    }
    return Product(ds, summary, _components_png(ds, f"line {line}: curated components ({decision.source})"))


def calcium_events(
    curated_estimates: xr.Dataset,
    *,
    derivative_for_estimates: str,
    event_height: float,
    event_height_sd: float | None,
    reference_index_convention: bool = False,
) -> Product:
    """Calcium events as one flat table (unit id, frame): local maxima of C's ``derivative_for_estimates``
    at or above ``event_height`` (or ``event_height_sd`` noise SDs).

    Frames are global movie frames where the rise lands (the reference reported the derivative index, one
    frame early; ``reference_index_convention`` reproduces it).

    Returns
    -------
    Product
        ``event_unit_id`` and ``event_frame`` (event), ``n_events`` per unit (unit, with ``unit_id``).
    """
    unit_ids = curated_estimates["unit_id"].values
    unit, frame = event_detection.events_from_traces(
        curated_estimates["C"].values,
        derivative=derivative_for_estimates,
        event_height=event_height,
        event_height_sd=event_height_sd,
        noise=curated_estimates["noise"].values,
        reference_index_convention=reference_index_convention,
        unit_ids=unit_ids,
    )
    counts = np.array([np.count_nonzero(unit == u) for u in unit_ids], dtype=np.int64)
    used = dict(
        derivative_for_estimates=derivative_for_estimates,
        event_height=event_height,
        event_height_sd=event_height_sd,
        reference_index_convention=reference_index_convention,
    )
    ds = xr.Dataset(
        {"event_unit_id": ("event", unit), "event_frame": ("event", frame), "n_events": ("unit", counts)},
        coords={"unit_id": ("unit", unit_ids)},
        attrs={
            "frame_rate_hz": curated_estimates.attrs["frame_rate_hz"],
            "index_convention": "reference (derivative index)"
            if reference_index_convention
            else "frame where the rise lands",
            **{k: str(v) for k, v in used.items()},
        },
    )
    summary = {
        "n_events": int(frame.size),
        "n_units": int(unit_ids.size),
        "median_events_per_unit": float(np.median(counts)) if counts.size else 0.0,
    }
    return Product(ds, summary)


def zscored_traces(curated_estimates: xr.Dataset, *, frameWindow: int | None) -> Product:  # noqa: N803
    """z-scored C of the curated units (``frameWindow`` consecutive frames per block; None = whole trace).

    Returns
    -------
    Product
        ``z`` (unit, frame) with ``unit_id``.
    """
    z = traces.z_score(curated_estimates["C"].values, frame_window=frameWindow)
    ds = xr.Dataset(
        {"z": (("unit", "frame"), z.astype(np.float32))},
        coords={"unit_id": ("unit", curated_estimates["unit_id"].values)},
        attrs={"frameWindow": -1 if frameWindow is None else int(frameWindow)},
    )
    return Product(ds, {"n_units": int(z.shape[0]), "frameWindow": str(frameWindow)})


def event_triggered_averages(
    zscored_traces: xr.Dataset, calcium_events: xr.Dataset, *, framesb: int, framesa: int, line: str = ""
) -> Product:
    """Mean z-scored trace of each unit from ``framesb`` frames before to ``framesa`` after each event.

    Returns
    -------
    Product
        ``average`` (unit, lag) and ``n_events_used`` (unit), with lags in frames and seconds.
    """
    unit_ids = zscored_traces["unit_id"].values
    row_of = {int(u): i for i, u in enumerate(unit_ids)}
    event_unit = np.array([row_of[int(u)] for u in calcium_events["event_unit_id"].values], dtype=np.int64)
    mean, counts, lags = traces.event_triggered_average(
        zscored_traces["z"].values,
        event_unit,
        calcium_events["event_frame"].values,
        int(framesb),
        int(framesa),
    )
    fr = float(calcium_events.attrs["frame_rate_hz"])
    ds = xr.Dataset(
        {"average": (("unit", "lag"), mean), "n_events_used": ("unit", counts)},
        coords={"unit_id": ("unit", unit_ids), "lag_frames": ("lag", lags), "lag_s": ("lag", lags / fr)},
    )
    summary = {
        "n_units": int(unit_ids.size),
        "events_used": int(counts.sum()),
        "lag_s": [float(lags[0] / fr), float(lags[-1] / fr)],
    }
    png = previews.images_png(
        {"event-triggered z (unit x lag)": mean if mean.size else np.zeros((1, lags.size))},
        title=f"line {line}: event-triggered averages ({framesb} before, {framesa} after)",
        ncols=1,
    )
    return Product(ds, summary, png)
