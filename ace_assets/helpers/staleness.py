"""Which lines have missing or stale products: the question the nightly schedule and ``ace status`` ask.

Dagster 1.13 answers staleness per (asset, partition) in its UI and GraphQL, but offers no public call for
it inside a schedule (and ``RunRequest(stale_assets_only=True)`` ignores partitioned assets), so this
wraps the internal resolver (imported through ``dagster_internals``).
"""

from collections.abc import Iterable

import dagster as dg

from ace_assets.helpers.dagster_internals import (
    AssetGraphView,
    CachingStaleStatusResolver,
    StaleCauseCategory,
    StaleStatus,
    TemporalContext,
    get_current_datetime,
)


def stale_status_resolver(instance: dg.DagsterInstance, asset_graph) -> CachingStaleStatusResolver:
    view = AssetGraphView(
        temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
        instance=instance,
        asset_graph=asset_graph,
    )
    return CachingStaleStatusResolver(instance=instance, asset_graph=asset_graph, loading_context=view)


def _reason(cause) -> str:
    """'crop_parameters changed' rather than Dagster's 'has a new dependency data version'."""
    if cause.dependency is not None and cause.category == StaleCauseCategory.DATA:
        return f"{cause.dependency.asset_key.to_user_string()} changed"
    if cause.category == StaleCauseCategory.CODE:
        return f"code version {cause.reason}"
    return cause.reason


def not_fresh(
    instance: dg.DagsterInstance, asset_graph, keys: Iterable[dg.AssetKey], lines: Iterable[str]
) -> dict[str, dict[dg.AssetKey, tuple[str, list[str]]]]:
    """For each line, its missing or stale products: ("missing" | "stale", reasons such as
    "crop_parameters changed").

    Lines whose products are all fresh are left out.
    """
    resolver = stale_status_resolver(instance, asset_graph)
    keys = list(keys)
    out: dict[str, dict[dg.AssetKey, tuple[str, list[str]]]] = {}
    for line in lines:
        for key in keys:
            status = resolver.get_status(key, line)
            if status == StaleStatus.MISSING:
                out.setdefault(line, {})[key] = ("missing", [])
            elif status == StaleStatus.STALE:
                causes = resolver.get_stale_causes(key, line)
                reasons = [_reason(c) for c in causes]
                out.setdefault(line, {})[key] = ("stale", reasons)
    return out


def stale_or_missing(
    instance: dg.DagsterInstance, asset_graph, keys: Iterable[dg.AssetKey], lines: Iterable[str]
) -> dict[str, list[dg.AssetKey]]:
    """For each line, the product keys that are missing or stale (lines with none are left out)."""
    return {line: list(todo) for line, todo in not_fresh(instance, asset_graph, keys, lines).items()}
