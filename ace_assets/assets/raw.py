"""Observed sources: each line's raw Neuralynx and Miniscope folders.

Their data versions are cheap fingerprints (file names, sizes, mtimes), so replacing or touching a raw
file makes exactly that line's dependent products stale. They are observed by the ``source_change_sensor``
(which reports only the versions that changed), from the UI ("Observe sources"), with the
``observe_sources`` job, or with ``ace observe``.
"""

import dagster as dg

from ace_assets.partitions import experiment_lines
from ace_assets.resources import ProjectCatalog
from ace_core.catalog import versions
from ace_core.errors import AceError


def _raw_source(name: str, description: str) -> dg.SourceAsset:
    @dg.observable_source_asset(name=name, partitions_def=experiment_lines, description=description)
    def _observe(context, catalog: ProjectCatalog) -> dg.DataVersionsByPartition:
        try:
            experiments = catalog.experiments()
        except (AceError, OSError) as exc:
            raise dg.Failure(f"cannot read the experiment catalog: {exc}") from exc
        lines = context.instance.get_dynamic_partitions(experiment_lines.name)
        return dg.DataVersionsByPartition(versions.raw_versions(name, experiments, lines))

    return _observe


raw_neuralynx = _raw_source(
    "raw_neuralynx",
    "The line's Neuralynx session folder (`ephys directory`); version = names, sizes and mtimes of its "
    ".ncs/.nev files.",
)
raw_miniscope = _raw_source(
    "raw_miniscope",
    "The line's UCLA Miniscope session folder (`calcium imaging directory`); version = names, sizes and "
    "mtimes of its movies, timeStamps.csv and metaData.json files.",
)
