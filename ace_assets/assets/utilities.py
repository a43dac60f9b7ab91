"""The reference's shared utilities as products: V4 denoising, head orientation, z-scored traces,
event-triggered averages and experiment events on both clocks."""

import dagster as dg
import numpy as np
import xarray as xr

from ace_assets import metadata as md
from ace_assets.assets.raw import PARAMETER_GROUPS, PARAMETER_SOURCES, raw_miniscope
from ace_assets.partitions import experiment_lines
from ace_assets.progress import frame_progress
from ace_assets.resources import AcePaths, LineParameters
from ace_core.analysis import traces
from ace_core.imaging import denoise
from ace_core.io import head_orientation, miniscope
from ace_core.io.frames import MiniscopeSource
from ace_core.store.movies import MovieWriter
from ace_core.sync import clocks
from ace_core.viz import previews

_COMMON = dict(partitions_def=experiment_lines, kinds={"zarr", "xarray"}, io_manager_key="zarr_io")


def _spectrum(frame: np.ndarray) -> np.ndarray:
    return np.log10(np.abs(np.fft.fftshift(np.fft.fft2(frame - frame.mean()))) + 1e-3)


@dg.asset(
    partitions_def=experiment_lines,
    group_name="miniscope",
    kinds={"zarr"},
    deps=[raw_miniscope, PARAMETER_SOURCES["denoise_parameters"]],
    code_version="1",
)
def denoised_movie(
    context: dg.AssetExecutionContext, paths: AcePaths, parameters: LineParameters
) -> dg.MaterializeResult:
    """Optional first miniscope step (`denoise: TRUE`): a 2-D FFT notch against travelling horizontal bands
    and a low-pass of the frame mean against flicker. When off, nothing is written and `cropped_movie` reads
    the raw movie."""
    line = context.partition_key
    lp = parameters.for_line(line)
    p = lp.subset(PARAMETER_GROUPS["denoise_parameters"])
    if not p["denoise"]:
        return dg.MaterializeResult(metadata={"applied": False, "note": "denoise is off for this line"})
    rec = miniscope.open_recording(paths.experiment(line).calcium_dir)
    params = denoise.DenoiseParams.from_parameters(p, frame_rate_hz=rec.frame_rate_hz)
    path = paths.product_path("denoised_movie", line)
    with MovieWriter(
        path,
        rec.n_frames,
        rec.height,
        rec.width,
        dtype="float32",
        chunk_frames=params.chunk_frames,
        attrs={"frame_rate_hz": rec.frame_rate_hz, **p},
    ) as writer:
        summary = denoise.denoise(
            MiniscopeSource(rec), params, writer.write, progress=frame_progress(context, "denoise")
        )
        writer.add_variables(
            xr.Dataset(
                {"mean_before": ("frame", summary.mean_before), "mean_after": ("frame", summary.mean_after)}
            )
        )
    raw0 = MiniscopeSource(rec).read(0, 1)[0].astype(np.float64)
    den0 = denoise.denoise_frames(
        raw0[None], summary.mask, summary.flicker_correction[:1] if summary.flicker_applied else None
    )[0]
    return dg.MaterializeResult(
        metadata={
            "applied": True,
            "path": dg.MetadataValue.path(str(path)),
            "band_power_removed_db": float(summary.band_power_removed_db),
            "preview": md.png(
                previews.images_png(
                    {
                        "raw frame 0": raw0,
                        "denoised frame 0": den0,
                        "raw spectrum (log)": _spectrum(raw0),
                        "denoised spectrum (log)": _spectrum(den0),
                    },
                    title=f"line {line}: V4 denoising",
                    ncols=2,
                )
            ),
            **md.parameters(p, lp.unknown_columns),
        }
    )


@dg.asset(**_COMMON, name="head_orientation", group_name="miniscope", deps=[raw_miniscope], code_version="1")
def head_orientation_angles(
    context: dg.AssetExecutionContext, t_ca_im: xr.Dataset, paths: AcePaths
) -> xr.Dataset:
    """Roll, pitch, yaw (rad and deg) of the V4 BNO head sensor on the miniscope clock and on the ephys clock.

    Lines without `Miniscope/headOrientation.csv` produce an empty product marked "absent" (not a failure).
    """
    line = context.partition_key
    rec = miniscope.open_recording(paths.experiment(line).calcium_dir)
    ho = head_orientation.read_head_orientation(rec.device_dir)
    if ho is None:
        context.add_output_metadata({"status": "absent", "n_samples": 0})
        return xr.Dataset(
            {
                name: ("sample", np.zeros(0))
                for name in ("t_host_s", "t_ephys_s", "roll_deg", "pitch_deg", "yaw_deg")
            },
            attrs={"status": "absent"},
        )
    o = head_orientation.orientation_on_clocks(ho, rec.timestamps_s, t_ca_im["t_ca_im_s"].values)
    ds = xr.Dataset(
        {
            "t_host_s": ("sample", o.t_host_s),
            "t_ephys_s": ("sample", o.t_ephys_s),
            **{f"{a}_rad": ("sample", getattr(o, f"{a}_rad")) for a in ("roll", "pitch", "yaw")},
            **{f"{a}_deg": ("sample", getattr(o, f"{a}_deg")) for a in ("roll", "pitch", "yaw")},
        },
        attrs={
            "status": "present",
            "convention": "aerospace ZYX (yaw, pitch, roll), yaw in (-180, 180]",
            "source": str(ho.path),
        },
    )
    context.add_output_metadata(
        {
            "status": "present",
            "n_samples": int(o.t_host_s.size),
            "preview": md.png(
                previews.traces_png(
                    o.t_host_s,
                    [o.roll_deg, o.pitch_deg, o.yaw_deg],
                    ["roll", "pitch", "yaw"],
                    title=f"line {line}: head orientation",
                    ylabel="deg",
                )
            ),
        }
    )
    return ds


@dg.asset(
    **_COMMON, group_name="cnmfe", deps=[PARAMETER_SOURCES["trace_analysis_parameters"]], code_version="1"
)
def zscored_traces(
    context: dg.AssetExecutionContext, curated_estimates: xr.Dataset, parameters: LineParameters
) -> xr.Dataset:
    """z-scored C of the curated units (`frameWindow` consecutive frames per block; empty = whole trace)."""
    p = parameters.for_line(context.partition_key).subset(["frameWindow"])
    z = traces.z_score(curated_estimates["C"].values, frame_window=p["frameWindow"])
    context.add_output_metadata({"n_units": int(z.shape[0]), "frameWindow": str(p["frameWindow"])})
    return xr.Dataset(
        {"z": (("unit", "frame"), z.astype(np.float32))},
        coords={"unit_id": ("unit", curated_estimates["unit_id"].values)},
        attrs={"frameWindow": -1 if p["frameWindow"] is None else int(p["frameWindow"])},
    )


@dg.asset(
    **_COMMON, group_name="cnmfe", deps=[PARAMETER_SOURCES["trace_analysis_parameters"]], code_version="1"
)
def event_triggered_averages(
    context: dg.AssetExecutionContext,
    zscored_traces: xr.Dataset,
    calcium_events: xr.Dataset,
    parameters: LineParameters,
) -> xr.Dataset:
    """Mean z-scored trace of each unit from `framesb` frames before to `framesa` after each of its events."""
    line = context.partition_key
    p = parameters.for_line(line).subset(["framesb", "framesa"])
    unit_ids = zscored_traces["unit_id"].values
    ev_units = calcium_events["event_unit_id"].values
    frames = {k: calcium_events["event_frame"].values[ev_units == u] for k, u in enumerate(unit_ids)}
    mean, counts, lags = traces.event_triggered_average(
        zscored_traces["z"].values, frames, int(p["framesb"]), int(p["framesa"])
    )
    fr = float(calcium_events.attrs["frame_rate_hz"])
    images = {"event-triggered z (unit x lag)": mean if mean.size else np.zeros((1, lags.size))}
    context.add_output_metadata(
        {
            "n_units": int(unit_ids.size),
            "events_used": int(counts.sum()),
            "lag_s": [float(lags[0] / fr), float(lags[-1] / fr)],
            "preview": md.png(
                previews.images_png(
                    images,
                    title=f"line {line}: event-triggered averages "
                    f"({p['framesb']} before, {p['framesa']} after)",
                    ncols=1,
                )
            ),
        }
    )
    return xr.Dataset(
        {"average": (("unit", "lag"), mean), "n_events_used": ("unit", counts)},
        coords={"unit_id": ("unit", unit_ids), "lag_frames": ("lag", lags), "lag_s": ("lag", lags / fr)},
    )


@dg.asset(**_COMMON, name="experiment_events", group_name="sync", deps=[raw_miniscope], code_version="1")
def experiment_events_table(
    context: dg.AssetExecutionContext,
    ttl_events: xr.Dataset,
    t_ca_im: xr.Dataset,
    lfp: xr.Dataset,
    paths: AcePaths,
) -> xr.Dataset:
    """Non-TTL Neuralynx events and Miniscope notes.csv entries, each on the ephys and the miniscope clock."""
    line = context.partition_key
    rec = miniscope.open_recording(paths.experiment(line).calcium_dir)
    keep = ~ttl_events["is_ttl"].values
    notes = clocks.read_notes(rec.session_dir)
    table = clocks.events_on_both_clocks(
        (ttl_events["time_s"].values[keep], ttl_events["label"].values[keep]),
        notes,
        rec.timestamps_s,
        t_ca_im["t_ca_im_s"].values,
    )
    t = lfp["time_s"].values
    markers = [
        (float(te), str(lab))
        for te, lab in zip(table["t_ephys_s"], table["label"], strict=True)
        if np.isfinite(te)
    ]
    context.add_output_metadata(
        {
            "n_events": len(table),
            "table": dg.MetadataValue.md(
                "| source | label | ephys clock (s) | miniscope clock (s) | frame |\n"
                "|---|---|---:|---:|---:|\n"
                + "\n".join(
                    f"| {r.source} | {r.label} | {r.t_ephys_s:.3f} | {r.t_miniscope_s:.3f} | {r.frame} |"
                    for r in table.itertuples()
                )
            ),
            "preview": md.png(
                previews.traces_png(
                    t,
                    [lfp["lfp_uv"].values],
                    [lfp.attrs["channel_name"]],
                    title=f"line {line}: experiment events on the LFP",
                    ylabel="µV",
                    markers=markers,
                )
            ),
        }
    )
    return xr.Dataset(
        {col: ("event", table[col].to_numpy()) for col in table.columns},
        attrs={"clocks": "t_ephys_s: Neuralynx session clock; t_miniscope_s: DAQ host clock"},
    )
