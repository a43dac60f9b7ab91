"""Tests of ace_core.io.head_orientation: reading headOrientation.csv (columns by name, errors that name the
line and column), and a known rotation read back through the file."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ace_core.analysis.head_orientation import quat_to_euler
from ace_core.errors import InputFormatError
from ace_core.io.head_orientation import HEAD_ORIENTATION_FILE, read_head_orientation
from ace_core.simulation.sidecar_files import write_head_orientation_csv


def _angle_error_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(np.degrees(np.angle(np.exp(1j * (np.asarray(a) - np.asarray(b))))))


def _time_course(n: int = 2000):
    t_ms = np.arange(n) * 10.0  # 100 Hz IMU
    s = t_ms / 1000.0
    roll = np.radians(25.0 * np.sin(2 * np.pi * 0.3 * s))
    pitch = np.radians(40.0 * np.sin(2 * np.pi * 0.17 * s + 0.5))
    yaw_unwrapped = np.radians(120.0 + 9.0 * s * 10)  # 120 deg -> ~300 deg: passes +180 and wraps
    yaw = np.angle(np.exp(1j * yaw_unwrapped))
    return t_ms, roll, pitch, yaw, yaw_unwrapped


def test_known_rotation_round_trip_through_csv(tmp_path):
    t_ms, roll, pitch, yaw, yaw_unwrapped = _time_course()
    # Quaternions from an independent implementation (scipy, intrinsic Z-Y'-X'' = aerospace yaw-pitch-roll).
    q = Rotation.from_euler("ZYX", np.column_stack([yaw_unwrapped, pitch, roll])).as_quat(scalar_first=True)
    q[::3] *= -1.0  # q and -q are the same rotation
    q[1::5] *= 3.7  # non-unit quaternions are normalised
    keep = np.ones(t_ms.size, bool)
    keep[np.random.default_rng(0).choice(t_ms.size, 300, replace=False)] = False  # filtered-out rows
    write_head_orientation_csv(tmp_path, t_ms[keep], q[keep])
    ho = read_head_orientation(tmp_path)
    assert ho is not None and ho.n_samples == keep.sum()
    np.testing.assert_array_equal(ho.time_ms, t_ms[keep])
    r, p, y = quat_to_euler(ho.quaternions)
    err = max(
        _angle_error_deg(r, roll[keep]).max(),
        _angle_error_deg(p, pitch[keep]).max(),
        _angle_error_deg(y, yaw[keep]).max(),
    )
    assert err < 0.5
    assert err < 1e-4  # in practice the only error is the 9 significant digits in the file
    # yaw really wrapped past +180 and stays in (-180, 180]
    assert np.any(np.degrees(yaw_unwrapped[keep]) > 180.0)
    assert np.all((y > -np.pi) & (y <= np.pi))
    assert np.any(np.diff(np.degrees(y)) < -300)  # the wrap from +180 to -180
    rd, pd, yd = quat_to_euler(ho.quaternions, degrees=True)
    np.testing.assert_allclose(yd, np.degrees(y))


def test_missing_file_gives_none(tmp_path):
    assert read_head_orientation(tmp_path) is None


def test_columns_read_by_name(tmp_path):
    (tmp_path / HEAD_ORIENTATION_FILE).write_text(
        "qz,Extra,qy,Time Stamp (ms),qx,qw\n0.0,a,0.0,100,0.0,1.0\n\n"
        "0.7071067811865476,b,0,133,0,0.7071067811865476\n"
    )
    ho = read_head_orientation(tmp_path)
    np.testing.assert_array_equal(ho.time_ms, [100.0, 133.0])
    np.testing.assert_allclose(ho.quaternions[1], [np.sqrt(0.5), 0, 0, np.sqrt(0.5)])
    _, _, y = quat_to_euler(ho.quaternions, degrees=True)
    np.testing.assert_allclose(y, [0.0, 90.0], atol=1e-9)


def test_header_only_file_is_empty(tmp_path):
    write_head_orientation_csv(tmp_path, np.zeros(0), np.zeros((0, 4)))
    ho = read_head_orientation(tmp_path)
    assert ho.n_samples == 0 and ho.quaternions.shape == (0, 4)


@pytest.mark.parametrize(
    ("body", "line", "column"),
    [
        ("0,1,0,0,0\n33,1,zz,0,0\n", 3, "qx"),
        ("0,1,0,0,0\n33,1,0,0\n", 3, "qz"),
        ("abc,1,0,0,0\n", 2, "Time Stamp (ms)"),
        ("0,1,0,nan,0\n", 2, "qy"),
    ],
)
def test_malformed_row_names_line_and_column(tmp_path, body, line, column):
    path = tmp_path / HEAD_ORIENTATION_FILE
    path.write_text("Time Stamp (ms),qw,qx,qy,qz\n" + body)
    with pytest.raises(InputFormatError) as info:
        read_head_orientation(tmp_path)
    assert info.value.line == line and info.value.column == column
    assert str(path) in str(info.value) and f"line {line}" in str(info.value)


def test_missing_column_in_header(tmp_path):
    (tmp_path / HEAD_ORIENTATION_FILE).write_text("Time Stamp (ms),qw,qx,qy\n0,1,0,0\n")
    with pytest.raises(InputFormatError, match="qz") as info:
        read_head_orientation(tmp_path)
    assert info.value.line == 1
