"""CNMF-E benchmark on generated one-photon movies: time, detection, traces, spikes, peak memory.

    .venv/bin/python bench/bench_cnmfe.py [--cases main,alt,large] [--workers 2]

Cases (no motion: motion correction is an earlier step; the generator's one-photon background, vignette,
shot + read noise and overlapping pairs are kept; spike probability 0.015 per frame at 20 Hz):
- main:  200 x 200 px, 40 neurons, 6000 frames, seed 0 (the acceptance movie; target <= 5 min on 2 cores)
- alt:   256 x 160 px, 30 neurons, 4000 frames, seed 1 (another seed and size)
- large: 600 x 600 px, 360 neurons, 1000 frames, seed 2 (bounded memory with patches)

Each movie is rendered to a float32 zarr store (the motion-corrected movie's format; the large one chunked
100 x 100 px in space so a patch decompresses only what it reads) and fitted in a fresh process with
rf 40 / stride 20 patches on a process pool of `--workers` (BLAS single-threaded per worker: as many
workers as cores). Parameters: the lab's CaImAn block except gSig (3, 3) / gSiz (13, 13) for the
generator's 5 px neurons. Time is the fit only (reading the store included, rendering excluded); peak RSS
(VmHWM) is given for the fitting process and its largest worker. Scores: `ace_core.cnmfe_scoring`
(Hungarian matching on normalised footprints or centroid distance <= gSig; spikes within +-2 frames).
"""

import argparse
import concurrent.futures as cf
import json
import multiprocessing as mp
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CASES = {
    "main": dict(h=200, w=200, n=40, frames=6000, seed=0),
    "alt": dict(h=256, w=160, n=30, frames=4000, seed=1),
    "large": dict(h=600, w=600, n=360, frames=1000, seed=2),
}
SPIKE_PROB = 0.015


def _truth(case: dict):
    from ace_core.simulation.calcium import CalciumMovieSpec, make_truth

    spec = CalciumMovieSpec(
        height_px=case["h"],
        width_px=case["w"],
        n_neurons=case["n"],
        rigid_motion_px=0,
        nonrigid_motion_px=0,
        seed=case["seed"],
    )
    return make_truth(spec, np.full((case["n"], case["frames"]), SPIKE_PROB))


def _write_store(truth, path: Path, spatial_chunk: int | None) -> None:
    import zarr

    from ace_core.simulation.calcium import render_frames

    n, h, w = truth.n_frames, truth.spec.height_px, truth.spec.width_px
    chunks = (100, spatial_chunk or h, spatial_chunk or w)
    group = zarr.open_group(str(path), mode="w")
    arr = group.create_array("movie", shape=(n, h, w), chunks=chunks, dtype="f4")
    for s in range(0, n, 100):
        arr[s : min(s + 100, n)] = render_frames(truth, s, min(s + 100, n)).astype(np.float32)


def _peak_rss_mb(pid: int | str = "self") -> float:
    """VmHWM (peak resident set) of a process; unlike ru_maxrss it does not carry over the memory of the
    process that forked it across exec."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _child(store: str, workers: int, out: str) -> None:
    """Fit in this fresh process; write estimates, time and peak RSS to `out`."""
    from ace_core.cnmfe.fit import CNMFEParams, fit_cnmfe
    from ace_core.io.frames import ZarrMovieSource

    params = CNMFEParams(gSig=(3, 3), gSiz=(13, 13), rf=40, stride=20, fr=20.0)
    source = ZarrMovieSource(Path(store))
    rss_worker = float("nan")
    t0 = time.perf_counter()
    if workers > 1:
        with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            est = fit_cnmfe(source, params, executor=pool)
            elapsed = time.perf_counter() - t0
            rss_worker = max(_peak_rss_mb(pid) for pid in pool._processes)  # private, fine for a bench
    else:
        est = fit_cnmfe(source, params)
        elapsed = time.perf_counter() - t0
    with open(out, "wb") as f:
        pickle.dump({"est": est, "time": elapsed, "rss_main": _peak_rss_mb(), "rss_worker": rss_worker}, f)


def run_case(name: str, workers: int, tmp: Path) -> dict:
    from ace_core.analysis.events import events_from_traces
    from ace_core.simulation.scoring import score_cnmfe

    case = CASES[name]
    truth = _truth(case)
    store = tmp / f"{name}.zarr"
    t0 = time.perf_counter()
    _write_store(truth, store, 100 if name == "large" else None)
    render_s = time.perf_counter() - t0
    out = tmp / f"{name}.pkl"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1") if workers > 1 else dict(os.environ)
    child = [sys.executable, __file__, "--child", json.dumps([str(store), workers, str(out)])]
    subprocess.run(child, check=True, env=env)
    with open(out, "rb") as f:
        res = pickle.load(f)
    est = res["est"]
    score = score_cnmfe(est.A, est.C, est.S, truth, max_distance_px=3.0)
    good = est.idx_good
    score_good = score_cnmfe(est.A[:, good], est.C[good], est.S[good], truth, max_distance_px=3.0)
    events = events_from_traces(est.C, derivative="first", event_height_sd=5.0, noise=est.noise)
    score_ev = score_cnmfe(est.A, est.C, None, truth, max_distance_px=3.0, found_events=events)
    return {
        "case": name,
        "size": f"{case['h']}x{case['w']}",
        "neurons": case["n"],
        "frames": case["frames"],
        "render_s": render_s,
        "time_s": res["time"],
        "f1": score.f1,
        "f1_good": score_good.f1,
        "r": score.median_r,
        "recall": score.spike_recall,
        "precision": score.spike_precision,
        "ev_recall": score_ev.spike_recall,
        "ev_precision": score_ev.spike_precision,
        "n_found": score.n_found,
        "n_good": int(good.sum()),
        "n_unmatched": len(score.unmatched_found),
        "unmatched": [(k, round(float(est.snr[k]), 1)) for k in score.unmatched_found],
        "rss_main_mb": res["rss_main"],
        "rss_worker_mb": res["rss_worker"],
        "patches": len(est.patches),
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(*json.loads(sys.argv[2]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default="main,alt,large")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases.split(","):
            row = run_case(name, args.workers, Path(tmp))
            rows.append(row)
            print(f"{name}: fitted in {row['time_s']:.1f} s (render {row['render_s']:.1f} s)", flush=True)
    head = (
        f"{'size':>9} {'neurons':>7} {'frames':>6} {'time_s':>7} {'F1':>5} {'r':>5} {'recall':>6} "
        f"{'prec':>5} {'ev_rec':>6} {'ev_prec':>7} {'n_found':>7} {'n_good':>6} {'n_unmatched':>11} "
        f"{'patches':>7} {'RSS_main_MB':>11} {'RSS_worker_MB':>13}"
    )
    print(f"\nCNMF-E, rf 40 / stride 20, {args.workers} worker process(es)\n{head}")
    for r in rows:
        print(
            f"{r['size']:>9} {r['neurons']:>7} {r['frames']:>6} {r['time_s']:>7.1f} {r['f1']:>5.3f} "
            f"{r['r']:>5.3f} {r['recall']:>6.3f} {r['precision']:>5.3f} {r['ev_recall']:>6.3f} "
            f"{r['ev_precision']:>7.3f} "
            f"{r['n_found']:>7} {r['n_good']:>6} {r['n_unmatched']:>11} {r['patches']:>7} "
            f"{r['rss_main_mb']:>11.0f} {r['rss_worker_mb']:>13.0f}"
        )
    for r in rows:
        if r["unmatched"]:
            print(f"{r['case']}: unmatched found units (index, snr): {r['unmatched']}")
    print(
        "recall/prec: events from S (runs of non-zero frames = one event) within +-2 frames; ev_*: "
        "events_from_traces(C, 'first', event_height_sd=5, noise) with the landing-frame convention."
    )


if __name__ == "__main__":
    main()
