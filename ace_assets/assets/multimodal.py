"""Cross-modal products: frame<->sample maps; the miniscope mean-fluorescence band, phase and spectrum."""

import dagster as dg
import numpy as np
import xarray as xr

from ace_assets import metadata as md
from ace_assets.assets.raw import PARAMETER_GROUPS, PARAMETER_SOURCES
from ace_assets.partitions import experiment_lines
from ace_assets.resources import AcePaths, LineParameters, effective_parameters
from ace_core import store
from ace_core.signal import filters
from ace_core.signal.spectrogram import multitaper_spectrogram
from ace_core.sync import frame_mapping
from ace_core.viz import previews

_COMMON = dict(partitions_def=experiment_lines, kinds={"zarr", "xarray"}, io_manager_key="zarr_io")


class MiniscopeBandConfig(dg.Config):
    n: int | None = None
    cut: list[float] | None = None
    ftype: str | None = None
    btype: str | None = None
    inline: bool | None = None


class MiniscopePhaseConfig(dg.Config):
    phase_from_unfiltered: bool = False  # the reference's behaviour (Hilbert phase of the broadband trace)


class MiniscopeSpectrogramConfig(dg.Config):
    window_length: float | None = None
    window_step: float | None = None
    freq_lims: list[float] | None = None
    time_bandwidth: float | None = None


@dg.asset(**_COMMON, group_name="sync", code_version="1")
def ephys_frame_index(context: dg.AssetExecutionContext, t_ca_im: xr.Dataset, lfp: xr.Dataset) -> xr.Dataset:
    """Nearest ephys sample of every frame (ties to the lower index) and the frame of every ephys sample.

    `ca_frame_num_of_ephys_idx` follows the reference: the next frame TTL at or after the sample ("next");
    `frame_of_sample_previous` gives the frame whose exposure contains the sample. Samples without a frame
    are -1 (the reference wrote an ambiguous 0).
    """
    fs, t0 = float(lfp.attrs["fs_hz"]), float(lfp.attrs["t0_s"])
    n_samples = int(lfp.sizes["time"])
    t = t_ca_im["t_ca_im_s"].values
    e_all = frame_mapping.nearest_sample_index(t, t0, fs, n_samples)
    nxt = frame_mapping.frame_of_sample(e_all, n_samples, convention="next")
    prev = frame_mapping.frame_of_sample(e_all, n_samples, convention="previous")
    low = frame_mapping.low_confidence_mask(t.size, t_ca_im["low_confidence_periods"].values)
    t_last = t0 + (n_samples - 1) / fs
    outside = int(np.count_nonzero((t < t0) | (t > t_last)))
    ds = xr.Dataset(
        {
            "ephys_idx_all_TTL_events": ("frame", e_all),
            "low_confidence": ("frame", low),
            "ca_frame_num_of_ephys_idx": ("time", nxt),
            "frame_of_sample_previous": ("time", prev),
        },
        attrs={
            "fs_hz": fs,
            "t0_s": t0,
            "n_frames_outside_recording": outside,
            "conventions": "ca_frame_num_of_ephys_idx: next frame at or after the sample (reference); "
            "frame_of_sample_previous: frame whose exposure contains the sample; -1 = none",
        },
    )
    context.add_output_metadata(
        {
            "n_frames": int(t.size),
            "n_samples": n_samples,
            "n_frames_outside_recording": outside,
            "n_low_confidence_frames": int(low.sum()),
            "max_frame_to_sample_error_ms": float(np.max(np.abs(t0 + e_all / fs - t)) * 1e3)
            if t.size
            else 0.0,
        }
    )
    return ds


@dg.asset(
    **_COMMON,
    group_name="miniscope",
    deps=["preprocessed_movie", PARAMETER_SOURCES["miniscope_filter_parameters"]],
    code_version="1",
)
def miniscope_band(
    context: dg.AssetExecutionContext,
    config: MiniscopeBandConfig,
    paths: AcePaths,
    parameters: LineParameters,
) -> xr.Dataset:
    """Mean fluorescence per frame of the preprocessed movie and its zero-phase band-pass.

    Filter: `n`, `cut`, `ftype`, `btype`. With `inline`, `mean_fluorescence` is replaced by the band-passed
    trace, as in the reference.
    """
    line = context.partition_key
    lp = parameters.for_line(line)
    p = effective_parameters(lp, config, PARAMETER_GROUPS["miniscope_filter_parameters"])
    movie = store.open_dataset(paths.product_path("preprocessed_movie", line))
    fr = float(movie.attrs["frame_rate_hz"])
    trace = movie["mean_output"].values.astype(np.float64)
    filtered = filters.bandpass(trace, fr, p["cut"], order=int(p["n"]), ftype=p["ftype"], btype=p["btype"])
    t_s = np.arange(trace.size) / fr
    ds = xr.Dataset(
        {
            "mean_fluorescence": ("frame", filtered if p["inline"] else trace),
            "unfiltered": ("frame", trace),
            "filtered": ("frame", filtered),
        },
        coords={"t_s": ("frame", t_s)},
        attrs={
            "frame_rate_hz": fr,
            "inline": bool(p["inline"]),
            "cut": list(np.atleast_1d(p["cut"])),
            "n": int(p["n"]),
            "ftype": p["ftype"],
            "btype": p["btype"],
        },
    )
    context.add_output_metadata(
        {
            "frame_rate_hz": fr,
            "n_frames": int(trace.size),
            "preview": md.png(
                previews.traces_png(
                    t_s,
                    [trace, filtered],
                    ["mean fluorescence", f"band {p['cut']} Hz"],
                    title=f"line {line}: miniscope band",
                    ylabel="a.u.",
                )
            ),
            **md.parameters(p, lp.unknown_columns),
        }
    )
    return ds


@dg.asset(**_COMMON, group_name="miniscope", code_version="1")
def miniscope_phase(
    context: dg.AssetExecutionContext, config: MiniscopePhaseConfig, miniscope_band: xr.Dataset
) -> xr.Dataset:
    """Hilbert phase of the band-passed mean fluorescence (the reference used the unfiltered trace: a defect;
    `phase_from_unfiltered` reproduces it)."""
    source = miniscope_band["unfiltered" if config.phase_from_unfiltered else "filtered"].values
    phase = filters.hilbert_phase(source)
    t_s = miniscope_band["t_s"].values
    context.add_output_metadata(
        {
            "phase_source": "unfiltered" if config.phase_from_unfiltered else "filtered",
            "preview": md.png(
                previews.phase_png(
                    phase, source, t_s, title=f"line {context.partition_key}: miniscope phase", window_s=30.0
                )
            ),
        }
    )
    return xr.Dataset(
        {"phase_rad": ("frame", phase.astype(np.float32))},
        coords={"t_s": ("frame", t_s)},
        attrs={
            **miniscope_band.attrs,
            "phase_source": "unfiltered" if config.phase_from_unfiltered else "filtered",
        },
    )


@dg.asset(
    **_COMMON,
    group_name="miniscope",
    deps=[PARAMETER_SOURCES["miniscope_spectrogram_parameters"]],
    code_version="1",
)
def miniscope_spectrogram(
    context: dg.AssetExecutionContext,
    config: MiniscopeSpectrogramConfig,
    miniscope_band: xr.Dataset,
    parameters: LineParameters,
) -> xr.Dataset:
    """Multitaper spectrogram of the mean fluorescence at the true frame rate (the reference used int(fr))."""
    line = context.partition_key
    lp = parameters.for_line(line)
    p = effective_parameters(lp, config, PARAMETER_GROUPS["miniscope_spectrogram_parameters"])
    fr = float(miniscope_band.attrs["frame_rate_hz"])
    x = miniscope_band["mean_fluorescence"].values
    window_s = min(float(p["window_length"]), float(np.floor(x.size / fr)))
    spec = multitaper_spectrogram(
        x,
        fr,
        window_length_s=window_s,
        window_step_s=float(p["window_step"]),
        freq_lims_hz=tuple(p["freq_lims"]),
        time_bandwidth=float(p["time_bandwidth"]),
        detrend="constant",
    )
    ds = xr.Dataset(
        {"psd": (("freq", "window"), spec.psd), "psd_db": (("freq", "window"), spec.psd_db)},
        coords={"f_hz": ("freq", spec.f_hz), "t_s": ("window", spec.t_s)},
        attrs={"frame_rate_hz": fr, "window_length_s": window_s},
    )
    context.add_output_metadata(
        {
            "n_windows": int(spec.t_s.size),
            "window_length_s": window_s,
            "preview": md.png(
                previews.spectrogram_png(
                    spec.t_s, spec.f_hz, spec.psd_db, title=f"line {line}: mean-fluorescence spectrogram"
                )
            ),
            **md.parameters(p, lp.unknown_columns),
        }
    )
    return ds
