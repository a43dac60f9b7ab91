"""TTL sync: Neuralynx events -> `t_ca_im` (ephys-clock time of every movie frame) and its checks."""

import dagster as dg
import numpy as np
import xarray as xr

from ace_assets import metadata as md
from ace_assets.assets.raw import PARAMETER_GROUPS, PARAMETER_SOURCES, raw_miniscope, raw_neuralynx
from ace_assets.partitions import experiment_lines
from ace_assets.resources import AcePaths, LineParameters, effective_parameters
from ace_core.analysis import quality
from ace_core.io import miniscope, neuralynx
from ace_core.sync import frame_clock
from ace_core.viz import previews

_COMMON = dict(
    partitions_def=experiment_lines, group_name="sync", kinds={"zarr", "xarray"}, io_manager_key="zarr_io"
)


class TtlSyncConfig(dg.Config):
    """Launchpad overrides; None means: use the line's analysis_parameters.csv value or the default."""

    fix_TTL_gaps: bool | None = None  # noqa: N815 - the reference's parameter name
    delete_TTLs: bool | None = None  # noqa: N815
    ttl_gap_threshold_periods: float | None = None
    indices_of_TTL_events_to_delete: list[int] | None = None  # noqa: N815


@dg.asset(**_COMMON, deps=[raw_neuralynx], code_version="1")
def ttl_events(context: dg.AssetExecutionContext, paths: AcePaths) -> xr.Dataset:
    """Every Neuralynx event (label, session-clock time): frame-sync TTL edges and experiment events."""
    line = context.partition_key
    exp = paths.experiment(line)
    events = neuralynx.read_events(exp.ephys_dir)
    labels = np.asarray(events.labels, dtype=str)
    is_ttl = np.char.startswith(labels, "TTL Input")
    frame_edge = np.isin(labels, [neuralynx.TTL_HIGH_LABEL, neuralynx.TTL_LOW_LABEL])
    ds = xr.Dataset(
        {"label": ("event", labels), "is_ttl": ("event", is_ttl), "is_frame_edge": ("event", frame_edge)},
        coords={"time_s": ("event", events.times_s)},
        attrs={"source": str(events.source)},
    )
    exp_events = events.experiment_events()
    table = "| time (s) | event |\n|---:|---|\n" + "\n".join(
        f"| {t:.3f} | {lab} |" for t, lab in zip(exp_events.times_s, exp_events.labels, strict=True)
    )
    context.add_output_metadata(
        {
            "n_events": int(labels.size),
            "n_frame_edges": int(frame_edge.sum()),
            "n_other_ttl": int((is_ttl & ~frame_edge).sum()),
            "experiment_events": dg.MetadataValue.md(table),
            "preview": md.png(
                previews.event_raster_png(events.times_s, labels, title=f"line {line}: Neuralynx events")
            ),
        }
    )
    return ds


@dg.asset(**_COMMON, deps=[raw_miniscope, PARAMETER_SOURCES["ttl_parameters"]], code_version="1")
def t_ca_im(
    context: dg.AssetExecutionContext,
    config: TtlSyncConfig,
    ttl_events: xr.Dataset,
    paths: AcePaths,
    parameters: LineParameters,
) -> xr.Dataset:
    """Ephys-clock time of every miniscope frame from the frame-sync TTL edges.

    Gaps are filled (`fix_TTL_gaps`, threshold a multiple of the metadata frame period), spurious edges
    removed (`indices of TTL events to delete`, indices into the gap-filled edges) and
    `low_confidence_periods` given in final frame indices. The movie's frame count is recorded so the
    `t_ca_im_matches_movie` check can compare.
    """
    line = context.partition_key
    exp = paths.experiment(line)
    lp = parameters.for_line(line)
    p = effective_parameters(lp, config, PARAMETER_GROUPS["ttl_parameters"])
    rec = miniscope.open_recording(exp.calcium_dir)
    edges = ttl_events["time_s"].values[ttl_events["is_frame_edge"].values]
    delete = list(p["indices of TTL events to delete"]) if p["delete_TTLs"] else []
    clock = frame_clock.compute_t_ca_im(
        edges,
        rec.frame_rate_hz,
        fix_TTL_gaps=p["fix_TTL_gaps"],
        delete_indices=delete,
        gap_threshold_periods=p["ttl_gap_threshold_periods"],
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
            "frame_rate_hz": rec.frame_rate_hz,
            "n_movie_frames": rec.n_frames,
            "n_raw_edges": clock.n_raw_edges,
            "deleted_indices": clock.deleted_indices.tolist(),
            "gap_threshold_s": clock.gap_threshold_s,
            "n_unrepaired_gaps": clock.n_unrepaired_gaps,
            "calcium_dir": str(exp.calcium_dir),
        },
    )
    dt = np.diff(clock.t_ca_im_s)
    context.add_output_metadata(
        {
            "n_frames": clock.n_frames,
            "n_movie_frames": rec.n_frames,
            "n_raw_edges": clock.n_raw_edges,
            "gap_count": int(len(clock.gaps)),
            "frames_filled": int(clock.interpolated.sum()),
            "deleted_edges": dg.MetadataValue.json(clock.deleted_indices.tolist()),
            "low_confidence_periods": dg.MetadataValue.json(clock.low_confidence_periods.tolist()),
            "frame_rate_hz_metadata": rec.frame_rate_hz,
            "frame_rate_hz_measured": float(1.0 / np.median(dt)) if dt.size else float("nan"),
            "first_frame_s": float(clock.t_ca_im_s[0]),
            "preview": md.png(
                previews.frame_clock_png(
                    clock.t_ca_im_s, clock.interpolated, rec.frame_rate_hz, title=f"line {line}: frame clock"
                )
            ),
            **md.parameters(p, lp.unknown_columns),
        }
    )
    return ds


@dg.asset_check(
    asset=t_ca_im,
    partitions_def=experiment_lines,
    blocking=True,
    description="One frame time per movie frame, and no TTL gap left unrepaired.",
)
def t_ca_im_matches_movie(t_ca_im: xr.Dataset) -> dg.AssetCheckResult:
    n_times = int(t_ca_im.sizes["frame"])
    n_movie = int(t_ca_im.attrs["n_movie_frames"])
    unrepaired = int(t_ca_im.attrs["n_unrepaired_gaps"])
    problems = []
    if n_times != n_movie:
        problems.append(f"{n_times} frame times from TTL edges but {n_movie} movie frames")
    if unrepaired:
        problems.append(f"{unrepaired} TTL gap(s) left unrepaired")
    return dg.AssetCheckResult(
        passed=not problems,
        description="; ".join(problems) or f"{n_times} frame times for {n_movie} movie frames, no gaps left",
        metadata={
            "n_frame_times": n_times,
            "n_movie_frames": n_movie,
            "n_unrepaired_gaps": unrepaired,
            "frames_filled": int(t_ca_im["interpolated"].sum()),
        },
    )


@dg.asset_check(
    asset=t_ca_im,
    partitions_def=experiment_lines,
    blocking=False,
    description="Sync quality: at most 1 % of frame times filled over TTL gaps, and the measured frame rate "
    "within 2 % of the metadata rate.",
)
def ttl_sync_quality(t_ca_im: xr.Dataset) -> dg.AssetCheckResult:
    report = quality.frame_clock_quality(
        t_ca_im["t_ca_im_s"].values, t_ca_im["interpolated"].values, float(t_ca_im.attrs["frame_rate_hz"])
    )
    return md.check_result(report)
