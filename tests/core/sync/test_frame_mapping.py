"""Frame <-> ephys sample maps against brute force (reference section 4.2)."""

from __future__ import annotations

import numpy as np
import pytest

from ace_core.sync.frame_clock import compute_t_ca_im
from ace_core.sync.frame_mapping import (
    frame_of_sample,
    low_confidence_mask,
    nearest_sample_index,
    sample_times,
)


def brute_nearest(times_s: np.ndarray, t0: float, fs: float, n: int) -> np.ndarray:
    """argmin_n |t_n - T| over the whole float grid; np.argmin's first occurrence = lower index on ties."""
    grid = sample_times(t0, fs, np.arange(n))
    return np.array([int(np.argmin(np.abs(grid - t))) for t in np.ravel(times_s)], dtype=np.int64)


def jittered_frames_with_gap(rng, t_first: float, n_frames: int, fr: float, gap: slice) -> np.ndarray:
    t = t_first + np.arange(n_frames) / fr + rng.normal(0, 2e-4, n_frames)
    return np.delete(t, np.arange(n_frames)[gap])


@pytest.mark.parametrize(("t0", "fs"), [(12.345, 1000.0), (0.0, 2000.0), (3.7, 30303.03)])
def test_nearest_sample_equals_brute_force(t0: float, fs: float) -> None:
    rng = np.random.default_rng(1)
    n = 6000
    dur = n / fs
    frames = jittered_frames_with_gap(rng, t0 + 0.05 * dur, 60, 60 / (0.9 * dur), slice(20, 31))
    k = rng.integers(0, n - 1, 200)
    grid_k, grid_k1 = sample_times(t0, fs, k), sample_times(t0, fs, k + 1)
    midpoints = 0.5 * (grid_k + grid_k1)  # float midpoints: exact ties wherever representable
    outside = np.array([t0 - 5.0, t0 - 0.4 / fs, t0 - 0.6 / fs, t0 + dur + 1.0, sample_times(t0, fs, n - 1)])
    on_grid = sample_times(t0, fs, rng.integers(0, n, 50))
    times = np.concatenate([frames, midpoints, outside, on_grid, rng.uniform(t0 - 1, t0 + dur + 1, 300)])
    got = nearest_sample_index(times, t0, fs, n)
    np.testing.assert_array_equal(got, brute_nearest(times, t0, fs, n))
    assert got.dtype == np.int64
    assert got[frames.size + midpoints.size] == 0 and got[frames.size + midpoints.size + 3] == n - 1


def test_exact_half_sample_ties_go_to_the_lower_index() -> None:
    # Power-of-two rate and an integer start: grid times and midpoints are exact binary fractions, so the
    # distances to both neighbours are bit-identical and the tie-break alone decides.
    t0, fs, n = 2.0, 1024.0, 4096
    k = np.arange(0, n - 1, 7)
    ties = t0 + (k + 0.5) / fs
    assert np.all(np.abs(sample_times(t0, fs, k) - ties) == np.abs(sample_times(t0, fs, k + 1) - ties))
    np.testing.assert_array_equal(nearest_sample_index(ties, t0, fs, n), k)
    np.testing.assert_array_equal(nearest_sample_index(ties, t0, fs, n), brute_nearest(ties, t0, fs, n))
    # Just past the tie goes up; the half-sample before the grid start clamps to 0.
    np.testing.assert_array_equal(nearest_sample_index(np.nextafter(ties, np.inf), t0, fs, n), k + 1)
    assert nearest_sample_index(np.array([t0 - 0.5 / fs]), t0, fs, n)[0] == 0


def test_nearest_sample_long_session_high_rate() -> None:
    # An hour-scale clock at 32 kHz: large (t - t0) * fs where float rounding can move the guess by one.
    rng = np.random.default_rng(2)
    t0, fs, n = 1234.56789, 32000.0, 2**22
    grid = sample_times(t0, fs, np.arange(n))
    k = rng.integers(0, n - 1, 2000)
    times = np.concatenate([0.5 * (grid[k] + grid[k + 1]), rng.uniform(grid[0], grid[-1], 2000)])
    got = nearest_sample_index(times, t0, fs, n)
    # Brute force within a +-64 sample window around the search position (the full argmin is too slow here).
    pos = np.searchsorted(grid, times)
    expect = np.empty_like(got)
    for i, (t, p) in enumerate(zip(times, pos, strict=True)):
        lo = max(p - 64, 0)
        expect[i] = lo + int(np.argmin(np.abs(grid[lo : p + 64] - t)))
    np.testing.assert_array_equal(got, expect)


def test_nearest_sample_keeps_shape_and_validates() -> None:
    times = np.array([[0.0011, 0.0026], [0.5, -1.0]])
    got = nearest_sample_index(times, 0.0, 1000.0, 100)
    np.testing.assert_array_equal(got, [[1, 3], [99, 0]])
    with pytest.raises(ValueError, match="finite"):
        nearest_sample_index(np.array([0.1, np.nan]), 0.0, 1000.0, 100)
    with pytest.raises(ValueError, match="n_samples"):
        nearest_sample_index(np.array([0.1]), 0.0, 1000.0, 0)
    with pytest.raises(ValueError, match="fs_hz"):
        nearest_sample_index(np.array([0.1]), 0.0, 0.0, 10)


def frame_indices_with_gap_and_duplicates() -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(3)
    t0, fs, n = 0.0, 1000.0, 3000
    frames = jittered_frames_with_gap(rng, 0.2, 100, 40.0, slice(40, 55))
    frames = np.concatenate([[-0.5, -0.4], frames, [2.999, 3.5]])  # clamps produce duplicate indices
    return nearest_sample_index(frames, t0, fs, n), n


def test_frame_of_sample_next_equals_brute_force() -> None:
    e, n = frame_indices_with_gap_and_duplicates()
    assert np.any(np.diff(e) == 0)
    got = frame_of_sample(e, n)
    expect = np.array([(np.flatnonzero(e >= s)[0] if np.any(e >= s) else -1) for s in range(n)])
    np.testing.assert_array_equal(got, expect)
    assert got.dtype == np.int32 and got.size == n

    # Reference-compatible: F[s] = k for e_{k-1} < s <= e_k, 0 for s <= e_0 and for s > e_{K-1}.
    ref = np.zeros(n, dtype=np.int64)
    for k in range(1, e.size):
        ref[e[k - 1] + 1 : e[k] + 1] = k
    np.testing.assert_array_equal(frame_of_sample(e, n, no_frame=0), ref)


def test_frame_of_sample_previous_equals_brute_force() -> None:
    e, n = frame_indices_with_gap_and_duplicates()
    e = e[2:-2]  # frames inside the recording, so there are samples before the first and after the last
    got = frame_of_sample(e, n, convention="previous")
    interval = int(np.median(np.diff(e)))
    expect = []
    for s in range(n):
        before = np.flatnonzero(e <= s)
        k = before[-1] if before.size else -1
        if k == e.size - 1 and s >= e[-1] + interval:
            k = -1
        expect.append(k)
    np.testing.assert_array_equal(got, expect)
    assert got[e[0] - 1] == -1 and got[e[0]] == 0 and got[e[-1]] == e.size - 1


@pytest.mark.parametrize("convention", ["next", "previous"])
def test_frame_of_sample_max_lag_blanks_gap_samples(convention: str) -> None:
    e, n = frame_indices_with_gap_and_duplicates()
    e = e[2:-2]
    plain = frame_of_sample(e, n, convention=convention)
    lagged = frame_of_sample(e, n, convention=convention, max_lag_samples=30, no_frame=-7)
    s = np.arange(n)
    lag = np.abs(s - e[np.clip(plain, 0, None)])
    expect = np.where((plain >= 0) & (lag <= 30), plain, -7)
    np.testing.assert_array_equal(lagged, expect)
    gap = (s > e[39] + 30) & (s < e[40] - 30)  # inside the 15-frame TTL gap
    assert gap.sum() > 300 and np.all(lagged[gap] == -7)


def test_frame_of_sample_validates() -> None:
    with pytest.raises(ValueError, match="non-decreasing"):
        frame_of_sample(np.array([5, 3]), 10)
    with pytest.raises(ValueError, match="within"):
        frame_of_sample(np.array([5, 10]), 10)
    with pytest.raises(ValueError, match="convention"):
        frame_of_sample(np.array([5]), 10, convention="nearest")
    with pytest.raises(ValueError, match="integer"):
        frame_of_sample(np.array([5.0]), 10)


def test_low_confidence_mask_rows_are_exclusive_bounds() -> None:
    mask = low_confidence_mask(20, np.array([[4, 8], [-1, 2], [18, 20]]))
    np.testing.assert_array_equal(np.flatnonzero(mask), [0, 1, 5, 6, 7, 19])
    assert not low_confidence_mask(5, np.zeros((0, 2))).any()
    with pytest.raises(ValueError, match="last good"):
        low_confidence_mask(5, np.array([[3, 3]]))


def test_low_confidence_mask_matches_the_frame_clock() -> None:
    rng = np.random.default_rng(4)
    t = 1.0 + np.arange(400) / 20.0 + rng.normal(0, 1e-4, 400)
    edges = np.delete(t, np.r_[50:57, 200:203])
    clock = compute_t_ca_im(edges, 20.0, fix_TTL_gaps=True)
    mask = low_confidence_mask(clock.n_frames, clock.low_confidence_periods)
    np.testing.assert_array_equal(mask, clock.interpolated)
    np.testing.assert_array_equal(np.flatnonzero(mask), np.r_[50:57, 200:203])
