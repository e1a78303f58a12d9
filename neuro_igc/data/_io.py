"""Low-level readers and writers for the NSD file formats (nibabel, h5py, scipy.io, pandas).

Every writer goes through :func:`neuro_igc._utils.atomic_path`. Readers check shapes and dtypes and
name the file in their errors; they read only what is asked for where the format allows it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuro_igc._read import file_error, load_image, read_text, reading
from neuro_igc._utils import atomic_path, atomic_write_text

__all__ = [
    "read_ctab",
    "write_ctab",
    "read_mgh",
    "write_mgh",
    "write_nifti",
    "write_volume_hdf5",
    "write_native_betas_hdf5",
    "span_read",
]

VOLUME_SCALE = 300.0  # NSD volume betas: int16 = round(percent signal change * 300)


# ---------------------------------------------------------------------------------------------
# lookup tables


def read_ctab(path: str | Path) -> dict[int, str]:
    """Read an NSD ``<atlas>.mgz.ctab`` lookup table into ``{index: name}`` (index 0 left out).

    Lines are ``index name`` (space separated); extra columns (FreeSurfer colour LUTs: R G B A)
    and ``#`` comments are ignored.
    """
    table: dict[int, str] = {}
    for line_no, line in enumerate(read_text(path, "lookup table").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 2 or not parts[0].lstrip("-").isdigit():
            raise file_error(path, f"malformed lookup table, line {line_no}: expected 'index name', got {line!r}",
                             "lookup table")
        index = int(parts[0])
        if index > 0:
            table[index] = parts[1]
    return table


def write_ctab(path: str | Path, table: dict[int, str]) -> Path:
    """Write ``{index: name}`` as an NSD ctab (``0 Unknown`` first, then one ``index name`` line each)."""
    lines = ["0 Unknown"] + [f"{int(k)} {v}" for k, v in sorted(table.items())]
    return atomic_write_text(path, "\n".join(lines) + "\n")


# ---------------------------------------------------------------------------------------------
# surface .mgh / .mgz


def write_mgh(path: str | Path, data: np.ndarray) -> Path:
    """Write ``data`` (n_vertices,) or (n_vertices, n_frames) as an NSD surface file (V, 1, 1, T).

    A single frame is written (V, 1, 1), as FreeSurfer and NSD do for labels and maps.

    ``.mgh`` is written uncompressed (big-endian float32 / int32 as FreeSurfer does); ``.mgz`` is
    gzip-compressed. Float data is cast to float32 (MGH has no float64).
    """
    import nibabel as nib

    data = np.asarray(data)
    if data.ndim == 1:
        data = data[:, None]
    if np.issubdtype(data.dtype, np.floating):
        data = data.astype(np.float32)
    elif data.dtype != np.uint8:
        data = data.astype(np.int32)
    shape = (data.shape[0], 1, 1) + ((data.shape[1],) if data.shape[1] > 1 else ())
    img = nib.MGHImage(data.reshape(shape), np.eye(4))
    with atomic_path(path) as tmp:
        nib.save(img, tmp)
    return Path(path)


def read_mgh(path: str | Path):
    """Open a surface file; return its nibabel image (data proxied, nothing loaded yet: read rows
    with :func:`mgh_rows`, which names the file when a truncated one fails)."""
    img = load_image(path, "surface file")
    if len(img.shape) not in (3, 4) or img.shape[1:3] != (1, 1):
        raise ValueError(
            f"Wrong shape in {path}: NSD surface files are (n_vertices, 1, 1[, n_frames]); got {img.shape}."
        )
    return img


def mgh_rows(img, rows) -> np.ndarray:
    """Rows of an NSD surface image as (n_rows, n_frames), reading only their span."""
    with reading(img.get_filename(), "surface file"):
        if len(img.shape) == 3:
            return span_read(img.dataobj, rows, (0, 0))[:, None]
        return span_read(img.dataobj, rows, (0, 0, slice(None)))


def span_read(proxy, rows: np.ndarray | slice | None, tail: tuple = ()) -> np.ndarray:
    """Read ``proxy[rows, *tail]`` touching only the span of the requested rows.

    ``rows`` is None (all), a slice, or an integer array (read as the bounding slice, then
    indexed in memory: never more than the span is loaded).
    """
    if rows is None:
        return np.asarray(proxy[(slice(None),) + tail])
    if isinstance(rows, slice):
        return np.asarray(proxy[(rows,) + tail])
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        first = np.asarray(proxy[(slice(0, 1),) + tail])
        return first[:0]
    lo, hi = int(rows.min()), int(rows.max()) + 1
    block = np.asarray(proxy[(slice(lo, hi),) + tail])
    return block[rows - lo]


# ---------------------------------------------------------------------------------------------
# volumes


def write_nifti(path: str | Path, data: np.ndarray, affine: np.ndarray) -> Path:
    """Write a NIfTI-1 image keeping ``data``'s dtype (int16 betas, uint8 masks, float32 maps)."""
    import nibabel as nib

    img = nib.Nifti1Image(np.asarray(data), np.asarray(affine, dtype=np.float64))
    img.header.set_data_dtype(np.asarray(data).dtype)
    img.header.set_xyzt_units("mm", "sec")
    with atomic_path(path) as tmp:
        nib.save(img, tmp)
    return Path(path)


def write_volume_hdf5(path: str | Path, data_xyzt: np.ndarray) -> Path:
    """Write X×Y×Z×T betas as NSD's ``betas_sessionNN.hdf5``: dataset ``betas``, stored (T, Z, Y, X)
    in NSD's chunks of every trial of one voxel, (T, 1, 1, 1).

    NSD's HDF5 files hold the MATLAB (column-major) array, so h5py returns the axes reversed.
    """
    import h5py

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            arr = np.ascontiguousarray(np.asarray(data_xyzt).transpose(3, 2, 1, 0))
            f.create_dataset("betas", data=arr, chunks=(arr.shape[0], 1, 1, 1))
    return Path(path)


def write_native_betas_hdf5(path: str | Path, data_tv: np.ndarray) -> Path:
    """Write native-surface betas (T, V) int16 as NSD's ``{hemi}.betas_sessionNN.hdf5``.

    Dataset ``betas``, h5py shape (T, V) (MATLAB's V×T), one chunk per vertex: (T, 1).
    """
    import h5py

    arr = np.asarray(data_tv)
    per_vertex = np.ascontiguousarray(arr.T)  # row v = chunk v: all trials of vertex v
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            d = f.create_dataset("betas", shape=arr.shape, dtype=arr.dtype, chunks=(arr.shape[0], 1))
            write = d.id.write_direct_chunk  # whole uncompressed chunks, no scatter through the chunk cache
            for v in range(per_vertex.shape[0]):
                write((0, v), per_vertex[v])
    return Path(path)
