"""Calcium events from CNMF-E traces: local maxima of a trace or of its derivative above a height.

Reference behaviour (the reference toolkit, ``ace_neuro``): for each unit k, x = C[k] ('zeroth'), its
first difference x[i] = C[k][i+1] - C[k][i] ('first', the default) or its second difference
x[i] = C[k][i+2] - 2 C[k][i+1] + C[k][i] ('second'); events are the local maxima of x in the sense of
`scipy.signal.find_peaks` (strict local maxima, a flat peak reported at its middle sample, no distance or
prominence constraint) with x[i] >= `event_height` (absolute units of C).

Frame-index convention (ours differs, on purpose): the reference reports i, the index into the difference,
so a 'first' event at i describes the rise between frames i and i+1 and is aligned with frame i, one frame
before the rise shows in the movie. We report the frame where the rise lands: for a step C[j-1] -> C[j],
'first' reports j (= i + 1) and 'second' reports j (= i + 2, the second difference of a step peaks at
i = j - 2); 'zeroth' reports i. `reference_index_convention=True` returns the reference's indices.

Heights: absolute heights depend on how C is scaled (8-bit rescaling, footprint normalisation), so
`event_height_sd` gives the threshold in units of each trace's noise instead: threshold_k =
event_height_sd * noise_k * gain, where noise_k is the noise std of the trace (e.g. `CNMFEEstimates.noise`)
and gain = 1, sqrt(2), sqrt(6) for zeroth, first, second (the std of the difference of white noise).
Without `noise`, noise_k * gain is estimated from x itself as 1.4826 * median(|x - median(x)|).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.signal import find_peaks

__all__ = ["DERIVATIVES", "events_from_traces"]

#: derivative name -> (difference order, frames added to a difference index to reach the landing frame)
DERIVATIVES: dict[str, tuple[int, int]] = {"zeroth": (0, 0), "first": (1, 1), "second": (2, 2)}
_NOISE_GAIN = {0: 1.0, 1: float(np.sqrt(2.0)), 2: float(np.sqrt(6.0))}


def events_from_traces(
    C: np.ndarray,
    *,
    derivative: str = "first",
    event_height: float = 5.0,
    event_height_sd: float | None = None,
    noise: Sequence[float] | np.ndarray | None = None,
    reference_index_convention: bool = False,
    unit_ids: Sequence[int] | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Calcium events of every unit, as one flat table (see the module docstring for the rules).

    Parameters
    ----------
    C
        Traces (K, T).
    derivative
        ``zeroth``, ``first`` or ``second``: which difference of C the peaks are found on.
    event_height
        Smallest peak height (units of C); replaced by ``event_height_sd`` when that is given.
    event_height_sd
        Smallest peak height in noise SDs of each trace.
    noise
        Noise SD of each trace (K,); estimated from the trace when None.
    reference_index_convention
        Report the difference index, one frame before the rise lands, as the reference did.
    unit_ids
        Id of each trace (K,); default the row index.

    Returns
    -------
    unit_id, frame : numpy.ndarray
        (M,) int64 each, one row per event, sorted by unit (in trace order) then frame.

    Raises
    ------
    ValueError
        For an unknown ``derivative`` or a ``noise`` / ``unit_ids`` of the wrong length.
    """
    if derivative not in DERIVATIVES:
        raise ValueError(f"derivative must be one of {sorted(DERIVATIVES)}, got {derivative!r}")
    C = np.atleast_2d(np.asarray(C, dtype=np.float64))
    order, offset = DERIVATIVES[derivative]
    if noise is not None and len(noise) != C.shape[0]:
        raise ValueError(f"noise needs one value per unit ({C.shape[0]}), got {len(noise)}")
    ids = np.arange(C.shape[0], dtype=np.int64) if unit_ids is None else np.asarray(unit_ids, dtype=np.int64)
    if ids.shape != (C.shape[0],):
        raise ValueError(f"unit_ids needs one id per unit ({C.shape[0]}), got {ids.shape}")
    units, frames = [], []
    for k in range(C.shape[0]):
        x = np.diff(C[k], n=order) if order else C[k]
        if event_height_sd is None:
            height = float(event_height)
        elif noise is not None:
            height = float(event_height_sd) * float(noise[k]) * _NOISE_GAIN[order]
        else:
            height = float(event_height_sd) * 1.4826 * float(np.median(np.abs(x - np.median(x))))
        peaks, _ = find_peaks(x, height=height)
        if not reference_index_convention:
            peaks = peaks + offset
        units.append(np.full(peaks.size, ids[k], dtype=np.int64))
        frames.append(peaks.astype(np.int64))
    if not units:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(units), np.concatenate(frames)
