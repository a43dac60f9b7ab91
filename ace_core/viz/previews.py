"""Small PNG previews of products, for people to look at in the Dagster UI.

Figures are kept small (they are embedded in the event log as base64): a few tens of kB.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

_DPI = 72


def _to_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=_DPI)
    plt.close(fig)
    return buf.getvalue()


def _decimate_for_plot(t: np.ndarray, y: np.ndarray, max_points: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    step = max(1, y.size // max_points)
    return t[::step], y[::step]


def traces_png(
    t_s: np.ndarray,
    traces: Sequence[np.ndarray],
    labels: Sequence[str],
    *,
    title: str,
    ylabel: str,
    window_s: tuple[float, float] | None = None,
    markers: Sequence[tuple[float, str]] = (),
) -> bytes:
    """Stacked line plots sharing a time axis (optionally zoomed to a window), with labelled event markers.

    Parameters
    ----------
    t_s
        Time of each sample (s).
    traces
        One array per panel, each as long as ``t_s`` (decimated to about 4000 points for plotting).
    labels
        Panel titles, one per trace.
    title, ylabel
        Figure title and y-axis label.
    window_s
        ``(start, stop)`` (s) to show; None: everything.
    markers
        ``(time (s), label)`` of events drawn as vertical lines.

    Returns
    -------
    bytes
        PNG image.
    """
    fig, axes = plt.subplots(len(traces), 1, figsize=(7, 1.4 + 1.2 * len(traces)), sharex=True, squeeze=False)
    for ax, y, label in zip(axes[:, 0], traces, labels, strict=True):
        t, yy = np.asarray(t_s), np.asarray(y)
        if window_s is not None:
            sel = (t >= window_s[0]) & (t <= window_s[1])
            t, yy = t[sel], yy[sel]
        t, yy = _decimate_for_plot(t, yy)
        ax.plot(t, yy, lw=0.7)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_title(label, fontsize=8, loc="left")
        ax.tick_params(labelsize=7)
        for t_m, label in markers:
            ax.axvline(t_m, color="r", lw=0.8)
            ax.text(t_m, ax.get_ylim()[1], f" {label}"[:28], color="r", fontsize=6, va="top", rotation=90)
    axes[0, 0].figure.suptitle(title, fontsize=9)
    axes[-1, 0].set_xlabel("time (s)", fontsize=8)
    return _to_png(fig)


def spectrogram_png(
    t_s: np.ndarray,
    f_hz: np.ndarray,
    psd_db: np.ndarray,
    *,
    title: str,
    markers: Sequence[tuple[float, str]] = (),
) -> bytes:
    """Time-frequency image in dB with a robust colour range (5th-99.5th percentile), and labelled markers.

    Parameters
    ----------
    t_s, f_hz
        Window centres (s) and frequencies (Hz).
    psd_db
        (n_freqs, n_windows) power (dB).
    title
        Figure title.
    markers
        ``(time (s), label)`` of events drawn as vertical lines.

    Returns
    -------
    bytes
        PNG image.
    """
    fig, ax = plt.subplots(figsize=(7, 3))
    finite = psd_db[np.isfinite(psd_db)]
    vmin, vmax = np.percentile(finite, [5, 99.5]) if finite.size else (None, None)
    mesh = ax.pcolormesh(t_s, f_hz, psd_db, shading="nearest", vmin=vmin, vmax=vmax, cmap="magma")
    fig.colorbar(mesh, ax=ax, label="power (dB)")
    for t_m, label in markers:
        ax.axvline(t_m, color="c", lw=0.8)
        ax.text(
            t_m, f_hz[-1] if len(f_hz) else 0, f" {label}"[:28], color="c", fontsize=6, va="top", rotation=90
        )
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_ylabel("frequency (Hz)", fontsize=8)
    ax.set_title(title, fontsize=9)
    return _to_png(fig)


def frame_clock_png(
    t_ca_im_s: np.ndarray, interpolated: np.ndarray, frame_rate_hz: float, *, title: str
) -> bytes:
    """Inter-frame interval over the recording, filled frames highlighted.

    Parameters
    ----------
    t_ca_im_s
        Frame times (s).
    interpolated
        Bool per frame: filled over a TTL gap.
    frame_rate_hz
        Nominal frame rate (Hz), drawn as the nominal period.
    title
        Figure title.

    Returns
    -------
    bytes
        PNG image.
    """
    fig, ax = plt.subplots(figsize=(7, 2.6))
    if t_ca_im_s.size > 1:
        dt_ms = np.diff(t_ca_im_s) * 1e3
        idx = np.arange(dt_ms.size)
        ax.plot(idx, dt_ms, lw=0.6, label="interval")
        filled = np.flatnonzero(interpolated[1:])
        if filled.size:
            ax.plot(filled, dt_ms[filled], "r.", ms=3, label="filled over a TTL gap")
        ax.axhline(1e3 / frame_rate_hz, color="k", ls=":", lw=0.8, label="nominal period")
        ax.legend(fontsize=7, loc="upper right")
    ax.set_xlabel("frame", fontsize=8)
    ax.set_ylabel("inter-frame interval (ms)", fontsize=8)
    ax.set_title(title, fontsize=9)
    return _to_png(fig)


def event_raster_png(times_s: np.ndarray, labels: np.ndarray, *, title: str) -> bytes:
    """TTL edge rate over time plus the experiment events as labelled lines.

    Parameters
    ----------
    times_s
        Event times (s).
    labels
        Event labels; those starting with "TTL Input" are counted as edges, the others drawn as lines.
    title
        Figure title.

    Returns
    -------
    bytes
        PNG image.
    """
    fig, ax = plt.subplots(figsize=(7, 2.6))
    is_ttl = np.char.startswith(labels.astype(str), "TTL Input")
    ttl = times_s[is_ttl]
    if ttl.size:
        bins = np.arange(np.floor(ttl.min()), np.ceil(ttl.max()) + 1.0, 1.0)
        if bins.size > 1:
            counts, _ = np.histogram(ttl, bins=bins)
            ax.step(bins[:-1], counts, where="post", lw=0.7, label="TTL edges / s")
    for t, lab in zip(times_s[~is_ttl], labels[~is_ttl], strict=True):
        ax.axvline(t, color="r", lw=0.7)
        ax.text(t, ax.get_ylim()[1] * 0.9, str(lab)[:24], rotation=90, fontsize=6, va="top")
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_ylabel("edges / s", fontsize=8)
    ax.set_title(title, fontsize=9)
    return _to_png(fig)


def phase_png(
    phase_rad: np.ndarray, signal: np.ndarray, t_s: np.ndarray, *, title: str, window_s: float = 10.0
) -> bytes:
    """A few seconds of band signal and its phase, plus the phase distribution over the recording.

    Parameters
    ----------
    phase_rad
        Phase of each sample (rad).
    signal
        The band signal (µV).
    t_s
        Time of each sample (s).
    title
        Figure title.
    window_s
        Length (s) of the stretch shown, from the first finite phase.

    Returns
    -------
    bytes
        PNG image.
    """
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 2.6), gridspec_kw={"width_ratios": [3, 1]})
    finite = np.isfinite(phase_rad)
    start = t_s[np.argmax(finite)] if finite.any() else (t_s[0] if t_s.size else 0.0)
    sel = (t_s >= start) & (t_s <= start + window_s)
    a1.plot(t_s[sel], signal[sel], lw=0.7, label="band signal (µV)")
    ax2 = a1.twinx()
    ax2.plot(t_s[sel], phase_rad[sel], "r", lw=0.5)
    ax2.set_ylabel("phase (rad)", fontsize=8, color="r")
    a1.set_xlabel("time (s)", fontsize=8)
    a1.set_title(title, fontsize=9)
    a2.hist(phase_rad[finite][:: max(1, int(finite.sum() // 200000))], bins=36, range=(-np.pi, np.pi))
    a2.set_xlabel("phase (rad)", fontsize=8)
    return _to_png(fig)


def _robust_imshow(ax, img: np.ndarray, title: str) -> None:
    finite = img[np.isfinite(img)]
    lo, hi = np.percentile(finite, [1, 99.5]) if finite.size else (0, 1)
    ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, origin="upper")
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def images_png(
    images: dict[str, np.ndarray],
    *,
    title: str,
    trace: tuple[np.ndarray, np.ndarray, str] | None = None,
    ncols: int = 3,
) -> bytes:
    """A grid of images (e.g. the six projections), optionally with a trace below.

    Parameters
    ----------
    images
        Images by title, shown in grey with a robust (1st-99.5th percentile) range.
    title
        Figure title.
    trace
        ``(t_s, y, ylabel)`` of a trace to plot below the images, or None.
    ncols
        Images per row.

    Returns
    -------
    bytes
        PNG image.
    """
    n = len(images)
    nrows = -(-n // ncols) + (1 if trace is not None else 0)
    fig = plt.figure(figsize=(2.6 * ncols, 2.4 * nrows))
    for i, (name, img) in enumerate(images.items()):
        _robust_imshow(fig.add_subplot(nrows, ncols, i + 1), np.asarray(img, dtype=np.float64), name)
    if trace is not None:
        t, y, label = trace
        ax = fig.add_subplot(nrows, 1, nrows)
        tt, yy = _decimate_for_plot(np.asarray(t), np.asarray(y))
        ax.plot(tt, yy, lw=0.7)
        ax.set_xlabel("time (s)", fontsize=8)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=9)
    return _to_png(fig)


def motion_png(
    rigid_shifts: np.ndarray,
    frame_rate_hz: float,
    mean_before: np.ndarray,
    mean_after: np.ndarray,
    corr_before: np.ndarray,
    corr_after: np.ndarray,
    *,
    title: str,
) -> bytes:
    """Rigid shifts over time, correlation with the template before/after, mean images before/after.

    Parameters
    ----------
    rigid_shifts
        (n, 2) corrections (dy, dx) (px).
    frame_rate_hz
        Frame rate (Hz), for the time axis.
    mean_before, mean_after
        (H, W) mean images.
    corr_before, corr_after
        Per-frame correlation with the template.
    title
        Figure title.

    Returns
    -------
    bytes
        PNG image.
    """
    fig = plt.figure(figsize=(8, 5))
    t = np.arange(rigid_shifts.shape[0]) / frame_rate_hz
    ax = fig.add_subplot(2, 2, 1)
    ax.plot(t, rigid_shifts[:, 0], lw=0.6, label="dy")
    ax.plot(t, rigid_shifts[:, 1], lw=0.6, label="dx")
    ax.set_ylabel("correction (px)", fontsize=8)
    ax.legend(fontsize=7)
    ax.set_title("rigid shifts", fontsize=8)
    ax = fig.add_subplot(2, 2, 2)
    ax.plot(t, corr_before, lw=0.6, label="before")
    ax.plot(t, corr_after, lw=0.6, label="after")
    ax.set_ylabel("corr. with template", fontsize=8)
    ax.legend(fontsize=7)
    ax.set_xlabel("time (s)", fontsize=8)
    _robust_imshow(fig.add_subplot(2, 2, 3), mean_before, "mean image before")
    _robust_imshow(fig.add_subplot(2, 2, 4), mean_after, "mean image after")
    fig.suptitle(title, fontsize=9)
    return _to_png(fig)


def components_png(
    corr_image: np.ndarray,
    footprints_hw: np.ndarray,
    C: np.ndarray,
    frame_rate_hz: float,
    *,
    title: str,
    kept: np.ndarray | None = None,
    n_traces: int = 6,
) -> bytes:
    """Footprint contours (half maximum) on the correlation image, and a few traces.

    Parameters
    ----------
    corr_image
        (H, W) correlation image.
    footprints_hw
        (K, H, W) footprints.
    C
        (K, T) traces; the first ``n_traces`` are plotted, each normalised to its maximum.
    frame_rate_hz
        Frame rate (Hz), for the time axis.
    title
        Figure title.
    kept
        Bool per unit: contours of kept units are green, of the others red; None: all green.
    n_traces
        Number of traces plotted.

    Returns
    -------
    bytes
        PNG image.
    """
    fig = plt.figure(figsize=(9, 4))
    ax = fig.add_subplot(1, 2, 1)
    _robust_imshow(ax, corr_image, "correlation image, contours at half max")
    for k, fp in enumerate(footprints_hw):
        if fp.max() > 0:
            colour = "lime" if kept is None or kept[k] else "red"
            ax.contour(fp, levels=[0.5 * fp.max()], colors=colour, linewidths=0.6)
    ax2 = fig.add_subplot(1, 2, 2)
    t = np.arange(C.shape[1]) / frame_rate_hz
    for i, k in enumerate(range(min(n_traces, C.shape[0]))):
        y = C[k] / (np.max(C[k]) or 1.0)
        tt, yy = _decimate_for_plot(t, y)
        ax2.plot(tt, yy + i * 1.1, lw=0.6)
    ax2.set_xlabel("time (s)", fontsize=8)
    ax2.set_yticks([])
    ax2.set_title(f"traces C of units 0..{min(n_traces, C.shape[0]) - 1} (normalised)", fontsize=8)
    fig.suptitle(title, fontsize=9)
    return _to_png(fig)


def phase_histograms_png(
    edges: np.ndarray, counts: dict[str, np.ndarray], angles: dict[str, float], *, title: str
) -> bytes:
    """Polar and linear histograms of event phases, one row per phase source, with the mean direction.

    Parameters
    ----------
    edges
        Bin edges (rad).
    counts
        Counts per bin, by phase source (e.g. "ephys", "miniscope").
    angles
        Mean direction (rad) by phase source; a NaN or missing one is not drawn.
    title
        Figure title.

    Returns
    -------
    bytes
        PNG image.
    """
    fig = plt.figure(figsize=(7, 3.2 * len(counts)))
    centres = 0.5 * (edges[:-1] + edges[1:])
    width = np.diff(edges)
    for i, (name, c) in enumerate(counts.items()):
        ax = fig.add_subplot(len(counts), 2, 2 * i + 1, projection="polar")
        ax.bar(centres, c, width=width, alpha=0.7, edgecolor="k", linewidth=0.3)
        if np.isfinite(angles.get(name, np.nan)):
            ax.plot([angles[name]] * 2, [0, max(c.max(), 1)], "r", lw=1.5)
        ax.set_title(f"{name} phase at events", fontsize=8)
        ax.tick_params(labelsize=6)
        ax2 = fig.add_subplot(len(counts), 2, 2 * i + 2)
        ax2.bar(np.degrees(centres), c, width=np.degrees(width) * 0.9)
        if np.isfinite(angles.get(name, np.nan)):
            ax2.axvline(np.degrees(angles[name]), color="r", lw=1)
        ax2.set_xlabel("phase (deg)", fontsize=8)
        ax2.set_ylabel("events", fontsize=8)
        ax2.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=9)
    return _to_png(fig)
