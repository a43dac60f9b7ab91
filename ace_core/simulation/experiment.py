"""Write a complete synthetic experiment in real formats, with the truth saved beside it.

One call writes, under `data_path`:

    <subject>/line_<line>/Neuralynx/<YYYY-MM-DD_HH-MM-SS>/   Events.nev + the five lab .ncs channels
    <subject>/line_<line>/Miniscope/<YYYY_MM_DD>/<HH_MM_SS>/  UCLA Miniscope V4 session
    <subject>/line_<line>/ground_truth/truth.npz, truth.json

and `generate_project` adds the lines' rows to `experiments.csv` and `analysis_parameters.csv`.

Session clock: seconds from the first Neuralynx record (the convention of `ace_core.io.neuralynx`). The
miniscope's frame k happens at `frame_times_s[k]`; its frame-sync TTL edge is written at that time
(rounded to the µs Neuralynx stores). Neurons fire with a per-frame probability; in "locked" neurons the
probability follows a von Mises tuning to the true LFP oscillation phase, with preferred phase
`preferred_phase_rad` and concentration `locking_kappa`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.special import i0

from ace_core import catalog
from ace_core.analysis.head_orientation import euler_to_quat
from ace_core.io import miniscope, neuralynx
from ace_core.simulation import miniscope_files, sidecar_files
from ace_core.simulation.calcium import CalciumMovieSpec, CalciumTruth, iter_frame_chunks, make_truth
from ace_core.simulation.lfp import OscillationSpec, oscillation_phase, synth_lfp
from ace_core.simulation.neuralynx_files import NevEvent, write_ncs, write_nev
from ace_core.store.atomic import atomic_file

SESSION_START_US = 7_200_000_000  # arbitrary non-zero Neuralynx clock value at the first record
RECORDING_START = dt.datetime(2024, 1, 15, 10, 0, 0)
# Per-channel (gain, phase offset) of the shared slow oscillation: bipolar derivations see it differently.
CHANNEL_MIX = {
    "PFCLFPvsCBEEG": (1.0, 0.0),
    "PFCEEGvsCBEEG": (0.8, 0.3),
    "PCvsPFCEEG": (0.5, 2.0),
    "CBvsPCEEG": (0.6, -1.0),
    "EMG": (0.05, 0.0),
}


@dataclass(frozen=True)
class ExperimentSpec:
    """Scenario knobs of one synthetic experiment line (trailing comments give the rest).

    Attributes
    ----------
    line, subject_id, seed
        Experiment line, animal id, random seed of everything generated.
    duration_s, frame_rate_hz, frames_per_file, movie
        Miniscope recording length (s), frame rate (Hz), frames per AVI file, and the movie's parameters
        (its frame rate and seed are replaced by this spec's).
    ephys_fs_hz, oscillation, lfp_noise_rms_uv
        Neuralynx sampling rate (Hz), the shared slow oscillation, pink-noise RMS per channel (µV).
    base_rate_hz, locked_fraction, preferred_phase_rad, locking_kappa
        Mean spike rate per neuron (Hz); fraction of neurons locked to the oscillation, with a von Mises
        tuning of this preferred phase (rad) and concentration.
    pre_roll_s, post_roll_s
        Ephys recorded before the first and after the last frame (s).
    drug, drug_start_s
        Drug named in the Neuralynx annotation, and its session time (s).
    """

    line: str
    subject_id: str = "SIM01"
    seed: int = 0
    duration_s: float = 60.0  # miniscope recording length
    frame_rate_hz: float = 20.0
    frames_per_file: int = 1000
    movie: CalciumMovieSpec = field(default_factory=CalciumMovieSpec)
    ephys_fs_hz: float = 2000.0
    oscillation: OscillationSpec = field(default_factory=OscillationSpec)
    lfp_noise_rms_uv: float = 60.0
    base_rate_hz: float = 0.4  # mean spike rate per neuron
    locked_fraction: float = 0.5
    preferred_phase_rad: float = np.pi / 3
    locking_kappa: float = 2.0
    frame_jitter_s: float = 1e-4  # std of the frame clock jitter
    ttl_gap: tuple[int, int] | None = None  # (first dropped frame, number of dropped edges)
    spurious_edge_after_frame: int | None = None  # one extra edge between this frame and the next
    ephys_pause_s: float | None = None  # two Neuralynx recording segments separated by this pause
    pre_roll_s: float = 4.0  # ephys recorded before the first frame (after the pause, if any)
    post_roll_s: float = 3.0
    drug: str = "ketamine"
    drug_start_s: float | None = None  # session time of the drug annotation (default: middle of the movie)
    crop_coords: tuple[int, int, int, int] | None = None  # written to the line's analysis_parameters.csv row
    head_orientation: bool = False  # write Miniscope/headOrientation.csv with a known rotation (yaw wraps)
    note_label: str | None = "LED check"  # a Miniscope notes.csv entry at the drug annotation's time

    @property
    def n_frames(self) -> int:
        """Number of movie frames: ``round(duration_s * frame_rate_hz)``."""
        return int(round(self.duration_s * self.frame_rate_hz))


@dataclass(frozen=True)
class ExperimentTruth:
    """What the generator wrote, for tests to compare against."""

    spec: ExperimentSpec
    ephys_dir: Path
    calcium_dir: Path
    truth_dir: Path
    frame_times_s: np.ndarray  # true frame times (session clock, µs-rounded as written)
    dropped_frames: np.ndarray  # frames whose TTL edge was not written
    delete_indices: list[int]  # index of the spurious edge in the gap-filled edge array (CSV column value)
    low_confidence_periods: np.ndarray  # expected (n, 2) rows in final frame indices
    segments_s: list[tuple[float, float]]  # Neuralynx recording segments [start, stop) on the session clock
    calcium: CalciumTruth
    spike_phase_rad: np.ndarray  # true LFP phase (wrapped) at each frame, shared by all neurons
    locked: np.ndarray  # (N,) bool
    relative_dirs: dict[str, str]  # CSV directory values, relative to data_path
    head_euler_rad: np.ndarray | None = None  # (T, 3) roll, pitch, yaw written at each frame's host time


def _frame_times(spec: ExperimentSpec, t_first_s: float, rng: np.random.Generator) -> np.ndarray:
    t = t_first_s + np.arange(spec.n_frames) / spec.frame_rate_hz
    t = t + np.clip(
        rng.normal(0, spec.frame_jitter_s, t.size), -3 * spec.frame_jitter_s, 3 * spec.frame_jitter_s
    )
    return np.round(t * 1e6) / 1e6  # Neuralynx stores µs


def _spike_probability(spec: ExperimentSpec, phase: np.ndarray, n_neurons: int, rng: np.random.Generator):
    locked = np.zeros(n_neurons, dtype=bool)
    locked[rng.permutation(n_neurons)[: int(round(spec.locked_fraction * n_neurons))]] = True
    p_base = spec.base_rate_hz / spec.frame_rate_hz
    tuning = np.exp(spec.locking_kappa * np.cos(phase - spec.preferred_phase_rad)) / i0(spec.locking_kappa)
    prob = np.where(locked[:, None], p_base * tuning[None, :], p_base)
    return np.clip(prob, 0.0, 0.9), locked


def _write_neuralynx(
    spec: ExperimentSpec, ephys_dir: Path, segments_s, frame_times_s, rng
) -> tuple[list, int]:
    fs = spec.ephys_fs_hz
    ephys_dir.mkdir(parents=True, exist_ok=True)
    for ad_channel, name in enumerate(neuralynx.LAB_CHANNELS):
        gain, offset = CHANNEL_MIX[name]
        segs = []
        for start_s, stop_s in segments_s:
            n0, n1 = int(round(start_s * fs)), int(round(stop_s * fs))
            t = np.arange(n0, n1) / fs
            x = synth_lfp(
                t,
                fs,
                spec.oscillation,
                seed=spec.seed,
                noise_rms_uv=spec.lfp_noise_rms_uv,
                gain=gain,
                phase_offset_rad=offset,
                noise_seed=ad_channel * 100 + n0 % 97,
            )
            if name == "EMG":
                x = x + rng.normal(0, 20.0, x.size)
            segs.append((SESSION_START_US + int(round(n0 * 1e6 / fs)), x))
        write_ncs(
            ephys_dir / f"{name}.ncs",
            segs,
            fs,
            channel_name=name,
            ad_channel=ad_channel,
            time_created=RECORDING_START,
        )

    events: list[NevEvent] = []
    for start_s, stop_s in segments_s:
        events.append(NevEvent(SESSION_START_US + int(round(start_s * 1e6)), 19, 0, "Starting Recording"))
        events.append(NevEvent(SESSION_START_US + int(round(stop_s * 1e6)) - 1, 19, 0, "Stopping Recording"))
    drug_s = spec.drug_start_s if spec.drug_start_s is not None else float(np.median(frame_times_s))
    events.append(NevEvent(SESSION_START_US + int(round(drug_s * 1e6)), 19, 0, f"{spec.drug} infusion start"))

    keep = np.ones(frame_times_s.size, dtype=bool)
    if spec.ttl_gap is not None:
        first, count = spec.ttl_gap
        keep[first : first + count] = False
    for k in np.flatnonzero(keep):
        value = 1 if k % 2 == 0 else 0
        label = neuralynx.TTL_HIGH_LABEL if value else neuralynx.TTL_LOW_LABEL
        events.append(NevEvent(SESSION_START_US + int(round(frame_times_s[k] * 1e6)), 11, value, label))
    if spec.spurious_edge_after_frame is not None:
        j = spec.spurious_edge_after_frame
        t_spur = 0.5 * (frame_times_s[j] + frame_times_s[j + 1])
        value = 0 if j % 2 == 0 else 1  # the line glitches back for an instant
        label = neuralynx.TTL_HIGH_LABEL if value else neuralynx.TTL_LOW_LABEL
        events.append(NevEvent(SESSION_START_US + int(round(t_spur * 1e6)), 11, value, label))
    events.sort(key=lambda e: e.timestamp_us)
    write_nev(ephys_dir / "Events.nev", events)
    return events, int((~keep).sum())


def _write_head_and_notes(
    spec: ExperimentSpec, session_dir: Path, host_ms: np.ndarray, frame_times_s: np.ndarray
) -> np.ndarray | None:
    """BNO head orientation (roll/pitch sinusoids, yaw ramping through +-180 deg) and one typed note."""
    if spec.note_label:
        drug_s = spec.drug_start_s if spec.drug_start_s is not None else float(np.median(frame_times_s))
        k = int(np.clip(np.searchsorted(frame_times_s, drug_s), 0, host_ms.size - 1))
        sidecar_files.write_notes_csv(session_dir, [int(host_ms[k])], [spec.note_label])
    if not spec.head_orientation:
        return None
    t = host_ms / 1e3
    euler = np.stack(
        [
            np.radians(20) * np.sin(2 * np.pi * 0.1 * t),
            np.radians(15) * np.cos(2 * np.pi * 0.07 * t),
            np.angle(np.exp(1j * (np.radians(150) + 2 * np.pi * t / 40.0))),
        ],
        axis=1,
    )
    quats = euler_to_quat(euler[:, 0], euler[:, 1], euler[:, 2])
    sidecar_files.write_head_orientation_csv(session_dir / miniscope.DEVICE_DIR, host_ms, quats)
    return euler


def _validate(spec: ExperimentSpec) -> None:
    n = spec.n_frames
    if spec.ttl_gap is not None:
        first, count = spec.ttl_gap
        if not (1 <= first and count >= 2 and first + count < n - 1):
            raise ValueError(f"ttl_gap {spec.ttl_gap} must drop >= 2 edges strictly inside 1..{n - 2}")
    if spec.spurious_edge_after_frame is not None:
        j = spec.spurious_edge_after_frame
        if not 0 <= j < n - 1:
            raise ValueError(f"spurious_edge_after_frame {j} must be in 0..{n - 2}")
        if spec.ttl_gap is not None and spec.ttl_gap[0] - 1 <= j < spec.ttl_gap[0] + spec.ttl_gap[1]:
            raise ValueError("the spurious edge must not fall inside the TTL gap")


def generate_experiment(data_path: str | Path, spec: ExperimentSpec) -> ExperimentTruth:
    """Write one experiment (Neuralynx + Miniscope + truth) under ``data_path``.

    Parameters
    ----------
    data_path
        The data folder; the layout under it is in the module docstring.
    spec
        The scenario.

    Returns
    -------
    ExperimentTruth
        Also saved in the line's ``ground_truth`` folder (:func:`save_truth`).

    Raises
    ------
    ValueError
        If ``ttl_gap`` does not drop >= 2 edges strictly inside the movie, or the spurious edge is outside
        the movie or inside the TTL gap.
    """
    _validate(spec)
    data_path = Path(data_path)
    rng = np.random.default_rng([spec.seed, 1])
    stamp = RECORDING_START
    root_rel = Path(spec.subject_id) / f"line_{spec.line}"
    ephys_rel = root_rel / "Neuralynx" / stamp.strftime("%Y-%m-%d_%H-%M-%S")
    calcium_rel = (
        root_rel
        / "Miniscope"
        / stamp.strftime("%Y_%m_%d")
        / (stamp + dt.timedelta(minutes=5)).strftime("%H_%M_%S")
    )

    # Recording layout on the session clock.
    segments_s: list[tuple[float, float]] = []
    t_first = spec.pre_roll_s
    if spec.ephys_pause_s:
        seg1 = (0.0, 3.0)
        segments_s.append(seg1)
        t_first = seg1[1] + spec.ephys_pause_s + spec.pre_roll_s
    frame_times = _frame_times(spec, t_first, rng)
    seg_start = segments_s[-1][1] + spec.ephys_pause_s if spec.ephys_pause_s else 0.0
    segments_s.append((seg_start, float(frame_times[-1] + spec.post_roll_s)))

    # Spikes tuned to the true oscillation phase at each frame.
    movie_spec = dataclasses.replace(spec.movie, frame_rate_hz=spec.frame_rate_hz, seed=spec.seed)
    phase = np.angle(np.exp(1j * oscillation_phase(spec.oscillation, frame_times, spec.seed)))
    prob, locked = _spike_probability(spec, phase, movie_spec.n_neurons, rng)
    calcium = make_truth(movie_spec, prob)

    _, _ = _write_neuralynx(spec, data_path / ephys_rel, segments_s, frame_times, rng)

    host_ms = np.round((frame_times - frame_times[0]) * 1e3 + rng.normal(0, 1.0, frame_times.size)).astype(
        np.int64
    )
    host_ms = np.maximum.accumulate(np.maximum(host_ms, 0))
    miniscope_files.write_recording(
        data_path / calcium_rel,
        iter_frame_chunks(calcium, 200),
        frame_rate_hz=spec.frame_rate_hz,
        timestamps_ms=host_ms,
        frames_per_file=spec.frames_per_file,
        session_metadata={
            "animalName": spec.subject_id,
            "experimentName": f"line_{spec.line}",
            "researcherName": "ace_core.simulation.experiment",
        },
        recording_start=stamp + dt.timedelta(minutes=5),
    )
    head = _write_head_and_notes(spec, data_path / calcium_rel, host_ms, frame_times)

    dropped = (
        np.arange(spec.ttl_gap[0], spec.ttl_gap[0] + spec.ttl_gap[1]) if spec.ttl_gap else np.zeros(0, int)
    )
    # After gap filling the frame count is right again, so the spurious edge sits right after frame j.
    delete = [spec.spurious_edge_after_frame + 1] if spec.spurious_edge_after_frame is not None else []
    low_conf = (np.array([[dropped[0] - 1, dropped[-1] + 1]]) if dropped.size else np.zeros((0, 2))).astype(
        np.int64
    )

    truth = ExperimentTruth(
        spec=spec,
        ephys_dir=data_path / ephys_rel,
        calcium_dir=data_path / calcium_rel,
        truth_dir=data_path / root_rel / "ground_truth",
        frame_times_s=frame_times,
        dropped_frames=dropped,
        delete_indices=delete,
        low_confidence_periods=low_conf,
        segments_s=segments_s,
        calcium=calcium,
        spike_phase_rad=phase,
        locked=locked,
        relative_dirs={
            "ephys directory": ephys_rel.as_posix(),
            "calcium imaging directory": calcium_rel.as_posix(),
        },
        head_euler_rad=head,
    )
    save_truth(truth)
    return truth


def save_truth(truth: ExperimentTruth) -> None:
    """Write truth.npz (arrays) and truth.json (scenario and scalars) into the truth folder, atomically.

    Parameters
    ----------
    truth
        What the generator wrote; ``truth.truth_dir`` is created if needed and both files are replaced.
    """
    truth.truth_dir.mkdir(parents=True, exist_ok=True)
    c = truth.calcium
    arrays = dict(
        frame_times_s=truth.frame_times_s,
        dropped_frames=truth.dropped_frames,
        low_confidence_periods=truth.low_confidence_periods,
        frame_lfp_phase_rad=truth.spike_phase_rad,
        locked=truth.locked,
        footprints=c.footprints,
        centers_px=c.centers_px,
        traces=c.traces,
        spikes=c.spikes,
        shifts_px=c.shifts_px,
        effective_rigid_shifts_px=c.effective_rigid_shifts_px(),
        background=c.background,
        background_trace=c.background_trace,
        vignette=c.vignette,
        kernel=c.kernel,
        nonrigid_wavevectors_cyc_per_px=c.nonrigid.wavevectors_cyc_per_px,
        nonrigid_phases_rad=c.nonrigid.phases_rad,
        nonrigid_amplitudes_px=c.nonrigid.amplitudes_px,
        **({"head_euler_rad": truth.head_euler_rad} if truth.head_euler_rad is not None else {}),
    )
    with atomic_file(truth.truth_dir / "truth.npz", "wb") as handle:
        np.savez_compressed(handle, **arrays)
    s = truth.spec
    meta = {
        "line": s.line,
        "seed": s.seed,
        "n_frames": s.n_frames,
        "frame_rate_hz": s.frame_rate_hz,
        "ephys_fs_hz": s.ephys_fs_hz,
        "oscillation": dataclasses.asdict(s.oscillation),
        "preferred_phase_rad": s.preferred_phase_rad,
        "locking_kappa": s.locking_kappa,
        "locked_fraction": s.locked_fraction,
        "ttl_gap": s.ttl_gap,
        "delete_indices": truth.delete_indices,
        "spurious_edge_after_frame": s.spurious_edge_after_frame,
        "segments_s": truth.segments_s,
        "movie": dataclasses.asdict(c.spec),
        "relative_dirs": truth.relative_dirs,
    }
    with atomic_file(truth.truth_dir / "truth.json") as handle:
        handle.write(json.dumps(meta, indent=2, default=float))


def experiment_row(spec: ExperimentSpec, truth: ExperimentTruth) -> dict:
    """The line's row of ``experiments.csv`` (column name -> value), directories relative to the data path.

    Parameters
    ----------
    spec, truth
        The scenario and what was written for it.

    Returns
    -------
    dict
    """
    return {
        "line number": spec.line,
        "id": spec.subject_id,
        "date (YYMMDD)": RECORDING_START.strftime("%y%m%d"),
        "Box Calcium Folder ID": None,
        "calcium imaging directory": truth.relative_dirs["calcium imaging directory"],
        "Box ephys folder ID": None,
        "ephys directory": truth.relative_dirs["ephys directory"],
        "rat weight (kg)": 0.5,
        "systemic drug": spec.drug,
        "systemic dose (% or mg/kg/min)": 2,
        "systemic drug concentration (mg/mL)": 6,
        "total systemic time (min)": 30,
        "emg channel": "EMG.ncs",
        "events filename": "Events.nev",
        "LFP and EEG CSCs": list(neuralynx.LAB_CHANNELS),
        "comments": f"synthetic (seed {spec.seed}); truth in ground_truth/",
    }


def parameter_row(spec: ExperimentSpec, truth: ExperimentTruth) -> dict:
    """The line's row of ``analysis_parameters.csv``: TTL deletions, LFP filter and channel, crop, gSig, gSiz.

    gSig is about 0.6 neuron radius (at least 2 px) and gSiz 4 gSig + 1, as a lab tunes them per line.

    Parameters
    ----------
    spec, truth
        The scenario and what was written for it.

    Returns
    -------
    dict
    """
    g_sig = max(2, int(round(0.6 * spec.movie.neuron_radius_px)))
    return {
        "line number": spec.line,
        "id": spec.subject_id,
        "indices of TTL events to delete": truth.delete_indices,
        "filter_type": "butter",
        "filter_range": [0.5, 4],
        "channel_name": "PFCLFPvsCBEEG",
        "crop_coords": list(spec.crop_coords) if spec.crop_coords else None,
        # CNMF-E neuron size for this movie (a lab tunes these per line in the same columns)
        "gSig": [g_sig, g_sig],
        "gSiz": [4 * g_sig + 1, 4 * g_sig + 1],
    }


def generate_project(
    project_path: str | Path, data_path: str | Path, specs: Sequence[ExperimentSpec]
) -> dict[str, ExperimentTruth]:
    """Generate every experiment and write the project's two CSVs (replacing them).

    Parameters
    ----------
    project_path
        Folder of ``experiments.csv`` and ``analysis_parameters.csv`` (created if needed).
    data_path
        Folder the experiments are written under.
    specs
        One scenario per line.

    Returns
    -------
    dict of str to ExperimentTruth
        By line.

    Raises
    ------
    ValueError
        As :func:`generate_experiment`.
    """
    project_path = Path(project_path)
    project_path.mkdir(parents=True, exist_ok=True)
    truths = {s.line: generate_experiment(data_path, s) for s in specs}
    catalog.write_experiments_csv(
        project_path / catalog.EXPERIMENTS_CSV,
        [experiment_row(s, truths[s.line]) for s in specs],
        example_row=True,
    )
    catalog.write_parameters_csv(
        project_path / catalog.PARAMETERS_CSV, [parameter_row(s, truths[s.line]) for s in specs]
    )
    return truths


def load_truth_json(truth_dir: str | Path) -> dict:
    """The scenario and scalars that :func:`save_truth` wrote.

    Parameters
    ----------
    truth_dir
        The line's ``ground_truth`` folder.

    Returns
    -------
    dict
        The parsed ``truth.json``.
    """
    return json.loads((Path(truth_dir) / "truth.json").read_text())


def demo_specs() -> list[ExperimentSpec]:
    """The demo project: a clean line, a TTL gap + spurious edge line, a 2-segment 30 fps line.

    Returns
    -------
    list of ExperimentSpec
    """
    return [
        ExperimentSpec(
            line="1", subject_id="SIM01", seed=1, crop_coords=(6, 4, 122, 120), head_orientation=True
        ),
        ExperimentSpec(
            line="2",
            subject_id="SIM01",
            seed=2,
            ttl_gap=(400, 7),
            spurious_edge_after_frame=250,
            preferred_phase_rad=-np.pi / 2,
        ),
        ExperimentSpec(
            line="3",
            subject_id="SIM02",
            seed=3,
            frame_rate_hz=30.0,
            frames_per_file=500,
            ephys_pause_s=2.0,
            preferred_phase_rad=np.pi,
            drug="propofol",
            crop_coords=(10, 10, 118, 118),
        ),
    ]
