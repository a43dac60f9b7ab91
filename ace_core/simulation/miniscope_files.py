"""Write UCLA Miniscope DAQ-QT V4 recordings for simulated sessions.

The folder layout, file names and metadata keys are the DAQ's (see :mod:`ace_core.io.miniscope`, which
defines them and reads the result), so tests, benchmarks and the demo exercise the real reader. Memory is
bounded: the writer consumes an iterable of frame chunks and never holds a whole movie. Every file appears
complete or not at all: movies are renamed into place once closed, the CSV and JSON files are written
with :func:`atomic_file`.
"""

from __future__ import annotations

import csv
import json
import math
import os
import uuid
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import av
import numpy as np

from ace_core.io.miniscope import (
    AVI_HEADER_RATE_HZ,
    METADATA_FILE,
    MOVIE_NAME_PATTERN,
    TIMESTAMPS_FILE,
    TIMESTAMPS_HEADER,
)
from ace_core.store.atomic import atomic_file

__all__ = ["format_frame_rate", "write_recording"]


def format_frame_rate(frame_rate_hz: float) -> str:
    """``frameRate`` as the DAQ writes it ("20FPS"); non-integral rates keep their digits ("19.5FPS").

    Parameters
    ----------
    frame_rate_hz
        Nominal frame rate in Hz.

    Returns
    -------
    str
        The rate followed by ``FPS``, which :func:`ace_core.io.miniscope.parse_frame_rate` reads back exactly.

    Raises
    ------
    ValueError
        When the rate is not positive and finite.
    """
    rate = float(frame_rate_hz)
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"frame_rate_hz must be positive and finite, got {frame_rate_hz!r}")
    return f"{int(rate)}FPS" if rate.is_integer() else f"{rate!r}FPS"


class _MovieWriter:
    """One FFV1 AVI written under a hidden temporary name and renamed only once complete."""

    def __init__(self, final_path: Path, height: int, width: int) -> None:
        self.final_path = final_path
        # PyAV muxes to a path here, so atomic_file's handle is not used; the temporary is named as its own.
        self.temp_path = final_path.with_name(f".{final_path.name}.tmp-{uuid.uuid4().hex[:8]}")
        self.n_frames = 0
        self._container = av.open(str(self.temp_path), mode="w", format="avi")
        self._stream = self._container.add_stream("ffv1", rate=AVI_HEADER_RATE_HZ)
        self._stream.width = width
        self._stream.height = height
        self._stream.pix_fmt = "gray"

    def write(self, frames: np.ndarray) -> None:
        for frame in frames:
            for packet in self._stream.encode(av.VideoFrame.from_ndarray(frame, format="gray")):
                self._container.mux(packet)
        self.n_frames += len(frames)

    def finish(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        os.replace(self.temp_path, self.final_path)

    def abort(self) -> None:
        try:
            self._container.close()
        finally:
            self.temp_path.unlink(missing_ok=True)


def _write_json(path: Path, data: dict) -> None:
    with atomic_file(path) as handle:
        handle.write(json.dumps(data, indent=4) + "\n")


def write_recording(
    session_dir: str | Path,
    frame_chunks: Iterable[np.ndarray],
    *,
    frame_rate_hz: float,
    timestamps_ms: np.ndarray,
    frames_per_file: int = 1000,
    device_name: str = "Miniscope",
    device_type: str = "Miniscope_V4_BNO",
    session_metadata: dict | None = None,
    recording_start: datetime | None = None,
    device_metadata: dict | None = None,
) -> Path:
    """Write frames in the UCLA Miniscope DAQ-QT V4 layout, streaming.

    Frames go to ``0.avi``, ``1.avi``, ... (FFV1, 8-bit grey, header rate 60 like the DAQ), each written
    under a temporary name and renamed when complete, so a crash never leaves a plausible half movie. If
    writing fails, the movies this call wrote are removed. Timestamps go to ``timeStamps.csv`` rounded to
    integers, with ``Buffer Index`` 0 (no back-pressure).

    Parameters
    ----------
    session_dir
        The session folder (created if needed); the device folder is ``device_name`` inside it.
    frame_chunks
        uint8 arrays ``(n, H, W)`` of any length, one frame size throughout; memory stays bounded by one
        chunk.
    frame_rate_hz
        Nominal rate, written as the device ``frameRate`` ("20FPS").
    timestamps_ms
        One finite host-clock time per frame, in ms since the recording start.
    frames_per_file
        Frames per movie (the last one may hold fewer).
    device_name, device_type
        Device ``deviceName`` (spaces become ``_`` in the folder name) and ``deviceType``.
    session_metadata, device_metadata
        Keys that override or extend those written to the session and device ``metaData.json``.
    recording_start
        Session ``recordingStartTime``; now when None.

    Returns
    -------
    Path
        The device folder.

    Raises
    ------
    FileExistsError
        When the device folder already holds a recording: silently mixing two recordings is worse than
        failing.
    ValueError
        On a bad rate, ``frames_per_file`` or ``timestamps_ms``, chunks that are not uint8 ``(n, H, W)`` or
        change size, no frames, or a frame count that differs from the number of timestamps.
    """
    session_dir = Path(session_dir)
    rate_text = format_frame_rate(frame_rate_hz)
    if int(frames_per_file) != frames_per_file or frames_per_file < 1:
        raise ValueError(f"frames_per_file must be a positive integer, got {frames_per_file!r}")
    frames_per_file = int(frames_per_file)
    times_ms = np.asarray(timestamps_ms, dtype=np.float64)
    if times_ms.ndim != 1 or not np.all(np.isfinite(times_ms)):
        raise ValueError("timestamps_ms must be a 1-D array of finite milliseconds, one per frame")
    recording_start = recording_start or datetime.now()

    device_dir = session_dir / device_name.replace(" ", "_")
    device_dir.mkdir(parents=True, exist_ok=True)
    existing = [
        p.name for p in device_dir.iterdir() if MOVIE_NAME_PATTERN.match(p.name) or p.name == TIMESTAMPS_FILE
    ]
    if existing:
        raise FileExistsError(f"{device_dir}: already holds a recording ({sorted(existing)[:5]}...)")

    writer: _MovieWriter | None = None
    n_files = n_written = 0
    shape: tuple[int, int] | None = None
    try:
        for chunk in frame_chunks:
            chunk = np.asarray(chunk)
            if chunk.dtype != np.uint8 or chunk.ndim != 3:
                raise ValueError(f"frame chunks must be uint8 (n, H, W); got {chunk.dtype} {chunk.shape}")
            if shape is None:
                shape = (chunk.shape[1], chunk.shape[2])
            elif chunk.shape[1:] != shape:
                raise ValueError(f"frame size changed from {shape} to {chunk.shape[1:]} at frame {n_written}")
            if n_written + len(chunk) > len(times_ms):
                raise ValueError(f"more frames than timestamps_ms ({len(times_ms)})")
            offset = 0
            while offset < len(chunk):
                if writer is None:
                    writer = _MovieWriter(device_dir / f"{n_files}.avi", *shape)
                take = min(frames_per_file - writer.n_frames, len(chunk) - offset)
                writer.write(chunk[offset : offset + take])
                offset += take
                n_written += take
                if writer.n_frames == frames_per_file:
                    writer.finish()
                    writer, n_files = None, n_files + 1
        if writer is not None:
            writer.finish()
            writer, n_files = None, n_files + 1
        if shape is None:
            raise ValueError("frame_chunks yielded no frames")
        if n_written != len(times_ms):
            raise ValueError(f"wrote {n_written} frames but got {len(times_ms)} timestamps_ms")
    except BaseException:
        # Leave no movies without their timestamps and metadata: remove what this call wrote.
        if writer is not None:
            writer.abort()
        for i in range(n_files):
            (device_dir / f"{i}.avi").unlink(missing_ok=True)
        raise

    with atomic_file(device_dir / TIMESTAMPS_FILE, newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(TIMESTAMPS_HEADER)
        for number, time_ms in enumerate(np.rint(times_ms).astype(np.int64).tolist()):
            out.writerow((number, time_ms, 0))

    height, width = shape
    device_meta = {
        "deviceName": device_name,
        "deviceType": device_type,
        "deviceID": 0,
        "deviceDirectory": str(device_dir),
        "compression": "FFV1",
        "framesPerFile": frames_per_file,
        "frameRate": rate_text,
        "gain": "Low",
        "ewl": 0,
        "led0": 0,
        "ROI": {"leftEdge": 0, "topEdge": 0, "width": width, "height": height},
    }
    device_meta.update(device_metadata or {})
    _write_json(device_dir / METADATA_FILE, device_meta)

    start = recording_start
    session_meta = {
        "researcherName": "",
        "animalName": "",
        "experimentName": "",
        "baseDirectory": str(session_dir),
        "recordingStartTime": {
            "year": start.year,
            "month": start.month,
            "day": start.day,
            "hour": start.hour,
            "minute": start.minute,
            "second": start.second,
            "msec": start.microsecond // 1000,
            "msecSinceEpoch": int(round(start.timestamp() * 1000)),
        },
        "miniscopes": [device_name],
        "cameras": [],
    }
    session_meta.update(session_metadata or {})
    _write_json(session_dir / METADATA_FILE, session_meta)
    return device_dir
