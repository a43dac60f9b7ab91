"""The nightly schedule requests exactly the lines with missing or stale products."""

import dagster as dg

from ace_assets.definitions import build_definitions
from ace_assets.partitions import experiment_lines
from ace_assets.schedules import nightly_reprocess
from ace_core import catalog
from ace_core.simulation.calcium import CalciumMovieSpec
from ace_core.simulation.experiment import ExperimentSpec, generate_project

SMALL = CalciumMovieSpec(height_px=32, width_px=32, n_neurons=3)


def test_nightly_tick_requests_missing_and_stale_lines_only(tmp_path):
    project_dir, data = tmp_path / "project", tmp_path / "data"
    generate_project(project_dir, data, [ExperimentSpec(line=k, seed=40 + i, duration_s=8, movie=SMALL)
                                         for i, k in enumerate(["1", "2", "3"])])
    defs = build_definitions(str(project_dir), str(data), str(tmp_path / "store"))
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(experiment_lines.name, ["1", "2", "3"])
        defs.resolve_job_def("observe_sources").execute_in_process(instance=instance, run_config=quiet)
        for line in ["1", "2"]:  # line 3 is never processed: missing
            assert defs.resolve_job_def("process_line").execute_in_process(
                partition_key=line, instance=instance, run_config=quiet).success

        def tick():
            return nightly_reprocess(dg.build_schedule_context(instance=instance,
                                                               repository_def=defs.get_repository_def()))

        requests = tick()
        assert [r.partition_key for r in requests] == ["3"]

        rows = catalog.read_parameter_rows(project_dir)
        rows["2"]["filter_range"] = [1.0, 3.0]  # a lab edits one line's filter
        catalog.write_parameters_csv(project_dir / catalog.PARAMETERS_CSV, list(rows.values()))
        defs.resolve_job_def("observe_sources").execute_in_process(instance=instance, run_config=quiet)

        requests = {r.partition_key: r for r in tick()}
        assert sorted(requests) == ["2", "3"]
        selected = {k.to_user_string() for k in requests["2"].asset_selection}
        assert "filtered_lfp" in selected and "lfp_phase" in selected  # the stale product and its downstream
        assert not selected & {"lfp", "ttl_events", "t_ca_im", "lfp_spectrogram"}  # untouched by the filter
        assert requests["2"].tags["ace/reason"] == "filtered_lfp"
