"""Source extraction: CNMF-E estimates -> curated estimates (decisions as data) -> calcium events."""

import json

import dagster as dg
import numpy as np
import xarray as xr

from ace_assets import metadata as md
from ace_assets.assets.raw import PARAMETER_GROUPS, PARAMETER_SOURCES, curation_decisions
from ace_assets.partitions import experiment_lines
from ace_assets.progress import frame_progress
from ace_assets.resources import AcePaths, ComputeResource, LineParameters, effective_parameters
from ace_core import cnmfe, store
from ace_core.analysis import events as events_core
from ace_core.analysis import quality
from ace_core.catalog import curation
from ace_core.cnmfe import estimates
from ace_core.io.frames import ZarrMovieSource
from ace_core.viz import previews

_COMMON = dict(
    partitions_def=experiment_lines, group_name="cnmfe", kinds={"zarr", "xarray"}, io_manager_key="zarr_io"
)


class EventsConfig(dg.Config):
    derivative_for_estimates: str | None = None
    event_height: float | None = None
    event_height_sd: float | None = None
    reference_index_convention: bool = False  # the reference's derivative index (one frame early)


def _preview(ds: xr.Dataset, title: str, kept=None) -> dg.MetadataValue:
    h, w = ds.attrs["dims"]
    A = estimates.footprints(ds)
    fps = np.asarray(A.T.todense()).reshape(-1, h, w) if A.shape[1] else np.zeros((0, h, w))
    return md.png(
        previews.components_png(
            ds["corr_image"].values,
            fps,
            ds["C"].values,
            float(ds.attrs["frame_rate_hz"]),
            title=title,
            kept=kept,
        )
    )


@dg.asset(
    **_COMMON,
    deps=["motion_corrected_movie", PARAMETER_SOURCES["cnmfe_parameters"]],
    pool="cnmfe",
    code_version="1",
)
def cnmfe_estimates(
    context: dg.AssetExecutionContext, paths: AcePaths, parameters: LineParameters, compute: ComputeResource
) -> xr.Dataset:
    """CNMF-E (Zhou et al. 2018) on the motion-corrected movie, with the line's CaImAn parameters.

    Unknown or inapplicable CaImAn keys are listed in the metadata, never silently dropped.
    """
    line = context.partition_key
    lp = parameters.for_line(line)
    p = lp.subset(PARAMETER_GROUPS["cnmfe_parameters"])
    source = ZarrMovieSource(paths.product_path("motion_corrected_movie", line))
    fr = float(store.open_dataset(source.path).attrs["frame_rate_hz"])
    params, report = cnmfe.CNMFEParams.from_parameters(p, frame_rate_hz=fr)
    workers = compute.workers_for(lp)
    with compute.executor(workers) as executor:
        est = cnmfe.fit_cnmfe(
            source,
            params,
            executor=executor,
            progress=frame_progress(context, "CNMF-E"),
            parameter_report=report,
        )
    ds = estimates.estimates_to_dataset(est, frame_rate_hz=fr)
    context.add_output_metadata(
        {
            "n_components": int(est.n_components),
            "n_good": int(est.idx_good.sum()),
            "median_snr": float(np.median(est.snr)) if est.n_components else float("nan"),
            "n_patches": len(est.patches),
            "estimates_hash": ds.attrs["estimates_hash"],
            "unknown_caiman_keys": dg.MetadataValue.json(report.get("unknown", [])),
            "inapplicable_caiman_keys": dg.MetadataValue.json(report.get("inapplicable", [])),
            "preview": _preview(ds, f"line {line}: CNMF-E components", kept=est.idx_good),
            **md.parameters(p, lp.unknown_columns),
        }
    )
    return ds


@dg.asset_check(
    asset=cnmfe_estimates,
    partitions_def=experiment_lines,
    blocking=False,
    description="At least one component passes min_SNR and rval_thr, and no patch stopped at its cap K.",
)
def cnmfe_component_count(cnmfe_estimates: xr.Dataset) -> dg.AssetCheckResult:
    cap = json.loads(cnmfe_estimates.attrs["params_json"]).get("K")
    report = quality.component_count(
        cnmfe_estimates["idx_good"].values, cnmfe_estimates["patch_of"].values, max_per_patch=cap
    )
    return md.check_result(report)


@dg.asset(**_COMMON, deps=[curation_decisions], code_version="1")
def curated_estimates(
    context: dg.AssetExecutionContext, cnmfe_estimates: xr.Dataset, paths: AcePaths
) -> xr.Dataset:
    """The kept components, on a copy (the original estimates are never changed).

    Decisions come from `<project>/curation/<line>.csv` (tied to the estimates' hash); without a file, the
    automatic proposal from the quality metrics (min_SNR, rval_thr) is applied and labelled as such.
    """
    line = context.partition_key
    decision = curation.decide(
        paths.project_path,
        line,
        unit_ids=cnmfe_estimates["unit_id"].values,
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
    context.add_output_metadata(
        {
            "curation": decision.source,
            "n_kept": int(kept.size),
            "n_total": int(decision.keep.size),
            "n_reviewed": decision.n_reviewed,
            "reviewers": dg.MetadataValue.json(list(decision.reviewers)),
            "kept_unit_ids": dg.MetadataValue.json(cnmfe_estimates["unit_id"].values[kept].tolist()),
            "preview": _preview(ds, f"line {line}: curated components ({decision.source})"),
        }
    )
    return ds


@dg.asset(**_COMMON, deps=[PARAMETER_SOURCES["event_parameters"]], code_version="1")
def calcium_events(
    context: dg.AssetExecutionContext,
    config: EventsConfig,
    curated_estimates: xr.Dataset,
    parameters: LineParameters,
) -> xr.Dataset:
    """Event frames per unit: local maxima of C's `derivative_for_estimates` at or above `event_height`
    (or `event_height_sd` noise SDs). Frames are global movie frames where the rise lands (the reference
    reported the derivative index, one frame early; `reference_index_convention` reproduces it)."""
    line = context.partition_key
    lp = parameters.for_line(line)
    p = effective_parameters(lp, config, PARAMETER_GROUPS["event_parameters"])
    ev = events_core.events_from_traces(
        curated_estimates["C"].values,
        derivative=p["derivative_for_estimates"],
        event_height=p["event_height"],
        event_height_sd=p["event_height_sd"],
        noise=curated_estimates["noise"].values,
        reference_index_convention=config.reference_index_convention,
    )
    unit_ids = curated_estimates["unit_id"].values
    pos = [np.full(v.size, k, dtype=np.int64) for k, v in ev.items()]
    event_unit = np.concatenate(pos) if pos else np.zeros(0, np.int64)
    event_frame = np.concatenate(list(ev.values())) if ev else np.zeros(0, np.int64)
    counts = np.array([ev.get(k, np.zeros(0)).size for k in range(unit_ids.size)], dtype=np.int64)
    ds = xr.Dataset(
        {
            "event_unit_id": ("event", unit_ids[event_unit] if event_unit.size else event_unit),
            "event_frame": ("event", event_frame.astype(np.int64)),
            "n_events": ("unit", counts),
        },
        coords={"unit_id": ("unit", unit_ids)},
        attrs={
            "frame_rate_hz": curated_estimates.attrs["frame_rate_hz"],
            "index_convention": "reference (derivative index)"
            if config.reference_index_convention
            else "frame where the rise lands",
            "first_frame": 0,
            **{k: str(v) for k, v in p.items()},
        },
    )
    context.add_output_metadata(
        {
            "n_events": int(event_frame.size),
            "n_units": int(unit_ids.size),
            "median_events_per_unit": float(np.median(counts)) if counts.size else 0.0,
            **md.parameters(p, lp.unknown_columns),
        }
    )
    return ds
