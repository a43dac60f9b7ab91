"""Multitaper spectrogram (ace_core.signal.spectrogram), checked against the section 3.9 formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal

from ace_core.signal.spectrogram import Spectrogram, decimate_for_spectrogram, multitaper_spectrogram


def _one_window_reference(w: np.ndarray, fs: float, nfft: int, tw: float, k: int) -> np.ndarray:
    """Plain loop over tapers for one window, one-sided PSD over all rfft bins (linear detrend)."""
    w = scipy.signal.detrend(w, type="linear")
    tapers = scipy.signal.windows.dpss(w.size, tw, Kmax=k)
    power = np.zeros(nfft // 2 + 1)
    for taper in tapers:
        power += np.abs(np.fft.rfft(w * taper, nfft)) ** 2 / k
    power[1:-1] *= 2
    return power / fs


def test_shapes_times_freqs_30fps_example():
    fs = 30.0
    x = np.random.default_rng(0).standard_normal(int(600 * fs))
    s = multitaper_spectrogram(x, fs, freq_lims_hz=(0.0, 15.0))
    # Nw = 900, Ns = 90, nfft = 1024, df = 30/1024 = 0.0293 Hz, K = 3
    n_windows = (x.size - 900) // 90 + 1
    assert s.psd.shape == (513, n_windows) == (513, 191)
    np.testing.assert_allclose(s.f_hz, np.arange(513) * 30.0 / 1024)
    assert s.f_hz[1] == pytest.approx(0.0293, abs=1e-4) and s.f_hz[-1] == 15.0
    np.testing.assert_allclose(s.t_s, (np.arange(n_windows) * 90 + 450) / fs)
    assert s.t_s[0] == 15.0 and s.t_s[1] == 18.0
    # every column equals an explicit per-window computation (doubling, / fs, unity weights)
    for j in (0, 77, n_windows - 1):
        ref = _one_window_reference(x[j * 90 : j * 90 + 900], fs, 1024, 2.0, 3)
        np.testing.assert_allclose(s.psd[:, j], ref, rtol=1e-10, atol=1e-14)
    db = s.psd_db
    np.testing.assert_allclose(db, 10 * np.log10(s.psd))


def test_freq_limits_and_min_nfft():
    fs = 100.0
    x = np.random.default_rng(1).standard_normal(int(120 * fs))
    s = multitaper_spectrogram(x, fs, window_length_s=10.0, window_step_s=5.0, freq_lims_hz=(5.0, 20.0))
    df = fs / 1024
    assert s.f_hz[0] >= 5.0 and s.f_hz[0] - df < 5.0 and s.f_hz[-1] <= 20.0 and s.f_hz[-1] + df > 20.0
    s2 = multitaper_spectrogram(x, fs, window_length_s=10.0, min_nfft=3000, freq_lims_hz=(0, 1000))
    assert s2.f_hz[1] == pytest.approx(fs / 4096) and s2.f_hz[-1] == 50.0  # capped at Nyquist


def test_sine_peaks_at_f0_in_every_window():
    fs = 100.0
    t = np.arange(int(300 * fs)) / fs
    nfft = 4096  # window 30 s = 3000 samples
    f0 = 410 * fs / nfft  # exactly on a bin
    s = multitaper_spectrogram(np.sin(2 * np.pi * f0 * t), fs)
    assert (s.f_hz[np.argmax(s.psd, axis=0)] == f0).all()
    # power of a unit sine (1/2) is recovered
    np.testing.assert_allclose(s.psd.sum(axis=0) * fs / nfft, 0.5, rtol=1e-3)
    # off-bin frequency: the peak stays within the multitaper half-bandwidth W = TW / L
    s = multitaper_spectrogram(np.sin(2 * np.pi * 10.0 * t), fs)
    assert np.abs(s.f_hz[np.argmax(s.psd, axis=0)] - 10.0).max() <= 2.0 / 30.0


@pytest.mark.parametrize("detrend", ["off", "constant", "linear"])
def test_white_noise_psd_integrates_to_variance(detrend):
    fs, sigma = 200.0, 3.0
    x = sigma * np.random.default_rng(2).standard_normal(int(600 * fs))
    s = multitaper_spectrogram(
        x, fs, window_length_s=10.0, window_step_s=10.0, freq_lims_hz=(0, 100), detrend=detrend
    )
    df = s.f_hz[1] - s.f_hz[0]
    per_window = s.psd.sum(axis=0) * df
    assert per_window.mean() == pytest.approx(sigma**2, rel=0.02)
    assert np.mean(s.psd[1:-1]) == pytest.approx(2 * sigma**2 / fs, rel=0.02)  # flat one-sided level


def test_nan_window_gives_nan_column_and_zero_window_zeros():
    fs = 30.0
    x = np.random.default_rng(3).standard_normal(int(300 * fs))
    x[3000] = np.nan
    x[6000:7000] = 0.0
    s = multitaper_spectrogram(x, fs, freq_lims_hz=(0, 15))
    starts = np.arange(s.t_s.size) * 90
    hit = (starts <= 3000) & (3000 < starts + 900)
    zero = (starts >= 6000) & (starts + 900 <= 7000)
    assert hit.any() and zero.any()
    assert np.isnan(s.psd[:, hit]).all()
    assert np.isfinite(s.psd[:, ~hit]).all()
    assert (s.psd[:, zero] == 0).all()


def test_non_integer_fs():
    fs = 19.98
    x = np.random.default_rng(4).standard_normal(20_000)
    with pytest.warns(UserWarning) as record:
        s = multitaper_spectrogram(x, fs, window_step_s=3.0)
    messages = " ".join(str(w.message) for w in record)
    assert "window_length_s" in messages and "window_step_s" in messages
    # Nw = round(599.4) = 599, Ns = round(59.94) = 60, nfft = 1024, true fs (not int(fs) = 19)
    n_windows = (x.size - 599) // 60 + 1
    assert s.psd.shape == (513, n_windows)
    np.testing.assert_allclose(s.f_hz, np.arange(513) * fs / 1024)
    np.testing.assert_allclose(s.t_s, (np.arange(n_windows) * 60 + round(599 / 2)) / fs)
    ref = _one_window_reference(x[60:659], fs, 1024, 2.0, 3)
    np.testing.assert_allclose(s.psd[:, 1], ref, rtol=1e-10)


def test_errors():
    x = np.zeros(100)
    with pytest.raises(ValueError, match="window_length"):
        multitaper_spectrogram(x, 30.0)
    with pytest.raises(ValueError, match="detrend"):
        multitaper_spectrogram(np.zeros(2000), 30.0, detrend="quadratic")
    with pytest.raises(ValueError, match="taper"):
        multitaper_spectrogram(np.zeros(2000), 30.0, time_bandwidth=0.9)
    with pytest.raises(ValueError, match="freq_lims_hz"):
        multitaper_spectrogram(np.zeros(2000), 30.0, freq_lims_hz=(20, 30))


def test_decimate_keeps_slow_sine_and_removes_alias():
    fs = 1000.0
    t = np.arange(int(120 * fs)) / fs
    slow = np.sin(2 * np.pi * 2.0 * t)
    x = slow + np.sin(2 * np.pi * 303.0 * t)  # 303 Hz would alias to 3 Hz at 20 Hz sampling
    x[int(60 * fs) : int(61 * fs)] = np.nan
    y, fs_new = decimate_for_spectrogram(x, fs, max_freq_hz=5.0)
    q = 50  # floor(1000 / (4 * 5))
    assert fs_new == fs / q and y.size == math.ceil(x.size / q)
    gap = slice(60 * 20, 61 * 20)
    assert np.isnan(y[gap]).all()
    ok = np.isfinite(y)
    assert ok.sum() == y.size - 20
    inner = np.r_[10 * 20 : 50 * 20, 70 * 20 : 110 * 20]
    # within the anti-alias filter's pass-band ripple (Chebyshev I 0.05 dB, forward-backward: 1.2 %)
    np.testing.assert_allclose(y[inner], slow[::q][inner], atol=0.012)
    # the spectrogram of the decimated signal peaks at 2 Hz
    s = multitaper_spectrogram(np.where(ok, y, 0.0)[: 59 * 20], fs_new, freq_lims_hz=(0, 5))
    assert np.abs(s.f_hz[np.argmax(s.psd, axis=0)] - 2.0).max() <= 2.0 / 30.0
    assert isinstance(s, Spectrogram)
    # no decimation needed
    y2, fs2 = decimate_for_spectrogram(x, fs, max_freq_hz=200.0)
    assert fs2 == fs and np.array_equal(y2, x, equal_nan=True)
