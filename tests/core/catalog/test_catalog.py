"""experiments.csv / analysis_parameters.csv: one test per parsing rule, errors checked by their text."""

from __future__ import annotations

import csv
import datetime
from pathlib import Path

import pytest

from ace_core import catalog
from ace_core.catalog import (
    EXPERIMENT_COLUMNS,
    EXPERIMENTS_CSV,
    PARAMETERS_CSV,
    convert_value,
    line_parameters,
    read_experiments,
    read_parameter_rows,
    unknown_parameter_columns,
    write_experiments_csv,
    write_parameters_csv,
)
from ace_core.catalog.parameter_table import (
    ALIASES,
    CAIMAN_PARAMETERS,
    DEFAULT_PARAMETERS,
    INFORMATIONAL_COLUMNS,
    NOT_USED,
    check_parameter,
)
from ace_core.errors import CatalogError

HEADER = ",".join(f'"{c}"' if "," in c else c for c in EXPERIMENT_COLUMNS)


def _row(line: str, **overrides: str) -> str:
    values = {
        "line number": line,
        "id": "R230706B",
        "date (YYMMDD)": "230901",
        "Box Calcium Folder ID": "274954792655",
        "calcium imaging directory": "K99/miniscope_data/R230706B/2023_09_01/15_04_11",
        "Box ephys folder ID": "NA",
        "ephys directory": "K99/Neuralynx_data/R230706B/2023-09-01_14-41-19",
        "rat weight (kg)": "0.561",
        "systemic drug": "ketamine",
        "systemic dose (% or mg/kg/min)": "2",
        "systemic drug concentration (mg/mL)": "6",
        "total systemic time (min)": "30",
        "emg channel": "EMG.ncs",
        "events filename": "Events.nev",
        "LFP and EEG CSCs": "PFCLFPvsCBEEG;PFCEEGvsCBEEG;PCvsPFCEEG;CBvsPCEEG;EMG",
        "comments": "ok",
    }
    values.update(overrides)
    out = []
    for c in EXPERIMENT_COLUMNS:
        v = values[c]
        out.append(f'"{v}"' if "," in v else v)
    return ",".join(out)


def _experiments(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    (tmp_path / EXPERIMENTS_CSV).write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return tmp_path


def _parameters(tmp_path: Path, columns: list[str], *rows: list[str]) -> Path:
    with open(tmp_path / PARAMETERS_CSV, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(rows)
    return tmp_path


# --- convert_value ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["NA", "N/A", "NaN", "nan", "None", "null", "NULL", "", "  ", "#N/A", None])
def test_every_na_spelling_is_none(text):
    assert convert_value(text) is None
    assert convert_value(text, "id") is None  # also in keep-as-is columns


def test_tuples_and_lists_become_lists():
    assert convert_value("(7, 7)") == [7, 7]
    assert convert_value("[9119,9120]") == [9119, 9120]
    assert convert_value("(67,503, 555,61)") == [67, 503, 555, 61]
    assert convert_value("['0.avi', '1.avi']") == ["0.avi", "1.avi"]


def test_integral_float_becomes_int():
    assert convert_value("40.0") == 40 and type(convert_value("40.0")) is int
    assert convert_value("[2280.0, 4000.5]") == [2280, 4000.5]
    assert type(convert_value("[2280.0, 1]")[0]) is int
    assert convert_value("0.561") == 0.561
    assert convert_value("274954792655") == 274954792655


def test_booleans():
    for text in ("TRUE", "True", "true"):
        assert convert_value(text) is True
    for text in ("FALSE", "False", "false"):
        assert convert_value(text) is False


def test_keep_as_is_columns_and_plain_text():
    assert convert_value(" oasis ", "method_deconvolution") == "oasis"
    assert convert_value("007", "line number") == "007"
    assert convert_value("TRUE", "border_nan") == "TRUE"
    assert convert_value("ketamine") == "ketamine"
    assert convert_value("AS3ExportData.csv") == "AS3ExportData.csv"
    # Python would read these as numbers; they are not decimal numbers, so they stay text.
    assert convert_value("15_04_11") == "15_04_11"
    assert convert_value("0x10") == "0x10"


def test_channel_column_split():
    assert convert_value("A;B; ;C ", "LFP and EEG CSCs") == ["A", "B", "C"]


# --- experiments.csv ----------------------------------------------------------------------------------


def test_string_keys_keep_leading_zeros_and_file_order(tmp_path):
    project = _experiments(tmp_path, _row("12"), _row("007"), _row("3a"))
    experiments = read_experiments(project, tmp_path / "data")
    assert list(experiments) == ["12", "007", "3a"]
    assert experiments["007"].line == "007"
    assert experiments["007"].fields["line number"] == "007"


def test_example_and_blank_rows_skipped(tmp_path):
    blank = "," * (len(EXPERIMENT_COLUMNS) - 1)
    project = _experiments(tmp_path, _row("1"), "", blank, _row("Example"), _row("2"), "")
    assert list(read_experiments(project, tmp_path)) == ["1", "2"]


def test_fields_and_attributes(tmp_path):
    project = _experiments(tmp_path, _row("96"))
    exp = read_experiments(project, tmp_path / "data")["96"]
    assert exp.subject_id == "R230706B"
    assert exp.date == datetime.date(2023, 9, 1)
    assert exp.channels == ("PFCLFPvsCBEEG", "PFCEEGvsCBEEG", "PCvsPFCEEG", "CBvsPCEEG", "EMG")
    assert exp.emg_channel == "EMG.ncs" and exp.events_filename == "Events.nev"
    assert exp.fields["Box Calcium Folder ID"] == 274954792655
    assert exp.fields["Box ephys folder ID"] is None
    assert exp.fields["rat weight (kg)"] == 0.561
    assert exp.fields["systemic dose (% or mg/kg/min)"] == 2
    assert exp.source == project / EXPERIMENTS_CSV


def test_extra_user_columns_kept(tmp_path):
    project = _experiments(tmp_path, _row("1") + ',"[1,2]",hello', header=HEADER + ",my list,my note")
    exp = read_experiments(project, tmp_path)["1"]
    assert exp.fields["my list"] == [1, 2]
    assert exp.fields["my note"] == "hello"


def test_relative_dirs_resolved_absolute_kept(tmp_path):
    data = tmp_path / "data"
    absolute = tmp_path / "elsewhere" / "15_04_11"
    project = _experiments(tmp_path, _row("1", **{"calcium imaging directory": str(absolute)}))
    exp = read_experiments(project, data)["1"]
    assert exp.calcium_dir == absolute
    assert exp.calcium_dirs == (absolute,)
    assert exp.ephys_dir == data / "K99/Neuralynx_data/R230706B/2023-09-01_14-41-19"


def test_windows_paths(tmp_path):
    project = _experiments(
        tmp_path,
        _row(
            "1",
            **{
                "ephys directory": r"K99\Neuralynx_data\R1",
                "calcium imaging directory": r"D:\Dropbox\ca\15_04_11",
            },
        ),
    )
    exp = read_experiments(project, tmp_path / "data")["1"]
    assert exp.ephys_dir == tmp_path / "data" / "K99" / "Neuralynx_data" / "R1"
    assert any("absolute Windows path" in note for note in exp.notes)


def test_two_calcium_dirs(tmp_path):
    data = tmp_path / "data"
    project = _experiments(tmp_path, _row("27", **{"calcium imaging directory": "a/15_04_11; b/16_00_00"}))
    exp = read_experiments(project, data)["27"]
    assert exp.calcium_dirs == (data / "a/15_04_11", data / "b/16_00_00")
    with pytest.raises(CatalogError) as info:
        _ = exp.calcium_dir
    message = str(info.value)
    assert EXPERIMENTS_CSV in message and "'27'" in message and "calcium imaging directory" in message


def test_missing_dirs_and_channels(tmp_path):
    project = _experiments(
        tmp_path,
        _row("1", **{"calcium imaging directory": "NA", "ephys directory": "", "LFP and EEG CSCs": ""}),
    )
    exp = read_experiments(project, tmp_path)["1"]
    assert exp.calcium_dirs == () and exp.calcium_dir is None
    assert exp.ephys_dir is None and exp.channels == ()


def test_bad_date_names_row_and_column(tmp_path):
    project = _experiments(tmp_path, _row("5", **{"date (YYMMDD)": "23-09-01"}))
    with pytest.raises(CatalogError) as info:
        read_experiments(project, tmp_path)
    message = str(info.value)
    assert EXPERIMENTS_CSV in message and "'5'" in message and "date (YYMMDD)" in message


def test_malformed_row_names_file_and_line(tmp_path):
    project = _experiments(tmp_path, _row("1"), _row("2") + ",(0, 1, 2)")
    with pytest.raises(CatalogError) as info:
        read_experiments(project, tmp_path)
    message = str(info.value)
    assert EXPERIMENTS_CSV in message and "line 3" in message
    assert f"expected {len(EXPERIMENT_COLUMNS)} fields, got {len(EXPERIMENT_COLUMNS) + 3}" in message
    assert "unquoted tuple" in message


def test_missing_line_number_column(tmp_path):
    project = _experiments(tmp_path, "1,R1", header="experiment,id")
    with pytest.raises(CatalogError) as info:
        read_experiments(project, tmp_path)
    assert EXPERIMENTS_CSV in str(info.value) and "'line number'" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(CatalogError, match="experiments.csv.*not found"):
        read_experiments(tmp_path, tmp_path)


def test_duplicate_key_names_both_lines(tmp_path):
    project = _experiments(tmp_path, _row("4"), _row("5"), _row("4"))
    with pytest.raises(CatalogError) as info:
        read_experiments(project, tmp_path)
    message = str(info.value)
    assert EXPERIMENTS_CSV in message and "'4'" in message and "lines 2 and 4" in message


@pytest.mark.parametrize("key", ["12/3", "12.0", "1...", "12 a", "1|2", "1[2]"])
def test_unsafe_keys_rejected(tmp_path, key):
    project = _experiments(tmp_path, _row(key))
    with pytest.raises(CatalogError) as info:
        read_experiments(project, tmp_path)
    assert repr(key) in str(info.value) and "partition key" in str(info.value)


def test_quoted_multiline_comment_counts_physical_lines(tmp_path):
    # the quoted comment spans physical lines 2-3, so the duplicate key is on physical line 4
    project = _experiments(tmp_path, _row("1", comments="two\nlines,quoted"), _row("1"))
    with pytest.raises(CatalogError, match="lines 2 and 4"):
        read_experiments(project, tmp_path)


# --- analysis_parameters.csv --------------------------------------------------------------------------


def test_vocabulary_is_consistent():
    assert CAIMAN_PARAMETERS <= set(DEFAULT_PARAMETERS)
    assert not set(ALIASES) & set(DEFAULT_PARAMETERS)
    assert set(ALIASES.values()) <= set(DEFAULT_PARAMETERS)
    assert not INFORMATIONAL_COLUMNS & (set(DEFAULT_PARAMETERS) | set(ALIASES) | set(NOT_USED))
    assert not set(NOT_USED) & (set(DEFAULT_PARAMETERS) | set(ALIASES))
    for name, value in DEFAULT_PARAMETERS.items():
        assert not isinstance(value, tuple), name
        assert check_parameter(name, value) == value, name
    assert DEFAULT_PARAMETERS["gSig"] == [7, 7] and DEFAULT_PARAMETERS["border_nan"] == "copy"


def test_defaults_when_file_missing(tmp_path):
    params = line_parameters(tmp_path, "1")
    assert dict(params.values) == dict(DEFAULT_PARAMETERS)
    assert params.from_csv == frozenset() and params.source is None
    assert any(PARAMETERS_CSV in note and "defaults" in note for note in params.notes)
    assert read_parameter_rows(tmp_path) is None and unknown_parameter_columns(tmp_path) == ()
    params.values["gSig"].append(9)  # a copy: the defaults are untouched
    assert DEFAULT_PARAMETERS["gSig"] == [7, 7]


def test_csv_overrides_defaults(tmp_path):
    project = _parameters(
        tmp_path,
        ["line number", "id", "gSig", "gSiz", "pw_rigid", "min_pnr", "indices of TTL events to delete", "rf"],
        ["96", "R230706B", "(9, 9)", "(37, 37)", "FALSE", "8", "[9119,9120]", "NA"],
        ["Example", "", "", "", "", "", "", ""],
    )
    params = line_parameters(project, "96")
    assert params["gSig"] == [9, 9] and params["gSiz"] == [37, 37]
    assert params["pw_rigid"] is False and params["min_pnr"] == 8
    assert params["indices of TTL events to delete"] == [9119, 9120]
    assert params["rf"] == 40  # NA -> default kept
    assert params.from_csv == {"gSig", "gSiz", "pw_rigid", "min_pnr", "indices of TTL events to delete"}
    assert params.source == project / PARAMETERS_CSV
    assert params.subset(["gSig", "n"]) == {"gSig": [9, 9], "n": 2}
    assert read_parameter_rows(project)["96"]["gSig"] == [9, 9]


def test_single_ttl_index_accepted(tmp_path):
    project = _parameters(tmp_path, ["line number", "indices of TTL events to delete"], ["1", "4195"])
    assert line_parameters(project, "1")["indices of TTL events to delete"] == [4195]


def test_alias_crop_to_crop_coords(tmp_path):
    project = _parameters(
        tmp_path,
        ["line number", "crop", "filter_data", "method"],
        ["1", "(67,503, 555,61)", "FALSE", "delta_f_over_f"],
    )
    params = line_parameters(project, "1")
    assert params["crop_coords"] == [67, 503, 555, 61]
    assert params["df_over_f_method"] == "delta_f_over_f"
    assert {"crop_coords", "df_over_f_method"} <= params.from_csv
    assert "crop (legacy) used as crop_coords" in params.notes
    # A reference switch the platform does not use is known (not "unknown") and noted as unused.
    assert "filter_data" not in params.values
    assert any(n.startswith("filter_data is set but not used") for n in params.notes)
    assert params.unknown_columns == ()


def test_crop_coords_wins_over_crop(tmp_path):
    project = _parameters(
        tmp_path,
        ["line number", "crop", "crop_coords"],
        ["1", "(67,503, 555,61)", "{'x0': 1, 'y0': 20, 'x1': 30, 'y1': 2}"],
        ["2", "(67,503, 555,61)", "NA"],
    )
    one = line_parameters(project, "1")
    assert one["crop_coords"] == [1, 20, 30, 2]
    assert "crop (legacy) ignored because crop_coords is set" in one.notes
    assert line_parameters(project, "2")["crop_coords"] == [67, 503, 555, 61]


def test_unknown_column_reported_not_used(tmp_path):
    project = _parameters(tmp_path, ["line number", "gsig", "min_pnr"], ["1", "(3, 3)", "6"])
    params = line_parameters(project, "1")
    assert params.unknown_columns == ("gsig",)
    assert "gsig" not in params.values and params["gSig"] == [7, 7]
    assert unknown_parameter_columns(project) == ("gsig",)


def test_informational_columns_not_reported(tmp_path):
    columns = [
        "line number", "id", "date (YYMMDD)", "Box calcium folder ID", "calcium imaging directory",
        "Box ephys folder ID", "ephys directory", "zero time (s)", "baseline period (min)",
        "periods of high slow wave power (s)", "control periods (s)", "crop_square",
        "ca_ephys_baseline_video_num", "ca_ephys_slow_wave_video_num", "ca_ephys_burst_suppression_video_num",
        "comments",
    ]  # fmt: skip
    values = ["1", "R1", "230901", "", "a/b", "", "c/d", "0", "", "[2280, 4000]", "[0,360]",
              "(238,339, 391,219)", "0", "37", "260", "note"]  # fmt: skip
    project = _parameters(tmp_path, columns, values)
    params = line_parameters(project, "1")
    assert params.unknown_columns == () and params.from_csv == frozenset()
    assert dict(params.values) == dict(DEFAULT_PARAMETERS)


def test_missing_line_names_file_and_line(tmp_path):
    project = _parameters(tmp_path, ["line number", "n"], ["1", "2"])
    with pytest.raises(CatalogError) as info:
        line_parameters(project, "42")
    message = str(info.value)
    assert PARAMETERS_CSV in message and "'42'" in message


@pytest.mark.parametrize(
    ("column", "text", "expected"),
    [
        ("filter_range", "[4, 0.5]", "two frequencies"),
        ("filter_range", "0.5", "two frequencies"),
        ("filter_range", "[0.5, 4, 8]", "two frequencies"),
        ("indices of TTL events to delete", "[1, -2]", "non-negative integers"),
        ("n", "0", "positive integer"),
        ("pw_rigid", "yes", "TRUE or FALSE"),
        ("crop", "TRUE", "four non-negative integers"),
    ],
)
def test_bad_value_names_file_line_column_and_form(tmp_path, column, text, expected):
    project = _parameters(tmp_path, ["line number", column], ["7", text])
    with pytest.raises(CatalogError) as info:
        line_parameters(project, "7")
    message = str(info.value)
    assert PARAMETERS_CSV in message and "'7'" in message and repr(column) in message
    assert expected in message and repr(text) in message


def test_filter_type_false_means_no_filter(tmp_path):
    project = _parameters(tmp_path, ["line number", "filter_type"], ["1", "FALSE"])
    assert line_parameters(project, "1")["filter_type"] is None


# --- writing ------------------------------------------------------------------------------------------


def test_experiments_round_trip(tmp_path):
    rows = [
        {
            "line number": "007",
            "id": "R230706B",
            "date (YYMMDD)": datetime.date(2023, 9, 1),
            "Box Calcium Folder ID": 274954792655,
            "calcium imaging directory": ["a/15_04_11", "b/16_00_00"],
            "ephys directory": "K99/Neuralynx_data/R1/2023-09-01_14-41-19",
            "rat weight (kg)": 0.561,
            "systemic drug": None,
            "total systemic time (min)": "AS3ExportData.csv",
            "emg channel": "EMG.ncs",
            "events filename": "Events.nev",
            "LFP and EEG CSCs": ["PFCLFPvsCBEEG", "EMG"],
            "comments": "slow waves, then burst suppression",
            "extra flag": True,
            "extra tuple": (0, 1, 2),
            "extra text that looks numeric": "12",
        },
        {"line number": "8", "id": "R2", "comments": "NA-free"},
    ]
    path = write_experiments_csv(tmp_path, rows, example_row=True)
    assert path == tmp_path / EXPERIMENTS_CSV
    text = path.read_text()
    assert '"(0, 1, 2)"' in text and "PFCLFPvsCBEEG;EMG" in text and "Example" in text
    assert not list(tmp_path.glob(".*.tmp"))

    experiments = read_experiments(tmp_path, tmp_path / "data")
    assert list(experiments) == ["007", "8"]
    exp = experiments["007"]
    assert exp.date == datetime.date(2023, 9, 1)
    assert exp.calcium_dirs == (tmp_path / "data/a/15_04_11", tmp_path / "data/b/16_00_00")
    assert exp.channels == ("PFCLFPvsCBEEG", "EMG")
    assert exp.fields["Box Calcium Folder ID"] == 274954792655
    assert exp.fields["systemic drug"] is None
    assert exp.fields["extra flag"] is True
    assert exp.fields["extra tuple"] == [0, 1, 2]
    assert exp.fields["extra text that looks numeric"] == "12"
    assert exp.fields["comments"] == "slow waves, then burst suppression"
    assert experiments["8"].fields["ephys directory"] is None


def test_parameters_round_trip(tmp_path):
    rows = [
        {
            "line number": "96",
            "indices of TTL events to delete": [9119, 9120],
            "gSig": (7, 7),
            "crop": (67, 503, 555, 61),
            "pw_rigid": False,
            "decay_time": 0.4,
            "miniscope_filenames": ["0.avi", "1.avi"],
            "method_init": "corr_pnr",
            "periods of high slow wave power (s)": [2280, 4000],
        }
    ]
    write_parameters_csv(tmp_path / PARAMETERS_CSV, rows, example_row=True)
    text = (tmp_path / PARAMETERS_CSV).read_text()
    assert '"[9119,9120]"' in text and '"(7, 7)"' in text
    back = read_parameter_rows(tmp_path)
    assert list(back) == ["96"]
    expected = {k: list(v) if isinstance(v, tuple) else v for k, v in rows[0].items()}
    assert back["96"] == expected
    params = line_parameters(tmp_path, "96")
    assert params["crop_coords"] == [67, 503, 555, 61]
    assert any(n.startswith("miniscope_filenames is set but not used") for n in params.notes)


def test_writer_rejects_bad_key_and_unrepresentable_text(tmp_path):
    with pytest.raises(ValueError, match="not a valid experiment key"):
        write_parameters_csv(tmp_path, [{"line number": "a/b"}])
    with pytest.raises(ValueError, match="reads back"):
        write_experiments_csv(tmp_path, [{"line number": "1", "id": "NA"}])
    assert not (tmp_path / EXPERIMENTS_CSV).exists()


def test_module_constants():
    assert len(EXPERIMENT_COLUMNS) == 16 and EXPERIMENT_COLUMNS[0] == "line number"
    assert (
        catalog.EXPERIMENTS_CSV == "experiments.csv" and catalog.PARAMETERS_CSV == "analysis_parameters.csv"
    )


def test_excel_encodings(tmp_path):
    """Excel writes UTF-8 with a BOM ("CSV UTF-8") or Windows-1252 ("CSV"); both must read."""
    text = "\n".join([HEADER, _row("1", comments="2 µV noise")]) + "\n"
    (tmp_path / EXPERIMENTS_CSV).write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert read_experiments(tmp_path, tmp_path)["1"].fields["comments"] == "2 µV noise"
    (tmp_path / EXPERIMENTS_CSV).write_bytes(text.encode("cp1252"))
    assert read_experiments(tmp_path, tmp_path)["1"].fields["comments"] == "2 µV noise"
