"""Movie products written a chunk of frames at a time, atomically, readable by `xarray.open_zarr`.

    with MovieWriter(path, n_frames, height, width, dtype="float32", attrs={...}) as w:
        for start, frames in chunks:
            w.write(start, frames)          # or, in a worker process: write_region(w.tmp_path, start, frames)
        w.add_variables(xr.Dataset(...))    # small per-frame / per-pixel arrays (shifts, projections, ...)

The store is a zarr (format 2) group with the movie as variable `movie` (dims frame, y, x), chunked by
frames; it is built in a temporary sibling and renamed into place only when the `with` block completes,
so a failed or killed run never leaves a half-written movie or destroys the last good one.
"""

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr

from ace_core.io.frames import FrameSource, MiniscopeSource, ZarrMovieSource
from ace_core.io.miniscope import open_recording
from ace_core.store.atomic import atomic_directory
from ace_core.store.datasets import ZARR_FORMAT, existing_product, open_dataset

MOVIE_VARIABLE = "movie"
MOVIE_DIMS = ("frame", "y", "x")
#: Attribute of a movie product that is a reference to the raw recording (its folder), not a copy.
REFERENCE_ATTR = "raw_recording_reference"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def write_region(tmp_path: str | Path, start: int, frames: np.ndarray) -> None:
    """Write frames ``[start, start + n)`` into an open writer's store (callable from worker processes).

    Regions should be aligned to the writer's chunk size when several processes write at once.

    Parameters
    ----------
    tmp_path
        :attr:`MovieWriter.tmp_path` of an entered writer.
    start
        First frame.
    frames
        (n, height, width), cast to the store's dtype.
    """
    arr = zarr.open_array(str(Path(tmp_path) / MOVIE_VARIABLE), mode="r+")
    arr[start : start + frames.shape[0]] = frames


class MovieWriter:
    """Context manager building a movie product in a temporary store and publishing it atomically.

    Parameters
    ----------
    path
        Final path of the product.
    n_frames, height, width
        Movie shape (frames, px, px).
    dtype
        Stored dtype; float movies get NaN as fill value, integer movies none (xarray would mask it).
    chunk_frames
        Frames per zarr chunk (each chunk holds whole frames).
    attrs
        Product attributes, written on exit (numpy values converted to JSON types).

    Attributes
    ----------
    path, shape, dtype, chunk_frames, attrs
        As given (``shape`` is ``(n_frames, height, width)``).
    tmp_path
        The temporary store while the writer is entered, else None.
    """

    def __init__(
        self,
        path: str | Path,
        n_frames: int,
        height: int,
        width: int,
        *,
        dtype: str | np.dtype = "float32",
        chunk_frames: int = 100,
        attrs: dict[str, Any] | None = None,
    ) -> None:
        """Describe the product; nothing is created before ``__enter__``."""
        self.path = Path(path)
        self.shape = (int(n_frames), int(height), int(width))
        self.dtype = np.dtype(dtype)
        self.chunk_frames = int(chunk_frames)
        self.attrs = dict(attrs or {})
        self._stack = ExitStack()
        self.tmp_path: Path | None = None
        self._extra: list[xr.Dataset] = []

    def __enter__(self) -> "MovieWriter":
        """Create the temporary store with an empty ``movie`` array; return the writer."""
        self.tmp_path = self._stack.enter_context(atomic_directory(self.path))
        group = zarr.open_group(str(self.tmp_path), mode="w", zarr_format=ZARR_FORMAT)
        # No fill value for integer movies: xarray would mask it (e.g. every 0 of a uint8 movie) and decode
        # the movie as float.
        fill = np.nan if self.dtype.kind == "f" else None
        arr = group.create_array(
            MOVIE_VARIABLE,
            shape=self.shape,
            chunks=(max(1, min(self.chunk_frames, self.shape[0] or 1)), self.shape[1], self.shape[2]),
            dtype=self.dtype,
            fill_value=fill,
        )
        arr.attrs["_ARRAY_DIMENSIONS"] = list(MOVIE_DIMS)
        return self

    def write(self, start: int, frames: np.ndarray) -> None:
        """Write frames ``[start, start + n)``, cast to the writer's dtype.

        Parameters
        ----------
        start
            First frame.
        frames
            (n, height, width).

        Raises
        ------
        ValueError
            If the frame size differs from the writer's or the frames fall outside ``0..n_frames``.
        """
        if frames.shape[1:] != self.shape[1:]:
            raise ValueError(f"{self.path}: frames of shape {frames.shape[1:]}, expected {self.shape[1:]}")
        if start < 0 or start + frames.shape[0] > self.shape[0]:
            raise ValueError(
                f"{self.path}: frames [{start}, {start + frames.shape[0]}) outside 0..{self.shape[0]}"
            )
        write_region(self.tmp_path, start, frames.astype(self.dtype, copy=False))

    def add_variables(self, ds: xr.Dataset) -> None:
        """Small arrays stored beside the movie (dims must not clash with the movie's frame/y/x sizes).

        Parameters
        ----------
        ds
            Variables written into the store on exit (per-frame / per-pixel arrays: shifts, projections, ...).
        """
        self._extra.append(ds)

    def __exit__(self, exc_type, exc, tb) -> bool:
        """On success write the extra variables and attributes and publish the store; on error discard it."""
        try:
            if exc_type is None:
                for ds in self._extra:
                    ds.to_zarr(self.tmp_path, mode="a", zarr_format=ZARR_FORMAT, consolidated=False)
                group = zarr.open_group(str(self.tmp_path), mode="r+", zarr_format=ZARR_FORMAT)
                group.attrs.update(_jsonable(self.attrs))
                zarr.consolidate_metadata(str(self.tmp_path))
        except BaseException:
            self._stack.__exit__(*sys.exc_info())
            raise
        return bool(self._stack.__exit__(exc_type, exc, tb))


def open_movie(path: str | Path) -> xr.Dataset:
    """Lazy dataset of a movie product (nothing is read until sliced, e.g. ``.movie[i:j].values``).

    Parameters
    ----------
    path
        Path of the product.

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    FileNotFoundError
        When the product has not been written.
    """
    return open_dataset(path)


def write_movie_reference(
    path: str | Path, recording_dir: str | Path, *, attrs: dict[str, Any] | None = None
) -> Path:
    """Record, as a movie product, that the movie is the raw recording itself (no copy of its frames).

    Used for an optional step that is switched off (``denoise`` FALSE): downstream steps read the raw
    movie through :func:`open_movie_source`, and the product still opens with ``xarray.open_zarr`` (no
    variables; its attributes say where the movie is).

    Parameters
    ----------
    path
        The product's path.
    recording_dir
        The Miniscope session or device folder.
    attrs
        More attributes to record (e.g. why the step was skipped).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    with atomic_directory(Path(path)) as tmp:
        group = zarr.open_group(str(tmp), mode="w", zarr_format=ZARR_FORMAT)
        group.attrs.update(_jsonable({**(attrs or {}), REFERENCE_ATTR: str(recording_dir)}))
        zarr.consolidate_metadata(str(tmp))
    return Path(path)


def open_movie_source(path: str | Path) -> FrameSource:
    """A lazy, picklable frame source over a movie product (or the raw recording it refers to).

    Parameters
    ----------
    path
        Path of the product.

    Returns
    -------
    FrameSource
        A :class:`~ace_core.io.frames.ZarrMovieSource`, or a :class:`~ace_core.io.frames.MiniscopeSource`
        for a product written by :func:`write_movie_reference`.

    Raises
    ------
    FileNotFoundError
        When the product has not been written.
    """
    path = existing_product(path)
    attrs = zarr.open_group(str(path), mode="r").attrs
    if REFERENCE_ATTR in attrs:
        return MiniscopeSource(open_recording(attrs[REFERENCE_ATTR]))
    return ZarrMovieSource(path)
