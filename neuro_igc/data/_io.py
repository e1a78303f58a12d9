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
]

VOLUME_SCALE = 300.0  # NSD volume betas: int16 = round(percent signal change * 300)


# ---------------------------------------------------------------------------------------------
# lookup tables: one reader and writer, in ``_tables`` (re-exported here for the writers)

from neuro_igc.data._tables import read_ctab, write_ctab  # noqa: E402


# ---------------------------------------------------------------------------------------------
# surface .mgh / .mgz


def write_mgh(data: np.ndarray, path: str | Path) -> Path:
    """Write surface data as an NSD/FreeSurfer surface file (V, 1, 1[, n_maps]).

    Parameters
    ----------
    data : (n_vertices,) or (n_maps, n_vertices) array
        One value per vertex, or one row per map/frame/trial (the layout of
        :func:`neuro_igc.surface.write_mgz`, which calls this). A single map is written
        (V, 1, 1), as FreeSurfer and NSD do for labels and maps.
    path : path
        ``.mgh`` is written uncompressed (big-endian float32 / int32 as FreeSurfer does);
        ``.mgz`` is gzip-compressed. Float data is cast to float32 (MGH has no float64), other
        integers to int32 (uint8 kept).
    """
    import nibabel as nib

    if isinstance(data, (str, Path)) and not isinstance(path, (str, Path)):
        raise TypeError("write_mgh(data, path): the data come first, then the path.")
    data = np.asarray(data)
    if data.ndim not in (1, 2):
        raise ValueError(f"Invalid shape for 'data': expected (n_vertices,) or (n_maps, n_vertices); got {data.shape}.")
    frames = data.reshape(-1, data.shape[-1])  # (n_maps, V)
    if np.issubdtype(frames.dtype, np.floating):
        frames = frames.astype(np.float32)
    elif frames.dtype != np.uint8:
        frames = frames.astype(np.int32)
    vol = frames.T.reshape(frames.shape[1], 1, 1, frames.shape[0])
    if data.ndim == 1 or frames.shape[0] == 1:
        vol = vol[..., 0]
    img = nib.MGHImage(vol, np.eye(4))
    with atomic_path(path) as tmp:
        nib.save(img, tmp)
    return Path(path)


def read_mgh(path: str | Path):
    """Open a surface file; return its nibabel image (data proxied, nothing loaded yet: read rows
    with ``_readers.read_surface_rows``, which names the file when a truncated one fails)."""
    img = load_image(path, "surface file")
    if len(img.shape) not in (3, 4) or img.shape[1:3] != (1, 1):
        raise ValueError(
            f"Wrong shape in {path}: NSD surface files are (n_vertices, 1, 1[, n_frames]); got {img.shape}."
        )
    return img


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
