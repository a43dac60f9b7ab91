"""CNMF-E patches: the grid of overlapping patches, reading one patch's pixels, and stitching the patches'
components into one set (ownership of centroids, cross-patch duplicates)."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ace_core.io.frames import ArraySource, FrameSource, ZarrMovieSource, chunk_bounds

__all__ = ["centroids", "drop_duplicates", "patch_grid", "read_region", "region_reader", "to_global"]


def _starts_1d(n: int, rf: int | None, stride: int) -> list[tuple[int, int]]:
    if rf is None:
        return [(0, n)]
    size = 2 * rf + 1
    if n <= size:
        return [(0, n)]
    step = size - stride
    starts = list(range(0, n - size, step)) + [n - size]
    return [(s, s + size) for s in sorted(set(starts))]


def _owned_1d(spans: list[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    """Split each overlap at its middle: every index is owned by exactly one span."""
    bounds = [0]
    for (_, e0), (s1, _) in zip(spans[:-1], spans[1:], strict=True):
        bounds.append((s1 + e0 + 1) // 2)
    bounds.append(n)
    return [(bounds[i], bounds[i + 1]) for i in range(len(spans))]


def patch_grid(
    dims: tuple[int, int], rf: int | None, stride: int
) -> list[tuple[tuple[int, int, int, int], tuple[int, int, int, int]]]:
    """The patches of a field and the region each one owns.

    Patches of 2 rf + 1 px overlap by ``stride`` px, the last one flush with the frame edge; each overlap is
    split at its middle, so the owned regions tile the frame exactly.

    Parameters
    ----------
    dims
        Frame size (H, W) (px).
    rf
        Patch half-size (px); None: one patch, the whole frame.
    stride
        Overlap (px).

    Returns
    -------
    list of tuple
        ``[(patch (r0, r1, c0, c1), owned (r0, r1, c0, c1))]``, half-open bounds (px).
    """
    rows = _starts_1d(dims[0], rf, stride)
    cols = _starts_1d(dims[1], rf, stride)
    own_r = _owned_1d(rows, dims[0])
    own_c = _owned_1d(cols, dims[1])
    return [
        ((r0, r1, c0, c1), (o0, o1, p0, p1))
        for (r0, r1), (o0, o1) in zip(rows, own_r, strict=True)
        for (c0, c1), (p0, p1) in zip(cols, own_c, strict=True)
    ]


def region_reader(source: FrameSource, rows: tuple[int, int], cols: tuple[int, int]):
    """A reader of frames ``[start, stop)`` of one region.

    Zarr stores and in-memory arrays are sliced directly (a zarr store chunked in space then decompresses
    only the chunks a patch touches); other sources read whole frames.

    Parameters
    ----------
    source
        The movie.
    rows, cols
        ``[start, stop)`` rows and columns of the region (px).

    Returns
    -------
    callable
        ``read(start, stop)`` returning (stop - start, rows, cols) frames.
    """
    r, c = slice(*rows), slice(*cols)
    if isinstance(source, ArraySource):
        return lambda s, e: source.movie[s:e, r, c]
    if isinstance(source, ZarrMovieSource):
        import zarr

        arr = zarr.open_group(str(source.path), mode="r")[source.variable]
        return lambda s, e: arr[s:e, r, c]
    return lambda s, e: source.read(s, e)[:, r, c]


def read_region(
    source: FrameSource, rows: tuple[int, int], cols: tuple[int, int], chunk_frames: int
) -> np.ndarray:
    """The whole movie's frames over one region, as float32.

    Parameters
    ----------
    source
        The movie.
    rows, cols
        ``[start, stop)`` rows and columns of the region (px).
    chunk_frames
        Frames read at a time.

    Returns
    -------
    numpy.ndarray
        float32 (T, rows, cols).
    """
    n = source.n_frames
    read = region_reader(source, rows, cols)
    out = np.empty((n, rows[1] - rows[0], cols[1] - cols[0]), np.float32)
    for s, e in chunk_bounds(n, chunk_frames):
        out[s:e] = read(s, e)
    return out


def centroids(A: sparse.csc_matrix, dims: tuple[int, int]) -> np.ndarray:
    """Centre of mass (row, col) of each footprint (px).

    Parameters
    ----------
    A
        (H*W, K) footprints, row-major pixels.
    dims
        (H, W).

    Returns
    -------
    numpy.ndarray
        (K, 2); an all-zero footprint gives (0, 0).
    """
    rows, cols = np.divmod(np.arange(dims[0] * dims[1]), dims[1])
    mass = np.asarray(A.sum(axis=0)).ravel()
    mass = np.where(mass > 0, mass, 1.0)
    return np.stack([(A.T @ rows) / mass, (A.T @ cols) / mass], axis=1)


def to_global(
    a: sparse.csc_matrix, bounds: tuple[int, int, int, int], dims: tuple[int, int]
) -> sparse.csc_matrix:
    """A patch's footprints in the whole frame's pixel indexing.

    Parameters
    ----------
    a
        (patch pixels, K) footprints, row-major within the patch.
    bounds
        The patch (r0, r1, c0, c1) (px).
    dims
        Frame size (H, W).

    Returns
    -------
    scipy.sparse.csc_matrix
        (H*W, K).
    """
    r0, r1, c0, c1 = bounds
    coo = a.tocoo()
    pr, pc = np.divmod(coo.row, c1 - c0)
    rows = (pr + r0) * dims[1] + (pc + c0)
    return sparse.csc_matrix((coo.data, (rows, coo.col)), shape=(dims[0] * dims[1], a.shape[1]))


def drop_duplicates(
    A: sparse.csc_matrix, C: np.ndarray, snr: np.ndarray, patch_of: np.ndarray, merge_thr: float
) -> np.ndarray:
    """Keep-mask removing cross-patch duplicates.

    Duplicates are overlapping footprints of different patches whose traces correlate above ``merge_thr``
    (CaImAn's merge criterion); the unit with the higher snr is kept, pairs with the most footprint overlap
    first.

    Parameters
    ----------
    A
        (P, K) footprints (unit L2 norm).
    C
        (K, T) traces.
    snr
        (K,) snr of each unit.
    patch_of
        (K,) patch index of each unit.
    merge_thr
        Correlation threshold.

    Returns
    -------
    numpy.ndarray
        (K,) bool, False for dropped units.
    """
    K = A.shape[1]
    keep = np.ones(K, bool)
    if K < 2:
        return keep
    gram = (A.T @ A).tocoo()
    pairs = [(i, j, v) for i, j, v in zip(gram.row, gram.col, gram.data, strict=True) if i < j]
    order = sorted(pairs, key=lambda t: -t[2])
    for i, j, cos in order:
        if cos <= 0 or patch_of[i] == patch_of[j] or not (keep[i] and keep[j]):
            continue
        ci, cj = C[i].astype(np.float64), C[j].astype(np.float64)
        if ci.std() == 0 or cj.std() == 0 or np.corrcoef(ci, cj)[0, 1] <= merge_thr:
            continue
        keep[j if snr[i] >= snr[j] else i] = False
    return keep
