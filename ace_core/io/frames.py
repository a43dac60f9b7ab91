"""Frame sources: read any movie (raw Miniscope AVIs, a zarr product, an array) a chunk of frames at a time.

Streaming algorithms take a `FrameSource` and read `[start, stop)` ranges, so no step holds a whole movie.
Sources are small picklable descriptions (paths, not open handles), so worker processes of a
`concurrent.futures` executor (or a Dask cluster's `Client.get_executor()`) can read their own chunk.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ace_core.io import miniscope


@runtime_checkable
class FrameSource(Protocol):
    """A movie read a chunk of frames at a time (the protocol every streaming step takes).

    Attributes
    ----------
    n_frames, height, width
        Movie shape: frames, rows (px), columns (px).
    """

    n_frames: int
    height: int
    width: int

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``[start, stop)``.

        Parameters
        ----------
        start, stop
            First frame and one past the last.

        Returns
        -------
        numpy.ndarray
            Shape (stop - start, height, width).
        """
        ...


def chunk_bounds(
    n_frames: int, chunk_frames: int, start: int = 0, stop: int | None = None
) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges of at most ``chunk_frames`` frames covering ``[start, stop)``.

    Parameters
    ----------
    n_frames
        Frames in the movie; ``stop`` is clipped to it.
    chunk_frames
        Maximum frames per range.
    start, stop
        Frames to cover (None: to the end).

    Returns
    -------
    list of tuple of int
        Consecutive ``(start, stop)`` pairs; empty when ``start >= stop``.

    Raises
    ------
    ValueError
        If ``chunk_frames < 1``.
    """
    stop = n_frames if stop is None else min(stop, n_frames)
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
    return [(s, min(s + chunk_frames, stop)) for s in range(start, stop, chunk_frames)]


def iter_chunks(source: FrameSource, chunk_frames: int = 256) -> Iterator[tuple[int, np.ndarray]]:
    """Iterate over the whole source a chunk at a time.

    Parameters
    ----------
    source
        The movie.
    chunk_frames
        Frames per chunk (the last may be shorter).

    Yields
    ------
    tuple of (int, numpy.ndarray)
        ``(start, frames)``: the first frame's index and the frames ``[start, start + n)``.
    """
    for s, e in chunk_bounds(source.n_frames, chunk_frames):
        yield s, source.read(s, e)


@dataclass(frozen=True)
class ArraySource:
    """An in-memory movie (tests, small data).

    Attributes
    ----------
    movie
        Frames, shape (n_frames, height, width).
    """

    movie: np.ndarray

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.movie.shape[0])

    @property
    def height(self) -> int:
        """Frame height (px)."""
        return int(self.movie.shape[1])

    @property
    def width(self) -> int:
        """Frame width (px)."""
        return int(self.movie.shape[2])

    @property
    def dtype(self) -> np.dtype:
        """The array's dtype."""
        return self.movie.dtype

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``[start, stop)`` (a view of the array); see :meth:`FrameSource.read`."""
        return self.movie[start:stop]


@dataclass(frozen=True)
class MiniscopeSource:
    """Raw UCLA Miniscope recording (uint8 frames decoded from ``N.avi`` in numeric order).

    Attributes
    ----------
    recording
        The opened recording (see :func:`ace_core.io.miniscope.open_recording`).
    """

    recording: miniscope.MiniscopeRecording

    @property
    def frame_rate_hz(self) -> float:
        """Frame rate (Hz) from the device's metadata."""
        return self.recording.frame_rate_hz

    @property
    def dtype(self) -> np.dtype:
        """Miniscope movies are 8-bit grey (uint8)."""
        return np.dtype(np.uint8)

    @property
    def n_frames(self) -> int:
        """Number of frames over all AVI files."""
        return self.recording.n_frames

    @property
    def height(self) -> int:
        """Frame height (px)."""
        return self.recording.height

    @property
    def width(self) -> int:
        """Frame width (px)."""
        return self.recording.width

    def read(self, start: int, stop: int) -> np.ndarray:
        """Decoded frames ``[start, stop)``, uint8; see :meth:`FrameSource.read`."""
        return miniscope.read_frames(self.recording, start, stop)


@dataclass(frozen=True)
class ZarrMovieSource:
    """A movie product written by :mod:`ace_core.store.movies` (variable ``movie``, dims frame, y, x).

    Attributes
    ----------
    path
        The product's zarr store.
    variable
        Name of the movie variable in it.
    """

    path: Path
    variable: str = "movie"

    def _group(self):
        import zarr

        return zarr.open_group(str(self.path), mode="r")

    def _array(self):
        return self._group()[self.variable]

    @property
    def attrs(self) -> dict:
        """The product's attributes (frame rate, parameters used, provenance)."""
        return dict(self._group().attrs)

    @property
    def frame_rate_hz(self) -> float:
        """Frame rate (Hz) recorded with the movie."""
        return float(self.attrs["frame_rate_hz"])

    @property
    def dtype(self) -> np.dtype:
        """The stored movie's dtype."""
        return np.dtype(self._array().dtype)

    def dataset(self):
        """The whole product as a lazy xarray Dataset (the movie and the per-frame traces beside it).

        Returns
        -------
        xarray.Dataset
            Opened with :func:`xarray.open_zarr` (nothing loaded).
        """
        import xarray as xr

        return xr.open_zarr(self.path)

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self._array().shape[0])

    @property
    def height(self) -> int:
        """Frame height (px)."""
        return int(self._array().shape[1])

    @property
    def width(self) -> int:
        """Frame width (px)."""
        return int(self._array().shape[2])

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``[start, stop)`` loaded from the store; see :meth:`FrameSource.read`."""
        return np.asarray(self._array()[start:stop])
