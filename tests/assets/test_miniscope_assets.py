"""Miniscope chain in Dagster: two lines through crop, preprocessing and motion correction; crop as data."""

import dagster as dg
import numpy as np
import pytest
import xarray as xr

from ace_assets import checks as asset_checks
from ace_assets.assets import ephys, miniscope, parameters, raw
from ace_assets.definitions import build_definitions
from ace_assets.helpers.dagster_internals import StaleStatus
from ace_assets.helpers.staleness import stale_status_resolver
from ace_assets.partitions import experiment_lines
from ace_assets.resources import ComputeResource
from ace_core import catalog
from ace_core.simulation.calcium import CalciumMovieSpec
from ace_core.simulation.experiment import ExperimentSpec, generate_project

MOVIE = CalciumMovieSpec(height_px=64, width_px=72, n_neurons=8, rigid_motion_px=3.0, nonrigid_motion_px=0.0)
SOURCES = [raw.raw_neuralynx, raw.raw_miniscope, *parameters.PARAMETER_SOURCES]
CHAIN = [
    miniscope.movie_projections,
    miniscope.denoised_movie,  # denoise off: a product referring to the raw movie, which cropping reads
    miniscope.cropped_movie,
    miniscope.preprocessed_movie,
    miniscope.motion_correction,
    asset_checks.motion_correction_quality,
    miniscope.miniscope_band,
    miniscope.miniscope_phase,
    miniscope.miniscope_spectrogram,
]
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("miniscope")
    specs = [
        ExperimentSpec(line="1", seed=51, duration_s=12, movie=MOVIE, crop_coords=(4, 6, 66, 60)),
        ExperimentSpec(line="2", seed=52, duration_s=12, movie=MOVIE, frame_rate_hz=30.0),  # no crop_coords
    ]
    truths = generate_project(root / "project", root / "data", specs)
    defs = build_definitions(str(root / "project"), str(root / "data"), str(root / "store"))
    resources = {**defs.resources, "compute": ComputeResource(max_workers=1)}
    return root, truths, resources


def run(resources, instance, line, assets=CHAIN, **kw):
    return dg.materialize(
        [*SOURCES, *assets],
        partition_key=line,
        resources=resources,
        instance=instance,
        selection=[a for a in assets if isinstance(a, dg.AssetsDefinition)],
        **kw,
    )


def test_two_lines_through_the_chain(project):
    root, truths, resources = project
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(experiment_lines.name, ["1", "2"])
        results = {line: run(resources, instance, line, run_config=QUIET) for line in ["1", "2"]}
        for name in ["cropped_movie", "preprocessed_movie", "motion_corrected_movie", "motion_shifts"]:
            assert instance.get_materialized_partitions(dg.AssetKey(name)) == {"1", "2"}, name

    # Line 1 cropped with the bottom-left-origin rule: rows [64-60, 64-6) = [4, 58), cols [4, 66).
    cropped = xr.open_zarr(root / "store" / "cropped_movie" / "1.zarr")
    assert cropped["movie"].shape == (240, 54, 62) and cropped["movie"].dtype == np.uint8
    mat = results["2"].asset_materializations_for_node("cropped_movie")[0]
    assert mat.metadata["warnings"].value == ["no crop_coords for this line: movie left uncropped"]
    assert xr.open_zarr(root / "store" / "cropped_movie" / "2.zarr")["movie"].shape == (360, 64, 72)

    for line, truth in truths.items():
        shifts = xr.open_zarr(root / "store" / "motion_shifts" / f"{line}.zarr")
        diff = shifts["rigid_shifts"].values + truth.calcium.shifts_px  # correction = -displacement
        diff -= np.median(diff, axis=0)
        assert np.sqrt(np.mean(np.sum(diff**2, axis=1))) < 0.3, line  # rigid-only movie
        assert shifts.attrs["crispness_after"] > shifts.attrs["crispness_before"]
        movie = xr.open_zarr(root / "store" / "motion_corrected_movie" / f"{line}.zarr")
        assert movie["movie"].dtype == np.float32
        checks = {c.check_name: c for c in results[line].get_asset_check_evaluations()}
        assert checks["motion_correction_quality"].passed, checks["motion_correction_quality"].description

    # ΔF/F-free preprocessing keeps float32 values (no 8-bit requantisation).
    pre = xr.open_zarr(root / "store" / "preprocessed_movie" / "1.zarr")
    assert pre["movie"].dtype == np.float32 and np.unique(pre["movie"][:5].values).size > 256
    band = xr.open_zarr(root / "store" / "miniscope_band" / "2.zarr")
    assert band.attrs["frame_rate_hz"] == 30.0 and band["filtered"].size == 360


def test_motion_correction_declares_its_pool(project):
    assert miniscope.motion_correction.op.pool == "motion_correction"


def test_dff_window_uses_the_metadata_frame_rate(project):
    _, _, resources = project
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(experiment_lines.name, ["2"])
        res = run(
            resources,
            instance,
            "2",
            [miniscope.denoised_movie, miniscope.cropped_movie, miniscope.preprocessed_movie],
            run_config=dg.RunConfig(
                {"preprocessed_movie": miniscope.PreprocessedMovieConfig(df_over_f=True, secs_window=2.0)}
            ),
        )
        meta = res.asset_materializations_for_node("preprocessed_movie")[0].metadata
        assert meta["dff_window_frames"].value == 60  # 2 s at the recording's 30 fps, not the reference's 30


def test_missing_coordinates_fail_when_required(project):
    _, _, resources = project
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(experiment_lines.name, ["2"])
        res = run(
            resources,
            instance,
            "2",
            [miniscope.denoised_movie, miniscope.cropped_movie],
            raise_on_error=False,
            run_config=dg.RunConfig(
                {"cropped_movie": miniscope.CroppedMovieConfig(require_crop_coords=True)}
            ),
        )
        assert not res.success
        (failure,) = [e for e in res.all_events if e.is_step_failure]
        text = str(failure.event_specific_data.error)
        assert "line 2: no crop_coords" in text and "analysis_parameters.csv" in text


def test_bad_coordinates_name_the_line_and_value(project):
    _, _, resources = project
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(experiment_lines.name, ["1"])
        res = run(
            resources,
            instance,
            "1",
            [miniscope.denoised_movie, miniscope.cropped_movie],
            raise_on_error=False,
            run_config=dg.RunConfig(
                {"cropped_movie": miniscope.CroppedMovieConfig(crop_coords=[4, 6, 80, 60])}
            ),
        )
        assert not res.success
        (failure,) = [e for e in res.all_events if e.is_step_failure]
        text = str(failure.event_specific_data.error)
        assert "line 1" in text and "x1 = 80" in text and "72" in text


def test_crop_edit_marks_only_that_lines_cropped_movie_stale(tmp_path):
    project_dir, data = tmp_path / "project", tmp_path / "data"
    small = CalciumMovieSpec(height_px=48, width_px=48, n_neurons=3)
    generate_project(
        project_dir,
        data,
        [
            ExperimentSpec(line=k, seed=60 + i, duration_s=6, movie=small, crop_coords=(2, 2, 46, 46))
            for i, k in enumerate("12")
        ],
    )
    defs = build_definitions(str(project_dir), str(data), str(tmp_path / "store"))
    resources = {**defs.resources, "compute": ComputeResource(max_workers=1)}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(experiment_lines.name, ["1", "2"])
        defs.resolve_job_def("observe_sources").execute_in_process(instance=instance, run_config=QUIET)
        for line in "12":
            assert run(
                resources, instance, line, [ephys.lfp, ephys.filtered_lfp, *CHAIN], run_config=QUIET
            ).success

        rows = catalog.read_parameter_rows(project_dir)
        rows["1"]["crop_coords"] = [4, 4, 44, 44]
        rows["2"]["filter_range"] = [1.0, 3.0]
        catalog.write_parameters_csv(project_dir / catalog.PARAMETERS_CSV, list(rows.values()))
        defs.resolve_job_def("observe_sources").execute_in_process(instance=instance, run_config=QUIET)

        resolver = stale_status_resolver(instance, defs.resolve_asset_graph())

        def status(name, line):
            return resolver.get_status(dg.AssetKey(name), line)

        assert status("cropped_movie", "1") == StaleStatus.STALE
        assert status("cropped_movie", "2") == StaleStatus.FRESH
        assert status("filtered_lfp", "2") == StaleStatus.STALE
        # A filter change does not touch the movie products; crop does not touch the ephys ones.
        for name in ["cropped_movie", "preprocessed_movie", "motion_corrected_movie"]:
            assert status(name, "2") == StaleStatus.FRESH, name
        assert status("filtered_lfp", "1") == StaleStatus.FRESH
