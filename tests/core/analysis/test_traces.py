"""Tests of ace_core.analysis.traces against direct numpy loops."""

from __future__ import annotations

import numpy as np
import pytest

from ace_core.analysis.traces import event_triggered_average, z_score


def _direct_z(x: np.ndarray, w: int) -> np.ndarray:
    out = np.zeros_like(x)
    for k in range(x.shape[0]):
        for start in range(0, x.shape[1], w):
            seg = x[k, start : start + w]
            sd = np.sqrt(np.mean((seg - seg.mean()) ** 2))
            out[k, start : start + w] = (seg - seg.mean()) / sd if sd > 0 else 0.0
    return out


@pytest.mark.parametrize("window", [1, 2, 7, 10, 25, 50, 51, 1000])
def test_z_score_blocks_match_direct(window):
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (4, 50)) + np.linspace(0, 10, 50)
    np.testing.assert_allclose(z_score(x, window), _direct_z(x, window), atol=1e-12)


def test_z_score_whole_trace_and_1d():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 40))
    expected = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
    np.testing.assert_allclose(z_score(x), expected, atol=1e-12)
    np.testing.assert_allclose(z_score(x[1]), expected[1], atol=1e-12)
    assert z_score(x[1]).shape == (40,)
    # last short window (43 = 4 * 10 + 3) is z-scored on its own 3 frames
    y = rng.normal(size=43)
    z = z_score(y, 10)
    tail = y[40:]
    np.testing.assert_allclose(z[40:], (tail - tail.mean()) / tail.std(), atol=1e-12)
    np.testing.assert_allclose(z[:10].mean(), 0, atol=1e-12)
    np.testing.assert_allclose(z[:10].std(), 1, atol=1e-12)


def test_z_score_constant_and_bad_window():
    np.testing.assert_array_equal(z_score(np.full((2, 9), 5.0), 4), np.zeros((2, 9)))
    assert z_score(np.zeros((2, 0)), 4).shape == (2, 0)
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError):
            z_score(np.ones(10), bad)
    with pytest.raises(ValueError):
        z_score(np.ones((2, 2, 2)))


def test_event_triggered_average_matches_direct_including_edges():
    rng = np.random.default_rng(2)
    n_neurons, n_frames, fb, fa = 3, 30, 4, 6
    x = rng.normal(size=(n_neurons, n_frames))
    # unit 0: 4 and 23 are the first/last usable frames; 3, 24, 0, 29 are excluded
    unit = np.array([0, 0, 0, 0, 0, 0, 0, 2])
    frame = np.array([4, 10, 23, 3, 24, 0, 29, 15])
    mean, counts, lags = event_triggered_average(x, unit, frame, fb, fa)
    np.testing.assert_array_equal(lags, np.arange(-4, 7))
    assert mean.shape == (3, 11)
    np.testing.assert_array_equal(counts, [3, 0, 1])
    expected0 = np.mean([x[0, e - fb : e + fa + 1] for e in (4, 10, 23)], axis=0)
    np.testing.assert_allclose(mean[0], expected0, atol=1e-12)
    assert np.isnan(mean[1]).all()
    np.testing.assert_allclose(mean[2], x[2, 11:22], atol=1e-12)


def test_event_triggered_average_each_neuron_uses_its_own_events_and_1d():
    x = np.vstack([np.arange(20.0), 100 + np.arange(20.0)])
    mean, counts, lags = event_triggered_average(x, [0, 1, 1], [5, 10, 12], 2, 1)
    np.testing.assert_allclose(mean[0], [3, 4, 5, 6])
    np.testing.assert_allclose(mean[1], [109, 110, 111, 112])
    np.testing.assert_array_equal(counts, [1, 2])
    m1, c1, _ = event_triggered_average(np.arange(20.0), [0, 0, 0], np.array([0, 19, 2]), 0, 0)
    np.testing.assert_allclose(m1, [[7.0]])
    np.testing.assert_array_equal(c1, [3])
    mean_empty, counts_empty, _ = event_triggered_average(x, [], [], 1, 1)
    assert np.isnan(mean_empty).all() and not counts_empty.any()


def test_event_triggered_average_rejects_bad_input():
    x = np.zeros((2, 10))
    with pytest.raises(ValueError):
        event_triggered_average(x, [2], [3], 1, 1)
    with pytest.raises(ValueError):
        event_triggered_average(x, [0], [3.5], 1, 1)
    with pytest.raises(ValueError):
        event_triggered_average(x, [0], [3], -1, 1)
    with pytest.raises(ValueError):
        event_triggered_average(x, [0, 1], [3], 1, 1)
