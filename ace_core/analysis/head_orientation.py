"""Head orientation as Euler angles, on the Miniscope host clock and on the ephys clock.

Euler convention: aerospace / Tait-Bryan **intrinsic Z-Y'-X''** (yaw about z, then pitch about the new y,
then roll about the newest x), i.e. the rotation matrix is ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)``.
Ranges: roll and yaw in (-pi, pi], pitch in [-pi/2, pi/2]. At gimbal lock (pitch = +-pi/2) the asin
argument is clipped and, since only yaw -+ roll is then defined, roll is reported as 0 and yaw carries the
rotation about the vertical (finite angles that reproduce the rotation).

The IMU samples come from :func:`ace_core.io.head_orientation.read_head_orientation`; the host-to-ephys
mapping goes through the movie frames (:func:`ace_core.sync.clocks.map_between_clocks`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ace_core.io.head_orientation import HeadOrientation
from ace_core.sync.clocks import map_between_clocks

__all__ = [
    "OrientationOnClocks",
    "euler_to_quat",
    "orientation_on_clocks",
    "quat_to_euler",
]

# |sin(pitch)| above 1 - eps is treated as gimbal lock (|pitch| within ~1.4e-6 rad of 90 deg).
_GIMBAL_EPS = 1e-12


def _wrap_pi(angle: np.ndarray) -> np.ndarray:
    """Wrap to (-pi, pi]."""
    wrapped = np.mod(angle + np.pi, 2.0 * np.pi) - np.pi  # [-pi, pi)
    return np.where(wrapped <= -np.pi, wrapped + 2.0 * np.pi, wrapped)


def quat_to_euler(q: np.ndarray, degrees: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(roll, pitch, yaw)`` of quaternions in the ZYX aerospace convention.

    Quaternions are normalised first (a zero quaternion gives NaN). ``q`` and ``-q`` give the same angles.

    Parameters
    ----------
    q
        Quaternions ``(..., 4)`` in (w, x, y, z) order.
    degrees
        Return degrees instead of radians.

    Returns
    -------
    tuple of ndarray
        ``roll``, ``pitch``, ``yaw``, each of shape ``q.shape[:-1]``; roll and yaw in (-pi, pi], pitch in
        [-pi/2, pi/2].

    Raises
    ------
    ValueError
        When the last axis of ``q`` is not of length 4.
    """
    q = np.asarray(q, dtype=np.float64)
    if q.shape[-1] != 4:
        raise ValueError(f"quaternions must have a last axis of length 4 (w, x, y, z); got shape {q.shape}")
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = q / np.where(norm > 0, norm, np.nan)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    sin_pitch = np.clip(2.0 * (w * y - z * x), -1.0, 1.0)
    pitch = np.arcsin(sin_pitch)
    roll = np.arctan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    yaw = np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    # Gimbal lock: only yaw -+ roll is defined and the formulas above are 0/0; report roll = 0 and put the
    # whole rotation about the vertical into yaw (exact for pitch = +-pi/2).
    locked = np.abs(sin_pitch) > 1.0 - _GIMBAL_EPS
    if np.any(locked):
        roll = np.where(locked, 0.0, roll)
        yaw = np.where(locked, -2.0 * np.sign(sin_pitch) * np.arctan2(x, w), yaw)
    roll, yaw = _wrap_pi(roll), _wrap_pi(yaw)
    if degrees:
        return np.degrees(roll), np.degrees(pitch), np.degrees(yaw)
    return roll, pitch, yaw


def euler_to_quat(roll: np.ndarray, pitch: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Unit quaternions of ZYX Euler angles (the inverse of :func:`quat_to_euler`).

    Parameters
    ----------
    roll, pitch, yaw
        Angles in radians, broadcastable to one shape.

    Returns
    -------
    ndarray
        Quaternions ``(..., 4)`` in (w, x, y, z) order.
    """
    hr, hp, hy = (np.asarray(a, dtype=np.float64) / 2.0 for a in (roll, pitch, yaw))
    cr, sr, cp, sp, cy, sy = np.cos(hr), np.sin(hr), np.cos(hp), np.sin(hp), np.cos(hy), np.sin(hy)
    return np.stack(
        [
            cr * cp * cy + sr * sp * sy,
            sr * cp * cy - cr * sp * sy,
            cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy,
        ],
        axis=-1,
    )


@dataclass(frozen=True, eq=False)
class OrientationOnClocks:
    """Euler angles (ZYX) at the IMU sample times, on the host clock and mapped to the ephys clock.

    Attributes
    ----------
    t_host_s
        Sample times on the Miniscope host clock (s since the recording start).
    t_ephys_s
        Sample times on the ephys clock (s); NaN for samples outside the movie's span (the frames define
        the clock relation).
    roll_rad, pitch_rad, yaw_rad
        Angles (rad); roll and yaw in (-pi, pi], pitch in [-pi/2, pi/2].
    """

    t_host_s: np.ndarray = field(repr=False)
    t_ephys_s: np.ndarray = field(repr=False)
    roll_rad: np.ndarray = field(repr=False)
    pitch_rad: np.ndarray = field(repr=False)
    yaw_rad: np.ndarray = field(repr=False)

    @property
    def roll_deg(self) -> np.ndarray:
        """Roll (deg)."""
        return np.degrees(self.roll_rad)

    @property
    def pitch_deg(self) -> np.ndarray:
        """Pitch (deg)."""
        return np.degrees(self.pitch_rad)

    @property
    def yaw_deg(self) -> np.ndarray:
        """Yaw (deg)."""
        return np.degrees(self.yaw_rad)

    def as_dict(self) -> dict[str, np.ndarray]:
        """Columns for a table: times on both clocks, angles in rad and deg.

        Returns
        -------
        dict of str to numpy.ndarray
            ``t_host_s``, ``t_ephys_s``, ``{roll,pitch,yaw}_rad`` and ``{roll,pitch,yaw}_deg``.
        """
        return {
            "t_host_s": self.t_host_s,
            "t_ephys_s": self.t_ephys_s,
            "roll_rad": self.roll_rad,
            "pitch_rad": self.pitch_rad,
            "yaw_rad": self.yaw_rad,
            "roll_deg": self.roll_deg,
            "pitch_deg": self.pitch_deg,
            "yaw_deg": self.yaw_deg,
        }


def orientation_on_clocks(
    ho: HeadOrientation, frame_host_times_s: np.ndarray, t_ca_im_s: np.ndarray
) -> OrientationOnClocks:
    """Euler angles of ``ho`` on the host clock and on the ephys clock.

    A sample's ephys time is interpolated linearly between the frames around it, NaN outside the movie's
    span.

    Parameters
    ----------
    ho
        IMU samples (:func:`ace_core.io.head_orientation.read_head_orientation`).
    frame_host_times_s
        Host time of each frame (``MiniscopeRecording.timestamps_s``).
    t_ca_im_s
        Ephys time of each frame.

    Returns
    -------
    OrientationOnClocks
        Sample times on both clocks and roll, pitch, yaw.

    Raises
    ------
    ValueError
        When the two frame-time arrays differ in length, are empty, non-finite or decreasing.
    """
    roll, pitch, yaw = quat_to_euler(ho.quaternions)
    t_host = ho.time_s
    return OrientationOnClocks(
        t_host_s=t_host,
        t_ephys_s=map_between_clocks(t_host, frame_host_times_s, t_ca_im_s),
        roll_rad=roll,
        pitch_rad=pitch,
        yaw_rad=yaw,
    )
