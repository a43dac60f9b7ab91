"""Write Cheetah-format (Neuralynx) ``.ncs``/``.nev`` files for simulated sessions.

The files are laid out exactly as Cheetah writes them (16 KiB text header, then fixed-size records), so
that tests, benchmarks and the demo exercise the real reader, :mod:`ace_core.io.neuralynx`, which also
defines the format's constants used here. Every file is written atomically (:func:`atomic_file`): readers
never see half a file.

Polarity
    :func:`write_ncs` with ``input_inverted=True`` stores negated samples, as Cheetah does; the reader
    (through neo) negates them back, so a round trip returns the physical input polarity.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from ace_core.io.neuralynx import (
    AD_MAX_VALUE,
    CHEETAH_REV,
    DEFAULT_AD_BIT_VOLTS,
    HEADER_BYTES,
    NCS_RECORD_DTYPE,
    NCS_RECORD_SAMPLES,
    NEV_RECORD_DTYPE,
    TTL_EVENT_ID,
    TTL_HIGH_LABEL,
    TTL_LOW_LABEL,
)
from ace_core.store.atomic import atomic_file

__all__ = ["NevEvent", "ttl_edge_events", "write_ncs", "write_nev"]


@dataclass(frozen=True)
class NevEvent:
    """One ``.nev`` record: µs timestamp, Cheetah event id, TTL port value and event string."""

    timestamp_us: int
    event_id: int
    ttl: int
    label: str


def write_ncs(
    path: str | os.PathLike,
    segments: Sequence[tuple[int, np.ndarray]],
    fs_hz: float,
    *,
    channel_name: str,
    ad_channel: int,
    ad_bit_volts: float = DEFAULT_AD_BIT_VOLTS,
    input_range_uv: int = 1000,
    time_created: datetime | None = None,
    input_inverted: bool = False,
) -> None:
    """Write one CSC channel as Cheetah does, atomically.

    Each segment is cut into 512-sample records (the last one may be partial, zero padded), record ``i``
    stamped ``start_us + round(i * 512e6 / fs_hz)``. Samples are stored as
    ``round(uv / (ad_bit_volts * 1e6))`` clipped to int16 (negated when ``input_inverted``).

    Parameters
    ----------
    path
        The ``.ncs`` file to write (replaced if it exists).
    segments
        ``(start_timestamp_us, samples_uv)`` pairs in time order, separated by pauses longer than one
        sample (each pause is a recording gap). Samples are finite µV values, 1-D and non-empty.
    fs_hz
        Sampling rate written to ``-SamplingFrequency`` and used to stamp the records.
    channel_name
        ``-AcqEntName``: one word without spaces (neo splits the name on spaces).
    ad_channel
        ``-ADChannel`` and the records' channel id.
    ad_bit_volts
        Volts per integer step (``-ADBitVolts``).
    input_range_uv
        ``-InputRange`` in µV (header only).
    time_created
        Header open time; now when None. The close time adds the recorded span.
    input_inverted
        Write ``-InputInverted True`` and store negated samples.

    Raises
    ------
    ValueError
        On a non-positive rate or bit size, a channel name with spaces, no segment, a segment that is
        empty, not 1-D, not finite, stamped before 0 µs, or not separated from the previous one by more
        than one sample, or a header longer than 16 KiB.
    """
    path = Path(path)
    fs_hz = float(fs_hz)
    if not (math.isfinite(fs_hz) and fs_hz > 0):
        raise ValueError(f"fs_hz must be a positive number, got {fs_hz!r}")
    if not (ad_bit_volts > 0):
        raise ValueError(f"ad_bit_volts must be positive, got {ad_bit_volts!r}")
    if not re.fullmatch(r"\S+", channel_name):
        raise ValueError(
            f"channel_name must be one word without spaces (neo splits on them), got {channel_name!r}"
        )
    if not segments:
        raise ValueError("write_ncs needs at least one segment")

    uv_per_bit = ad_bit_volts * 1e6
    us_per_record = NCS_RECORD_SAMPLES * 1e6 / fs_hz
    blocks = []
    previous_end_us = None
    for k, (start_us, samples_uv) in enumerate(segments):
        start_us = int(start_us)
        x = np.asarray(samples_uv, dtype=np.float64)
        if x.ndim != 1 or x.size == 0:
            raise ValueError(f"segment {k}: samples must be a non-empty 1-D array, got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"segment {k}: samples must be finite (Neuralynx has no missing-value code)")
        if start_us < 0:
            raise ValueError(f"segment {k}: start timestamp must be >= 0 µs, got {start_us}")
        if previous_end_us is not None and start_us - previous_end_us <= 1e6 / fs_hz + 2:
            raise ValueError(
                f"segment {k} starts at {start_us} µs, not more than one sample after the previous one ends "
                f"({previous_end_us} µs); contiguous samples belong in one segment"
            )
        previous_end_us = start_us + round(x.size * 1e6 / fs_hz)

        n_records = -(-x.size // NCS_RECORD_SAMPLES)
        counts = np.rint((-x if input_inverted else x) / uv_per_bit)
        padded = np.zeros(n_records * NCS_RECORD_SAMPLES, dtype=np.int16)
        padded[: x.size] = np.clip(counts, -32768, 32767).astype(np.int16)
        records = np.zeros(n_records, dtype=NCS_RECORD_DTYPE)
        records["timestamp"] = start_us + np.rint(np.arange(n_records) * us_per_record).astype(np.uint64)
        records["channel_id"] = ad_channel
        records["sample_rate"] = round(fs_hz)
        records["nb_valid"] = NCS_RECORD_SAMPLES
        records["nb_valid"][-1] = x.size - (n_records - 1) * NCS_RECORD_SAMPLES
        records["samples"] = padded.reshape(n_records, NCS_RECORD_SAMPLES)
        blocks.append(records)

    opened = time_created or datetime.now()
    first_us = int(blocks[0]["timestamp"][0])
    closed = opened + timedelta(microseconds=previous_end_us - first_us)
    high_cut_hz = min(9000, int(fs_hz * 0.45))
    properties = [
        ("CheetahRev", CHEETAH_REV),
        ("FileType", "CSC"),
        ("RecordSize", str(NCS_RECORD_DTYPE.itemsize)),
        ("HardwareSubSystemName", "AcqSystem1"),
        ("HardwareSubSystemType", "DigitalLynxSX"),
        ("SamplingFrequency", _format_number(fs_hz)),
        ("ADMaxValue", str(AD_MAX_VALUE)),
        ("ADBitVolts", _format_number(ad_bit_volts)),
        ("AcqEntName", channel_name),
        ("NumADChannels", "1"),
        ("ADChannel", str(int(ad_channel))),
        ("InputRange", str(int(input_range_uv))),
        ("InputInverted", str(bool(input_inverted))),
        ("DSPLowCutFilterEnabled", "False"),
        ("DspLowCutFrequency", "0.1"),
        ("DspLowCutNumTaps", "0"),
        ("DspLowCutFilterType", "DCO"),
        ("DSPHighCutFilterEnabled", "True"),
        ("DspHighCutFrequency", str(high_cut_hz)),
        ("DspHighCutNumTaps", "64"),
        ("DspHighCutFilterType", "FIR"),
        ("DspDelayCompensation", "Disabled"),
        ("DspFilterDelay_µs", "0"),
    ]
    header = _cheetah_header(path, opened, closed, properties)
    with atomic_file(path, "wb") as handle:
        handle.write(header)
        for block in blocks:
            handle.write(block.tobytes())


def write_nev(
    path: str | os.PathLike, events: Sequence[NevEvent], *, time_created: datetime | None = None
) -> None:
    """Write an event file (16 KiB header + 184-byte records, sorted by timestamp, stable), atomically.

    Parameters
    ----------
    path
        The ``.nev`` file to write (replaced if it exists).
    events
        The records, in any order; equal timestamps keep their order.
    time_created
        Header open time; now when None. The close time adds the span of the events.

    Raises
    ------
    ValueError
        When a label is not ASCII or longer than 127 bytes (neo decodes event strings as ASCII), a TTL
        value is not a 16-bit port value or a timestamp is negative. Nothing is written then.
    """
    path = Path(path)
    ordered = sorted(events, key=lambda e: int(e.timestamp_us))
    records = np.zeros(len(ordered), dtype=NEV_RECORD_DTYPE)
    for i, event in enumerate(ordered):
        try:
            label = event.label.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError(  # noqa: B904 - the encode error adds nothing
                f"event {i}: label must be ASCII (neo decodes NEV strings as ASCII): {event.label!r}"
            )
        if len(label) > 127:
            raise ValueError(f"event {i}: label longer than 127 bytes: {event.label!r}")
        if not 0 <= int(event.ttl) <= 0xFFFF:
            raise ValueError(f"event {i}: ttl must be a 16-bit port value, got {event.ttl}")
        if int(event.timestamp_us) < 0:
            raise ValueError(f"event {i}: timestamp must be >= 0 µs, got {event.timestamp_us}")
        records[i] = (
            0,
            0,
            2,
            int(event.timestamp_us),
            int(event.event_id),
            int(event.ttl),
            0,
            0,
            0,
            0,
            label,
        )

    opened = time_created or datetime.now()
    span_us = int(records["timestamp"][-1] - records["timestamp"][0]) if len(records) else 0
    properties = [
        ("CheetahRev", CHEETAH_REV),
        ("FileType", "Event"),
        ("RecordSize", str(NEV_RECORD_DTYPE.itemsize)),
        ("AcqEntName", "Events"),  # neo names its event channels "Events event_id=11 ttl=1" after this
    ]
    header = _cheetah_header(path, opened, opened + timedelta(microseconds=span_us), properties)
    with atomic_file(path, "wb") as handle:
        handle.write(header)
        handle.write(records.tobytes())


def ttl_edge_events(times_us: np.ndarray, first_value: int = 1) -> list[NevEvent]:
    """Frame-sync TTL edges: the miniscope DAQ toggles port 0 once per frame, so edges alternate high/low.

    Parameters
    ----------
    times_us
        1-D edge times in whole µs, in order.
    first_value
        Port value after the first edge (0 or 1); later edges alternate.

    Returns
    -------
    list of NevEvent
        One TTL event (event id ``TTL_EVENT_ID``, Cheetah's high/low label) per edge.

    Raises
    ------
    ValueError
        When ``first_value`` is not 0 or 1, or ``times_us`` is not 1-D or not whole microseconds.
    """
    if first_value not in (0, 1):
        raise ValueError(f"first_value must be 0 or 1, got {first_value!r}")
    times = np.asarray(times_us)
    if times.ndim != 1:
        raise ValueError(f"times_us must be 1-D, got shape {times.shape}")
    if times.size and not np.array_equal(times, np.round(times)):
        raise ValueError("times_us must be whole microseconds")
    events = []
    for i, t in enumerate(times.astype(np.int64).tolist()):
        value = first_value if i % 2 == 0 else 1 - first_value
        events.append(NevEvent(t, TTL_EVENT_ID, value, TTL_HIGH_LABEL if value else TTL_LOW_LABEL))
    return events


def _format_number(x: float) -> str:
    """Shortest exact positional form, as Cheetah writes numbers ("2000", "0.0000000305...")."""
    return np.format_float_positional(float(x), unique=True, trim="-")


def _cheetah_header(
    path: Path, opened: datetime, closed: datetime, properties: list[tuple[str, str]]
) -> bytes:
    def stamp(t: datetime) -> str:
        clock = f"{t.hour}:{t.minute}:{t.second}.{t.microsecond // 1000:03d}"
        return f"{t.month}/{t.day}/{t.year}  (h:m:s.ms) {clock}"

    lines = [
        "######## Neuralynx Data File Header",
        f"## File Name {path}",
        f"## Time Opened (m/d/y): {stamp(opened)}",
        f"## Time Closed (m/d/y): {stamp(closed)}",
        "",
        *(f"-{key} {value}" for key, value in properties),
    ]
    text = ("\r\n".join(lines) + "\r\n").encode("latin-1")
    if len(text) >= HEADER_BYTES:
        raise ValueError(f"header text for {path} is longer than {HEADER_BYTES} bytes")
    return text.ljust(HEADER_BYTES, b"\0")
