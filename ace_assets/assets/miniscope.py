"""Miniscope chain: projections -> cropped movie -> preprocessed movie -> motion-corrected movie + shifts.

Movies are written by the assets themselves, a chunk of frames at a time, to
`<store>/<asset>/<line>.zarr` (atomic; `xarray.open_zarr` reads them); downstream assets open them
lazily from the same path. Small products go through the zarr IO manager.
"""

import json

import dagster as dg
import numpy as np
import xarray as xr

from ace_assets import metadata as md
from ace_assets.assets.raw import PARAMETER_GROUPS, PARAMETER_SOURCES, raw_miniscope
from ace_assets.partitions import experiment_lines
from ace_assets.progress import frame_progress
from ace_assets.resources import AcePaths, ComputeResource, LineParameters, effective_parameters
from ace_core import store
from ace_core.imaging import crop, motion, preprocess, projections
from ace_core.io import miniscope
from ace_core.io.frames import MiniscopeSource, ZarrMovieSource, iter_chunks
from ace_core.store.movies import MovieWriter
from ace_core.viz import previews

_GROUP = dict(partitions_def=experiment_lines, group_name="miniscope")
CHUNK_FRAMES = 200


class ProjectionsConfig(dg.Config):
    chunk_frames: int = CHUNK_FRAMES


class CropConfig(dg.Config):
    """Launchpad overrides. Without coordinates a line is left uncropped (with a warning) unless
    `require_crop_coords` is set, in which case the run fails asking for them (never a GUI)."""

    crop_coords: list[int] | None = None
    require_crop_coords: bool = False


class PreprocessConfig(dg.Config):
    detrend_method: str | None = None
    df_over_f: bool | None = None
    df_over_f_method: str | None = None
    secs_window: float | None = None
    quantile_min: float | None = None


class MotionConfig(dg.Config):
    apply_motion_correction: bool | None = None
    pw_rigid: bool | None = None
    max_shifts: list[int] | None = None
    gSig_filt: list[int] | None = None  # noqa: N815 - CaImAn's parameter name
    strides: list[int] | None = None
    overlaps: list[int] | None = None
    max_deviation_rigid: int | None = None
    border_nan: str | None = None


def _recording(paths: AcePaths, line: str) -> miniscope.MiniscopeRecording:
    return miniscope.open_recording(paths.experiment(line).calcium_dir)


@dg.asset(
    **_GROUP, deps=[raw_miniscope], kinds={"zarr", "xarray"}, io_manager_key="zarr_io", code_version="1"
)
def movie_projections(
    context: dg.AssetExecutionContext, config: ProjectionsConfig, paths: AcePaths
) -> xr.Dataset:
    """Per-pixel max, min, mean, median, std and range of the raw movie and its mean-fluorescence trace.

    One streaming pass; what a person looks at to choose `crop_coords`.
    """
    line = context.partition_key
    rec = _recording(paths, line)
    proj = projections.compute_projections(
        MiniscopeSource(rec),
        chunk_frames=config.chunk_frames,
        progress=frame_progress(context, "projections"),
    )
    images = {name: getattr(proj, name) for name in ("max", "min", "mean", "median", "std", "range")}
    t_s = np.arange(rec.n_frames) / rec.frame_rate_hz
    ds = xr.Dataset(
        {name: (("y", "x"), img) for name, img in images.items()} | {"time": ("frame", proj.time)},
        coords={"t_s": ("frame", t_s)},
        attrs={
            "frame_rate_hz": rec.frame_rate_hz,
            "median_is_approximate": proj.median_is_approximate,
            "median_method": proj.median_method,
            "source": str(rec.device_dir),
        },
    )
    context.add_output_metadata(
        {
            "n_frames": rec.n_frames,
            "height": rec.height,
            "width": rec.width,
            "frame_rate_hz": rec.frame_rate_hz,
            "n_movie_files": len(rec.movie_paths),
            "median_method": proj.median_method,
            "mean_fluorescence": float(np.mean(proj.time)),
            "preview": md.png(
                previews.images_png(
                    images,
                    title=f"line {line}: projections (choose crop_coords here; "
                    "y axis of crop_coords points up)",
                    trace=(t_s, proj.time, "mean fluorescence"),
                )
            ),
        }
    )
    return ds


@dg.asset(
    **_GROUP,
    deps=[raw_miniscope, "denoised_movie", PARAMETER_SOURCES["crop_parameters"]],
    kinds={"zarr"},
    code_version="1",
)
def cropped_movie(
    context: dg.AssetExecutionContext, config: CropConfig, paths: AcePaths, parameters: LineParameters
) -> dg.MaterializeResult:
    """The raw movie (uint8, lossless) cropped to `crop_coords` (x0, y0, x1, y1; bottom-left origin)."""
    line = context.partition_key
    rec = _recording(paths, line)
    lp = parameters.for_line(line)
    p = effective_parameters(lp, config, PARAMETER_GROUPS["crop_parameters"])
    coords = p["crop_coords"]
    warnings = []
    if coords is None:
        if config.require_crop_coords:
            raise dg.Failure(
                description=f"line {line}: no crop_coords. Set `crop_coords` = (x0, y0, x1, y1) for this "
                f"line in {paths.project_path}/analysis_parameters.csv (bottom-left origin, "
                f"frame {rec.width} x {rec.height}); the movie_projections preview shows the field of view."
            )
        box = crop.CropBox(0, rec.height, 0, rec.width)
        warnings.append("no crop_coords for this line: movie left uncropped")
        context.log.warning(f"line {line}: {warnings[-1]}")
    else:
        box = crop.crop_box(coords, rec.height, rec.width, line=line)
    h, w = box.shape
    path = paths.product_path("cropped_movie", line)
    progress = frame_progress(context, "crop")
    # The raw movie (uint8, lossless), or its V4-denoised version (float32) when the line has `denoise: TRUE`.
    denoised = bool(lp["denoise"])
    source = ZarrMovieSource(paths.product_path("denoised_movie", line)) if denoised else MiniscopeSource(rec)
    with MovieWriter(
        path,
        rec.n_frames,
        h,
        w,
        dtype="float32" if denoised else "uint8",
        chunk_frames=CHUNK_FRAMES,
        attrs={
            "frame_rate_hz": rec.frame_rate_hz,
            "crop_coords": coords,
            "crop_box": [box.row0, box.row1, box.col0, box.col1],
            "source": str(rec.device_dir),
            "warnings": warnings,
            "denoised": denoised,
        },
    ) as writer:
        for start, frames in iter_chunks(source, CHUNK_FRAMES):
            writer.write(start, crop.crop_frames(frames, box))
            progress(start + frames.shape[0], rec.n_frames)
        writer.add_variables(xr.Dataset({"timestamps_s": ("frame", rec.timestamps_s)}))
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "n_frames": rec.n_frames,
            "height": h,
            "width": w,
            "crop_box_rows_cols": dg.MetadataValue.json([box.row0, box.row1, box.col0, box.col1]),
            "warnings": dg.MetadataValue.json(warnings),
            **md.parameters(p, lp.unknown_columns),
        }
    )


@dg.asset(
    **_GROUP,
    deps=[cropped_movie, PARAMETER_SOURCES["preprocess_parameters"]],
    kinds={"zarr"},
    code_version="1",
)
def preprocessed_movie(
    context: dg.AssetExecutionContext, config: PreprocessConfig, paths: AcePaths, parameters: LineParameters
) -> dg.MaterializeResult:
    """Detrended (`detrend_method`) and optionally ΔF/F movie, float32 (no 8-bit requantisation).

    The ΔF/F window in frames uses the recording's metadata frame rate (the reference assumed 30 fps).
    """
    line = context.partition_key
    lp = parameters.for_line(line)
    p = effective_parameters(lp, config, PARAMETER_GROUPS["preprocess_parameters"])
    source = ZarrMovieSource(paths.product_path("cropped_movie", line))
    fr = float(store.open_dataset(source.path).attrs["frame_rate_hz"])
    params = preprocess.PreprocessParams(
        detrend_method=p["detrend_method"],
        df_over_f=bool(p["df_over_f"]),
        df_over_f_method=p["df_over_f_method"],
        secs_window=float(p["secs_window"]),
        quantile_min=float(p["quantile_min"]),
        frame_rate_hz=fr,
        chunk_frames=CHUNK_FRAMES,
    )
    path = paths.product_path("preprocessed_movie", line)
    with MovieWriter(
        path,
        source.n_frames,
        source.height,
        source.width,
        dtype="float32",
        chunk_frames=CHUNK_FRAMES,
        attrs={"frame_rate_hz": fr, **p},
    ) as writer:
        summary = preprocess.preprocess(
            source, params, writer, progress=frame_progress(context, "preprocess")
        )
        writer.add_variables(summary.to_dataset())
        writer.attrs.update(summary.attrs())
    t_s = np.arange(source.n_frames) / fr
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "n_frames": source.n_frames,
            "frame_rate_hz": fr,
            "dff_window_frames": params.window_frames if params.df_over_f else 0,
            "preview": md.png(
                previews.traces_png(
                    t_s,
                    [summary.mean_before, summary.mean_output],
                    ["mean fluorescence, cropped", "after preprocessing"],
                    title=f"line {line}: preprocessing",
                    ylabel="a.u.",
                )
            ),
            **md.parameters(p, lp.unknown_columns),
        }
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "motion_corrected_movie",
            deps=[preprocessed_movie, PARAMETER_SOURCES["motion_parameters"]],
            kinds={"zarr"},
            code_version="1",
            group_name="miniscope",
            description="NoRMCorre-corrected movie (float32), rigid or piecewise-rigid.",
        ),
        dg.AssetSpec(
            "motion_shifts",
            deps=[preprocessed_movie, PARAMETER_SOURCES["motion_parameters"]],
            kinds={"zarr", "xarray"},
            code_version="1",
            group_name="miniscope",
            description="Per-frame rigid and patch shifts, the template and QC (correlation with the "
            "template before/after, crispness).",
        ),
    ],
    partitions_def=experiment_lines,
    pool="motion_correction",
)
def motion_correction_step(
    context: dg.AssetExecutionContext,
    config: MotionConfig,
    paths: AcePaths,
    parameters: LineParameters,
    compute: ComputeResource,
):
    """Estimate shifts on a high-passed copy (`gSig_filt`), apply them to the preprocessed movie."""
    line = context.partition_key
    lp = parameters.for_line(line)
    p = effective_parameters(lp, config, PARAMETER_GROUPS["motion_parameters"])
    source = ZarrMovieSource(paths.product_path("preprocessed_movie", line))
    fr = float(store.open_dataset(source.path).attrs["frame_rate_hz"])
    mc_params = motion.MotionCorrectionParams.from_parameters(p | {"chunk_frames": CHUNK_FRAMES})
    movie_path = paths.product_path("motion_corrected_movie", line)
    shifts_path = paths.product_path("motion_shifts", line)
    workers = compute.workers_for(lp)
    progress = frame_progress(context, "motion correction")
    with MovieWriter(
        movie_path,
        source.n_frames,
        source.height,
        source.width,
        dtype="float32",
        chunk_frames=CHUNK_FRAMES,
        attrs={"frame_rate_hz": fr, **p},
    ) as writer:
        if p["apply_motion_correction"]:
            with compute.executor(workers) as executor:
                res = motion.motion_correct(
                    source,
                    mc_params,
                    out_tmp_path=writer.tmp_path,
                    executor=executor,
                    progress=progress,
                    n_workers=workers,
                )
        else:
            res = motion.identity_result(
                source, mc_params, out_tmp_path=writer.tmp_path, progress=progress
            )
        shifts = motion.result_dataset(res, frame_rate_hz=fr)
        store.write_dataset(shifts, shifts_path)
    rigid = res.rigid_shifts
    qc = {
        "max_abs_rigid_shift_px": float(np.abs(rigid).max()) if rigid.size else 0.0,
        "mean_corr_before": float(np.nanmean(res.corr_before)),
        "mean_corr_after": float(np.nanmean(res.corr_after)),
        "crispness_before": float(res.crispness_before),
        "crispness_after": float(res.crispness_after),
    }
    yield dg.MaterializeResult(
        asset_key="motion_corrected_movie",
        metadata={
            "path": dg.MetadataValue.path(str(movie_path)),
            "n_frames": source.n_frames,
            "workers": workers,
            "applied": bool(p["apply_motion_correction"]),
            **qc,
            **md.parameters(p, lp.unknown_columns),
        },
    )
    yield dg.MaterializeResult(
        asset_key="motion_shifts",
        metadata={
            "path": dg.MetadataValue.path(str(shifts_path)),
            "pw_rigid": bool(mc_params.pw_rigid),
            **qc,
            "preview": md.png(
                previews.motion_png(
                    rigid,
                    fr,
                    res.mean_before,
                    res.mean_after,
                    res.corr_before,
                    res.corr_after,
                    title=f"line {line}: motion correction",
                )
            ),
        },
    )


@dg.asset_check(
    asset="motion_shifts",
    partitions_def=experiment_lines,
    blocking=False,
    description="Rigid shifts stay inside max_shifts (not pinned at the search bound) and the frames "
    "correlate better with the template after correction than before.",
)
def motion_correction_quality(context: dg.AssetCheckExecutionContext, paths: AcePaths) -> dg.AssetCheckResult:
    shifts = store.open_dataset(paths.product_path("motion_shifts", context.partition_key))
    rigid = shifts["rigid_shifts"].values
    bound = np.asarray(json.loads(shifts.attrs["parameters_json"])["max_shifts"], dtype=float)
    pinned = int(np.count_nonzero(np.any(np.abs(rigid) >= bound - 0.5, axis=1))) if rigid.size else 0
    before, after = float(np.nanmean(shifts["corr_before"])), float(np.nanmean(shifts["corr_after"]))
    problems = []
    if pinned:
        problems.append(f"{pinned} frame(s) with a shift at the max_shifts bound {bound.tolist()}")
    if after < before:
        problems.append(f"mean correlation with the template fell from {before:.3f} to {after:.3f}")
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(problems) or "shifts inside bounds, correlation improved",
        metadata={
            "frames_at_bound": pinned,
            "max_abs_shift_px": float(np.abs(rigid).max()) if rigid.size else 0.0,
            "mean_corr_before": before,
            "mean_corr_after": after,
        },
    )
