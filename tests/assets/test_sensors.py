"""Sensors: the catalog sensor turns new rows of experiments.csv into partitions and runs; both sensors record
source observations, so edits show as stale without anyone clicking "Observe sources".

The sensors are evaluated with `build_sensor_context`, and their `asset_events` are reported to the
instance exactly as the sensor daemon does (`report_runless_asset_event`), before the runs they request.
"""

import os

import dagster as dg

from ace_assets.assets import parameters
from ace_assets.definitions import build_definitions
from ace_assets.helpers.dagster_internals import StaleStatus
from ace_assets.helpers.staleness import stale_status_resolver
from ace_assets.partitions import experiment_lines
from ace_assets.sensors import experiments_csv_sensor, source_change_sensor
from ace_core import catalog
from ace_core.simulation.calcium import CalciumMovieSpec
from ace_core.simulation.experiment import (
    ExperimentSpec,
    experiment_row,
    generate_experiment,
    generate_project,
)

SMALL = CalciumMovieSpec(height_px=24, width_px=24, n_neurons=2)
PRODUCTS = ["lfp", "filtered_lfp", "ttl_events", "t_ca_im"]


def _tick(sensor, instance, project_catalog, cursor=None):
    """Evaluate a sensor and report its observations as the daemon would; returns the result."""
    ctx = dg.build_sensor_context(instance=instance, resources={"catalog": project_catalog}, cursor=cursor)
    result = sensor(ctx)
    if isinstance(result, dg.SensorResult):
        for event in result.asset_events:
            instance.report_runless_asset_event(event)
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def test_new_lines_are_observed_before_their_run_and_edits_are_observed_by_the_sensor(tmp_path):
    project, data = tmp_path / "project", tmp_path / "data"
    truths = generate_project(
        project,
        data,
        [ExperimentSpec(line=k, seed=50 + i, duration_s=6, movie=SMALL) for i, k in enumerate("12")],
    )
    defs = build_definitions(str(project), str(data), str(tmp_path / "store"))
    project_catalog = defs.resources["catalog"]
    # Resolve the job before any sensor is evaluated: Dagster 1.13.27 can leave a dead instance's state
    # storage in its context variable after a sensor evaluation, and building a repository afterwards then
    # fails ("undefined DagsterInstance weakref"), depending on garbage-collection timing.
    runs = defs.resolve_job_def("process_line").get_subset(asset_selection={dg.AssetKey(p) for p in PRODUCTS})
    with dg.instance_for_test() as instance:
        # The catalog sensor adds both lines, observes all their sources and requests their runs.
        res = _tick(experiments_csv_sensor, instance, project_catalog)
        assert [r.partition_key for r in res.run_requests] == ["1", "2"]
        n_sources = 2 + len(parameters.PARAMETER_SOURCES) + 1  # raw folders, parameter groups, curation file
        assert len(res.asset_events) == 2 * n_sources
        for line in "12":  # the requested runs
            assert runs.execute_in_process(partition_key=line, instance=instance).success

        def status(name, line):
            return stale_status_resolver(instance, defs.resolve_asset_graph()).get_status(
                dg.AssetKey(name), line
            )

        assert all(status(p, line) == StaleStatus.FRESH for p in PRODUCTS for line in "12")

        # First tick of the source sensor: everything is new to its cursor, nothing has changed.
        first = _tick(source_change_sensor, instance, project_catalog)
        assert len(first.asset_events) == 2 * n_sources
        assert all(status(p, line) == StaleStatus.FRESH for p in PRODUCTS for line in "12")
        quiet = _tick(source_change_sensor, instance, project_catalog, first.cursor)
        assert quiet.asset_events == [] and "no source of 2 lines changed" in quiet.skip_reason

        # The lab edits line 2's filter and re-copies one of line 1's Neuralynx files.
        rows = catalog.read_parameter_rows(project)
        rows["2"]["filter_range"] = [1.0, 3.0]
        catalog.write_parameters_csv(project / catalog.PARAMETERS_CSV, list(rows.values()))
        ncs = sorted(truths["1"].ephys_dir.glob("*.ncs"))[0]
        os.utime(ncs, (ncs.stat().st_atime, ncs.stat().st_mtime + 60))

        changed = _tick(source_change_sensor, instance, project_catalog, quiet.cursor)
        assert sorted((e.asset_key.to_user_string(), e.partition) for e in changed.asset_events) == [
            ("lfp_filter_parameters", "2"),
            ("raw_neuralynx", "1"),
        ]
        assert status("filtered_lfp", "2") == StaleStatus.STALE
        assert status("lfp", "1") == StaleStatus.STALE and status("ttl_events", "1") == StaleStatus.STALE
        for name, line in [("filtered_lfp", "1"), ("lfp", "2"), ("ttl_events", "2"), ("t_ca_im", "2")]:
            assert status(name, line) == StaleStatus.FRESH, (name, line)


def test_sensor_adds_new_lines_from_an_edited_catalog(tmp_path):
    project_dir, data = tmp_path / "project", tmp_path / "data"
    first = ExperimentSpec(line="1", seed=1, duration_s=5, movie=SMALL)
    generate_project(project_dir, data, [first])
    defs = build_definitions(str(project_dir), str(data), str(tmp_path / "store"))
    resources = {"catalog": defs.resources["catalog"]}
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources=resources)
        res = experiments_csv_sensor(ctx)
        assert res.dynamic_partitions_requests[0].partition_keys == ["1"]
        assert [r.partition_key for r in res.run_requests] == ["1"]
        instance.add_dynamic_partitions(experiment_lines.name, ["1"])

        ctx = dg.build_sensor_context(instance=instance, resources=resources, cursor=res.cursor)
        assert isinstance(experiments_csv_sensor(ctx), dg.SkipReason)

        # The lab adds line 2 (data present) and line 3 (raw folders not copied yet).
        second = generate_experiment(data, ExperimentSpec(line="2", seed=2, duration_s=5, movie=SMALL))
        row3 = dict(
            experiment_row(first, second), **{"line number": "3", "ephys directory": "not_yet/copied"}
        )
        rows = [
            experiment_row(first, second) | {"line number": "1"},
            experiment_row(second.spec, second),
            row3,
        ]
        catalog.write_experiments_csv(project_dir / catalog.EXPERIMENTS_CSV, rows, example_row=True)

        ctx = dg.build_sensor_context(instance=instance, resources=resources, cursor=res.cursor)
        res2 = experiments_csv_sensor(ctx)
        assert res2.dynamic_partitions_requests[0].partition_keys == ["2", "3"]
        assert [r.partition_key for r in res2.run_requests] == ["2"]  # line 3 waits for its raw folders


def test_sensor_reports_a_broken_catalog(tmp_path):
    (tmp_path / "experiments.csv").write_text("line number,id\n1,a,extra\n")
    defs = build_definitions(str(tmp_path), str(tmp_path), str(tmp_path / "store"))
    with dg.instance_for_test() as instance:
        res = experiments_csv_sensor(
            dg.build_sensor_context(instance=instance, resources={"catalog": defs.resources["catalog"]})
        )
        assert isinstance(res, dg.SkipReason)
        assert "experiments.csv" in res.skip_message and "line 2" in res.skip_message
