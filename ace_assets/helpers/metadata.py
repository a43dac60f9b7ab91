"""Turn products and check reports into Dagster metadata: key numbers, tables, PNG previews, parameters."""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from typing import Any

import dagster as dg

from ace_core.analysis.quality import QualityReport
from ace_core.catalog import LineContext
from ace_core.products import Product


def png(png_bytes: bytes, alt: str = "preview") -> dg.MetadataValue:
    """Embed a PNG in the event log as Markdown (shown inline in the asset's materialization view)."""
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{base64.b64encode(png_bytes).decode()})")


def _table(rows: list[Mapping[str, Any]]) -> dg.MetadataValue:
    columns = list(rows[0])
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return dg.MetadataValue.md(
        head + "\n".join("| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows)
    )


def value(v: Any) -> Any:
    """A summary value as Dagster shows it best: numbers and text as they are, a list of records as a
    table, other lists and mappings as JSON."""
    if isinstance(v, list) and v and all(isinstance(r, Mapping) for r in v):
        return _table(v)
    if isinstance(v, list | tuple | Mapping):
        return dg.MetadataValue.json(v)
    if isinstance(v, float) and not math.isfinite(v):
        return dg.MetadataValue.float(v)
    return v


def parameters(values: Mapping[str, Any], line: LineContext) -> dict[str, Any]:
    """The parameters a product used, plus CSV columns that were reported but not used and other notes."""
    lp = line.parameters
    out: dict[str, Any] = {"parameters": dg.MetadataValue.json(dict(values))}
    if lp.unknown_columns:
        out["unknown_parameter_columns"] = dg.MetadataValue.json(list(lp.unknown_columns))
    if lp.notes:
        out["parameter_notes"] = dg.MetadataValue.json(list(lp.notes))
    overridden = sorted(lp.overridden & set(values))
    if overridden:
        out["launchpad_overrides"] = dg.MetadataValue.json(overridden)
    return out


def product(
    context: dg.AssetExecutionContext,
    result: Product,
    line: LineContext | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """Metadata of a product: its summary, its preview, and (with ``line``) the parameters it read.

    Warnings the product carries are also written to the run's log, naming the line.
    """
    for warning in result.warnings:
        context.log.warning(f"line {context.partition_key}: {warning}")
    out = {k: value(v) for k, v in result.summary.items()}
    if result.preview is not None:
        out["preview"] = png(result.preview)
    if line is not None:
        out.update(parameters(line.values(name or context.asset_key.to_user_string()), line))
    return out


def check_result(
    report: QualityReport, severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.WARN
) -> dg.AssetCheckResult:
    """An asset-check result carrying the report's verdict, reason and numbers."""
    return dg.AssetCheckResult(
        passed=report.passed, severity=severity, description=report.description, metadata=report.metadata
    )
