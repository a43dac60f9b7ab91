"""Test-wide guard against a Dagster 1.13.27 context-variable leak."""

import pytest
from dagster._core.storage.defs_state.base import _current_storage


@pytest.fixture(autouse=True)
def _no_leaked_defs_state_storage():
    # A sensor evaluation or nested instance entry can leave a garbage-collected instance's defs-state
    # storage in this context variable; a later test building a repository then fails with "Attempted to
    # resolve undefined DagsterInstance weakref". Every test starts and ends without one.
    _current_storage.set(None)
    yield
    _current_storage.set(None)
