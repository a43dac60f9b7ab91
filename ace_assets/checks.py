"""Asset checks, all partitioned by experiment line; each calls one ``ace_core.analysis.quality`` function.

``t_ca_im_matches_movie`` is blocking: downstream steps of the same run do not use a frame clock that
disagrees with the movie. The others warn.
"""

import json

import dagster as dg
import numpy as np
import xarray as xr

from ace_assets.helpers.metadata import check_result
from ace_assets.partitions import experiment_lines
from ace_core.analysis import quality

_CHECK = dict(partitions_def=experiment_lines)


@dg.asset_check(
    asset="t_ca_im",
    **_CHECK,
    blocking=True,
    description="One frame time per movie frame, and no TTL gap left unrepaired.",
)
def t_ca_im_matches_movie(t_ca_im: xr.Dataset) -> dg.AssetCheckResult:
    report = quality.frame_count_matches(
        int(t_ca_im.sizes["frame"]),
        int(t_ca_im.attrs["n_movie_frames"]),
        int(t_ca_im.attrs["n_unrepaired_gaps"]),
        int(t_ca_im["interpolated"].sum()),
    )
    return check_result(report, dg.AssetCheckSeverity.ERROR)


@dg.asset_check(
    asset="t_ca_im",
    **_CHECK,
    blocking=False,
    description="Sync quality: at most 1 % of frame times filled over TTL gaps, and the measured frame rate "
    "within 2 % of the metadata rate.",
)
def ttl_sync_quality(t_ca_im: xr.Dataset) -> dg.AssetCheckResult:
    report = quality.frame_clock_quality(
        t_ca_im["t_ca_im_s"].values, t_ca_im["interpolated"].values, float(t_ca_im.attrs["frame_rate_hz"])
    )
    return check_result(report)


@dg.asset_check(
    asset="lfp",
    **_CHECK,
    blocking=False,
    description="At most 20 % of LFP samples are NaN (recording pauses between Neuralynx segments).",
)
def lfp_nan_fraction(lfp: xr.Dataset) -> dg.AssetCheckResult:
    return check_result(quality.lfp_nan_fraction(lfp["lfp_uv"].values, float(lfp.attrs["fs_hz"])))


@dg.asset_check(
    asset="motion_shifts",
    **_CHECK,
    blocking=False,
    description="Rigid shifts stay inside max_shifts (not pinned at the search bound) and the frames "
    "correlate better with the template after correction than before.",
)
def motion_correction_quality(motion_shifts: xr.Dataset) -> dg.AssetCheckResult:
    bound = np.asarray(json.loads(motion_shifts.attrs["parameters_json"])["max_shifts"], dtype=float)
    report = quality.motion_correction_quality(
        motion_shifts["rigid_shifts"].values,
        bound,
        motion_shifts["corr_before"].values,
        motion_shifts["corr_after"].values,
    )
    return check_result(report)


@dg.asset_check(
    asset="cnmfe_estimates",
    **_CHECK,
    blocking=False,
    description="At least one component passes min_SNR and rval_thr, and no patch stopped at its cap K.",
)
def cnmfe_component_count(cnmfe_estimates: xr.Dataset) -> dg.AssetCheckResult:
    cap = json.loads(cnmfe_estimates.attrs["params_json"]).get("K")
    report = quality.component_count(
        cnmfe_estimates["idx_good"].values, cnmfe_estimates["patch_of"].values, max_per_patch=cap
    )
    return check_result(report)


@dg.asset_check(
    asset="event_phases",
    **_CHECK,
    blocking=False,
    description="Enough events with a usable LFP phase for circular statistics (>= 30).",
)
def enough_events_for_statistics(event_phases: xr.Dataset) -> dg.AssetCheckResult:
    return check_result(quality.enough_events(int(event_phases["used_ephys"].sum())))


@dg.asset_check(
    asset="event_phases",
    **_CHECK,
    blocking=False,
    description="At most 10 % of events fall in low-confidence periods (frames filled over TTL gaps).",
)
def low_confidence_event_fraction(event_phases: xr.Dataset) -> dg.AssetCheckResult:
    return check_result(quality.low_confidence_fraction(event_phases["low_confidence"].values))


CHECKS = [
    t_ca_im_matches_movie,
    ttl_sync_quality,
    lfp_nan_fraction,
    motion_correction_quality,
    cnmfe_component_count,
    enough_events_for_statistics,
    low_confidence_event_fraction,
]
