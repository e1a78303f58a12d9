"""Benchmark: reading NSD volume betas from HDF5 with NSD's chunking, three ways.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_hdf5.py [--shape 81 104 83] [--trials 750]
                                                         [--fraction 0.35] [--repeats 3]
                                                         [--compression none|gzip] [--dir DIR]

The file: dataset ``betas``, int16, h5py shape (T, Z, Y, X) with NSD's chunks (T, 1, 1, 1) (one
chunk per voxel holding every trial), written with ``neuro_igc.data._io.write_volume_hdf5``. The
selection: an ellipsoid brain mask holding ``fraction`` of the voxels (subj01's func1pt8mm
brain mask holds about a third of its 81 x 104 x 83 grid).

Timed, each on a freshly opened file with h5py's default chunk cache:

- ``plain``: one plain read of the whole dataset (``d[...]``), then the brain voxels taken in
  memory: the reference (the fastest a reader can be, at the cost of the full volume in memory);
- ``voxels``: ``neuro_igc.data._readers.read_hdf5_voxels`` (slabs of z-planes cut to the
  selection's bounding box; every chunk read once; memory = selection + one slab);
- ``trial-blocks``: the package's previous reader, blocks of 50 trials over the whole volume
  (every chunk touched T/50 times).

Reported: the minimum wall time over ``repeats`` (the machine may be shared) and the ratios
``voxels / plain`` (target <= 1.5) and ``trial-blocks / voxels`` (the speed-up). The file stays
in the OS page cache between runs (warm reads: the comparison is of the reading pattern, not the
disk).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from neuro_igc.data._io import write_volume_hdf5
from neuro_igc.data._readers import read_hdf5_voxels


def ellipsoid(shape, fraction):
    grid = np.indices(shape).astype(np.float64)
    c = (np.asarray(shape, dtype=np.float64)[:, None, None, None] - 1) / 2
    r = ((grid - c) / (np.asarray(shape)[:, None, None, None] / 2)) ** 2
    radius = (fraction * 6 / np.pi) ** (2 / 3)  # ellipsoid volume = pi/6 * prod(axes)
    return r.sum(0) <= radius


def plain(path, ijk):
    with h5py.File(path, "r") as f:
        full = f["betas"][...]
    i, j, k = ijk.T
    return full[:, k, j, i]


def voxels(path, ijk):
    with h5py.File(path, "r") as f:
        return read_hdf5_voxels(f["betas"], ijk)


def trial_blocks(path, ijk, block=50):
    with h5py.File(path, "r") as f:
        d = f["betas"]
        out = np.empty((d.shape[0], len(ijk)), dtype=d.dtype)
        i, j, k = ijk.T
        for t0 in range(0, d.shape[0], block):
            blk = d[t0:t0 + block]
            out[t0:t0 + blk.shape[0]] = blk[:, k, j, i]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", type=int, nargs=3, default=(81, 104, 83), help="X Y Z (default: subj01 func1pt8mm)")
    p.add_argument("--trials", type=int, default=750)
    p.add_argument("--fraction", type=float, default=0.35, help="share of voxels in the brain mask")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--compression", choices=("none", "gzip"), default="none")
    p.add_argument("--dir", default=None, help="folder for the temporary file (default: system temp)")
    args = p.parse_args(argv)

    shape = tuple(args.shape)
    mask = ellipsoid(shape, args.fraction)
    ijk = np.argwhere(mask)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "betas_session01.hdf5"
        rng = np.random.default_rng(0)
        t = time.perf_counter()
        data = rng.integers(-3000, 3000, size=shape + (args.trials,), dtype=np.int16)
        if args.compression == "none":
            write_volume_hdf5(path, data)
        else:
            with h5py.File(path, "w") as f:
                arr = np.ascontiguousarray(data.transpose(3, 2, 1, 0))
                f.create_dataset("betas", data=arr, chunks=(arr.shape[0], 1, 1, 1), compression="gzip")
        del data
        with h5py.File(path, "r") as f:
            print(f"file: {path.stat().st_size / 2**20:.0f} MiB, shape {f['betas'].shape}, chunks {f['betas'].chunks}, "
                  f"compression {f['betas'].compression}; written in {time.perf_counter() - t:.1f} s")
        print(f"selection: {len(ijk)} of {mask.size} voxels ({len(ijk) / mask.size:.0%})")
        ref = plain(path, ijk)
        times = {}
        for name, fn in (("plain", plain), ("voxels", voxels), ("trial-blocks", trial_blocks)):
            best = np.inf
            for _ in range(args.repeats):
                t = time.perf_counter()
                got = fn(path, ijk)
                best = min(best, time.perf_counter() - t)
            if not np.array_equal(got, ref):
                raise SystemExit(f"{name} reader disagrees with the plain read")
            times[name] = best
            print(f"{name:>13}: {best:8.3f} s")
    print(f"voxels / plain       = {times['voxels'] / times['plain']:.2f}  (target <= 1.5)")
    print(f"trial-blocks / voxels = {times['trial-blocks'] / times['voxels']:.1f}x  (speed-up over the previous reader)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
