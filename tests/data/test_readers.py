"""Selective readers: exact against plain reads, and reads that follow NSD's chunking."""

from __future__ import annotations

import h5py
import nibabel as nib
import numpy as np
import pytest

from neuro_igc.data._io import write_mgh, write_volume_hdf5
from neuro_igc.data._readers import read_hdf5_columns, read_hdf5_voxels, read_surface_rows


class Recorder:
    """An h5py dataset stand-in that records every selection and counts the chunks it touches."""

    def __init__(self, dset):
        self.dset = dset
        self.shape, self.dtype, self.chunks = dset.shape, dset.dtype, dset.chunks
        self.touches = {}

    def __getitem__(self, sel):
        sel = sel if isinstance(sel, tuple) else (sel,)
        ranges = []
        for axis, (s, n, c) in enumerate(zip(sel + (slice(None),) * (len(self.shape) - len(sel)), self.shape, self.chunks)):
            start, stop, _ = s.indices(n) if isinstance(s, slice) else (int(s), int(s) + 1, 1)
            ranges.append(range(start // c, (stop - 1) // c + 1))
        for idx in np.ndindex(*[len(r) for r in ranges]):
            key = tuple(r[i] for r, i in zip(ranges, idx))
            self.touches[key] = self.touches.get(key, 0) + 1
        return self.dset[sel]


def old_reader(d, ijk, block=50):
    """The reader the package had before: blocks of trials for the whole volume."""
    out = np.empty((d.shape[0], len(ijk)), dtype=d.dtype)
    i, j, k = ijk.T
    for t0 in range(0, d.shape[0], block):
        blk = d[t0:t0 + block]
        out[t0:t0 + blk.shape[0]] = blk[:, k, j, i]
    return out


@pytest.fixture(scope="module")
def volume_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    data = rng.integers(-3000, 3000, size=(9, 7, 6, 120)).astype(np.int16)  # X, Y, Z, T
    path = write_volume_hdf5(tmp_path_factory.mktemp("h5") / "betas_session01.hdf5", data)
    return path, data


def test_volume_hdf5_has_nsd_chunking_and_voxel_reads_are_exact(volume_file):
    path, data = volume_file
    rng = np.random.default_rng(1)
    with h5py.File(path, "r") as f:
        d = f["betas"]
        assert d.shape == (120, 6, 7, 9) and d.chunks == (120, 1, 1, 1)  # one chunk per voxel, every trial
        for n in (1, 17, 9 * 7 * 6):
            flat = np.sort(rng.choice(9 * 7 * 6, n, replace=False))
            ijk = np.column_stack(np.unravel_index(flat, (9, 7, 6)))
            rng.shuffle(ijk)
            for block_bytes in (1, 120 * 2 * 9 * 7, 2**26):
                got = read_hdf5_voxels(d, ijk, block_bytes=block_bytes)
                np.testing.assert_array_equal(got, data[tuple(ijk.T)].T)


def test_voxel_reads_touch_each_chunk_once(volume_file):
    path, data = volume_file
    ijk = np.argwhere(np.ones((9, 7, 6), bool))
    with h5py.File(path, "r") as f:
        new = Recorder(f["betas"])
        read_hdf5_voxels(new, ijk, block_bytes=120 * 2 * 9 * 7 * 2)  # two z-planes per slab
        assert len(new.touches) == 9 * 7 * 6 and set(new.touches.values()) == {1}
        old = Recorder(f["betas"])
        np.testing.assert_array_equal(old_reader(old, ijk), read_hdf5_voxels(f["betas"], ijk))
        assert set(old.touches.values()) == {3}  # 120 trials in blocks of 50: every chunk 3 times
        # a small ROI: only its slabs' chunks are read
        roi = np.array([[1, 1, 1], [2, 3, 1], [4, 4, 4]])
        small = Recorder(f["betas"])
        read_hdf5_voxels(small, roi)
        assert max(small.touches.values()) == 1 and len(small.touches) <= 2 * 4 * 4


def test_native_hdf5_columns(tmp_path):
    rng = np.random.default_rng(2)
    data = rng.integers(-100, 100, size=(30, 500)).astype(np.int16)
    with h5py.File(tmp_path / "n.hdf5", "w") as f:
        f.create_dataset("betas", data=data, chunks=(30, 1))
    with h5py.File(tmp_path / "n.hdf5", "r") as f:
        cols = rng.choice(500, 80, replace=False)
        for block_bytes in (1, 30 * 2 * 64, 2**26):
            np.testing.assert_array_equal(read_hdf5_columns(f["betas"], cols, block_bytes=block_bytes), data[:, cols])
        rec = Recorder(f["betas"])
        read_hdf5_columns(rec, np.arange(0, 500, 3), block_bytes=30 * 2 * 64)
        assert max(rec.touches.values()) == 1


def test_surface_rows_exact_for_mgh_and_mgz(tmp_path):
    rng = np.random.default_rng(3)
    data = rng.normal(size=(40, 2562)).astype(np.float32)  # (T, V)
    for ext in (".mgh", ".mgz"):
        path = write_mgh(data, tmp_path / f"lh.betas{ext}")
        img = nib.load(str(path))
        rows = np.sort(rng.choice(2562, 300, replace=False))
        for block_bytes in (1, 2562 * 4 * 7, 2**26):
            np.testing.assert_array_equal(read_surface_rows(img, rows, block_bytes=block_bytes), data[:, rows])
    single = write_mgh(data[0], tmp_path / "lh.map.mgz")
    np.testing.assert_array_equal(read_surface_rows(nib.load(str(single)), [5, 1])[0], data[0, [5, 1]])
