"""Ephys products: the LFP channel, its band-pass, the band's phase, and the LFP spectrogram."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import xarray as xr

from ace_core.io import neuralynx
from ace_core.products import Product
from ace_core.signal import artifacts, filters
from ace_core.signal.spectrogram import decimate_for_spectrogram, multitaper_spectrogram
from ace_core.viz import previews

__all__ = ["filtered_lfp", "lfp", "lfp_phase", "lfp_spectrogram"]


def lfp(
    ephys_dir: str | os.PathLike,
    *,
    channel_name: str,
    remove_artifacts: bool,
    artifact_threshold_uv: float,
    artifact_merge_s: float,
    artifact_taper_samples: int,
    line: str = "",
) -> Product:
    """The selected Neuralynx channel in µV on the session clock; NaN between recording segments.

    Parameters
    ----------
    ephys_dir
        The Neuralynx session folder.
    channel_name
        Channel to read (the ``.ncs`` name without extension).
    remove_artifacts, artifact_threshold_uv, artifact_merge_s, artifact_taper_samples
        Optional artifact removal: supra-threshold stretches zeroed with tapered edges.
    line
        The experiment line, named in the preview's title.

    Returns
    -------
    Product
        ``lfp_uv(time)`` with ``time_s``; attrs: channel, ``fs_hz``, ``t0_s``, gaps, segments.
    """
    channel = neuralynx.read_channel(ephys_dir, channel_name)
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
    if remove_artifacts:
        res = artifacts.remove_artifacts(
            signal,
            channel.fs_hz,
            threshold_uv=artifact_threshold_uv,
            merge_s=artifact_merge_s,
            taper_samples=artifact_taper_samples,
        )
        signal, n_artifacts = res.signal_uv, res.n_artifacts
        data_vars["artifact_mask"] = ("time", res.mask)
        attrs["artifact_fraction"] = res.fraction_masked
    data_vars["lfp_uv"] = ("time", signal.astype(np.float32))
    ds = xr.Dataset(data_vars, coords={"time_s": ("time", channel.time_s)}, attrs=attrs)
    finite = np.isfinite(signal)
    summary = {
        "channel_name": channel.name,
        "fs_hz": channel.fs_hz,
        "n_samples": int(signal.size),
        "duration_s": float(signal.size / channel.fs_hz),
        "n_segments": channel.n_segments,
        "gap_count": int(len(channel.gaps)),
        "gap_seconds": float((~finite).sum() / channel.fs_hz),
        "n_artifacts": n_artifacts,
        "rms_uv": float(np.sqrt(np.nanmean(signal**2))) if finite.any() else float("nan"),
    }
    png = previews.traces_png(
        channel.time_s, [signal], [channel.name], title=f"line {line}: {channel.name}", ylabel="µV"
    )
    return Product(ds, summary, png)


def filtered_lfp(
    lfp: xr.Dataset,
    *,
    filter_type: str | None,
    filter_range: Sequence[float],
    n: int,
    fir_numtaps: int | None,
    line: str = "",
) -> Product:
    """Zero-phase band-pass of the LFP (second-order sections or FIR), filtered per recording segment.

    Parameters
    ----------
    lfp
        The ``lfp`` product.
    filter_type, filter_range, n, fir_numtaps
        Design (``butter``/``fir``, None for no filter), pass band in Hz, order, FIR taps (None: automatic).

    Returns
    -------
    Product
        ``filtered_uv(time)``; the summary holds the gain at the band centre and an octave either side.
    """
    fs = float(lfp.attrs["fs_hz"])
    x = lfp["lfp_uv"].values.astype(np.float64)
    design = filters.design_bandpass(fs, filter_range, order=n, ftype=filter_type, numtaps=fir_numtaps)
    y = filters.apply_filter(x, design)
    t = lfp["time_s"].values
    low, high = filter_range
    gains = filters.frequency_response_db(design, np.array([np.sqrt(low * high), low / 2, high * 2]))
    ds = xr.Dataset(
        {"filtered_uv": ("time", y.astype(np.float32))},
        coords={"time_s": ("time", t)},
        attrs={**lfp.attrs, "filter_type": filter_type, "filter_range": list(filter_range), "order": int(n)},
    )
    summary = {
        "fs_hz": fs,
        "band_hz": list(filter_range),
        "gain_at_band_centre_db": float(gains[0]),
        "gain_octave_below_db": float(gains[1]),
        "gain_octave_above_db": float(gains[2]),
    }
    t_first = t[np.argmax(np.isfinite(x))] if t.size else 0.0
    png = previews.traces_png(
        t,
        [x, y],
        ["LFP", f"band {list(filter_range)} Hz"],
        title=f"line {line}: filtered LFP (first 20 s)",
        ylabel="µV",
        window_s=(t_first, t_first + 20),
    )
    return Product(ds, summary, png)


def lfp_phase(
    filtered_lfp: xr.Dataset, lfp: xr.Dataset, *, phase_from_raw_signal: bool = False, line: str = ""
) -> Product:
    """Hilbert phase (rad, (-pi, pi]) and amplitude of the band-passed LFP, per recording segment.

    Parameters
    ----------
    filtered_lfp, lfp
        The band-passed and the broadband LFP products.
    phase_from_raw_signal
        Take the phase of the unfiltered signal, as the reference toolkit did (for comparison only: the
        broadband phase is dominated by noise, not by the slow oscillation).

    Returns
    -------
    Product
        ``phase_rad(time)`` and ``amplitude_uv(time)``.
    """
    source = lfp["lfp_uv"] if phase_from_raw_signal else filtered_lfp["filtered_uv"]
    x = source.values.astype(np.float64)
    z = filters.analytic_signal(x)
    phase, amp = np.angle(z), np.abs(z)
    t = filtered_lfp["time_s"].values
    phase_source = "raw" if phase_from_raw_signal else "filtered"
    ds = xr.Dataset(
        {"phase_rad": ("time", phase.astype(np.float32)), "amplitude_uv": ("time", amp.astype(np.float32))},
        coords={"time_s": ("time", t)},
        attrs={**filtered_lfp.attrs, "phase_source": phase_source},
    )
    summary = {"phase_source": phase_source, "median_amplitude_uv": float(np.nanmedian(amp))}
    return Product(ds, summary, previews.phase_png(phase, x, t, title=f"line {line}: band phase"))


def lfp_spectrogram(
    lfp: xr.Dataset,
    *,
    lfp_window_length: float,
    lfp_window_step: float,
    lfp_freq_lims: Sequence[float],
    lfp_time_bandwidth: float,
    ttl_events: xr.Dataset | None = None,
    line: str = "",
) -> Product:
    """Multitaper spectrogram of the broadband LFP, after anti-alias decimation.

    Computed on the unfiltered channel: a spectrogram of the band-passed signal would only show the pass
    band, while a person looks here for slow-wave power against the other bands. A recording shorter than
    one window still gets a spectrogram, with the window shortened (and a warning).

    Parameters
    ----------
    lfp
        The ``lfp`` product.
    lfp_window_length, lfp_window_step, lfp_freq_lims, lfp_time_bandwidth
        Window (s), step (s), frequency range (Hz) and time-bandwidth product.
    ttl_events
        The ``ttl_events`` product: its experiment events (non-TTL) are marked on the preview.

    Returns
    -------
    Product
        ``psd`` and ``psd_db`` (freq, window) with ``f_hz`` and ``t_s`` on the session clock.
    """
    fs = float(lfp.attrs["fs_hz"])
    x, fs_dec = decimate_for_spectrogram(lfp["lfp_uv"].values.astype(np.float64), fs, float(lfp_freq_lims[1]))
    window_s = float(lfp_window_length)
    duration_s = x.size / fs_dec
    warnings, notes = [], {}
    if duration_s < window_s:
        notes["window_shortened_to_s"] = float(max(np.floor(duration_s), 1.0))
        warnings.append(
            f"LFP is {duration_s:.1f} s, shorter than lfp_window_length = {window_s:g} s; "
            f"using {notes['window_shortened_to_s']:g} s windows"
        )
        window_s = notes["window_shortened_to_s"]
    spec = multitaper_spectrogram(
        x,
        fs_dec,
        window_length_s=window_s,
        window_step_s=float(lfp_window_step),
        freq_lims_hz=tuple(lfp_freq_lims),
        time_bandwidth=float(lfp_time_bandwidth),
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
    summary = {
        "n_windows": int(spec.t_s.size),
        "n_freqs": int(spec.f_hz.size),
        "peak_frequency_hz": float(spec.f_hz[np.nanargmax(mean_psd)])
        if np.isfinite(mean_psd).any()
        else float("nan"),
        "computed_at_fs_hz": fs_dec,
        "window_length_s": window_s,
        **notes,
    }
    markers = []
    if ttl_events is not None:
        other = ~ttl_events["is_ttl"].values
        markers = [
            (float(t), str(lab))
            for t, lab in zip(
                ttl_events["time_s"].values[other], ttl_events["label"].values[other], strict=True
            )
        ]
    png = previews.spectrogram_png(
        t_s,
        spec.f_hz,
        spec.psd_db,
        title=f"line {line}: {lfp.attrs['channel_name']} spectrogram",
        markers=markers,
    )
    return Product(ds, summary, png, tuple(warnings))
