"""Sync group: Neuralynx events -> ``t_ca_im`` (ephys-clock time of every movie frame) -> frame <-> sample
maps, and experiment events on both clocks."""

import dagster as dg
import xarray as xr

from ace_assets import launchpad
from ace_assets.assets import parameters, raw
from ace_assets.helpers import metadata as md
from ace_assets.partitions import experiment_lines
from ace_assets.resources import ProjectCatalog
from ace_core.products import sync

PRODUCT = dict(
    partitions_def=experiment_lines, kinds={"zarr", "xarray"}, io_manager_key="zarr_io", code_version="1"
)

TCaImConfig = launchpad.config_for("t_ca_im")


@dg.asset(**PRODUCT, deps=[raw.raw_neuralynx])
def ttl_events(context: dg.AssetExecutionContext, catalog: ProjectCatalog) -> xr.Dataset:
    """Every Neuralynx event (label, session-clock time): frame-sync TTL edges and experiment events."""
    line = catalog.line(context)
    product = sync.ttl_events(line.ephys_dir, line=line.line)
    context.add_output_metadata(md.product(context, product))
    return product.dataset


@dg.asset(**PRODUCT, deps=[raw.raw_miniscope, parameters.source("ttl_parameters")])
def t_ca_im(
    context: dg.AssetExecutionContext, config: TCaImConfig, ttl_events: xr.Dataset, catalog: ProjectCatalog
) -> xr.Dataset:
    """Ephys-clock time of every miniscope frame from the frame-sync TTL edges.

    Gaps are filled (`fix_TTL_gaps`, threshold a multiple of the metadata frame period), spurious edges
    removed (`indices of TTL events to delete`, indices into the gap-filled edges) and
    `low_confidence_periods` given in final frame indices. The movie's frame count is recorded so the
    `t_ca_im_matches_movie` check can compare.
    """
    line = catalog.line(context, config)
    product = sync.t_ca_im(ttl_events, line.recording, **line.kwargs("t_ca_im"), line=line.line)
    context.add_output_metadata(md.product(context, product, line))
    return product.dataset


@dg.asset(**PRODUCT)
def ephys_frame_index(context: dg.AssetExecutionContext, t_ca_im: xr.Dataset, lfp: xr.Dataset) -> xr.Dataset:
    """Nearest ephys sample of every frame (ties to the lower index) and the frame of every ephys sample.

    `ca_frame_num_of_ephys_idx` follows the reference: the next frame TTL at or after the sample;
    `frame_of_sample_previous` gives the frame whose exposure contains the sample. Samples without a frame
    are -1 (the reference wrote an ambiguous 0).
    """
    product = sync.ephys_frame_index(t_ca_im, lfp)
    context.add_output_metadata(md.product(context, product))
    return product.dataset


@dg.asset(**PRODUCT, deps=[raw.raw_miniscope])
def experiment_events(
    context: dg.AssetExecutionContext,
    ttl_events: xr.Dataset,
    t_ca_im: xr.Dataset,
    lfp: xr.Dataset,
    catalog: ProjectCatalog,
) -> xr.Dataset:
    """Non-TTL Neuralynx events and Miniscope notes.csv entries, each on the ephys and the miniscope clock."""
    line = catalog.line(context)
    product = sync.experiment_events(
        ttl_events, t_ca_im, lfp, session_dir=line.session_dir, timestamps_s=line.timestamps_s, line=line.line
    )
    context.add_output_metadata(md.product(context, product))
    return product.dataset
