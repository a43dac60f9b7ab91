"""Tests of ace_core.io.notes: reading the Miniscope notes.csv (round trip, headerless files, errors)."""

from __future__ import annotations

import numpy as np
import pytest

from ace_core.errors import InputFormatError
from ace_core.io.notes import read_notes
from ace_core.simulation.sidecar_files import write_notes_csv


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
