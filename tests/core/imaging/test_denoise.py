"""Band + flicker denoising (ace_core.imaging.denoise) against a synthetic movie with injected artefacts."""

import dataclasses
from functools import lru_cache

import numpy as np
import pytest

from ace_core.imaging import denoise as dn
from ace_core.io.frames import ArraySource
from ace_core.simulation.calcium import CalciumMovieSpec, make_truth, render_frames
from ace_core.store.movies import MovieWriter, open_movie

FS = 20.0
T, H, W, N = 400, 64, 64, 10
BAND_KY = 8  # band frequency 1/8 cycles/px = 8 cycles per 64-px frame
BAND_AMPLITUDE = 8.0
FLICKER_HZ = 5.0
CUTOFF_HZ = 2.0
PARAMS = dn.DenoiseParams(
    centerHalfHeightToLeave=4,
    notchHalfWidth=3,
    frameStep=5,
    cutoff=CUTOFF_HZ,
    butterOrder=6,
    frame_rate_hz=FS,
    chunk_frames=64,
)


@lru_cache(maxsize=1)
def _movies():
    """(truth, clean float32, injected float32, injected uint8): bands travel at 0.7 cycles/s."""
    spec = CalciumMovieSpec(
        height_px=H,
        width_px=W,
        n_neurons=N,
        frame_rate_hz=FS,
        rigid_motion_px=0.0,
        nonrigid_motion_px=0.0,
        seed=3,
    )
    truth = make_truth(spec, np.full((N, T), 0.03))
    clean = render_frames(truth, 0, T).astype(np.float32)
    t = np.arange(T) / FS
    y = np.arange(H)
    band = BAND_AMPLITUDE * np.sin(2 * np.pi * (BAND_KY / H * y[None, :] - 0.7 * t[:, None]))
    jumps = np.random.default_rng(0).normal(0.0, 1.5, T)  # random frame-to-frame flicker
    flicker = 4.0 * np.sin(2 * np.pi * FLICKER_HZ * t) + jumps
    injected = (clean + band[:, :, None] + flicker[:, None, None]).astype(np.float32)
    injected8 = np.clip(np.rint(injected), 0, 255).astype(np.uint8)
    return truth, clean, injected, injected8


def _run(movie, params=PARAMS, progress=None):
    chunks: dict[int, np.ndarray] = {}

    def write(start, frames):
        assert frames.dtype == np.float32
        chunks[start] = frames

    summary = dn.denoise(ArraySource(movie), params, write, progress=progress)
    starts = sorted(chunks)
    return np.concatenate([chunks[s] for s in starts]), summary


def _db(before, after):
    return 10 * np.log10(before / max(after, 1e-300))


def _power_above(m, f_min):
    freqs = np.fft.rfftfreq(m.size, 1 / FS)
    spec = np.abs(np.fft.rfft(m - m.mean())) ** 2
    return float(spec[freqs >= f_min].sum())


def _footprint_signals(truth, movie):
    fp = truth.footprints.reshape(N, -1).astype(np.float64)
    return movie.reshape(movie.shape[0], -1).astype(np.float64) @ (fp / fp.sum(axis=1, keepdims=True)).T


def test_mask_layout_and_symmetry():
    mask = dn.notch_mask(H, W, PARAMS)
    assert mask.shape == (H, W) and mask.dtype == bool
    ky = np.rint(np.fft.fftfreq(H) * H).astype(int)
    kx = np.rint(np.fft.fftfreq(W) * W).astype(int)
    assert mask[0, 0] and mask[4, 0] and mask[-4, 3]  # centre of the strip kept
    assert not mask[5, 0] and not mask[-5, -3] and not mask[H // 2, 0]  # strip removed
    assert mask[5, 4] and mask[20, -4]  # outside the strip
    removed = ~mask
    assert np.all(np.abs(kx[np.nonzero(removed)[1]]) <= 3)
    assert np.all(np.abs(ky[np.nonzero(removed)[0]]) > 4)
    # Hermitian symmetry: (ky, kx) -> (-ky, -kx) keeps the filtered frames real
    flipped = np.roll(mask[::-1, ::-1], (1, 1), axis=(0, 1))
    assert np.array_equal(mask, flipped)
    small = dn.notch_mask(H, W, dn.DenoiseParams(goodRadius=10, centerHalfHeightToLeave=90))
    assert small[0, 10] and not small[0, 11] and not small[8, 8] and small[6, 8]


def test_bands_and_flicker_removed_neurons_kept():
    truth, clean, injected, injected8 = _movies()
    out, summary = _run(injected8)
    assert out.shape == (T, H, W) and out.dtype == np.float32

    # (a) band power at (ky = 8, kx = 0): down by >= 20 dB (it is zeroed); and the whole injected band
    # pattern, i.e. the spatial (frame-mean removed) part of denoised injected - denoised clean against
    # that of injected - clean, down by >= 20 dB (the in-band part of the random flicker cannot be removed
    # by design, so it is left out by taking out the frame means)
    band_db = _db(dn.band_power(injected8, BAND_KY), dn.band_power(out, BAND_KY))
    assert band_db >= 20
    clean_out, _ = _run(clean)

    def spatial(movie):
        return movie - movie.mean(axis=(1, 2), keepdims=True)

    residual_db = _db(
        float((spatial(injected - clean) ** 2).sum()), float((spatial(out - clean_out) ** 2).sum())
    )
    assert residual_db >= 20
    assert summary.band_power_removed_db >= 20
    notched = ~summary.mask[:, 0]
    assert summary.band_profile_before[BAND_KY] > 10 * summary.band_profile_before[notched].mean()

    # (b) flicker: power of the frame mean above twice the cut-off down by >= 20 dB, and at 5 Hz
    mean_in = injected8.reshape(T, -1).mean(axis=1)
    np.testing.assert_allclose(summary.mean_before, mean_in, rtol=1e-9)
    np.testing.assert_allclose(summary.mean_after, out.reshape(T, -1).mean(axis=1), atol=1e-3)
    assert _db(_power_above(mean_in, 2 * CUTOFF_HZ), _power_above(summary.mean_after, 2 * CUTOFF_HZ)) >= 20
    k5 = int(round(FLICKER_HZ * T / FS))
    assert _db(np.abs(np.fft.rfft(mean_in))[k5] ** 2, np.abs(np.fft.rfft(summary.mean_after))[k5] ** 2) >= 20
    # the slow part of the mean (bleaching, drift) is kept
    slow = summary.mean_after - summary.mean_after.mean()
    slow_in = mean_in - mean_in.mean()
    assert _power_above(slow, 0.0) > 0 and np.corrcoef(slow, slow_in)[0, 1] > 0.3

    # neurons: footprint-weighted signals follow the clean movie's, and the truth as well as it does
    sig_out, sig_clean, sig_in = (_footprint_signals(truth, m) for m in (out, clean, injected))
    for k in range(N):
        r_clean = np.corrcoef(sig_out[:, k], sig_clean[:, k])[0, 1]
        assert r_clean >= 0.98, (k, r_clean)
        r_truth = np.corrcoef(sig_out[:, k], truth.traces[k])[0, 1]
        r_truth_clean = np.corrcoef(sig_clean[:, k], truth.traces[k])[0, 1]
        r_truth_in = np.corrcoef(sig_in[:, k], truth.traces[k])[0, 1]
        assert r_truth >= r_truth_clean - 0.03 and r_truth > r_truth_in, (k, r_truth, r_truth_clean)


def test_results_do_not_depend_on_chunking_or_input_dtype():
    _, _, injected, injected8 = _movies()
    ref, ref_summary = _run(injected8)
    for chunk in (7, 400, 1000):
        out, summary = _run(injected8, dataclasses.replace(PARAMS, chunk_frames=chunk))
        np.testing.assert_allclose(out, ref, atol=1e-4)
        np.testing.assert_allclose(summary.band_profile_before, ref_summary.band_profile_before, rtol=1e-9)
        np.testing.assert_allclose(summary.band_profile_after, ref_summary.band_profile_after, atol=1e-9)
        np.testing.assert_array_equal(summary.sampled_frames, np.arange(0, T, PARAMS.frameStep))
    out_f, _ = _run(injected8.astype(np.float32))
    np.testing.assert_allclose(out_f, ref, atol=1e-4)
    out_64, _ = _run(injected8.astype(np.float64))
    np.testing.assert_allclose(out_64, ref, atol=1e-4)


def test_denoise_frames_and_flicker_pieces():
    _, _, _, injected8 = _movies()
    mask = dn.notch_mask(H, W, PARAMS)
    frames = injected8[:20]
    out = dn.denoise_frames(frames, mask, None)
    assert out.dtype == np.float32
    # the notch keeps the DC term, so frame means are unchanged
    np.testing.assert_allclose(out.mean(axis=(1, 2)), frames.mean(axis=(1, 2)), atol=1e-3)
    # all-pass mask and no correction: the frames themselves
    np.testing.assert_array_equal(dn.denoise_frames(frames, np.ones((H, W), bool)), frames.astype(np.float32))
    # a single (H, W) frame and an offset
    one = dn.denoise_frames(frames[0], mask, np.array([2.5]))
    np.testing.assert_allclose(one[0], out[0] + 2.5, atol=1e-4)
    with pytest.raises(ValueError):
        dn.denoise_frames(frames, mask[:10])
    # flicker correction: a constant or slow mean needs (almost) none, a fast one is removed
    t = np.arange(T) / FS
    assert np.allclose(dn.flicker_correction(np.full(T, 50.0), PARAMS), 0, atol=1e-9)
    slow = 50 + 3 * np.sin(2 * np.pi * 0.2 * t)
    assert np.max(np.abs(dn.flicker_correction(slow, PARAMS))) < 0.05
    inner = slice(int(FS), T - int(FS))  # beyond 1 s (2 cut-off periods) of either end
    for f_hz in (3.0, 6.0, 8.3):
        fast = slow + np.sin(2 * np.pi * f_hz * t + 0.4)
        error = fast + dn.flicker_correction(fast, PARAMS) - slow
        assert np.max(np.abs(error[inner])) < 0.02, f_hz
        assert np.max(np.abs(error)) < 0.5, f_hz  # the ends are ambiguous within a cut-off period
    # disabled: cutoff None or at / above Nyquist
    for cutoff in (None, FS / 2, 15.0):
        p = dn.DenoiseParams(cutoff=cutoff, frame_rate_hz=FS)
        assert not p.flicker_enabled and not np.any(dn.flicker_correction(fast, p))
    assert dn.flicker_correction(np.array([3.0]), PARAMS).tolist() == [0.0]


def test_band_power_of_a_known_band():
    y = np.arange(H)
    frame = 60 + 4.0 * np.sin(2 * np.pi * BAND_KY * y / H)[:, None] * np.ones(W)
    assert dn.band_power(frame, BAND_KY) == pytest.approx(8.0, rel=1e-9)  # A**2 / 2
    assert dn.band_power(frame, -BAND_KY) == pytest.approx(8.0, rel=1e-9)
    assert dn.band_power(frame, 3) == pytest.approx(0.0, abs=1e-20)
    assert dn.band_power(frame, 0) == pytest.approx(3600.0, rel=1e-9)


def test_streams_to_a_movie_store_with_progress(tmp_path):
    _, _, _, injected8 = _movies()
    calls: list[tuple[int, int]] = []
    path = tmp_path / "denoised.zarr"
    with MovieWriter(path, T, H, W, dtype="float32", chunk_frames=PARAMS.chunk_frames) as writer:
        summary = dn.denoise(
            ArraySource(injected8), PARAMS, writer.write, progress=lambda d, t: calls.append((d, t))
        )
    ref, _ = _run(injected8)
    stored = np.asarray(open_movie(path)["movie"].values)
    np.testing.assert_allclose(stored, ref, atol=0)
    assert calls[-1] == (2 * T, 2 * T) and all(t == 2 * T for _, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert summary.flicker_applied


def test_parameters():
    p = dn.DenoiseParams.from_parameters(
        {
            "centerHalfHeightToLeave": 20,
            "notchHalfWidth": "2",
            "frameStep": None,
            "fs": 30,
            "cutoff": 4,
            "butterOrder": 4,
            "goodRadius": 300,
            "unrelated": 1,
        },
        frame_rate_hz=22.5,
    )
    assert p.centerHalfHeightToLeave == 20 and p.notchHalfWidth == 2 and p.frameStep == 10
    assert p.cutoff == 4.0 and p.butterOrder == 4 and p.goodRadius == 300 and p.frame_rate_hz == 22.5
    assert dn.DenoiseParams.from_parameters({"cutoff": "none"}, frame_rate_hz=20).cutoff is None
    defaults = dn.DenoiseParams()
    assert (defaults.centerHalfHeightToLeave, defaults.notchHalfWidth, defaults.goodRadius) == (90, 3, 2000)
    assert (defaults.frameStep, defaults.cutoff, defaults.butterOrder) == (10, 3.0, 6)
    for bad in (
        {"frameStep": 0},
        {"notchHalfWidth": -1},
        {"cutoff": 0.0},
        {"butterOrder": 0},
        {"goodRadius": 0},
        {"frame_rate_hz": 0},
        {"chunk_frames": 0},
    ):
        with pytest.raises(ValueError):
            dn.DenoiseParams(**bad)
