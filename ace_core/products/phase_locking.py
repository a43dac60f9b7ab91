"""Phase-locking products: the LFP and miniscope phase at every calcium event, and the histograms and
circular statistics of those phases."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ace_core.analysis import phase_locking
from ace_core.products import Product
from ace_core.viz import previews

__all__ = ["PHASE_SOURCES", "event_phases", "phase_histograms"]

#: The two phases every event gets: the LFP band's and the miniscope mean fluorescence's.
PHASE_SOURCES = ("ephys", "miniscope")


def event_phases(
    calcium_events: xr.Dataset,
    ephys_frame_index: xr.Dataset,
    lfp_phase: xr.Dataset,
    miniscope_phase: xr.Dataset,
    *,
    exclude_low_confidence: bool = True,
) -> Product:
    """Per event: unit, frame, ephys sample, band-passed LFP phase and miniscope phase (one row per event).

    Parameters
    ----------
    calcium_events, ephys_frame_index, lfp_phase, miniscope_phase
        Upstream products.
    exclude_low_confidence
        Leave events whose frame time was filled over a TTL gap out of the LFP statistics (flagged, kept).

    Returns
    -------
    Product
        The flat event table with both phases, ``low_confidence`` and ``used_ephys`` flags.
    """
    res = phase_locking.event_phases(
        calcium_events["event_unit_id"].values,
        calcium_events["event_frame"].values,
        ephys_frame_index["ephys_idx_all_TTL_events"].values,
        lfp_phase["phase_rad"].values,
        miniscope_phase["phase_rad"].values,
        unit_ids=calcium_events["unit_id"].values,
        low_confidence=ephys_frame_index["low_confidence"].values,
        exclude_low_confidence=exclude_low_confidence,
    )
    n = res.n_events
    n_low = int(res.low_confidence.sum())
    ds = xr.Dataset(
        {
            "event_unit_id": ("event", res.event_unit_id),
            "event_frame": ("event", res.event_frame),
            "event_sample": ("event", res.event_sample),
            "phase_ephys": ("event", res.phase_ephys),
            "phase_miniscope": ("event", res.phase_miniscope),
            "low_confidence": ("event", res.low_confidence),
            "used_ephys": ("event", res.used_ephys),
        },
        coords={"unit_id": ("unit", res.unit_ids)},
        attrs={"exclude_low_confidence": exclude_low_confidence, "n_low_confidence": n_low},
    )
    summary = {
        "n_events": n,
        "n_used_ephys": int(res.used_ephys.sum()),
        "n_low_confidence": n_low,
        "low_confidence_fraction": n_low / n if n else 0.0,
        "n_nan_phase": int((~np.isfinite(res.phase_ephys)).sum()),
    }
    return Product(ds, summary)


def phase_histograms(event_phases: xr.Dataset, *, bins: int = 18, line: str = "") -> Product:
    """Pooled and per-unit phase histograms, densities, mean resultant vectors and Rayleigh tests, for the
    ephys (LFP band) and the miniscope phase.

    Parameters
    ----------
    event_phases
        The ``event_phases`` product (LFP statistics use the events marked ``used_ephys``).
    bins
        Bins over [-pi, pi), the last one closed.

    Returns
    -------
    Product
        Histograms (bin) and per-unit histograms and statistics (unit); pooled and population statistics
        in attributes and in the summary.
    """
    units = event_phases["unit_id"].values
    ev_unit = event_phases["event_unit_id"].values
    data, attrs, counts, angles, summary = {}, {}, {}, {}, {}
    edges = np.linspace(-np.pi, np.pi, int(bins) + 1)
    for src in PHASE_SOURCES:
        phase = event_phases[f"phase_{src}"].values
        use = event_phases["used_ephys"].values if src == "ephys" else np.isfinite(phase)
        pooled_counts, edges = phase_locking.phase_histogram(phase[use], bins=bins)
        density, _ = phase_locking.phase_histogram(phase[use], bins=bins, density=True)
        per = np.zeros((units.size, int(bins)), np.int64)
        for i, u in enumerate(units):
            per[i] = phase_locking.phase_histogram(phase[use & (ev_unit == u)], bins=bins)[0]
        pop = phase_locking.population_stats(ev_unit[use], phase[use], unit_ids=units)
        data[f"phase_hist_{src}"] = ("bin", pooled_counts)
        data[f"phase_density_{src}"] = ("bin", density)
        data[f"phase_hist_{src}_per_unit"] = (("unit", "bin"), per)
        for field in ("mean_angle_rad", "resultant_length", "rayleigh_p"):
            data[f"{field}_{src}_per_unit"] = ("unit", np.array([getattr(s, field) for s in pop.per_unit]))
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
        summary.update(
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
    png = previews.phase_histograms_png(edges, counts, angles, title=f"line {line}: phases at events")
    return Product(ds, summary, png)
