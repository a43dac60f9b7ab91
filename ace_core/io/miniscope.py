"""UCLA Miniscope DAQ-QT (V3/V4 scope) recordings on disk: read them, streaming.

The DAQ software writes one session folder::

    <session>/metaData.json             session level (researcher, animal, start time, device names)
    <session>/<deviceName>/0.avi 1.avi  8-bit grey movies, ``framesPerFile`` frames each (last may be shorter)
    <session>/<deviceName>/metaData.json     device level (``frameRate`` "30FPS", ``framesPerFile``, ROI, ...)
    <session>/<deviceName>/timeStamps.csv    one row per saved frame, host clock in ms since record start
    <session>/<behaviour camera>/...         the same pattern for each behaviour camera

Pitfalls this module exists to avoid (upstream ``ace_neuro`` hit all of them):

* movies are ordered by the integer in the file name, never by mtime or lexically (``0, 1, 10, 11, 2``);
* only the Miniscope device folder is read, never a behaviour camera's ``0.avi``/``timeStamps.csv``;
* the AVI header frame rate is always 60, whatever the real rate: the true nominal rate is the device
  ``frameRate`` and the true frame times are ``timeStamps.csv``;
* ``timeStamps.csv`` columns are read by name, since newer DAQ builds append ``DAQ Frame Number`` and
  ``Unix Time Stamp (ms)``.

Memory is bounded: the reader yields chunks of frames, so no function here ever holds a whole movie. The
layout's names (``DEVICE_DIR``, ``TIMESTAMPS_FILE``, ...) are defined here; the writer of simulated
recordings, :mod:`ace_core.simulation.miniscope_files`, imports them.
"""

from __future__ import annotations

import csv
import json
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import numpy as np

from ace_core.errors import InputFormatError

__all__ = [
    "AVI_HEADER_RATE_HZ",
    "DEVICE_DIR",
    "METADATA_FILE",
    "MOVIE_NAME_PATTERN",
    "TIMESTAMPS_FILE",
    "TIMESTAMPS_HEADER",
    "MiniscopeRecording",
    "find_device_dir",
    "iter_frames",
    "open_recording",
    "parse_frame_rate",
    "parse_recording_start",
    "read_frames",
    "read_timestamps",
]

DEVICE_DIR = "Miniscope"
TIMESTAMPS_HEADER = ("Frame Number", "Time Stamp (ms)", "Buffer Index")
TIMESTAMPS_FILE = "timeStamps.csv"
METADATA_FILE = "metaData.json"
# The DAQ hard-codes 60 in its VideoWriter call; we mimic it so files look like the real thing.
AVI_HEADER_RATE_HZ = 60

# Movie files are "<integer>.avi", ordered by that integer.
MOVIE_NAME_PATTERN = re.compile(r"^(\d+)\.avi$", re.IGNORECASE)

_FRAME_COLUMN, _TIME_COLUMN = TIMESTAMPS_HEADER[:2]
_FRAME_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(?:fps)?\s*$", re.IGNORECASE)
_START_FIELDS = ("year", "month", "day", "hour", "minute", "second", "msec")
_EXCLUDED_DIRS = {"saved_movies", "experiment"}


# ----------------------------------------------------------------------------------------------------
# Small parsers
# ----------------------------------------------------------------------------------------------------


def parse_frame_rate(value: Any, *, path: str | Path = "<frameRate>") -> float:
    """Nominal frame rate (Hz), a float, from a DAQ ``frameRate`` value ("20FPS", "30 FPS", 20, "19.98").

    Parameters
    ----------
    value, path
        The value, and its source (e.g. the device metaData.json), named only in the error message.

    Raises
    ------
    InputFormatError
        Unless the value is a positive number, optionally followed by "FPS" (booleans are refused).
    """
    rate: float | None = None
    if isinstance(value, bool):
        rate = None
    elif isinstance(value, int | float | np.integer | np.floating):
        rate = float(value)
    elif isinstance(value, str):
        match = _FRAME_RATE.match(value)
        if match:
            rate = float(match.group(1))
    if rate is None or not math.isfinite(rate) or rate <= 0:
        raise InputFormatError(
            path,
            f"frameRate {value!r} is not a frame rate; expected a positive number, optionally followed "
            "by 'FPS' (e.g. '30FPS', '19.98', 20)",
        )
    return rate


def parse_recording_start(session_metadata: dict) -> datetime | None:
    """Recording start from the session ``metaData.json`` (a dict), nested or flat.

    Returns
    -------
    datetime.datetime or None
        From ``msecSinceEpoch`` when present (preferred: unambiguous), an aware UTC datetime; otherwise from
        the wall-clock fields (year .. second, optional msec), a naive local one; None when neither is there.
        Newer DAQ builds nest the fields in ``recordingStartTime``; older ones write them flat at top level.
    """
    nested = session_metadata.get("recordingStartTime")
    source = nested if isinstance(nested, dict) else session_metadata
    epoch_ms = source.get("msecSinceEpoch")
    if isinstance(epoch_ms, int | float) and not isinstance(epoch_ms, bool):
        return datetime.fromtimestamp(epoch_ms / 1000.0, tz=UTC)
    if all(isinstance(source.get(key), int) for key in _START_FIELDS[:6]):
        y, mo, d, h, mi, s = (source[key] for key in _START_FIELDS[:6])
        msec = source.get("msec", 0)
        return datetime(y, mo, d, h, mi, s, int(msec) * 1000 if isinstance(msec, int) else 0)
    return None


def _load_json(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputFormatError(path, "file not found; expected the DAQ metaData.json") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputFormatError(
            path, f"invalid JSON at column {err.colno}: {err.msg}", line=err.lineno
        ) from None
    if not isinstance(data, dict):
        raise InputFormatError(path, f"expected a JSON object at top level, found {type(data).__name__}")
    return data


def _try_load_json(path: Path) -> dict | None:
    """Metadata when the file is present and a JSON object; None otherwise (used only for discovery)."""
    try:
        return _load_json(path)
    except InputFormatError:
        return None


def read_timestamps(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(frame_numbers, timestamps_s)`` (int64, float64) of a DAQ ``timeStamps.csv``, columns found by name.

    ``Time Stamp (ms)`` is the host clock relative to recording start; it is returned in seconds. Extra
    columns (``Buffer Index``, ``DAQ Frame Number``, ``Unix Time Stamp (ms)``) and blank lines are ignored.

    Raises
    ------
    InputFormatError
        For a missing or empty file (``path``), a missing column, or a cell that is not a finite number,
        naming the file, the line (1-based, the header is line 1) and the column.
    """
    path = Path(path)
    frame_numbers: list[int] = []
    times_ms: list[float] = []
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputFormatError(path, "file not found; expected the DAQ per-frame timestamps") from None
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise InputFormatError(path, f"file is empty; expected the header {','.join(TIMESTAMPS_HEADER)}")
        names = [name.strip() for name in header]
        missing = [name for name in (_FRAME_COLUMN, _TIME_COLUMN) if name not in names]
        if missing:
            raise InputFormatError(
                path,
                f"header lacks column(s) {missing}; found {names}, expected at least "
                f"{[_FRAME_COLUMN, _TIME_COLUMN]}",
                line=1,
            )
        i_frame, i_time = names.index(_FRAME_COLUMN), names.index(_TIME_COLUMN)
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            line = reader.line_num
            frame_numbers.append(_parse_cell(path, row, i_frame, _FRAME_COLUMN, line, int, "an integer"))
            times_ms.append(
                _parse_cell(path, row, i_time, _TIME_COLUMN, line, float, "a number of milliseconds")
            )
    return np.asarray(frame_numbers, dtype=np.int64), np.asarray(times_ms, dtype=np.float64) / 1000.0


def _parse_cell(path: Path, row: list[str], index: int, column: str, line: int, kind: type, expected: str):
    if index >= len(row):
        raise InputFormatError(
            path, f"row has {len(row)} fields; expected {expected}", line=line, column=column
        )
    text = row[index].strip()
    try:
        value = kind(text)
    except ValueError:
        raise InputFormatError(path, f"value {text!r} is not {expected}", line=line, column=column) from None
    if kind is float and not math.isfinite(value):
        raise InputFormatError(
            path, f"value {text!r} is not finite; expected {expected}", line=line, column=column
        )
    return value


# ----------------------------------------------------------------------------------------------------
# Discovery and opening
# ----------------------------------------------------------------------------------------------------


def _is_device_metadata(meta: dict | None) -> bool:
    return meta is not None and ("deviceType" in meta or "deviceName" in meta)


def _is_miniscope(meta: dict) -> bool:
    """A device metaData.json describes a Miniscope (deviceType "Miniscope_V4_BNO", ...) not a camera."""
    kind = str(meta.get("deviceType", "")).lower()
    if kind:
        return "miniscope" in kind
    name = str(meta.get("deviceName", "")).lower()
    return "miniscope" in name and "cam" not in name


def find_device_dir(session_dir: str | Path, device: str | None = None) -> Path:
    """The Miniscope device folder (a Path) of a DAQ session.

    Parameters
    ----------
    session_dir
        The session folder, or the device folder itself. Only direct subfolders are searched, never
        recursively, so a behaviour camera's movies cannot be mixed in.
    device
        Choose the folder of that name (spaces -> ``_``) or whose ``deviceName`` matches. None: the one
        subfolder whose ``metaData.json`` has a Miniscope ``deviceType`` (or, lacking one, ``deviceName``);
        folders the session lists under ``cameras`` are never chosen.

    Raises
    ------
    InputFormatError
        If ``session_dir`` is not a folder or is a non-Miniscope device folder, or no unique folder matches.
    """
    root = Path(session_dir)
    if not root.is_dir():
        raise InputFormatError(root, "not a folder; expected a Miniscope DAQ session or device folder")
    own_meta = _try_load_json(root / METADATA_FILE)
    if _is_device_metadata(own_meta):
        if device is None or device.replace(" ", "_") == root.name or own_meta.get("deviceName") == device:
            if device is None and not _is_miniscope(own_meta):
                raise InputFormatError(
                    root, f"is a device folder of deviceType {own_meta.get('deviceType')!r}, not a Miniscope"
                )
            return root

    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and p.name not in _EXCLUDED_DIRS)
    metas = {p: _try_load_json(p / METADATA_FILE) for p in subdirs}
    devices = {p: m for p, m in metas.items() if _is_device_metadata(m)}
    listing = [f"{p.name} ({m.get('deviceType', m.get('deviceName'))})" for p, m in devices.items()]

    if device is not None:
        matches = [p for p in subdirs if p.name == device.replace(" ", "_")]
        matches = matches or [p for p, m in devices.items() if m.get("deviceName") == device]
        if len(matches) == 1:
            return matches[0]
        raise InputFormatError(
            root, f"no unique device folder named {device!r}; device folders with metaData.json: {listing}"
        )

    cameras = {str(c).replace(" ", "_") for c in ((own_meta or {}).get("cameras") or [])}
    scopes = [p for p, m in devices.items() if _is_miniscope(m) and p.name not in cameras]
    if len(scopes) == 1:
        return scopes[0]
    if not scopes:
        raise InputFormatError(
            root,
            "no Miniscope device folder; expected a subfolder whose metaData.json has a deviceType naming "
            f"a Miniscope (e.g. 'Miniscope_V4_BNO'); device folders found: {listing}",
        )
    raise InputFormatError(
        root, f"several Miniscope device folders {[p.name for p in scopes]}; pass device= to choose one"
    )


def _list_movies(device_dir: Path) -> tuple[Path, ...]:
    """``N.avi`` of the device folder sorted by N; other ``.avi`` names are ignored with a warning."""
    numbered: dict[int, Path] = {}
    ignored: list[str] = []
    for path in device_dir.iterdir():
        if path.suffix.lower() != ".avi" or not path.is_file():
            continue
        match = MOVIE_NAME_PATTERN.match(path.name)
        if match is None:
            ignored.append(path.name)
            continue
        index = int(match.group(1))
        if index in numbered:
            raise InputFormatError(
                device_dir, f"movies {numbered[index].name!r} and {path.name!r} both have number {index}"
            )
        numbered[index] = path
    if ignored:
        warnings.warn(
            f"{device_dir}: ignoring .avi files not named <integer>.avi: {sorted(ignored)}", stacklevel=3
        )
    if not numbered:
        raise InputFormatError(device_dir, "no movies; expected 0.avi, 1.avi, ...")
    expected = range(max(numbered) + 1)
    missing = [f"{i}.avi" for i in expected if i not in numbered]
    if missing:
        raise InputFormatError(
            device_dir, f"movie file(s) {missing} missing; expected 0.avi .. {max(numbered)}.avi without gaps"
        )
    return tuple(numbered[i] for i in expected)


def _open_container(path: Path):
    try:
        return av.open(str(path))
    except av.FFmpegError as err:
        raise InputFormatError(path, f"cannot be opened as a video: {err}") from None


def _probe_movie(path: Path) -> tuple[int, int, int]:
    """``(n_frames, height, width)``: the AVI header count, or a decoding count when the header says 0."""
    with _open_container(path) as container:
        if not container.streams.video:
            raise InputFormatError(path, "has no video stream; expected an 8-bit grey Miniscope movie")
        stream = container.streams.video[0]
        n_frames, height, width = int(stream.frames or 0), stream.height, stream.width
        if n_frames == 0:
            try:
                n_frames = sum(1 for _ in container.decode(stream))
            except av.FFmpegError as err:
                raise InputFormatError(path, f"cannot be read while counting frames: {err}") from None
    return n_frames, height, width


@dataclass(frozen=True)
class MiniscopeRecording:
    """One Miniscope device's movies, timestamps and metadata, described without loading any pixels.

    Attributes
    ----------
    session_dir, device_dir, movie_paths
        The DAQ session folder, the device folder, and its ``N.avi`` files in numeric order of N.
    frames_per_movie, n_frames, height, width
        Actual frames per movie (whatever ``framesPerFile`` says), total frames, frame size (px).
    frame_rate_hz, frames_per_file
        The device's ``frameRate`` (Hz; not the AVI header's, which is always 60) and ``framesPerFile``.
    timestamps_s, frame_numbers, device_metadata, session_metadata
        ``timeStamps.csv``: host time of each frame (s since record start) and its frame number; the device
        and session ``metaData.json`` (the latter ``{}`` when absent).
    """

    session_dir: Path
    device_dir: Path
    movie_paths: tuple[Path, ...]
    frames_per_movie: tuple[int, ...]
    n_frames: int
    height: int
    width: int
    frame_rate_hz: float
    frames_per_file: int
    timestamps_s: np.ndarray = field(repr=False)
    frame_numbers: np.ndarray = field(repr=False)
    device_metadata: dict = field(repr=False)
    session_metadata: dict = field(repr=False)

    def movie_start_frames(self) -> np.ndarray:
        """Global index of each movie's first frame (int64 array, one per movie)."""
        return np.concatenate(([0], np.cumsum(self.frames_per_movie[:-1], dtype=np.int64))).astype(np.int64)

    def recording_start(self) -> datetime | None:
        """Session start time from the session metadata (either DAQ shape); None when absent."""
        return parse_recording_start(self.session_metadata)


def open_recording(session_dir: str | Path, device: str | None = None) -> MiniscopeRecording:
    """Describe a DAQ recording (a :class:`MiniscopeRecording`), cross-checking its parts; no pixels are read.

    Movies are ``N.avi`` in numeric order of N; other ``.avi`` names in the device folder (e.g. "0 copy.avi")
    are ignored with a warning rather than guessed at. Movies (but the last) that do not hold
    ``framesPerFile`` frames give a warning; frame indices follow the actual per-file counts.

    Parameters
    ----------
    session_dir, device
        As :func:`find_device_dir`. The session ``metaData.json`` is optional (the device folder alone is a
        valid input); the device one is required for the frame rate.

    Raises
    ------
    InputFormatError
        For a missing device ``metaData.json``, a bad ``frameRate``/``framesPerFile``, gaps in 0..N-1, two
        frame sizes, an unreadable movie, or not one ``timeStamps.csv`` row per movie frame.
    """
    device_dir = find_device_dir(session_dir, device)
    session_root = device_dir.parent
    session_meta_path = session_root / METADATA_FILE
    session_meta = _load_json(session_meta_path) if session_meta_path.is_file() else {}
    if _is_device_metadata(session_meta):
        session_meta = {}  # the parent is not a DAQ session folder

    meta_path = device_dir / METADATA_FILE
    device_meta = _load_json(meta_path)
    if "frameRate" not in device_meta:
        raise InputFormatError(meta_path, 'has no \'frameRate\'; expected e.g. "frameRate": "30FPS"')
    frame_rate_hz = parse_frame_rate(device_meta["frameRate"], path=meta_path)

    movie_paths = _list_movies(device_dir)
    probes = [_probe_movie(p) for p in movie_paths]
    frames_per_movie = tuple(n for n, _, _ in probes)
    height, width = probes[0][1:]
    for path, (_, h, w) in zip(movie_paths, probes, strict=True):
        if (h, w) != (height, width):
            raise InputFormatError(
                path, f"frame size {h}x{w} (HxW) differs from {movie_paths[0].name}'s {height}x{width}"
            )
    n_frames = sum(frames_per_movie)

    frames_per_file = device_meta.get("framesPerFile", frames_per_movie[0])
    if isinstance(frames_per_file, str) and frames_per_file.strip().isdigit():
        frames_per_file = int(frames_per_file)
    if isinstance(frames_per_file, bool) or not isinstance(frames_per_file, int) or frames_per_file < 1:
        raise InputFormatError(meta_path, f"framesPerFile {frames_per_file!r} is not a positive integer")
    uneven = [
        p.name for p, n in zip(movie_paths[:-1], frames_per_movie[:-1], strict=True) if n != frames_per_file
    ]
    if uneven:
        warnings.warn(
            f"{device_dir}: movies {uneven} do not hold framesPerFile={frames_per_file} frames; "
            "frame indices follow the actual per-file counts",
            stacklevel=2,
        )

    timestamps_path = device_dir / TIMESTAMPS_FILE
    frame_numbers, timestamps_s = read_timestamps(timestamps_path)
    if len(timestamps_s) != n_frames:
        raise InputFormatError(
            timestamps_path,
            f"has {len(timestamps_s)} timestamp rows but the {len(movie_paths)} movies hold "
            f"{n_frames} frames; expected one row per frame",
        )

    return MiniscopeRecording(
        session_dir=session_root,
        device_dir=device_dir,
        movie_paths=movie_paths,
        frames_per_movie=frames_per_movie,
        n_frames=n_frames,
        height=height,
        width=width,
        frame_rate_hz=frame_rate_hz,
        frames_per_file=frames_per_file,
        timestamps_s=timestamps_s,
        frame_numbers=frame_numbers,
        device_metadata=device_meta,
        session_metadata=session_meta,
    )


# ----------------------------------------------------------------------------------------------------
# Reading pixels
# ----------------------------------------------------------------------------------------------------


def _indexed_frames(container, stream, first: int) -> Iterator[tuple[int, Any]]:
    """``(local index, frame)`` pairs starting at or a little before ``first``.

    Seeks to the keyframe at or before ``first`` (FFmpeg's FFV1 carries coder state between frames and marks
    a keyframe only every ``gop_size`` frames, so landing on an arbitrary frame is not possible) and reads the
    landing frame's index from its pts, which the AVI demuxer sets to the frame number; the caller skips up to
    ``first``. Falls back to decoding from frame 0 when the seek fails, overshoots or gives no pts (e.g. an
    AVI without an index after a DAQ crash).
    """
    if first > 0:
        head = None
        try:
            container.seek(first, stream=stream, any_frame=False)
            frames = container.decode(stream)
            head = next(frames, None)
        except av.FFmpegError:
            head = None
        if head is not None and head.pts is not None and 0 <= head.pts <= first:
            yield head.pts, head
            yield from enumerate(frames, start=head.pts + 1)
            return
        container.seek(0, stream=stream)
    yield from enumerate(container.decode(stream))


def _decode_movie(path: Path, first: int, stop: int, height: int, width: int) -> Iterator[np.ndarray]:
    """Frames ``first..stop-1`` (local indices) of one movie, as (H, W) uint8 planes."""
    with _open_container(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        index = first - 1
        try:
            for index, frame in _indexed_frames(container, stream, first):
                if index >= stop:
                    return
                if index < first:
                    continue
                plane = frame.to_ndarray(format="gray")
                if plane.shape != (height, width):
                    raise InputFormatError(
                        path, f"frame {index} is {plane.shape}, expected {(height, width)}"
                    )
                yield plane
        except av.FFmpegError as err:
            raise InputFormatError(path, f"cannot decode frame {index + 1}: {err}") from None
    if index < stop - 1:
        raise InputFormatError(path, f"ends after frame {index}; expected frames up to {stop - 1}")


def iter_frames(
    rec: MiniscopeRecording, *, chunk_frames: int = 256, start: int = 0, stop: int | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Iterate over frames ``start..stop-1`` in order, a chunk at a time.

    Chunks run across movie boundaries; only the movies overlapping the range are decoded, and only one chunk
    is held at a time.

    Parameters
    ----------
    rec, chunk_frames
        The recording; frames per chunk (every chunk has that many except possibly the last).
    start, stop
        Global frame range (``stop`` None: to the end).

    Yields
    ------
    tuple of (int, numpy.ndarray)
        ``(global index of first frame, uint8 (n, H, W))``; each array is new (callers may keep it).

    Raises
    ------
    ValueError, InputFormatError
        Unless ``0 <= start <= stop <= n_frames`` and ``chunk_frames >= 1``; on a decode failure (naming the
        movie and frame).
    """
    stop = rec.n_frames if stop is None else stop
    if not 0 <= start <= stop <= rec.n_frames:
        raise ValueError(
            f"need 0 <= start <= stop <= n_frames={rec.n_frames}; got start={start}, stop={stop}"
        )
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
    starts = rec.movie_start_frames()
    buffer: np.ndarray | None = None
    filled = 0
    position = start
    for path, movie_start, n_movie in zip(
        rec.movie_paths, starts.tolist(), rec.frames_per_movie, strict=True
    ):
        first, last = max(start, movie_start), min(stop, movie_start + n_movie)
        if first >= last:
            continue
        for plane in _decode_movie(path, first - movie_start, last - movie_start, rec.height, rec.width):
            if buffer is None:
                buffer = np.empty((min(chunk_frames, stop - position), rec.height, rec.width), dtype=np.uint8)
                filled = 0
            buffer[filled] = plane
            filled += 1
            if filled == len(buffer):
                yield position, buffer
                position += filled
                buffer = None


def read_frames(rec: MiniscopeRecording, start: int, stop: int) -> np.ndarray:
    """Frames ``start..stop-1`` as one in-memory uint8 (n, H, W) array (small ranges); errors: iter_frames."""
    out = np.empty((max(stop - start, 0), rec.height, rec.width), dtype=np.uint8)
    for index, chunk in iter_frames(rec, chunk_frames=max(stop - start, 1), start=start, stop=stop):
        out[index - start : index - start + len(chunk)] = chunk
    return out
