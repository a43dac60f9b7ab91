"""Miniscope products that are not movies: projections, head orientation, and the mean-fluorescence band,
its phase and its spectrogram."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import xarray as xr

from ace_core.analysis.head_orientation import orientation_on_clocks
from ace_core.imaging.projections import compute_projections
from ace_core.io.frames import MiniscopeSource, ZarrMovieSource
from ace_core.io.head_orientation import read_head_orientation
from ace_core.io.miniscope import MiniscopeRecording
from ace_core.products import Product
from ace_core.products.movies import CHUNK_FRAMES, Progress
from ace_core.signal import filters
from ace_core.signal.spectrogram import multitaper_spectrogram
from ace_core.viz import previews

__all__ = [
    "head_orientation",
    "miniscope_band",
    "miniscope_phase",
    "miniscope_spectrogram",
    "movie_projections",
]

_ANGLES = ("roll", "pitch", "yaw")


def movie_projections(
    recording: MiniscopeRecording, *, progress: Progress | None = None, line: str = ""
) -> Product:
    """Per-pixel max, min, mean, median, std and range of the raw movie, and its mean-fluorescence trace.

    One streaming pass; the image a person looks at to choose ``crop_coords``.

    Parameters
    ----------
    recording
        The line's Miniscope recording.

    Returns
    -------
    Product
        Six (y, x) images and ``time`` (frame), with ``t_s`` from the metadata frame rate.
    """
    proj = compute_projections(MiniscopeSource(recording), chunk_frames=CHUNK_FRAMES, progress=progress)
    images = proj.images
    t_s = np.arange(recording.n_frames) / recording.frame_rate_hz
    ds = xr.Dataset(
        {name: (("y", "x"), img) for name, img in images.items()} | {"time": ("frame", proj.time)},
        coords={"t_s": ("frame", t_s)},
        attrs={
            "frame_rate_hz": recording.frame_rate_hz,
            "median_is_approximate": proj.median_is_approximate,
            "median_method": proj.median_method,
            "source": str(recording.device_dir),
        },
    )
    summary = {
        "n_frames": recording.n_frames,
        "height": recording.height,
        "width": recording.width,
        "frame_rate_hz": recording.frame_rate_hz,
        "n_movie_files": len(recording.movie_paths),
        "median_method": proj.median_method,
        "mean_fluorescence": float(np.mean(proj.time)),
    }
    png = previews.images_png(
        images,
        title=f"line {line}: projections (choose crop_coords here; y axis of crop_coords points up)",
        trace=(t_s, proj.time, "mean fluorescence"),
    )
    return Product(ds, summary, png)


def head_orientation(
    device_dir: str | os.PathLike, timestamps_s: np.ndarray, t_ca_im: xr.Dataset, *, line: str = ""
) -> Product:
    """Roll, pitch and yaw of the V4 BNO head sensor on the Miniscope host clock and on the ephys clock.

    Parameters
    ----------
    device_dir
        The Miniscope device folder (it holds ``headOrientation.csv``).
    timestamps_s
        Host-clock time of every movie frame (``timeStamps.csv``).
    t_ca_im
        The frame clock, which maps host times to the ephys clock.

    Returns
    -------
    Product
        Angles (rad and deg) per sensor sample; a recording without the file gives an empty product marked
        ``absent`` (not a failure).
    """
    ho = read_head_orientation(device_dir)
    if ho is None:
        names = ("t_host_s", "t_ephys_s", *(f"{a}_deg" for a in _ANGLES))
        ds = xr.Dataset({name: ("sample", np.zeros(0)) for name in names}, attrs={"status": "absent"})
        return Product(ds, {"status": "absent", "n_samples": 0})
    o = orientation_on_clocks(ho, timestamps_s, t_ca_im["t_ca_im_s"].values)
    ds = xr.Dataset(
        {
            "t_host_s": ("sample", o.t_host_s),
            "t_ephys_s": ("sample", o.t_ephys_s),
            **{f"{a}_rad": ("sample", getattr(o, f"{a}_rad")) for a in _ANGLES},
            **{f"{a}_deg": ("sample", getattr(o, f"{a}_deg")) for a in _ANGLES},
        },
        attrs={
            "status": "present",
            "convention": "aerospace ZYX (yaw, pitch, roll), yaw in (-180, 180]",
            "source": str(ho.path),
        },
    )
    png = previews.traces_png(
        o.t_host_s,
        [o.roll_deg, o.pitch_deg, o.yaw_deg],
        list(_ANGLES),
        title=f"line {line}: head orientation",
        ylabel="deg",
    )
    return Product(ds, {"status": "present", "n_samples": int(o.t_host_s.size)}, png)


def miniscope_band(
    preprocessed_movie: ZarrMovieSource,
    *,
    n: int,
    cut: float | Sequence[float],
    ftype: str,
    btype: str,
    inline: bool,
    line: str = "",
) -> Product:
    """Mean fluorescence per frame of the preprocessed movie and its zero-phase filtered version.

    Parameters
    ----------
    preprocessed_movie
        The preprocessed movie product (its per-frame mean trace is stored beside the movie).
    n, cut, ftype, btype
        Filter order, cut-off(s) in Hz, design and type.
    inline
        Replace ``mean_fluorescence`` by the filtered trace, as the reference did.

    Returns
    -------
    Product
        ``mean_fluorescence``, ``unfiltered`` and ``filtered`` (frame) with ``t_s``.
    """
    movie = preprocessed_movie.dataset()
    fr = float(movie.attrs["frame_rate_hz"])
    trace = movie["mean_output"].values.astype(np.float64)
    filtered = filters.bandpass(trace, fr, cut, order=int(n), ftype=ftype, btype=btype)
    t_s = np.arange(trace.size) / fr
    ds = xr.Dataset(
        {
            "mean_fluorescence": ("frame", filtered if inline else trace),
            "unfiltered": ("frame", trace),
            "filtered": ("frame", filtered),
        },
        coords={"t_s": ("frame", t_s)},
        attrs={
            "frame_rate_hz": fr,
            "inline": bool(inline),
            "cut": list(np.atleast_1d(cut)),
            "n": int(n),
            "ftype": ftype,
            "btype": btype,
        },
    )
    png = previews.traces_png(
        t_s,
        [trace, filtered],
        ["mean fluorescence", f"band {cut} Hz"],
        title=f"line {line}: miniscope band",
        ylabel="a.u.",
    )
    return Product(ds, {"frame_rate_hz": fr, "n_frames": int(trace.size)}, png)


def miniscope_phase(
    miniscope_band: xr.Dataset, *, phase_from_unfiltered: bool = False, line: str = ""
) -> Product:
    """Hilbert phase (rad) of the filtered mean fluorescence.

    Parameters
    ----------
    miniscope_band
        The ``miniscope_band`` product.
    phase_from_unfiltered
        Take the phase of the unfiltered trace, as the reference did (for comparison only).

    Returns
    -------
    Product
        ``phase_rad`` (frame) with ``t_s``.
    """
    which = "unfiltered" if phase_from_unfiltered else "filtered"
    source = miniscope_band[which].values
    phase = filters.hilbert_phase(source)
    t_s = miniscope_band["t_s"].values
    ds = xr.Dataset(
        {"phase_rad": ("frame", phase.astype(np.float32))},
        coords={"t_s": ("frame", t_s)},
        attrs={**miniscope_band.attrs, "phase_source": which},
    )
    png = previews.phase_png(phase, source, t_s, title=f"line {line}: miniscope phase", window_s=30.0)
    return Product(ds, {"phase_source": which}, png)


def miniscope_spectrogram(
    miniscope_band: xr.Dataset,
    *,
    window_length: float,
    window_step: float,
    freq_lims: Sequence[float],
    time_bandwidth: float,
    line: str = "",
) -> Product:
    """Multitaper spectrogram of the mean fluorescence at the true frame rate (the reference used int(fr)).

    Parameters
    ----------
    miniscope_band
        The ``miniscope_band`` product (its ``mean_fluorescence``).
    window_length, window_step, freq_lims, time_bandwidth
        Window (s, shortened to the recording if longer), step (s), frequency range (Hz), time-bandwidth.

    Returns
    -------
    Product
        ``psd`` and ``psd_db`` (freq, window) with ``f_hz`` and ``t_s``.
    """
    fr = float(miniscope_band.attrs["frame_rate_hz"])
    x = miniscope_band["mean_fluorescence"].values
    window_s = min(float(window_length), float(np.floor(x.size / fr)))
    spec = multitaper_spectrogram(
        x,
        fr,
        window_length_s=window_s,
        window_step_s=float(window_step),
        freq_lims_hz=tuple(freq_lims),
        time_bandwidth=float(time_bandwidth),
        detrend="constant",
    )
    ds = xr.Dataset(
        {"psd": (("freq", "window"), spec.psd), "psd_db": (("freq", "window"), spec.psd_db)},
        coords={"f_hz": ("freq", spec.f_hz), "t_s": ("window", spec.t_s)},
        attrs={"frame_rate_hz": fr, "window_length_s": window_s},
    )
    png = previews.spectrogram_png(
        spec.t_s, spec.f_hz, spec.psd_db, title=f"line {line}: mean-fluorescence spectrogram"
    )
    return Product(ds, {"n_windows": int(spec.t_s.size), "window_length_s": window_s}, png)
