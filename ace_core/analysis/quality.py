"""Quality reports on products: the numbers behind the platform's asset checks.

Each function takes plain arrays, decides pass/fail against a stated threshold and returns the numbers
that went into the decision, so a check in the UI shows why it warned and a test can compare the numbers
with the generator's truth.
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class QualityReport:
    """A check's verdict, the reason a person reads, and the numbers that went into it.

    Attributes
    ----------
    passed
        The verdict.
    description
        Why, in words.
    metadata
        The numbers behind the verdict, by name.
    """

    passed: bool
    description: str
    metadata: dict[str, float | int] = field(default_factory=dict)


def lfp_nan_fraction(signal_uv: np.ndarray, fs_hz: float, max_fraction: float = 0.2) -> QualityReport:
    """Fraction of LFP samples that are NaN (recording pauses between Neuralynx segments).

    A long pause is not an error, but phases near it are unusable and a large fraction usually means the
    wrong channel or a broken recording.

    Parameters
    ----------
    signal_uv
        The LFP (µV).
    fs_hz
        Sampling rate (Hz), to express the pauses in seconds.
    max_fraction
        Largest NaN fraction that passes.

    Returns
    -------
    QualityReport
        Fails for an empty signal too.
    """
    x = np.asarray(signal_uv)
    n = int(x.size)
    n_nan = int(np.count_nonzero(~np.isfinite(x)))
    frac = n_nan / n if n else 1.0
    return QualityReport(
        passed=n > 0 and frac <= max_fraction,
        description=f"{100 * frac:.1f} % of {n} samples are NaN ({n_nan / fs_hz:.2f} s of recording pauses; "
        f"limit {100 * max_fraction:.0f} %)",
        metadata={
            "nan_fraction": frac,
            "nan_seconds": n_nan / fs_hz,
            "n_samples": n,
            "max_nan_fraction": max_fraction,
        },
    )


def frame_clock_quality(
    t_ca_im_s: np.ndarray,
    interpolated: np.ndarray,
    frame_rate_hz: float,
    max_filled_fraction: float = 0.01,
    max_rate_error: float = 0.02,
) -> QualityReport:
    """Sync quality of the frame clock recovered from TTL edges.

    Warns when more than ``max_filled_fraction`` of frame times were filled over TTL gaps (their times are
    interpolated, so events there are low-confidence), or when the measured frame rate (median interval
    between real edges) differs from the metadata rate by more than ``max_rate_error`` (a wrong
    ``frameRate`` or a miswired TTL line).

    Parameters
    ----------
    t_ca_im_s
        Frame times on the ephys clock (s).
    interpolated
        Bool per frame: filled over a TTL gap.
    frame_rate_hz
        The metadata frame rate (Hz).
    max_filled_fraction
        Largest fraction of filled frames that passes.
    max_rate_error
        Largest relative frame-rate error that passes.

    Returns
    -------
    QualityReport
    """
    t = np.asarray(t_ca_im_s, dtype=float)
    filled = np.asarray(interpolated, dtype=bool)
    n = int(t.size)
    n_filled = int(filled.sum())
    real_pairs = ~filled[1:] & ~filled[:-1]
    dt = np.diff(t)[real_pairs]
    measured = float(1.0 / np.median(dt)) if dt.size else float("nan")
    rate_error = abs(measured - frame_rate_hz) / frame_rate_hz if dt.size else float("inf")
    max_interval_periods = float(dt.max() * frame_rate_hz) if dt.size else float("nan")
    frac = n_filled / n if n else 1.0
    problems = []
    if frac > max_filled_fraction:
        problems.append(
            f"{n_filled} of {n} frame times ({100 * frac:.1f} %) filled over TTL gaps "
            f"(limit {100 * max_filled_fraction:.0f} %)"
        )
    if not rate_error <= max_rate_error:
        problems.append(
            f"measured frame rate {measured:.3f} Hz differs from the metadata's {frame_rate_hz:g} Hz "
            f"by {100 * rate_error:.1f} % (limit {100 * max_rate_error:.0f} %)"
        )
    return QualityReport(
        passed=not problems,
        description="; ".join(problems)
        or f"{n_filled} of {n} frame times filled; measured {measured:.3f} Hz for {frame_rate_hz:g} Hz",
        metadata={
            "frames_filled": n_filled,
            "filled_fraction": frac,
            "frame_rate_hz_measured": measured,
            "frame_rate_error": rate_error,
            "max_interval_periods": max_interval_periods,
        },
    )


def component_count(
    idx_good: np.ndarray, patch_of: np.ndarray, max_per_patch: int | None = None, min_good: int = 1
) -> QualityReport:
    """CNMF-E component counts: at least ``min_good`` accepted units, and no patch stopped at its cap ``K``.

    A patch that reached ``K`` components may have left neurons unseeded, so the count is a lower bound.

    Parameters
    ----------
    idx_good
        Bool per unit: accepted.
    patch_of
        Patch index of each unit.
    max_per_patch
        The cap ``K``; None: no cap to check.
    min_good
        Fewest accepted units that pass.

    Returns
    -------
    QualityReport
    """
    good = np.asarray(idx_good, dtype=bool)
    patches = np.asarray(patch_of, dtype=int)
    n, n_good = int(good.size), int(good.sum())
    at_cap = 0
    if max_per_patch is not None and patches.size:
        _, counts = np.unique(patches, return_counts=True)
        at_cap = int(np.count_nonzero(counts >= max_per_patch))
    problems = []
    if n_good < min_good:
        problems.append(f"{n_good} accepted component(s) of {n} (need >= {min_good})")
    if at_cap:
        problems.append(f"{at_cap} patch(es) stopped at K = {max_per_patch} components")
    return QualityReport(
        passed=not problems,
        description="; ".join(problems) or f"{n_good} of {n} components accepted",
        metadata={
            "n_components": n,
            "n_good": n_good,
            "good_fraction": n_good / n if n else 0.0,
            "patches_at_K": at_cap,
        },
    )


def frame_count_matches(
    n_frame_times: int, n_movie_frames: int, n_unrepaired_gaps: int, frames_filled: int
) -> QualityReport:
    """The frame clock has one time per movie frame and no TTL gap left unrepaired.

    A mismatch means TTL edges were lost or spurious edges were kept: every frame after the first
    disagreement would be placed at the wrong ephys time.

    Parameters
    ----------
    n_frame_times
        Times in the frame clock.
    n_movie_frames
        Frames in the movie.
    n_unrepaired_gaps
        TTL gaps left in the frame clock.
    frames_filled
        Frame times filled over gaps (reported only).

    Returns
    -------
    QualityReport
    """
    problems = []
    if n_frame_times != n_movie_frames:
        problems.append(f"{n_frame_times} frame times from TTL edges but {n_movie_frames} movie frames")
    if n_unrepaired_gaps:
        problems.append(f"{n_unrepaired_gaps} TTL gap(s) left unrepaired")
    return QualityReport(
        passed=not problems,
        description="; ".join(problems)
        or f"{n_frame_times} frame times for {n_movie_frames} movie frames, no gaps left",
        metadata={
            "n_frame_times": n_frame_times,
            "n_movie_frames": n_movie_frames,
            "n_unrepaired_gaps": n_unrepaired_gaps,
            "frames_filled": frames_filled,
        },
    )


def motion_correction_quality(
    rigid_shifts: np.ndarray, max_shifts: np.ndarray, corr_before: np.ndarray, corr_after: np.ndarray
) -> QualityReport:
    """Rigid shifts stay inside ``max_shifts`` and frames correlate better with the template after correction.

    A shift at the search bound (within 0.5 px of it) is a frame whose true motion may be larger (or whose
    peak was noise); a correlation that falls means the correction made the movie worse.

    Parameters
    ----------
    rigid_shifts
        (n, 2) rigid corrections (px).
    max_shifts
        The search bound (y, x) (px).
    corr_before, corr_after
        Per-frame correlation with the template before and after correction.

    Returns
    -------
    QualityReport
    """
    rigid = np.asarray(rigid_shifts, dtype=float)
    bound = np.asarray(max_shifts, dtype=float)
    pinned = int(np.count_nonzero(np.any(np.abs(rigid) >= bound - 0.5, axis=1))) if rigid.size else 0
    before, after = float(np.nanmean(corr_before)), float(np.nanmean(corr_after))
    problems = []
    if pinned:
        problems.append(f"{pinned} frame(s) with a shift at the max_shifts bound {bound.tolist()}")
    if after < before:
        problems.append(f"mean correlation with the template fell from {before:.3f} to {after:.3f}")
    return QualityReport(
        passed=not problems,
        description="; ".join(problems) or "shifts inside bounds, correlation improved",
        metadata={
            "frames_at_bound": pinned,
            "max_abs_shift_px": float(np.abs(rigid).max()) if rigid.size else 0.0,
            "mean_corr_before": before,
            "mean_corr_after": after,
        },
    )


def enough_events(n_used_events: int, min_events: int = 30) -> QualityReport:
    """At least ``min_events`` events with a usable LFP phase, the floor for circular statistics.

    Parameters
    ----------
    n_used_events
        Events entering the ephys statistics.
    min_events
        Fewest events that pass.

    Returns
    -------
    QualityReport
    """
    return QualityReport(
        passed=n_used_events >= min_events,
        description=f"{n_used_events} events with a usable LFP phase (need >= {min_events})",
        metadata={"n_used_events": n_used_events},
    )


def low_confidence_fraction(low_confidence: np.ndarray, max_fraction: float = 0.10) -> QualityReport:
    """At most ``max_fraction`` of events fall in low-confidence periods (frames filled over TTL gaps).

    Parameters
    ----------
    low_confidence
        Bool per event.
    max_fraction
        Largest fraction that passes.

    Returns
    -------
    QualityReport
    """
    low = np.asarray(low_confidence, dtype=bool)
    n, n_low = int(low.size), int(low.sum())
    frac = n_low / n if n else 0.0
    return QualityReport(
        passed=frac <= max_fraction,
        description=f"{n_low} of {n} events ({100 * frac:.1f} %) in low-confidence periods",
        metadata={"n_low_confidence": n_low, "fraction": frac},
    )
