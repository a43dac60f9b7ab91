"""Threshold artifact removal (ace_core.signal.artifacts), reference semantics of section 2 item 4."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from ace_core.signal.artifacts import remove_artifacts

FS = 1000.0


def _baseline(n: int, seed: int = 0) -> np.ndarray:
    return 100.0 * np.random.default_rng(seed).standard_normal(n)  # well below 1500 uV


def test_isolated_artifact_zeroed_with_single_taper():
    x = _baseline(20_000)
    x[10_000:10_050] = 5000.0
    mean = x.mean()
    r = remove_artifacts(x, FS)
    centred = x - mean
    assert r.n_artifacts == 1
    assert r.mask.sum() == 50 and r.mask[10_000:10_050].all()
    assert r.fraction_masked == pytest.approx(50 / 20_000)
    assert (r.signal_uv[10_000:10_050] == 0).all()
    w = 1.0 - scipy.signal.windows.hann(75, sym=True)  # w[37] = 0 at the centre
    # ramp factor w[37 + d] at distance d (not w^2: applied once)
    d = np.arange(1, 38)
    np.testing.assert_allclose(r.signal_uv[10_049 + d], centred[10_049 + d] * w[37 + d])  # right ramp
    np.testing.assert_allclose(r.signal_uv[10_000 - d], centred[10_000 - d] * w[37 + d])  # left ramp
    # beyond 37 samples nothing changes
    np.testing.assert_array_equal(r.signal_uv[: 10_000 - 37], centred[: 10_000 - 37])
    np.testing.assert_array_equal(r.signal_uv[10_050 + 37 :], centred[10_050 + 37 :])


def test_ramp_shape_on_constant_signal():
    x = np.full(2000, 10.0)
    x[1000] = 9000.0
    r = remove_artifacts(x, FS, subtract_mean=False, taper_samples=75)
    w = 1.0 - scipy.signal.windows.hann(75, sym=True)
    # around one masked sample the gain profile is exactly the inverted Hann window (once, not squared)
    np.testing.assert_allclose(r.signal_uv[1000 - 37 : 1000 + 38] / 10.0, w)
    assert (r.signal_uv[: 1000 - 37] == 10.0).all() and (r.signal_uv[1000 + 38 :] == 10.0).all()


def test_close_artifacts_merged_far_ones_not():
    fs = 100.0
    x = _baseline(int(300 * fs))
    x[1000] = -4000.0
    x[1000 + int(59 * fs)] = 4000.0  # 59 s later: merged with the first
    x[25_000] = 4000.0  # ~180 s later: separate
    r = remove_artifacts(x, fs)
    assert r.n_artifacts == 2
    assert r.mask[1000 : 1000 + int(59 * fs) + 1].all()
    assert (r.signal_uv[1000 : 1000 + int(59 * fs) + 1] == 0).all()
    assert r.mask[25_000] and r.mask.sum() == int(59 * fs) + 2
    r2 = remove_artifacts(x, fs, merge_s=10.0)
    assert r2.n_artifacts == 3 and r2.mask.sum() == 3


def test_no_artifacts_only_mean_removed():
    x = _baseline(5000) + 700.0
    r = remove_artifacts(x, FS)
    assert r.n_artifacts == 0 and not r.mask.any() and r.fraction_masked == 0.0
    np.testing.assert_allclose(r.signal_uv, x - x.mean())
    r2 = remove_artifacts(x, FS, subtract_mean=False)
    np.testing.assert_array_equal(r2.signal_uv, x)
    assert r2.signal_uv is not x


def test_nan_gap_preserved_and_not_artifact():
    x = _baseline(10_000) + 200.0
    x[3000:4000] = np.nan
    x[6000:6010] = 3000.0
    r = remove_artifacts(x, FS)
    assert np.isnan(r.signal_uv[3000:4000]).all()
    assert not r.mask[3000:4000].any()
    assert np.isfinite(r.signal_uv[:3000]).all() and np.isfinite(r.signal_uv[4000:]).all()
    finite = np.isfinite(x)
    mean = x[finite].mean()  # nanmean
    np.testing.assert_allclose(r.signal_uv[:2000], x[:2000] - mean)
    assert r.n_artifacts == 1 and r.mask.sum() == 10
    assert r.fraction_masked == pytest.approx(10 / 9000)


def test_merge_across_nan_gap_keeps_nan():
    x = _baseline(10_000)
    x[2000:2100] = np.nan
    x[1990] = 5000.0
    x[2110] = 5000.0
    r = remove_artifacts(x, FS)
    assert r.n_artifacts == 1
    assert np.isnan(r.signal_uv[2000:2100]).all() and not r.mask[2000:2100].any()
    assert (r.signal_uv[1990:2000] == 0).all() and (r.signal_uv[2100:2111] == 0).all()


def test_validation():
    with pytest.raises(ValueError, match="threshold_uv"):
        remove_artifacts(np.zeros(10), FS, threshold_uv=0)
    with pytest.raises(ValueError, match="taper_samples"):
        remove_artifacts(np.zeros(10), FS, taper_samples=-1)
    with pytest.raises(ValueError, match="1-D"):
        remove_artifacts(np.zeros((2, 10)), FS)


def test_overlapping_ramps_use_nearest_artifact_once():
    # Older upstream versions multiplied overlapping windows repeatedly; the nearest masked sample decides.
    x = np.full(3000, 10.0)
    x[[1000, 1020]] = 9000.0
    r = remove_artifacts(x, FS, merge_s=0.0, subtract_mean=False)
    assert r.n_artifacts == 2
    w = 1.0 - scipy.signal.windows.hann(75, sym=True)
    i = np.arange(960, 1060)
    d = np.minimum(np.abs(i - 1000), np.abs(i - 1020))
    expected = np.where(d <= 37, 10.0 * w[37 + np.minimum(d, 37)], 10.0)
    np.testing.assert_allclose(r.signal_uv[i], expected)


@pytest.mark.parametrize("taper", [0, 1, 2, 4])
def test_short_or_even_tapers(taper):
    x = np.full(200, 10.0)
    x[100] = 9000.0
    r = remove_artifacts(x, FS, subtract_mean=False, taper_samples=taper)
    assert r.signal_uv[100] == 0 and r.signal_uv[0] == 10.0
    if taper == 4:  # w = 1 - hann(4) = [1, .25, .25, 1]: d = 1 -> w[3] = 1, so only the artifact changes
        assert (r.signal_uv[np.arange(200) != 100] == 10.0).all()
