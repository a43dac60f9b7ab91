"""Phase locking of calcium events: recovery of injected locking, null calibration, histogram, Rayleigh.

Ground truth comes from ``ace_core.simulation.experiment`` (tiny 16x16 movies, so each 300 s experiment
takes about a second to write) and, for the 20-seed null, from direct synthesis of LFP + Bernoulli spikes
(no files).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy.special import i0

from ace_core.analysis.phase_locking import (
    circular_stats,
    event_phases,
    mean_density_histogram,
    phase_histogram,
    population_stats,
    rayleigh_p,
)
from ace_core.io import neuralynx
from ace_core.signal import filters
from ace_core.simulation.calcium import CalciumMovieSpec
from ace_core.simulation.experiment import ExperimentSpec, ExperimentTruth, generate_experiment
from ace_core.simulation.lfp import OscillationSpec, oscillation_phase, synth_lfp
from ace_core.sync.frame_clock import compute_t_ca_im
from ace_core.sync.frame_mapping import low_confidence_mask, nearest_sample_index

DELTA_BAND_HZ = (0.5, 4.0)
PREFERRED = {"minus_half_pi": -np.pi / 2, "third_pi": np.pi / 3, "pi": np.pi}
TTL_GAP = (3000, 40)  # 2 s of lost frame edges in the phi0 = pi line


def wrap(x):
    return np.angle(np.exp(1j * np.asarray(x)))


def angle_error_deg(a: float, b: float) -> float:
    return float(np.degrees(abs(wrap(a - b))))


def flat(events: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit event frames as the flat (unit id, frame) table the pipeline uses."""
    units = [np.full(np.size(f), k, dtype=np.int64) for k, f in events.items()]
    frames = [np.asarray(f, dtype=np.int64) for f in events.values()]
    if not units:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(units), np.concatenate(frames)


def ephys_stats(ev):
    """Population statistics of the events' LFP phases that enter the ephys statistics."""
    use = ev.used_ephys
    return population_stats(ev.event_unit_id[use], ev.phase_ephys[use], unit_ids=ev.unit_ids)


@dataclass
class Session:
    truth: ExperimentTruth
    lfp_phase: np.ndarray  # band-passed LFP Hilbert phase per ephys sample
    ephys_idx_all: np.ndarray  # ephys sample of every frame
    events: dict[int, np.ndarray]  # true spike frames of the locked neurons


@pytest.fixture(scope="module")
def sessions(tmp_path_factory) -> dict[str, Session]:
    out = {}
    for i, (name, phi0) in enumerate(PREFERRED.items()):
        spec = ExperimentSpec(
            line=str(i + 1),
            seed=10 + i,
            duration_s=300.0,
            ephys_fs_hz=1000.0,
            movie=CalciumMovieSpec(height_px=16, width_px=16, n_neurons=6, n_vessels=0, neuron_radius_px=2.0),
            preferred_phase_rad=phi0,
            locking_kappa=2.0,
            locked_fraction=0.5,
            ttl_gap=TTL_GAP if name == "pi" else None,
        )
        truth = generate_experiment(tmp_path_factory.mktemp(name), spec)
        ch = neuralynx.read_channel(truth.ephys_dir, "PFCLFPvsCBEEG")
        e_all = nearest_sample_index(truth.frame_times_s, ch.t0_s, ch.fs_hz, ch.signal_uv.size)
        spikes = truth.calcium.spikes
        events = {int(k): np.flatnonzero(spikes[k]) for k in np.flatnonzero(truth.locked)}
        out[name] = Session(truth, filters.band_phase(ch.signal_uv, ch.fs_hz, DELTA_BAND_HZ), e_all, events)
    return out


@pytest.mark.parametrize("name", list(PREFERRED))
def test_recovers_injected_preferred_phase(sessions, name: str) -> None:
    s = sessions[name]
    phi0 = PREFERRED[name]
    ev = event_phases(*flat(s.events), s.ephys_idx_all, s.lfp_phase)
    pop = ephys_stats(ev)
    assert angle_error_deg(pop.population_angle_rad, phi0) < 10.0
    assert pop.pooled.rayleigh_p < 1e-3
    assert angle_error_deg(pop.pooled.mean_angle_rad, phi0) < 10.0
    for k, st in zip(pop.unit_ids, pop.per_unit, strict=True):
        assert st.rayleigh_p < 1e-3, k
    # The phase of the band-passed LFP at each event frame tracks the true oscillation phase there.
    true_phase = s.truth.spike_phase_rad[ev.event_frame]
    assert np.degrees(np.median(np.abs(wrap(ev.phase_ephys - true_phase)))) < 10.0
    # Unlocked neurons stay unlocked.
    unlocked = {int(k): np.flatnonzero(s.truth.calcium.spikes[k]) for k in np.flatnonzero(~s.truth.locked)}
    assert ephys_stats(event_phases(*flat(unlocked), s.ephys_idx_all, s.lfp_phase)).pooled.n > 100


def test_ttl_clock_maps_to_the_same_samples(sessions) -> None:
    s = sessions["third_pi"]
    ch = neuralynx.read_channel(s.truth.ephys_dir, "PFCLFPvsCBEEG")
    clock = compute_t_ca_im(neuralynx.read_events(s.truth.ephys_dir).ttl_edge_times_s(), 20.0)
    e_clock = nearest_sample_index(clock.t_ca_im_s, ch.t0_s, ch.fs_hz, ch.signal_uv.size)
    np.testing.assert_array_equal(e_clock, s.ephys_idx_all)


def test_low_confidence_events_are_excluded_and_counted(sessions) -> None:
    s = sessions["pi"]
    clock = compute_t_ca_im(neuralynx.read_events(s.truth.ephys_dir).ttl_edge_times_s(), 20.0)
    np.testing.assert_array_equal(clock.low_confidence_periods, s.truth.low_confidence_periods)
    low = low_confidence_mask(clock.n_frames, clock.low_confidence_periods)
    np.testing.assert_array_equal(low, clock.interpolated)
    e_all = nearest_sample_index(clock.t_ca_im_s, 0.0, 1000.0, s.lfp_phase.size)

    excluded = event_phases(*flat(s.events), e_all, s.lfp_phase, low_confidence=low)
    included = event_phases(
        *flat(s.events), e_all, s.lfp_phase, low_confidence=low, exclude_low_confidence=False
    )
    first, count = TTL_GAP
    units = sorted(s.events)
    in_gap = np.array(
        [np.count_nonzero((s.events[k] >= first) & (s.events[k] < first + count)) for k in units]
    )
    assert excluded.unit_ids.tolist() == units and in_gap.sum() > 0
    np.testing.assert_array_equal(excluded.excluded_low_confidence, in_gap)
    np.testing.assert_array_equal(included.excluded_low_confidence, 0)
    for i, k in enumerate(units):
        rows = excluded.event_unit_id == k
        assert np.count_nonzero(excluded.used_ephys[rows]) == s.events[k].size - in_gap[i]
        assert np.count_nonzero(included.used_ephys[rows]) == s.events[k].size
    np.testing.assert_array_equal(excluded.excluded_nan, 0)
    assert int(excluded.low_confidence.sum()) == in_gap.sum()


def test_event_phases_nan_gap_and_miniscope_offset() -> None:
    lfp = wrap(np.linspace(0, 40, 1000))
    lfp[300:400] = np.nan  # ephys recording pause
    e_all = np.arange(0, 1000, 10)  # 100 frames
    mini = wrap(np.arange(70) * 0.1)  # loaded movie = global frames 30..99
    ev = event_phases(
        [3, 3, 3, 1, 1, 1],
        [45, 50, 99, 31, 35, 41],
        e_all,
        lfp,
        mini,
        unit_ids=[1, 3, 7],
        miniscope_first_frame=30,
    )
    assert list(ev.unit_ids) == [1, 3, 7]
    np.testing.assert_array_equal(ev.excluded_nan, [2, 0, 0])
    one, three = ev.event_unit_id == 1, ev.event_unit_id == 3
    np.testing.assert_array_equal(ev.phase_ephys[one & ev.used_ephys], lfp[[410]])
    np.testing.assert_array_equal(ev.phase_ephys[three & ev.used_ephys], lfp[[450, 500, 990]])
    np.testing.assert_array_equal(ev.event_sample[one], [310, 350, 410])
    np.testing.assert_array_equal(ev.phase_miniscope[three], mini[[15, 20, 69]])
    np.testing.assert_array_equal(ev.phase_miniscope[one], mini[[1, 5, 11]])  # NaN ephys phase: kept here
    assert not np.any(ev.event_unit_id == 7) and ev.n_events == 6
    with pytest.raises(ValueError, match="miniscope"):
        event_phases([1], [29], e_all, lfp, mini, miniscope_first_frame=30)
    with pytest.raises(ValueError, match="frame clock"):
        event_phases([1], [100], e_all, lfp)
    with pytest.raises(ValueError, match="one unit id per event"):
        event_phases([1, 2], [10], e_all, lfp)


def test_phase_histogram_bins_and_closed_last_bin() -> None:
    counts, edges = phase_histogram(np.array([-np.pi, np.pi, 0.0, np.nan]))
    assert counts.size == 18 and edges.size == 19
    assert edges[0] == -np.pi and edges[-1] == np.pi
    assert counts[0] == 1 and counts[17] == 1 and counts[9] == 1 and counts.sum() == 3
    # A phase exactly on an inner edge belongs to the bin above it.
    assert np.flatnonzero(phase_histogram(np.array([edges[5]]))[0]).tolist() == [5]

    rng = np.random.default_rng(0)
    phases = np.concatenate([rng.vonmises(1.0, 2.0, 500), rng.uniform(-np.pi, np.pi, 300)])
    counts, edges = phase_histogram(phases)
    assert counts.sum() == 800
    np.testing.assert_array_equal(counts, np.histogram(phases, edges)[0])
    dens, _ = phase_histogram(phases, density=True)
    assert np.sum(dens * np.diff(edges)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="outside"):
        phase_histogram(np.array([3.5]))


def test_mean_density_histogram_weighs_neurons_equally() -> None:
    edges = np.linspace(-np.pi, np.pi, 19)
    centre = 0.5 * (edges[:-1] + edges[1:])
    unit = np.array([0] * 100 + [1, 2])
    phases = np.concatenate([np.full(100, centre[2]), [centre[10], np.nan]])  # unit 2: no finite phase
    mean, sem, e = mean_density_histogram(unit, phases)
    np.testing.assert_allclose(e, edges)
    width = 2 * np.pi / 18
    assert mean[2] == pytest.approx(0.5 / width) and mean[10] == pytest.approx(0.5 / width)
    assert sem[2] == pytest.approx(0.5 / width)  # std(ddof=1) of (1/w, 0) over sqrt(2)


def test_circular_stats_known_values() -> None:
    st = circular_stats(np.array([0.1, 0.1, 0.1, np.nan]))
    assert st.n == 3 and st.mean_angle_rad == pytest.approx(0.1) and st.resultant_length == pytest.approx(1.0)
    st = circular_stats(np.array([0.0, np.pi / 2]))
    assert st.mean_angle_rad == pytest.approx(np.pi / 4) and st.resultant_length == pytest.approx(
        np.sqrt(0.5)
    )
    assert st.rayleigh_z == pytest.approx(1.0)
    empty = circular_stats(np.array([np.nan]))
    assert empty.n == 0 and np.isnan(empty.rayleigh_p)
    assert rayleigh_p(50, 0.0) == 1.0
    ids, per, (angle, length), pooled = population_stats(np.array([0, 0, 1]), np.array([0.1, 0.3, np.nan]))
    assert ids.tolist() == [0, 1] and per[1].n == 0 and pooled.n == 2  # a unit without phases is left out
    assert angle == pytest.approx(0.2) and length == pytest.approx(np.cos(0.1))
    # Large n: Zar's formula approaches exp(-Z).
    assert rayleigh_p(5000, 0.02) == pytest.approx(np.exp(-5000 * 0.02**2), rel=0.02)


@pytest.mark.parametrize("n", [10, 30])
def test_rayleigh_p_matches_monte_carlo(n: int) -> None:
    """Zar's p within 10 % (relative) + 3 Monte-Carlo standard errors of the simulated tail probability."""
    rng = np.random.default_rng(n)
    draws = 100_000
    r_null = np.abs(np.exp(1j * rng.uniform(-np.pi, np.pi, (draws, n))).mean(axis=1))
    for r in np.quantile(r_null, [0.5, 0.8, 0.9, 0.95, 0.99]):
        mc = float(np.mean(r_null >= r))
        tol = 0.1 * mc + 3 * np.sqrt(mc * (1 - mc) / draws)
        assert abs(rayleigh_p(n, r) - mc) < tol, (n, r, mc)


def direct_session(seed: int, *, kappa: float = 0.0, preferred: float = 0.0) -> float:
    """Pooled Rayleigh p of 6 neurons' spikes (0.4 Hz, 20 fps, 300 s) against a 1 kHz synthetic LFP."""
    fs, fr, dur = 1000.0, 20.0, 300.0
    rng = np.random.default_rng([seed, 7])
    osc = OscillationSpec()
    t = np.arange(int((dur + 6.0) * fs)) / fs
    frames = 3.0 + np.arange(int(dur * fr)) / fr + rng.normal(0, 1e-4, int(dur * fr))
    true_phase = oscillation_phase(osc, frames, seed)
    prob = 0.4 / fr * np.exp(kappa * np.cos(true_phase - preferred)) / i0(kappa)
    spikes = rng.random((6, frames.size)) < prob
    lfp_phase = filters.band_phase(synth_lfp(t, fs, osc, seed=seed), fs, DELTA_BAND_HZ)
    events = {k: np.flatnonzero(spikes[k]) for k in range(6)}
    ev = event_phases(*flat(events), nearest_sample_index(frames, 0.0, fs, t.size), lfp_phase)
    return ephys_stats(ev).pooled.rayleigh_p


def test_no_locking_false_positive_rate() -> None:
    """Without locking, at most 3 of 20 seeds may reach p < 0.01 (expected 0.2; bench/bench_phase_null.py)."""
    p = np.array([direct_session(seed) for seed in range(20)])
    assert np.count_nonzero(p < 0.01) <= 3
    assert direct_session(0, kappa=2.0, preferred=1.0) < 1e-3  # same harness detects real locking


def test_miniscope_phase_from_the_band_passed_trace() -> None:
    fr = 20.0
    t = np.arange(int(300 * fr)) / fr
    rng = np.random.default_rng(5)
    true_phase = 2 * np.pi * 0.5 * t + 0.3
    trace = 60.0 + 0.01 * t + 2.0 * np.cos(true_phase) + rng.normal(0, 1.0, t.size)
    filtered = filters.bandpass(trace, fr, (0.1, 1.5), order=2)  # the miniscope band's defaults
    phase = filters.hilbert_phase(filtered)
    inner = slice(200, -200)  # away from the run ends
    assert np.degrees(np.median(np.abs(wrap(phase - true_phase)[inner]))) < 15.0
    assert np.nanstd(filtered[inner] - 2.0 * np.cos(true_phase[inner])) < 0.5
    phase_ref = filters.hilbert_phase(trace)  # the reference's way: the phase of the unfiltered trace
    assert np.degrees(np.median(np.abs(wrap(phase_ref - true_phase)[inner]))) > 45.0
