"""Synthetic one-photon (UCLA Miniscope-like) calcium movies whose ground truth is known.

This is the movie half of the test-data generator: motion correction, CNMF-E source extraction and phase
locking are validated against the truth written here, so every quantity that shapes a frame is kept in
`CalciumTruth` and the movie is a deterministic function of it.

Forward model for frame t (images are (H, W), 8-bit grey units):

    tissue_t = background * background_trace[t] + neuron_brightness * sum_k traces[k, t] * footprints[k]
    warped_t(y, x) = tissue_t(y - dy_t(y, x), x - dx_t(y, x))          # moves with the brain
    signal_t = vignette * warped_t                                        # fixed to the sensor
    frame_t = clip(round(signal_t + N(0, noise_std**2 + shot_noise_gain * signal_t)), 0, 255)

Like real one-photon data the bright, smooth, tissue-fixed background (~60 of 255, with dark blood vessels)
dominates; neurons are small increments on it (one isolated spike adds `neuron_brightness * spike_amplitude`
= 40 at the footprint peak, against ~4 of noise). The vignette does not move with the tissue, which is what
biases motion estimators that do not high-pass the frames.

Memory is bounded: frames are rendered chunk by chunk from cropped footprints (float32, ~chunk*H*W*4 bytes);
nothing the size of (T, H, W) float is allocated. Randomness comes from independent streams
`default_rng([seed, stream])`, and the noise of frame t from `default_rng([seed, stream, t])`, so the pixels
do not depend on how the movie is chunked, and changing `spike_prob` does not change footprints, motion or
noise.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, optimize, signal

__all__ = [
    "CalciumMovieSpec",
    "CalciumTruth",
    "NonrigidWarp",
    "calcium_kernel",
    "iter_frame_chunks",
    "kernel_time_constants_s",
    "make_truth",
    "render_frames",
    "simulate_spikes",
]

# Independent random streams: np.random.default_rng([seed, stream]) (noise: [seed, stream, frame]).
_STREAM_NEURONS = 1
_STREAM_SPIKES = 2
_STREAM_BACKGROUND = 3
_STREAM_BACKGROUND_TRACE = 4
_STREAM_RIGID = 5
_STREAM_NONRIGID = 6
_STREAM_VIGNETTE = 7
_STREAM_NOISE = 8

_FOOTPRINT_TRUNCATION = 3.0  # footprints are zero beyond 3 (Mahalanobis) sigmas
_CLOSE_PAIR_FRACTION = 0.1  # this fraction of neurons is planted 1-1.5 radii from another (overlapping pairs)
_NONRIGID_COMPONENTS = 2  # spatial sinusoids per displacement axis


@dataclass(frozen=True)
class CalciumMovieSpec:
    """Parameters of one synthetic movie. Brightness and noise are in 8-bit grey units (0-255).

    Attributes
    ----------
    height_px, width_px, n_neurons, neuron_radius_px, n_vessels, frame_rate_hz, seed
        Frame size (px), neurons and their radius (px), blood vessels, frame rate (Hz), random seed.
    decay_time_s, rise_time_s, spike_amplitude
        The calcium kernel's decay time constant and time to peak (s); the peak of an isolated spike's
        trace (traces are dimensionless).
    baseline_brightness, background_modulation, neuron_brightness
        Mean background; relative excursion of its bleaching and drift; a neuron's pixel increment is
        ``neuron_brightness * trace * footprint``, footprints peaking at 1.
    noise_std, shot_noise_gain
        Gaussian read noise plus shot noise of variance ``shot_noise_gain * signal`` (Gaussian
        approximation of Poisson with ``1 / shot_noise_gain`` photons per grey level).
    vignette_strength, rigid_motion_px, nonrigid_motion_px
        Fractional sensor-fixed illumination fall-off at the frame corners; bounds of |rigid shift| and
        of |warp| per axis (px).
    """

    height_px: int = 128
    width_px: int = 128
    n_neurons: int = 20
    frame_rate_hz: float = 20.0
    neuron_radius_px: float = 5.0
    decay_time_s: float = 0.4
    rise_time_s: float = 0.05
    spike_amplitude: float = 1.0
    baseline_brightness: float = 60.0
    background_modulation: float = 0.15
    neuron_brightness: float = 40.0
    noise_std: float = 3.0
    shot_noise_gain: float = 0.1
    vignette_strength: float = 0.3
    n_vessels: int = 3
    rigid_motion_px: float = 3.0
    nonrigid_motion_px: float = 0.7
    seed: int = 0

    def __post_init__(self) -> None:
        """Check every value: ValueError names each one out of range."""
        problems = []
        if self.height_px < 1 or self.width_px < 1:
            problems.append(f"frame size must be positive, got {self.height_px}x{self.width_px}")
        if self.n_neurons < 0 or self.n_vessels < 0:
            problems.append("n_neurons and n_vessels must be >= 0")
        if not self.frame_rate_hz > 0 or not self.neuron_radius_px > 0:
            problems.append("frame_rate_hz and neuron_radius_px must be > 0")
        if not 0 < self.rise_time_s < self.decay_time_s:
            problems.append(
                f"need 0 < rise_time_s < decay_time_s, got {self.rise_time_s} and {self.decay_time_s}"
            )
        if not 0 <= self.background_modulation < 1 or not 0 <= self.vignette_strength < 1:
            problems.append("background_modulation and vignette_strength must be in [0, 1)")
        nonneg = "spike_amplitude baseline_brightness neuron_brightness noise_std shot_noise_gain".split()
        nonneg += ["rigid_motion_px", "nonrigid_motion_px"]
        problems += [f"{name} must be >= 0" for name in nonneg if not getattr(self, name) >= 0]
        if problems:
            raise ValueError("CalciumMovieSpec: " + "; ".join(problems))


@dataclass(frozen=True, eq=False)
class NonrigidWarp:
    """Smooth sinusoidal warp: d_a(y, x, t) = sum_m amplitudes_px[t, a, m] * sin(2 pi k_am.(y, x) + phase_am).

    Axis a is 0 for rows (dy) and 1 for columns (dx). Wavelengths are about the field of view, so the warp
    is smooth across the frame but different in each corner (what a piecewise-rigid correction must see).
    |amplitudes_px[t, a, :]|.sum() <= nonrigid_motion_px, so |d_a| never exceeds it.
    """

    wavevectors_cyc_per_px: np.ndarray  # (2, M, 2): axis, component, (k_row, k_col)
    phases_rad: np.ndarray  # (2, M)
    amplitudes_px: np.ndarray  # (T, 2, M), slow in time

    def basis(self, height_px: int, width_px: int) -> np.ndarray:
        """(2, M, H, W) float32 unit sinusoids of a ``height_px`` x ``width_px`` frame (once per chunk)."""
        rows, cols = np.indices((height_px, width_px), dtype=np.float64)
        k = self.wavevectors_cyc_per_px
        arg = 2 * np.pi * (k[..., 0, None, None] * rows + k[..., 1, None, None] * cols)
        return np.sin(arg + self.phases_rad[..., None, None]).astype(np.float32)

    def field(self, t: int, height_px: int, width_px: int) -> np.ndarray:
        """(2, H, W) non-rigid displacement (dy, dx) (px) at frame ``t``."""
        return _warp_from_basis(self.amplitudes_px[t], self.basis(height_px, width_px))


@dataclass(frozen=True, eq=False)
class CalciumTruth:
    """Everything that made the movie; `render_frames(truth, ...)` is a deterministic function of it.

    Geometry: `footprints`, `centers_px` and `background` are in the tissue (template) frame, before motion.
    `background` is tissue-fixed (it moves); `vignette` is sensor-fixed (it does not) and multiplies
    everything, so a CNMF-E footprint estimate is `footprints * vignette` up to scale, a near-constant factor
    over one neuron.

    Sign convention: `frame_t(y, x) = tissue_t(y - dy, x - dx)` with
    (dy, dx) = `displacement_field(t)[:, y, x]`, i.e. tissue content moves by +(dy, dx); a motion correction
    should estimate the negated displacement. The field is defined on the frame (sensor) grid, so a tissue
    point p appears at the frame point q solving q = p + d(q) (q = p + shift when rigid). `shifts_px` is
    its rigid part only; the non-rigid part has a non-zero spatial mean, see `effective_rigid_shifts_px`.
    A border of ceil(max |displacement|) px shows mirrored tissue (mode 'reflect') and is not ground truth.

    Timing: a spike counted in frame t happens at the start of that frame's interval and frame values sample
    the middle of the interval, so the response starts in the spike's own frame (as in AR deconvolution
    models).
    """

    spec: CalciumMovieSpec
    n_frames: int
    footprints: np.ndarray  # (N, H, W) float32, peak 1, zero beyond 3 sigmas
    centers_px: np.ndarray  # (N, 2) float64 (row, col), sub-pixel
    spikes: np.ndarray  # (N, T) uint8 spike counts per frame
    kernel: np.ndarray  # (K,) float64 calcium kernel, sampled peak 1
    traces: np.ndarray  # (N, T) float32, spike_amplitude * (spikes convolved causally with kernel)
    background: np.ndarray  # (H, W) float32 tissue-fixed one-photon background, mean baseline_brightness
    background_trace: np.ndarray  # (T,) float64 multiplicative: bleaching times slow drift
    vignette: np.ndarray  # (H, W) float32 sensor-fixed multiplicative gain, 1 at its centre
    shifts_px: np.ndarray  # (T, 2) float64 rigid tissue displacement (dy, dx)
    nonrigid: NonrigidWarp

    def displacement_field(self, t: int) -> np.ndarray:
        """(2, H, W) float32 total tissue displacement (dy, dx) (px) at frame ``t``: rigid + non-rigid."""
        h, w = self.spec.height_px, self.spec.width_px
        field = self.nonrigid.field(t, h, w)
        field += self.shifts_px[t].astype(np.float32)[:, None, None]
        return field

    def effective_rigid_shifts_px(self) -> np.ndarray:
        """(T, 2) spatial mean of the total displacement per frame (px): what ideal rigid estimation finds."""
        basis_mean = self.nonrigid.basis(self.spec.height_px, self.spec.width_px).mean(axis=(2, 3))
        return self.shifts_px + np.einsum("tam,am->ta", self.nonrigid.amplitudes_px, basis_mean)

    def tissue_image(self, t: int) -> np.ndarray:
        """(H, W) float32 tissue at frame t before motion, vignette and noise (bit-identical to rendering)."""
        return _tissue_chunk(self, t, t + 1)[0]


# ---------------------------------------------------------------------------------------------- activity


def simulate_spikes(spike_prob: np.ndarray, seed: int | Sequence[int]) -> np.ndarray:
    """Bernoulli spikes from per-frame probabilities shaped by the caller (e.g. LFP-phase locking).

    Parameters
    ----------
    spike_prob, seed
        (N, T) probabilities in [0, 1]; the seed of the random generator.

    Returns
    -------
    numpy.ndarray
        (N, T) uint8 0/1 spikes: the ground-truth spike train carries exactly that modulation.

    Raises
    ------
    ValueError
        If ``spike_prob`` is not 2-D or holds values outside [0, 1].
    """
    prob = np.asarray(spike_prob, dtype=np.float64)
    if prob.ndim != 2:
        raise ValueError(f"spike_prob must be (N, T), got shape {prob.shape}")
    if not np.all((prob >= 0) & (prob <= 1)):
        raise ValueError("spike_prob must be finite probabilities in [0, 1]")
    rng = np.random.default_rng(seed)
    return (rng.random(prob.shape) < prob).astype(np.uint8)


def kernel_time_constants_s(rise_time_s: float, decay_time_s: float) -> tuple[float, float]:
    """(tau_rise_s, tau_decay_s) of ``exp(-t/tau_d) - exp(-t/tau_r)`` whose peak is at ``rise_time_s``.

    Useful to compare with an AR(2) fit of the traces (CNMF-E / OASIS deconvolution). ``tau_decay_s`` is
    ``decay_time_s``; ValueError unless ``0 < rise_time_s < decay_time_s``.
    """
    if not 0 < rise_time_s < decay_time_s:
        raise ValueError(f"need 0 < rise_time_s < decay_time_s, got {rise_time_s} and {decay_time_s}")
    tau_d = float(decay_time_s)

    def time_to_peak(tau_r: float) -> float:  # increases from 0 to tau_d on (0, tau_d)
        return tau_r * tau_d / (tau_d - tau_r) * np.log(tau_d / tau_r) - rise_time_s

    tau_r = optimize.brentq(time_to_peak, tau_d * 1e-12, tau_d * (1 - 1e-9), xtol=1e-15, rtol=1e-12)
    return float(tau_r), tau_d


def calcium_kernel(
    frame_rate_hz: float, rise_time_s: float, decay_time_s: float, length_s: float | None = None
) -> np.ndarray:
    """Double-exponential calcium response to one spike, sampled at frame centres, sampled peak 1.

    Sample k is at (k + 0.5) / frame_rate_hz after the spike (spikes at the start of their frame).

    Parameters
    ----------
    frame_rate_hz, rise_time_s, decay_time_s
        Frame rate (Hz); time to peak and decay time constant (s).
    length_s
        Kernel length (s); default: where the kernel has fallen to ~1e-3 of its peak.

    Returns
    -------
    numpy.ndarray
        (K,) float64.
    """
    tau_r, tau_d = kernel_time_constants_s(rise_time_s, decay_time_s)
    if length_s is None:
        length_s = rise_time_s + tau_d * np.log(1e3)
    n = max(1, int(np.ceil(length_s * frame_rate_hz)))
    t_s = (np.arange(n) + 0.5) / frame_rate_hz
    kernel = np.exp(-t_s / tau_d) - np.exp(-t_s / tau_r)
    return kernel / kernel.max()


def _traces(spikes: np.ndarray, kernel: np.ndarray, amplitude: float) -> np.ndarray:
    if spikes.size == 0:
        return np.zeros(spikes.shape, np.float32)
    conv = signal.lfilter(kernel, [1.0], spikes.astype(np.float64), axis=1)
    return (amplitude * conv).astype(np.float32)


# ------------------------------------------------------------------------------------------ spatial truth


def _place_centers(spec: CalciumMovieSpec, rng: np.random.Generator) -> np.ndarray:
    """Centres >= 2 radii apart, except ~10 % planted 1-1.5 radii from another so overlapping pairs exist."""
    n, r = spec.n_neurons, spec.neuron_radius_px
    lo = np.array([r, r])
    hi = np.array([spec.height_px - 1 - r, spec.width_px - 1 - r])
    if np.any(hi <= lo):  # frame smaller than a neuron: use all of it
        lo, hi = np.zeros(2), np.array([spec.height_px - 1.0, spec.width_px - 1.0])
    close = np.zeros(n, bool)
    if n >= 2:
        n_close = max(1, int(round(_CLOSE_PAIR_FRACTION * n)))
        close[rng.choice(np.arange(1, n), size=n_close, replace=False)] = True
    centers = np.empty((n, 2))
    min_dist = 2 * r
    for i in range(n):
        failures = 0
        while True:
            want_close = close[i] and failures < 100
            if want_close:
                angle = rng.uniform(0, 2 * np.pi)
                anchor = centers[rng.integers(i)]
                cand = anchor + rng.uniform(1.0, 1.5) * r * np.array([np.sin(angle), np.cos(angle)])
                need = r
            else:
                cand = rng.uniform(lo, hi)
                need = min_dist
            inside = np.all(cand >= lo) and np.all(cand <= hi)
            dists = np.hypot(*(centers[:i] - cand).T) if i else np.array([np.inf])
            if inside and (dists.min() >= need or min_dist < 0.25 * r):
                centers[i] = cand
                break
            failures += 1
            if not want_close and failures % 100 == 0:  # crowded frame: relax spacing
                min_dist *= 0.8
    return centers


def _footprints(spec: CalciumMovieSpec, centers: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Anisotropic Gaussians, sigma ~ radius/2 (random eccentricity and orientation), truncated, peak 1."""
    h, w, r = spec.height_px, spec.width_px, spec.neuron_radius_px
    out = np.zeros((len(centers), h, w), np.float32)
    for k, (cy, cx) in enumerate(centers):
        s_major = 0.5 * r * rng.uniform(1.0, 1.3)
        s_minor = 0.5 * r * rng.uniform(0.7, 1.0)
        theta = rng.uniform(0, np.pi)
        half = int(np.ceil(_FOOTPRINT_TRUNCATION * s_major)) + 1
        r0, r1 = max(0, int(cy) - half), min(h, int(cy) + half + 2)
        c0, c1 = max(0, int(cx) - half), min(w, int(cx) + half + 2)
        yy, xx = np.meshgrid(np.arange(r0, r1) - cy, np.arange(c0, c1) - cx, indexing="ij")
        u = xx * np.cos(theta) + yy * np.sin(theta)
        v = -xx * np.sin(theta) + yy * np.cos(theta)
        q2 = (u / s_major) ** 2 + (v / s_minor) ** 2
        patch = np.where(q2 <= _FOOTPRINT_TRUNCATION**2, np.exp(-0.5 * q2), 0.0)
        out[k, r0:r1, c0:c1] = patch / patch.max()
    return out


def _unit_field(rng: np.random.Generator, shape: tuple[int, int], sigma_px: float) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma_px, mode="reflect")
    std = field.std()
    return field / std if std > 0 else field


def _tissue_background(spec: CalciumMovieSpec, rng: np.random.Generator) -> np.ndarray:
    """Bright diffuse neuropil/out-of-focus glow: coarse gradient + neuron-scale texture, darkened along
    a few curved blood vessels (the high-frequency landmarks that move with the tissue)."""
    h, w, r = spec.height_px, spec.width_px, spec.neuron_radius_px
    size = max(h, w)
    bg = 1 + 0.15 * _unit_field(rng, (h, w), size / 4) + 0.08 * _unit_field(rng, (h, w), 2 * r)
    rows, cols = np.indices((h, w), dtype=np.float64)
    for _ in range(spec.n_vessels):
        py, px = rng.uniform(0, h), rng.uniform(0, w)
        theta = rng.uniform(0, np.pi)
        bend_px, wavelength_px = rng.uniform(2, max(2.0, 0.08 * size)), rng.uniform(0.5, 1.5) * size
        width_px, depth = rng.uniform(1.0, 2.5), rng.uniform(0.2, 0.45)
        along = (cols - px) * np.cos(theta) + (rows - py) * np.sin(theta)
        across = -(cols - px) * np.sin(theta) + (rows - py) * np.cos(theta)
        offset = across - bend_px * np.sin(2 * np.pi * along / wavelength_px + rng.uniform(0, 2 * np.pi))
        bg *= 1 - depth * np.exp(-0.5 * (offset / width_px) ** 2)
    bg = np.clip(bg, 0.3, None)
    return (spec.baseline_brightness * bg / bg.mean()).astype(np.float32)


def _vignette(spec: CalciumMovieSpec, rng: np.random.Generator) -> np.ndarray:
    """Sensor-fixed quadratic fall-off (1 at a slightly off-centre optical axis, ~1 - strength at corners)."""
    h, w = spec.height_px, spec.width_px
    cy = (h - 1) / 2 + rng.uniform(-0.05, 0.05) * h
    cx = (w - 1) / 2 + rng.uniform(-0.05, 0.05) * w
    rows, cols = np.indices((h, w), dtype=np.float64)
    r2 = ((rows - cy) ** 2 + (cols - cx) ** 2) / max(((h - 1) / 2) ** 2 + ((w - 1) / 2) ** 2, 1.0)
    return np.clip(1 - spec.vignette_strength * r2, 0.0, None).astype(np.float32)


# ----------------------------------------------------------------------------------------------- time


def _smooth_unit_noise(rng: np.random.Generator, n: int, sigma_frames: float) -> np.ndarray:
    """Gaussian-low-passed white noise with unit stationary std (normalised by the filter, not the sample,
    so short movies are not inflated)."""
    white = rng.standard_normal(n)
    if n == 0 or sigma_frames < 0.5:
        return white
    radius = int(4 * sigma_frames + 0.5)
    g = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    g /= g.sum()
    return ndimage.gaussian_filter1d(white, sigma_frames, mode="reflect") / np.sqrt(np.sum(g**2))


def _background_trace(spec: CalciumMovieSpec, n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """Global multiplicative time course: bleaching by modulation/3 over the recording times a slow
    (~5 s) drift of at most 2/3 modulation; total excursion stays within +-background_modulation."""
    m = spec.background_modulation
    frac = np.arange(n_frames) / max(n_frames - 1, 1)
    bleach = (1 - m / 3) ** frac
    drift = (2 * m / 3) * np.tanh(_smooth_unit_noise(rng, n_frames, 5.0 * spec.frame_rate_hz))
    return bleach * (1 + drift)


def _rigid_shifts(spec: CalciumMovieSpec, n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """Per axis: fast (0.2 s) jitter plus slow (2 s) wander, soft-clipped with tanh to +-rigid_motion_px."""
    fr = spec.frame_rate_hz
    shifts = np.empty((n_frames, 2))
    for axis in range(2):
        fast = _smooth_unit_noise(rng, n_frames, 0.2 * fr)
        z = 0.6 * fast + 0.8 * _smooth_unit_noise(rng, n_frames, 2.0 * fr)
        shifts[:, axis] = spec.rigid_motion_px * np.tanh(z / 1.5)
    return shifts


def _nonrigid_warp(spec: CalciumMovieSpec, n_frames: int, rng: np.random.Generator) -> NonrigidWarp:
    m = _NONRIGID_COMPONENTS
    size = max(spec.height_px, spec.width_px)
    wavelength_px = rng.uniform(0.7, 1.5, size=(2, m)) * size
    direction = rng.uniform(0, 2 * np.pi, size=(2, m))
    k = np.stack([np.sin(direction), np.cos(direction)], axis=-1) / wavelength_px[..., None]
    phases = rng.uniform(0, 2 * np.pi, size=(2, m))
    weights = rng.uniform(0.55, 0.8, size=2)
    weights = np.stack([weights, 1 - weights], axis=-1)  # (2, m) for m == 2; each axis sums to 1
    amplitudes = np.empty((n_frames, 2, m))
    for a in range(2):
        for c in range(m):
            course = np.tanh(_smooth_unit_noise(rng, n_frames, 1.0 * spec.frame_rate_hz))
            amplitudes[:, a, c] = spec.nonrigid_motion_px * weights[a, c] * course
    return NonrigidWarp(wavevectors_cyc_per_px=k, phases_rad=phases, amplitudes_px=amplitudes)


def _warp_from_basis(amplitudes: np.ndarray, basis: np.ndarray) -> np.ndarray:
    field = np.zeros(basis.shape[:1] + basis.shape[2:], np.float32)
    for a in range(basis.shape[0]):
        for c in range(basis.shape[1]):
            if amplitudes[a, c] != 0:
                field[a] += np.float32(amplitudes[a, c]) * basis[a, c]
    return field


# ------------------------------------------------------------------------------------------------ truth


def make_truth(spec: CalciumMovieSpec, spike_prob: np.ndarray) -> CalciumTruth:
    """Draw footprints, spikes, background, vignette and motion for a movie of ``spike_prob.shape[1]`` frames.

    Parameters
    ----------
    spec, spike_prob
        The movie, and its (n_neurons, T) spike probability per frame, supplied by the caller, who injects
        the LFP-phase locking into it.

    Returns
    -------
    CalciumTruth
        Its arrays are read-only.

    Raises
    ------
    ValueError
        If ``spike_prob`` does not have one row per neuron.
    """
    prob = np.asarray(spike_prob, dtype=np.float64)
    if prob.ndim != 2 or prob.shape[0] != spec.n_neurons:
        raise ValueError(f"spike_prob must be (n_neurons={spec.n_neurons}, T), got shape {prob.shape}")
    n_frames = prob.shape[1]

    def stream(i: int) -> np.random.Generator:
        return np.random.default_rng([spec.seed, i])

    rng = stream(_STREAM_NEURONS)
    centers = _place_centers(spec, rng)
    footprints = _footprints(spec, centers, rng)
    spikes = simulate_spikes(prob, seed=[spec.seed, _STREAM_SPIKES])
    kernel = calcium_kernel(spec.frame_rate_hz, spec.rise_time_s, spec.decay_time_s)
    truth = CalciumTruth(
        spec=spec,
        n_frames=n_frames,
        footprints=footprints,
        centers_px=centers,
        spikes=spikes,
        kernel=kernel,
        traces=_traces(spikes, kernel, spec.spike_amplitude),
        background=_tissue_background(spec, stream(_STREAM_BACKGROUND)),
        background_trace=_background_trace(spec, n_frames, stream(_STREAM_BACKGROUND_TRACE)),
        vignette=_vignette(spec, stream(_STREAM_VIGNETTE)),
        shifts_px=_rigid_shifts(spec, n_frames, stream(_STREAM_RIGID)),
        nonrigid=_nonrigid_warp(spec, n_frames, stream(_STREAM_NONRIGID)),
    )
    for record in (truth, truth.nonrigid):  # the truth is a record; tests must not edit it by accident
        for value in vars(record).values():
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
    return truth


# ---------------------------------------------------------------------------------------------- render


def _footprint_boxes(footprints: np.ndarray, which: np.ndarray) -> list[tuple[int, slice, slice, np.ndarray]]:
    """Cropped (neuron, rows, cols, patch) for the neurons `which` that have any support."""
    boxes = []
    for k in which:
        fp = footprints[k]
        rows, cols = np.flatnonzero(fp.any(axis=1)), np.flatnonzero(fp.any(axis=0))
        if rows.size:
            box = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
            boxes.append((k, *box, fp[box]))
    return boxes


def _tissue_chunk(truth: CalciumTruth, start: int, stop: int) -> np.ndarray:
    """(stop-start, H, W) float32 tissue before motion. Element-wise per frame and per neuron in a fixed
    order (no BLAS), so each frame is bit-identical whatever the chunking."""
    spec = truth.spec
    bg_gain = truth.background_trace[start:stop].astype(np.float32)
    tissue = truth.background[None] * bg_gain[:, None, None]
    traces = truth.traces[:, start:stop] * np.float32(spec.neuron_brightness)
    active = np.flatnonzero(np.any(traces != 0, axis=1))
    for k, rows, cols, patch in _footprint_boxes(truth.footprints, active):
        tissue[:, rows, cols] += traces[k][:, None, None] * patch[None]
    return tissue


def render_frames(truth: CalciumTruth, start: int, stop: int, *, interpolation_order: int = 1) -> np.ndarray:
    """Frames ``[start, stop)`` as uint8 (stop-start, H, W); see the module docstring for the forward model.

    Cost is dominated by ``map_coordinates`` (order 1: bilinear; order 3 is ~2x slower and sharper).
    Peak memory ~ (stop-start) * H * W * 5 bytes plus a few (H, W) frames.

    Parameters
    ----------
    truth, start, stop
        The movie's truth and the frames (ValueError unless ``0 <= start <= stop <= n_frames``).
    interpolation_order
        Spline order of the motion resampling.

    Returns
    -------
    numpy.ndarray
    """
    if not 0 <= start <= stop <= truth.n_frames:
        raise ValueError(f"need 0 <= start <= stop <= {truth.n_frames}, got [{start}, {stop})")
    spec = truth.spec
    h, w = spec.height_px, spec.width_px
    out = np.empty((stop - start, h, w), np.uint8)
    if stop == start:
        return out
    tissue = _tissue_chunk(truth, start, stop)
    shifts = truth.shifts_px[start:stop]
    amps = truth.nonrigid.amplitudes_px[start:stop]
    rigid_moves, warp_moves = bool(np.any(shifts != 0)), bool(np.any(amps != 0))
    if rigid_moves or warp_moves:
        grid = np.indices((h, w), dtype=np.float32)
        basis = truth.nonrigid.basis(h, w) if warp_moves else None
    read_var = np.float32(spec.noise_std**2)
    gain = np.float32(spec.shot_noise_gain)
    noisy = spec.noise_std > 0 or spec.shot_noise_gain > 0
    vignette = truth.vignette
    for i in range(stop - start):
        frame = tissue[i]
        if rigid_moves or warp_moves:
            coords = grid - shifts[i].astype(np.float32)[:, None, None]
            if basis is not None:
                coords -= _warp_from_basis(amps[i], basis)
            frame = ndimage.map_coordinates(
                frame, coords, order=interpolation_order, mode="reflect", output=np.float32
            )
        frame = frame * vignette
        if noisy:
            rng = np.random.default_rng([spec.seed, _STREAM_NOISE, start + i])
            std = np.sqrt(read_var + gain * np.maximum(frame, 0)) if gain > 0 else np.sqrt(read_var)
            frame += rng.standard_normal((h, w), dtype=np.float32) * std
        np.clip(np.rint(frame), 0, 255, out=frame)
        out[i] = frame
    return out


def iter_frame_chunks(truth: CalciumTruth, chunk_frames: int = 200) -> Iterator[np.ndarray]:
    """Iterate over the movie as uint8 chunks of at most ``chunk_frames`` frames (ValueError if < 1).

    Yields
    ------
    numpy.ndarray
        (n, H, W) uint8, in order (for streaming writers).
    """
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
    for start in range(0, truth.n_frames, chunk_frames):
        yield render_frames(truth, start, min(start + chunk_frames, truth.n_frames))
