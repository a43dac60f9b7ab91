"""Null calibration of the phase-locking test: how often does the Rayleigh test fire without locking?

    .venv/bin/python bench/bench_phase_null.py [--seeds 200] [--generator-seeds 20] [--kappa 0]

Two harnesses, both with no injected locking (``locking_kappa = 0``), 6 neurons at 0.4 Hz, 20 fps, 300 s:

- direct: synthetic 1 kHz LFP (``synth_lfp``) and Bernoulli spikes, no files (fast, many seeds);
- generator: the full synthetic experiment (``synth_experiment.generate_experiment`` with a 16x16 movie),
  LFP read back through neo, frame times from the Neuralynx TTL edges (``ttl_sync``), i.e. the pipeline path.

Events are the true spike frames; phase = Hilbert phase of the 0.5-4 Hz band-passed LFP at the ephys sample
nearest each frame; test = pooled Rayleigh (Zar's p). A calibrated test gives p < alpha in a fraction alpha
of seeds (binomial standard error sqrt(alpha (1 - alpha) / seeds)), and uniform p (KS test). Printed: the
fraction of seeds with p > 0.01, and the false-positive rates at alpha = 0.05 and 0.01.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable

import numpy as np
from scipy import stats
from scipy.special import i0

from ace_core.analysis.phase_locking import event_phases, population_stats
from ace_core.io import neuralynx
from ace_core.signal import filters
from ace_core.simulation.calcium import CalciumMovieSpec
from ace_core.simulation.experiment import ExperimentSpec, generate_experiment
from ace_core.simulation.lfp import OscillationSpec, oscillation_phase, synth_lfp
from ace_core.sync.frame_clock import compute_t_ca_im
from ace_core.sync.frame_mapping import nearest_sample_index

BAND_HZ = (0.5, 4.0)
N_NEURONS, RATE_HZ, FRAME_RATE_HZ, DURATION_S = 6, 0.4, 20.0, 300.0


def _pooled_p(ev) -> float:
    """Pooled Rayleigh p of the events that enter the LFP statistics."""
    use = ev.used_ephys
    return population_stats(ev.event_unit_id[use], ev.phase_ephys[use]).pooled.rayleigh_p


def direct_p(seed: int, kappa: float) -> float:
    fs = 1000.0
    rng = np.random.default_rng([seed, 7])
    osc = OscillationSpec()
    t = np.arange(int((DURATION_S + 6.0) * fs)) / fs
    n_frames = int(DURATION_S * FRAME_RATE_HZ)
    frames = 3.0 + np.arange(n_frames) / FRAME_RATE_HZ + rng.normal(0, 1e-4, n_frames)
    prob = RATE_HZ / FRAME_RATE_HZ * np.exp(kappa * np.cos(oscillation_phase(osc, frames, seed))) / i0(kappa)
    spikes = rng.random((N_NEURONS, n_frames)) < prob
    lfp_phase = filters.band_phase(synth_lfp(t, fs, osc, seed=seed), fs, BAND_HZ)
    unit, frame = np.nonzero(spikes)  # the flat event table: unit and frame of every event
    return _pooled_p(event_phases(unit, frame, nearest_sample_index(frames, 0.0, fs, t.size), lfp_phase))


def generator_p(seed: int, kappa: float) -> float:
    spec = ExperimentSpec(
        line="1",
        seed=seed,
        duration_s=DURATION_S,
        frame_rate_hz=FRAME_RATE_HZ,
        ephys_fs_hz=1000.0,
        movie=CalciumMovieSpec(
            height_px=16, width_px=16, n_neurons=N_NEURONS, n_vessels=0, neuron_radius_px=2
        ),
        base_rate_hz=RATE_HZ,
        locking_kappa=kappa,
        locked_fraction=1.0,
    )
    with tempfile.TemporaryDirectory() as tmp:
        truth = generate_experiment(tmp, spec)
        ch = neuralynx.read_channel(truth.ephys_dir, "PFCLFPvsCBEEG")
        clock = compute_t_ca_im(neuralynx.read_events(truth.ephys_dir).ttl_edge_times_s(), FRAME_RATE_HZ)
    e_all = nearest_sample_index(clock.t_ca_im_s, ch.t0_s, ch.fs_hz, ch.signal_uv.size)
    unit, frame = np.nonzero(truth.calcium.spikes > 0)
    return _pooled_p(event_phases(unit, frame, e_all, filters.band_phase(ch.signal_uv, ch.fs_hz, BAND_HZ)))


def report(name: str, fn: Callable[[int, float], float], seeds: int, kappa: float) -> None:
    t0 = time.perf_counter()
    p = np.array([fn(seed, kappa) for seed in range(seeds)])
    dt = time.perf_counter() - t0
    se = np.sqrt(0.05 * 0.95 / seeds)
    print(
        f"{name:10s} seeds={seeds:4d}  p>0.01: {np.mean(p > 0.01):6.3f}  "
        f"FPR(a=0.05): {np.mean(p < 0.05):6.3f} (+-{se:.3f})  FPR(a=0.01): {np.mean(p < 0.01):6.3f}  "
        f"KS uniform p: {stats.kstest(p, 'uniform').pvalue:.3f}  ({dt:.1f} s)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=200, help="direct-synthesis seeds (>= 20)")
    ap.add_argument("--generator-seeds", type=int, default=20, help="full-generator seeds (0 to skip)")
    ap.add_argument("--kappa", type=float, default=0.0, help="von Mises locking (0 = null)")
    args = ap.parse_args()
    print(
        f"pooled Rayleigh test, {N_NEURONS} neurons x {RATE_HZ} Hz x {DURATION_S:g} s, kappa={args.kappa:g}"
    )
    report("direct", direct_p, args.seeds, args.kappa)
    if args.generator_seeds:
        report("generator", generator_p, args.generator_seeds, args.kappa)


if __name__ == "__main__":
    main()
