"""Quality reports behind the asset checks, measured on generated recordings with known pauses and gaps."""

import numpy as np
import pytest

from ace_core.analysis import quality
from ace_core.io import miniscope, neuralynx
from ace_core.simulation.calcium import CalciumMovieSpec
from ace_core.simulation.experiment import ExperimentSpec, generate_experiment
from ace_core.sync import frame_clock

SMALL = CalciumMovieSpec(height_px=24, width_px=24, n_neurons=2)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    data = tmp_path_factory.mktemp("quality")
    clean = generate_experiment(data, ExperimentSpec(line="1", seed=3, duration_s=20, movie=SMALL))
    # 2 s pause between two Neuralynx segments, 30 of 400 edges dropped (7.5 %).
    broken = generate_experiment(
        data,
        ExperimentSpec(line="2", seed=4, duration_s=20, movie=SMALL, ephys_pause_s=2.0, ttl_gap=(100, 30)),
    )
    return clean, broken


def _frame_clock(truth):
    events = neuralynx.read_events(truth.ephys_dir)
    labels = np.asarray(events.labels, dtype=str)
    edges = events.times_s[np.isin(labels, [neuralynx.TTL_HIGH_LABEL, neuralynx.TTL_LOW_LABEL])]
    rate = miniscope.open_recording(truth.calcium_dir).frame_rate_hz
    return frame_clock.compute_t_ca_im(edges, rate), rate


def test_lfp_nan_fraction_measures_the_recording_pause(recordings):
    clean, broken = recordings
    ch = neuralynx.read_channel(clean.ephys_dir, "PFCLFPvsCBEEG")
    report = quality.lfp_nan_fraction(ch.signal_uv, ch.fs_hz)
    assert report.passed and report.metadata["nan_fraction"] == 0.0

    ch = neuralynx.read_channel(broken.ephys_dir, "PFCLFPvsCBEEG")
    (seg1, seg2) = broken.segments_s
    true_pause_s = seg2[0] - seg1[1]
    report = quality.lfp_nan_fraction(ch.signal_uv, ch.fs_hz)
    # Stated tolerance: the pause is NaN to within two samples (segment edges fall between samples).
    assert abs(report.metadata["nan_seconds"] - true_pause_s) <= 2 / ch.fs_hz, report
    assert report.passed  # 2 s of ~29 s is below the 20 % limit
    assert not quality.lfp_nan_fraction(ch.signal_uv, ch.fs_hz, max_fraction=0.05).passed


def test_frame_clock_quality_counts_the_filled_frames_and_measures_the_rate(recordings):
    clean, broken = recordings
    clock, rate = _frame_clock(clean)
    report = quality.frame_clock_quality(clock.t_ca_im_s, clock.interpolated, rate)
    assert report.passed, report.description
    assert report.metadata["frames_filled"] == 0
    assert abs(report.metadata["frame_rate_hz_measured"] - clean.spec.frame_rate_hz) < 0.01

    clock, rate = _frame_clock(broken)
    report = quality.frame_clock_quality(clock.t_ca_im_s, clock.interpolated, rate)
    assert not report.passed
    assert report.metadata["frames_filled"] == broken.dropped_frames.size == 30
    assert "30 of 400 frame times (7.5 %) filled" in report.description

    # A metadata rate 5 % off the TTL clock (a wrong frameRate) is caught, with both rates named.
    report = quality.frame_clock_quality(clock.t_ca_im_s, clock.interpolated, rate * 1.05, 0.1)
    assert not report.passed and "differs from the metadata's 21 Hz by 4.8 %" in report.description


def test_component_count_needs_an_accepted_unit_and_no_patch_at_its_cap():
    report = quality.component_count(np.array([True, False, True]), np.array([0, 0, 1]), max_per_patch=5)
    assert report.passed and report.metadata["n_good"] == 2 and report.metadata["good_fraction"] == 2 / 3
    report = quality.component_count(np.zeros(3, bool), np.zeros(3, int))
    assert not report.passed and "0 accepted component(s) of 3" in report.description
    report = quality.component_count(np.ones(4, bool), np.array([0, 0, 1, 2]), max_per_patch=2)
    assert not report.passed and report.metadata["patches_at_K"] == 1
    assert "1 patch(es) stopped at K = 2" in report.description
