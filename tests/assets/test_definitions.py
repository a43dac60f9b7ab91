"""The code location: definitions load and every product, and the per-line job, is partitioned by line."""

import dagster as dg

from ace_assets.definitions import build_definitions
from ace_assets.partitions import experiment_lines

DERIVED = [
    "lfp",
    "filtered_lfp",
    "lfp_phase",
    "lfp_spectrogram",
    "ttl_events",
    "t_ca_im",
    "ephys_frame_index",
]


def test_definitions_load_and_every_product_is_partitioned_by_line(tmp_path):
    # Building and validating the definitions reads no project file: empty folders are enough.
    defs = build_definitions(str(tmp_path / "project"), str(tmp_path / "data"), str(tmp_path / "store"))
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert graph.get(key).partitions_def == experiment_lines, key
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} >= set(DERIVED)
    job = defs.resolve_job_def("process_line")
    assert job.partitions_def == experiment_lines
