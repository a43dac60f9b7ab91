"""Which lines have missing or stale products: the question the nightly schedule asks.

Dagster 1.13 answers staleness per (asset, partition) in its UI and GraphQL, but offers no public call for
it inside a schedule (and `RunRequest(stale_assets_only=True)` ignores partitioned assets). This module
wraps the internal resolver in one place, so an API change stays local.
"""

from collections.abc import Iterable

import dagster as dg
from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView, TemporalContext
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._time import get_current_datetime


def stale_status_resolver(instance: dg.DagsterInstance, asset_graph) -> CachingStaleStatusResolver:
    view = AssetGraphView(
        temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
        instance=instance,
        asset_graph=asset_graph,
    )
    return CachingStaleStatusResolver(instance=instance, asset_graph=asset_graph, loading_context=view)


def stale_or_missing(
    instance: dg.DagsterInstance, asset_graph, keys: Iterable[dg.AssetKey], lines: Iterable[str]
) -> dict[str, list[dg.AssetKey]]:
    """For each line, the product keys that are missing or stale (lines with none are left out)."""
    resolver = stale_status_resolver(instance, asset_graph)
    keys = list(keys)
    out: dict[str, list[dg.AssetKey]] = {}
    for line in lines:
        todo = [k for k in keys if resolver.get_status(k, line) in (StaleStatus.STALE, StaleStatus.MISSING)]
        if todo:
            out[line] = todo
    return out
