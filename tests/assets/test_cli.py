"""The `ace` CLI on a real instance: status, observe, reprocess a line from one product down."""

import dagster as dg
import pytest

from ace_assets import cli
from ace_assets.jobs import product_keys
from ace_assets.partitions import experiment_lines
from ace_core import catalog
from ace_core.simulation.calcium import CalciumMovieSpec
from ace_core.simulation.experiment import ExperimentSpec, generate_project

SMALL = CalciumMovieSpec(height_px=48, width_px=48, n_neurons=3)
CROP_DOWNSTREAM = {
    "cropped_movie",
    "preprocessed_movie",
    "motion_corrected_movie",
    "motion_shifts",
    "miniscope_band",  # the band-passed mean fluorescence of the preprocessed movie
    "miniscope_phase",
    "miniscope_spectrogram",
    "cnmfe_estimates",
    "curated_estimates",
    "calcium_events",
    "event_phases",
    "phase_histograms",
    "zscored_traces",
    "event_triggered_averages",
}


@pytest.fixture
def home(tmp_path, monkeypatch):
    project, data = tmp_path / "project", tmp_path / "data"
    specs = [
        ExperimentSpec(line=k, seed=90 + i, duration_s=8, movie=SMALL, crop_coords=(2, 2, 46, 46))
        for i, k in enumerate("12")
    ]
    generate_project(project, data, specs)
    for name, value in {
        "ACE_PROJECT_PATH": project,
        "ACE_DATA_PATH": data,
        "ACE_STORE_PATH": tmp_path / "store",
        "DAGSTER_HOME": tmp_path / "home",
    }.items():
        monkeypatch.setenv(name, str(value))
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(experiment_lines.name, ["1", "2"])
    return tmp_path


def _status(capsys) -> dict[str, str]:
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    return dict(line.removeprefix("line ").split(": ", 1) for line in out)


def _materialized_in_last_run(line: str) -> set[str]:
    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs(limit=1)
        assert run.tags["dagster/partition"] == line and run.tags["ace/trigger"] == "cli"
        records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        return {r.event_log_entry.dagster_event.asset_key.to_user_string() for r in records.records}


def test_status_reprocess_from_a_product_after_a_crop_edit(home, capsys):
    graph = cli._definitions().resolve_asset_graph()
    everything = ", ".join(k.to_user_string() for k in product_keys(graph))
    assert _status(capsys) == {"1": f"missing: {everything}", "2": f"missing: {everything}"}

    assert cli.main(["observe"]) == 0
    assert cli.main(["reprocess", "1", "2"]) == 0
    capsys.readouterr()
    assert _status(capsys) == {"1": "up to date", "2": "up to date"}

    # A lab edits line 2's crop: only line 2's cropped_movie is stale ...
    rows = catalog.read_parameter_rows(home / "project")
    rows["2"]["crop_coords"] = [4, 4, 44, 44]
    catalog.write_parameters_csv(home / "project" / catalog.PARAMETERS_CSV, list(rows.values()))
    assert cli.main(["observe"]) == 0
    capsys.readouterr()
    assert _status(capsys) == {
        "1": "up to date",
        "2": "stale: cropped_movie (crop_parameters changed)",
    }

    # ... and `--from cropped_movie` re-makes it and exactly what depends on it, for that line only.
    assert cli.main(["reprocess", "2", "--from", "cropped_movie"]) == 0
    made = _materialized_in_last_run("2")
    assert made == CROP_DOWNSTREAM, made ^ CROP_DOWNSTREAM
    capsys.readouterr()
    assert _status(capsys) == {"1": "up to date", "2": "up to date"}


def test_unknown_line_or_product_is_named(home):
    with pytest.raises(SystemExit, match=r"unknown line\(s\) \['9'\]; lines on this instance: \['1', '2'\]"):
        cli.main(["reprocess", "9"])
    with pytest.raises(SystemExit, match=r"--from 'croped_movie' is not a product; products: \["):
        cli.main(["reprocess", "1", "--from", "croped_movie"])
