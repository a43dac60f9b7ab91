"""Cheap fingerprints of raw data and parameter values, used as data versions.

A raw folder's fingerprint hashes file names, sizes and modification times: it changes when a file is
added, replaced or touched, and costs one `stat` per file (never a full read of a multi-GB movie).
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


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
