"""Atomic writes: a file or a directory is complete on disk or absent, never half-written.

Everything the project writes goes through these two helpers. A write goes to a hidden temporary sibling
(``.<name>.tmp-<random>``) that is renamed into place only when complete. Replacing an existing directory
first renames the old one aside, then moves the new one in, then deletes the old one, so a run killed at
any instant leaves either the last good product or (in the short window between the two renames) the
last good product under ``.<name>.old-*``, which :func:`recover_product` puts back.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_directory", "atomic_file", "recover_product"]


def _tmp_sibling(path: Path, tag: str) -> Path:
    return path.parent / f".{path.name}.{tag}-{uuid.uuid4().hex[:8]}"


def recover_product(path: str | Path) -> None:
    """Put back a directory that a killed replacement left renamed aside.

    Parameters
    ----------
    path
        The product's final path; nothing happens when it exists.
    """
    path = Path(path)
    if path.exists():
        return
    olds = sorted(path.parent.glob(f".{path.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if olds:
        os.replace(olds[-1], path)


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Build a directory in a temporary sibling and move it into place when the block succeeds.

    Parameters
    ----------
    path
        Final path of the directory (its parent is created).

    Yields
    ------
    Path
        The temporary directory to write into (not created: the caller creates it, e.g. zarr does).

    Notes
    -----
    On an exception the temporary directory is removed and an existing ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover_product(path)
    tmp = _tmp_sibling(path, "tmp")
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = _tmp_sibling(path, "old")
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; it replaces ``path`` when the block succeeds.

    Parameters
    ----------
    path
        Final path of the file (its parent is created).
    mode
        ``"w"`` (text, UTF-8 unless ``encoding`` is given) or ``"wb"``.
    **open_kwargs
        Passed to :func:`open` (``newline``, ``encoding``).

    Yields
    ------
    IO
        The open temporary file. It is flushed and fsynced before the rename, and readable by all
        (mode 644) like a file written directly.

    Raises
    ------
    ValueError
        For another ``mode``.

    Notes
    -----
    On an exception the temporary file is removed and an existing ``path`` is left untouched.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "w":
        open_kwargs.setdefault("encoding", "utf-8")
    tmp = _tmp_sibling(path, "tmp")
    try:
        with open(tmp, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
