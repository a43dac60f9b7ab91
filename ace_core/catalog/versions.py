"""Versions of a line's sources: cheap fingerprints of its raw folders, its parameter groups and its
curation file. Dagster records them as data versions, so an edit makes exactly the affected products stale.

A raw folder's fingerprint hashes file names, sizes and modification times: it changes when a file is
added, replaced or touched, and costs one ``stat`` per file (never a full read of a multi-GB movie).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ace_core.catalog import layout
from ace_core.catalog.experiments import Experiment, read_experiments
from ace_core.catalog.parameter_table import GROUPS, group_parameters
from ace_core.catalog.parameters import parameters_by_line

__all__ = [
    "RAW_SOURCES",
    "curation_versions",
    "folder_fingerprint",
    "parameter_versions",
    "raw_versions",
    "source_versions",
    "values_fingerprint",
]

logger = logging.getLogger(__name__)

#: Raw sources: name -> (the folder of an experiment, file patterns fingerprinted, recursive).
RAW_SOURCES: Mapping[str, tuple[Callable[[Experiment], Path | None], tuple[str, ...], bool]] = {
    "raw_neuralynx": (lambda exp: exp.ephys_dir, ("*.ncs", "*.nev"), False),
    "raw_miniscope": (
        lambda exp: exp.calcium_dir if len(exp.calcium_dirs) == 1 else None,
        ("*.avi", "*.csv", "*.json"),
        True,
    ),
}


def folder_fingerprint(
    folder: str | Path, patterns: Iterable[str] = ("*",), *, recursive: bool = False
) -> str:
    """sha256 (16 hex) of (relative name, size, mtime_ns) of the matching files; "missing" if no folder."""
    folder = Path(folder)
    if not folder.is_dir():
        return "missing"
    files: set[Path] = set()
    for pattern in patterns:
        files.update(p for p in (folder.rglob(pattern) if recursive else folder.glob(pattern)) if p.is_file())
    h = hashlib.sha256()
    for p in sorted(files):
        st = p.stat()
        h.update(f"{p.relative_to(folder).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def values_fingerprint(values: Mapping[str, Any]) -> str:
    """sha256 (16 hex) of parameter values, independent of key order."""
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def raw_versions(name: str, experiments: Mapping[str, Experiment], lines: Iterable[str]) -> dict[str, str]:
    """Version of one raw source (``raw_neuralynx`` or ``raw_miniscope``) for each line.

    Parameters
    ----------
    name
        A key of :data:`RAW_SOURCES`.
    experiments
        The catalog (:func:`~ace_core.catalog.experiments.read_experiments`).
    lines
        The lines to fingerprint; a line missing from the catalog, or without a folder, is "missing".
    """
    folder_of, patterns, recursive = RAW_SOURCES[name]
    versions = {}
    for line in lines:
        exp = experiments.get(line)
        folder = folder_of(exp) if exp is not None else None
        versions[line] = folder_fingerprint(folder, patterns, recursive=recursive) if folder else "missing"
    return versions


def parameter_versions(
    project_path: str | os.PathLike[str],
    lines: Iterable[str],
    groups: Iterable[str] | None = None,
    *,
    warn: Callable[[str], None] = logger.warning,
) -> dict[str, dict[str, str]]:
    """Version of each observed parameter group (default: all) for each line, from one read of
    ``analysis_parameters.csv``.

    Lines whose row cannot be read are left out (and reported through ``warn``): their products keep their
    last version until the row is fixed.

    Returns
    -------
    dict
        ``{group: {line: version}}``.
    """
    found, errors = parameters_by_line(project_path, lines)
    for line, exc in errors.items():
        warn(f"line {line}: {exc}")
    chosen = [g for g, spec in GROUPS.items() if spec.observed and (groups is None or g in groups)]
    return {
        group: {line: values_fingerprint(lp.subset(group_parameters(group))) for line, lp in found.items()}
        for group in chosen
    }


def curation_versions(project_path: str | os.PathLike[str], lines: Iterable[str]) -> dict[str, str]:
    """Hash of each line's curation decisions file ("none" without a file)."""
    versions = {}
    for line in lines:
        path = layout.curation_path(project_path, line)
        versions[line] = values_fingerprint({"text": path.read_text()}) if path.exists() else "none"
    return versions


def source_versions(
    project_path: str | os.PathLike[str],
    data_path: str | os.PathLike[str],
    lines: Iterable[str],
    experiments: Mapping[str, Experiment] | None = None,
    *,
    warn: Callable[[str], None] = logger.warning,
) -> dict[str, dict[str, str]]:
    """Current version of every observed source of the given lines: ``{source: {line: version}}``.

    Parameters
    ----------
    experiments
        The catalog, when the caller has already read it (saves a parse of ``experiments.csv``).

    Raises
    ------
    CatalogError
        When ``experiments.csv`` cannot be read.
    """
    lines = list(lines)
    if experiments is None:
        experiments = read_experiments(project_path, data_path)
    return {
        **{name: raw_versions(name, experiments, lines) for name in RAW_SOURCES},
        **parameter_versions(project_path, lines, warn=warn),
        "curation_decisions": curation_versions(project_path, lines),
    }
