"""Neuralynx writer/reader: round trips through neo on synthetic Cheetah folders, and bad-input errors."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import neo
import numpy as np
import pytest

from ace_core.errors import InputFormatError
from ace_core.io.neuralynx import (
    HEADER_BYTES,
    LAB_CHANNELS,
    NCS_RECORD_DTYPE,
    NCS_RECORD_SAMPLES,
    TTL_HIGH_LABEL,
    TTL_LOW_LABEL,
    EphysEvents,
    list_channels,
    read_channel,
    read_events,
    session_start_us,
)
from ace_core.simulation.neuralynx_files import NevEvent, ttl_edge_events, write_ncs, write_nev

T_FIRST_US = 3_600_000_000  # first .ncs record, 1 h after the Cheetah clock started
PAUSE_US = 1_700_000
OPENED = datetime(2023, 9, 1, 14, 41, 19)
AD_BIT_VOLTS = 1000e-6 / 32767
QUANT_UV = AD_BIT_VOLTS * 1e6 / 2 + 1e-9


def lab_signal(n: int, fs_hz: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 300.0 * np.sin(2 * np.pi * 1.5 * np.arange(n) / fs_hz) + rng.normal(0.0, 25.0, n)


def write_session(folder: Path, fs_hz: float, n1: int, n2: int, *, channels=LAB_CHANNELS, nev_first_us=None):
    """Two segments per channel separated by PAUSE_US; returns {channel: (seg1, seg2)} and segment starts."""
    second_us = T_FIRST_US + round(n1 * 1e6 / fs_hz) + PAUSE_US
    written = {}
    for k, name in enumerate(channels):
        a, b = lab_signal(n1, fs_hz, 2 * k), lab_signal(n2, fs_hz, 2 * k + 1)
        write_ncs(
            folder / f"{name}.ncs",
            [(T_FIRST_US, a), (second_us, b)],
            fs_hz,
            channel_name=name,
            ad_channel=k,
            ad_bit_volts=AD_BIT_VOLTS,
            time_created=OPENED,
        )
        written[name] = (a, b)
    if nev_first_us is not None:
        write_nev(folder / "Events.nev", [NevEvent(nev_first_us, 19, 0, "Starting Recording")])
    return written, (T_FIRST_US, second_us)


def rewrite_header(path: Path, old: str, new: str) -> None:
    data = bytearray(path.read_bytes())
    text = data[:HEADER_BYTES].rstrip(b"\0").decode("latin-1")
    assert old in text
    data[:HEADER_BYTES] = text.replace(old, new).encode("latin-1").ljust(HEADER_BYTES, b"\0")
    path.write_bytes(bytes(data))


# ------------------------------------------------------------------------------------------- round trips


def test_round_trip_lab_channels_2khz(tmp_path):
    fs, n1, n2 = 2000.0, 5000, 3001  # 5000 = 9 full records + a partial one
    session_zero_us = T_FIRST_US - 250_000  # "Starting Recording" precedes the first sample
    written, (s1_us, s2_us) = write_session(tmp_path, fs, n1, n2, nev_first_us=session_zero_us)

    assert list_channels(tmp_path) == tuple(sorted(LAB_CHANNELS))
    assert session_start_us(tmp_path) == session_zero_us
    start2 = round((s2_us - s1_us) * fs / 1e6)
    assert start2 == n1 + PAUSE_US * fs / 1e6
    for name in LAB_CHANNELS:
        ch = read_channel(tmp_path, name)
        a, b = written[name]
        assert ch.name == name and ch.source == tmp_path / f"{name}.ncs"
        assert ch.fs_hz == fs and ch.header_fs_hz == fs
        assert ch.signal_uv.dtype == np.float64 and ch.signal_uv.shape == (start2 + n2,)
        np.testing.assert_allclose(ch.signal_uv[:n1], a, rtol=0, atol=QUANT_UV)
        np.testing.assert_allclose(ch.signal_uv[start2:], b, rtol=0, atol=QUANT_UV)
        assert np.isnan(ch.signal_uv[n1:start2]).all()
        assert not np.isnan(ch.signal_uv[:n1]).any() and not np.isnan(ch.signal_uv[start2:]).any()
        assert ch.gaps.dtype == np.int64 and ch.gaps.tolist() == [[n1, start2]]
        assert ch.n_segments == 2
        assert ch.session_start_us == session_zero_us
        assert ch.t0_s == pytest.approx((s1_us - session_zero_us) / 1e6, abs=1e-12)
        assert ch.time_s[0] == pytest.approx(0.25, abs=1e-12)
        assert ch.time_s[start2] == pytest.approx((s2_us - session_zero_us) / 1e6, abs=1e-9)
        assert ch.max_time_error_s == 0.0


@pytest.mark.parametrize("fs", [32000.0, 30000.0])  # 30 kHz: record timestamps are rounded to whole µs
def test_round_trip_high_rate(tmp_path, fs):
    n1, n2 = 16_000 + 100, 8_000
    written, (s1_us, s2_us) = write_session(tmp_path, fs, n1, n2, channels=("EMG",))
    ch = read_channel(tmp_path, "EMG")
    start2 = round((s2_us - s1_us) * fs / 1e6)
    assert ch.fs_hz == fs
    assert ch.gaps.tolist() == [[n1, start2]]
    assert ch.t0_s == 0.0 and ch.session_start_us == s1_us
    np.testing.assert_allclose(ch.signal_uv[:n1], written["EMG"][0], rtol=0, atol=QUANT_UV)
    np.testing.assert_allclose(ch.signal_uv[start2:], written["EMG"][1], rtol=0, atol=QUANT_UV)
    assert ch.max_time_error_s <= 0.5e-6


def test_input_inverted_is_undone_by_neo(tmp_path):
    fs, x = 2000.0, lab_signal(1500, 2000.0, 7)
    write_ncs(
        tmp_path / "EMG.ncs", [(T_FIRST_US, x)], fs, channel_name="EMG", ad_channel=0, input_inverted=True
    )
    raw = np.memmap(tmp_path / "EMG.ncs", dtype=NCS_RECORD_DTYPE, mode="r", offset=HEADER_BYTES)
    stored = raw["samples"].reshape(-1)[: x.size]
    np.testing.assert_array_equal(stored, np.rint(-x / (AD_BIT_VOLTS * 1e6)).astype(np.int16))
    np.testing.assert_allclose(read_channel(tmp_path, "EMG").signal_uv, x, rtol=0, atol=QUANT_UV)


def test_record_clock_slower_than_header_rate(tmp_path):
    """Pitfall 4: header says 2000 Hz, records are spaced at 1999 Hz; time_s must follow the records."""
    fs_header, fs_true, n = 2000.0, 1999.0, 512 * 40
    x = lab_signal(n, fs_header, 3)
    path = tmp_path / "EMG.ncs"
    write_ncs(path, [(T_FIRST_US, x)], fs_header, channel_name="EMG", ad_channel=0)
    records = np.memmap(path, dtype=NCS_RECORD_DTYPE, mode="r+", offset=HEADER_BYTES)
    record_us = T_FIRST_US + np.rint(np.arange(records.size) * NCS_RECORD_SAMPLES * 1e6 / fs_true)
    records["timestamp"] = record_us.astype(np.uint64)
    records.flush()
    del records

    ch = read_channel(tmp_path, "EMG")
    assert ch.n_segments == 1 and ch.header_fs_hz == fs_header
    assert ch.fs_hz == pytest.approx(fs_true, rel=1e-7)
    record_t_s = ch.time_s[::NCS_RECORD_SAMPLES]
    np.testing.assert_allclose(record_t_s, (record_us - T_FIRST_US) / 1e6, rtol=0, atol=1e-6)
    assert ch.max_time_error_s <= 1e-6
    np.testing.assert_allclose(ch.signal_uv, x, rtol=0, atol=QUANT_UV)


def test_irregular_record_clock_warns(tmp_path):
    path = tmp_path / "EMG.ncs"
    write_ncs(path, [(T_FIRST_US, lab_signal(512 * 10, 2000.0, 4))], 2000.0, channel_name="EMG", ad_channel=0)
    records = np.memmap(path, dtype=NCS_RECORD_DTYPE, mode="r+", offset=HEADER_BYTES)
    records["timestamp"][5] += 400  # 0.8 sample late, below the one-sample gap tolerance
    records.flush()
    del records
    with pytest.warns(UserWarning, match="deviate"):
        ch = read_channel(tmp_path, "EMG")
    assert ch.n_segments == 1 and ch.max_time_error_s > 0.25 / 2000.0


# ----------------------------------------------------------------------------------------------- events


def test_events_round_trip(tmp_path):
    rng = np.random.default_rng(11)
    start_us = T_FIRST_US - 40_000
    edges_us = T_FIRST_US + 100_000 + np.arange(500) * 50_000 + rng.integers(-2_000, 2_001, 500)
    others = [
        NevEvent(start_us, 19, 0, "Starting Recording"),
        NevEvent(int(edges_us[200]) + 7, 4, 0, "drug injection: ketamine 10 mg/kg start"),
        NevEvent(int(edges_us[-1]) + 60_000, 19, 0, "Stopping Recording"),
    ]
    ttl = ttl_edge_events(edges_us)
    assert [e.ttl for e in ttl[:4]] == [1, 0, 1, 0]
    assert [e.label for e in ttl[:2]] == [TTL_HIGH_LABEL, TTL_LOW_LABEL]
    write_nev(tmp_path / "Events.nev", list(reversed(others + ttl)))  # writer sorts
    write_ncs(tmp_path / "EMG.ncs", [(T_FIRST_US, np.zeros(4000))], 2000.0, channel_name="EMG", ad_channel=0)

    assert session_start_us(tmp_path) == start_us
    ev = read_events(tmp_path)
    assert isinstance(ev, EphysEvents) and ev.source == tmp_path / "Events.nev"
    assert len(ev.labels) == 503 and np.all(np.diff(ev.times_s) >= 0)
    is_ttl = np.isin(ev.labels, [TTL_HIGH_LABEL, TTL_LOW_LABEL])
    np.testing.assert_array_equal(
        ev.labels[is_ttl], [e.label for e in ttl]
    )  # exact Cheetah strings, in order
    np.testing.assert_allclose(ev.times_s[is_ttl], (edges_us - start_us) / 1e6, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ev.ttl_edge_times_s(), (edges_us - start_us) / 1e6, rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        ev.ttl_edge_times_s((TTL_HIGH_LABEL,)), (edges_us[::2] - start_us) / 1e6, atol=1e-6
    )

    exp = ev.experiment_events()
    assert exp.labels.tolist() == [e.label for e in others]
    np.testing.assert_allclose(exp.times_s, [(e.timestamp_us - start_us) / 1e6 for e in others], atol=1e-6)
    assert exp.ttl_edge_times_s().size == 0


def test_writer_rejects_labels_neo_cannot_decode(tmp_path):
    with pytest.raises(ValueError, match="ASCII"):
        write_nev(tmp_path / "Events.nev", [NevEvent(1, 4, 0, "5 µg/kg")])
    assert not list(tmp_path.iterdir())  # nothing half-written left behind


# --------------------------------------------------------------------------------------- neo directly


def test_neo_reads_the_folder_itself(tmp_path):
    plain, gapped = tmp_path / "plain", tmp_path / "gapped"
    plain.mkdir()
    gapped.mkdir()
    for k, name in enumerate(LAB_CHANNELS):
        write_ncs(
            plain / f"{name}.ncs",
            [(T_FIRST_US, lab_signal(3000, 2000.0, k))],
            2000.0,
            channel_name=name,
            ad_channel=k,
        )
    write_nev(plain / "Events.nev", ttl_edge_events(T_FIRST_US + np.arange(20) * 50_000))

    block = neo.io.NeuralynxIO(dirname=str(plain)).read_block()
    (sig,) = block.segments[0].analogsignals
    assert sig.shape == (3000, 5) and float(sig.sampling_rate) == 2000.0
    assert sorted(e.name for e in block.segments[0].events) == [
        "Events event_id=11 ttl=0",
        "Events event_id=11 ttl=1",
    ]
    split = neo.io.NeuralynxIO(dirname=str(plain)).read_block(signal_group_mode="split-all")
    assert sorted(a.name for a in split.segments[0].analogsignals) == sorted(LAB_CHANNELS)

    write_session(gapped, 2000.0, 5000, 3001, nev_first_us=T_FIRST_US - 250_000)
    block = neo.io.NeuralynxIO(dirname=str(gapped), gap_tolerance_ms=1.0).read_block()
    assert len(block.segments) == 2
    # our explicit clock zero is neo's default one
    ch = read_channel(gapped, "EMG")
    for seg, t_expected in zip(block.segments, (ch.time_s[0], ch.time_s[ch.gaps[0, 1]]), strict=True):
        assert float(seg.analogsignals[0].t_start) == pytest.approx(t_expected, abs=1e-9)


# ----------------------------------------------------------------------------------------------- errors


def test_missing_channel_lists_available(tmp_path):
    write_session(tmp_path, 2000.0, 600, 600, channels=("EMG", "CBvsPCEEG"))
    with pytest.raises(InputFormatError) as err:
        read_channel(tmp_path, "PFCLFPvsCBEEG")
    msg = str(err.value)
    assert str(tmp_path) in msg and "'PFCLFPvsCBEEG'" in msg and "CBvsPCEEG, EMG" in msg


def test_truncated_ncs(tmp_path):
    write_session(tmp_path, 2000.0, 2000, 600, channels=("EMG", "CBvsPCEEG"))
    path = tmp_path / "EMG.ncs"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(InputFormatError, match=r"EMG\.ncs.*whole 1044-byte records"):
        read_channel(tmp_path, "EMG")
    assert read_channel(tmp_path, "CBvsPCEEG").n_segments == 2  # the other channels stay readable
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(InputFormatError, match=r"EMG\.ncs.*shorter than the 16384-byte"):
        read_channel(tmp_path, "EMG")


def test_header_only_and_garbage_ncs(tmp_path):
    write_session(tmp_path, 2000.0, 600, 600, channels=("EMG",))
    (tmp_path / "EMG.ncs").write_bytes((tmp_path / "EMG.ncs").read_bytes()[:HEADER_BYTES])
    assert list_channels(tmp_path) == ()
    with pytest.raises(InputFormatError, match="no data records"):
        read_channel(tmp_path, "EMG")
    (tmp_path / "CSC9.ncs").write_bytes(b"not a header".ljust(HEADER_BYTES + 1044, b"\0"))
    with pytest.raises(InputFormatError, match=r"CSC9\.ncs.*Neuralynx header"):
        read_channel(tmp_path, "CSC9")


def test_cube2_header_gives_clear_error(tmp_path):
    write_session(tmp_path, 2000.0, 600, 600, channels=("EMG",))
    rewrite_header(
        tmp_path / "EMG.ncs",
        "-HardwareSubSystemType DigitalLynxSX",
        "-FileVersion 3.4\r\n-AcquisitionSystem AcqSystem1 Cube2",
    )
    with pytest.raises(InputFormatError, match=r"EMG\.ncs.*Cube2"):
        read_channel(tmp_path, "EMG")


def test_folder_without_events(tmp_path):
    write_session(tmp_path, 2000.0, 600, 600, channels=("EMG",))
    with pytest.raises(InputFormatError, match="Events\\*\\.nev") as err:
        read_events(tmp_path)
    assert str(tmp_path) in str(err.value)
    with pytest.raises(InputFormatError, match="does not exist"):
        read_channel(tmp_path / "nope", "EMG")
