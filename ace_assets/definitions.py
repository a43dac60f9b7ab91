"""The ACE Assets code location (``dagster dev -w workspace.yaml`` loads ``defs`` from here).

One module per asset group, as the UI shows them: the observed sources (``raw``, ``parameters``) and the
products (``ephys``, ``sync``, ``miniscope``, ``cnmfe``, ``phase_locking``).
"""

import dagster as dg

from ace_assets.assets import cnmfe, ephys, miniscope, parameters, phase_locking, raw, sync
from ace_assets.automation import ace_automation, with_automation_condition
from ace_assets.checks import CHECKS
from ace_assets.io_managers import DatasetIOManager, MovieIOManager
from ace_assets.jobs import observe_sources_job, process_line_job
from ace_assets.resources import (
    ComputeResource,
    ProductStore,
    ProjectCatalog,
    default_data_path,
    default_project_path,
    default_store_path,
)
from ace_assets.schedules import nightly_reprocess
from ace_assets.sensors import experiments_csv_sensor, source_change_sensor

# Steps fork from a server that has already imported this code location: a step starts in well under a
# second instead of a fresh interpreter importing Dagster and the science stack (demo line 1, 31 steps:
# 53 s with spawn, 39 s with forkserver).
EXECUTOR = dg.multiprocess_executor.configured({"start_method": {"forkserver": {}}})

SOURCE_GROUPS = {"raw": raw, "parameters": parameters}
PRODUCT_GROUPS = {
    "ephys": ephys,
    "sync": sync,
    "miniscope": miniscope,
    "cnmfe": cnmfe,
    "phase_locking": phase_locking,
}


def build_definitions(
    project_path: str | None = None,
    data_path: str | None = None,
    store_path: str | None = None,
    compute: ComputeResource | None = None,
) -> dg.Definitions:
    """Definitions bound to the given folders (default: ``ACE_*`` environment variables, then the demo)."""
    catalog = ProjectCatalog(
        project_path=project_path or default_project_path(), data_path=data_path or default_data_path()
    )
    store = ProductStore(store_path=store_path or default_store_path())
    sources = [a for g, m in SOURCE_GROUPS.items() for a in dg.load_assets_from_modules([m], group_name=g)]
    products = [a for g, m in PRODUCT_GROUPS.items() for a in dg.load_assets_from_modules([m], group_name=g)]
    return dg.Definitions(
        assets=[*sources, *with_automation_condition(products)],
        asset_checks=CHECKS,
        jobs=[process_line_job, observe_sources_job],
        executor=EXECUTOR,
        sensors=[experiments_csv_sensor, source_change_sensor, ace_automation],
        schedules=[nightly_reprocess],
        resources={
            "catalog": catalog,
            "store": store,
            "zarr_io": DatasetIOManager(store=store),
            "movie_io": MovieIOManager(store=store),
            "compute": compute or ComputeResource(),
        },
    )


defs = build_definitions()
