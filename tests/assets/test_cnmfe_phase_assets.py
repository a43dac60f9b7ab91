"""From raw files to phase histograms in Dagster: CNMF-E, curation as data, events, locking statistics."""

import dagster as dg
import numpy as np
import pytest
import xarray as xr

from ace_assets.assets import cnmfe
from ace_assets.definitions import build_definitions
from ace_assets.helpers.dagster_internals import StaleStatus
from ace_assets.helpers.staleness import stale_status_resolver
from ace_assets.partitions import experiment_lines
from ace_assets.resources import ComputeResource
from ace_core.catalog import curation, layout
from ace_core.simulation.calcium import CalciumMovieSpec
from ace_core.simulation.experiment import ExperimentSpec, generate_project

MOVIE = CalciumMovieSpec(height_px=64, width_px=64, n_neurons=10, nonrigid_motion_px=0.0)
PHI = {"1": np.pi / 3, "2": -2.0}
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    """Two lines with different injected phases, processed end to end on one instance."""
    root = tmp_path_factory.mktemp("chain")
    specs = [
        ExperimentSpec(
            line=k, seed=70 + i, duration_s=60, movie=MOVIE, preferred_phase_rad=PHI[k], locked_fraction=0.6
        )
        for i, k in enumerate(PHI)
    ]
    truths = generate_project(root / "project", root / "data", specs)
    defs = build_definitions(str(root / "project"), str(root / "data"), str(root / "store"),
                             compute=ComputeResource(max_workers=1))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(experiment_lines.name, list(PHI))
        defs.resolve_job_def("observe_sources").execute_in_process(instance=instance, run_config=QUIET)
        results = {
            k: defs.resolve_job_def("process_line").execute_in_process(
                partition_key=k, instance=instance, run_config=QUIET
            )
            for k in PHI
        }
        yield root, truths, defs, instance, results


def test_injected_phase_is_recovered_for_both_lines(processed):
    root, truths, _, _, results = processed
    for line, res in results.items():
        assert res.success
        checks = {c.check_name: c for c in res.get_asset_check_evaluations()}
        for name in ("enough_events_for_statistics", "low_confidence_event_fraction", "cnmfe_component_count",
                     "ttl_sync_quality", "lfp_nan_fraction", "t_ca_im_matches_movie"):
            assert checks[name].passed and checks[name].partition == line, (name, checks[name].description)
        hist = xr.open_zarr(root / "store" / "phase_histograms" / f"{line}.zarr")
        err = np.degrees(np.angle(np.exp(1j * (hist.attrs["pooled_mean_angle_rad_ephys"] - PHI[line]))))
        assert abs(err) < 10.0, f"line {line}: recovered phase off by {err:.1f} deg"
        assert hist.attrs["pooled_rayleigh_p_ephys"] < 1e-3
        assert hist["phase_hist_ephys"].sum() == hist.attrs["pooled_n_ephys"]
        assert hist["phase_bin_edges"].size == 19
        # Detection against the truth: every true neuron found, nothing else kept.
        curated = xr.open_zarr(root / "store" / "curated_estimates" / f"{line}.zarr")
        assert curated.attrs["curation_source"] == "automatic proposal (min_SNR, rval_thr)"
        assert truths[line].calcium.footprints.shape[0] <= curated.sizes["unit"] <= 12
        assert checks["cnmfe_component_count"].metadata["n_good"].value == curated.sizes["unit"]
        eta = xr.open_zarr(root / "store" / "event_triggered_averages" / f"{line}.zarr")
        assert eta["average"].shape == (curated.sizes["unit"], 20 + 60 + 1)  # framesb + framesa + 1 lags
        assert int(eta["n_events_used"].sum()) > 0
        z = xr.open_zarr(root / "store" / "zscored_traces" / f"{line}.zarr")["z"].values
        np.testing.assert_allclose(z.mean(axis=1), 0, atol=1e-4)  # whole-trace z-score by default


def test_curation_file_on_other_estimates_is_an_error(processed):
    root, _, defs, instance, _ = processed
    path = curation.write_decisions(
        layout.curation_path(root / "project", "1"),
        {0: "reject"},
        reviewer="ana",
        time="2026-11-21T10:00",
        estimates_hash="0123456789abcdef",
    )
    try:
        res = dg.materialize(
            defs.assets,  # the whole graph, so upstream products load from the store
            selection=[cnmfe.curated_estimates],
            partition_key="1",
            resources=defs.resources,
            instance=instance,
            raise_on_error=False,
            run_config=QUIET,
        )
        assert not res.success
        (failure,) = [e for e in res.all_events if e.is_step_failure]
        text = str(failure.event_specific_data.error)
        assert "curation/1.csv" in text and "estimates_hash" in text and "0123456789abcdef" in text
    finally:
        path.unlink()


def test_reviewed_decisions_apply_to_a_copy_and_make_the_line_stale(processed):
    root, _, defs, instance, _ = processed
    estimates = xr.open_zarr(root / "store" / "cnmfe_estimates" / "2.zarr")
    n_units = estimates.sizes["unit"]
    path = curation.write_decisions(
        layout.curation_path(root / "project", "2"),
        {0: "reject", 1: "keep"},
        reviewer="ana",
        time="2026-11-21T10:00",
        estimates_hash=estimates.attrs["estimates_hash"],
    )
    try:
        defs.resolve_job_def("observe_sources").execute_in_process(instance=instance, run_config=QUIET)
        resolver = stale_status_resolver(instance, defs.resolve_asset_graph())
        assert resolver.get_status(dg.AssetKey("curated_estimates"), "2") == StaleStatus.STALE
        assert resolver.get_status(dg.AssetKey("curated_estimates"), "1") == StaleStatus.FRESH
        assert resolver.get_status(dg.AssetKey("cnmfe_estimates"), "2") == StaleStatus.FRESH

        res = dg.materialize(
            defs.assets,  # the whole graph, so upstream products load from the store
            selection=[cnmfe.curated_estimates],
            partition_key="2",
            resources=defs.resources,
            instance=instance,
            run_config=QUIET,
        )
        meta = res.asset_materializations_for_node("curated_estimates")[0].metadata
        assert meta["curation"].value == "reviewed: 2.csv" and meta["reviewers"].value == ["ana"]
        curated = xr.open_zarr(root / "store" / "curated_estimates" / "2.zarr")
        assert 0 not in curated["unit_id"].values and 1 in curated["unit_id"].values
        assert (
            xr.open_zarr(root / "store" / "cnmfe_estimates" / "2.zarr").sizes["unit"] == n_units
        )  # untouched
    finally:
        path.unlink()
