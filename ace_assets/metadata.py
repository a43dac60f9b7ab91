"""Helpers that turn products into Dagster metadata (PNG previews, parameter records)."""

from __future__ import annotations

import base64
from typing import Any

import dagster as dg

from ace_core.analysis.quality import QualityReport


def png(png_bytes: bytes, alt: str = "preview") -> dg.MetadataValue:
    """Embed a PNG in the event log as Markdown (shown inline in the asset's materialization view)."""
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{base64.b64encode(png_bytes).decode()})")


def parameters(values: dict[str, Any], unknown_columns: tuple[str, ...] = ()) -> dict[str, dg.MetadataValue]:
    """The parameters actually used, plus CSV columns that were reported but not used."""
    out = {"parameters": dg.MetadataValue.json({k: v for k, v in values.items()})}
    if unknown_columns:
        out["unknown_parameter_columns"] = dg.MetadataValue.json(list(unknown_columns))
    return out


def check_result(
    report: QualityReport, severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.WARN
) -> dg.AssetCheckResult:
    """An asset-check result carrying the report's verdict, reason and numbers."""
    return dg.AssetCheckResult(
        passed=report.passed, severity=severity, description=report.description, metadata=report.metadata
    )
