"""Score CNMF-E estimates against the truth of :mod:`ace_core.simulation.calcium` (detection, traces, spikes).

Matching: truth footprints are in the tissue frame and peak-normalised; the estimate is ~ footprint x
vignette up to scale, so both are compared as unit-L2-norm vectors (the truth multiplied by the vignette when
given). A found/true pair is eligible when the footprints' cosine similarity is >= `min_cosine` OR their
centroids are <= `max_distance_px` apart (default gSig); eligible pairs are matched one-to-one by the
Hungarian algorithm maximising cosine similarity. Detection: precision = matched / found, recall =
matched / true, F1 their harmonic mean.

Traces: Pearson r between each matched C[k] and the true trace. Spikes: true events are frames with a spike;
found events are the frames where S > 0, a run of consecutive non-zero frames counting as ONE event placed at
its largest value (an AR(1) model splits the truth's one-frame rise into two adjacent spikes). Events are
matched one-to-one within +-`tolerance_frames` (greedy in time order); recall and precision are pooled over
all matched units.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.optimize import linear_sum_assignment

__all__ = ["CNMFEScore", "events_from_spikes", "match_events", "match_footprints", "score_cnmfe"]


@dataclass
class CNMFEScore:
    """Result of :func:`score_cnmfe`.

    Attributes
    ----------
    n_true, n_found
        Units in the truth and in the estimates.
    matches
        ``(found index, true index)`` pairs.
    unmatched_found, unmatched_true
        Indices left without a match.
    precision, recall, f1
        Detection scores.
    trace_r
        Pearson r of C and the true trace, per match.
    median_r
        Median of ``trace_r`` (0 without matches).
    spike_recall, spike_precision
        Event scores pooled over all matched units.
    details
        Cosine and centroid-distance matrices and the pooled event counts.
    """

    n_true: int
    n_found: int
    matches: list[tuple[int, int]]  # (found index, true index)
    unmatched_found: list[int]
    unmatched_true: list[int]
    precision: float
    recall: float
    f1: float
    trace_r: np.ndarray  # per match
    median_r: float
    spike_recall: float
    spike_precision: float
    details: dict = field(default_factory=dict)


def _unit_columns(m: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(m, axis=0)
    return m / np.where(norm > 0, norm, 1.0)


def _centroids(m: np.ndarray, dims: tuple[int, int]) -> np.ndarray:
    rows, cols = np.divmod(np.arange(dims[0] * dims[1]), dims[1])
    mass = np.maximum(m.sum(axis=0), 1e-12)
    return np.stack([rows @ m / mass, cols @ m / mass], axis=1)


def match_footprints(
    A: sparse.spmatrix | np.ndarray,
    true_footprints: np.ndarray,
    *,
    vignette: np.ndarray | None = None,
    max_distance_px: float = 3.0,
    min_cosine: float = 0.5,
) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
    """Hungarian matching of found footprints to true ones (see the module docstring).

    Parameters
    ----------
    A
        (P, K) found footprints, dense or sparse.
    true_footprints
        (N, H, W) true footprints.
    vignette
        (H, W) sensor-fixed gain the true footprints are multiplied by; None: none.
    max_distance_px, min_cosine
        A pair is eligible when its centroids are this close (px) or its cosine similarity this high.

    Returns
    -------
    matches : list of tuple of int
        ``(found index, true index)`` pairs.
    cosine, distance : numpy.ndarray
        (K, N) cosine similarities and centroid distances (px).
    """
    n, h, w = true_footprints.shape
    tf = true_footprints.reshape(n, h * w).T.astype(np.float64)
    if vignette is not None:
        tf = tf * vignette.reshape(-1, 1)
    af = A.toarray() if sparse.issparse(A) else np.asarray(A)
    af = af.astype(np.float64)
    if af.shape[1] == 0 or n == 0:
        return [], np.zeros((af.shape[1], n)), np.zeros((af.shape[1], n))
    cos = _unit_columns(af).T @ _unit_columns(tf)
    ca, ct = _centroids(af, (h, w)), _centroids(tf, (h, w))
    dist = np.hypot(ca[:, None, 0] - ct[None, :, 0], ca[:, None, 1] - ct[None, :, 1])
    eligible = (cos >= min_cosine) | (dist <= max_distance_px)
    cost = np.where(eligible, -cos, 1e6)
    rows, cols = linear_sum_assignment(cost)
    matches = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if eligible[r, c]]
    return matches, cos, dist


def events_from_spikes(s: np.ndarray, min_size: float = 0.0) -> np.ndarray:
    """Event frames from a spike train: runs of consecutive frames with ``s > min_size``, each at its maximum.

    Parameters
    ----------
    s
        (T,) spikes.
    min_size
        Spikes at or below this are ignored.

    Returns
    -------
    numpy.ndarray
        int64 event frames, in order.
    """
    active = np.asarray(s) > min_size
    if not active.any():
        return np.zeros(0, np.int64)
    edges = np.diff(np.r_[0, active.astype(np.int8), 0])
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return np.array([a + int(np.argmax(s[a:b])) for a, b in zip(starts, stops, strict=True)], np.int64)


def match_events(true_frames: np.ndarray, found_frames: np.ndarray, tolerance_frames: int = 2) -> int:
    """Number of one-to-one matches within +-tolerance (greedy in time order, each found event used once).

    Parameters
    ----------
    true_frames, found_frames
        Event frames.
    tolerance_frames
        Largest distance (frames) of a match.

    Returns
    -------
    int
    """
    found = np.sort(np.asarray(found_frames))
    used = np.zeros(found.size, bool)
    n = 0
    j0 = 0
    for t in np.sort(np.asarray(true_frames)):
        while j0 < found.size and found[j0] < t - tolerance_frames:
            j0 += 1
        j = j0
        while j < found.size and found[j] <= t + tolerance_frames:
            if not used[j]:
                used[j] = True
                n += 1
                break
            j += 1
    return n


def score_cnmfe(
    A: sparse.spmatrix | np.ndarray,
    C: np.ndarray,
    S: np.ndarray | None,
    truth,
    *,
    max_distance_px: float = 3.0,
    min_cosine: float = 0.5,
    tolerance_frames: int = 2,
    found_events: tuple[np.ndarray, np.ndarray] | None = None,
) -> CNMFEScore:
    """Score found units (A, C, S) against a :class:`~ace_core.simulation.calcium.CalciumTruth`.

    See the module docstring for the rules.

    Parameters
    ----------
    A
        (P, K) found footprints.
    C
        (K, T) found traces.
    S
        (K, T) found spikes, or None (no event scores unless ``found_events`` is given).
    truth
        The ground truth.
    max_distance_px, min_cosine
        As :func:`match_footprints`.
    tolerance_frames
        As :func:`match_events`.
    found_events
        A flat event table (unit index, frame) as :func:`ace_core.analysis.events.events_from_traces`
        returns; replaces the events taken from S when given.

    Returns
    -------
    CNMFEScore
    """
    matches, cos, dist = match_footprints(
        A, truth.footprints, vignette=truth.vignette, max_distance_px=max_distance_px, min_cosine=min_cosine
    )
    n_found, n_true = int(C.shape[0]), int(truth.footprints.shape[0])
    n_match = len(matches)
    precision = n_match / n_found if n_found else 0.0
    recall = n_match / n_true if n_true else 0.0
    f1 = 2 * n_match / (n_found + n_true) if (n_found + n_true) else 0.0
    rs = []
    tp = n_true_ev = n_found_ev = 0
    for k, j in matches:
        c, t = C[k].astype(np.float64), truth.traces[j].astype(np.float64)
        rs.append(float(np.corrcoef(c, t)[0, 1]) if c.std() > 0 and t.std() > 0 else 0.0)
        true_ev = np.flatnonzero(truth.spikes[j] > 0)
        if found_events is not None:
            found_ev = np.asarray(found_events[1])[np.asarray(found_events[0]) == k]
        elif S is not None:
            found_ev = events_from_spikes(S[k])
        else:
            continue
        tp += match_events(true_ev, found_ev, tolerance_frames)
        n_true_ev += true_ev.size
        n_found_ev += found_ev.size
    matched_found = {k for k, _ in matches}
    matched_true = {j for _, j in matches}
    trace_r = np.array(rs)
    return CNMFEScore(
        n_true=n_true,
        n_found=n_found,
        matches=matches,
        unmatched_found=[k for k in range(n_found) if k not in matched_found],
        unmatched_true=[j for j in range(n_true) if j not in matched_true],
        precision=precision,
        recall=recall,
        f1=f1,
        trace_r=trace_r,
        median_r=float(np.median(trace_r)) if trace_r.size else 0.0,
        spike_recall=tp / n_true_ev if n_true_ev else 0.0,
        spike_precision=tp / n_found_ev if n_found_ev else 0.0,
        details={"cosine": cos, "distance": dist, "n_true_events": n_true_ev, "n_found_events": n_found_ev},
    )
