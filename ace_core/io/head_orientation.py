"""Head orientation of Miniscopes with an IMU (V4 BNO): ``headOrientation.csv`` -> Euler angles, both clocks.

The DAQ writes ``<device dir>/headOrientation.csv`` with the header ``Time Stamp (ms),qw,qx,qy,qz``: one
unit quaternion (w, x, y, z) per IMU sample, stamped on the host clock in ms since the recording start (the
clock of ``timeStamps.csv``). Rows may be filtered out, so samples are not one per frame. Columns are read
by name.

Euler convention: aerospace / Tait-Bryan **intrinsic Z-Y'-X''** (yaw about z, then pitch about the new y,
then roll about the newest x), i.e. the rotation matrix is ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)``.
Ranges: roll and yaw in (-pi, pi], pitch in [-pi/2, pi/2]. At gimbal lock (pitch = +-pi/2) the asin
argument is clipped and, since only yaw -+ roll is then defined, roll is reported as 0 and yaw carries the
rotation about the vertical (finite angles that reproduce the rotation).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ace_core.errors import InputFormatError
from ace_core.sync.clocks import map_between_clocks

__all__ = [
    "HEAD_ORIENTATION_FILE",
    "HEAD_ORIENTATION_HEADER",
    "HeadOrientation",
    "OrientationOnClocks",
    "euler_to_quat",
    "orientation_on_clocks",
    "quat_to_euler",
    "read_head_orientation",
    "write_head_orientation_csv",
]

HEAD_ORIENTATION_FILE = "headOrientation.csv"
HEAD_ORIENTATION_HEADER = ("Time Stamp (ms)", "qw", "qx", "qy", "qz")
# |sin(pitch)| above 1 - eps is treated as gimbal lock (|pitch| within ~1.4e-6 rad of 90 deg).
_GIMBAL_EPS = 1e-12


@dataclass(frozen=True, eq=False)
class HeadOrientation:
    """IMU samples of one device: ``time_ms`` (host clock, ms since start), ``quaternions`` (n, 4) wxyz."""

    time_ms: np.ndarray = field(repr=False)
    quaternions: np.ndarray = field(repr=False)
    path: Path

    @property
    def time_s(self) -> np.ndarray:
        """Host-clock sample times in seconds (the clock of ``MiniscopeRecording.timestamps_s``)."""
        return self.time_ms / 1000.0

    @property
    def n_samples(self) -> int:
        return int(self.time_ms.shape[0])


def _cell(path: Path, row: list[str], index: int, column: str, line: int) -> float:
    if index >= len(row):
        raise InputFormatError(
            path, f"row has {len(row)} fields; expected a number", line=line, column=column
        )
    text = row[index].strip()
    try:
        value = float(text)
    except ValueError:
        raise InputFormatError(path, f"value {text!r} is not a number", line=line, column=column) from None
    if not math.isfinite(value):
        raise InputFormatError(path, f"value {text!r} is not finite", line=line, column=column)
    return value


def read_head_orientation(device_dir: str | os.PathLike) -> HeadOrientation | None:
    """Read ``<device_dir>/headOrientation.csv``; None when the file does not exist (scope without IMU).

    Columns are found by name in the header; extra columns are ignored; blank lines are skipped. Errors
    (missing column, non-numeric or non-finite value, short row) raise :class:`InputFormatError` naming the
    file, the 1-based line (header = line 1) and the column.
    """
    path = Path(device_dir) / HEAD_ORIENTATION_FILE
    if not path.is_file():
        return None
    times: list[float] = []
    quats: list[list[float]] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise InputFormatError(
                path, f"file is empty; expected the header {','.join(HEAD_ORIENTATION_HEADER)}"
            )
        names = [name.strip() for name in header]
        missing = [name for name in HEAD_ORIENTATION_HEADER if name not in names]
        if missing:
            raise InputFormatError(
                path,
                f"header lacks column(s) {missing}; found {names}, expected {list(HEAD_ORIENTATION_HEADER)}",
                line=1,
            )
        idx = [names.index(name) for name in HEAD_ORIENTATION_HEADER]
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            line = reader.line_num
            values = [
                _cell(path, row, i, name, line) for i, name in zip(idx, HEAD_ORIENTATION_HEADER, strict=True)
            ]
            times.append(values[0])
            quats.append(values[1:])
    return HeadOrientation(
        time_ms=np.asarray(times, dtype=np.float64),
        quaternions=np.asarray(quats, dtype=np.float64).reshape(-1, 4),
        path=path,
    )


def write_head_orientation_csv(
    device_dir: str | os.PathLike, time_ms: np.ndarray, quaternions: np.ndarray
) -> Path:
    """Write ``headOrientation.csv`` as the DAQ does (integer ms, quaternion w, x, y, z); returns its path."""
    t = np.asarray(time_ms, dtype=np.float64).ravel()
    q = np.asarray(quaternions, dtype=np.float64)
    if q.shape != (t.size, 4):
        raise ValueError(f"quaternions must have shape ({t.size}, 4); got {q.shape}")
    path = Path(device_dir) / HEAD_ORIENTATION_FILE
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEAD_ORIENTATION_HEADER)
        for ti, qi in zip(t, q, strict=True):
            stamp = str(int(ti)) if ti == int(ti) else repr(float(ti))
            writer.writerow([stamp, *(f"{v:.9g}" for v in qi)])
    os.replace(tmp, path)
    return path


def _wrap_pi(angle: np.ndarray) -> np.ndarray:
    """Wrap to (-pi, pi]."""
    wrapped = np.mod(angle + np.pi, 2.0 * np.pi) - np.pi  # [-pi, pi)
    return np.where(wrapped <= -np.pi, wrapped + 2.0 * np.pi, wrapped)


def quat_to_euler(q: np.ndarray, degrees: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(roll, pitch, yaw)`` of quaternions ``q`` (..., 4) in (w, x, y, z) order, ZYX aerospace convention.

    Quaternions are normalised first (a zero quaternion gives NaN). ``q`` and ``-q`` give the same angles.
    Radians unless ``degrees``; roll, yaw in (-pi, pi], pitch in [-pi/2, pi/2].
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
    """Unit quaternions (..., 4) (w, x, y, z) of ZYX Euler angles in radians (inverse of quat_to_euler)."""
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

    ``t_ephys_s`` is NaN for samples outside the movie's span (the frames define the clock relation).
    """

    t_host_s: np.ndarray = field(repr=False)
    t_ephys_s: np.ndarray = field(repr=False)
    roll_rad: np.ndarray = field(repr=False)
    pitch_rad: np.ndarray = field(repr=False)
    yaw_rad: np.ndarray = field(repr=False)

    @property
    def roll_deg(self) -> np.ndarray:
        return np.degrees(self.roll_rad)

    @property
    def pitch_deg(self) -> np.ndarray:
        return np.degrees(self.pitch_rad)

    @property
    def yaw_deg(self) -> np.ndarray:
        return np.degrees(self.yaw_rad)

    def as_dict(self) -> dict[str, np.ndarray]:
        """Columns for a table: times on both clocks, angles in rad and deg."""
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

    Frame ``k`` has host time ``frame_host_times_s[k]`` (``MiniscopeRecording.timestamps_s``) and ephys time
    ``t_ca_im_s[k]``; a sample's ephys time is interpolated linearly between the frames around it, NaN
    outside the movie's span.
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
