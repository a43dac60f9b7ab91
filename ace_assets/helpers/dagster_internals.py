"""Every use of Dagster's private modules (``dagster._…``), in one place so an upgrade breaks only here.

Dagster 1.13 answers staleness per (asset, partition) in its UI and GraphQL but has no public call for it
inside a schedule or a CLI; tests also need to observe sources and to reset a context variable that a
sensor evaluation can leave set.
"""

from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView, TemporalContext
from dagster._core.definitions.data_version import (
    CachingStaleStatusResolver,
    StaleCauseCategory,
    StaleStatus,
)
from dagster._core.definitions.observe import observe
from dagster._core.storage.defs_state.base import _current_storage as current_defs_state_storage
from dagster._time import get_current_datetime


def get_stale_status_resolver(*args, **kwargs):
    """Dagster's test helper that resolves staleness (imported on use: its module loads test tooling that
    takes about a second, which every step process would otherwise pay when loading the code location)."""
    from dagster._utils.test.data_versions import get_stale_status_resolver as resolver

    return resolver(*args, **kwargs)


__all__ = [
    "AssetGraphView",
    "CachingStaleStatusResolver",
    "StaleCauseCategory",
    "StaleStatus",
    "TemporalContext",
    "current_defs_state_storage",
    "get_current_datetime",
    "get_stale_status_resolver",
    "observe",
]
