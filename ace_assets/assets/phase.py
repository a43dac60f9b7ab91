"""Phase locking: LFP and miniscope phases at calcium events, histograms and locking statistics."""

import dagster as dg
import numpy as np
import xarray as xr

from ace_assets import metadata as md
from ace_assets.partitions import experiment_lines
from ace_core.analysis import phase_locking
from ace_core.viz import previews

_COMMON = dict(
    partitions_def=experiment_lines,
    group_name="phase_locking",
    kinds={"zarr", "xarray"},
    io_manager_key="zarr_io",
)
SOURCES = ("ephys", "miniscope")


class EventPhasesConfig(dg.Config):
    exclude_low_confidence: bool = True  # events whose frame time was filled over a TTL gap


class PhaseHistogramConfig(dg.Config):
    bins: int = 18  # over [-pi, pi), last bin closed (the reference's default)


@dg.asset(**_COMMON, code_version="1")
def event_phases(
    context: dg.AssetExecutionContext,
    config: EventPhasesConfig,
    calcium_events: xr.Dataset,
    ephys_frame_index: xr.Dataset,
    lfp_phase: xr.Dataset,
    miniscope_phase: xr.Dataset,
) -> xr.Dataset:
    """Per event: unit, frame, ephys sample, band-passed LFP phase and miniscope phase (one row per event)."""
    units = calcium_events["event_unit_id"].values
    frames = phase_locking.event_frames_to_global(
        {int(u): calcium_events["event_frame"].values[units == u] for u in calcium_events["unit_id"].values},
        int(calcium_events.attrs.get("first_frame", 0)),
    )
    res = phase_locking.event_phases(
        frames,
        ephys_frame_index["ephys_idx_all_TTL_events"].values,
        lfp_phase["phase_rad"].values,
        miniscope_phase["phase_rad"].values,
        low_confidence=ephys_frame_index["low_confidence"].values,
        exclude_low_confidence=config.exclude_low_confidence,
    )
    n = int(res.event_frame.size)
    n_low = int(res.low_confidence.sum())
    context.add_output_metadata(
        {
            "n_events": n,
            "n_used_ephys": int(res.used_ephys.sum()),
            "n_low_confidence": n_low,
            "low_confidence_fraction": n_low / n if n else 0.0,
            "n_nan_phase": int((~np.isfinite(res.phase_ephys)).sum()),
        }
    )
    return xr.Dataset(
        {
            "event_unit_id": ("event", res.event_neuron),
            "event_frame": ("event", res.event_frame),
            "event_sample": ("event", res.event_sample),
            "phase_ephys": ("event", res.phase_ephys),
            "phase_miniscope": ("event", res.phase_miniscope),
            "low_confidence": ("event", res.low_confidence),
            "used_ephys": ("event", res.used_ephys),
        },
        coords={"unit_id": ("unit", res.neuron_ids)},
        attrs={"exclude_low_confidence": config.exclude_low_confidence, "n_low_confidence": n_low},
    )


@dg.asset(**_COMMON, code_version="1")
def phase_histograms(
    context: dg.AssetExecutionContext, config: PhaseHistogramConfig, event_phases: xr.Dataset
) -> xr.Dataset:
    """Pooled and per-neuron phase histograms, densities, mean resultant vectors and Rayleigh tests, for the
    ephys (LFP band) and the miniscope phase."""
    units = event_phases["unit_id"].values
    ev_unit = event_phases["event_unit_id"].values
    data, attrs, counts, angles, meta = {}, {}, {}, {}, {}
    edges = None
    for src in SOURCES:
        phase = event_phases[f"phase_{src}"].values
        use = event_phases["used_ephys"].values if src == "ephys" else np.isfinite(phase)
        per_unit = {int(u): phase[use & (ev_unit == u)] for u in units}
        pooled_counts, edges = phase_locking.phase_histogram(phase[use], bins=config.bins)
        density, _ = phase_locking.phase_histogram(phase[use], bins=config.bins, density=True)
        per = (
            np.stack([phase_locking.phase_histogram(per_unit[int(u)], bins=config.bins)[0] for u in units])
            if units.size
            else np.zeros((0, config.bins), np.int64)
        )
        pop = phase_locking.population_stats(per_unit)
        stats = [pop.per_neuron.get(int(u)) for u in units]
        data[f"phase_hist_{src}"] = ("bin", pooled_counts)
        data[f"phase_density_{src}"] = ("bin", density)
        data[f"phase_hist_{src}_per_unit"] = (("unit", "bin"), per)
        for field in ("mean_angle_rad", "resultant_length", "rayleigh_p"):
            data[f"{field}_{src}_per_unit"] = (
                "unit",
                np.array([getattr(s, field) if s else np.nan for s in stats]),
            )
        attrs.update(
            {
                f"pooled_n_{src}": int(pop.pooled.n),
                f"pooled_mean_angle_rad_{src}": pop.pooled.mean_angle_rad,
                f"pooled_resultant_length_{src}": pop.pooled.resultant_length,
                f"pooled_rayleigh_p_{src}": pop.pooled.rayleigh_p,
                f"population_angle_rad_{src}": pop.population_angle_rad,
                f"population_length_{src}": pop.population_length,
            }
        )
        counts[src], angles[src] = pooled_counts, pop.pooled.mean_angle_rad
        meta.update(
            {
                f"{src}_preferred_phase_deg": float(np.degrees(pop.pooled.mean_angle_rad)),
                f"{src}_resultant_length": float(pop.pooled.resultant_length),
                f"{src}_rayleigh_p": float(pop.pooled.rayleigh_p),
                f"{src}_n_events": int(pop.pooled.n),
            }
        )
    ds = xr.Dataset(
        data, coords={"unit_id": ("unit", units), "phase_bin_edges": ("edge", edges)}, attrs=attrs
    )
    context.add_output_metadata(
        {
            **meta,
            "preview": md.png(
                previews.phase_histograms_png(
                    edges, counts, angles, title=f"line {context.partition_key}: phases at events"
                )
            ),
        }
    )
    return ds


@dg.asset_check(
    asset=event_phases,
    partitions_def=experiment_lines,
    blocking=False,
    description="Enough events with a usable LFP phase for circular statistics (>= 30).",
)
def enough_events_for_statistics(event_phases: xr.Dataset) -> dg.AssetCheckResult:
    n = int(event_phases["used_ephys"].sum())
    return dg.AssetCheckResult(
        passed=n >= 30,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{n} events with a usable LFP phase (need >= 30)",
        metadata={"n_used_events": n},
    )


@dg.asset_check(
    asset=event_phases,
    partitions_def=experiment_lines,
    blocking=False,
    description="At most 10 % of events fall in low-confidence periods (frames filled over TTL gaps).",
)
def low_confidence_event_fraction(event_phases: xr.Dataset) -> dg.AssetCheckResult:
    n = int(event_phases.sizes["event"])
    low = int(event_phases["low_confidence"].sum())
    frac = low / n if n else 0.0
    return dg.AssetCheckResult(
        passed=frac <= 0.10,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{low} of {n} events ({100 * frac:.1f} %) in low-confidence periods",
        metadata={"n_low_confidence": low, "fraction": frac},
    )
