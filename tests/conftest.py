"""Test-wide guard against a Dagster 1.13.27 context-variable leak."""

import pytest

from ace_assets.helpers.dagster_internals import current_defs_state_storage


@pytest.fixture(autouse=True)
def _no_leaked_defs_state_storage():
    # A sensor evaluation or nested instance entry can leave a garbage-collected instance's defs-state
    # storage in this context variable; a later test building a repository then fails with "Attempted to
    # resolve undefined DagsterInstance weakref". Every test starts and ends without one.
    current_defs_state_storage.set(None)
    yield
    current_defs_state_storage.set(None)
