"""Ephys group: the LFP channel -> its band-pass -> the band's phase, and the LFP spectrogram."""

import dagster as dg
import xarray as xr

from ace_assets import launchpad
from ace_assets.assets import parameters, raw
from ace_assets.helpers import metadata as md
from ace_assets.partitions import experiment_lines
from ace_assets.resources import ProjectCatalog
from ace_core.products import ephys

PRODUCT = dict(
    partitions_def=experiment_lines, kinds={"zarr", "xarray"}, io_manager_key="zarr_io", code_version="1"
)

LfpConfig = launchpad.config_for("lfp")
FilteredLfpConfig = launchpad.config_for("filtered_lfp")
LfpPhaseConfig = launchpad.config_for("lfp_phase")
LfpSpectrogramConfig = launchpad.config_for("lfp_spectrogram")


@dg.asset(**PRODUCT, deps=[raw.raw_neuralynx, parameters.source("lfp_parameters")])
def lfp(context: dg.AssetExecutionContext, config: LfpConfig, catalog: ProjectCatalog) -> xr.Dataset:
    """The selected Neuralynx channel in µV on the session clock; NaN between recording segments.

    Optional artifact removal zeroes supra-threshold stretches with tapered edges.
    """
    line = catalog.line(context, config)
    product = ephys.lfp(line.ephys_dir, **line.kwargs("lfp"), line=line.line)
    context.add_output_metadata(md.product(context, product, line))
    return product.dataset


@dg.asset(**PRODUCT, deps=[parameters.source("lfp_filter_parameters")])
def filtered_lfp(
    context: dg.AssetExecutionContext, config: FilteredLfpConfig, lfp: xr.Dataset, catalog: ProjectCatalog
) -> xr.Dataset:
    """Zero-phase band-pass (`filter_type`, `filter_range`, order `n`), second-order sections, per segment."""
    line = catalog.line(context, config)
    product = ephys.filtered_lfp(lfp, **line.kwargs("filtered_lfp"), line=line.line)
    context.add_output_metadata(md.product(context, product, line))
    return product.dataset


@dg.asset(**PRODUCT, deps=[parameters.source("lfp_phase_parameters")])
def lfp_phase(
    context: dg.AssetExecutionContext,
    config: LfpPhaseConfig,
    filtered_lfp: xr.Dataset,
    lfp: xr.Dataset,
    catalog: ProjectCatalog,
) -> xr.Dataset:
    """Hilbert phase (rad, (-pi, pi]) and amplitude of the band-passed LFP.

    The reference took the phase of the raw signal (a defect); `phase_from_raw_signal` reproduces it.
    """
    line = catalog.line(context, config)
    product = ephys.lfp_phase(filtered_lfp, lfp, **line.kwargs("lfp_phase"), line=line.line)
    context.add_output_metadata(md.product(context, product, line))
    return product.dataset


@dg.asset(**PRODUCT, deps=[parameters.source("lfp_spectrogram_parameters")])
def lfp_spectrogram(
    context: dg.AssetExecutionContext,
    config: LfpSpectrogramConfig,
    lfp: xr.Dataset,
    ttl_events: xr.Dataset,
    catalog: ProjectCatalog,
) -> xr.Dataset:
    """Multitaper spectrogram of the broadband LFP after anti-alias decimation; the preview marks the
    experiment events (non-TTL Neuralynx events, e.g. drug start)."""
    line = catalog.line(context, config)
    product = ephys.lfp_spectrogram(
        lfp, **line.kwargs("lfp_spectrogram"), ttl_events=ttl_events, line=line.line
    )
    context.add_output_metadata(md.product(context, product, line))
    return product.dataset
