"""Motion-correction benchmark: ours (rigid, piecewise-rigid) next to a plain numpy reference and installed
peers, same run, same generated movies, accuracy against the generator's known motion.

    .venv/bin/python bench/bench_motion.py [--frames 1000] [--size 400] [--repeat 2] [--peer-python PY ...]

Movies (`synth_calcium`, 250 neurons per 400x400, seed fixed): "rigid" has +-8 px rigid motion and no warp;
"warp" adds a smooth 1.5 px non-rigid warp. Each is generated once, streamed (`iter_frame_chunks` ->
`MovieWriter`) into a uint8 zarr and read back with `ZarrMovieSource`, so reading and writing are timed as
in production (corrected movie written as float32 zarr by `MovieWriter`).

Rows of the speed table (rigid movie; "best of N" = fastest of N identical runs, the machine may be shared;
the in-memory, peer and warp-table rows run once each to keep the whole bench near 5 minutes on 2 cores):
- ours rigid / pw-rigid: `motion_correct` with the lab defaults (`MotionCorrectionParams()`), zarr -> zarr,
  in-process, and with a 2-worker `ProcessPoolExecutor` (spawn; pool start-up included);
- ours in memory: `ArraySource` input, nothing written (compute only);
- numpy reference (written here, the simplest correct approach): spatial difference-of-Gaussians band-pass
  of each frame (`scipy.ndimage.gaussian_filter`, sigma 1 minus sigma 7, the band of our `gSig_filt=7`),
  FFT cross-correlation with a fixed template (mean of the first 200 band-passed frames), integer peak
  within +-15 px plus a parabolic sub-pixel fit per axis, applied with `scipy.ndimage.shift` (cubic spline,
  'nearest' border). Its in-memory figure is derived from the same run: total minus its read/write time;
- peers (`jnormcorre`, `suite2p` registration), each run in a subprocess by the first interpreter that can
  import it: this one, then every `--peer-python` (default: $BENCH_PEER_PYTHON, `os.pathsep`-separated).
  They get the movie in memory (an .npy loaded before timing) and write nothing. jnormcorre: rigid,
  `gSig_filt=[7]`, `max_shifts=(15, 15)`, one timed run after a JIT warm-up on its first batch; suite2p:
  rigid registration (`registration_wrapper`, default settings, `nonrigid=False`, CPU, one torch thread
  like ours: two threads on a shared 2-core machine were 3-4x slower). Otherwise a "not installed" row.

Accuracy: shift RMSE = RMS over frames and both axes of (estimated correction - (-true displacement)) after
removing its median (the template's own position is arbitrary); against `truth.shifts_px` on the rigid movie
and `truth.effective_rigid_shifts_px()` (mean displacement) on the warp movie. Local residual = RMS length of
(applied correction field - (-true displacement field)) on a 16 px-margin, 8 px-step grid of points over all
frames, each point's temporal median removed; for rigid methods the field is the rigid shift everywhere
(a vector length: a pure rigid error gives local px ~ sqrt(2) x shift RMSE).
The warp table also gives the oracle rigid correction (true mean displacement): the floor of any rigid method.
"x ref" = frames/s divided by the numpy reference's frames/s with the same input/output.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import scipy
import scipy.fft as sfft
from scipy import ndimage

from ace_core.imaging import motion as mc
from ace_core.io.frames import ArraySource, FrameSource, ZarrMovieSource, chunk_bounds
from ace_core.simulation.calcium import CalciumMovieSpec, CalciumTruth, iter_frame_chunks, make_truth
from ace_core.store.movies import MovieWriter

MAX_SHIFT = 15  # px, the reference's search radius (= our default max_shifts)
REF_SIGMA = (1.0, 7.0)  # reference DoG: centre and surround Gaussian sigma (px)
REF_TEMPLATE_FRAMES = 200
CHUNK = 100
GRID_MARGIN, GRID_STEP = 16, 8


# ------------------------------------------------------------------------------------------------ movies


def write_movie(spec: CalciumMovieSpec, n_frames: int, path: Path) -> CalciumTruth:
    """Generate a movie chunk by chunk into a uint8 zarr; return its truth."""
    truth = make_truth(spec, np.full((spec.n_neurons, n_frames), 0.02))
    with MovieWriter(path, n_frames, spec.height_px, spec.width_px, dtype="uint8", chunk_frames=CHUNK) as w:
        start = 0
        for frames in iter_frame_chunks(truth, CHUNK):
            w.write(start, frames)
            start += frames.shape[0]
    return truth


# ------------------------------------------------------------------------------------------------ accuracy


def shift_rmse(correction: np.ndarray, displacement: np.ndarray) -> float:
    """RMS (frames, both axes) of correction - (-displacement), constant offset (median) removed."""
    diff = np.asarray(correction, np.float64) + displacement
    diff -= np.median(diff, axis=0)
    return float(np.sqrt(np.mean(diff**2)))


def grid_points(size: int) -> np.ndarray:
    return np.arange(GRID_MARGIN, size - GRID_MARGIN, GRID_STEP)


def true_field(truth: CalciumTruth, py: np.ndarray, px: np.ndarray) -> np.ndarray:
    """(T, 2, len(py), len(px)) true displacement at grid points (same formula as `displacement_field`)."""
    nr = truth.nonrigid
    rows, cols = np.meshgrid(py, px, indexing="ij")
    k = nr.wavevectors_cyc_per_px
    arg = 2 * np.pi * (k[..., 0, None, None] * rows + k[..., 1, None, None] * cols)
    basis = np.sin(arg + nr.phases_rad[..., None, None])  # (2, M, P, Q)
    return np.einsum("tam,ampq->tapq", nr.amplitudes_px, basis) + truth.shifts_px[:, :, None, None]


def local_residual(
    truth: CalciumTruth, rigid: np.ndarray, result: mc.MotionCorrectionResult | None = None
) -> float:
    """RMS length of the correction-field error at grid points; `result` with patch shifts: its pw field."""
    py, px = grid_points(truth.spec.height_px), grid_points(truth.spec.width_px)
    true = true_field(truth, py, px)
    if result is None or result.patch_shifts is None:
        est = np.broadcast_to(np.asarray(rigid, np.float64)[:, :, None, None], true.shape)
    else:
        order = 3 if result.params.shifts_opencv else 1
        ay = mc.geometry.interp_matrix(truth.spec.height_px, result.patch_centers[:, 0, 0], order)[py]
        ax = mc.geometry.interp_matrix(truth.spec.width_px, result.patch_centers[0, :, 1], order)[px]
        est = np.stack([mc.shift_field(ay, ax, p) for p in result.patch_shifts])
    diff = est + true
    diff = diff - np.median(diff, axis=0, keepdims=True)
    return float(np.sqrt(np.mean(np.sum(diff**2, axis=1))))


# ------------------------------------------------------------------------------------------------ ours


def run_ours(
    source: FrameSource, params: mc.MotionCorrectionParams, out: Path | None, workers: int = 0
) -> mc.MotionCorrectionResult:
    """One production-like run: corrected movie written to `out` (float32 zarr) unless None."""
    writer = (
        MovieWriter(
            out,
            source.n_frames,
            source.height,
            source.width,
            dtype="float32",
            chunk_frames=params.chunk_frames,
        )
        if out is not None
        else nullcontext()
    )
    pool = (
        ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        if workers
        else nullcontext()
    )
    with writer as w, pool as executor:
        return mc.motion_correct(
            source, params, out_tmp_path=None if w is None else w.tmp_path, executor=executor
        )


def best_of(n: int, fn: Callable[[], object], cleanup: Path | None = None) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)
    return best, out


# ------------------------------------------------------------------------------------------------ reference


def ref_bandpass(frame: np.ndarray) -> np.ndarray:
    """Spatial difference of Gaussians (float32)."""
    f = np.asarray(frame, np.float32)
    return ndimage.gaussian_filter(f, REF_SIGMA[0]) - ndimage.gaussian_filter(f, REF_SIGMA[1])


def _parabola(a: float, b: float, c: float) -> float:
    """Vertex offset of the parabola through (-1, a), (0, b), (1, c)."""
    den = a - 2 * b + c
    return 0.0 if den == 0 else 0.5 * (a - c) / den


def ref_estimate(frame: np.ndarray, template_spec: np.ndarray) -> np.ndarray:
    """Correction (dy, dx): peak of the circular cross-correlation of the band-passed frame and template."""
    h, w = frame.shape
    cc = sfft.irfft2(template_spec * np.conj(sfft.rfft2(ref_bandpass(frame))), s=(h, w))
    lags = np.arange(-MAX_SHIFT, MAX_SHIFT + 1)
    win = cc[np.ix_(lags % h, lags % w)]  # cc[k] = sum_x T(x + k) F(x): peak at k = -displacement
    iy, ix = np.unravel_index(int(np.argmax(win)), win.shape)
    sub_y = _parabola(win[iy - 1, ix], win[iy, ix], win[iy + 1, ix]) if 0 < iy < 2 * MAX_SHIFT else 0.0
    sub_x = _parabola(win[iy, ix - 1], win[iy, ix], win[iy, ix + 1]) if 0 < ix < 2 * MAX_SHIFT else 0.0
    return np.array([lags[iy] + sub_y, lags[ix] + sub_x])


def reference_correct(source: FrameSource, out: Path | None, apply: bool = True) -> tuple[np.ndarray, float]:
    """The numpy reference, streamed like ours: (corrections (T, 2), seconds spent reading and writing)."""
    io = 0.0
    t = time.perf_counter()
    first = np.asarray(source.read(0, min(REF_TEMPLATE_FRAMES, source.n_frames)))
    io += time.perf_counter() - t
    template = np.mean([ref_bandpass(f) for f in first], axis=0)
    template_spec = sfft.rfft2(template)
    shifts = np.zeros((source.n_frames, 2))
    writer = (
        MovieWriter(out, source.n_frames, source.height, source.width, dtype="float32", chunk_frames=CHUNK)
        if out is not None
        else nullcontext()
    )
    with writer as w:
        for s, e in chunk_bounds(source.n_frames, CHUNK):
            t = time.perf_counter()
            frames = np.asarray(source.read(s, e))
            io += time.perf_counter() - t
            corrected = np.empty(frames.shape, np.float32)
            for i, frame in enumerate(frames):
                shifts[s + i] = ref_estimate(frame, template_spec)
                if apply:
                    ndimage.shift(
                        frame.astype(np.float32), shifts[s + i], output=corrected[i], order=3, mode="nearest"
                    )
            if w is not None:
                t = time.perf_counter()
                w.write(s, corrected)
                io += time.perf_counter() - t
    return shifts, io


# ------------------------------------------------------------------------------------------------ peers

PEERS = ("jnormcorre", "suite2p")

PEER_SCRIPT = r"""
import importlib.metadata, json, sys, time
import numpy as np

args = json.loads(sys.argv[1])
movie = np.load(args["movie"])
peer = args["peer"]
if peer == "jnormcorre":
    from jnormcorre import motion_correction as jmc
    from jnormcorre.utils.lazy_array import lazy_data_loader

    class Loader(lazy_data_loader):
        def __init__(self, a):
            self.a = a

        @property
        def dtype(self):
            return self.a.dtype

        @property
        def shape(self):
            return self.a.shape

        def __getitem__(self, item):  # jnormcorre slices [:400] for its minimum even in shorter movies
            first = item[0] if isinstance(item, tuple) else item
            if isinstance(first, slice) and first.stop is not None:
                first = slice(first.start, min(first.stop, self.a.shape[0]), first.step)
                item = (first, *item[1:]) if isinstance(item, tuple) else first
            return super().__getitem__(item)

        def _compute_at_indices(self, idx):
            return np.asarray(self.a[idx], np.float32)

    # jnormcorre 1.0 registers a split in batches of load_split_heuristic frames but keeps only the last
    # batch's shifts: splits of exactly one batch return every frame's shift.
    split = jmc.load_split_heuristic(movie.shape[1], movie.shape[2], movie.shape[0])

    def run(frames):
        m = jmc.MotionCorrect(Loader(frames), max_shifts=(args["max_shift"],) * 2, gSig_filt=[args["gsig"]],
                              pw_rigid=False, frames_per_split=split)
        m.motion_correct(save_movie=False)
        return np.asarray(m.shifts_rig, np.float64)  # the correction applied (= -displacement)

    run(movie[:split])  # JIT compilation, untimed
    t0 = time.perf_counter()
    shifts = run(movie)
    seconds = time.perf_counter() - t0
    note = f"gSig_filt=[{args['gsig']}], 1 run after JIT warm-up"
elif peer == "suite2p":
    import torch
    from suite2p.parameters import default_settings
    from suite2p.registration import register

    torch.set_num_threads(1)  # like ours; 2 threads on the shared 2-core machine took 3-4x longer
    settings = default_settings()["registration"]
    settings["nonrigid"] = False
    frames = movie.astype(np.int16)  # registered in place
    t0 = time.perf_counter()
    out = register.registration_wrapper(frames, settings=settings, device=torch.device("cpu"))
    seconds = time.perf_counter() - t0
    shifts = -np.stack([out["yoff"], out["xoff"]], axis=1).astype(np.float64)  # yoff/xoff: displacement
    note = "default settings, nonrigid=False, cpu, 1 torch thread"
else:
    raise SystemExit(f"unknown peer {peer}")
np.save(args["shifts"], shifts)
print(json.dumps({"seconds": seconds, "version": importlib.metadata.version(peer), "note": note}))
"""


def peer_interpreter(name: str, candidates: list[str]) -> str | None:
    """First interpreter that can import `name` (this one first)."""
    if importlib.util.find_spec(name) is not None:
        return sys.executable
    check = "import importlib.util, sys; sys.exit(importlib.util.find_spec(sys.argv[1]) is None)"
    for py in candidates:
        if Path(py).exists() and subprocess.run([py, "-c", check, name], capture_output=True).returncode == 0:
            return py
    return None


def run_peer(py: str, name: str, movie_npy: Path, tmp: Path) -> tuple[float, np.ndarray, str]:
    out = tmp / f"{name}_shifts.npy"
    args = {"movie": str(movie_npy), "shifts": str(out), "peer": name, "max_shift": MAX_SHIFT, "gsig": 7}
    proc = subprocess.run(
        [py, "-c", PEER_SCRIPT, json.dumps(args)], capture_output=True, text=True, cwd=tmp, timeout=900
    )
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or ["no output"])[-1])
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(info["seconds"]), np.load(out), f"{name} {info['version']}: {info['note']}"


# ------------------------------------------------------------------------------------------------ main


@dataclasses.dataclass
class Row:
    method: str
    io: str
    runs: str
    seconds: float | None
    ref_seconds: float | None
    rmse: float | None
    residual: float | None
    note: str = ""


def fmt(x: float | None, spec: str) -> str:
    return "-" if x is None or not np.isfinite(x) else format(x, spec)


def print_rows(rows: list[Row], n_frames: int) -> None:
    hdr = ["method", "input -> output", "runs", "s/1000 fr", "frames/s", "x ref", "shift RMSE px", "local px"]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "|".join("---" for _ in hdr) + "|")
    for r in rows:
        per_k = None if r.seconds is None else 1000 * r.seconds / n_frames
        fps = None if r.seconds is None else n_frames / r.seconds
        ratio = None if r.seconds is None or r.ref_seconds is None else r.ref_seconds / r.seconds
        cells = [r.method, r.io, r.runs, fmt(per_k, ".1f"), fmt(fps, ".0f"), fmt(ratio, ".2f")]
        cells += [fmt(r.rmse, ".3f"), fmt(r.residual, ".3f")]
        print("| " + " | ".join(cells) + " |" + (f" {r.note}" if r.note else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--size", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=2, help="runs of the main rows (best reported)")
    ap.add_argument("--warp-px", type=float, default=1.5, help="non-rigid warp amplitude of the warp movie")
    ap.add_argument(
        "--peer-python",
        action="append",
        default=None,
        help="interpreter(s) to look for peers in (default: $BENCH_PEER_PYTHON)",
    )
    args = ap.parse_args()
    peer_pythons = args.peer_python or [
        p for p in os.environ.get("BENCH_PEER_PYTHON", "").split(os.pathsep) if p
    ]
    n, size = args.frames, args.size
    n_neurons = int(round(250 * (size / 400) ** 2))
    rigid_p = mc.MotionCorrectionParams(pw_rigid=False)
    pw_p = mc.MotionCorrectionParams()
    t_start = time.perf_counter()

    print(f"# Motion correction: {n} frames {size}x{size} uint8, {n_neurons} neurons")
    print(
        f"machine: {os.cpu_count()} CPUs, load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"(1/5/15 min) at start; Python {platform.python_version()}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}"
    )
    print(
        f"ours: MotionCorrectionParams() lab defaults (max_shifts {pw_p.max_shifts}, "
        f"gSig_filt {pw_p.gSig_filt}, strides {pw_p.strides}, overlaps {pw_p.overlaps}, "
        f"chunk_frames {pw_p.chunk_frames})"
    )

    with tempfile.TemporaryDirectory(prefix="bench_motion_") as tmpdir:
        tmp = Path(tmpdir)
        common = {"height_px": size, "width_px": size, "n_neurons": n_neurons, "rigid_motion_px": 8.0}
        t0 = time.perf_counter()
        truth_r = write_movie(
            CalciumMovieSpec(**common, nonrigid_motion_px=0.0, seed=0), n, tmp / "rigid.zarr"
        )
        truth_w = write_movie(
            CalciumMovieSpec(**common, nonrigid_motion_px=args.warp_px, seed=1), n, tmp / "warp.zarr"
        )
        print(f"generated both movies (streamed into uint8 zarr) in {time.perf_counter() - t0:.1f} s")
        src_r, src_w = ZarrMovieSource(tmp / "rigid.zarr"), ZarrMovieSource(tmp / "warp.zarr")
        out = tmp / "out.zarr"
        rep = f"best of {args.repeat}"
        rows: list[Row] = []

        # --- numpy reference, zarr -> zarr (its I/O time gives the in-memory figure)
        ref_runs = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            ref_shifts, ref_io = reference_correct(src_r, out)
            ref_runs.append((time.perf_counter() - t0, ref_io))
            shutil.rmtree(out, ignore_errors=True)
        ref_total, ref_io = min(ref_runs)
        ref_mem = ref_total - ref_io
        ref_rmse = shift_rmse(ref_shifts, truth_r.shifts_px)
        ref_res = local_residual(truth_r, ref_shifts)

        # --- ours, zarr -> zarr
        zz = "zarr -> zarr"
        for name, p in (("ours rigid", rigid_p), ("ours pw-rigid", pw_p)):
            sec, res = best_of(args.repeat, lambda p=p: run_ours(src_r, p, out), cleanup=out)
            rmse = shift_rmse(res.rigid_shifts, truth_r.shifts_px)
            rows.append(
                Row(name, zz, rep, sec, ref_total, rmse, local_residual(truth_r, res.rigid_shifts, res))
            )
        for name, p in (("ours rigid, 2 spawn workers", rigid_p), ("ours pw-rigid, 2 spawn workers", pw_p)):
            sec, res = best_of(args.repeat, lambda p=p: run_ours(src_r, p, out, workers=2), cleanup=out)
            rmse = shift_rmse(res.rigid_shifts, truth_r.shifts_px)
            resid = local_residual(truth_r, res.rigid_shifts, res)
            rows.append(Row(name, zz, rep, sec, ref_total, rmse, resid, "pool start-up included"))
        rows.append(Row("numpy reference (rigid)", zz, rep, ref_total, ref_total, ref_rmse, ref_res))

        # --- in memory
        movie = np.asarray(src_r.read(0, n))
        mem = "memory -> none"
        for name, p in (("ours rigid", rigid_p), ("ours pw-rigid", pw_p)):
            sec, res = best_of(1, lambda p=p, m=movie: run_ours(ArraySource(m), p, None))
            rmse = shift_rmse(res.rigid_shifts, truth_r.shifts_px)
            rows.append(
                Row(name, mem, "1", sec, ref_mem, rmse, local_residual(truth_r, res.rigid_shifts, res))
            )
        rows.append(
            Row(
                "numpy reference (rigid)",
                mem,
                "derived",
                ref_mem,
                ref_mem,
                ref_rmse,
                ref_res,
                "zarr run - I/O",
            )
        )

        # --- peers
        movie_npy = tmp / "rigid.npy"
        np.save(movie_npy, movie)
        del movie
        for name in PEERS:
            py = peer_interpreter(name, peer_pythons)
            if py is None:
                where = ", ".join([sys.executable, *peer_pythons])
                rows.append(
                    Row(name, "-", "-", None, None, None, None, f"not installed (looked in: {where})")
                )
                continue
            try:
                sec, shifts, note = run_peer(py, name, movie_npy, tmp)
            except Exception as exc:  # a broken peer install is a row, not a crash
                rows.append(Row(name, "-", "-", None, None, None, None, f"failed: {exc}"))
                continue
            rmse = shift_rmse(shifts, truth_r.shifts_px)
            resid = local_residual(truth_r, shifts)
            rows.append(
                Row(f"{name} rigid", "memory -> none", "1", sec, ref_mem, rmse, resid, f"{note} ({py})")
            )

        print()
        print(f"## Speed and accuracy, rigid movie (+-8 px rigid, no warp), {n} frames")
        print_rows(rows, n)

        # --- warp movie: accuracy of rigid vs piecewise-rigid against the known field
        warp_rows = []
        eff = truth_w.effective_rigid_shifts_px()
        for name, p in (("ours rigid", rigid_p), ("ours pw-rigid", pw_p)):
            sec, res = best_of(1, lambda p=p: run_ours(src_w, p, out), cleanup=out)
            rmse, resid = shift_rmse(res.rigid_shifts, eff), local_residual(truth_w, res.rigid_shifts, res)
            warp_rows.append(Row(name, zz, "1", sec, None, rmse, resid))
        t0 = time.perf_counter()
        ref_w, _ = reference_correct(src_w, None, apply=False)
        ref_w_sec = time.perf_counter() - t0
        warp_rows.append(
            Row(
                "numpy reference (rigid)",
                "zarr -> none",
                "1",
                ref_w_sec,
                None,
                shift_rmse(ref_w, eff),
                local_residual(truth_w, ref_w),
                "estimation only",
            )
        )
        warp_rows.append(
            Row(
                "oracle rigid (true mean displacement)",
                "-",
                "-",
                None,
                None,
                0.0,
                local_residual(truth_w, -eff),
            )
        )
        print()
        print(f"## Warp movie (+-8 px rigid + {args.warp_px} px smooth warp): rigid vs piecewise-rigid")
        print("shift RMSE against the mean displacement; local px: residual of the applied field (docstring)")
        print_rows(warp_rows, n)

    print()
    print(
        f"total {time.perf_counter() - t_start:.0f} s; load average at end "
        f"{'/'.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
