"""Movie products, each written a chunk of frames at a time to the path it is given (atomically):
the optional V4-denoised movie, the cropped movie, the preprocessed movie, the motion-corrected movie."""

from __future__ import annotations

import concurrent.futures as cf
import os
from collections.abc import Callable, Sequence

import numpy as np
import xarray as xr

from ace_core.errors import AceError
from ace_core.imaging import crop, motion, preprocess
from ace_core.imaging import denoise as v4_denoise
from ace_core.io.frames import FrameSource, MiniscopeSource, iter_chunks
from ace_core.io.miniscope import open_recording
from ace_core.products import Product
from ace_core.store.movies import MovieWriter, write_movie_reference
from ace_core.viz import previews

__all__ = ["CHUNK_FRAMES", "cropped_movie", "denoised_movie", "motion_correction", "preprocessed_movie"]

#: Frames per zarr chunk and per processing chunk of every movie product.
CHUNK_FRAMES = 200

Progress = Callable[[int, int], None]


def _float_movie_like(source: FrameSource, out_path: str | os.PathLike, attrs: dict) -> MovieWriter:
    """A float32 movie product of the source's shape, chunked like every movie product."""
    shape = (source.n_frames, source.height, source.width)
    return MovieWriter(out_path, *shape, dtype="float32", chunk_frames=CHUNK_FRAMES, attrs=attrs)


def _spectrum(frame: np.ndarray) -> np.ndarray:
    return np.log10(np.abs(np.fft.fftshift(np.fft.fft2(frame - frame.mean()))) + 1e-3)


def denoised_movie(
    device_dir: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    denoise: bool,
    centerHalfHeightToLeave: int,  # noqa: N803 - the recipe's parameter names
    notchHalfWidth: int,  # noqa: N803
    goodRadius: float,  # noqa: N803
    frameStep: int,  # noqa: N803
    cutoff: float | None,
    butterOrder: int,  # noqa: N803
    progress: Progress | None = None,
    line: str = "",
) -> Product:
    """The raw movie with V4 travelling bands (2-D FFT notch) and flicker (low-pass of the frame mean)
    removed, float32; or, with ``denoise`` off, a reference to the raw movie (nothing copied).

    Parameters
    ----------
    device_dir
        The Miniscope device folder (its movies are opened only when ``denoise`` is on).
    out_path
        Where the product is written.
    denoise, centerHalfHeightToLeave, notchHalfWidth, goodRadius, frameStep, cutoff, butterOrder
        The denoising recipe's parameters (see :class:`ace_core.imaging.denoise.DenoiseParams`).

    Returns
    -------
    Product
        No dataset (the movie is at ``out_path``); the summary says whether it was applied and the band
        power removed.
    """
    if not denoise:
        write_movie_reference(out_path, device_dir, attrs={"applied": False})
        return Product(
            None, {"applied": False, "note": "denoise is off for this line: the raw movie is used"}
        )
    values = dict(
        centerHalfHeightToLeave=centerHalfHeightToLeave,
        notchHalfWidth=notchHalfWidth,
        goodRadius=goodRadius,
        frameStep=frameStep,
        cutoff=cutoff,
        butterOrder=butterOrder,
    )
    recording = open_recording(device_dir)
    params = v4_denoise.DenoiseParams.from_parameters(values, frame_rate_hz=recording.frame_rate_hz)
    source = MiniscopeSource(recording)
    with MovieWriter(
        out_path,
        recording.n_frames,
        recording.height,
        recording.width,
        dtype="float32",
        chunk_frames=params.chunk_frames,
        attrs={
            "frame_rate_hz": recording.frame_rate_hz,
            "applied": True,
            "denoise": True,
            "source": str(recording.device_dir),
            **values,
        },
    ) as writer:
        summary = v4_denoise.denoise(source, params, writer.write, progress=progress)
        # The host timestamps travel with the movie, so cropping needs no second look at the raw folder.
        traces = {
            "mean_before": summary.mean_before,
            "mean_after": summary.mean_after,
            "timestamps_s": recording.timestamps_s,
        }
        writer.add_variables(xr.Dataset({name: ("frame", v) for name, v in traces.items()}))
    raw0 = source.read(0, 1)[0].astype(np.float64)
    den0 = v4_denoise.denoise_frames(
        raw0[None], summary.mask, summary.flicker_correction[:1] if summary.flicker_applied else None
    )[0]
    png = previews.images_png(
        {
            "raw frame 0": raw0,
            "denoised frame 0": den0,
            "raw spectrum (log)": _spectrum(raw0),
            "denoised spectrum (log)": _spectrum(den0),
        },
        title=f"line {line}: V4 denoising",
        ncols=2,
    )
    return Product(
        None, {"applied": True, "band_power_removed_db": float(summary.band_power_removed_db)}, png
    )


def _host_timestamps_and_origin(source: FrameSource) -> tuple[np.ndarray, str]:
    """Host-clock frame times and the raw folder of a movie: the raw recording, or a product made from it."""
    if isinstance(source, MiniscopeSource):
        return source.recording.timestamps_s, str(source.recording.device_dir)
    return source.dataset()["timestamps_s"].values, str(source.attrs.get("source", ""))


def cropped_movie(
    source: FrameSource,
    out_path: str | os.PathLike,
    *,
    crop_coords: Sequence[int] | None,
    require_crop_coords: bool = False,
    progress: Progress | None = None,
    line: str = "",
) -> Product:
    """The movie cropped to ``crop_coords`` (x0, y0, x1, y1; origin at the bottom left), same dtype.

    Parameters
    ----------
    source
        The movie to crop: the raw recording (uint8) or its denoised version (float32); its frame rate,
        host timestamps and origin are recorded with the cropped movie.
    out_path
        Where the product is written.
    crop_coords
        The crop; None leaves the movie uncropped, with a warning.
    require_crop_coords
        Fail instead when ``crop_coords`` is None.

    Returns
    -------
    Product
        No dataset (the movie is at ``out_path``); the summary holds the box and the frame size.

    Raises
    ------
    CropError
        When the coordinates do not describe a box inside the frame.
    AceError
        When ``require_crop_coords`` is set and the line has no coordinates.
    """
    height, width = source.height, source.width
    warnings = []
    if crop_coords is None:
        if require_crop_coords:
            raise AceError(
                f"line {line}: no crop_coords. Set `crop_coords` = (x0, y0, x1, y1) for this line in "
                f"analysis_parameters.csv (bottom-left origin, frame {width} x {height}); the "
                "movie_projections preview shows the field of view."
            )
        box = crop.CropBox(0, height, 0, width)
        warnings.append("no crop_coords for this line: movie left uncropped")
    else:
        box = crop.crop_box(crop_coords, height, width, line=line or None)
    h, w = box.shape
    timestamps_s, origin = _host_timestamps_and_origin(source)
    with MovieWriter(
        out_path,
        source.n_frames,
        h,
        w,
        dtype=source.dtype,
        chunk_frames=CHUNK_FRAMES,
        attrs={
            "frame_rate_hz": source.frame_rate_hz,
            "crop_coords": crop_coords,
            "crop_box": [box.row0, box.row1, box.col0, box.col1],
            "source": origin,
            "warnings": warnings,
            "denoised": not isinstance(source, MiniscopeSource),
        },
    ) as writer:
        for start, frames in iter_chunks(source, CHUNK_FRAMES):
            writer.write(start, crop.crop_frames(frames, box))
            if progress is not None:
                progress(start + frames.shape[0], source.n_frames)
        writer.add_variables(xr.Dataset({"timestamps_s": ("frame", timestamps_s)}))
    summary = {
        "n_frames": source.n_frames,
        "height": h,
        "width": w,
        "crop_box_rows_cols": [box.row0, box.row1, box.col0, box.col1],
        "warnings": warnings,
    }
    return Product(None, summary, warnings=tuple(warnings))


def preprocessed_movie(
    source: FrameSource,
    out_path: str | os.PathLike,
    *,
    detrend_method: str | None,
    df_over_f: bool,
    df_over_f_method: str,
    secs_window: float,
    quantile_min: float,
    progress: Progress | None = None,
    line: str = "",
) -> Product:
    """Detrended (``detrend_method``) and optionally ΔF/F movie, float32 (no 8-bit requantisation).

    The ΔF/F window in frames uses the movie's metadata frame rate (the reference assumed 30 fps).

    Parameters
    ----------
    source
        The cropped movie.
    out_path
        Where the product is written (with the per-frame mean traces beside the movie).

    Returns
    -------
    Product
        No dataset; the summary holds the frame count, frame rate and ΔF/F window.
    """
    fr = source.frame_rate_hz
    params = preprocess.PreprocessParams(
        detrend_method=detrend_method,
        df_over_f=bool(df_over_f),
        df_over_f_method=df_over_f_method,
        secs_window=float(secs_window),
        quantile_min=float(quantile_min),
        frame_rate_hz=fr,
        chunk_frames=CHUNK_FRAMES,
    )
    used = dict(
        detrend_method=detrend_method,
        df_over_f=df_over_f,
        df_over_f_method=df_over_f_method,
        secs_window=secs_window,
        quantile_min=quantile_min,
    )
    with _float_movie_like(source, out_path, {"frame_rate_hz": fr, **used}) as writer:
        summary = preprocess.preprocess(source, params, writer, progress=progress)
        writer.add_variables(summary.to_dataset())
        writer.attrs.update(summary.attrs())
    t_s = np.arange(source.n_frames) / fr
    png = previews.traces_png(
        t_s,
        [summary.mean_before, summary.mean_output],
        ["mean fluorescence, cropped", "after preprocessing"],
        title=f"line {line}: preprocessing",
        ylabel="a.u.",
    )
    out = {
        "n_frames": source.n_frames,
        "frame_rate_hz": fr,
        "dff_window_frames": params.window_frames if params.df_over_f else 0,
    }
    return Product(None, out, png)


def motion_correction(
    source: FrameSource,
    out_path: str | os.PathLike,
    *,
    apply_motion_correction: bool,
    executor: cf.Executor | None = None,
    n_workers: int = 1,
    progress: Progress | None = None,
    line: str = "",
    **caiman_motion: object,
) -> tuple[Product, Product]:
    """NoRMCorre rigid or piecewise-rigid correction of the preprocessed movie (float32 out), and its shifts.

    Shifts are estimated on a band-passed copy (``gSig_filt``) and applied to the original frames. With
    ``apply_motion_correction`` off the movie is copied unchanged, with zero shifts and the same QC.

    Parameters
    ----------
    source
        The preprocessed movie.
    out_path
        Where the corrected movie is written.
    apply_motion_correction
        Whether to correct at all.
    executor, n_workers
        Where chunks run (None: in this process) and how many run at once.
    **caiman_motion
        CaImAn's motion parameters (``pw_rigid``, ``max_shifts``, ``gSig_filt``, ``strides``, ``overlaps``,
        ``max_deviation_rigid``, ``border_nan``, ``shifts_opencv``).

    Returns
    -------
    tuple of Product
        The corrected movie (no dataset; QC numbers in the summary) and the ``motion_shifts`` dataset (rigid
        and patch shifts per frame, template, correlation with it before and after, crispness).
    """
    fr = source.frame_rate_hz
    params = motion.MotionCorrectionParams.from_parameters({**caiman_motion, "chunk_frames": CHUNK_FRAMES})
    used = {"apply_motion_correction": apply_motion_correction, **caiman_motion}
    with _float_movie_like(source, out_path, {"frame_rate_hz": fr, **used}) as writer:
        run = motion.motion_correct if apply_motion_correction else motion.identity_result
        res = run(
            source,
            params,
            out_tmp_path=writer.tmp_path,
            executor=executor,
            progress=progress,
            n_workers=n_workers,
        )
    rigid = res.rigid_shifts
    qc = {
        "max_abs_rigid_shift_px": float(np.abs(rigid).max()) if rigid.size else 0.0,
        "mean_corr_before": float(np.nanmean(res.corr_before)),
        "mean_corr_after": float(np.nanmean(res.corr_after)),
        "crispness_before": float(res.crispness_before),
        "crispness_after": float(res.crispness_after),
    }
    movie = Product(
        None,
        {"n_frames": source.n_frames, "workers": n_workers, "applied": bool(apply_motion_correction), **qc},
    )
    png = previews.motion_png(
        rigid,
        fr,
        res.mean_before,
        res.mean_after,
        res.corr_before,
        res.corr_after,
        title=f"line {line}: motion correction",
    )
    shifts = Product(
        motion.result_dataset(res, frame_rate_hz=fr), {"pw_rigid": bool(params.pw_rigid), **qc}, png
    )
    return movie, shifts
