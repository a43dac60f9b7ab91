"""Synthetic LFP/EEG with a known slow oscillation phase, for ground-truth tests.

x(t) = a(t) * cos(phi(t)) + pink (1/f) noise, where phi(t) integrates a slowly drifting frequency around
`freq_hz`. phi is the truth that the Hilbert phase of the band-passed signal should recover (the
Hilbert phase of cos(phi) is phi).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OscillationSpec:
    """The shared slow oscillation of a simulated experiment.

    Attributes
    ----------
    freq_hz
        Mean frequency (Hz).
    amplitude_uv
        Mean amplitude (µV).
    freq_drift
        Relative, slow (sub-0.05 Hz) wander of the instantaneous frequency.
    amplitude_drift
        Relative slow wander of the envelope.
    phase0_rad
        Phase at t = 0 (rad).
    """

    freq_hz: float = 1.5
    amplitude_uv: float = 200.0
    freq_drift: float = 0.05  # relative, slow (sub-0.05 Hz) wander of the instantaneous frequency
    amplitude_drift: float = 0.2  # relative slow wander of the envelope
    phase0_rad: float = 0.0


def _slow_noise(rng: np.random.Generator, t_s: np.ndarray, corner_hz: float) -> np.ndarray:
    """Smooth zero-mean unit-ish noise: a few random sinusoids below `corner_hz`."""
    freqs = rng.uniform(0.1, 1.0, 4) * corner_hz
    phases = rng.uniform(0, 2 * np.pi, 4)
    out = np.zeros_like(t_s)
    for f, p in zip(freqs, phases, strict=True):
        out += np.sin(2 * np.pi * f * t_s + p)
    return out / 2.0


def oscillation_phase(spec: OscillationSpec, t_s: np.ndarray, seed: int) -> np.ndarray:
    """True unwrapped phase phi(t) (rad) of the oscillation at times ``t_s`` (same seed -> same phase).

    The instantaneous frequency is f0 * (1 + drift * w(t)) with w a sum of slow sinusoids; its integral is
    taken in closed form so the phase does not depend on the sampling grid.

    Parameters
    ----------
    spec
        The oscillation.
    t_s
        Times (s).
    seed
        Seed of the frequency wander.

    Returns
    -------
    numpy.ndarray
        Phase (rad), shaped like ``t_s``.
    """
    rng = np.random.default_rng([seed, 101])
    freqs = rng.uniform(0.1, 1.0, 4) * 0.02
    phases = rng.uniform(0, 2 * np.pi, 4)
    integral = np.zeros_like(t_s, dtype=np.float64)
    for f, p in zip(freqs, phases, strict=True):
        integral += (np.cos(p) - np.cos(2 * np.pi * f * t_s + p)) / (2 * np.pi * f)
    return spec.phase0_rad + 2 * np.pi * spec.freq_hz * (t_s + spec.freq_drift * integral / 2.0)


def oscillation_envelope(spec: OscillationSpec, t_s: np.ndarray, seed: int) -> np.ndarray:
    """Amplitude a(t) (µV) of the oscillation at times ``t_s``: a slow wander around ``amplitude_uv``.

    Parameters
    ----------
    spec
        The oscillation.
    t_s
        Times (s).
    seed
        Seed of the wander (same seed -> same envelope).

    Returns
    -------
    numpy.ndarray
        Amplitude (µV), shaped like ``t_s``.
    """
    rng = np.random.default_rng([seed, 102])
    return spec.amplitude_uv * (1.0 + spec.amplitude_drift * _slow_noise(rng, t_s, 0.05))


def pink_noise(
    n: int, fs_hz: float, rms_uv: float, rng: np.random.Generator, f_min_hz: float = 0.1
) -> np.ndarray:
    """1/f-power noise with the given RMS (flat below ``f_min_hz`` so the DC does not blow up).

    Parameters
    ----------
    n
        Number of samples.
    fs_hz
        Sampling rate (Hz).
    rms_uv
        RMS of the result (µV).
    rng
        Random generator.
    f_min_hz
        Corner frequency (Hz) below which the spectrum is flat.

    Returns
    -------
    numpy.ndarray
        (n,) noise (µV), zero mean.
    """
    if n == 0:
        return np.zeros(0)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / fs_hz)
    spec /= np.sqrt(np.maximum(f, f_min_hz))
    spec[0] = 0.0
    x = np.fft.irfft(spec, n)
    return x * (rms_uv / (x.std() or 1.0))


def synth_lfp(
    t_s: np.ndarray,
    fs_hz: float,
    spec: OscillationSpec,
    *,
    seed: int,
    noise_rms_uv: float = 60.0,
    gain: float = 1.0,
    phase_offset_rad: float = 0.0,
    noise_seed: int = 0,
) -> np.ndarray:
    """LFP samples (µV) at times ``t_s``: scaled/shifted copy of the shared oscillation plus own pink noise.

    Parameters
    ----------
    t_s
        Sample times (s).
    fs_hz
        Sampling rate (Hz), for the noise spectrum.
    spec
        The shared oscillation.
    seed
        Seed of the experiment (the oscillation's phase and envelope).
    noise_rms_uv
        RMS of this channel's pink noise (µV).
    gain
        Scale of the oscillation in this channel.
    phase_offset_rad
        Phase shift of the oscillation in this channel (rad).
    noise_seed
        Seed of this channel's noise, so channels sharing the oscillation get different noise.

    Returns
    -------
    numpy.ndarray
        Samples (µV), shaped like ``t_s``.
    """
    phi = oscillation_phase(spec, t_s, seed) + phase_offset_rad
    rng = np.random.default_rng([seed, 200 + noise_seed])
    return gain * oscillation_envelope(spec, t_s, seed) * np.cos(phi) + pink_noise(
        t_s.size, fs_hz, noise_rms_uv, rng
    )
