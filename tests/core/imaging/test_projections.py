"""Streaming projections against numpy on the whole movie."""

import numpy as np
import pytest

from ace_core.imaging.projections import compute_projections, median_sample_indices
from ace_core.io.frames import ArraySource


@pytest.fixture(scope="module")
def uint8_movie() -> np.ndarray:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 200, (1, 9, 11))
    return np.clip(base + rng.integers(0, 60, (53, 9, 11)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def float_movie() -> np.ndarray:
    rng = np.random.default_rng(1)
    trend = np.linspace(0, 5, 37)[:, None, None]
    return (1000.0 + trend + rng.normal(0, 2, (37, 7, 6))).astype(np.float32)


def _check_against_numpy(p, movie):
    m64 = movie.astype(np.float64)
    assert np.array_equal(p.max, movie.max(axis=0).astype(np.float32))
    assert np.array_equal(p.min, movie.min(axis=0).astype(np.float32))
    assert np.array_equal(p.range, (m64.max(axis=0) - m64.min(axis=0)).astype(np.float32))
    np.testing.assert_allclose(p.mean, m64.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(p.std, m64.std(axis=0), rtol=1e-5)
    np.testing.assert_allclose(p.time, m64.mean(axis=(1, 2)), rtol=1e-12)
    assert p.time.dtype == np.float64 and p.time.shape == (movie.shape[0],)
    for image in p.images.values():
        assert image.dtype == np.float32 and image.shape == movie.shape[1:]


@pytest.mark.parametrize("chunk_frames", [1, 7, 53, 256])
def test_uint8_movie_exact(uint8_movie, chunk_frames):
    p = compute_projections(ArraySource(uint8_movie), chunk_frames=chunk_frames)
    _check_against_numpy(p, uint8_movie)
    assert np.array_equal(p.median, np.median(uint8_movie, axis=0).astype(np.float32))
    assert not p.median_is_approximate and "histogram" in p.median_method


def test_uint8_median_even_frame_count(uint8_movie):
    movie = uint8_movie[:52]  # even: numpy averages the two middle values (half-integers appear)
    p = compute_projections(ArraySource(movie), chunk_frames=5)
    expected = np.median(movie, axis=0)
    assert np.any(expected % 1 == 0.5)
    assert np.array_equal(p.median, expected.astype(np.float32))


def test_uint8_histogram_counts_beyond_uint16():
    # 70000 frames: one bin holds more than 65535 counts, so uint16 counts would overflow.
    movie = np.zeros((70_000, 2, 2), dtype=np.uint8)
    movie[:3000, 0, 0] = 255
    movie[::7, 1, 1] = 9
    p = compute_projections(ArraySource(movie), chunk_frames=8192)
    assert np.array_equal(p.median, np.median(movie, axis=0).astype(np.float32))


@pytest.mark.parametrize("chunk_frames", [1, 5, 37, 256])
def test_float_movie_short_enough_for_an_exact_median(float_movie, chunk_frames):
    p = compute_projections(ArraySource(float_movie), chunk_frames=chunk_frames)
    _check_against_numpy(p, float_movie)
    assert np.array_equal(p.median, np.median(float_movie, axis=0))
    assert not p.median_is_approximate


def test_float_movie_subsample_median():
    rng = np.random.default_rng(2)
    movie = rng.normal(10, 1, (1000, 9, 11)).astype(np.float32)
    p = compute_projections(ArraySource(movie), chunk_frames=64, median_sample_frames=101)
    _check_against_numpy(p, movie)
    assert p.median_is_approximate and "101 evenly spaced frames of 1000" in p.median_method
    # Exactly the median of the documented subsample ...
    idx = median_sample_indices(1000, 101)
    assert np.array_equal(p.median, np.median(movie[idx], axis=0))
    # ... and within the sampling error of the full median (standard error ~ 1.25 sigma / sqrt(101)).
    assert np.abs(p.median - np.median(movie, axis=0)).max() < 0.6


def test_std_is_stable_on_a_large_offset():
    # A naive sum-of-squares in float64 loses these digits; the chunk merge does not.
    rng = np.random.default_rng(3)
    movie = (1e6 + rng.normal(0, 1e-3, (200, 3, 4))).astype(np.float64)
    p = compute_projections(ArraySource(movie), chunk_frames=17)
    np.testing.assert_allclose(p.std, movie.std(axis=0), rtol=1e-5)


def test_chunk_size_independence(float_movie):
    a = compute_projections(ArraySource(float_movie), chunk_frames=1)
    b = compute_projections(ArraySource(float_movie), chunk_frames=11)
    for name in ("max", "min", "median", "range", "time"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-7)
    np.testing.assert_allclose(a.std, b.std, rtol=1e-6)


def test_tiny_slabs_and_histogram_blocks(uint8_movie, monkeypatch):
    # One frame per float64 slab, 5 pixels per histogram block: the bounded-memory paths of big frames.
    from ace_core.imaging import projections as module

    expected = compute_projections(ArraySource(uint8_movie), chunk_frames=9)
    monkeypatch.setattr(module, "_SLAB_ELEMENTS", 10)
    monkeypatch.setattr(module, "_HIST_PIXELS", 5)
    p = compute_projections(ArraySource(uint8_movie), chunk_frames=9)
    _check_against_numpy(p, uint8_movie)
    assert np.array_equal(p.median, expected.median)


def test_median_sample_indices():
    assert np.array_equal(median_sample_indices(5, 10), np.arange(5))
    idx = median_sample_indices(1000, 101)
    assert idx[0] == 0 and idx[-1] == 999 and len(idx) == 101
    assert np.all(np.diff(idx) >= 9) and np.all(np.diff(idx) <= 11)


def test_progress_reports_frames(uint8_movie):
    calls = []
    compute_projections(ArraySource(uint8_movie), chunk_frames=20, progress=lambda *a: calls.append(a))
    assert calls == [(20, 53), (40, 53), (53, 53)]


def test_empty_movie_is_an_error():
    with pytest.raises(ValueError, match="no frames"):
        compute_projections(ArraySource(np.zeros((0, 3, 3), dtype=np.uint8)))
