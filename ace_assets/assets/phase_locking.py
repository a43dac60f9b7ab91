"""Phase-locking group: LFP and miniscope phases at calcium events, their histograms and statistics."""

import dagster as dg
import xarray as xr

from ace_assets import launchpad
from ace_assets.assets import parameters
from ace_assets.helpers import metadata as md
from ace_assets.partitions import experiment_lines
from ace_assets.resources import ProjectCatalog
from ace_core.products import phase_locking

PRODUCT = dict(
    partitions_def=experiment_lines, kinds={"zarr", "xarray"}, io_manager_key="zarr_io", code_version="1"
)

EventPhasesConfig = launchpad.config_for("event_phases")
PhaseHistogramsConfig = launchpad.config_for("phase_histograms")


@dg.asset(**PRODUCT, deps=[parameters.source("event_phase_parameters")])
def event_phases(
    context: dg.AssetExecutionContext,
    config: EventPhasesConfig,
    calcium_events: xr.Dataset,
    ephys_frame_index: xr.Dataset,
    lfp_phase: xr.Dataset,
    miniscope_phase: xr.Dataset,
    catalog: ProjectCatalog,
) -> xr.Dataset:
    """Per event: unit, frame, ephys sample, band-passed LFP phase and miniscope phase (one row per event)."""
    line = catalog.line(context, config)
    product = phase_locking.event_phases(
        calcium_events, ephys_frame_index, lfp_phase, miniscope_phase, **line.kwargs("event_phases")
    )
    context.add_output_metadata(md.product(context, product, line))
    return product.dataset


@dg.asset(**PRODUCT, deps=[parameters.source("phase_histogram_parameters")])
def phase_histograms(
    context: dg.AssetExecutionContext,
    config: PhaseHistogramsConfig,
    event_phases: xr.Dataset,
    catalog: ProjectCatalog,
) -> xr.Dataset:
    """Pooled and per-unit phase histograms, densities, mean resultant vectors and Rayleigh tests, for the
    ephys (LFP band) and the miniscope phase."""
    line = catalog.line(context, config)
    product = phase_locking.phase_histograms(event_phases, **line.kwargs("phase_histograms"), line=line.line)
    context.add_output_metadata(md.product(context, product, line))
    return product.dataset
