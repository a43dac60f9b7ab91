"""Synchronisation products: Neuralynx events, the frame clock ``t_ca_im``, frame <-> sample maps, and
experiment events on both clocks."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import xarray as xr

from ace_core.io import neuralynx, notes
from ace_core.io.miniscope import MiniscopeRecording
from ace_core.products import Product
from ace_core.sync import clocks, frame_clock, frame_mapping
from ace_core.viz import previews

__all__ = ["ephys_frame_index", "experiment_events", "t_ca_im", "ttl_events"]


def ttl_events(ephys_dir: str | os.PathLike, *, line: str = "") -> Product:
    """Every Neuralynx event (label, session-clock time): frame-sync TTL edges and experiment events.

    Parameters
    ----------
    ephys_dir
        The Neuralynx session folder.

    Returns
    -------
    Product
        ``label``, ``is_ttl`` and ``is_frame_edge`` per event, with ``time_s``; the summary lists the
        experiment events (non-TTL) as a table.
    """
    events = neuralynx.read_events(ephys_dir)
    labels = np.asarray(events.labels, dtype=str)
    is_ttl = np.char.startswith(labels, neuralynx.TTL_LABEL_PREFIX)
    frame_edge = np.isin(labels, [neuralynx.TTL_HIGH_LABEL, neuralynx.TTL_LOW_LABEL])
    ds = xr.Dataset(
        {"label": ("event", labels), "is_ttl": ("event", is_ttl), "is_frame_edge": ("event", frame_edge)},
        coords={"time_s": ("event", events.times_s)},
        attrs={"source": str(events.source)},
    )
    other = events.experiment_events()
    summary = {
        "n_events": int(labels.size),
        "n_frame_edges": int(frame_edge.sum()),
        "n_other_ttl": int((is_ttl & ~frame_edge).sum()),
        "experiment_events": [
            {"time_s": round(float(t), 3), "event": str(lab)}
            for t, lab in zip(other.times_s, other.labels, strict=True)
        ],
    }
    png = previews.event_raster_png(events.times_s, labels, title=f"line {line}: Neuralynx events")
    return Product(ds, summary, png)


def t_ca_im(
    ttl_events: xr.Dataset,
    recording: MiniscopeRecording,
    *,
    fix_TTL_gaps: bool,  # noqa: N803 - the reference's parameter name
    delete_TTLs: bool,  # noqa: N803
    ttl_gap_threshold_periods: float,
    indices_of_TTL_events_to_delete: Sequence[int],  # noqa: N803
    line: str = "",
) -> Product:
    """Ephys-clock time of every miniscope frame from the frame-sync TTL edges.

    Gaps are filled (``fix_TTL_gaps``, threshold a multiple of the metadata frame period), spurious edges
    removed (``indices of TTL events to delete``, indices into the gap-filled edges, when ``delete_TTLs``),
    and ``low_confidence_periods`` given in final frame indices. The movie's frame count is recorded so a
    check can compare.

    Parameters
    ----------
    ttl_events
        The ``ttl_events`` product.
    recording
        The line's Miniscope recording (frame rate and frame count from its metadata and movies).

    Returns
    -------
    Product
        ``t_ca_im_s``, ``interpolated`` (frame), ``low_confidence_periods`` (period, bound), ``gaps``.

    Raises
    ------
    SyncError
        When there are no edges, gaps are found with ``fix_TTL_gaps`` off, or a deletion index is out of
        range.
    """
    edges = ttl_events["time_s"].values[ttl_events["is_frame_edge"].values]
    delete = list(indices_of_TTL_events_to_delete) if delete_TTLs else []
    clock = frame_clock.compute_t_ca_im(
        edges,
        recording.frame_rate_hz,
        fix_TTL_gaps=fix_TTL_gaps,
        delete_indices=delete,
        gap_threshold_periods=ttl_gap_threshold_periods,
    )
    ds = xr.Dataset(
        {
            "t_ca_im_s": ("frame", clock.t_ca_im_s),
            "interpolated": ("frame", clock.interpolated),
            "low_confidence_periods": (("period", "bound"), clock.low_confidence_periods),
            "gaps": (("gap", "gap_field"), clock.gaps),
        },
        coords={
            "frame": np.arange(clock.n_frames),
            "bound": ["last_good_frame", "first_good_frame"],
            "gap_field": ["edge_index", "duration_s", "frames_inserted"],
        },
        attrs={
            "frame_rate_hz": recording.frame_rate_hz,
            "n_movie_frames": recording.n_frames,
            "n_raw_edges": clock.n_raw_edges,
            "deleted_indices": clock.deleted_indices.tolist(),
            "gap_threshold_s": clock.gap_threshold_s,
            "n_unrepaired_gaps": clock.n_unrepaired_gaps,
            "calcium_dir": str(recording.session_dir),
        },
    )
    dt = np.diff(clock.t_ca_im_s)
    summary = {
        "n_frames": clock.n_frames,
        "n_movie_frames": recording.n_frames,
        "n_raw_edges": clock.n_raw_edges,
        "gap_count": int(len(clock.gaps)),
        "frames_filled": int(clock.interpolated.sum()),
        "deleted_edges": clock.deleted_indices.tolist(),
        "low_confidence_periods": clock.low_confidence_periods.tolist(),
        "frame_rate_hz_metadata": recording.frame_rate_hz,
        "frame_rate_hz_measured": float(1.0 / np.median(dt)) if dt.size else float("nan"),
        "first_frame_s": float(clock.t_ca_im_s[0]),
    }
    png = previews.frame_clock_png(
        clock.t_ca_im_s, clock.interpolated, recording.frame_rate_hz, title=f"line {line}: frame clock"
    )
    return Product(ds, summary, png)


def ephys_frame_index(t_ca_im: xr.Dataset, lfp: xr.Dataset) -> Product:
    """Nearest ephys sample of every frame (ties to the lower index) and the frame of every ephys sample.

    ``ca_frame_num_of_ephys_idx`` follows the reference: the next frame TTL at or after the sample;
    ``frame_of_sample_previous`` gives the frame whose exposure contains the sample. Samples without a frame
    are -1 (the reference wrote an ambiguous 0).

    Parameters
    ----------
    t_ca_im, lfp
        The frame clock and the LFP (sampling rate, first sample time and sample count).

    Returns
    -------
    Product
        ``ephys_idx_all_TTL_events`` and ``low_confidence`` per frame; the two frame maps per sample.
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
    summary = {
        "n_frames": int(t.size),
        "n_samples": n_samples,
        "n_frames_outside_recording": outside,
        "n_low_confidence_frames": int(low.sum()),
        "max_frame_to_sample_error_ms": float(np.max(np.abs(t0 + e_all / fs - t)) * 1e3) if t.size else 0.0,
    }
    return Product(ds, summary)


def experiment_events(
    ttl_events: xr.Dataset,
    t_ca_im: xr.Dataset,
    lfp: xr.Dataset,
    *,
    session_dir: str | os.PathLike,
    timestamps_s: np.ndarray,
    line: str = "",
) -> Product:
    """Non-TTL Neuralynx events and Miniscope ``notes.csv`` entries, each on both clocks.

    Parameters
    ----------
    ttl_events, t_ca_im, lfp
        Upstream products (the LFP only for the preview, where the events are marked).
    session_dir
        The Miniscope session folder (it holds ``notes.csv``).
    timestamps_s
        Host-clock time of every movie frame (``timeStamps.csv``).

    Returns
    -------
    Product
        One row per event: source, label, ``t_ephys_s``, ``t_miniscope_s``, nearest frame.
    """
    keep = ~ttl_events["is_ttl"].values
    table = clocks.events_on_both_clocks(
        (ttl_events["time_s"].values[keep], ttl_events["label"].values[keep]),
        notes.read_notes(session_dir),
        timestamps_s,
        t_ca_im["t_ca_im_s"].values,
    )
    markers = [
        (float(te), str(lab))
        for te, lab in zip(table["t_ephys_s"], table["label"], strict=True)
        if np.isfinite(te)
    ]
    summary = {
        "n_events": len(table),
        "events": [
            {
                "source": r.source,
                "label": r.label,
                "ephys_clock_s": round(float(r.t_ephys_s), 3),
                "miniscope_clock_s": round(float(r.t_miniscope_s), 3),
                "frame": int(r.frame),
            }
            for r in table.itertuples()
        ],
    }
    png = previews.traces_png(
        lfp["time_s"].values,
        [lfp["lfp_uv"].values],
        [lfp.attrs["channel_name"]],
        title=f"line {line}: experiment events on the LFP",
        ylabel="µV",
        markers=markers,
    )
    ds = xr.Dataset(
        {col: ("event", table[col].to_numpy()) for col in table.columns},
        attrs={"clocks": "t_ephys_s: Neuralynx session clock; t_miniscope_s: DAQ host clock"},
    )
    return Product(ds, summary, png)
