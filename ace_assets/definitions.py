"""The ACE Assets code location (`dagster dev -w workspace.yaml` loads `defs` from here)."""

import dagster as dg

from ace_assets.assets import cnmfe, ephys, miniscope, multimodal, phase, raw, sync, utilities
from ace_assets.automation import ace_automation, with_automation_condition
from ace_assets.io_manager import ZarrProductIOManager
from ace_assets.jobs import observe_sources_job, process_line_job
from ace_assets.resources import (
    AcePaths,
    ComputeResource,
    LineParameters,
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

# Every derived product; the observed sources are listed separately in build_definitions.
PRODUCTS = [
    ephys.lfp,
    ephys.filtered_lfp,
    ephys.lfp_phase,
    ephys.lfp_spectrogram,
    sync.ttl_events,
    sync.t_ca_im,
    multimodal.ephys_frame_index,
    miniscope.movie_projections,
    miniscope.cropped_movie,
    miniscope.preprocessed_movie,
    miniscope.motion_correction_step,
    multimodal.miniscope_band,
    multimodal.miniscope_phase,
    multimodal.miniscope_spectrogram,
    cnmfe.cnmfe_estimates,
    cnmfe.curated_estimates,
    cnmfe.calcium_events,
    phase.event_phases,
    phase.phase_histograms,
    utilities.denoised_movie,
    utilities.head_orientation_angles,
    utilities.zscored_traces,
    utilities.event_triggered_averages,
    utilities.experiment_events_table,
]


def build_definitions(
    project_path: str | None = None,
    data_path: str | None = None,
    store_path: str | None = None,
    compute: ComputeResource | None = None,
) -> dg.Definitions:
    """Definitions bound to the given folders (default: ACE_* env vars, then the demo folders)."""
    paths = AcePaths(
        project_path=project_path or default_project_path(),
        data_path=data_path or default_data_path(),
        store_path=store_path or default_store_path(),
    )
    return dg.Definitions(
        assets=[
            raw.raw_neuralynx,
            raw.raw_miniscope,
            *raw.PARAMETER_SOURCES.values(),
            raw.curation_decisions,
            *with_automation_condition(PRODUCTS),
        ],
        asset_checks=[
            sync.t_ca_im_matches_movie,
            sync.ttl_sync_quality,
            ephys.lfp_nan_fraction,
            cnmfe.cnmfe_component_count,
            miniscope.motion_correction_quality,
            phase.enough_events_for_statistics,
            phase.low_confidence_event_fraction,
        ],
        jobs=[process_line_job, observe_sources_job],
        executor=EXECUTOR,
        sensors=[experiments_csv_sensor, source_change_sensor, ace_automation],
        schedules=[nightly_reprocess],
        resources={
            "paths": paths,
            "parameters": LineParameters(paths=paths),
            "zarr_io": ZarrProductIOManager(store_path=paths.store_path),
            "compute": compute or ComputeResource(),
        },
    )


defs = build_definitions()
