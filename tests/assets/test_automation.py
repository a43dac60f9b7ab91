"""Declarative automation (the alternative to the nightly schedule), evaluated in-process.

`dg.evaluate_automation_conditions` runs the same evaluation the `ace_automation` sensor runs; source
observations come from the `source_change_sensor`, reported as the sensor daemon reports them.
"""

import dagster as dg

from ace_assets.definitions import build_definitions
from ace_assets.jobs import product_keys
from ace_assets.partitions import experiment_lines
from ace_assets.sensors import source_change_sensor
from ace_core import catalog
from ace_core.simulation.calcium import CalciumMovieSpec
from ace_core.simulation.experiment import ExperimentSpec, generate_project

SMALL = CalciumMovieSpec(height_px=32, width_px=32, n_neurons=3)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _observe(instance, project_catalog, cursor=None) -> str | None:
    ctx = dg.build_sensor_context(instance=instance, resources={"catalog": project_catalog}, cursor=cursor)
    result = source_change_sensor(ctx)
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    return result.cursor


def _requested(result, keys) -> dict[str, set[str]]:
    out = {k.to_user_string(): set(result.get_requested_partitions(k)) for k in keys}
    return {name: lines for name, lines in out.items() if lines}


def test_eager_automation_requests_new_lines_then_only_what_an_edit_touches(tmp_path):
    project, data = tmp_path / "project", tmp_path / "data"
    specs = [ExperimentSpec(line=k, seed=80 + i, duration_s=8, movie=SMALL) for i, k in enumerate("12")]
    generate_project(project, data, specs)
    defs = build_definitions(str(project), str(data), str(tmp_path / "store"))
    project_catalog = defs.resources["catalog"]
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)  # automation turned on
        assert first.total_requested == 0

        # Two new lines appear and their sources are observed: every product of both is requested.
        instance.add_dynamic_partitions(experiment_lines.name, ["1", "2"])
        cursor = _observe(instance, project_catalog)
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        products = product_keys(defs.resolve_asset_graph())
        requested = _requested(tick, products)
        assert set(requested) == {k.to_user_string() for k in products}
        assert all(lines == {"1", "2"} for lines in requested.values()), requested

        for line in "12":  # the runs it asked for
            assert (
                defs.resolve_job_def("process_line")
                .execute_in_process(partition_key=line, instance=instance, run_config=QUIET)
                .success
            )
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert tick.total_requested == 0  # nothing changed

        # Line 1's filter is edited: its band-passed LFP and what is built on it, nothing else.
        rows = catalog.read_parameter_rows(project)
        rows["1"]["filter_range"] = [1.0, 3.0]
        catalog.write_parameters_csv(project / catalog.PARAMETERS_CSV, list(rows.values()))
        _observe(instance, project_catalog, cursor)
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        requested = _requested(tick, products)
        assert requested["filtered_lfp"] == {"1"} and requested["lfp_phase"] == {"1"}
        assert all(lines == {"1"} for lines in requested.values()), requested
        assert not set(requested) & {
            "lfp",
            "ttl_events",
            "t_ca_im",
            "cropped_movie",
            "motion_corrected_movie",
        }
        print(f"requested after the filter edit: {sorted(requested)}")
