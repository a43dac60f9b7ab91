"""Calcium-trace deconvolution with an autoregressive model: OASIS (Friedrich, Zhou & Paninski 2017).

Written from the paper (no code taken from the OASIS or CaImAn repositories, which are GPL). Model, for a
fluorescence trace y (T,) with baseline b and white noise of std sn:

    y_t = b + c_t + noise,      c_t = g_1 c_{t-1} + ... + g_p c_{t-p} + s_t,      s_t >= 0 (spikes)

`oasis` solves   min_c 1/2 ||c - (y - b)||^2 + lam * sum_t s_t   subject to   s_t = 0 or s_t >= s_min
with the pool-adjacent-violators scheme of the paper: the trace is a sequence of *pools* (stretches with no
spike, c following the AR decay from a free start value); a new sample starts a pool, and while the jump into
the last pool is below `s_min` (0: negative) that pool is merged with the previous one, whose start value is
then the least-squares optimum. For AR(1) and s_min = 0 this is the exact solution of the convex problem
(the non-negative least squares it replaces, see the tests); a positive `s_min` is the paper's thresholded
variant (a greedy solution of the non-convex L0-like problem that removes the small spurious spikes an L1
penalty leaves). AR(2) uses the paper's extension: a pool's trace is v h_k + g_2 c_prev h_{k-1} with h the
AR(2) impulse response and c_prev the last value of the previous pool (greedy: within 2 % of the optimal
residual in the tests). Checked against the `oasis-deconv` package (GPL-3.0, evaluated, not a dependency):
identical traces for AR(1) with and without s_min, identical objective for AR(2).

The baseline is found by alternating deconvolution and b = median(y - c) (noise is symmetric, the events are
in c). Noise: `noise_std` takes the median of the periodogram over the upper half of the band (0.25-0.5 of
the sampling rate), where slow calcium signals have little power (Pnevmatikakis et al. 2016); traces with
large, sharp transients have broadband power, so `deconvolve` then re-estimates the noise from the
residual of its own fit (robust std). AR coefficients: for AR(1) from the decay time when given
(g = exp(-1 / (decay_time * fr))); otherwise from the autocovariance at lags >= 1 (lag 0 carries the noise
variance), as in Pnevmatikakis et al. 2016, with the decay time as the fallback when that fit fails.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Deconvolved",
    "ar_coefficients",
    "deconvolve",
    "estimate_ar_coefficients",
    "noise_std",
    "oasis",
]

_LN2 = float(np.log(2.0))


def noise_std(y: np.ndarray, *, axis: int = -1, band: tuple[float, float] = (0.25, 0.5)) -> np.ndarray:
    """White-noise std of each trace from its periodogram over ``band``.

    The median of the periodogram bins is used (divided by ln 2: the bins of white noise are exponential),
    so a few bins carrying signal (sharp rises) do not inflate the estimate.

    Parameters
    ----------
    y
        Traces, time along ``axis``.
    axis
        Time axis.
    band
        Frequency band, as fractions of the sampling rate.

    Returns
    -------
    numpy.ndarray
        Noise std of each trace (the plain std for traces shorter than 8 samples).
    """
    x = np.moveaxis(np.asarray(y, dtype=np.float32), axis, -1)
    n = x.shape[-1]
    if n < 8:
        return np.sqrt(np.var(x, axis=-1))
    spec = np.fft.rfft(x - x.mean(axis=-1, keepdims=True), axis=-1)
    freqs = np.fft.rfftfreq(n)
    sel = (freqs > band[0]) & (freqs <= band[1])
    if not np.any(sel):
        sel = freqs > 0
    power = np.abs(spec[..., sel]) ** 2 / n
    return np.sqrt(np.median(power, axis=-1) / _LN2).astype(np.float64)


def ar_coefficients(
    p: int, decay_time_s: float, frame_rate_hz: float, rise_time_s: float | None = None
) -> np.ndarray:
    """AR(p) coefficients of ``exp(-t/decay)`` (p=1) or ``exp(-t/decay) - exp(-t/rise)`` (p=2) sampled at fr.

    Parameters
    ----------
    p
        AR order, 0-2.
    decay_time_s
        Decay time (s).
    frame_rate_hz
        Frame rate (Hz).
    rise_time_s
        Rise time (s) for p = 2; None: one frame.

    Returns
    -------
    numpy.ndarray
        (p,) coefficients.

    Raises
    ------
    ValueError
        If p is not 0, 1 or 2.
    """
    if p == 0:
        return np.zeros(0)
    d = np.exp(-1.0 / (decay_time_s * frame_rate_hz))
    if p == 1:
        return np.array([d])
    if p == 2:
        rise = rise_time_s if rise_time_s is not None else 1.0 / frame_rate_hz
        r = np.exp(-1.0 / (rise * frame_rate_hz))
        return np.array([d + r, -d * r])
    raise ValueError(f"AR order p must be 0, 1 or 2, got {p}")


def _stable(g: np.ndarray) -> bool:
    if g.size == 0:
        return True
    roots = np.roots(np.r_[1.0, -g])
    return bool(np.all(np.abs(roots) < 1) and np.all(np.isreal(roots)) and np.all(np.real(roots) > 0))


def estimate_ar_coefficients(
    y: np.ndarray, p: int, sn: float | None = None, lags: int = 5
) -> np.ndarray | None:
    """AR(p) coefficients from the sample autocovariance at lags 1..p+lags.

    Yule-Walker without lag 0, whose value holds the noise variance.

    Parameters
    ----------
    y
        (T,) trace.
    p
        AR order.
    sn
        Noise std; None: :func:`noise_std`.
    lags
        Extra lags in the least-squares fit.

    Returns
    -------
    numpy.ndarray or None
        (p,) coefficients; None if the fit is not a stable, non-oscillating decay or the trace is too short.
    """
    y = np.asarray(y, dtype=np.float64)
    if p == 0:
        return np.zeros(0)
    if sn is None:
        sn = float(noise_std(y))
    x = y - y.mean()
    n = x.size
    maxlag = p + lags
    if n <= maxlag + 2:
        return None
    spec = np.fft.rfft(x, 2 * n)
    acov = np.fft.irfft(np.abs(spec) ** 2)[: maxlag + 1] / n
    acov[0] -= sn**2
    rows = np.arange(1, maxlag + 1)
    design = np.array([[acov[abs(k - j)] for j in range(1, p + 1)] for k in rows])
    g, *_ = np.linalg.lstsq(design, acov[rows], rcond=None)
    return g if _stable(g) else None


# ------------------------------------------------------------------------------------------------- OASIS


def _oasis_ar1(y: list[float], g: float, s_min: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pools (value at start, start index, length) for AR(1)."""
    n_t = len(y)
    gp = [1.0] * (n_t + 1)
    for k in range(1, n_t + 1):
        gp[k] = gp[k - 1] * g
    v: list[float] = []
    w: list[float] = []
    t: list[int] = []
    ln: list[int] = []
    for k in range(n_t):
        v.append(y[k])
        w.append(1.0)
        t.append(k)
        ln.append(1)
        # merge while the jump into the last pool is below s_min (s_min = 0: a negative spike)
        while len(v) > 1 and v[-1] < gp[ln[-2]] * v[-2] + s_min:
            gl = gp[ln[-2]]
            wl, vl = w.pop(), v.pop()
            ll = ln.pop()
            t.pop()
            wn = w[-1] + gl * gl * wl
            v[-1] = (w[-1] * v[-1] + gl * wl * vl) / wn
            w[-1] = wn
            ln[-1] += ll
    if v and v[0] < 0:
        v[0] = 0.0
    return np.asarray(v), np.asarray(t, dtype=np.int64), np.asarray(ln, dtype=np.int64)


def _ar2_response(g1: float, g2: float, n: int) -> np.ndarray:
    h = np.empty(n + 1)
    h[0] = 1.0
    if n >= 1:
        h[1] = g1
    for k in range(2, n + 1):
        h[k] = g1 * h[k - 1] + g2 * h[k - 2]
    return h


def _oasis_ar2(y: np.ndarray, g1: float, g2: float, s_min: float) -> np.ndarray:
    """Denoised trace for AR(2). Pool i starts at t_i with free value v_i; inside it
    c_{t_i+k} = v_i h_k + g2 c_{t_i-1} h_{k-1} (exact AR(2) propagation, h the impulse response), so a pool's
    least-squares v_i needs only the previous pool's last value. Pools are merged while the spike opening the
    last pool, v_i - g1 c_{t_i-1} - g2 c_{t_i-2}, is below s_min."""
    n_t = y.size
    h = _ar2_response(g1, g2, n_t)
    hh = np.concatenate([[0.0], np.cumsum(h[:n_t] ** 2)])  # hh[l] = sum_{k<l} h_k^2
    hh1 = np.concatenate([[0.0], np.cumsum(np.r_[0.0, h[1:n_t] * h[: n_t - 1]])])  # sum_{1<=k<l} h_k h_{k-1}

    def fit(t0: int, ln: int, prev: float) -> float:
        return (float(np.dot(h[:ln], y[t0 : t0 + ln])) - g2 * prev * hh1[ln]) / hh[ln]

    def tail(v: float, ln: int, prev: float) -> tuple[float, float]:
        last = v * h[ln - 1] + (g2 * prev * h[ln - 2] if ln >= 2 else 0.0)
        if ln >= 2:
            return last, v * h[ln - 2] + (g2 * prev * h[ln - 3] if ln >= 3 else 0.0)
        return last, prev

    starts: list[int] = []
    lens: list[int] = []
    vals: list[float] = []
    prevs: list[float] = []
    tails: list[tuple[float, float]] = []
    for k in range(n_t):
        prev = tails[-1][0] if tails else 0.0
        v = float(y[k])
        starts.append(k)
        lens.append(1)
        vals.append(v)
        prevs.append(prev)
        tails.append(tail(v, 1, prev))
        while len(vals) > 1:
            c1, c2 = tails[-2]
            if vals[-1] >= g1 * c1 + g2 * c2 + s_min:
                break
            ln = lens.pop()
            starts.pop()
            vals.pop()
            prevs.pop()
            tails.pop()
            lens[-1] += ln
            vals[-1] = fit(starts[-1], lens[-1], prevs[-1])
            tails[-1] = tail(vals[-1], lens[-1], prevs[-1])
        if len(vals) == 1 and vals[0] < 0:
            vals[0] = 0.0
            tails[0] = tail(0.0, lens[0], 0.0)
    c = np.empty(n_t)
    for v0, t0, ln, prev in zip(vals, starts, lens, prevs, strict=True):
        seg = v0 * h[:ln]
        if ln >= 2:
            seg[1:] += g2 * prev * h[: ln - 1]
        c[t0 : t0 + ln] = seg
    return c


def oasis(
    y: np.ndarray, g: np.ndarray | float, *, lam: float = 0.0, s_min: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Denoised trace c and spikes s of y (baseline already removed) under AR(len(g)) (module docstring).

    Parameters
    ----------
    y
        (T,) trace, baseline removed.
    g
        AR coefficients, one (AR(1)) or two (AR(2)).
    lam
        L1 penalty on the spikes (an exact shift of y).
    s_min
        Smallest spike; 0: plain non-negativity.

    Returns
    -------
    c, s : numpy.ndarray
        (T,) each. ``s[0]`` is 0 by convention: a trace that starts mid-transient is not an event at frame 0.

    Raises
    ------
    ValueError
        For other than one or two coefficients.
    """
    y = np.asarray(y, dtype=np.float64)
    g = np.atleast_1d(np.asarray(g, dtype=np.float64))
    n_t = y.size
    if n_t == 0:
        return np.zeros(0), np.zeros(0)
    if lam:
        # lam * sum(s) is linear in c (sum(s) = (1 - sum g) sum_t c_t + end terms): an exact shift of y
        shift = np.full(n_t, lam * (1 - g.sum()))
        if g.size == 2 and n_t >= 2:
            shift[-2] = lam * (1 - g[0])
        shift[-1] = lam
        y = y - shift
    if g.size == 1:
        v, t0, ln = _oasis_ar1(y.tolist(), float(g[0]), float(s_min))
        idx = np.arange(n_t) - np.repeat(t0, ln)
        c = np.repeat(v, ln) * float(g[0]) ** idx
    elif g.size == 2:
        c = _oasis_ar2(y, float(g[0]), float(g[1]), float(s_min))
        c = np.maximum(c, 0.0)
    else:
        raise ValueError(f"OASIS supports AR(1) and AR(2), got {g.size} coefficients")
    s = np.zeros(n_t)
    s[1:] = c[1:] - g[0] * c[:-1]
    if g.size == 2:
        s[2:] -= g[1] * c[:-2]
    s[s < 1e-9 * max(1.0, float(np.abs(c).max(initial=0.0)))] = 0.0
    return c, s


@dataclass(frozen=True)
class Deconvolved:
    """Result of :func:`deconvolve`: y ~ b + c + noise, c the AR(p) calcium trace driven by spikes s.

    Attributes
    ----------
    c, s
        (T,) calcium trace and spikes.
    b
        Baseline.
    g
        (p,) AR coefficients used.
    sn
        Noise std (re-estimated from the fit's residual when it was not given).
    """

    c: np.ndarray
    s: np.ndarray
    b: float
    g: np.ndarray
    sn: float


def deconvolve(
    y: np.ndarray,
    *,
    p: int = 1,
    g: np.ndarray | None = None,
    decay_time_s: float | None = None,
    frame_rate_hz: float | None = None,
    sn: float | None = None,
    s_min: float | None = None,
    s_min_sd: float = 0.0,
    lam: float = 0.0,
    baseline_iters: int = 3,
) -> Deconvolved:
    """Deconvolve one trace: AR coefficients, baseline and noise are estimated unless given.

    AR coefficients, when ``g`` is None: for p = 1 from the decay time when given; otherwise from the
    autocovariance (:func:`estimate_ar_coefficients`), falling back on the decay time, or on 0.4 s at 20 Hz
    when there is none.

    Parameters
    ----------
    y
        (T,) raw trace.
    p
        AR order; 0 means no deconvolution (c = y - b clipped at 0, s = c, b the median).
    g
        AR coefficients; None: estimated as above.
    decay_time_s, frame_rate_hz
        Decay time (s) and frame rate (Hz) of the prior.
    sn
        Noise std; None: :func:`noise_std`, then refined from the residual of the fit.
    s_min
        Smallest spike in units of y; None means ``s_min_sd * sn``.
    s_min_sd
        Smallest spike in noise SDs when ``s_min`` is None.
    lam
        L1 penalty, as :func:`oasis`.
    baseline_iters
        Alternations of deconvolution and ``b = median(y - c)``.

    Returns
    -------
    Deconvolved
    """
    y = np.asarray(y, dtype=np.float64)
    refine_sn = sn is None
    if sn is None:
        sn = float(noise_std(y))
    if g is None:
        g = _choose_g(y, p, sn, decay_time_s, frame_rate_hz)
    g = np.atleast_1d(np.asarray(g, dtype=np.float64))[:p] if p else np.zeros(0)
    if p == 0:
        b = float(np.median(y))
        c = np.maximum(y - b, 0.0)
        return Deconvolved(c=c, s=c.copy(), b=b, g=g, sn=sn)
    b = float(np.percentile(y, 15)) if y.size else 0.0
    c = s = np.zeros_like(y)
    for it in range(max(1, baseline_iters)):
        smin = float(s_min) if s_min is not None else float(s_min_sd) * sn
        c, s = oasis(y - b, g, lam=lam, s_min=smin)
        resid = y - c
        b = float(np.median(resid))
        if refine_sn and it < baseline_iters - 1:
            # the periodogram overestimates the noise of traces with sharp, large transients (their power is
            # broadband); the residual of the fit is close to white noise, so its robust std replaces it
            sn = float(1.4826 * np.median(np.abs(resid - b))) or sn
    return Deconvolved(c=c, s=s, b=b, g=g, sn=sn)


def _choose_g(
    y: np.ndarray, p: int, sn: float, decay_time_s: float | None, frame_rate_hz: float | None
) -> np.ndarray:
    if p == 0:
        return np.zeros(0)
    have_prior = decay_time_s is not None and frame_rate_hz is not None and decay_time_s > 0
    if p == 1 and have_prior:
        return ar_coefficients(1, float(decay_time_s), float(frame_rate_hz))
    est = estimate_ar_coefficients(y, p, sn)
    if est is not None:
        return est
    if have_prior:
        return ar_coefficients(p, float(decay_time_s), float(frame_rate_hz))
    return ar_coefficients(p, 0.4, 20.0) if p else np.zeros(0)
