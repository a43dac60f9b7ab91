"""Miniscope group: (denoised) raw movie -> projections, cropped -> preprocessed -> motion-corrected movie and
shifts; head orientation; the mean-fluorescence band, its phase and its spectrogram.

Movie products are written by the steps themselves, a chunk of frames at a time, and reach the next step
as lazy frame sources (the ``movie_io`` IO manager); small products are zarr datasets (``zarr_io``).
"""

import dagster as dg
import xarray as xr

from ace_assets import launchpad
from ace_assets.assets import parameters, raw
from ace_assets.helpers import metadata as md
from ace_assets.helpers.progress import frame_progress
from ace_assets.partitions import experiment_lines
from ace_assets.resources import ComputeResource, ProductStore, ProjectCatalog
from ace_core.io.frames import FrameSource, ZarrMovieSource
from ace_core.products import miniscope, movies

PRODUCT = dict(
    partitions_def=experiment_lines, kinds={"zarr", "xarray"}, io_manager_key="zarr_io", code_version="1"
)
MOVIE = dict(partitions_def=experiment_lines, kinds={"zarr"}, io_manager_key="movie_io", code_version="1")

DenoisedMovieConfig = launchpad.config_for("denoised_movie")
CroppedMovieConfig = launchpad.config_for("cropped_movie")
PreprocessedMovieConfig = launchpad.config_for("preprocessed_movie")
MotionCorrectionConfig = launchpad.config_for("motion_corrected_movie")
MiniscopeBandConfig = launchpad.config_for("miniscope_band")
MiniscopePhaseConfig = launchpad.config_for("miniscope_phase")
MiniscopeSpectrogramConfig = launchpad.config_for("miniscope_spectrogram")


@dg.asset(**MOVIE, deps=[raw.raw_miniscope, parameters.source("denoise_parameters")])
def denoised_movie(
    context: dg.AssetExecutionContext,
    config: DenoisedMovieConfig,
    catalog: ProjectCatalog,
    store: ProductStore,
):
    """Optional first miniscope step (`denoise: TRUE`): a 2-D FFT notch against travelling horizontal bands
    and a low-pass of the frame mean against flicker. When off, the product refers to the raw movie (no
    copy), which is what cropping then reads."""
    line = catalog.line(context, config)
    path = store.output_path(context)
    product = movies.denoised_movie(
        line.device_dir,
        path,
        **line.kwargs("denoised_movie"),
        progress=frame_progress(context, "denoise"),
        line=line.line,
    )
    return dg.MaterializeResult(value=path, metadata=md.product(context, product, line))


@dg.asset(**PRODUCT, deps=[raw.raw_miniscope])
def head_orientation(
    context: dg.AssetExecutionContext, t_ca_im: xr.Dataset, catalog: ProjectCatalog
) -> xr.Dataset:
    """Roll, pitch, yaw (rad and deg) of the V4 BNO head sensor on the miniscope clock and on the ephys clock.

    Lines without `Miniscope/headOrientation.csv` produce an empty product marked "absent" (not a failure).
    """
    line = catalog.line(context)
    product = miniscope.head_orientation(line.device_dir, line.timestamps_s, t_ca_im, line=line.line)
    context.add_output_metadata(md.product(context, product))
    return product.dataset


@dg.asset(**PRODUCT, deps=[raw.raw_miniscope])
def movie_projections(context: dg.AssetExecutionContext, catalog: ProjectCatalog) -> xr.Dataset:
    """Per-pixel max, min, mean, median, std and range of the raw movie and its mean-fluorescence trace.

    One streaming pass; what a person looks at to choose `crop_coords`.
    """
    line = catalog.line(context)
    product = miniscope.movie_projections(
        line.recording, progress=frame_progress(context, "projections"), line=line.line
    )
    context.add_output_metadata(md.product(context, product))
    return product.dataset


@dg.asset(**MOVIE, deps=[raw.raw_miniscope, parameters.source("crop_parameters")])
def cropped_movie(
    context: dg.AssetExecutionContext,
    config: CroppedMovieConfig,
    denoised_movie: FrameSource,
    catalog: ProjectCatalog,
    store: ProductStore,
):
    """The raw (or denoised) movie cropped to `crop_coords` (x0, y0, x1, y1; bottom-left origin), same dtype.

    Without coordinates a line is left uncropped (with a warning) unless `require_crop_coords` is set.
    """
    line = catalog.line(context, config)
    path = store.output_path(context)
    product = movies.cropped_movie(
        denoised_movie,
        path,
        **line.kwargs("cropped_movie"),
        progress=frame_progress(context, "crop"),
        line=line.line,
    )
    return dg.MaterializeResult(value=path, metadata=md.product(context, product, line))


@dg.asset(**MOVIE, deps=[parameters.source("preprocess_parameters")])
def preprocessed_movie(
    context: dg.AssetExecutionContext,
    config: PreprocessedMovieConfig,
    cropped_movie: FrameSource,
    catalog: ProjectCatalog,
    store: ProductStore,
):
    """Detrended (`detrend_method`) and optionally ΔF/F movie, float32 (no 8-bit requantisation).

    The ΔF/F window in frames uses the recording's metadata frame rate (the reference assumed 30 fps).
    """
    line = catalog.line(context, config)
    path = store.output_path(context)
    product = movies.preprocessed_movie(
        cropped_movie,
        path,
        **line.kwargs("preprocessed_movie"),
        progress=frame_progress(context, "preprocess"),
        line=line.line,
    )
    return dg.MaterializeResult(value=path, metadata=md.product(context, product, line))


@dg.multi_asset(
    outs={
        "motion_corrected_movie": dg.AssetOut(
            io_manager_key="movie_io",
            kinds={"zarr"},
            code_version="1",
            description="NoRMCorre-corrected movie (float32), rigid or piecewise-rigid.",
        ),
        "motion_shifts": dg.AssetOut(
            io_manager_key="zarr_io",
            kinds={"zarr", "xarray"},
            code_version="1",
            description="Per-frame rigid and patch shifts, the template and QC (correlation with the "
            "template before/after, crispness).",
        ),
    },
    deps=[parameters.source("motion_parameters")],
    partitions_def=experiment_lines,
    pool="motion_correction",
)
def motion_correction(
    context: dg.AssetExecutionContext,
    config: MotionCorrectionConfig,
    preprocessed_movie: FrameSource,
    catalog: ProjectCatalog,
    store: ProductStore,
    compute: ComputeResource,
):
    """Estimate shifts on a band-passed copy (`gSig_filt`), apply them to the preprocessed movie."""
    line = catalog.line(context, config)
    workers = compute.workers_for(line.parameters)
    path = store.output_path(context, "motion_corrected_movie")
    with compute.executor(workers) as executor:
        movie, shifts = movies.motion_correction(
            preprocessed_movie,
            path,
            **line.kwargs("motion_corrected_movie"),
            executor=executor,
            n_workers=workers,
            progress=frame_progress(context, "motion correction"),
            line=line.line,
        )
    movie_metadata = md.product(context, movie, line, "motion_corrected_movie")
    yield dg.MaterializeResult(asset_key="motion_corrected_movie", value=path, metadata=movie_metadata)
    yield dg.MaterializeResult(
        asset_key="motion_shifts", value=shifts.dataset, metadata=md.product(context, shifts)
    )


@dg.asset(**PRODUCT, deps=[parameters.source("miniscope_filter_parameters")])
def miniscope_band(
    context: dg.AssetExecutionContext,
    config: MiniscopeBandConfig,
    preprocessed_movie: ZarrMovieSource,
    catalog: ProjectCatalog,
) -> xr.Dataset:
    """Mean fluorescence per frame of the preprocessed movie and its zero-phase band-pass (`n`, `cut`,
    `ftype`, `btype`). With `inline`, `mean_fluorescence` is replaced by the filtered trace, as in the
    reference."""
    line = catalog.line(context, config)
    product = miniscope.miniscope_band(preprocessed_movie, **line.kwargs("miniscope_band"), line=line.line)
    context.add_output_metadata(md.product(context, product, line))
    return product.dataset


@dg.asset(**PRODUCT, deps=[parameters.source("miniscope_phase_parameters")])
def miniscope_phase(
    context: dg.AssetExecutionContext,
    config: MiniscopePhaseConfig,
    miniscope_band: xr.Dataset,
    catalog: ProjectCatalog,
) -> xr.Dataset:
    """Hilbert phase of the band-passed mean fluorescence (the reference used the unfiltered trace, a
    defect; `phase_from_unfiltered` reproduces it)."""
    line = catalog.line(context, config)
    product = miniscope.miniscope_phase(miniscope_band, **line.kwargs("miniscope_phase"), line=line.line)
    context.add_output_metadata(md.product(context, product, line))
    return product.dataset


@dg.asset(**PRODUCT, deps=[parameters.source("miniscope_spectrogram_parameters")])
def miniscope_spectrogram(
    context: dg.AssetExecutionContext,
    config: MiniscopeSpectrogramConfig,
    miniscope_band: xr.Dataset,
    catalog: ProjectCatalog,
) -> xr.Dataset:
    """Multitaper spectrogram of the mean fluorescence at the true frame rate (the reference used int(fr))."""
    line = catalog.line(context, config)
    kwargs = line.kwargs("miniscope_spectrogram")
    product = miniscope.miniscope_spectrogram(miniscope_band, **kwargs, line=line.line)
    context.add_output_metadata(md.product(context, product, line))
    return product.dataset
