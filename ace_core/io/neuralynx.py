"""Neuralynx (Cheetah) session folders: read ``.ncs`` channels and ``.nev`` events through neo.

A session folder holds one ``.ncs`` file per continuously sampled channel (CSC) and an ``Events*.nev`` file
with the TTL edges and typed events. Everything is read through ``neo.rawio.NeuralynxRawIO`` (the project
standard: neo must read our files), one channel at a time, so that a 40 kHz session does not load every
channel. The format's constants (record layouts, header size, TTL labels) are defined here; the writer of
simulated sessions, :mod:`ace_core.simulation.neuralynx_files`, imports them.

Clock
    All times returned here are seconds on the *session clock*: raw Neuralynx µs timestamp minus
    :func:`session_start_us`, the earliest first-record timestamp of the folder's ``.ncs``/``.nev``/``.nse``/
    ``.ntt`` files. That is neo's default time zero, made explicit, computed in integer µs.

Sampling rate (nominal rate vs record clock)
    Each 512-sample record carries its own µs timestamp. If those timestamps agree with the header
    ``-SamplingFrequency`` to within half a sample everywhere, ``fs_hz`` is the header rate, exactly. If they
    do not (the real clock runs at e.g. 1999.2 Hz for a stated 2000 Hz, or Cheetah wrote a rounded rate), a
    uniform time vector at the stated rate drifts against the record clock (12.8 ms over 25.6 s at 0.05 %),
    which would misplace every TTL. ``fs_hz`` is then the rate fitted to the record timestamps (one slope,
    one offset per segment) and ``EphysChannel.max_time_error_s`` says how far ``time_s`` still is from the
    record clock; a warning is issued when that exceeds half a sample.

Polarity (``-InputInverted True``)
    Cheetah stores the samples of an inverted channel negated; neo negates the gain of inverted channels, so
    the values returned are the physical input polarity.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ace_core.errors import InputFormatError

__all__ = [
    "AD_MAX_VALUE",
    "CHEETAH_REV",
    "DEFAULT_AD_BIT_VOLTS",
    "HEADER_BYTES",
    "LAB_CHANNELS",
    "NCS_RECORD_DTYPE",
    "NCS_RECORD_SAMPLES",
    "NEV_RECORD_DTYPE",
    "TTL_EVENT_ID",
    "TTL_HIGH_LABEL",
    "TTL_LOW_LABEL",
    "EphysChannel",
    "EphysEvents",
    "list_channels",
    "read_channel",
    "read_events",
    "session_start_us",
]

TTL_HIGH_LABEL = "TTL Input on AcqSystem1_0 board 0 port 0 value (0x0001)."
TTL_LOW_LABEL = "TTL Input on AcqSystem1_0 board 0 port 0 value (0x0000)."
TTL_LABEL_PREFIX = "TTL Input"
TTL_EVENT_ID = 11  # Cheetah's event id for TTL input port changes
NCS_RECORD_SAMPLES = 512
LAB_CHANNELS = ("PFCLFPvsCBEEG", "PFCEEGvsCBEEG", "PCvsPFCEEG", "CBvsPCEEG", "EMG")

HEADER_BYTES = 16384
AD_MAX_VALUE = 32767
DEFAULT_AD_BIT_VOLTS = 1000e-6 / AD_MAX_VALUE  # what Cheetah writes for a ±1000 µV input range
CHEETAH_REV = "5.6.3"

NCS_RECORD_DTYPE = np.dtype(
    [
        ("timestamp", "<u8"),
        ("channel_id", "<u4"),
        ("sample_rate", "<u4"),
        ("nb_valid", "<u4"),
        ("samples", "<i2", (NCS_RECORD_SAMPLES,)),
    ]
)
NEV_RECORD_DTYPE = np.dtype(
    [
        ("nstx", "<i2"),
        ("npkt_id", "<i2"),
        ("npkt_data_size", "<i2"),
        ("timestamp", "<u8"),
        ("event_id", "<i2"),
        ("ttl", "<u2"),
        ("crc", "<i2"),
        ("dummy1", "<i2"),
        ("dummy2", "<i2"),
        ("extra", "<i4", (8,)),
        ("event_string", "S128"),
    ]
)

# Offset of the uint64 µs timestamp inside one record, per file type (neo's time-zero files).
_FIRST_TIMESTAMP_OFFSET = {".ncs": 0, ".nev": 6, ".nse": 0, ".ntt": 0}
_READ_CHUNK_SAMPLES = 1 << 22


# ----------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True, eq=False)
class EphysChannel:
    """One CSC channel on a uniform grid, NaN where the recording was paused.

    ``signal_uv[i]`` is the sample at ``t0_s + i / fs_hz`` on the session clock.

    Attributes
    ----------
    name
        Channel name.
    signal_uv
        Samples (µV, float64), NaN in the gaps.
    fs_hz
        Sampling rate (Hz): the header rate, or the rate fitted to the record clock (see the module
        docstring).
    t0_s
        Time of the first sample on the session clock (s).
    gaps
        ``[start, stop)`` index ranges between recorded segments (all NaN), shape (n_gaps, 2).
    session_start_us
        Raw Neuralynx timestamp (µs) of the session clock's zero.
    source
        The ``.ncs`` file.
    max_time_error_s
        Largest distance (s) between ``time_s`` and the per-record µs timestamps.
    header_fs_hz
        The header's ``-SamplingFrequency`` (Hz).
    """

    name: str
    signal_uv: np.ndarray
    fs_hz: float
    t0_s: float
    gaps: np.ndarray
    session_start_us: int
    source: Path
    max_time_error_s: float = 0.0
    header_fs_hz: float | None = None

    @property
    def time_s(self) -> np.ndarray:
        """Session-clock time of every sample (s)."""
        return self.t0_s + np.arange(self.signal_uv.size) / self.fs_hz

    @property
    def n_segments(self) -> int:
        """Number of recorded stretches (gaps + 1); segments that abut on the grid count as one."""
        return int(self.gaps.shape[0]) + 1 if self.signal_uv.size else 0


@dataclass(frozen=True, eq=False)
class EphysEvents:
    """All events of a session's ``.nev`` file, neo's (event_id, ttl) channels merged, sorted by time.

    Attributes
    ----------
    labels
        Event strings.
    times_s
        Event times on the session clock (s).
    source
        The ``.nev`` file.
    """

    labels: np.ndarray
    times_s: np.ndarray
    source: Path

    def ttl_edge_times_s(self, labels: Sequence[str] = (TTL_HIGH_LABEL, TTL_LOW_LABEL)) -> np.ndarray:
        """Sorted times (s) of the frame-sync edges (both levels: every edge is one miniscope frame).

        Parameters
        ----------
        labels
            Event labels that count as edges (default: the TTL port's high and low values).

        Returns
        -------
        numpy.ndarray
            Session-clock times (s), sorted.
        """
        return np.sort(self.times_s[np.isin(self.labels, list(labels))])

    def experiment_events(self) -> EphysEvents:
        """Everything that is not a TTL port change ("Starting Recording", drug annotations, ...).

        Returns
        -------
        EphysEvents
            The events whose label does not start with "TTL Input".
        """
        keep = ~np.char.startswith(self.labels.astype(str), TTL_LABEL_PREFIX)
        return EphysEvents(labels=self.labels[keep], times_s=self.times_s[keep], source=self.source)


def list_channels(session_dir: str | os.PathLike) -> tuple[str, ...]:
    """Channel names of the folder's non-empty ``.ncs`` files, by file name.

    Header-only ``.ncs`` files are left out, as neo skips them.

    Parameters
    ----------
    session_dir
        The Neuralynx session folder.

    Returns
    -------
    tuple of str
        ``-AcqEntName`` of each file, else its file stem.

    Raises
    ------
    InputFormatError
        If ``session_dir`` is not a folder.
    """
    folder = _session_folder(session_dir)
    return tuple(name for name, path in _channel_files(folder) if path.stat().st_size > HEADER_BYTES)


def session_start_us(session_dir: str | os.PathLike) -> int:
    """Raw µs timestamp of the session clock's zero: earliest first-record timestamp of the files neo reads.

    Matches neo's default time zero (first record of every ``.ncs``, ``.nev``, ``.nse`` and ``.ntt``;
    header-only files ignored).

    Parameters
    ----------
    session_dir
        The Neuralynx session folder.

    Returns
    -------
    int
        Timestamp (µs).

    Raises
    ------
    InputFormatError
        If ``session_dir`` is not a folder or holds no such file with records.
    """
    folder = _session_folder(session_dir)
    firsts = []
    for path in _files_with_suffix(folder, tuple(_FIRST_TIMESTAMP_OFFSET)):
        # Only the first record's timestamp is needed, so a truncated tail elsewhere does not move the zero.
        offset = HEADER_BYTES + _FIRST_TIMESTAMP_OFFSET[path.suffix.lower()]
        if path.stat().st_size >= offset + 8:
            firsts.append(int(np.fromfile(path, dtype="<u8", count=1, offset=offset)[0]))
    if not firsts:
        raise InputFormatError(folder, "no Neuralynx .ncs/.nev/.nse/.ntt file with records in this folder")
    return min(firsts)


def read_channel(session_dir: str | os.PathLike, channel_name: str) -> EphysChannel:
    """Read one CSC channel through neo (only that file is opened) onto a NaN-gapped uniform grid.

    Recording pauses longer than one sample become separate neo segments; segment ``k`` starts at grid index
    ``round((t_k - t_0) * fs_hz)`` with ``t_k`` its first record timestamp. A warning is issued when the
    record timestamps deviate from the uniform clock by more than half a sample.

    Parameters
    ----------
    session_dir
        The Neuralynx session folder.
    channel_name
        ``-AcqEntName`` (else file stem) of the channel, as in :func:`list_channels`.

    Returns
    -------
    EphysChannel

    Raises
    ------
    InputFormatError
        If the channel is not found (or is in several files), the file is not a header plus whole records or
        has no records, the header has no positive ``-SamplingFrequency`` or cannot be read by neo, a record
        other than a segment's last is partial, or segments overlap on the sample grid.
    """
    folder = _session_folder(session_dir)
    path = _channel_path(folder, channel_name)
    n_records = _check_layout(path, NCS_RECORD_DTYPE.itemsize)
    if n_records == 0:
        raise InputFormatError(path, "the file has a header but no data records")
    header = _read_header(path)
    try:
        header_fs_hz = float(header["SamplingFrequency"])
    except (KeyError, ValueError):
        raise InputFormatError(path, "expected a '-SamplingFrequency <Hz>' line in the header") from None
    if not (math.isfinite(header_fs_hz) and header_fs_hz > 0):
        raise InputFormatError(path, f"-SamplingFrequency must be positive, got {header_fs_hz}")

    reader = _neo_reader(folder, path, gap_tolerance_ms=1e3 / header_fs_hz)
    if reader.signal_streams_count() != 1 or reader.signal_channels_count(0) != 1:
        raise InputFormatError(path, "expected exactly one continuously sampled channel in the file")

    records = np.memmap(path, dtype=NCS_RECORD_DTYPE, mode="r", offset=HEADER_BYTES, shape=(n_records,))
    record_us = records["timestamp"].astype(np.int64)
    nb_valid = records["nb_valid"].astype(np.int64)
    del records

    # Map neo's segments onto runs of records: neo reads every record but a segment's last as 512 samples.
    segments = []  # (first record, number of records, number of samples)
    cursor = 0
    for seg in range(reader.segment_count(0)):
        n_samples = int(reader.get_signal_size(0, seg, 0))
        t_start_us = round(reader.get_signal_t_start(0, seg, 0) * 1e6)
        n_rec = -(-n_samples // NCS_RECORD_SAMPLES)
        if cursor + n_rec > n_records or record_us[cursor] != t_start_us:
            raise InputFormatError(
                path, f"neo's segments do not line up with the records near record {cursor}"
            )
        partial = np.flatnonzero(nb_valid[cursor : cursor + n_rec - 1] != NCS_RECORD_SAMPLES)
        if partial.size:
            i = cursor + int(partial[0])
            raise InputFormatError(
                path,
                f"record {i} holds {nb_valid[i]} valid samples but the next record follows without a gap; "
                f"expected {NCS_RECORD_SAMPLES} (neo would read the padding as signal)",
            )
        segments.append((cursor, n_rec, n_samples))
        cursor += n_rec
    if cursor != n_records:
        raise InputFormatError(path, f"neo's segments cover {cursor} of {n_records} records")

    fs_hz, max_error_us = _sampling_rate(record_us, segments, header_fs_hz)
    if max_error_us > 0.5e6 / fs_hz:
        warnings.warn(
            f"{path}: record timestamps deviate up to {max_error_us / 1e3:.3f} ms from a uniform "
            f"{fs_hz:.6f} Hz clock within a segment; time_s is only that accurate",
            stacklevel=2,
        )

    t0_us = int(record_us[0])
    starts = [round((int(record_us[first]) - t0_us) * fs_hz / 1e6) for first, _, _ in segments]
    ends = [start + n for start, (_, _, n) in zip(starts, segments, strict=True)]
    for k in range(1, len(segments)):
        if starts[k] < ends[k - 1]:
            raise InputFormatError(
                path,
                f"segment starting at record {segments[k][0]} overlaps the previous one on the sample grid",
            )

    signal_uv = np.full(ends[-1], np.nan)
    for seg, (start, (_, _, n)) in enumerate(zip(starts, segments, strict=True)):
        for i in range(0, n, _READ_CHUNK_SAMPLES):
            j = min(n, i + _READ_CHUNK_SAMPLES)
            raw = reader.get_analogsignal_chunk(
                block_index=0, seg_index=seg, i_start=i, i_stop=j, stream_index=0, channel_indexes=[0]
            )
            signal_uv[start + i : start + j] = reader.rescale_signal_raw_to_float(
                raw, dtype="float64", stream_index=0, channel_indexes=[0]
            )[:, 0]
    gaps = np.array(
        [(ends[k - 1], starts[k]) for k in range(1, len(segments)) if starts[k] > ends[k - 1]], dtype=np.int64
    ).reshape(-1, 2)

    start_us = session_start_us(folder)
    return EphysChannel(
        name=channel_name,
        signal_uv=signal_uv,
        fs_hz=fs_hz,
        t0_s=(t0_us - start_us) / 1e6,
        gaps=gaps,
        session_start_us=start_us,
        source=path,
        max_time_error_s=max_error_us / 1e6,
        header_fs_hz=header_fs_hz,
    )


def read_events(session_dir: str | os.PathLike) -> EphysEvents:
    """Read the folder's single ``Events*.nev`` through neo; (event_id, ttl) channels merged, time-sorted.

    Parameters
    ----------
    session_dir
        The Neuralynx session folder.

    Returns
    -------
    EphysEvents
        Times on the session clock (s); empty arrays when the file has no records.

    Raises
    ------
    InputFormatError
        If there is not exactly one ``Events*.nev`` file, it is not a header plus whole records, an event
        string is not ASCII, or neo does not return every record.
    """
    folder = _session_folder(session_dir)
    candidates = [p for p in _files_with_suffix(folder, (".nev",)) if p.name.lower().startswith("events")]
    if not candidates:
        others = ", ".join(p.name for p in _files_with_suffix(folder, (".nev",)))
        found = f"only {others}" if others else "none"
        raise InputFormatError(folder, f"expected one Events*.nev event file, found {found}")
    if len(candidates) > 1:
        raise InputFormatError(
            folder, f"expected one Events*.nev event file, found {[p.name for p in candidates]}"
        )
    path = candidates[0]
    n_records = _check_layout(path, NEV_RECORD_DTYPE.itemsize)
    start_us = session_start_us(folder)
    if n_records == 0:
        return EphysEvents(
            labels=np.array([], dtype=str), times_s=np.array([], dtype=np.float64), source=path
        )

    stamps = np.memmap(path, dtype=NEV_RECORD_DTYPE, mode="r", offset=HEADER_BYTES)["timestamp"]
    lo_us, hi_us = int(stamps.min()), int(stamps.max())
    del stamps
    reader = _neo_reader(folder, path)
    all_us, all_labels = [], []
    for c in range(reader.event_channels_count()):
        # Explicit, padded limits: neo's default ones go through float seconds and int() truncation.
        try:
            ts, _, labels = reader.get_event_timestamps(
                0, 0, c, t_start=(lo_us - 1000) / 1e6, t_stop=(hi_us + 1000) / 1e6
            )
        except UnicodeDecodeError as exc:
            raise InputFormatError(
                path, f"event strings must be ASCII (neo decodes them as ASCII): {exc}"
            ) from None
        all_us.append(np.asarray(ts, dtype=np.int64))
        all_labels.append(np.asarray(labels, dtype=str))
    times_us = np.concatenate(all_us)
    labels = np.concatenate(all_labels)
    if times_us.size != n_records:
        raise InputFormatError(path, f"neo returned {times_us.size} of the {n_records} event records")
    order = np.argsort(times_us, kind="stable")
    return EphysEvents(labels=labels[order], times_s=(times_us[order] - start_us) / 1e6, source=path)


# ----------------------------------------------------------------------------------------------- helpers


def _session_folder(session_dir: str | os.PathLike) -> Path:
    folder = Path(session_dir)
    if not folder.is_dir():
        raise InputFormatError(
            folder, "expected a Neuralynx session folder; it does not exist or is not a folder"
        )
    return folder


def _files_with_suffix(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def _read_header(path: Path) -> dict[str, str]:
    """``-Key value`` lines of a Cheetah text header (neo parses it again; this is for our checks)."""
    with open(path, "rb") as f:
        raw = f.read(HEADER_BYTES)
    if not raw.startswith(b"########"):
        raise InputFormatError(
            path, "expected a Neuralynx header starting with '######## Neuralynx Data File Header'"
        )
    text = raw.rstrip(b"\0").decode("latin-1")
    header = {}
    for line in text.splitlines():
        m = re.match(r"\s*-(\S+)\s*(.*)$", line)
        if m:
            header.setdefault(m.group(1), m.group(2).strip())
    return header


def _check_layout(path: Path, record_bytes: int) -> int:
    """Number of records; the file must be a 16 KiB header plus whole records."""
    size = path.stat().st_size
    if size < HEADER_BYTES:
        raise InputFormatError(
            path, f"file is {size} bytes, shorter than the {HEADER_BYTES}-byte Neuralynx header"
        )
    if (size - HEADER_BYTES) % record_bytes:
        raise InputFormatError(
            path,
            f"file size {size} is not a {HEADER_BYTES}-byte header plus whole {record_bytes}-byte records "
            f"(truncated? {(size - HEADER_BYTES) % record_bytes} bytes left over)",
        )
    return (size - HEADER_BYTES) // record_bytes


def _channel_files(folder: Path) -> list[tuple[str, Path]]:
    """(name, path) of every .ncs; a file with an unreadable header goes by its stem (reading it fails)."""
    out = []
    for path in _files_with_suffix(folder, (".ncs",)):
        try:
            name = _read_header(path).get("AcqEntName", "").split(" ")[0]
        except InputFormatError:
            name = ""
        out.append((name or path.stem, path))
    return out


def _channel_path(folder: Path, channel_name: str) -> Path:
    files = _channel_files(folder)
    matches = [path for name, path in files if name == channel_name]
    if not matches:
        available = ", ".join(name for name, _ in files) or "none"
        raise InputFormatError(
            folder, f"no .ncs channel named {channel_name!r}; available channels: {available}"
        )
    if len(matches) > 1:
        raise InputFormatError(
            folder, f"channel {channel_name!r} is in several files: {', '.join(p.name for p in matches)}"
        )
    return matches[0]


def _neo_reader(folder: Path, path: Path, gap_tolerance_ms: float | None = None):
    """A parsed ``NeuralynxRawIO`` over one file; header problems become InputFormatError naming the file."""
    from neo.rawio import NeuralynxRawIO

    reader = NeuralynxRawIO(
        dirname=str(folder),
        include_filenames=[path.name],
        keep_original_times=True,
        gap_tolerance_ms=gap_tolerance_ms,
    )
    try:
        reader.parse_header()
    except (KeyError, TypeError, ValueError, OSError, AssertionError, IndexError) as exc:
        header = _read_header(path)
        hint = ""
        if "HardwareSubSystemType" not in header and "AcquisitionSystem" in header:
            hint = (
                f" The header names '-AcquisitionSystem {header['AcquisitionSystem']}' without "
                "-HardwareSubSystemType; neo 0.14 knows DigitalLynx, DigitalLynxSX, Cheetah64, "
                "RawDataFile and ATLAS (Cube2 headers are not supported)."
            )
        raise InputFormatError(
            path,
            f"neo cannot read this Neuralynx header ({type(exc).__name__}: {exc}); expected "
            "-SamplingFrequency, -ADBitVolts, -ADChannel, a known acquisition system and an open time."
            + hint,
        ) from exc
    return reader


def _sampling_rate(
    record_us: np.ndarray, segments: list[tuple[int, int, int]], header_fs_hz: float
) -> tuple[float, float]:
    """(fs_hz, worst |record timestamp - uniform clock| in µs): header rate unless the records disagree."""
    sample_idx = np.arange(
        NCS_RECORD_SAMPLES * max(n_rec for _, n_rec, _ in segments), step=NCS_RECORD_SAMPLES
    )

    def worst_error_us(us_per_sample: float) -> float:
        worst = 0.0
        for first, n_rec, _ in segments:
            ts = record_us[first : first + n_rec]
            predicted = ts[0] + sample_idx[:n_rec] * us_per_sample
            worst = max(worst, float(np.max(np.abs(ts - predicted))))
        return worst

    nominal_error = worst_error_us(1e6 / header_fs_hz)
    if nominal_error <= 0.5e6 / header_fs_hz:
        return header_fs_hz, nominal_error
    # One slope for all segments, one intercept per segment (least squares on record starts).
    num = den = 0.0
    for first, n_rec, _ in segments:
        if n_rec < 2:
            continue
        s = sample_idx[:n_rec].astype(np.float64)
        t = (record_us[first : first + n_rec] - record_us[first]).astype(np.float64)
        s -= s.mean()
        num += float(np.dot(s, t - t.mean()))
        den += float(np.dot(s, s))
    if den == 0 or num <= 0:
        return header_fs_hz, nominal_error
    us_per_sample = num / den
    return 1e6 / us_per_sample, worst_error_us(us_per_sample)
