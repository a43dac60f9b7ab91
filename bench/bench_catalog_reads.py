"""How often one run of one line reads the lab's catalog and probes its movies, per step.

Every step resolves its line once (``catalog.line(context, config)``), so each step that needs the catalog
parses each CSV at most once and probes the movies at most once. This runs ``process_line`` in-process on
one generated line, counts the parses of ``experiments.csv`` and ``analysis_parameters.csv`` and the AVI
header probes, attributes each to the asset that made it, and prints a table.

    .venv/bin/python bench/bench_catalog_reads.py
"""

from __future__ import annotations

import collections
import sys
import tempfile
import warnings
from pathlib import Path

import dagster as dg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ace_assets.assets import cnmfe, ephys, miniscope, parameters, phase_locking, raw, sync  # noqa: E402
from ace_assets.definitions import build_definitions  # noqa: E402
from ace_assets.partitions import experiment_lines  # noqa: E402
from ace_core.catalog import csv_table, experiments  # noqa: E402
from ace_core.catalog import parameters as line_parameters  # noqa: E402
from ace_core.io import miniscope as miniscope_io  # noqa: E402
from ace_core.simulation.experiment import demo_specs, generate_project  # noqa: E402

ASSET_MODULES = {m.__name__ for m in (cnmfe, ephys, miniscope, parameters, phase_locking, raw, sync)}
COUNTS: collections.Counter = collections.Counter()


def _step() -> str:
    """The asset whose code is on the stack (the step doing the read)."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_globals.get("__name__") in ASSET_MODULES:
            return frame.f_code.co_name
        frame = frame.f_back
    return "(outside a step)"


def _counting(module, name: str, label) -> None:
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        COUNTS[(label(*args), _step())] += 1
        return original(*args, **kwargs)

    setattr(module, name, wrapper)


def main() -> int:
    warnings.filterwarnings("ignore")
    for module in (experiments, line_parameters, csv_table):
        if hasattr(module, "read_table"):
            _counting(module, "read_table", lambda path: Path(path).name)
    _counting(miniscope_io, "_probe_movie", lambda path: "AVI header probes")
    with tempfile.TemporaryDirectory() as tmp:
        spec = demo_specs()[0]
        generate_project(f"{tmp}/project", f"{tmp}/data", [spec])
        defs = build_definitions(f"{tmp}/project", f"{tmp}/data", f"{tmp}/store")
        job = defs.resolve_job_def("process_line")
        with dg.instance_for_test() as instance:
            instance.add_dynamic_partitions(experiment_lines.name, [spec.line])
            COUNTS.clear()
            result = job.execute_in_process(
                partition_key=spec.line,
                instance=instance,
                run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            )
            steps = sum(1 for e in result.all_events if e.event_type_value == "STEP_SUCCESS")
    what = sorted({w for w, _ in COUNTS})
    print(f"one in-process run of process_line on demo line {spec.line}: {steps} steps\n")
    print(f"{'what':<26}{'per run':>8}{'steps reading':>15}{'max per step':>14}")
    for w in what:
        per_step = {s: n for (ww, s), n in COUNTS.items() if ww == w}
        print(f"{w:<26}{sum(per_step.values()):>8}{len(per_step):>15}{max(per_step.values()):>14}")
    by_step = sorted(COUNTS.items(), key=lambda kv: kv[0][1])
    print("\nper step: " + ", ".join(f"{s} {w} x{n}" for (w, s), n in by_step))
    return 0


if __name__ == "__main__":
    sys.exit(main())
