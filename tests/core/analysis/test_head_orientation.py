"""Tests of ace_core.analysis.head_orientation: ZYX Euler angles and quaternions, and the IMU samples on the
Miniscope host clock and on the ephys clock."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ace_core.analysis.head_orientation import euler_to_quat, orientation_on_clocks, quat_to_euler
from ace_core.io.head_orientation import read_head_orientation
from ace_core.simulation.sidecar_files import write_head_orientation_csv


def _angle_error_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(np.degrees(np.angle(np.exp(1j * (np.asarray(a) - np.asarray(b))))))


def test_euler_to_quat_matches_scipy_and_inverts():
    rng = np.random.default_rng(1)
    n = 500
    roll, yaw = rng.uniform(-np.pi, np.pi, (2, n))
    pitch = rng.uniform(-np.pi / 2 + 1e-3, np.pi / 2 - 1e-3, n)
    q = euler_to_quat(roll, pitch, yaw)
    ref = Rotation.from_euler("ZYX", np.column_stack([yaw, pitch, roll])).as_quat(scalar_first=True)
    sign = np.sign(np.sum(q * ref, axis=1))[:, None]
    np.testing.assert_allclose(q, sign * ref, atol=1e-12)
    r, p, y = quat_to_euler(q)
    assert _angle_error_deg(r, roll).max() < 1e-6
    assert _angle_error_deg(p, pitch).max() < 1e-6
    assert _angle_error_deg(y, yaw).max() < 1e-6


def test_gimbal_lock_and_wrap_edges():
    # pitch exactly +-90 deg, plus rounding that pushes the asin argument past 1
    for pitch in (np.pi / 2, -np.pi / 2, np.pi / 2 - 1e-7, -np.pi / 2 + 1e-5, np.pi / 2 - 1e-3):
        q = euler_to_quat(0.3, pitch, -1.1) * (1 + 1e-15)
        r, p, y = quat_to_euler(q)
        assert np.isfinite([r, p, y]).all()
        assert abs(float(p) - pitch) < 2e-6
        # the angles still describe the same rotation
        m = Rotation.from_euler("ZYX", [float(y), float(p), float(r)]).as_matrix()
        ref = Rotation.from_quat(q, scalar_first=True).as_matrix()
        np.testing.assert_allclose(m, ref, atol=1e-6)
    # yaw of exactly 180 deg (either sign of quaternion) is reported as +pi, never -pi
    for q in (np.array([0.0, 0.0, 0.0, 1.0]), np.array([0.0, 0.0, 0.0, -1.0]), euler_to_quat(0, 0, -np.pi)):
        _, _, y = quat_to_euler(q)
        assert float(y) == pytest.approx(np.pi)
    # a zero quaternion has no orientation
    assert np.isnan(quat_to_euler(np.zeros(4))).all()
    with pytest.raises(ValueError):
        quat_to_euler(np.zeros(3))


def test_clock_mapping_with_offset_and_drift(tmp_path):
    rng = np.random.default_rng(2)
    n_frames = 600
    # host clock: 30 fps with jitter, integer ms as in timeStamps.csv
    frame_host_s = (
        np.round(1000 * (0.05 + np.arange(n_frames) / 30.0 + rng.uniform(-2e-3, 2e-3, n_frames))) / 1000
    )
    offset_s, drift = 123.456, 80e-6  # ephys = offset + (1 + drift) * host
    t_ca_im = offset_s + (1 + drift) * frame_host_s
    t_ms = np.arange(0.0, 21000.0, 7.0)  # IMU samples, some before the first / after the last frame
    t_ms = t_ms[rng.random(t_ms.size) > 0.1]
    yaw = np.radians(np.linspace(-170, 170, t_ms.size))
    write_head_orientation_csv(tmp_path, t_ms, euler_to_quat(np.zeros_like(yaw), np.zeros_like(yaw), yaw))
    res = orientation_on_clocks(read_head_orientation(tmp_path), frame_host_s, t_ca_im)
    host = t_ms / 1000
    np.testing.assert_array_equal(res.t_host_s, host)
    inside = (host >= frame_host_s[0]) & (host <= frame_host_s[-1])
    assert inside.any() and (~inside).any()
    np.testing.assert_allclose(
        res.t_ephys_s[inside], offset_s + (1 + drift) * host[inside], rtol=0, atol=1e-9
    )
    assert np.isnan(res.t_ephys_s[~inside]).all()
    np.testing.assert_allclose(res.yaw_deg, np.degrees(yaw), atol=1e-5)
    np.testing.assert_allclose(res.roll_deg, 0, atol=1e-5)
    cols = res.as_dict()
    assert set(cols) >= {"t_host_s", "t_ephys_s", "yaw_rad", "yaw_deg", "pitch_deg", "roll_rad"}
    with pytest.raises(ValueError):
        orientation_on_clocks(read_head_orientation(tmp_path), frame_host_s, t_ca_im[:-1])
