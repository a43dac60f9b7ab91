"""Denoising as the first miniscope step (on or off per line), head orientation, experiment events on both
clocks, as products of two lines."""

import dagster as dg
import numpy as np
import xarray as xr

from ace_assets.assets import ephys, miniscope, parameters, raw, sync
from ace_assets.definitions import build_definitions
from ace_assets.partitions import experiment_lines
from ace_assets.resources import ComputeResource
from ace_core import catalog
from ace_core.simulation.calcium import CalciumMovieSpec
from ace_core.simulation.experiment import ExperimentSpec, generate_project
from ace_core.store.movies import open_movie_source

MOVIE = CalciumMovieSpec(height_px=48, width_px=48, n_neurons=4)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
SOURCES = [raw.raw_neuralynx, raw.raw_miniscope, *parameters.PARAMETER_SOURCES]
ASSETS = [
    ephys.lfp,
    sync.ttl_events,
    sync.t_ca_im,
    miniscope.head_orientation,
    sync.experiment_events,
    miniscope.denoised_movie,
    miniscope.cropped_movie,
]


def test_head_orientation_events_and_denoising_for_two_lines(tmp_path):
    project_dir, data = tmp_path / "project", tmp_path / "data"
    truths = generate_project(
        project_dir,
        data,
        [
            ExperimentSpec(line="1", seed=81, duration_s=15, movie=MOVIE, head_orientation=True),
            ExperimentSpec(
                line="2", seed=82, duration_s=15, movie=MOVIE, head_orientation=False, note_label=None
            ),
        ],
    )
    rows = catalog.read_parameter_rows(project_dir)
    rows["1"]["denoise"] = True
    rows["1"]["cutoff"] = 3.0
    catalog.write_parameters_csv(project_dir / catalog.PARAMETERS_CSV, list(rows.values()))
    defs = build_definitions(
        str(project_dir), str(data), str(tmp_path / "store"), compute=ComputeResource(max_workers=1)
    )
    store = tmp_path / "store"
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(experiment_lines.name, ["1", "2"])
        for line in ["1", "2"]:
            assert dg.materialize(
                [*SOURCES, *ASSETS],
                selection=ASSETS,
                partition_key=line,
                resources=defs.resources,
                instance=instance,
                run_config=QUIET,
            ).success

    # Euler angles on the miniscope clock match the injected rotation (yaw wraps through +-180 deg).
    head = xr.open_zarr(store / "head_orientation" / "1.zarr")
    truth = np.degrees(truths["1"].head_euler_rad)
    got = np.stack([head[f"{a}_deg"].values for a in ("roll", "pitch", "yaw")], axis=1)
    err = np.abs((got - truth + 180) % 360 - 180)
    assert err.max() < 0.5 and (np.abs(np.diff(truth[:, 2])) > 300).any()  # a wrap happened
    # ...and on the ephys clock: host time of frame k maps to that frame's true ephys time.
    np.testing.assert_allclose(head["t_ephys_s"].values, truths["1"].frame_times_s, atol=2e-3)
    assert xr.open_zarr(store / "head_orientation" / "2.zarr").attrs["status"] == "absent"

    # Experiment events land on both clocks: the drug annotation (ephys) and the typed note (miniscope host).
    ev = xr.open_zarr(store / "experiment_events" / "1.zarr")
    labels = list(ev["label"].values)
    drug = labels.index("ketamine infusion start")
    frame = int(ev["frame"].values[drug])
    assert (
        abs(truths["1"].frame_times_s[frame] - ev["t_ephys_s"].values[drug]) <= 0.5 / 20 + 1e-3
    )  # nearest frame; frames jitter by ~0.1 ms
    note = labels.index("LED check")
    assert abs(ev["t_ephys_s"].values[note] - truths["1"].frame_times_s[int(ev["frame"].values[note])]) < 2e-3
    assert "LED check" not in list(xr.open_zarr(store / "experiment_events" / "2.zarr")["label"].values)

    # Denoising on for line 1 only: cropping reads the float32 denoised movie; line 2 stays uint8 raw.
    assert xr.open_zarr(store / "cropped_movie" / "1.zarr")["movie"].dtype == np.float32
    assert xr.open_zarr(store / "cropped_movie" / "2.zarr")["movie"].dtype == np.uint8
    # With denoise off the product refers to the raw movie (no copy): it reads as the raw frames.
    raw_movie = open_movie_source(store / "denoised_movie" / "2.zarr")
    assert raw_movie.dtype == np.uint8
    np.testing.assert_array_equal(
        raw_movie.read(0, 5), xr.open_zarr(store / "cropped_movie" / "2.zarr")["movie"][:5].values
    )
    assert open_movie_source(store / "denoised_movie" / "1.zarr").dtype == np.float32
