"""UCLA Miniscope DAQ-QT V4 reading and writing: lossless round trip, file order, folder discovery, errors."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime

import av
import numpy as np
import pytest

from ace_core.errors import InputFormatError
from ace_core.io.miniscope import (
    TIMESTAMPS_HEADER,
    MiniscopeRecording,
    find_device_dir,
    iter_frames,
    open_recording,
    parse_frame_rate,
    parse_recording_start,
    read_frames,
    read_timestamps,
)
from ace_core.simulation.miniscope_files import format_frame_rate, write_recording

N_FRAMES, HEIGHT, WIDTH, PER_FILE, RATE_HZ = 125, 24, 32, 10, 20.0


def make_frames(n: int = N_FRAMES, height: int = HEIGHT, width: int = WIDTH, seed: int = 0) -> np.ndarray:
    """Frame k encodes k in its pattern (so a misordered file is visible), plus fixed-seed noise."""
    rows, cols = np.mgrid[0:height, 0:width]
    k = np.arange(n)[:, None, None]
    noise = np.random.default_rng(seed).integers(0, 16, size=(n, height, width))
    return ((k * 7 + rows * 3 + cols + noise) % 256).astype(np.uint8)


def chunks_of(frames: np.ndarray, size: int):
    for i in range(0, len(frames), size):
        yield frames[i : i + size]


def write_session(session_dir, frames: np.ndarray | None = None, **kwargs):
    frames = make_frames() if frames is None else frames
    timestamps_ms = np.arange(len(frames)) * 1000.0 / RATE_HZ + 3.4
    kwargs.setdefault("frames_per_file", PER_FILE)
    kwargs.setdefault("frame_rate_hz", RATE_HZ)
    write_recording(session_dir, chunks_of(frames, 17), timestamps_ms=timestamps_ms, **kwargs)
    return frames


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One session written once for the read-only tests (encoding is the slow part)."""
    session = tmp_path_factory.mktemp("session")
    frames = write_session(
        session,
        session_metadata={"animalName": "m1"},
        recording_start=datetime(2023, 9, 1, 15, 4, 11, 250_000, tzinfo=UTC),
    )
    return session, frames


@pytest.fixture
def session_copy(written, tmp_path):
    session, frames = written
    target = tmp_path / "session"
    shutil.copytree(session, target)
    return target, frames


def test_round_trip_is_lossless_and_numeric_order(written):
    session, frames = written
    rec = open_recording(session)
    assert isinstance(rec, MiniscopeRecording)
    names = [p.name for p in rec.movie_paths]
    assert names == [f"{i}.avi" for i in range(13)]
    assert names[:6] != ["0.avi", "1.avi", "10.avi", "11.avi", "12.avi", "2.avi"]
    assert rec.frames_per_movie == (10,) * 12 + (5,)
    assert rec.movie_start_frames().tolist() == list(range(0, 130, 10))
    assert (rec.n_frames, rec.height, rec.width) == (N_FRAMES, HEIGHT, WIDTH)
    assert rec.frame_rate_hz == RATE_HZ and rec.frames_per_file == PER_FILE
    assert rec.device_dir == session / "Miniscope" and rec.session_dir == session
    np.testing.assert_array_equal(rec.frame_numbers, np.arange(N_FRAMES))
    np.testing.assert_allclose(rec.timestamps_s, np.rint(np.arange(N_FRAMES) * 50.0 + 3.4) / 1000.0)
    assert rec.session_metadata["animalName"] == "m1"
    assert rec.recording_start() == datetime(2023, 9, 1, 15, 4, 11, 250_000, tzinfo=UTC)

    out = np.empty_like(frames)
    expected_start = 0
    for start, chunk in iter_frames(rec, chunk_frames=23):
        assert start == expected_start and chunk.dtype == np.uint8 and chunk.shape[1:] == (HEIGHT, WIDTH)
        assert len(chunk) == min(23, N_FRAMES - start)
        out[start : start + len(chunk)] = chunk
        expected_start += len(chunk)
    assert expected_start == N_FRAMES
    np.testing.assert_array_equal(out, frames)
    np.testing.assert_array_equal(read_frames(rec, 40, 75), frames[40:75])


def test_partial_ranges_cross_file_boundaries(written):
    session, frames = written
    rec = open_recording(session)
    got = list(iter_frames(rec, chunk_frames=7, start=37, stop=64))
    assert [s for s, _ in got] == [37, 44, 51, 58]
    np.testing.assert_array_equal(np.concatenate([c for _, c in got]), frames[37:64])
    for start, stop in [(0, 1), (9, 11), (119, 125), (123, 123), (57, 58)]:
        np.testing.assert_array_equal(read_frames(rec, start, stop), frames[start:stop])
    with pytest.raises(ValueError):
        read_frames(rec, 100, 200)


def test_written_layout_matches_daq(written):
    session, _ = written
    device = session / "Miniscope"
    meta = json.loads((device / "metaData.json").read_text())
    assert meta["frameRate"] == "20FPS" and meta["framesPerFile"] == PER_FILE
    assert meta["compression"] == "FFV1" and meta["deviceType"] == "Miniscope_V4_BNO"
    assert meta["ROI"] == {"leftEdge": 0, "topEdge": 0, "width": WIDTH, "height": HEIGHT}
    lines = (device / "timeStamps.csv").read_text().splitlines()
    assert lines[0] == ",".join(TIMESTAMPS_HEADER) and lines[1] == "0,3,0" and len(lines) == N_FRAMES + 1
    top = json.loads((session / "metaData.json").read_text())
    assert top["miniscopes"] == ["Miniscope"] and top["cameras"] == []
    assert top["recordingStartTime"]["msec"] == 250
    assert not [p for p in device.iterdir() if p.name.startswith(".")]  # no temp files left

    # the header rate is 60 whatever the real rate, like the DAQ
    with av.open(str(device / "0.avi")) as container:
        assert container.streams.video[0].average_rate == 60
        assert container.streams.video[0].codec_context.name == "ffv1"


def test_order_ignores_mtime(session_copy):
    session, frames = session_copy
    device = session / "Miniscope"
    for i in range(13):  # newest first: an mtime sort would reverse the files
        t = 1_700_000_000 - i * 100
        os.utime(device / f"{i}.avi", (t, t))
    rec = open_recording(session)
    assert [p.name for p in rec.movie_paths] == [f"{i}.avi" for i in range(13)]
    np.testing.assert_array_equal(read_frames(rec, 0, N_FRAMES), frames)


def test_behaviour_camera_is_never_picked_up(session_copy):
    session, frames = session_copy
    cam = session / "BehavCam_0"
    cam_frames = make_frames(n=7, height=10, width=12, seed=3)
    write_recording(
        session,
        chunks_of(cam_frames, 4),
        frame_rate_hz=30,
        timestamps_ms=np.arange(7) * 33.0,
        device_name="BehavCam 0",
        device_type="WebCam-320x240",
        session_metadata={"miniscopes": ["Miniscope"], "cameras": ["BehavCam 0"]},
    )
    assert (cam / "0.avi").exists()
    assert find_device_dir(session) == session / "Miniscope"
    rec = open_recording(session)
    assert all(p.parent == session / "Miniscope" for p in rec.movie_paths)
    assert rec.n_frames == N_FRAMES
    # the device folder itself is accepted; the camera only when asked for by name
    assert find_device_dir(session / "Miniscope") == session / "Miniscope"
    assert find_device_dir(session, device="BehavCam 0") == cam
    assert open_recording(session, device="BehavCam_0").n_frames == 7
    with pytest.raises(InputFormatError, match="not a Miniscope"):
        find_device_dir(cam)


def test_no_or_ambiguous_device_folder(session_copy):
    session, _ = session_copy
    shutil.copytree(session / "Miniscope", session / "Miniscope_2")
    with pytest.raises(InputFormatError, match="several Miniscope device folders") as err:
        find_device_dir(session)
    assert "Miniscope_2" in str(err.value)
    assert find_device_dir(session, device="Miniscope_2") == session / "Miniscope_2"
    shutil.rmtree(session / "Miniscope")
    shutil.rmtree(session / "Miniscope_2")
    with pytest.raises(InputFormatError, match="no Miniscope device folder") as err:
        find_device_dir(session)
    assert str(session) in str(err.value)


def test_timestamps_extra_columns_read_by_name(tmp_path):
    path = tmp_path / "timeStamps.csv"
    path.write_text(
        "Frame Number,Time Stamp (ms),Buffer Index,DAQ Frame Number,Unix Time Stamp (ms)\n"
        "0,0,1,5,1693580651000\n1,33,0,6,1693580651033\n2,67,2,8,1693580651067\n\n"
    )
    numbers, times_s = read_timestamps(path)
    assert numbers.tolist() == [0, 1, 2]
    np.testing.assert_allclose(times_s, [0.0, 0.033, 0.067])
    # columns in another order are still read by name
    path.write_text("Time Stamp (ms),Buffer Index,Frame Number\n10,0,0\n20,0,1\n")
    numbers, times_s = read_timestamps(path)
    assert numbers.tolist() == [0, 1] and times_s.tolist() == [0.01, 0.02]


def test_malformed_timestamps_name_line_and_column(tmp_path):
    path = tmp_path / "timeStamps.csv"
    path.write_text("Frame Number,Time Stamp (ms),Buffer Index\n0,0,0\n1,3x3,0\n")
    with pytest.raises(InputFormatError) as err:
        read_timestamps(path)
    assert err.value.line == 3 and err.value.column == "Time Stamp (ms)"
    assert "timeStamps.csv" in str(err.value) and "3x3" in str(err.value)
    path.write_text("Frame,Time\n0,0\n")
    with pytest.raises(InputFormatError, match="Frame Number") as err:
        read_timestamps(path)
    assert err.value.line == 1


def test_frame_count_mismatch_names_both_numbers(session_copy):
    session, _ = session_copy
    csv_path = session / "Miniscope" / "timeStamps.csv"
    lines = csv_path.read_text().splitlines()
    csv_path.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(InputFormatError) as err:
        open_recording(session)
    message = str(err.value)
    assert err.value.path == csv_path and "124" in message and "125" in message


def test_missing_movie_is_named(session_copy):
    session, _ = session_copy
    (session / "Miniscope" / "3.avi").unlink()
    with pytest.raises(InputFormatError, match=r"3\.avi"):
        open_recording(session)


def test_stray_avi_names_are_ignored_with_warning(session_copy):
    session, _ = session_copy
    shutil.copy(session / "Miniscope" / "0.avi", session / "Miniscope" / "0 copy.avi")
    with pytest.warns(UserWarning, match="0 copy.avi"):
        rec = open_recording(session)
    assert len(rec.movie_paths) == 13


def test_corrupt_movie_names_file_and_frame(session_copy):
    session, _ = session_copy
    movie = session / "Miniscope" / "5.avi"
    data = bytearray(movie.read_bytes())
    data[-1200:] = b"\0" * 1200  # damage the tail: the index and the last frames
    movie.write_bytes(bytes(data))
    with pytest.raises(InputFormatError, match=r"5\.avi"):
        rec = open_recording(session)
        for _ in iter_frames(rec, start=50, stop=60):
            pass


def test_flat_start_time_shape():
    flat = {"year": 2023, "month": 9, "day": 1, "hour": 15, "minute": 4, "second": 11, "msec": 250}
    assert parse_recording_start(flat) == datetime(2023, 9, 1, 15, 4, 11, 250_000)
    assert parse_recording_start({"recordingStartTime": flat}) == datetime(2023, 9, 1, 15, 4, 11, 250_000)
    assert parse_recording_start({}) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("20FPS", 20.0), ("30 FPS", 30.0), ("15fps", 15.0), (20, 20.0), ("19.98", 19.98), (19.5, 19.5)],
)
def test_parse_frame_rate(value, expected):
    assert parse_frame_rate(value) == expected


@pytest.mark.parametrize("value", ["FPS", "fast", "", None, True, -5, 0, "nanFPS", [20]])
def test_parse_frame_rate_rejects(value):
    with pytest.raises(InputFormatError, match="frameRate"):
        parse_frame_rate(value)


def test_format_frame_rate_round_trips():
    assert format_frame_rate(20) == "20FPS" and format_frame_rate(19.5) == "19.5FPS"
    for rate in (20.0, 19.5, 29.97, 7.5):
        assert parse_frame_rate(format_frame_rate(rate)) == rate


def test_writer_rejects_bad_input(tmp_path):
    frames = make_frames(n=25)
    with pytest.raises(ValueError, match="timestamps"):
        write_recording(tmp_path / "a", [frames], frame_rate_hz=20, timestamps_ms=np.arange(24.0))
    with pytest.raises(ValueError, match="uint8"):
        write_recording(tmp_path / "b", [frames * 1.0], frame_rate_hz=20, timestamps_ms=np.arange(25.0))
    with pytest.raises(ValueError, match="wrote 25 frames but got 26"):
        write_recording(
            tmp_path / "c", [frames], frame_rate_hz=20, timestamps_ms=np.arange(26.0), frames_per_file=10
        )

    def failing_chunks():
        yield frames[:15]
        raise RuntimeError("acquisition stopped")

    with pytest.raises(RuntimeError):
        write_recording(
            tmp_path / "d",
            failing_chunks(),
            frame_rate_hz=20,
            timestamps_ms=np.arange(25.0),
            frames_per_file=10,
        )
    for name in "abcd":  # no half-written recording is left behind, not even a temporary file
        assert not list((tmp_path / name / "Miniscope").iterdir())
    write_session(tmp_path / "e", frames)
    with pytest.raises(FileExistsError):
        write_session(tmp_path / "e", frames)


def test_seek_inside_long_movie(tmp_path):
    """Files longer than the FFV1 keyframe interval: seeks land on an earlier keyframe, frames are skipped."""
    frames = write_session(tmp_path, make_frames(n=100), frames_per_file=60)
    rec = open_recording(tmp_path)
    assert rec.frames_per_movie == (60, 40)
    for start, stop in [(40, 50), (13, 14), (59, 61), (47, 100)]:
        np.testing.assert_array_equal(read_frames(rec, start, stop), frames[start:stop])


def test_open_reads_flat_session_start_time(session_copy):
    session, _ = session_copy
    meta_path = session / "metaData.json"
    meta = json.loads(meta_path.read_text())
    nested = meta.pop("recordingStartTime")
    nested.pop("msecSinceEpoch")
    meta.update(nested)
    meta_path.write_text(json.dumps(meta))
    assert open_recording(session).recording_start() == datetime(2023, 9, 1, 15, 4, 11, 250_000)
