"""CNMF-E group: estimates -> curated estimates (decisions as data) -> calcium events (one flat table of
unit id and frame); z-scored traces and event-triggered averages."""

import dagster as dg
import xarray as xr

from ace_assets import launchpad
from ace_assets.assets import parameters
from ace_assets.helpers import metadata as md
from ace_assets.helpers.progress import frame_progress
from ace_assets.partitions import experiment_lines
from ace_assets.resources import ComputeResource, ProjectCatalog
from ace_core.io.frames import ZarrMovieSource
from ace_core.products import cnmfe

PRODUCT = dict(
    partitions_def=experiment_lines, kinds={"zarr", "xarray"}, io_manager_key="zarr_io", code_version="1"
)

CnmfeConfig = launchpad.config_for("cnmfe_estimates")
CalciumEventsConfig = launchpad.config_for("calcium_events")
ZscoredTracesConfig = launchpad.config_for("zscored_traces")
EventTriggeredAveragesConfig = launchpad.config_for("event_triggered_averages")


@dg.asset(**PRODUCT, deps=[parameters.source("cnmfe_parameters")], pool="cnmfe")
def cnmfe_estimates(
    context: dg.AssetExecutionContext,
    config: CnmfeConfig,
    motion_corrected_movie: ZarrMovieSource,
    catalog: ProjectCatalog,
    compute: ComputeResource,
) -> xr.Dataset:
    """CNMF-E (Zhou et al. 2018) on the motion-corrected movie, with the line's CaImAn parameters.

    Unknown or inapplicable CaImAn keys are listed in the metadata, never silently dropped.
    """
    line = catalog.line(context, config)
    workers = compute.workers_for(line.parameters)
    with compute.executor(workers) as executor:
        product = cnmfe.cnmfe_estimates(
            motion_corrected_movie,
            line.parameters.for_product("cnmfe_estimates", observed_only=True),
            executor=executor,
            progress=frame_progress(context, "CNMF-E"),
            line=line.line,
        )
    context.add_output_metadata(md.product(context, product, line))
    return product.dataset


@dg.asset(**PRODUCT, deps=[parameters.curation_decisions])
def curated_estimates(
    context: dg.AssetExecutionContext, cnmfe_estimates: xr.Dataset, catalog: ProjectCatalog
) -> xr.Dataset:
    """The kept components, on a copy (the original estimates are never changed).

    Decisions come from `<project>/curation/<line>.csv` (tied to the estimates' hash); without a file, the
    automatic proposal from the quality metrics (min_SNR, rval_thr) is applied and labelled as such.
    """
    product = cnmfe.curated_estimates(cnmfe_estimates, catalog.project_path, line=context.partition_key)
    context.add_output_metadata(md.product(context, product))
    return product.dataset


@dg.asset(**PRODUCT, deps=[parameters.source("event_parameters")])
def calcium_events(
    context: dg.AssetExecutionContext,
    config: CalciumEventsConfig,
    curated_estimates: xr.Dataset,
    catalog: ProjectCatalog,
) -> xr.Dataset:
    """Calcium events, one row per event (unit id, frame): local maxima of C's `derivative_for_estimates` at
    or above `event_height` (or `event_height_sd` noise SDs), at the frame where the rise lands."""
    line = catalog.line(context, config)
    product = cnmfe.calcium_events(curated_estimates, **line.kwargs("calcium_events"))
    context.add_output_metadata(md.product(context, product, line))
    return product.dataset


@dg.asset(**PRODUCT, deps=[parameters.source("trace_analysis_parameters")])
def zscored_traces(
    context: dg.AssetExecutionContext,
    config: ZscoredTracesConfig,
    curated_estimates: xr.Dataset,
    catalog: ProjectCatalog,
) -> xr.Dataset:
    """z-scored C of the curated units (`frameWindow` consecutive frames per block; empty = whole trace)."""
    line = catalog.line(context, config)
    product = cnmfe.zscored_traces(curated_estimates, **line.kwargs("zscored_traces"))
    context.add_output_metadata(md.product(context, product, line))
    return product.dataset


@dg.asset(**PRODUCT, deps=[parameters.source("trace_analysis_parameters")])
def event_triggered_averages(
    context: dg.AssetExecutionContext,
    config: EventTriggeredAveragesConfig,
    zscored_traces: xr.Dataset,
    calcium_events: xr.Dataset,
    catalog: ProjectCatalog,
) -> xr.Dataset:
    """Mean z-scored trace of each unit from `framesb` frames before to `framesa` after each of its events."""
    line = catalog.line(context, config)
    kwargs = line.kwargs("event_triggered_averages")
    product = cnmfe.event_triggered_averages(zscored_traces, calcium_events, **kwargs, line=line.line)
    context.add_output_metadata(md.product(context, product, line))
    return product.dataset
