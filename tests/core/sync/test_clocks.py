"""Tests of ace_core.sync.clocks: times mapped between the ephys and Miniscope clocks, nearest frames, and
experiment events on both clocks."""

from __future__ import annotations

import numpy as np
import pytest

from ace_core.sync.clocks import (
    EVENT_TABLE_COLUMNS,
    events_on_both_clocks,
    map_between_clocks,
    nearest_frame,
)

OFFSET_S, DRIFT = 50.0, 1e-4  # ephys = OFFSET + (1 + DRIFT) * host


def _frames(n: int = 300, rate: float = 20.0):
    host = 0.1 + np.arange(n) / rate  # host clock, s since recording start
    return host, OFFSET_S + (1 + DRIFT) * host


def test_map_between_clocks_and_nearest_frame():
    host, ephys = _frames()
    t = np.array([host[0], 1.234, host[-1], host[0] - 0.01, host[-1] + 0.01, np.nan])
    mapped = map_between_clocks(t, host, ephys)
    np.testing.assert_allclose(mapped[:3], OFFSET_S + (1 + DRIFT) * t[:3], rtol=0, atol=1e-12)
    assert np.isnan(mapped[3:]).all()
    back = map_between_clocks(mapped[:3], ephys, host)
    np.testing.assert_allclose(back, t[:3], rtol=0, atol=1e-12)
    # 0.1 + k/20: 1.234 is 22.68 frames after the first -> frame 23; a tie goes to the earlier frame
    np.testing.assert_array_equal(nearest_frame(t, host), [0, 23, 299, -1, -1, -1])
    np.testing.assert_array_equal(nearest_frame([0.1 + 2.5 / 20], host), [2])
    with pytest.raises(ValueError):
        map_between_clocks(t, host, ephys[:-1])
    with pytest.raises(ValueError):
        map_between_clocks(t, host[::-1], ephys)


def test_events_on_both_clocks():
    host, ephys = _frames()
    # Neuralynx events on the ephys clock: one before the movie, one on frame 100, one after.
    e_times = np.array([OFFSET_S - 1.0, ephys[100], ephys[-1] + 5.0])
    e_labels = np.array(["Starting Recording", "drug", "Stopping Recording"])
    # Miniscope notes on the host clock: frame 40 exactly, between frames 200/201 nearer 201, and after.
    m_times = np.array([host[40], host[200] + 0.03, host[-1] + 1.0])
    m_labels = np.array(["tone", "shock", "late note"])
    table = events_on_both_clocks((e_times, e_labels), (m_times, m_labels), host, ephys)
    assert tuple(table.columns) == EVENT_TABLE_COLUMNS
    assert table["label"].tolist() == [
        "Starting Recording",
        "tone",
        "drug",
        "shock",
        "Stopping Recording",
        "late note",
    ]
    rows = table.set_index("label")
    assert rows.loc["drug", "source"] == "neuralynx" and rows.loc["tone", "source"] == "miniscope"
    # Neuralynx events: miniscope time by the inverse relation, NaN / frame -1 outside the movie
    assert rows.loc["drug", "t_miniscope_s"] == pytest.approx(host[100], abs=1e-12)
    assert rows.loc["drug", "frame"] == 100
    for label in ("Starting Recording", "Stopping Recording"):
        assert np.isnan(rows.loc[label, "t_miniscope_s"]) and rows.loc[label, "frame"] == -1
    assert rows.loc["Starting Recording", "t_ephys_s"] == OFFSET_S - 1.0
    # Miniscope notes: ephys time by the relation, frame nearest on the host clock
    assert rows.loc["tone", "t_ephys_s"] == pytest.approx(OFFSET_S + (1 + DRIFT) * host[40], abs=1e-12)
    assert rows.loc["tone", "frame"] == 40
    assert rows.loc["shock", "t_ephys_s"] == pytest.approx(
        OFFSET_S + (1 + DRIFT) * (host[200] + 0.03), abs=1e-12
    )
    assert rows.loc["shock", "frame"] == 201
    assert np.isnan(rows.loc["late note", "t_ephys_s"]) and rows.loc["late note", "frame"] == -1
    assert rows.loc["late note", "t_miniscope_s"] == host[-1] + 1.0
    assert table["frame"].dtype == np.int64


def test_events_on_both_clocks_empty_sources():
    host, ephys = _frames(10)
    table = events_on_both_clocks((np.zeros(0), np.zeros(0, str)), (np.zeros(0), []), host, ephys)
    assert len(table) == 0 and tuple(table.columns) == EVENT_TABLE_COLUMNS
