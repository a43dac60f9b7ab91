"""Peak memory of motion correction: a movie 10x longer must not raise peak RSS by more than 20 %.

    .venv/bin/python bench/bench_motion_memory.py [--frames 300] [--factor 10] [--size 256]

For each length (`--frames` and `--factor` x `--frames`) a child python generates the movie (`synth_calcium`)
chunk by chunk into a uint8 zarr (`iter_frame_chunks` -> `MovieWriter`); then, for rigid and for
piecewise-rigid (lab defaults, in-process), a fresh child only runs `motion_correct` from `ZarrMovieSource`
into a float32 `MovieWriter`. Every child is started by a minimal measuring python that waits for it and
reports `resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`, i.e. the peak RSS of that one child; the child also
reports its own `RUSAGE_SELF` peak (the two agree). A further child only imports the same modules: its peak
is the fixed import baseline, shown so that the growth above it can be read too.

Prints a table: frames, peak RSS MB (and above the import baseline), the long/short ratio and pass/fail
against 1.2 (on the peak RSS itself).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIMIT = 1.2
CHUNK = 100
MEASURE = (  # the measuring python: runs one child, reports the peak RSS of its (only) child
    "import json, resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
    "print(json.dumps({'children_maxrss_kb': peak, 'rc': rc}))"
)


def child(args: argparse.Namespace) -> None:
    """Run in a fresh interpreter: generate, correct or only import; print a JSON line with the own peak."""
    import resource

    import numpy as np

    from ace_core.imaging import motion as mc
    from ace_core.io.frames import ZarrMovieSource
    from ace_core.simulation.calcium import CalciumMovieSpec, iter_frame_chunks, make_truth
    from ace_core.store.movies import MovieWriter

    t0 = time.perf_counter()
    if args.child == "generate":
        n_neurons = int(round(250 * (args.size / 400) ** 2))
        spec = CalciumMovieSpec(
            height_px=args.size, width_px=args.size, n_neurons=n_neurons, rigid_motion_px=4.0, seed=0
        )
        truth = make_truth(spec, np.full((n_neurons, args.frames), 0.02))
        with MovieWriter(
            args.path, args.frames, args.size, args.size, dtype="uint8", chunk_frames=CHUNK
        ) as w:
            start = 0
            for frames in iter_frame_chunks(truth, CHUNK):
                w.write(start, frames)
                start += frames.shape[0]
    elif args.child in ("rigid", "pw"):
        params = mc.MotionCorrectionParams(pw_rigid=args.child == "pw")
        source = ZarrMovieSource(Path(args.path))
        with MovieWriter(
            args.out, source.n_frames, source.height, source.width, chunk_frames=params.chunk_frames
        ) as w:
            mc.motion_correct(source, params, out_tmp_path=w.tmp_path)
    elif args.child != "imports":
        raise SystemExit(f"unknown child mode {args.child}")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"self_maxrss_kb": own, "seconds": time.perf_counter() - t0}))


def measured(argv: list[str]) -> dict:
    """Run `argv` under a measuring python; its peak RSS (MB, RUSAGE_CHILDREN) and the child's report."""
    proc = subprocess.run([sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    outer = json.loads(lines[-1]) if lines else {"rc": proc.returncode}
    if proc.returncode != 0 or outer.get("rc") != 0 or len(lines) < 2:
        raise RuntimeError(f"child {argv[2:]} failed: {proc.stderr.strip()[-2000:]}")
    inner = json.loads(lines[-2])
    return {
        "peak_mb": outer["children_maxrss_kb"] / 1024,
        "self_mb": inner["self_maxrss_kb"] / 1024,
        "seconds": inner["seconds"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300, help="short movie length")
    ap.add_argument("--factor", type=int, default=10, help="long movie = factor x short")
    ap.add_argument("--size", type=int, default=256, help="frame height = width (px)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return

    me = [sys.executable, str(Path(__file__).resolve())]
    lengths = [args.frames, args.factor * args.frames]
    t_start = time.perf_counter()
    print(f"# Motion-correction peak memory: {args.size}x{args.size} uint8 movies of {lengths} frames")
    print(
        f"machine: {os.cpu_count()} CPUs, load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"(1/5/15 min); ru_maxrss of one fresh child per run; pass: long/short peak RSS <= {LIMIT}"
    )
    with tempfile.TemporaryDirectory(prefix="bench_motion_memory_") as tmpdir:
        tmp = Path(tmpdir)
        base = measured([*me, "--child", "imports"])["peak_mb"]
        rows = []
        gen = {}
        for n in lengths:
            movie = tmp / f"movie_{n}.zarr"
            gen[n] = measured(
                [
                    *me,
                    "--child",
                    "generate",
                    "--frames",
                    str(n),
                    "--size",
                    str(args.size),
                    "--path",
                    str(movie),
                ]
            )
        for mode in ("generate", "rigid", "pw"):
            peaks = []
            for n in lengths:
                if mode == "generate":
                    r = gen[n]
                else:
                    out = tmp / "out.zarr"
                    r = measured(
                        [*me, "--child", mode, "--path", str(tmp / f"movie_{n}.zarr"), "--out", str(out)]
                    )
                    shutil.rmtree(out, ignore_errors=True)
                peaks.append(r["peak_mb"])
                rows.append((mode, n, r, peaks[-1] / peaks[0]))
        print()
        print(f"import-only baseline (same modules, nothing run): {base:.0f} MB")
        print()
        hdr = ["step", "frames", "peak RSS MB", "above baseline MB", "child self MB", "s", "ratio", "<= 1.2"]
        print("| " + " | ".join(hdr) + " |")
        print("|" + "|".join("---" for _ in hdr) + "|")
        names = {"generate": "generate (stream)", "rigid": "correct rigid", "pw": "correct pw-rigid"}
        for mode, n, r, ratio in rows:
            verdict = "-" if n == lengths[0] else ("pass" if ratio <= LIMIT else "FAIL")
            cells = [names[mode], str(n), f"{r['peak_mb']:.0f}", f"{r['peak_mb'] - base:.0f}"]
            cells += [f"{r['self_mb']:.0f}", f"{r['seconds']:.1f}", f"{ratio:.3f}", verdict]
            print("| " + " | ".join(cells) + " |")
    print()
    print(
        f"total {time.perf_counter() - t_start:.0f} s; load average at end "
        f"{'/'.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
