"""The generator's files, read back with our readers, reproduce the truth it saved.

Covers: experiments.csv/analysis_parameters.csv rows, neo-readable Neuralynx folders, the Miniscope
folder, and `t_ca_im` against the true frame times for clean data, a TTL gap and a spurious edge.
"""

import json

import neo
import numpy as np
import pytest

from ace_core import catalog
from ace_core.errors import SyncError
from ace_core.io import miniscope, neuralynx
from ace_core.simulation.calcium import CalciumMovieSpec
from ace_core.simulation.experiment import ExperimentSpec, generate_project
from ace_core.simulation.lfp import oscillation_phase
from ace_core.sync import frame_clock

SMALL = CalciumMovieSpec(height_px=40, width_px=48, n_neurons=6)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    specs = [
        ExperimentSpec(line="1", seed=11, duration_s=20, movie=SMALL),
        ExperimentSpec(
            line="2",
            seed=12,
            duration_s=20,
            movie=SMALL,
            ttl_gap=(150, 6),
            spurious_edge_after_frame=60,
            frames_per_file=50,
        ),
        ExperimentSpec(
            line="3",
            seed=13,
            duration_s=15,
            movie=SMALL,
            frame_rate_hz=30.0,
            ephys_pause_s=1.5,
            ephys_fs_hz=2000.0,
        ),
    ]
    truths = generate_project(root / "project", root / "data", specs)
    return root, truths


def clock_of(truth, delete=True):
    events = neuralynx.read_events(truth.ephys_dir)
    rec = miniscope.open_recording(truth.calcium_dir)
    clock = frame_clock.compute_t_ca_im(
        events.ttl_edge_times_s(), rec.frame_rate_hz, delete_indices=truth.delete_indices if delete else ()
    )
    return clock, rec


def test_catalog_rows_point_at_the_generated_folders(project):
    root, truths = project
    experiments = catalog.read_experiments(root / "project", root / "data")
    assert list(experiments) == ["1", "2", "3"]  # the Example row is skipped
    for line, truth in truths.items():
        exp = experiments[line]
        assert exp.ephys_dir == truth.ephys_dir and exp.calcium_dir == truth.calcium_dir
        assert exp.channels == neuralynx.LAB_CHANNELS
    params = catalog.line_parameters(root / "project", "2")
    assert params["indices of TTL events to delete"] == [61]
    assert params["filter_range"] == [0.5, 4]


@pytest.mark.parametrize("line", ["1", "2", "3"])
def test_t_ca_im_matches_truth_within_one_ephys_sample(project, line):
    _, truths = project
    truth = truths[line]
    clock, rec = clock_of(truth)
    frame_clock.check_frame_count(clock, rec.n_frames)
    assert clock.n_frames == truth.spec.n_frames == rec.n_frames
    one_sample_s = 1.0 / truth.spec.ephys_fs_hz
    err = np.abs(clock.t_ca_im_s - truth.frame_times_s)
    assert err.max() < one_sample_s, f"max error {err.max() * 1e3:.3f} ms"
    np.testing.assert_array_equal(clock.low_confidence_periods, truth.low_confidence_periods)
    if truth.spec.ttl_gap:
        first, count = truth.spec.ttl_gap
        np.testing.assert_array_equal(np.flatnonzero(clock.interpolated), np.arange(first, first + count))
        assert clock.low_confidence_periods.tolist() == [[first - 1, first + count]]
        # The real edges (not filled ones) are exact to the µs Neuralynx stores.
        assert err[~clock.interpolated].max() < 1.5e-6


def test_frame_count_check_fails_when_spurious_edge_is_kept(project):
    _, truths = project
    clock, rec = clock_of(truths["2"], delete=False)
    assert clock.n_frames == rec.n_frames + 1
    with pytest.raises(SyncError, match=rf"{rec.n_frames + 1} frame times .* has {rec.n_frames} frames"):
        frame_clock.check_frame_count(clock, rec.n_frames)


def test_neo_reads_every_channel_and_ttl_edge(project):
    _, truths = project
    truth = truths["1"]
    block = neo.io.NeuralynxIO(dirname=str(truth.ephys_dir)).read_block()
    names = {ch for sig in block.segments[0].analogsignals for ch in sig.array_annotations["channel_names"]}
    assert names == set(neuralynx.LAB_CHANNELS)
    assert float(block.segments[0].analogsignals[0].sampling_rate) == truth.spec.ephys_fs_hz
    n_edges = sum(
        ev.times.size
        for ev in block.segments[0].events
        if str(ev.labels[0]).startswith("TTL Input")
        if ev.times.size
    )
    assert n_edges == truth.spec.n_frames
    events = neuralynx.read_events(truth.ephys_dir)
    labels = set(events.experiment_events().labels.tolist())
    assert {"Starting Recording", "Stopping Recording", "ketamine infusion start"} <= labels


def test_two_segments_leave_a_marked_nan_gap(project):
    _, truths = project
    truth = truths["3"]
    ch = neuralynx.read_channel(truth.ephys_dir, "PFCLFPvsCBEEG")
    assert ch.n_segments == 2 and len(ch.gaps) == 1
    ((g0, g1),) = ch.gaps
    (s0, e0), (s1, _) = truth.segments_s
    assert abs(ch.time_s[g0] - e0) <= 1 / ch.fs_hz and abs(ch.time_s[g1] - s1) <= 1 / ch.fs_hz
    assert np.isnan(ch.signal_uv[g0:g1]).all() and np.isfinite(ch.signal_uv[:g0]).all()


def test_lfp_carries_the_true_oscillation(project):
    """Correlation of the recorded channel with the noiseless oscillation (phase truth lives in the spec)."""
    _, truths = project
    truth = truths["1"]
    ch = neuralynx.read_channel(truth.ephys_dir, "PFCLFPvsCBEEG")
    clean = np.cos(oscillation_phase(truth.spec.oscillation, ch.time_s, truth.spec.seed))
    assert np.corrcoef(ch.signal_uv, clean)[0, 1] > 0.8


def test_movie_and_truth_files(project):
    _, truths = project
    truth = truths["2"]
    rec = miniscope.open_recording(truth.calcium_dir)
    assert len(rec.movie_paths) == 8 and rec.frame_rate_hz == 20.0  # 400 frames / 50 per file
    assert (rec.height, rec.width) == (40, 48)
    saved = np.load(truth.truth_dir / "truth.npz")
    np.testing.assert_array_equal(saved["frame_times_s"], truth.frame_times_s)
    assert saved["footprints"].shape == (6, 40, 48) and saved["traces"].shape == (6, 400)
    meta = json.loads((truth.truth_dir / "truth.json").read_text())
    assert meta["delete_indices"] == [61] and meta["ttl_gap"] == [150, 6]


def test_injected_locking_is_in_the_spikes(project):
    """Locked neurons' spikes cluster at the preferred phase (truth sanity, before any pipeline)."""
    _, truths = project
    truth = truths["1"]
    spikes = truth.calcium.spikes
    phase = truth.spike_phase_rad
    locked = np.repeat(phase[None, :], spikes.shape[0], 0)[truth.locked][spikes[truth.locked] > 0]
    mean_dir = np.angle(np.mean(np.exp(1j * locked)))
    assert abs(np.angle(np.exp(1j * (mean_dir - truth.spec.preferred_phase_rad)))) < np.radians(20)
    assert np.abs(np.mean(np.exp(1j * locked))) > 0.3
