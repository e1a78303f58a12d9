"""Benchmark: peak memory of loading full-density fsaverage betas with an ROI selection.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_fullres_memory.py [--sessions 4] [--trials 750]
                                                                   [--roi nsdgeneral] [--dir DIR]

Builds an NSD folder for one subject in the real layout (``make_nsd_like`` with a few trials,
for the design, labels and transforms), then overwrites its fsaverage betas with files of NSD's
real size: ``{lh,rh}.betas_sessionNN.mgh``, (163842, 1, 1, trials) big-endian float32 (491 MB
per file at 750 trials), random values with NaN for every trial outside the subject's coverage.
Then, in a fresh process, ``NSD(root).betas(1, sessions=1..N, roi="nsdgeneral")`` and reports:

- the peak of Python allocations (``tracemalloc``; numpy's arrays are traced) and the process's
  peak resident set (``VmHWM`` of ``/proc/self/status``; ``ru_maxrss`` elsewhere), with the
  peak before the load (the interpreter and the libraries ``neuro_igc.data`` imports);
- the size of the result and of what a whole-hemisphere read would need
  (2 x 163842 x trials x sessions x 4 bytes);
- wall time (the machine may be shared: disk and CPU contention change it, not the memory).

Target: the peak follows the selection (result + one read block), not the hemispheres.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = r"""
import json, resource, sys, time, tracemalloc
import numpy as np
from neuro_igc.data import NSD

def hwm_kib():
    # peak resident set of this process image (VmHWM; ru_maxrss would include the parent's at fork)
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

root, n_ses, roi = sys.argv[1], int(sys.argv[2]), sys.argv[3]
nsd = NSD(root, progress=False)
before = hwm_kib()
tracemalloc.start()
t = time.perf_counter()
b = nsd.betas(1, sessions=list(range(1, n_ses + 1)), roi=roi)
wall = time.perf_counter() - t
_, peak = tracemalloc.get_traced_memory()
print(json.dumps({"peak_traced": peak, "maxrss_kib": hwm_kib(), "before_kib": before,
                  "wall": wall, "shape": list(b.data.shape), "result_bytes": int(b.data.nbytes),
                  "nan_dropped": int(b.info.get("nan_dropped", 0))}))
"""


def write_betas(root: Path, sessions: int, trials: int, seed: int = 0) -> None:
    import nibabel as nib

    from neuro_igc.data import _layout as L
    from neuro_igc.data._io import write_mgh

    rng = np.random.default_rng(seed)
    version = L.BETA_VERSIONS[0]
    for h in ("lh", "rh"):
        # keep the folder's own coverage: vertices NaN in its small betas stay NaN
        small = np.asarray(nib.load(str(root / L.surface_betas_path(1, h, 1, version))).dataobj)[:, 0, 0, 0]
        outside = np.isnan(small)
        for ses in range(1, sessions + 1):
            data = rng.standard_normal((trials, small.size), dtype=np.float32)
            data[:, outside] = np.nan
            write_mgh(data, root / L.surface_betas_path(1, h, ses, version))
            del data


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=4)
    p.add_argument("--trials", type=int, default=750)
    p.add_argument("--roi", default="nsdgeneral")
    p.add_argument("--dir", default=None, help="folder for the temporary NSD folder (needs ~4 GB at 4 x 750)")
    args = p.parse_args(argv)

    from neuro_igc.data import make_nsd_like

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp) / "nsd"
        t = time.perf_counter()
        make_nsd_like(root, subjects=[1], sessions=args.sessions, trials=2, image_size=16, density="fsaverage",
                      volume_spaces=(), progress=False)
        write_betas(root, args.sessions, args.trials)
        print(f"folder written in {time.perf_counter() - t:.0f} s: 1 subject, {args.sessions} sessions x "
              f"{args.trials} trials, 163842 vertices per hemisphere")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                           os.environ.get("PYTHONPATH", "")]))
        out = subprocess.run([sys.executable, "-c", CHILD, str(root), str(args.sessions), args.roi],
                             check=True, capture_output=True, text=True, env=env)
        res = json.loads(out.stdout.strip().splitlines()[-1])
    whole = 2 * 163842 * args.trials * args.sessions * 4
    mib = 2**20
    print(f"selection '{args.roi}': betas {tuple(res['shape'])} float32 = {res['result_bytes'] / mib:.0f} MiB "
          f"({res['nan_dropped']} NaN vertices dropped)")
    print(f"peak traced allocations: {res['peak_traced'] / mib:.0f} MiB  (whole hemispheres: {whole / mib:.0f} MiB)")
    print(f"peak resident set (VmHWM): {res['maxrss_kib'] / 1024:.0f} MiB, of which "
          f"{res['before_kib'] / 1024:.0f} MiB before the load (interpreter, numpy, torch, nibabel, h5py)")
    print(f"load time: {res['wall']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
