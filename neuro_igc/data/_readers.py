"""Selective readers: only the requested vertices/voxels stay in memory, and reads follow the
storage order of each format.

- ``.mgh`` surface files (nibabel, Fortran order: all vertices of frame 0, then frame 1, ...):
  read blocks of frames (contiguous on disk) and keep the selected vertices of each block, so the
  memory is the selection plus one block, never the whole hemisphere.
- NSD's volume HDF5 (h5py (T, Z, Y, X), one chunk per voxel holding every trial): read slabs of
  z-planes cut to the bounding box of the selected voxels, each chunk touched once, instead of
  blocks of trials (which touch every chunk once per block).
- Native-surface HDF5 ((T, V), one chunk per vertex): read blocks of vertices spanning the
  selection.
"""

from __future__ import annotations

import numpy as np

from neuro_igc._read import reading

__all__ = ["read_surface_rows", "read_hdf5_voxels", "read_hdf5_columns"]

#: Bytes of file data read at once (one block of frames, one slab of planes).
BLOCK_BYTES = 64 * 2**20


def read_surface_rows(img, rows, *, dtype=np.float32, block_bytes: int = BLOCK_BYTES) -> np.ndarray:
    """(n_frames, n_rows) values of the vertices ``rows`` of an NSD surface image (V, 1, 1[, T]).

    Parameters
    ----------
    img : nibabel image
        Proxied (nothing loaded yet), e.g. from ``nibabel.load``.
    rows : int array
        Vertex indices, any order.
    dtype : numpy dtype, default float32
    block_bytes : int
        Bytes of frames read at once (whole vertex columns of a few frames).
    """
    with reading(img.get_filename() if hasattr(img, "get_filename") else None, "surface file"):
        return _surface_rows(img, rows, dtype, block_bytes)


def _surface_rows(img, rows, dtype, block_bytes):
    rows = np.asarray(rows, dtype=np.int64)
    n_vert = img.shape[0]
    n_frames = img.shape[3] if len(img.shape) == 4 else 1
    out = np.empty((n_frames, rows.size), dtype=dtype)
    if rows.size == 0 or n_frames == 0:
        return out
    lo, hi = int(rows.min()), int(rows.max()) + 1
    compressed = str(getattr(img, "get_filename", lambda: "")() or "").endswith(".mgz")
    proxy = img.dataobj
    if len(img.shape) == 3:
        out[0] = np.asarray(proxy[lo:hi, 0, 0])[rows - lo]
        return out
    if compressed:  # gzip streams cannot seek: one pass over the span
        out[:] = np.asarray(proxy[lo:hi, 0, 0, :])[rows - lo].T
        return out
    per_frame = max(1, n_vert * np.dtype(img.get_data_dtype()).itemsize)
    step = max(1, int(block_bytes) // per_frame)
    for t0 in range(0, n_frames, step):
        t1 = min(n_frames, t0 + step)
        block = np.asarray(proxy[lo:hi, 0, 0, t0:t1])  # (span, b): contiguous runs in Fortran order
        out[t0:t1] = block[rows - lo].T
    return out


def _runs(sorted_values: np.ndarray):
    """(start, stop) of the runs of consecutive integers in a sorted unique array."""
    if sorted_values.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(sorted_values) > 1)
    starts = np.r_[sorted_values[0], sorted_values[breaks + 1]]
    stops = np.r_[sorted_values[breaks], sorted_values[-1]] + 1
    return list(zip(starts.tolist(), stops.tolist()))


def read_hdf5_voxels(dset, ijk, *, block_bytes: int = BLOCK_BYTES) -> np.ndarray:
    """(n_trials, n_voxels) of the voxels ``ijk`` (X, Y, Z indices) of an h5py (T, Z, Y, X) dataset.

    Reads slabs of consecutive z-planes that hold selected voxels, cut to the selection's (y, x)
    bounding box, each at most ``block_bytes``: with NSD's (T, 1, 1, 1) chunks every chunk is read
    once, and chunks outside the selection's slabs are not read at all.
    """
    ijk = np.asarray(ijk, dtype=np.int64).reshape(-1, 3)
    n_t = dset.shape[0]
    out = np.empty((n_t, len(ijk)), dtype=dset.dtype)
    if len(ijk) == 0:
        return out
    i, j, k = ijk.T
    y0, y1 = int(j.min()), int(j.max()) + 1
    x0, x1 = int(i.min()), int(i.max()) + 1
    plane = n_t * (y1 - y0) * (x1 - x0) * dset.dtype.itemsize
    per_slab = max(1, int(block_bytes) // max(1, plane))
    order = np.argsort(k, kind="stable")
    zs = np.unique(k)
    for z_start, z_stop in _runs(zs):
        for z0 in range(z_start, z_stop, per_slab):
            z1 = min(z_stop, z0 + per_slab)
            a, b = np.searchsorted(k[order], [z0, z1])
            cols = order[a:b]
            slab = dset[:, z0:z1, y0:y1, x0:x1]  # (T, dz, dy, dx)
            out[:, cols] = slab[:, k[cols] - z0, j[cols] - y0, i[cols] - x0]
    return out


def read_hdf5_columns(dset, cols, *, block_bytes: int = BLOCK_BYTES) -> np.ndarray:
    """(n_trials, n_cols) of the columns ``cols`` of an h5py (T, V) dataset (NSD's native-surface
    betas, one chunk per vertex): blocks of consecutive vertices spanning the selection."""
    cols = np.asarray(cols, dtype=np.int64)
    n_t = dset.shape[0]
    out = np.empty((n_t, cols.size), dtype=dset.dtype)
    if cols.size == 0:
        return out
    order = np.argsort(cols, kind="stable")
    srt = cols[order]
    step = max(1, int(block_bytes) // max(1, n_t * dset.dtype.itemsize))
    lo = int(srt[0])
    pos = 0
    while pos < srt.size:
        lo = int(srt[pos])
        hi = min(int(srt[-1]) + 1, lo + step)
        end = int(np.searchsorted(srt, hi))
        block = dset[:, lo:hi]
        out[:, order[pos:end]] = block[:, srt[pos:end] - lo]
        pos = end
    return out
