"""Ephys and sync groups in-process: two partitions materialize and match the truth, the checks bite,
Launchpad overrides the CSV, a parameter edit makes only that line's dependent products stale."""

import dagster as dg
import numpy as np
import pytest
import xarray as xr

from ace_assets import checks as asset_checks
from ace_assets.assets import ephys, parameters, raw, sync
from ace_assets.definitions import build_definitions
from ace_assets.helpers.dagster_internals import StaleStatus, get_stale_status_resolver, observe
from ace_assets.partitions import experiment_lines
from ace_core import catalog
from ace_core.simulation.calcium import CalciumMovieSpec
from ace_core.simulation.experiment import ExperimentSpec, generate_project
from ace_core.simulation.lfp import oscillation_phase

SMALL = CalciumMovieSpec(height_px=32, width_px=32, n_neurons=4)
ASSETS = [
    raw.raw_neuralynx,
    raw.raw_miniscope,
    ephys.lfp,
    ephys.filtered_lfp,
    ephys.lfp_phase,
    ephys.lfp_spectrogram,
    sync.ttl_events,
    sync.t_ca_im,
    asset_checks.t_ca_im_matches_movie,
    asset_checks.ttl_sync_quality,
    asset_checks.lfp_nan_fraction,
    sync.ephys_frame_index,
]
DERIVED = [
    "lfp",
    "filtered_lfp",
    "lfp_phase",
    "lfp_spectrogram",
    "ttl_events",
    "t_ca_im",
    "ephys_frame_index",
]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("dagster")
    specs = [
        ExperimentSpec(line="7", seed=21, duration_s=40, movie=SMALL),
        ExperimentSpec(
            line="8", seed=22, duration_s=40, movie=SMALL, ttl_gap=(300, 5), spurious_edge_after_frame=100
        ),
    ]
    truths = generate_project(root / "project", root / "data", specs)
    defs = build_definitions(str(root / "project"), str(root / "data"), str(root / "store"))
    return root, truths, defs


def test_two_partitions_materialize_and_match_truth(project):
    root, truths, defs = project
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(experiment_lines.name, list(truths))
        for line in truths:
            result = dg.materialize(ASSETS, partition_key=line, resources=defs.resources, instance=instance)
            assert result.success
            checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
            assert sorted(checks) == ["lfp_nan_fraction", "t_ca_im_matches_movie", "ttl_sync_quality"]
            for check in checks.values():
                assert check.passed and check.partition == line, check.description
            # The sync-quality numbers are the generator's: filled frames = dropped edges, the true rate.
            sync_md = checks["ttl_sync_quality"].metadata
            assert sync_md["frames_filled"].value == truths[line].dropped_frames.size
            assert abs(sync_md["frame_rate_hz_measured"].value - truths[line].spec.frame_rate_hz) < 0.01
            assert checks["lfp_nan_fraction"].metadata["nan_fraction"].value == 0.0  # one segment
        for name in DERIVED:
            assert instance.get_materialized_partitions(dg.AssetKey(name)) == set(truths), name

        mat = result.asset_materializations_for_node("t_ca_im")[0]
        assert mat.partition == "8"
        assert mat.metadata["frames_filled"].value == 5
        assert mat.metadata["low_confidence_periods"].value == [[299, 305]]
        assert mat.metadata["preview"].value.startswith("![preview](data:image/png;base64,")

    for line, truth in truths.items():
        # Products open without Dagster.
        clock = xr.open_zarr(root / "store" / "t_ca_im" / f"{line}.zarr")
        assert np.abs(clock["t_ca_im_s"].values - truth.frame_times_s).max() < 1 / truth.spec.ephys_fs_hz
        np.testing.assert_array_equal(clock["low_confidence_periods"].values, truth.low_confidence_periods)
        phase = xr.open_zarr(root / "store" / "lfp_phase" / f"{line}.zarr")
        t, ph = phase["time_s"].values, phase["phase_rad"].values
        inner = (t > t[0] + 3) & (t < t[-1] - 3)
        true_phase = oscillation_phase(truth.spec.oscillation, t[inner], truth.spec.seed)
        err = np.abs(np.angle(np.exp(1j * (ph[inner] - true_phase))))
        # Stated tolerance: median within 0.15 rad of truth at the demo noise level (pink, 60 µV rms).
        assert np.median(err) < 0.15, np.median(err)
        # Each frame maps to the ephys sample nearest its true time (within half a sample + the µs rounding).
        index = xr.open_zarr(root / "store" / "ephys_frame_index" / f"{line}.zarr")
        fs, t0 = index.attrs["fs_hz"], index.attrs["t0_s"]
        e_all = index["ephys_idx_all_TTL_events"].values
        assert np.abs(t0 + e_all / fs - truth.frame_times_s).max() <= 0.5 / fs + 1e-3
        assert (index["ca_frame_num_of_ephys_idx"].values[e_all] == np.arange(e_all.size)).all()
        spec = xr.open_zarr(root / "store" / "lfp_spectrogram" / f"{line}.zarr")
        mean_psd = spec["psd"].values[1:].mean(axis=1)
        assert abs(spec["f_hz"].values[1:][np.argmax(mean_psd)] - truth.spec.oscillation.freq_hz) < 0.3


def test_frame_count_check_fails_with_both_numbers(project):
    """Launchpad override `delete_TTLs: false` keeps the spurious edge: one frame time too many."""
    _, truths, defs = project
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(experiment_lines.name, list(truths))
        result = dg.materialize(
            [
                raw.raw_neuralynx,
                raw.raw_miniscope,
                sync.ttl_events,
                sync.t_ca_im,
                asset_checks.t_ca_im_matches_movie,
            ],
            partition_key="8",
            resources=defs.resources,
            instance=instance,
            run_config=dg.RunConfig({"t_ca_im": sync.TCaImConfig(delete_TTLs=False)}),
            raise_on_error=False,  # the check is blocking: the run fails, as it should
        )
        assert not result.success
        (check,) = result.get_asset_check_evaluations()
        assert not check.passed
        assert "801 frame times from TTL edges but 800 movie frames" in check.description


def test_launchpad_config_overrides_the_csv(project):
    _, _, defs = project
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(experiment_lines.name, ["7"])
        result = dg.materialize(
            [raw.raw_neuralynx, ephys.lfp, ephys.filtered_lfp, ephys.lfp_spectrogram, sync.ttl_events],
            partition_key="7",
            resources=defs.resources,
            instance=instance,
            run_config=dg.RunConfig(
                {
                    "lfp": ephys.LfpConfig(channel_name="CBvsPCEEG"),
                    "filtered_lfp": ephys.FilteredLfpConfig(filter_range=[1.0, 2.0]),
                    "lfp_spectrogram": ephys.LfpSpectrogramConfig(lfp_window_length=100),
                }
            ),
        )
        meta = result.asset_materializations_for_node("lfp")[0].metadata
        assert meta["channel_name"].value == "CBvsPCEEG"
        assert meta["parameters"].value["channel_name"] == "CBvsPCEEG"
        fmeta = result.asset_materializations_for_node("filtered_lfp")[0].metadata
        assert fmeta["band_hz"].value == [1.0, 2.0]
        # ~47 s of LFP (4 + 40 + 3 s, just under 47) is shorter than a 100 s window: shortened, not failed.
        smeta = result.asset_materializations_for_node("lfp_spectrogram")[0].metadata
        assert smeta["window_shortened_to_s"].value == 46.0 and smeta["n_windows"].value == 1


def test_parameter_edit_marks_only_that_lines_dependent_products_stale(tmp_path):
    """Editing line 2's `filter_range` makes filtered_lfp[2] stale; line 1 and other products stay fresh."""
    project_dir, data = tmp_path / "project", tmp_path / "data"
    specs = [
        ExperimentSpec(line=k, seed=30 + i, duration_s=10, movie=SMALL) for i, k in enumerate(["1", "2"])
    ]
    generate_project(project_dir, data, specs)
    defs = build_definitions(str(project_dir), str(data), str(tmp_path / "store"))
    sources = [raw.raw_neuralynx, raw.raw_miniscope, *parameters.PARAMETER_SOURCES]
    all_assets = [*sources, ephys.lfp, ephys.filtered_lfp, ephys.lfp_phase, sync.ttl_events, sync.t_ca_im]
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(experiment_lines.name, ["1", "2"])
        observe(
            sources, instance=instance, resources=defs.resources
        )  # observe before the first materialization
        for line in ["1", "2"]:
            assert dg.materialize(
                all_assets,
                partition_key=line,
                resources=defs.resources,
                instance=instance,
                selection=["lfp", "filtered_lfp", "lfp_phase", "ttl_events", "t_ca_im"],
            ).success

        def status(name, line):
            return get_stale_status_resolver(instance, all_assets).get_status(dg.AssetKey(name), line)

        assert status("filtered_lfp", "2") == StaleStatus.FRESH

        rows = catalog.read_parameter_rows(project_dir)
        rows["2"]["filter_range"] = [1.0, 3.0]
        catalog.write_parameters_csv(project_dir / catalog.PARAMETERS_CSV, list(rows.values()))
        observe(sources, instance=instance, resources=defs.resources)

        assert status("filtered_lfp", "2") == StaleStatus.STALE
        assert status("filtered_lfp", "1") == StaleStatus.FRESH
        for name in ["lfp", "ttl_events", "t_ca_im"]:
            assert status(name, "2") == StaleStatus.FRESH, name
