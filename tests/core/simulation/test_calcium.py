"""Tests of the synthetic one-photon calcium movie generator: the truth it records is the truth it renders."""

from __future__ import annotations

import dataclasses
import tracemalloc

import numpy as np
import pytest
from scipy import ndimage

from ace_core.simulation.calcium import (
    CalciumMovieSpec,
    calcium_kernel,
    iter_frame_chunks,
    kernel_time_constants_s,
    make_truth,
    render_frames,
    simulate_spikes,
)

STILL_CLEAN = dict(
    rigid_motion_px=0.0, nonrigid_motion_px=0.0, noise_std=0.0, shot_noise_gain=0.0, vignette_strength=0.0
)


def _truth(n_frames: int = 100, p: float = 0.05, **overrides):
    spec = CalciumMovieSpec(**{"height_px": 64, "width_px": 80, "n_neurons": 8, **overrides})
    return make_truth(spec, np.full((spec.n_neurons, n_frames), p))


def _ideal_frame(truth, t: int) -> np.ndarray:
    """The forward model without motion, vignette and noise, written independently of the renderer."""
    neurons = np.tensordot(truth.traces[:, t].astype(np.float64), truth.footprints, axes=1)
    tissue = truth.background * truth.background_trace[t] + truth.spec.neuron_brightness * neurons
    return np.clip(np.rint(tissue), 0, 255)


def _centroid(image: np.ndarray) -> np.ndarray:
    rows, cols = np.indices(image.shape)
    return np.array([(rows * image).sum(), (cols * image).sum()]) / image.sum()


def test_rendering_does_not_depend_on_chunking():
    truth = _truth()
    whole = render_frames(truth, 0, 100)
    np.testing.assert_array_equal(
        whole, np.concatenate([render_frames(truth, 0, 37), render_frames(truth, 37, 100)])
    )
    np.testing.assert_array_equal(whole, np.concatenate(list(iter_frame_chunks(truth, chunk_frames=30))))
    np.testing.assert_array_equal(whole, render_frames(_truth(), 0, 100))  # same seed, same movie
    assert not np.array_equal(whole, render_frames(_truth(seed=1), 0, 100))


def test_streams_are_independent_of_spike_probabilities():
    quiet, busy = _truth(p=0.0), _truth(p=0.2)
    for name in ("footprints", "background", "shifts_px", "vignette", "background_trace"):
        np.testing.assert_array_equal(getattr(quiet, name), getattr(busy, name))


def test_shapes_types_and_footprints():
    truth = _truth(n_frames=50)
    spec = truth.spec
    frames = render_frames(truth, 5, 25)
    assert frames.dtype == np.uint8 and frames.shape == (20, 64, 80)
    assert render_frames(truth, 7, 7).shape == (0, 64, 80)
    assert truth.footprints.shape == (8, 64, 80) and truth.footprints.dtype == np.float32
    np.testing.assert_array_equal(truth.footprints.max(axis=(1, 2)), 1.0)
    assert truth.footprints.min() >= 0
    centers = truth.centers_px
    assert np.all((centers >= 0) & (centers <= [spec.height_px - 1, spec.width_px - 1]))
    for fp, center in zip(truth.footprints, centers, strict=True):
        np.testing.assert_allclose(_centroid(fp), center, atol=0.3)
        rows, cols = np.nonzero(fp)
        assert np.hypot(rows - center[0], cols - center[1]).max() < 3 * 1.3 * spec.neuron_radius_px / 2 + 2
    distances = np.hypot(*(centers[:, None] - centers[None]).transpose(2, 0, 1))
    np.fill_diagonal(distances, np.inf)
    assert distances.min() < 2 * spec.neuron_radius_px  # at least one planted overlapping pair
    assert distances.min() >= 0.99 * spec.neuron_radius_px
    with pytest.raises(ValueError):
        truth.traces[0, 0] = 1.0  # the record is read-only
    with pytest.raises(ValueError):
        render_frames(truth, 10, 51)


def test_background_dominates_and_motion_is_bounded():
    truth = _truth(n_frames=400)
    spec = truth.spec
    frames = render_frames(truth, 0, 400)
    assert 0.8 * spec.baseline_brightness < np.median(frames) < 1.1 * spec.baseline_brightness
    assert np.abs(truth.shifts_px).max() <= spec.rigid_motion_px
    assert np.abs(truth.shifts_px).max() > 0.5 * spec.rigid_motion_px
    nonrigid = truth.displacement_field(123) - truth.shifts_px[123, :, None, None]
    assert 0 < np.abs(nonrigid).max() <= spec.nonrigid_motion_px + 1e-6
    assert np.ptp(nonrigid[0]) > 0  # it is a warp, not a shift
    assert np.abs(truth.background_trace - 1).max() <= spec.background_modulation


def test_frame_is_background_plus_neurons_without_motion_or_noise():
    truth = _truth(background_modulation=0.0, **STILL_CLEAN)
    np.testing.assert_array_equal(truth.background_trace, 1.0)
    frames = render_frames(truth, 0, 100).astype(int)
    for t in range(100):
        ideal = np.clip(
            np.rint(
                truth.background
                + truth.spec.neuron_brightness * np.tensordot(truth.traces[:, t], truth.footprints, axes=1)
            ),
            0,
            255,
        )
        assert np.abs(frames[t] - ideal).max() <= 1
    assert frames.max() > np.rint(truth.background).max() + 10  # some neuron was active


def test_background_trace_and_vignette_scale_the_frame():
    truth = _truth(background_modulation=0.15, **{**STILL_CLEAN, "vignette_strength": 0.3})
    frames = render_frames(truth, 0, 100).astype(int)
    for t in (0, 50, 99):
        assert np.abs(frames[t] - np.rint(truth.vignette * truth.tissue_image(t))).max() <= 1
        assert np.abs(truth.tissue_image(t) - _ideal_frame(truth, t)).max() <= 0.51


def test_integer_rigid_shift_follows_documented_sign():
    truth = _truth(**STILL_CLEAN)
    shift = np.array([2, -3])
    moved = dataclasses.replace(truth, shifts_px=np.tile(shift.astype(float), (truth.n_frames, 1)))
    frames = render_frames(moved, 0, 20).astype(int)
    m = 4
    for t in range(20):
        expected = np.roll(
            np.rint(truth.tissue_image(t)), shift, axis=(0, 1)
        )  # frame(y, x) = tissue(y-dy, x-dx)
        assert np.abs(frames[t, m:-m, m:-m] - expected[m:-m, m:-m]).max() <= 1
        np.testing.assert_array_equal(
            moved.displacement_field(t), shift[:, None, None] * np.ones((1, 64, 80))
        )


def test_neuron_moves_with_total_displacement():
    """Sub-pixel rigid + non-rigid motion: a lone neuron at tissue point p appears at frame point q = p + d(q)
    (the field lives on the frame grid)."""
    spec = CalciumMovieSpec(
        height_px=64,
        width_px=64,
        n_neurons=3,
        baseline_brightness=0.0,
        seed=3,
        **{**STILL_CLEAN, "rigid_motion_px": 3.0, "nonrigid_motion_px": 2.0},
    )
    prob = np.zeros((3, 60))
    prob[0] = 1.0  # only neuron 0 is active
    truth = make_truth(spec, prob)
    still = _centroid(truth.footprints[0])
    frames = render_frames(truth, 10, 60, interpolation_order=3).astype(float)
    moved_by_warp = 0.0
    for t in range(10, 60, 7):
        field = truth.displacement_field(t)
        q = still.copy()
        for _ in range(10):
            q = still + ndimage.map_coordinates(field, [[0, 1], [q[0]] * 2, [q[1]] * 2], order=1)
        np.testing.assert_allclose(_centroid(frames[t - 10]), q, atol=0.1)
        moved_by_warp = max(moved_by_warp, np.abs(q - still - truth.shifts_px[t]).max())
    assert moved_by_warp > 0.3


def test_traces_are_spikes_convolved_with_kernel():
    truth = _truth(n_frames=300, p=0.05, spike_amplitude=1.7)
    assert truth.spikes.dtype == np.uint8 and truth.spikes.sum() > 0
    for spikes, trace in zip(truth.spikes, truth.traces, strict=True):
        expected = 1.7 * np.convolve(spikes.astype(float), truth.kernel)[: truth.n_frames]
        np.testing.assert_allclose(trace, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(truth.kernel, calcium_kernel(20.0, 0.05, 0.4))


@pytest.mark.parametrize(("frame_rate_hz", "tolerance_s"), [(20.0, 1 / 20), (1000.0, 1e-3)])
def test_kernel_peaks_at_rise_time(frame_rate_hz, tolerance_s):
    kernel = calcium_kernel(frame_rate_hz, rise_time_s=0.05, decay_time_s=0.4)
    assert kernel.max() == 1.0 and kernel.min() >= 0
    peak_s = (np.argmax(kernel) + 0.5) / frame_rate_hz
    assert abs(peak_s - 0.05) <= tolerance_s
    assert kernel[-1] < 2e-3  # the default length covers the decay
    tau_r, tau_d = kernel_time_constants_s(0.05, 0.4)
    assert 0 < tau_r < 0.05 and tau_d == 0.4
    with pytest.raises(ValueError):
        calcium_kernel(20.0, rise_time_s=0.5, decay_time_s=0.4)


def test_spike_rate_matches_probability():
    p, shape = 0.05, (20, 5000)
    spikes = simulate_spikes(np.full(shape, p), seed=7)
    n = spikes.size
    assert set(np.unique(spikes)) <= {0, 1}
    assert abs(spikes.mean() - p) < 4 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_array_equal(spikes, simulate_spikes(np.full(shape, p), seed=7))
    modulated = np.tile(np.where(np.arange(5000) % 2 == 0, 0.0, 0.1), (20, 1))
    odd = simulate_spikes(modulated, seed=1)
    assert odd[:, ::2].sum() == 0 and abs(odd[:, 1::2].mean() - 0.1) < 0.01
    with pytest.raises(ValueError):
        simulate_spikes(np.full((2, 3), 1.5), seed=0)
    with pytest.raises(ValueError):
        make_truth(CalciumMovieSpec(n_neurons=4), np.zeros((3, 10)))


def test_memory_is_bounded_by_the_chunk():
    truth = _truth(n_frames=400, height_px=64, width_px=64)
    movie_float_bytes = 400 * 64 * 64 * 8
    tracemalloc.start()
    try:
        for chunk in iter_frame_chunks(truth, chunk_frames=20):
            assert chunk.shape[0] <= 20
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 64 * 64 * 8 * 3 < movie_float_bytes / 4
