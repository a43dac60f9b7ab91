"""CNMF-E: OASIS deconvolution, seed images, ring background, parameters, and acceptance on generated movies.

Generated movies have no motion (motion correction is an earlier step) but keep the generator's one-photon
background, vignette, shot + read noise and its planted overlapping pairs. The generator's neurons have
radius 5 px (Gaussian sigma ~2.5 px), so the tests use gSig=(3, 3), gSiz=(13, 13) instead of the lab's
(7, 7), (29, 29), with the lab's min_corr 0.8 and min_pnr 10.
"""

import concurrent.futures as cf
import tracemalloc

import numpy as np
import pytest
from scipy import ndimage, signal
from scipy.optimize import nnls

from ace_core.analysis.events import events_from_traces
from ace_core.catalog import parameter_table
from ace_core.cnmfe import CNMFEParams, correlation_pnr_images, fit_cnmfe, patch_grid
from ace_core.cnmfe.background import fit_ring_model, ring_offsets
from ace_core.cnmfe.deconvolution import deconvolve, estimate_ar_coefficients, noise_std, oasis
from ace_core.cnmfe.initialization import filter_frames, filter_kernel, local_correlation
from ace_core.cnmfe.updates import exceptionality_snr, quality
from ace_core.io.frames import ArraySource
from ace_core.simulation.calcium import CalciumMovieSpec, make_truth, render_frames
from ace_core.simulation.scoring import events_from_spikes, match_events, score_cnmfe

TEST_PARAMS = dict(gSig=(3, 3), gSiz=(13, 13), fr=20.0)


def _movie(h: int, w: int, n: int, frames: int, seed: int, spike_prob: float = 0.015):
    spec = CalciumMovieSpec(
        height_px=h, width_px=w, n_neurons=n, rigid_motion_px=0, nonrigid_motion_px=0, seed=seed
    )
    truth = make_truth(spec, np.full((n, frames), spike_prob))
    return truth, render_frames(truth, 0, frames)


def _report(name: str, est, score) -> None:
    """What a reader of the test log needs: the numbers and every found unit that matched no neuron."""
    unmatched = [
        (k, round(float(est.snr[k]), 1), round(float(est.r_values[k]), 2)) for k in score.unmatched_found
    ]
    print(
        f"\n[{name}] found {score.n_found} / true {score.n_true}: F1 {score.f1:.3f},"
        f" median r {score.median_r:.3f},"
        f" spikes recall {score.spike_recall:.3f} precision {score.spike_precision:.3f};"
        f" unmatched found (k, snr, r_value): {unmatched}; missed true: {score.unmatched_true}"
    )


# ------------------------------------------------------------------------------------------------ OASIS


def _kernel_matrix(g: np.ndarray, n: int) -> np.ndarray:
    h = signal.lfilter([1.0], np.r_[1.0, -g], np.r_[1.0, np.zeros(n - 1)])
    k = np.zeros((n, n))
    for t in range(n):
        k[t:, t] = h[: n - t]
    return k


@pytest.mark.parametrize("g", [[0.9], [1.2, -0.3]])
def test_oasis_solves_the_nonnegative_deconvolution(g):
    """OASIS (s_min 0, lam 0) against NNLS over spikes: exact for AR(1); for AR(2) the pool-merging scheme
    is greedy, within 2 % of the optimal residual."""
    g = np.array(g)
    rng = np.random.default_rng(1)
    n = 200
    s = (rng.random(n) < 0.05).astype(float)
    y = signal.lfilter([1.0], np.r_[1.0, -g], s) + 0.3 * rng.standard_normal(n)
    k = _kernel_matrix(g, n)
    c_ref = k @ nnls(k, y)[0]
    c, spikes = oasis(y, g)
    assert np.all(c >= 0) and np.all(spikes >= 0)
    obj, obj_ref = np.sum((c - y) ** 2), np.sum((c_ref - y) ** 2)
    if g.size == 1:
        np.testing.assert_allclose(c, c_ref, atol=1e-8)
    else:
        assert obj <= 1.02 * obj_ref


def test_thresholded_oasis_finds_spikes_and_noise_baseline():
    rng = np.random.default_rng(2)
    n, g, sd, base = 6000, np.exp(-1 / 8), 4.0, 30.0
    s = (rng.random(n) < 0.02).astype(float) * 100
    c = signal.lfilter([1.0], [1.0, -g], s)
    y = base + c + sd * rng.standard_normal(n)
    d = deconvolve(y, p=1, decay_time_s=0.4, frame_rate_hz=20.0, s_min_sd=3.0)
    assert d.g[0] == pytest.approx(g)
    assert d.sn == pytest.approx(sd, rel=0.1)  # the residual-based noise, not the inflated periodogram
    assert d.b == pytest.approx(base, abs=1.0)
    assert np.corrcoef(d.c, c)[0, 1] > 0.99
    true_ev, found_ev = np.flatnonzero(s), events_from_spikes(d.s)
    hits = match_events(true_ev, found_ev, 1)
    assert hits / true_ev.size > 0.95 and hits / found_ev.size > 0.95
    # without the threshold (s_min 0) the L1-free NNLS solution is full of tiny spikes
    assert np.count_nonzero(oasis(y - d.b, d.g)[1]) > 3 * true_ev.size


def test_noise_and_ar_estimates():
    rng = np.random.default_rng(3)
    assert noise_std(2.5 * rng.standard_normal(5000)) == pytest.approx(2.5, rel=0.05)
    s = (rng.random(20000) < 0.05).astype(float)
    y = signal.lfilter([1.0], [1.0, -0.9], s) + 0.2 * rng.standard_normal(20000)
    g = estimate_ar_coefficients(y, 1, sn=0.2)
    assert g is not None and g[0] == pytest.approx(0.9, abs=0.03)


# ---------------------------------------------------------------------------------------------- images


def test_seed_filter_is_the_2d_kernel_and_removes_planes():
    rng = np.random.default_rng(4)
    frames = rng.standard_normal((3, 40, 50)).astype(np.float32)
    kernel = filter_kernel((3, 3), (13, 13), center_psf=True)
    assert kernel.sum() == pytest.approx(0, abs=1e-9) and np.linalg.norm(kernel) == pytest.approx(1)
    ours = filter_frames(frames, (3, 3), (13, 13), center_psf=True)
    ref = np.stack([ndimage.correlate(f.astype(np.float64), kernel, mode="reflect") for f in frames])
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    yy, xx = np.mgrid[:40, :50]
    plane = (50 + 0.3 * yy - 0.2 * xx)[None].astype(np.float32)
    assert np.abs(filter_frames(plane, (3, 3), (13, 13))[0, 8:-8, 8:-8]).max() < 1e-3


def test_local_correlation_matches_brute_force():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((50, 6, 7)).astype(np.float32)
    x[:, 2:4, 2:5] += 2 * rng.standard_normal((50, 1, 1)).astype(np.float32)  # a correlated blob
    ours = local_correlation(x)
    ref = np.zeros((6, 7))
    for i in range(6):
        for j in range(7):
            cs = [
                np.corrcoef(x[:, i, j], x[:, i + di, j + dj])[0, 1]
                for di in (-1, 0, 1)
                for dj in (-1, 0, 1)
                if (di or dj) and 0 <= i + di < 6 and 0 <= j + dj < 7
            ]
            ref[i, j] = np.mean(cs)
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_correlation_pnr_images_by_tiles_equal_the_whole_frame():
    _, movie = _movie(60, 70, 6, 300, seed=11)
    src = ArraySource(movie)
    whole = correlation_pnr_images(src, 3, gSiz=13, tile_px=1000, tsub=2)
    tiled = correlation_pnr_images(src, 3, gSiz=13, tile_px=17, tsub=2, chunk_frames=64)
    np.testing.assert_allclose(tiled[0], whole[0], atol=1e-5)
    np.testing.assert_allclose(tiled[1], whole[1], rtol=1e-5)


# ----------------------------------------------------------------------------------------- ring model


def test_ring_model_predicts_background_but_not_a_neuron():
    """The ring regression reproduces a smooth fluctuating background from the ring around each pixel, and
    does not predict a neuron-sized transient at its centre (its ring lies outside the neuron)."""
    rng = np.random.default_rng(6)
    h = w = 40
    n = 1500
    yy, xx = np.mgrid[:h, :w]
    smooth = ndimage.gaussian_filter(rng.standard_normal((h, w)), 8)
    image = 60 + 20 * smooth / smooth.std()
    gain = 0.1 * np.sin(np.arange(n) / 40) + 0.05 * rng.standard_normal(n)
    background = gain[:, None] * image.ravel()[None]
    neuron = np.exp(-((yy - 20) ** 2 + (xx - 20) ** 2) / (2 * 2.5**2)).ravel()
    trace = (rng.random(n) < 0.02) * 30.0
    data = background + np.outer(trace, neuron) + 0.5 * rng.standard_normal((n, h * w))
    resid = (data - data.mean(axis=0)).astype(np.float32)
    offs = ring_offsets(9.0)  # a one-pixel-wide ring, outside the neuron (3.6 sigma)
    d = np.hypot(offs[:, 0], offs[:, 1])
    assert np.all((d >= 9) & (d < 10))
    ring = fit_ring_model(resid, (h, w), radius_px=9.0, ssub_B=1, b0=data.mean(axis=0))
    pred = (ring.W @ resid.T).T
    inner = (yy.ravel() >= 10) & (yy.ravel() < 30) & (xx.ravel() >= 10) & (xx.ravel() < 30) & (neuron < 0.01)
    truth_bg = background - background.mean(axis=0)
    r2 = 1 - np.sum((pred[:, inner] - truth_bg[:, inner]) ** 2) / np.sum(truth_bg[:, inner] ** 2)
    assert r2 > 0.9
    centre = 20 * w + 20
    events = trace > 0
    leak = (pred[events, centre] - truth_bg[events, centre]).mean()
    assert abs(leak) < 0.1 * 30.0  # < 10 % of the transient is explained by the ring


# ---------------------------------------------------------------------------------------------- params


def test_patch_grid_tiles_the_frame():
    grid = patch_grid((200, 130), rf=40, stride=20)
    owned = np.zeros((200, 130), int)
    for (r0, r1, c0, c1), (o0, o1, p0, p1) in grid:
        assert r1 - r0 == 81 and c1 - c0 == 81
        assert r0 <= o0 < o1 <= r1 and c0 <= p0 < p1 <= c1
        owned[o0:o1, p0:p1] += 1
    assert np.all(owned == 1)
    rows = sorted({g[0][:2] for g in grid})
    assert rows[0][0] == 0 and rows[-1][1] == 200
    assert all(a[1] - b[0] >= 20 for a, b in zip(rows[:-1], rows[1:], strict=True))  # overlap >= stride
    assert patch_grid((50, 60), rf=None, stride=20) == [((0, 50, 0, 60), (0, 50, 0, 60))]


def test_from_parameters_reports_unknown_and_inapplicable_keys():
    caiman = {k: parameter_table.DEFAULT_PARAMETERS[k] for k in parameter_table.CAIMAN_PARAMETERS}
    values = {**caiman, "gSig": [3, 3], "gSiz": [13, 13]}
    params, report = CNMFEParams.from_parameters(values, frame_rate_hz=19.8)
    assert params.gSig == (3, 3) and params.gSiz == (13, 13) and params.fr == 19.8
    assert (params.min_corr, params.min_pnr, params.rf, params.stride, params.p) == (0.8, 10, 40, 20, 1)
    assert report["unknown"] == []
    motion = {"pw_rigid", "shifts_opencv", "max_shifts", "gSig_filt", "strides", "overlaps"}
    motion |= {"max_deviation_rigid"}
    assert motion | {"border_nan", "only_init"} == set(report["inapplicable"])
    _, report = CNMFEParams.from_parameters(
        {"use_cnn": True, "method_deconvolution": "cvxpy", "nb": 1, "fr": 30, "crop_square": (1, 2)},
        frame_rate_hz=20.0,
    )
    assert report["unknown"] == ["crop_square"]
    assert report["inapplicable"] == ["fr", "method_deconvolution", "nb", "use_cnn"]
    assert CNMFEParams(gSiz=(12, 12)).gSiz == (13, 13)
    with pytest.raises(ValueError):
        CNMFEParams(nb=1)


# ------------------------------------------------------------------------------------- whole algorithm


@pytest.fixture(scope="module")
def small_fit():
    truth, movie = _movie(80, 80, 12, 1500, seed=0)
    params = CNMFEParams(**TEST_PARAMS, rf=None)
    return truth, fit_cnmfe(ArraySource(movie), params)


def test_acceptance_small_movie(small_fit):
    truth, est = small_fit
    score = score_cnmfe(est.A, est.C, est.S, truth, max_distance_px=3)
    _report("80x80x1500 seed 0, whole frame", est, score)
    assert score.f1 >= 0.9
    assert score.median_r >= 0.9
    assert score.spike_recall >= 0.8 and score.spike_precision >= 0.8
    # no background ghost: every unit above min_SNR matches a true neuron (else it is listed above)
    ghosts = [k for k in score.unmatched_found if est.snr[k] >= est.params.min_SNR]
    assert ghosts == []
    assert est.idx_good.all()
    # the lab's event helper on the denoised traces, threshold in noise units, landing-frame convention
    events = events_from_traces(est.C, derivative="first", event_height_sd=5.0, noise=est.noise)
    by_events = score_cnmfe(est.A, est.C, None, truth, found_events=events)
    assert by_events.spike_recall >= 0.8 and by_events.spike_precision >= 0.8


def test_estimates_conventions(small_fit):
    truth, est = small_fit
    h, w = est.dims
    k_units = est.n_components
    assert est.A.format == "csc" and est.A.shape == (h * w, k_units)
    for arr in (est.C, est.S, est.YrA):
        assert arr.shape == (k_units, truth.n_frames) and arr.dtype == np.float32
    assert est.noise.shape == est.bl.shape == est.snr.shape == est.r_values.shape == (k_units,)
    assert est.g.shape == (k_units, 1) and est.idx_good.dtype == bool
    assert est.corr_image.shape == est.pnr_image.shape == est.b0.shape == (h, w)
    np.testing.assert_allclose(np.asarray(est.A.power(2).sum(axis=0)).ravel(), 1.0, rtol=1e-5)
    score = score_cnmfe(est.A, est.C, est.S, truth)
    for k, j in score.matches:  # pixel index = row * W + col (row-major): peaks sit on the true centres
        peak = np.unravel_index(np.argmax(est.footprint(k)), (h, w))
        assert np.hypot(*(np.array(peak) - truth.centers_px[j])) <= 2.5
    # the b0 image is the bright one-photon background (~60 x vignette), not the neurons
    assert 30 < float(np.median(est.b0)) < 80


def test_quality_rejects_a_displaced_footprint(small_fit):
    truth, est = small_fit
    h, w = est.dims
    movie = render_frames(truth, 0, truth.n_frames).astype(np.float32).reshape(truth.n_frames, -1)
    ynb = movie - movie.mean(axis=0)
    a = est.A[:, :1].toarray()
    shifted = np.roll(a.reshape(h, w), (12, 12), axis=(0, 1)).reshape(-1, 1)
    raw = est.C[:1] + est.YrA[:1] + est.bl[:1, None]
    _, r_good = quality(ynb, a, est.C[:1], raw, (h, w), margin=3)
    _, r_bad = quality(ynb, shifted, est.C[:1], raw, (h, w), margin=3)
    assert r_good[0] > 0.9 > 0.5 > r_bad[0]
    rng = np.random.default_rng(0)
    assert exceptionality_snr(rng.standard_normal(1500)) < 2.5 < exceptionality_snr(raw[0])


@pytest.fixture(scope="module")
def patch_movie():
    return _movie(96, 72, 14, 1200, seed=3, spike_prob=0.02)


def test_acceptance_other_seed_and_size_with_patches(patch_movie):
    truth, movie = patch_movie
    params = CNMFEParams(**TEST_PARAMS, rf=20, stride=10)
    est = fit_cnmfe(ArraySource(movie), params)
    assert len(est.patches) > 4
    score = score_cnmfe(est.A, est.C, est.S, truth, max_distance_px=3)
    _report("96x72x1200 seed 3, patches rf 20", est, score)
    assert score.f1 >= 0.9
    assert score.median_r >= 0.9
    assert score.spike_recall >= 0.8 and score.spike_precision >= 0.8
    assert [k for k in score.unmatched_found if est.snr[k] >= params.min_SNR] == []


def test_executor_gives_the_serial_result(patch_movie):
    truth, movie = patch_movie
    params = CNMFEParams(**TEST_PARAMS, rf=20, stride=10, max_iter=1)
    src = ArraySource(movie[:600])
    serial = fit_cnmfe(src, params)
    seen = []
    with cf.ProcessPoolExecutor(max_workers=2) as pool:
        parallel = fit_cnmfe(src, params, executor=pool, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (len(serial.patches), len(serial.patches))
    assert parallel.n_components == serial.n_components
    assert (parallel.A != serial.A).nnz == 0
    np.testing.assert_array_equal(parallel.C, serial.C)


def test_patches_bound_memory_on_a_600px_field():
    """600 x 600 px: with rf 40 the fit holds one 81 x 81 patch's frames at a time, so its peak allocation
    is a small fraction of the (T, H, W) float32 movie (the source is not counted: in use it is on disk)."""
    frames = 150
    truth, movie = _movie(600, 600, 200, frames, seed=5, spike_prob=0.03)
    params = CNMFEParams(**TEST_PARAMS, rf=40, stride=20, max_iter=1)
    tracemalloc.start()
    try:
        est = fit_cnmfe(ArraySource(movie), params)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    full = frames * 600 * 600 * 4
    print(f"\n[600x600x{frames}] peak traced {peak / 2**20:.1f} MiB vs float32 movie {full / 2**20:.0f} MiB")
    assert len(est.patches) == 100
    assert peak < 0.25 * full
    score = score_cnmfe(est.A, est.C, est.S, truth)
    assert score.precision >= 0.9  # only 150 frames: quiet neurons are missed, but what is found is real
