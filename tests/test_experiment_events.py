"""Tests of ace_core.experiment_events: notes.csv and events on the ephys and Miniscope clocks."""

from __future__ import annotations

import numpy as np
import pytest

from ace_core.errors import InputFormatError
from ace_core.io.notes import read_notes
from ace_core.simulation.sidecar_files import write_notes_csv
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


def test_notes_round_trip(tmp_path):
    times_ms = [0, 1500, 2750, 14000]
    labels = ["start", "drug, 5 mg/kg", "tone", "Ünïcode note"]
    write_notes_csv(tmp_path, times_ms, labels)
    t, lab = read_notes(tmp_path)
    np.testing.assert_array_equal(t, np.array(times_ms) / 1000)
    assert lab.tolist() == labels


def test_notes_missing_headerless_and_errors(tmp_path):
    t, lab = read_notes(tmp_path)
    assert t.size == 0 and lab.size == 0
    (tmp_path / "notes.csv").write_text("12,a\n\n30,b,c\n")  # no header: the first row is kept
    t, lab = read_notes(tmp_path)
    np.testing.assert_array_equal(t, [0.012, 0.030])
    assert lab.tolist() == ["a", "b,c"]
    (tmp_path / "notes.csv").write_text("Time Stamp (ms),Note\n12,a\nx1,b\n")
    with pytest.raises(InputFormatError) as info:
        read_notes(tmp_path)
    assert info.value.line == 3 and info.value.column == "Time Stamp (ms)"
    (tmp_path / "notes.csv").write_text("Time Stamp (ms),Note\n12\n")
    with pytest.raises(InputFormatError) as info:
        read_notes(tmp_path)
    assert info.value.line == 2
    (tmp_path / "notes.csv").write_text("Time Stamp (ms),Note\n12,a\n")
    (tmp_path / "notes_2.csv").write_text("Time Stamp (ms),Note\n13,b\n")
    with pytest.raises(InputFormatError, match="more than one"):
        read_notes(tmp_path)


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
