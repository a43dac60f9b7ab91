"""Calcium events from traces: derivative orders, find_peaks semantics, noise-scaled heights, frame index."""

import numpy as np
import pytest

from ace_core.analysis.events import events_from_traces


def _step(n: int = 20, at: int = 8, height: float = 10.0) -> np.ndarray:
    c = np.zeros(n)
    c[at:] = height
    return c


def test_first_derivative_reports_the_frame_where_the_rise_lands():
    c = _step(at=8)  # C[7] = 0 -> C[8] = 10: the rise lands on frame 8
    ours = events_from_traces(c[None], derivative="first", event_height=5)
    ref = events_from_traces(c[None], derivative="first", event_height=5, reference_index_convention=True)
    assert ours[1].tolist() == [8]
    assert ref[1].tolist() == [7]  # the reference's index into the difference, one frame early


def test_second_derivative_convention():
    c = _step(at=8)
    # second difference x[i] = C[i+2] - 2 C[i+1] + C[i] peaks at i = 6 for a step landing on frame 8
    assert events_from_traces(c[None], derivative="second", event_height=5)[1].tolist() == [8]
    ref = events_from_traces(c[None], derivative="second", event_height=5, reference_index_convention=True)
    assert ref[1].tolist() == [6]


def test_zeroth_is_local_maxima_of_the_trace():
    c = np.array([0, 1, 6, 2, 0, 7, 7, 7, 1, 0, 4, 0], float)
    ev = events_from_traces(c[None], derivative="zeroth", event_height=5)[1]
    # strict local maxima; the flat peak 7,7,7 is reported at its middle; 4 is below the height
    assert ev.tolist() == [2, 6]
    assert events_from_traces(c[None], derivative="zeroth", event_height=5, reference_index_convention=True)[
        1
    ].tolist() == [2, 6]


def test_height_is_inclusive_and_absolute():
    c = np.array([0, 0, 5, 0, 0, 4.99, 0], float)
    assert events_from_traces(c[None], derivative="zeroth", event_height=5)[1].tolist() == [2]


def test_height_in_noise_units():
    rng = np.random.default_rng(0)
    n = 4000
    noise = 2.0
    spikes = np.zeros(n)
    spikes[rng.choice(np.arange(10, n - 10), 30, replace=False)] = 40.0
    c = np.zeros(n)
    for t in range(1, n):
        c[t] = 0.85 * c[t - 1] + spikes[t]
    y = c + noise * rng.standard_normal(n)
    truth = np.flatnonzero(spikes)
    for kwargs in ({"noise": [noise]}, {}):  # given noise, or estimated from the derivative (MAD)
        ev = events_from_traces(y[None], derivative="first", event_height_sd=5, **kwargs)[1]
        hits = sum(np.any(np.abs(ev - t) <= 1) for t in truth)
        assert hits >= 29
        assert len(ev) <= 33  # the 5 SD threshold leaves few noise peaks
    # the same trace scaled by 100: absolute heights change meaning, SD heights do not
    ev_scaled = events_from_traces(100 * y[None], derivative="first", event_height_sd=5)[1]
    ev_plain = events_from_traces(y[None], derivative="first", event_height_sd=5)[1]
    assert np.array_equal(ev_scaled, ev_plain)


def test_one_flat_table_for_all_units_and_validation():
    c = np.stack([_step(at=5), _step(at=12), np.zeros(20)])
    unit, frame = events_from_traces(c, derivative="first", event_height=5)
    assert unit.tolist() == [0, 1] and frame.tolist() == [5, 12]  # the silent third unit has no row
    assert unit.dtype == frame.dtype == np.int64
    unit, frame = events_from_traces(c, derivative="first", event_height=5, unit_ids=[7, 3, 9])
    assert unit.tolist() == [7, 3] and frame.tolist() == [5, 12]  # ids kept, trace order kept
    with pytest.raises(ValueError):
        events_from_traces(c, unit_ids=[1, 2])
    with pytest.raises(ValueError):
        events_from_traces(c, derivative="third")
    with pytest.raises(ValueError):
        events_from_traces(c, event_height_sd=3, noise=[1.0])
