"""Observed sources: the line's raw folders and the parameter groups each product depends on.

Their data versions (cheap fingerprints, hashes of parameter values) let Dagster mark exactly the
products of exactly the lines that changed as stale. They are observed by the `source_change_sensor`
(which reports only the versions that changed), from the UI ("Observe sources"), with the
`observe_sources` job, or with `ace observe`.
"""

import dagster as dg

from ace_assets.partitions import experiment_lines
from ace_assets.resources import AcePaths
from ace_core import catalog
from ace_core.catalog import fingerprint, layout
from ace_core.catalog.parameter_table import CAIMAN_PARAMETERS
from ace_core.errors import AceError

# CaImAn's motion-correction block (used by motion correction, not by CNMF-E).
_MOTION = [
    "pw_rigid",
    "shifts_opencv",
    "max_shifts",
    "gSig_filt",
    "strides",
    "overlaps",
    "max_deviation_rigid",
    "border_nan",
]

# Parameter names each product depends on (the same lists the assets read their values with).
PARAMETER_GROUPS: dict[str, list[str]] = {
    "lfp_parameters": [
        "channel_name",
        "remove_artifacts",
        "artifact_threshold_uv",
        "artifact_merge_s",
        "artifact_taper_samples",
    ],
    "lfp_filter_parameters": ["filter_type", "filter_range", "n", "fir_numtaps"],
    "lfp_spectrogram_parameters": [
        "lfp_window_length",
        "lfp_window_step",
        "lfp_freq_lims",
        "lfp_time_bandwidth",
    ],
    "ttl_parameters": [
        "fix_TTL_gaps",
        "delete_TTLs",
        "ttl_gap_threshold_periods",
        "indices of TTL events to delete",
    ],
    "crop_parameters": ["crop_coords"],
    "preprocess_parameters": [
        "detrend_method",
        "df_over_f",
        "df_over_f_method",
        "secs_window",
        "quantile_min",
    ],
    "miniscope_filter_parameters": ["n", "cut", "ftype", "btype", "inline"],
    "miniscope_spectrogram_parameters": ["window_length", "window_step", "freq_lims", "time_bandwidth"],
    "cnmfe_parameters": sorted(set(CAIMAN_PARAMETERS) - set(_MOTION)),
    "event_parameters": ["derivative_for_estimates", "event_height", "event_height_sd"],
    "denoise_parameters": [
        "denoise",
        "centerHalfHeightToLeave",
        "notchHalfWidth",
        "goodRadius",
        "frameStep",
        "cutoff",
        "butterOrder",
    ],
    "trace_analysis_parameters": ["frameWindow", "framesb", "framesa"],
    "motion_parameters": ["apply_motion_correction", *_MOTION],
}


def _lines(context) -> list[str]:
    return context.instance.get_dynamic_partitions(experiment_lines.name)


# Raw folders: (folder of an experiment, file patterns fingerprinted, recursive).
RAW_FOLDERS = {
    "raw_neuralynx": (lambda exp: exp.ephys_dir, ("*.ncs", "*.nev"), False),
    "raw_miniscope": (
        lambda exp: exp.calcium_dir if len(exp.calcium_dirs) == 1 else None,
        ("*.avi", "*.csv", "*.json"),
        True,
    ),
}


def raw_versions(name: str, experiments: dict, lines: list[str]) -> dict[str, str]:
    """Data version of each line's raw folder: names, sizes and mtimes of its files (never a content hash)."""
    folder_of, patterns, recursive = RAW_FOLDERS[name]
    versions = {}
    for line in lines:
        exp = experiments.get(line)
        folder = folder_of(exp) if exp is not None else None
        versions[line] = (
            fingerprint.folder_fingerprint(folder, patterns, recursive=recursive) if folder else "missing"
        )
    return versions


def parameter_versions(
    project_path: str, lines: list[str], log=None, groups: list[str] | None = None
) -> dict[str, dict[str, str]]:
    """Data version of each parameter group (default: all) for each line, from one read of
    analysis_parameters.csv.

    Lines whose row cannot be read are left out (and logged): their products keep their last version.
    """
    found, errors = catalog.parameters_by_line(project_path, lines)
    for line, exc in errors.items():
        if log is not None:
            log.warning(f"line {line}: {exc}")
    return {
        group: {line: fingerprint.values_fingerprint(lp.subset(names)) for line, lp in found.items()}
        for group, names in PARAMETER_GROUPS.items()
        if groups is None or group in groups
    }


def curation_versions(project_path: str, lines: list[str]) -> dict[str, str]:
    """Hash of each line's curation decisions file ('none' without a file)."""
    versions = {}
    for line in lines:
        path = layout.curation_path(project_path, line)
        versions[line] = (
            fingerprint.values_fingerprint({"text": path.read_text()}) if path.exists() else "none"
        )
    return versions


def source_versions(
    paths: AcePaths, lines: list[str], log=None, experiments: dict | None = None
) -> dict[str, dict[str, str]]:
    """Current data version of every observed source, by source name then line (`experiments`: the
    catalog if the caller has already read it)."""
    experiments = paths.experiments() if experiments is None else experiments
    return {
        **{name: raw_versions(name, experiments, lines) for name in RAW_FOLDERS},
        **parameter_versions(paths.project_path, lines, log),
        "curation_decisions": curation_versions(paths.project_path, lines),
    }


def _raw_source(name: str, description: str):
    @dg.observable_source_asset(
        name=name, partitions_def=experiment_lines, group_name="raw", description=description
    )
    def _observe(context, paths: AcePaths) -> dg.DataVersionsByPartition:
        try:
            experiments = paths.experiments()
        except (AceError, OSError) as exc:
            raise dg.Failure(f"cannot read the experiment catalog: {exc}") from exc
        return dg.DataVersionsByPartition(raw_versions(name, experiments, _lines(context)))

    return _observe


raw_neuralynx = _raw_source(
    "raw_neuralynx",
    "The line's Neuralynx session folder (`ephys directory`); version = names, sizes and mtimes of its "
    ".ncs/.nev files.",
)
raw_miniscope = _raw_source(
    "raw_miniscope",
    "The line's UCLA Miniscope session folder (`calcium imaging directory`); version = names, sizes and "
    "mtimes of its movies, timeStamps.csv and metaData.json files.",
)


def _parameter_source(name: str, names: list[str]):
    @dg.observable_source_asset(
        name=name,
        partitions_def=experiment_lines,
        group_name="parameters",
        description=f"The line's values of {', '.join(names)} (defaults + "
        "analysis_parameters.csv); version = hash of those values.",
    )
    def _observe(context, paths: AcePaths) -> dg.DataVersionsByPartition:
        return dg.DataVersionsByPartition(
            parameter_versions(paths.project_path, _lines(context), context.log, [name])[name]
        )

    return _observe


PARAMETER_SOURCES = {name: _parameter_source(name, names) for name, names in PARAMETER_GROUPS.items()}


@dg.observable_source_asset(
    name="curation_decisions",
    partitions_def=experiment_lines,
    group_name="parameters",
    description="The line's component decisions file, <project>/curation/<line>.csv; "
    "version = hash of its content ('none' without a file).",
)
def curation_decisions(context, paths: AcePaths) -> dg.DataVersionsByPartition:
    return dg.DataVersionsByPartition(curation_versions(paths.project_path, _lines(context)))
