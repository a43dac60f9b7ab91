"""Demo: generate a synthetic project and materialize every asset for every line on a local instance.

Run through `bash scripts/demo.sh` (which sets DAGSTER_HOME to ./.dagster_home, the same instance that
`dagster dev -w workspace.yaml` opens when started with that DAGSTER_HOME).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

import dagster as dg
import numpy as np

# Partitioned asset checks are a Dagster "preview" API; the notice is raised when definitions are imported.
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
warnings.filterwarnings("ignore", category=dg.BetaWarning)

from ace_assets.definitions import build_definitions  # noqa: E402
from ace_assets.partitions import experiment_lines  # noqa: E402
from ace_assets.resources import DEMO_ROOT  # noqa: E402
from ace_assets.sensors import experiments_csv_sensor  # noqa: E402
from ace_core import store  # noqa: E402
from ace_core.catalog import layout  # noqa: E402
from ace_core.simulation.experiment import demo_specs, generate_project  # noqa: E402
from ace_core.simulation.lfp import oscillation_phase  # noqa: E402

# Step logs go to the instance (visible in the UI); the terminal shows warnings and the summary table.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

# The embedded default instance (SQLite on local disk, telemetry off, run queue and pool limits).
DAGSTER_YAML = Path(__file__).resolve().parents[1] / "deploy" / "dagster.yaml"


def ensure_instance_home() -> Path:
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path.cwd() / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(DAGSTER_YAML, home / "dagster.yaml")
    return home


def circular_error_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.degrees(np.abs(np.angle(np.exp(1j * (a - b)))))


def shift_rmse_px(correction: np.ndarray, displacement: np.ndarray) -> float:
    """RMSE of the estimated correction against -displacement, after removing the constant template offset."""
    diff = correction + displacement
    diff = diff - np.median(diff, axis=0)
    return float(np.sqrt(np.mean(np.sum(diff**2, axis=1))))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", type=Path, default=DEMO_ROOT, help="demo folder (project/, data/, store/)")
    args = ap.parse_args()
    home = ensure_instance_home()
    project, data, product_store = args.root / "project", args.root / "data", args.root / "store"

    t0 = time.perf_counter()
    for folder in (project, data):
        shutil.rmtree(folder, ignore_errors=True)
    specs = demo_specs()
    truths = generate_project(project, data, specs)
    print(f"generated {len(specs)} experiment lines in {time.perf_counter() - t0:.1f} s under {args.root}")

    defs = build_definitions(str(project), str(data), str(product_store))
    job = defs.resolve_job_def("process_line")
    with dg.DagsterInstance.get() as instance:
        # The same sensor the daemon runs adds the lines as partitions.
        result = experiments_csv_sensor(
            dg.build_sensor_context(instance=instance, resources={"catalog": defs.resources["catalog"]})
        )
        for req in getattr(result, "dynamic_partitions_requests", []) or []:
            instance.add_dynamic_partitions(experiment_lines.name, list(req.partition_keys))
        # Record raw-data and parameter versions first, so later edits show as stale in the UI.
        defs.resolve_job_def("observe_sources").execute_in_process(instance=instance, run_config=QUIET)
        rows = []
        for spec in specs:
            t_run = time.perf_counter()
            res = job.execute_in_process(
                partition_key=spec.line, instance=instance, raise_on_error=False, run_config=QUIET
            )
            checks = res.get_asset_check_evaluations()
            rows.append((spec, res.success, all(c.passed for c in checks), time.perf_counter() - t_run))
            print(
                f"line {spec.line}: run {res.run_id[:8]} {'succeeded' if res.success else 'FAILED'} "
                f"in {rows[-1][3]:.1f} s"
            )
            if not res.success:
                for ev in res.all_events:
                    if ev.is_failure:
                        print(ev.message, file=sys.stderr)

    print()
    hdr = (
        "line",
        "scenario",
        "ok",
        "check",
        "frames",
        "edges",
        "filled",
        "deleted",
        "low-conf periods",
        "|t_ca_im-truth| max (ms)",
        "phase err median (deg)",
        "LFP peak (Hz)",
        "crop (px)",
        "MC shift RMSE (px)",
        "crispness raw->MC",
        "units/true",
        "events",
        "LFP phase at events (deg)",
        "injected (deg)",
        "Rayleigh p",
        "run (s)",
    )
    table = []
    for spec, ok, check_ok, secs in rows:
        truth = truths[spec.line]
        scenario = ", ".join(
            filter(
                None,
                [
                    f"gap {spec.ttl_gap[1]} edges" if spec.ttl_gap else "",
                    "spurious edge" if spec.spurious_edge_after_frame is not None else "",
                    "2 ephys segments" if spec.ephys_pause_s else "",
                    f"{spec.frame_rate_hz:g} fps",
                ],
            )
        )
        if ok:
            clock = store.open_dataset(layout.product_path(product_store, "t_ca_im", spec.line))
            phase = store.open_dataset(layout.product_path(product_store, "lfp_phase", spec.line))
            spectro = store.open_dataset(layout.product_path(product_store, "lfp_spectrogram", spec.line))
            t = clock["t_ca_im_s"].values
            err_ms = (
                np.abs(t - truth.frame_times_s).max() * 1e3 if t.size == truth.frame_times_s.size else np.nan
            )
            tt, ph = phase["time_s"].values, phase["phase_rad"].values
            inner = np.isfinite(ph) & (tt > tt[0] + 5) & (tt < tt[-1] - 5)
            ph_err = np.median(
                circular_error_deg(ph[inner], oscillation_phase(spec.oscillation, tt[inner], spec.seed))
            )
            psd = spectro["psd"].values
            peak = float(spectro["f_hz"].values[np.nanargmax(np.nanmean(psd[1:], axis=1)) + 1])
            cropped = store.open_dataset(layout.product_path(product_store, "cropped_movie", spec.line))
            shifts = store.open_dataset(layout.product_path(product_store, "motion_shifts", spec.line))
            rmse = shift_rmse_px(shifts["rigid_shifts"].values, truth.calcium.effective_rigid_shifts_px())
            curated = store.open_dataset(layout.product_path(product_store, "curated_estimates", spec.line))
            hist = store.open_dataset(layout.product_path(product_store, "phase_histograms", spec.line))
            table.append(
                (
                    spec.line,
                    scenario,
                    "yes",
                    "pass" if check_ok else "FAIL",
                    str(t.size),
                    str(int(clock.attrs["n_raw_edges"])),
                    str(int(clock["interpolated"].sum())),
                    str(clock.attrs["deleted_indices"]),
                    str(clock["low_confidence_periods"].values.tolist()),
                    f"{err_ms:.3f}",
                    f"{ph_err:.1f}",
                    f"{peak:.2f}",
                    "x".join(str(v) for v in cropped["movie"].shape[1:]),
                    f"{rmse:.3f}",
                    f"{shifts.attrs['crispness_before']:.0f}->{shifts.attrs['crispness_after']:.0f}",
                    f"{curated.sizes['unit']}/{truth.calcium.footprints.shape[0]}",
                    str(hist.attrs["pooled_n_ephys"]),
                    f"{np.degrees(hist.attrs['pooled_mean_angle_rad_ephys']):.1f}",
                    f"{np.degrees(np.angle(np.exp(1j * spec.preferred_phase_rad))):.1f}",
                    f"{hist.attrs['pooled_rayleigh_p_ephys']:.1e}",
                    f"{secs:.1f}",
                )
            )
        else:
            table.append((spec.line, scenario, "NO", "-", *["-"] * (len(hdr) - 5), f"{secs:.1f}"))
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(hdr)]
    print("  ".join(h.ljust(w) for h, w in zip(hdr, widths, strict=True)))
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    print()
    print(f"products: {product_store}/<asset>/<line>.zarr  (open with xarray.open_zarr)")
    print(f"instance: DAGSTER_HOME={home}  ->  DAGSTER_HOME={home} .venv/bin/dagster dev -w workspace.yaml")
    return 0 if all(ok and c for _, ok, c, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
