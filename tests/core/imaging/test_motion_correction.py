"""Motion correction against movies whose motion is known (`ace_core.simulation.calcium`): rigid accuracy,
piecewise-rigid against a known warp, QC, border modes, and that streaming / parallel execution do not
change the result.

Sign convention: the generator displaces tissue content by +d, so the correction should be -d. The template's
own position is arbitrary, so a constant offset (the median difference) is removed before comparing.
"""

from __future__ import annotations

import dataclasses
import functools
import tracemalloc
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from scipy import ndimage

from ace_core import store
from ace_core.imaging import motion as mc
from ace_core.io.frames import ArraySource
from ace_core.simulation.calcium import CalciumMovieSpec, make_truth, render_frames
from ace_core.store.movies import MovieWriter, open_movie

RIGID = mc.MotionCorrectionParams(pw_rigid=False)


@dataclasses.dataclass(frozen=True)
class TruthSource:
    """A FrameSource rendering generated frames on demand (nothing the size of the movie is held)."""

    truth: object

    @property
    def n_frames(self) -> int:
        return self.truth.n_frames

    @property
    def height(self) -> int:
        return self.truth.spec.height_px

    @property
    def width(self) -> int:
        return self.truth.spec.width_px

    def read(self, start: int, stop: int) -> np.ndarray:
        return render_frames(self.truth, start, stop)


@functools.cache
def _movie(n_frames: int = 300, size: int = 128, **overrides):
    spec = CalciumMovieSpec(
        **{"height_px": size, "width_px": size, "n_neurons": int(30 * (size / 128) ** 2), **overrides}
    )
    truth = make_truth(spec, np.full((spec.n_neurons, n_frames), 0.02))
    return truth, render_frames(truth, 0, n_frames)


def _rigid_movie(**overrides):
    return _movie(**{"rigid_motion_px": 4.0, "nonrigid_motion_px": 0.0, **overrides})


def _rigid_rmse(estimate: np.ndarray, truth) -> float:
    diff = estimate + truth.shifts_px  # estimate should be -shifts_px
    diff -= np.median(diff, axis=0)
    return float(np.sqrt(np.mean(diff**2)))


def _local_residual(result: mc.MotionCorrectionResult, truth, margin: int = 16, step: int = 8) -> float:
    """RMS length of (applied correction field - (-true displacement)) on interior grid points over all
    frames, after removing each point's temporal median (the template's own geometry is arbitrary)."""
    h = truth.spec.height_px
    pts = np.arange(margin, h - margin, step)
    true = np.stack([-truth.displacement_field(t)[:, pts][:, :, pts] for t in range(truth.n_frames)])
    if result.patch_shifts is None:
        est = np.broadcast_to(result.rigid_shifts[:, :, None, None], true.shape)
    else:
        ay = mc.geometry.interp_matrix(h, result.patch_centers[:, 0, 0], 3)
        ax = mc.geometry.interp_matrix(h, result.patch_centers[0, :, 1], 3)
        est = np.stack([mc.shift_field(ay, ax, p)[:, pts][:, :, pts] for p in result.patch_shifts])
    diff = est - true
    diff -= np.median(diff, axis=0, keepdims=True)
    return float(np.sqrt(np.mean(np.sum(diff**2, axis=1))))


# ------------------------------------------------------------------------------------------- accuracy


def test_rigid_shifts_match_truth():
    truth, frames = _rigid_movie()
    res = mc.motion_correct(ArraySource(frames), RIGID)
    assert res.rigid_shifts.shape == (300, 2) and res.rigid_shifts.dtype == np.float32
    assert res.patch_shifts is None and res.patch_centers is None
    assert _rigid_rmse(res.rigid_shifts, truth) <= 0.2  # measured 0.08 px (motion up to +-4 px)
    # QC: the corrected mean is sharper and frames correlate better with the template
    assert res.crispness_after > 1.3 * res.crispness_before  # measured 167 -> 243 (x1.46)
    assert res.corr_after.mean() > res.corr_before.mean() + 0.1  # measured 0.70 -> 0.91
    assert res.template.shape == (128, 128) and res.template.dtype == np.float32


def test_strong_sensor_fixed_vignette_does_not_bias_shifts():
    """The vignette does not move with the tissue; a whitened (phase) correlation locks onto it.
    The band-passed plain cross-correlation must not."""
    truth, frames = _rigid_movie(vignette_strength=0.9, seed=5)
    res = mc.motion_correct(ArraySource(frames), RIGID)
    assert _rigid_rmse(res.rigid_shifts, truth) <= 0.2  # measured 0.10 px


def test_dft_subpixel_and_raw_frames_also_work():
    truth, frames = _rigid_movie(seed=3, n_frames=200)
    dft = mc.motion_correct(ArraySource(frames), dataclasses.replace(RIGID, subpixel="dft"))
    assert _rigid_rmse(dft.rigid_shifts, truth) <= 0.2  # measured 0.11 px
    raw = mc.motion_correct(ArraySource(frames), dataclasses.replace(RIGID, gSig_filt=None))
    assert _rigid_rmse(raw.rigid_shifts, truth) <= 0.3  # two-photon style, no band-pass: 0.12 px here


def test_piecewise_rigid_follows_a_known_warp():
    """A smooth 2 px warp on top of 3 px rigid motion: the patch field must follow it where rigid cannot.

    (On the generator's default ~0.7 px warp, piecewise-rigid is no better than rigid: patch estimates
    are only good to ~0.3-0.5 px, as for every peer tool in formats_and_pitfalls.md section 3.)"""
    truth, frames = _movie(size=160, seed=1, rigid_motion_px=3.0, nonrigid_motion_px=2.0)
    source = ArraySource(frames)
    rigid = mc.motion_correct(source, RIGID)
    pw_params = mc.MotionCorrectionParams(strides=(32, 32), overlaps=(32, 32))
    pw = mc.motion_correct(source, pw_params)
    assert pw.patch_shifts.shape == (300, 4, 4, 2) and pw.patch_centers.shape == (4, 4, 2)
    rigid_res, pw_res = _local_residual(rigid, truth), _local_residual(pw, truth)
    assert pw_res < 0.75 * rigid_res  # measured 0.50 vs 1.05 px
    assert pw.crispness_after > pw.crispness_before * 1.2 and pw.crispness_after > rigid.crispness_after
    assert pw.corr_after.mean() > rigid.corr_after.mean() > rigid.corr_before.mean()
    # patch shifts stay within max_deviation_rigid of the frame's rigid shift
    dev = np.abs(pw.patch_shifts - pw.rigid_shifts[:, None, None, :])
    assert dev.max() <= pw_params.max_deviation_rigid + 1e-4


def test_patches_of_a_pure_translation_agree_with_the_rigid_shift():
    _, frames = _rigid_movie(n_frames=120, noise_std=0.0, shot_noise_gain=0.0, n_neurons=0)
    res = mc.motion_correct(
        ArraySource(frames), mc.MotionCorrectionParams(strides=(32, 32), overlaps=(32, 32))
    )
    dev = res.patch_shifts - res.rigid_shifts[:, None, None, :]
    assert np.sqrt(np.mean(dev**2)) < 0.15


# ------------------------------------------------------------------------------------------- resampling


def _smooth_image(h: int = 64, w: int = 80) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (100 + 40 * ndimage.gaussian_filter(rng.standard_normal((h, w)), 3) / 0.05).astype(np.float32)


@pytest.mark.parametrize("opencv", [True, False])
def test_apply_shifts_moves_content_by_the_correction(opencv):
    img = _smooth_image()
    moved = ndimage.shift(img, (1.3, -2.6), order=5, mode="nearest")  # content displaced by d = (1.3, -2.6)
    params = dataclasses.replace(RIGID, shifts_opencv=opencv)
    back = mc.apply_shifts(moved[None], np.array([[-1.3, 2.6]]), params=params)[0]
    assert back.dtype == np.float32
    inner = (slice(8, -8), slice(8, -8))
    assert np.abs(back[inner] - img[inner]).max() < 0.02 * np.ptp(img)


def test_piecewise_apply_with_uniform_patches_equals_rigid():
    img = _smooth_image(96, 96)
    params = mc.MotionCorrectionParams(strides=(32, 32), overlaps=(16, 16))
    centers = mc.patch_centers((96, 96), params)
    shift = np.array([[0.7, -1.2]])
    patches = np.broadcast_to(shift[:, None, None, :], (1, *centers.shape[:2], 2))
    pw = mc.apply_shifts(img[None], shift, patches, centers, params=params)[0]
    rigid = mc.apply_shifts(img[None], shift, params=dataclasses.replace(params, pw_rigid=False))[0]
    inner = (slice(4, -4), slice(4, -4))
    assert np.abs(pw[inner] - rigid[inner]).max() < 0.01 * np.ptp(img)


@pytest.mark.parametrize("opencv", [True, False])
@pytest.mark.parametrize("piecewise", [False, True])
def test_border_modes(opencv, piecewise):
    img = _smooth_image(48, 48)
    shift = np.array([[2.4, -3.2]])  # rows 0-2 and columns 44-47 come from outside the frame
    outside = np.zeros((48, 48), bool)
    outside[:3] = True
    outside[:, 44:] = True
    out = {}
    for mode in ("copy", True, "nan", "zero", "min", False):
        params = mc.MotionCorrectionParams(
            pw_rigid=piecewise, border_nan=mode, shifts_opencv=opencv, strides=(16, 16), overlaps=(8, 8)
        )
        if piecewise:
            centers = mc.patch_centers((48, 48), params)
            patches = np.broadcast_to(shift[:, None, None, :], (1, *centers.shape[:2], 2))
            out[mode] = mc.apply_shifts(img[None], shift, patches, centers, params=params)[0]
        else:
            out[mode] = mc.apply_shifts(img[None], shift, params=params)[0]
    assert np.isfinite(out["copy"]).all() and np.isfinite(out[False]).all()
    np.testing.assert_array_equal(np.isnan(out[True]), outside)
    np.testing.assert_array_equal(np.isnan(out["nan"]), outside)
    assert (out["zero"][outside] == 0).all() and (out["min"][outside] == img.min()).all()
    np.testing.assert_allclose(out["copy"][~outside], out["zero"][~outside], rtol=1e-6)
    # 'copy' replicates the edge: the outside rows are near the first inside row
    assert np.abs(out["copy"][0, :40] - out["copy"][3, :40]).max() < 0.2 * np.ptp(img)


# ------------------------------------------------------------------------------------------- streaming


def test_results_do_not_depend_on_chunking():
    _, frames = _rigid_movie(n_frames=240, seed=2)
    source = ArraySource(frames)
    params = mc.MotionCorrectionParams(strides=(32, 32), overlaps=(32, 32), template_frames=100)
    a = mc.motion_correct(source, dataclasses.replace(params, chunk_frames=50))
    b = mc.motion_correct(source, dataclasses.replace(params, chunk_frames=120))
    np.testing.assert_allclose(a.rigid_shifts, b.rigid_shifts, atol=1e-3)
    np.testing.assert_allclose(a.patch_shifts, b.patch_shifts, atol=1e-3)
    np.testing.assert_allclose(a.mean_after, b.mean_after, rtol=1e-5, atol=1e-3)


def test_parallel_pool_writes_the_same_movie_as_serial(tmp_path):
    truth, frames = _rigid_movie(n_frames=200, seed=4)
    source = ArraySource(frames)
    params = mc.MotionCorrectionParams(
        strides=(32, 32), overlaps=(32, 32), chunk_frames=40, template_frames=80
    )
    results, seen = {}, []
    for name in ("serial", "pool"):
        with MovieWriter(tmp_path / f"{name}.zarr", 200, 128, 128, chunk_frames=params.chunk_frames) as w:
            if name == "pool":
                with ProcessPoolExecutor(2) as pool:
                    results[name] = mc.motion_correct(
                        source,
                        params,
                        out_tmp_path=w.tmp_path,
                        executor=pool,
                        progress=lambda d, t: seen.append((d, t)),
                    )
            else:
                results[name] = mc.motion_correct(source, params, out_tmp_path=w.tmp_path)
    serial = open_movie(tmp_path / "serial.zarr").movie.values
    pooled = open_movie(tmp_path / "pool.zarr").movie.values
    assert serial.dtype == np.float32 and np.isfinite(serial).all()
    np.testing.assert_allclose(pooled, serial, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(results["pool"].rigid_shifts, results["serial"].rigid_shifts, atol=1e-5)
    np.testing.assert_allclose(results["pool"].patch_shifts, results["serial"].patch_shifts, atol=1e-5)
    assert sorted(seen)[-1] == (200, 200) and len(seen) == 5
    # the written movie is the corrected one: its mean is the result's mean_after
    np.testing.assert_allclose(serial.mean(axis=0), results["serial"].mean_after, rtol=1e-5, atol=1e-3)


def test_memory_does_not_grow_with_the_movie():
    def peak(n_frames: int) -> int:
        spec = CalciumMovieSpec(n_neurons=20, rigid_motion_px=3.0, nonrigid_motion_px=0.0)
        source = TruthSource(make_truth(spec, np.full((20, n_frames), 0.02)))
        params = dataclasses.replace(RIGID, chunk_frames=50, template_frames=50)
        tracemalloc.start()
        mc.motion_correct(source, params)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(100), peak(400)
    assert large < 1.25 * small  # 4x the frames; only (T, 2)-sized results grow


# ------------------------------------------------------------------------------------------- API


def test_from_parameters_takes_caiman_names():
    values = {
        "pw_rigid": False,
        "max_shifts": [5, 6],
        "gSig_filt": [3, 3],
        "strides": [40, 40],
        "overlaps": [20, 20],
        "max_deviation_rigid": 3,
        "border_nan": "copy",
        "shifts_opencv": True,
        "chunk_frames": 64,
        "gSig": [7, 7],  # a CNMF-E parameter: ignored
        "line number": 12,
    }
    p = mc.MotionCorrectionParams.from_parameters(values)
    assert (p.pw_rigid, p.max_shifts, p.gSig_filt, p.strides, p.overlaps) == (
        False,
        (5, 6),
        (3, 3),
        (40, 40),
        (20, 20),
    )
    assert (p.max_deviation_rigid, p.border_nan, p.chunk_frames) == (3, "copy", 64)
    assert mc.MotionCorrectionParams.from_parameters({"gSig_filt": None}).gSig_filt is None
    assert mc.MotionCorrectionParams.from_parameters({"border_nan": "TRUE"}).border_mode == "nan"
    assert mc.MotionCorrectionParams.from_parameters({"border_nan": False}).border_mode == "reflect"
    assert mc.MotionCorrectionParams(max_shifts=7).max_shifts == (7, 7)
    with pytest.raises(ValueError):
        mc.MotionCorrectionParams(border_nan="wrap")
    with pytest.raises(ValueError):
        mc.MotionCorrectionParams(strides=(0, 10))


def test_identity_result_and_dataset(tmp_path):
    _, frames = _rigid_movie(n_frames=60, seed=6)
    params = dataclasses.replace(RIGID, chunk_frames=25)
    with MovieWriter(tmp_path / "m.zarr", 60, 128, 128, chunk_frames=25) as w:
        res = mc.identity_result(ArraySource(frames), params, out_tmp_path=w.tmp_path)
    np.testing.assert_array_equal(open_movie(tmp_path / "m.zarr").movie.values, frames.astype(np.float32))
    assert not res.rigid_shifts.any() and np.array_equal(res.corr_before, res.corr_after)
    ds = mc.result_dataset(res, frame_rate_hz=20.0)
    assert ds.rigid_shifts.dims == ("frame", "axis") and ds.template.dims == ("y", "x")
    pw = mc.motion_correct(ArraySource(frames[:60]), mc.MotionCorrectionParams(chunk_frames=30))
    ds = mc.result_dataset(pw, frame_rate_hz=20.0)
    assert ds.patch_shifts.dims == ("frame", "patch_y", "patch_x", "axis")
    assert ds.attrs["crispness_after"] == pytest.approx(pw.crispness_after)
    store.write_dataset(ds, tmp_path / "shifts.zarr")  # storable as a product
    assert store.open_dataset(tmp_path / "shifts.zarr").patch_shifts.shape == pw.patch_shifts.shape
