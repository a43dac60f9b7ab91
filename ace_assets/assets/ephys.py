"""Ephys chain: LFP channel -> band-passed LFP -> band phase, and the LFP spectrogram."""

import dagster as dg
import numpy as np
import xarray as xr

from ace_assets import metadata as md
from ace_assets.assets.raw import PARAMETER_GROUPS, PARAMETER_SOURCES, raw_neuralynx
from ace_assets.partitions import experiment_lines
from ace_assets.resources import AcePaths, LineParameters, effective_parameters
from ace_core.analysis import quality
from ace_core.io import neuralynx
from ace_core.signal import artifacts, filters
from ace_core.signal.spectrogram import decimate_for_spectrogram, multitaper_spectrogram
from ace_core.viz import previews

_COMMON = dict(
    partitions_def=experiment_lines, group_name="ephys", kinds={"zarr", "xarray"}, io_manager_key="zarr_io"
)


class LfpConfig(dg.Config):
    """Launchpad overrides; None means: use the line's analysis_parameters.csv value or the default."""

    channel_name: str | None = None
    remove_artifacts: bool | None = None
    artifact_threshold_uv: float | None = None


class FilterConfig(dg.Config):
    filter_type: str | None = None
    filter_range: list[float] | None = None
    n: int | None = None
    fir_numtaps: int | None = None


class PhaseConfig(dg.Config):
    phase_from_raw_signal: bool = (
        False  # the reference's behaviour (phase of the unfiltered signal), for comparison
    )


class LfpSpectrogramConfig(dg.Config):
    lfp_window_length: float | None = None
    lfp_window_step: float | None = None
    lfp_freq_lims: list[float] | None = None
    lfp_time_bandwidth: float | None = None


@dg.asset(**_COMMON, deps=[raw_neuralynx, PARAMETER_SOURCES["lfp_parameters"]], code_version="1")
def lfp(
    context: dg.AssetExecutionContext, config: LfpConfig, paths: AcePaths, parameters: LineParameters
) -> xr.Dataset:
    """The selected Neuralynx channel in µV on the session clock; NaN between recording segments.

    Optional artifact removal (reference 2.4) zeroes supra-threshold stretches with tapered edges.
    """
    line = context.partition_key
    exp = paths.experiment(line)
    lp = parameters.for_line(line)
    p = effective_parameters(lp, config, PARAMETER_GROUPS["lfp_parameters"])
    channel = neuralynx.read_channel(exp.ephys_dir, p["channel_name"])
    signal = channel.signal_uv
    attrs = {
        "channel_name": channel.name,
        "fs_hz": channel.fs_hz,
        "t0_s": channel.t0_s,
        "session_start_us": channel.session_start_us,
        "source": str(channel.source),
        "gaps": channel.gaps.tolist(),
        "n_segments": channel.n_segments,
        "units": "uV",
    }
    data_vars = {}
    n_artifacts = 0
    if p["remove_artifacts"]:
        res = artifacts.remove_artifacts(
            signal,
            channel.fs_hz,
            threshold_uv=p["artifact_threshold_uv"],
            merge_s=p["artifact_merge_s"],
            taper_samples=p["artifact_taper_samples"],
        )
        signal, n_artifacts = res.signal_uv, res.n_artifacts
        data_vars["artifact_mask"] = ("time", res.mask)
        attrs["artifact_fraction"] = res.fraction_masked
    data_vars["lfp_uv"] = ("time", signal.astype(np.float32))
    ds = xr.Dataset(data_vars, coords={"time_s": ("time", channel.time_s)}, attrs=attrs)
    finite = np.isfinite(signal)
    context.add_output_metadata(
        {
            "channel_name": channel.name,
            "fs_hz": channel.fs_hz,
            "n_samples": int(signal.size),
            "duration_s": float(signal.size / channel.fs_hz),
            "n_segments": channel.n_segments,
            "gap_count": int(len(channel.gaps)),
            "gap_seconds": float((~finite).sum() / channel.fs_hz),
            "n_artifacts": n_artifacts,
            "rms_uv": float(np.sqrt(np.nanmean(signal**2))) if finite.any() else float("nan"),
            "preview": md.png(
                previews.traces_png(
                    channel.time_s,
                    [signal],
                    [channel.name],
                    title=f"line {line}: {channel.name}",
                    ylabel="µV",
                )
            ),
            **md.parameters(p, lp.unknown_columns),
        }
    )
    return ds


@dg.asset_check(
    asset=lfp,
    partitions_def=experiment_lines,
    blocking=False,
    description="At most 20 % of LFP samples are NaN (recording pauses between Neuralynx segments).",
)
def lfp_nan_fraction(lfp: xr.Dataset) -> dg.AssetCheckResult:
    report = quality.lfp_nan_fraction(lfp["lfp_uv"].values, float(lfp.attrs["fs_hz"]))
    return md.check_result(report)


@dg.asset(**_COMMON, deps=[PARAMETER_SOURCES["lfp_filter_parameters"]], code_version="1")
def filtered_lfp(
    context: dg.AssetExecutionContext, config: FilterConfig, lfp: xr.Dataset, parameters: LineParameters
) -> xr.Dataset:
    """Zero-phase band-pass (`filter_type`, `filter_range`, order `n`), second-order sections, per segment."""
    line = context.partition_key
    lp = parameters.for_line(line)
    p = effective_parameters(lp, config, PARAMETER_GROUPS["lfp_filter_parameters"])
    fs = float(lfp.attrs["fs_hz"])
    x = lfp["lfp_uv"].values.astype(np.float64)
    design = filters.design_bandpass(
        fs, p["filter_range"], order=p["n"], ftype=p["filter_type"], numtaps=p["fir_numtaps"]
    )
    y = filters.apply_filter(x, design)
    t = lfp["time_s"].values
    centre = float(np.sqrt(p["filter_range"][0] * p["filter_range"][1]))
    gains = filters.frequency_response_db(
        design, np.array([centre, p["filter_range"][0] / 2, p["filter_range"][1] * 2])
    )
    ds = xr.Dataset(
        {"filtered_uv": ("time", y.astype(np.float32))},
        coords={"time_s": ("time", t)},
        attrs={
            **lfp.attrs,
            "filter_type": p["filter_type"],
            "filter_range": list(p["filter_range"]),
            "order": int(p["n"]),
        },
    )
    context.add_output_metadata(
        {
            "fs_hz": fs,
            "band_hz": dg.MetadataValue.json(list(p["filter_range"])),
            "gain_at_band_centre_db": float(gains[0]),
            "gain_octave_below_db": float(gains[1]),
            "gain_octave_above_db": float(gains[2]),
            "preview": md.png(
                previews.traces_png(
                    t,
                    [x, y],
                    ["LFP", f"band {p['filter_range']} Hz"],
                    title=f"line {line}: filtered LFP (first 20 s)",
                    ylabel="µV",
                    window_s=(t[np.argmax(np.isfinite(x))], t[np.argmax(np.isfinite(x))] + 20),
                )
            ),
            **md.parameters(p, lp.unknown_columns),
        }
    )
    return ds


@dg.asset(**_COMMON, code_version="1")
def lfp_phase(
    context: dg.AssetExecutionContext, config: PhaseConfig, filtered_lfp: xr.Dataset, lfp: xr.Dataset
) -> xr.Dataset:
    """Hilbert phase (rad, (-pi, pi]) and amplitude of the band-passed LFP.

    The reference took the phase of the raw signal (a defect); `phase_from_raw_signal` reproduces it.
    """
    source = lfp["lfp_uv"] if config.phase_from_raw_signal else filtered_lfp["filtered_uv"]
    x = source.values.astype(np.float64)
    z = filters.analytic_signal(x)
    phase, amp = np.angle(z), np.abs(z)
    t = filtered_lfp["time_s"].values
    ds = xr.Dataset(
        {"phase_rad": ("time", phase.astype(np.float32)), "amplitude_uv": ("time", amp.astype(np.float32))},
        coords={"time_s": ("time", t)},
        attrs={**filtered_lfp.attrs, "phase_source": "raw" if config.phase_from_raw_signal else "filtered"},
    )
    context.add_output_metadata(
        {
            "phase_source": ds.attrs["phase_source"],
            "median_amplitude_uv": float(np.nanmedian(amp)),
            "preview": md.png(
                previews.phase_png(phase, x, t, title=f"line {context.partition_key}: band phase")
            ),
        }
    )
    return ds


@dg.asset(**_COMMON, deps=[PARAMETER_SOURCES["lfp_spectrogram_parameters"]], code_version="1")
def lfp_spectrogram(
    context: dg.AssetExecutionContext,
    config: LfpSpectrogramConfig,
    lfp: xr.Dataset,
    ttl_events: xr.Dataset,
    parameters: LineParameters,
) -> xr.Dataset:
    """Multitaper spectrogram (reference 3.9) of the broadband LFP, after anti-alias decimation.

    The preview marks the experiment events (non-TTL Neuralynx events, e.g. drug start).

    Computed on the unfiltered channel: a spectrogram of the band-passed signal would only show the pass
    band, while a person looks here for slow-wave power against the other bands.
    """
    line = context.partition_key
    lp = parameters.for_line(line)
    p = effective_parameters(lp, config, PARAMETER_GROUPS["lfp_spectrogram_parameters"])
    fs = float(lfp.attrs["fs_hz"])
    x, fs_dec = decimate_for_spectrogram(
        lfp["lfp_uv"].values.astype(np.float64), fs, float(p["lfp_freq_lims"][1])
    )
    # A recording shorter than one window still gets a spectrogram, with the window shortened and said so.
    window_s = float(p["lfp_window_length"])
    duration_s = x.size / fs_dec
    notes = {}
    if duration_s < window_s:
        notes["window_shortened_to_s"] = float(max(np.floor(duration_s), 1.0))
        context.log.warning(
            f"line {line}: LFP is {duration_s:.1f} s, shorter than lfp_window_length = {window_s:g} s; "
            f"using {notes['window_shortened_to_s']:g} s windows"
        )
        window_s = notes["window_shortened_to_s"]
    spec = multitaper_spectrogram(
        x,
        fs_dec,
        window_length_s=window_s,
        window_step_s=float(p["lfp_window_step"]),
        freq_lims_hz=tuple(p["lfp_freq_lims"]),
        time_bandwidth=float(p["lfp_time_bandwidth"]),
    )
    t_s = float(lfp.attrs["t0_s"]) + spec.t_s
    ds = xr.Dataset(
        {
            "psd": (("freq", "window"), spec.psd.astype(np.float32)),
            "psd_db": (("freq", "window"), spec.psd_db.astype(np.float32)),
        },
        coords={"f_hz": ("freq", spec.f_hz), "t_s": ("window", t_s)},
        attrs={
            "fs_hz": fs_dec,
            "source_fs_hz": fs,
            "channel_name": lfp.attrs["channel_name"],
            "units": "uV^2/Hz",
            "window_length_s": window_s,
        },
    )
    mean_psd = np.nanmean(spec.psd, axis=1)
    context.add_output_metadata(
        {
            "n_windows": int(spec.t_s.size),
            "n_freqs": int(spec.f_hz.size),
            "peak_frequency_hz": float(spec.f_hz[np.nanargmax(mean_psd)])
            if np.isfinite(mean_psd).any()
            else float("nan"),
            "computed_at_fs_hz": fs_dec,
            "window_length_s": window_s,
            **notes,
            "preview": md.png(
                previews.spectrogram_png(
                    t_s,
                    spec.f_hz,
                    spec.psd_db,
                    title=f"line {line}: {lfp.attrs['channel_name']} spectrogram",
                    markers=[
                        (float(t), str(lab))
                        for t, lab, ttl in zip(
                            ttl_events["time_s"].values,
                            ttl_events["label"].values,
                            ttl_events["is_ttl"].values,
                            strict=True,
                        )
                        if not ttl
                    ],
                )
            ),
            **md.parameters(p, lp.unknown_columns),
        }
    )
    return ds
