"""Streaming preprocessing (detrend -> ΔF/F of the cropped movie) against direct whole-movie computations.

Cropping is its own step (``ace_core.imaging.crop``, the ``cropped_movie`` product); here it is applied to
the frames before they are preprocessed, as the pipeline does.
"""


import numpy as np
import pytest
import scipy.signal

from ace_core.imaging import preprocess as preprocess_module
from ace_core.imaging.crop import CropError, crop_box, crop_frames
from ace_core.imaging.preprocess import (
    DFF_METHODS,
    DffLayout,
    PreprocessParams,
    dff_direct,
    plan_preprocess,
    preprocess,
    preprocess_range,
)
from ace_core.io.frames import ArraySource, ZarrMovieSource
from ace_core.store.movies import MovieWriter, open_movie

T, H, W = 37, 12, 10  # 37 frames: not a multiple of the 10-frame window
FR, SECS = 20.0, 0.5  # w = 10 frames (the reference would have used 30 Hz -> 15)


@pytest.fixture(scope="module")
def movie() -> np.ndarray:
    """Positive float movie with a bleaching trend, per-pixel offsets and transients."""
    rng = np.random.default_rng(7)
    t = np.arange(T)[:, None, None]
    base = 50 + 30 * rng.random((1, H, W))
    trend = 20 * np.exp(-t / 15)
    spikes = (rng.random((T, H, W)) < 0.05) * 40
    return (base + trend + spikes + rng.normal(0, 2, (T, H, W))).astype(np.float32)


def _run(tmp_path, source, params, name="out.zarr"):
    """Preprocess into a movie product; return (output frames, summary)."""
    plan = plan_preprocess(source, params)
    path = tmp_path / name
    with MovieWriter(path, source.n_frames, plan.height, plan.width, chunk_frames=params.chunk_frames) as w:
        summary = preprocess(source, params, w)
    return ZarrMovieSource(path).read(0, source.n_frames), summary


def _reflect(index: int, n: int) -> int:
    while index < 0 or index > n - 1:
        index = -index if index < 0 else 2 * (n - 1) - index
    return index


def dff_numpy(movie: np.ndarray, window: int, quantile: float, method: str) -> np.ndarray:
    """ΔF/F written out longhand: explicit mirror indices, per-block percentiles, np.interp per pixel."""
    x = movie.astype(np.float64)
    if x.min() < 0:
        x = x - x.min()
    if x.min() == 0:
        x = x + 1
    n = len(x)
    n_padded = -(-n // window) * window
    before = (n_padded - n) // 2
    padded = x[[_reflect(p - before, n) for p in range(n_padded)]]
    n_blocks = n_padded // window
    blocks = np.stack(
        [np.percentile(padded[k * window : (k + 1) * window], quantile, axis=0) for k in range(n_blocks)]
    )
    # scipy.ndimage.zoom's mapping (grid_mode=False): padded frame i sits at block i * (B - 1) / (T' - 1).
    coords = np.arange(n_padded) * ((n_blocks - 1) / (n_padded - 1)) if n_padded > 1 else np.zeros(1)
    f0 = np.empty_like(padded)
    for i in range(x.shape[1]):
        for j in range(x.shape[2]):
            f0[:, i, j] = np.interp(coords, np.arange(n_blocks), blocks[:, i, j])
    out = {
        "delta_f_over_sqrt_f": lambda: (padded - f0) / np.sqrt(f0),
        "delta_f_over_f": lambda: (padded - f0) / f0,
        "only_baseline": lambda: padded - f0,
    }[method]()
    return out[before : before + n]


def _close(actual, expected, scale=None):
    scale = np.abs(expected).max() if scale is None else scale
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-6 * max(scale, 1.0))


# --- ΔF/F ---------------------------------------------------------------------------------------------


def test_layout_of_37_frames_in_blocks_of_10():
    layout = DffLayout(37, 10)
    assert (layout.pad_before, layout.pad_after, layout.n_padded, layout.n_blocks) == (1, 2, 40, 4)
    padded = np.pad(np.arange(37), (1, 2), mode="reflect")
    assert np.array_equal(layout.source_frames(np.arange(40)), padded)
    assert np.array_equal(layout.block_frames(0), padded[:10])


@pytest.mark.parametrize("method", DFF_METHODS)
def test_direct_definitions_agree(movie, method):
    np.testing.assert_allclose(
        dff_direct(movie, FR, SECS, 8, method), dff_numpy(movie, 10, 8, method), rtol=1e-10
    )


@pytest.mark.parametrize("method", DFF_METHODS)
@pytest.mark.parametrize("chunk_frames", [3, 7, 13, 200])
def test_streaming_dff_matches_direct(tmp_path, movie, method, chunk_frames):
    params = PreprocessParams(
        detrend_method=None,
        df_over_f=True,
        df_over_f_method=method,
        secs_window=SECS,
        frame_rate_hz=FR,
        chunk_frames=chunk_frames,
    )
    out, summary = _run(tmp_path, ArraySource(movie), params)
    assert out.dtype == np.float32 and out.shape == movie.shape
    _close(out, dff_direct(movie, FR, SECS, 8, method))
    _close(out, dff_numpy(movie, 10, 8, method))
    assert summary.window_frames == 10
    assert (summary.pad_before, summary.pad_after, summary.n_blocks) == (1, 2, 4)
    assert summary.baseline_shift == 0.0  # positive movie: no pre-shift


@pytest.mark.parametrize("n_frames", [1, 2, 4, 10, 30])
def test_streaming_dff_short_movies(tmp_path, movie, n_frames):
    # Shorter than (or equal to) the window: repeated reflection, one block, zoom factor 0 or 1.
    short = movie[:n_frames]
    params = PreprocessParams(
        detrend_method=None, df_over_f=True, secs_window=SECS, frame_rate_hz=FR, chunk_frames=3
    )
    out, _ = _run(tmp_path, ArraySource(short), params)
    _close(out, dff_direct(short, FR, SECS, 8, "delta_f_over_sqrt_f"))
    if n_frames > 1:
        _close(out, dff_numpy(short, 10, 8, "delta_f_over_sqrt_f"))


@pytest.mark.parametrize(("offset", "shift"), [(-100.0, None), (0.0, 1.0)])
def test_pre_shift_makes_data_positive(tmp_path, movie, offset, shift):
    shifted = (movie - movie.min() + offset).astype(np.float32)  # min = offset
    params = PreprocessParams(
        detrend_method=None, df_over_f=True, secs_window=SECS, frame_rate_hz=FR, chunk_frames=9
    )
    out, summary = _run(tmp_path, ArraySource(shifted), params)
    assert summary.data_min == pytest.approx(float(shifted.min()))
    assert summary.baseline_shift == pytest.approx(1.0 - offset if shift is None else shift)
    _close(out, dff_direct(shifted, FR, SECS, 8, "delta_f_over_sqrt_f"))
    assert np.isfinite(out).all()


def test_window_comes_from_the_metadata_frame_rate(tmp_path, movie):
    at_20 = PreprocessParams(df_over_f=True, detrend_method=None, secs_window=SECS, frame_rate_hz=20.0)
    at_30 = PreprocessParams(df_over_f=True, detrend_method=None, secs_window=SECS, frame_rate_hz=30.0)
    assert (at_20.window_frames, at_30.window_frames) == (10, 15)
    assert PreprocessParams(secs_window=5, frame_rate_hz=29.97).window_frames == 149  # truncated
    out_20, s_20 = _run(tmp_path, ArraySource(movie), at_20, "a.zarr")
    out_30, s_30 = _run(tmp_path, ArraySource(movie), at_30, "b.zarr")
    assert (s_20.window_frames, s_30.window_frames) == (10, 15)
    assert s_20.attrs()["window_frames"] == 10 and s_20.attrs()["frame_rate_hz"] == 20.0
    assert not np.allclose(out_20, out_30)
    _close(out_30, dff_numpy(movie, 15, 8, "delta_f_over_sqrt_f"))


def test_quantile_is_used(tmp_path, movie):
    params = PreprocessParams(
        detrend_method=None,
        df_over_f=True,
        df_over_f_method="only_baseline",
        quantile_min=50.0,
        secs_window=SECS,
    )
    out, _ = _run(tmp_path, ArraySource(movie), params)
    _close(out, dff_numpy(movie, 10, 50.0, "only_baseline"))


# --- detrending ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_frames", [4, 37])
def test_median_detrend_matches_numpy(tmp_path, movie, chunk_frames):
    params = PreprocessParams(detrend_method="median", chunk_frames=chunk_frames)
    out, summary = _run(tmp_path, ArraySource(movie), params)
    m = movie.astype(np.float64).mean(axis=(1, 2))
    expected = movie - (m - np.median(m))[:, None, None]
    _close(out, expected)
    np.testing.assert_allclose(summary.mean_before, m, rtol=1e-12)
    np.testing.assert_allclose(summary.detrend_offset, m - np.median(m), rtol=1e-12)
    # The per-frame mean is flattened to its median.
    np.testing.assert_allclose(summary.mean_after, np.median(m), rtol=1e-12)
    np.testing.assert_allclose(summary.mean_output, np.median(m), rtol=1e-6)


@pytest.mark.parametrize("chunk_frames", [5, 37])
def test_linear_detrend_matches_scipy(tmp_path, movie, chunk_frames):
    params = PreprocessParams(detrend_method="linear", chunk_frames=chunk_frames)
    out, summary = _run(tmp_path, ArraySource(movie), params)
    expected = scipy.signal.detrend(movie.astype(np.float64), axis=0, type="linear")
    _close(out, expected, scale=float(np.abs(movie).max()))
    np.testing.assert_allclose(summary.mean_after, expected.mean(axis=(1, 2)), atol=1e-9)
    assert abs(summary.mean_after.mean()) < 1e-9  # every pixel's mean is removed
    assert summary.detrend_offset is None


@pytest.mark.parametrize("detrend", ["median", "linear"])
@pytest.mark.parametrize("method", DFF_METHODS)
def test_detrend_then_dff(tmp_path, movie, detrend, method):
    params = PreprocessParams(
        detrend_method=detrend, df_over_f=True, df_over_f_method=method, secs_window=SECS, chunk_frames=6
    )
    out, summary = _run(tmp_path, ArraySource(movie), params)
    x = movie.astype(np.float64)
    if detrend == "median":
        m = x.mean(axis=(1, 2))
        x = x - (m - np.median(m))[:, None, None]
    else:
        x = scipy.signal.detrend(x, axis=0, type="linear")  # centred on 0: the pre-shift kicks in
        assert summary.baseline_shift == pytest.approx(1 - x.min())
    assert summary.data_min == pytest.approx(x.min())
    _close(out, dff_numpy(x, 10, 8, method))
    assert summary.passes == (4 if detrend == "linear" else 3)


# --- crop, dtype, plumbing ----------------------------------------------------------------------------


def test_crop_is_applied_before_detrend(tmp_path, movie):
    box = crop_box((2, 3, 8, 10), H, W)  # rows 2..8, cols 2..7
    assert (box.row0, box.row1, box.col0, box.col1) == (2, 9, 2, 8)
    params = PreprocessParams(detrend_method="median", df_over_f=True, secs_window=SECS, chunk_frames=8)
    out, summary = _run(tmp_path, ArraySource(crop_frames(movie, box)), params)
    assert out.shape == (T, 7, 6) and (summary.height, summary.width) == (7, 6)
    cropped = movie[:, 2:9, 2:8]
    precropped, _ = _run(tmp_path, ArraySource(cropped), params, "c.zarr")
    assert np.array_equal(out, precropped)
    m = cropped.astype(np.float64).mean(axis=(1, 2))  # the trend of the cropped movie, not the frame's
    np.testing.assert_allclose(summary.detrend_offset, m - np.median(m), rtol=1e-12)
    m_frame = movie.astype(np.float64).mean(axis=(1, 2))
    assert not np.allclose(summary.detrend_offset, m_frame - np.median(m_frame))


def test_float32_output_without_8bit_requantisation(tmp_path):
    rng = np.random.default_rng(3)
    raw = rng.integers(0, 256, (40, H, W), dtype=np.uint8)  # raw Miniscope frames are uint8
    params = PreprocessParams(detrend_method="linear", chunk_frames=16)
    out, _ = _run(tmp_path, ArraySource(raw), params)
    assert out.dtype == np.float32 and open_movie(tmp_path / "out.zarr").movie.dtype == np.float32
    assert np.unique(out).size > 256  # not restricted to 256 levels
    _close(out, scipy.signal.detrend(raw.astype(np.float64), axis=0), scale=255)


def test_no_step_copies_the_cropped_movie(tmp_path, movie):
    box = crop_box((0, 0, 5, 6), H, W)
    out, summary = _run(tmp_path, ArraySource(crop_frames(movie, box)), PreprocessParams(detrend_method=None))
    assert np.array_equal(out, movie[:, 6:, :5])
    assert summary.passes == 1 and summary.window_frames is None


def test_tmp_path_sink_and_worker_ranges(tmp_path, movie):
    params = PreprocessParams(detrend_method="linear", df_over_f=True, secs_window=SECS, chunk_frames=10)
    expected, _ = _run(tmp_path, ArraySource(movie), params, "a.zarr")
    with MovieWriter(tmp_path / "b.zarr", T, H, W, chunk_frames=10) as w:
        preprocess(ArraySource(movie), params, w.tmp_path)
    assert np.array_equal(ZarrMovieSource(tmp_path / "b.zarr").read(0, T), expected)
    # What a worker process computes for its own range, given the plan.
    plan = plan_preprocess(ArraySource(movie), params)
    for start, stop in [(0, 37), (5, 23), (30, 37), (36, 37)]:
        np.testing.assert_allclose(
            preprocess_range(ArraySource(movie), plan, start, stop), expected[start:stop]
        )


@pytest.mark.parametrize("detrend", [None, "median", "linear"])
def test_tiny_slabs_and_bands(tmp_path, movie, monkeypatch, detrend):
    # Frame slabs of one frame and percentile bands of one row: the bounded-memory paths of big frames.
    params = PreprocessParams(detrend_method=detrend, df_over_f=True, secs_window=SECS, chunk_frames=8)
    expected, _ = _run(tmp_path, ArraySource(movie), params, "a.zarr")
    monkeypatch.setattr(preprocess_module, "_SLAB_ELEMENTS", 15)
    out, _ = _run(tmp_path, ArraySource(movie), params, "b.zarr")
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


class _CountingSource(ArraySource):
    def __init__(self, movie):
        super().__init__(movie)
        object.__setattr__(self, "reads", [])

    def read(self, start, stop):
        self.reads.append((start, stop))
        return super().read(start, stop)


def test_reads_are_bounded_by_chunk_and_window(tmp_path):
    rng = np.random.default_rng(5)
    long = (100 + rng.normal(0, 1, (400, 4, 3))).astype(np.float32)
    source = _CountingSource(long)
    params = PreprocessParams(detrend_method="linear", df_over_f=True, secs_window=SECS, chunk_frames=16)
    with MovieWriter(tmp_path / "o.zarr", 400, 4, 3, chunk_frames=16) as w:
        summary = preprocess(source, params, w)
    assert max(stop - start for start, stop in source.reads) <= max(16, params.window_frames)
    frames_read = sum(stop - start for start, stop in source.reads)
    assert frames_read == summary.passes * 400  # statistics, minimum, output, block baselines: once each
    _close(
        ZarrMovieSource(tmp_path / "o.zarr").read(0, 400),
        dff_numpy(scipy.signal.detrend(long.astype(np.float64), axis=0), 10, 8, "delta_f_over_sqrt_f"),
    )


def test_progress_counts_frames_over_all_sweeps(tmp_path, movie):
    calls = []
    params = PreprocessParams(detrend_method="linear", df_over_f=True, secs_window=SECS, chunk_frames=20)
    with MovieWriter(tmp_path / "o.zarr", T, H, W) as w:
        preprocess(ArraySource(movie), params, w, progress=lambda *a: calls.append(a))
    # statistics, minimum and output sweeps, 20 frames at a time
    assert calls == [(20, 3 * T), (37, 3 * T), (57, 3 * T), (74, 3 * T), (94, 3 * T), (111, 3 * T)]
    calls.clear()
    plan_preprocess(
        ArraySource(movie), PreprocessParams(detrend_method="median"), progress=lambda *a: calls.append(a)
    )
    assert calls[-1] == (T, T)


def test_summary_dataset(tmp_path, movie):
    params = PreprocessParams(detrend_method="median", chunk_frames=20)
    path = tmp_path / "o.zarr"
    with MovieWriter(path, T, H, W) as w:
        summary = preprocess(ArraySource(movie), params, w)
        w.add_variables(summary.to_dataset())
    ds = open_movie(path)
    np.testing.assert_allclose(ds.mean_before.values, summary.mean_before)
    assert ds.detrend_offset.dims == ("frame",)


def test_errors(tmp_path, movie):
    with pytest.raises(ValueError, match="detrend_method"):
        PreprocessParams(detrend_method="running")
    with pytest.raises(ValueError, match="df_over_f_method"):
        PreprocessParams(df_over_f_method="dff")
    with pytest.raises(ValueError, match="shorter than one frame"):
        PreprocessParams(df_over_f=True, secs_window=0.01, frame_rate_hz=20)
    with pytest.raises(ValueError, match="quantile_min"):
        PreprocessParams(quantile_min=101)
    with pytest.raises(CropError, match="does not fit"):  # a box made for another frame size
        crop_frames(movie, crop_box((0, 0, 20, 20), 20, 20))
    with MovieWriter(tmp_path / "o.zarr", T, H + 1, W) as w:
        with pytest.raises(ValueError, match="output is"):
            preprocess(ArraySource(movie), PreprocessParams(), w)
