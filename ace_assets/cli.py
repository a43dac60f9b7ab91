"""`ace`: per-line status and reprocessing from the shell, on the instance in $DAGSTER_HOME.

    ace status [LINE ...]                       which products of each line are missing or stale, and why
    ace observe                                 record the raw folders' and parameter rows' data versions
    ace reprocess LINE [LINE ...] [--from ASSET] materialize a line (or one product and everything after it)

What it adds over `dagster asset materialize`: `--from` takes one product and selects it with everything
downstream of it (never the observed sources), several lines run one after another, names are checked
against the catalog before anything runs, and `status` answers "what would the nightly schedule redo?".
Runs execute in this process, like `dagster asset materialize`; they are recorded on the instance and
show in the UI. Products are replaced atomically, so a failed reprocess keeps the previous product.
"""

import argparse
import sys
import warnings
from collections.abc import Sequence

import dagster as dg

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _definitions() -> dg.Definitions:
    # Partitioned checks and observable sources are Dagster preview/beta APIs; the notices are noise here.
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    from ace_assets.definitions import build_definitions

    return build_definitions()


def _known_lines(instance: dg.DagsterInstance, lines: Sequence[str]) -> list[str]:
    from ace_assets.partitions import experiment_lines

    known = instance.get_dynamic_partitions(experiment_lines.name)
    unknown = [line for line in lines if line not in known]
    if unknown:
        raise SystemExit(
            f"ace: unknown line(s) {unknown}; lines on this instance: {sorted(known)} "
            "(new rows of experiments.csv are added by the experiments_csv_sensor)"
        )
    return list(lines) or sorted(known, key=_line_order)


def _line_order(line: str) -> tuple[int, str]:
    return (0, f"{int(line):012d}") if line.isdigit() else (1, line)


def cmd_status(args: argparse.Namespace, defs: dg.Definitions, instance: dg.DagsterInstance) -> int:
    from ace_assets.helpers.staleness import not_fresh
    from ace_assets.jobs import product_keys

    graph = defs.resolve_asset_graph()
    lines = _known_lines(instance, args.lines)
    todo = not_fresh(instance, graph, product_keys(graph), lines)
    for line in lines:
        by_status: dict[str, list[str]] = {}
        for key, (status, causes) in todo.get(line, {}).items():
            why = f" ({'; '.join(causes)})" if causes else ""
            by_status.setdefault(status, []).append(key.to_user_string() + why)
        parts = [f"{status}: {', '.join(names)}" for status, names in sorted(by_status.items(), reverse=True)]
        print(f"line {line}: {' | '.join(parts) or 'up to date'}")
    return 0


def cmd_observe(args: argparse.Namespace, defs: dg.Definitions, instance: dg.DagsterInstance) -> int:
    result = defs.resolve_job_def("observe_sources").execute_in_process(
        instance=instance, run_config=QUIET, tags={"ace/trigger": "cli"}, raise_on_error=False
    )
    print(f"observe_sources: {'SUCCESS' if result.success else 'FAILURE'} (run {result.run_id})")
    return 0 if result.success else 1


def cmd_reprocess(args: argparse.Namespace, defs: dg.Definitions, instance: dg.DagsterInstance) -> int:
    from ace_assets.jobs import product_keys, reprocess_keys

    graph = defs.resolve_asset_graph()
    products = {k.to_user_string(): k for k in product_keys(graph)}
    if args.from_asset is not None and args.from_asset not in products:
        raise SystemExit(f"ace: --from {args.from_asset!r} is not a product; products: {sorted(products)}")
    lines = _known_lines(instance, args.lines)
    keys = sorted(products.values())
    if args.from_asset:
        keys = reprocess_keys(graph, [products[args.from_asset]])
    job = defs.resolve_job_def("process_line").get_subset(asset_selection=set(keys))
    print(f"reprocessing {len(keys)} product(s) for line(s) {lines}: {[k.to_user_string() for k in keys]}")
    failed = []
    for line in lines:
        result = job.execute_in_process(
            partition_key=line,
            instance=instance,
            run_config=QUIET,
            tags={"ace/trigger": "cli"},
            raise_on_error=False,
        )
        print(f"line {line}: {'SUCCESS' if result.success else 'FAILURE'} (run {result.run_id})")
        if not result.success:
            failed.append(line)
    if failed:
        print(f"failed line(s): {failed}; their previous products are unchanged. See the runs in the UI.")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ace", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    status = sub.add_parser("status", help="missing or stale products per line")
    status.add_argument("lines", nargs="*", metavar="LINE", help="lines to report (default: all)")
    status.set_defaults(func=cmd_status)
    observe = sub.add_parser("observe", help="observe the raw folders and parameter rows (staleness)")
    observe.set_defaults(func=cmd_observe)
    reprocess = sub.add_parser("reprocess", help="materialize lines again")
    reprocess.add_argument("lines", nargs="+", metavar="LINE")
    reprocess.add_argument(
        "--from",
        dest="from_asset",
        metavar="ASSET",
        help="re-make this product and everything downstream of it (default: every product)",
    )
    reprocess.set_defaults(func=cmd_reprocess)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    defs = _definitions()
    with dg.DagsterInstance.get() as instance:
        return args.func(args, defs, instance)


if __name__ == "__main__":
    sys.exit(main())
