"""Foundation benchmark: our ephys reader and band-pass against the reference's approach, same run, same data.

    .venv/bin/python bench/bench_foundation.py [--minutes 10] [--fs 32000]

Cases
- read one channel: `ace_core.neuralynx.read_channel` (one file, chunked) vs the reference's way
  (`neo.io.NeuralynxIO(dirname).read_block()` of the whole session, then pick the channel).
- band-pass 0.5-4 Hz: our second-order sections (`ace_core.filters.bandpass`) vs the reference's
  `butter(..., output="ba")` + `filtfilt`; the note gives how far the (b, a) result strays from the SOS
  result, showing where (b, a) breaks down at high sampling rates.
Prints a table with the ratio peer/ours (> 1: ours is faster).
"""

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import neo
import numpy as np
from scipy import signal

from ace_core.io import neuralynx
from ace_core.signal import filters
from ace_core.simulation import neuralynx_files


def timed(fn, repeat: int = 1):
    best, out, peak = np.inf, None, 0
    for _ in range(repeat):
        tracemalloc.start()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return best, out, peak / 2**20


def write_session(folder: Path, fs_hz: float, minutes: float) -> None:
    n = int(minutes * 60 * fs_hz)
    rng = np.random.default_rng(0)
    t = np.arange(n) / fs_hz
    for ad, name in enumerate(neuralynx.LAB_CHANNELS):
        x = 200 * np.cos(2 * np.pi * 1.5 * t + ad) + rng.normal(0, 50, n)
        neuralynx_files.write_ncs(
            folder / f"{name}.ncs", [(1_000_000, x)], fs_hz, channel_name=name, ad_channel=ad
        )
    neuralynx_files.write_nev(
        folder / "Events.nev", neuralynx_files.ttl_edge_events(1_000_000 + np.arange(100) * 50_000)
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--fs", type=float, default=32000.0)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        write_session(folder, args.fs, args.minutes)
        print(
            f"wrote 5 channels x {args.minutes:g} min at {args.fs:g} Hz in {time.perf_counter() - t0:.1f} s"
        )

        ours_s, ch, ours_mb = timed(lambda: neuralynx.read_channel(folder, "PFCLFPvsCBEEG"))

        def reference_read():
            block = neo.io.NeuralynxIO(dirname=str(folder)).read_block()
            sig = block.segments[0].analogsignals[0]
            idx = list(sig.array_annotations["channel_names"]).index("PFCLFPvsCBEEG")
            return np.asarray(sig[:, idx].magnitude).ravel()

        peer_s, ref_x, peer_mb = timed(reference_read)
        same = np.allclose(ch.signal_uv, ref_x, atol=1e-6)
        rows.append(
            (
                "read 1 of 5 channels",
                ours_s,
                peer_s,
                f"{ours_mb:.0f} / {peer_mb:.0f} MB traced",
                f"identical samples: {same}",
            )
        )

        x = ch.signal_uv
        for order in (2, 4):
            ours_s, y_ours, _ = timed(lambda o=order: filters.bandpass(x, args.fs, [0.5, 4.0], order=o))

            def reference_filter(o=order):
                b, a = signal.butter(o, [0.5, 4.0], btype="bandpass", fs=args.fs)
                return signal.filtfilt(b, a, x)

            peer_s, y_ref, _ = timed(reference_filter)
            if np.isfinite(y_ref).all():
                note = f"(b, a) deviates by up to {np.abs(y_ref - y_ours).max():.3g} µV (200 µV oscillation)"
            else:
                note = "(b, a) output is not finite: the design is unstable"
            rows.append((f"band-pass 0.5-4 Hz, order {order}", ours_s, peer_s, "", note))

    print()
    hdr = ("case", "ours (s)", "reference way (s)", "ratio ref/ours", "memory", "note")
    print(" | ".join(hdr))
    print(" | ".join("---" for _ in hdr))
    for case, ours, peer, mem, note in rows:
        print(f"{case} | {ours:.2f} | {peer:.2f} | {peer / ours:.2f} | {mem} | {note}")


if __name__ == "__main__":
    main()
