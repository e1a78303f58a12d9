"""Benchmark: batched pRF fits (neuro_igc.prf.fit_prf) against a per-map scipy curve_fit loop.

Usage::

    .venv/bin/python benchmarks/bench_prf.py [--n-maps 40000] [--size 32] [--subset 400]
                                             [--repeats 3] [--threads 0] [--noise 0.05]

Maps: ``n_maps`` isotropic 2-D Gaussians (random centre within +-3 deg, sigma 0.3-1.5 deg,
amplitude 0.5-2, offset +-0.1) plus white noise, float32, ``size x size`` pixels spanning 8.4 deg.

- fit_prf: all ``n_maps`` maps, ``sign="signed"`` (the maps are fitted as they are), default
  tolerances; timed ``repeats`` times.
- scipy: ``scipy.optimize.curve_fit`` (Levenberg-Marquardt, MINPACK) on a ``subset`` of the maps,
  one map at a time, with the analytic Jacobian (its fastest form) and also without it (numerical
  differences, the default), each started from the same starting point as fit_prf (its grid
  search, not timed for scipy); the per-map time is scaled to ``n_maps``.

Reported: wall-clock and process CPU time (the machine may be shared: CPU time of a single thread
is the steadier measure; the minimum over repeats is used), the speed ratio, and the largest
parameter differences (degrees) between the two on the subset. Target: >= 50x at the same
parameters (within 0.01 deg).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy.optimize import curve_fit

from neuro_igc.prf import fit_prf, gaussian_maps
from neuro_igc.prf._fit import _init_grid
from neuro_igc.prf._model import deg_per_pixel, pixels_to_degrees

EXTENT = 8.4


def make_maps(n, size, noise, seed=0):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-3, 3, n), rng.uniform(-3, 3, n)
    s, a, b = rng.uniform(0.3, 1.5, n), rng.uniform(0.5, 2.0, n), rng.uniform(-0.1, 0.1, n)
    maps = gaussian_maps(x, y, s, a, b, shape=(size, size), extent_deg=EXTENT)
    return (maps + noise * rng.standard_normal(maps.shape)).astype(np.float32)


def scipy_loop(maps, p0_deg, jac: bool):
    """curve_fit per map in degrees; returns (params (n, 5), wall seconds, cpu seconds)."""
    size = maps.shape[1]
    xs, ys = pixels_to_degrees(np.arange(size), np.arange(size), (size, size), EXTENT)
    xx, yy = np.meshgrid(xs, ys)
    xx, yy = xx.ravel(), yy.ravel()

    def model(_, x0, y0, s, a, b):
        return b + a * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * s * s))

    def jacobian(_, x0, y0, s, a, b):
        dx, dy = xx - x0, yy - y0
        g = np.exp(-(dx * dx + dy * dy) / (2 * s * s))
        return np.column_stack([a * g * dx / s**2, a * g * dy / s**2, a * g * (dx * dx + dy * dy) / s**3, g, np.ones_like(g)])

    out = np.empty((len(maps), 5))
    w0, c0 = time.perf_counter(), time.process_time()
    for i, m in enumerate(maps):
        out[i], _ = curve_fit(model, None, m.ravel().astype(np.float64), p0=p0_deg[i], jac=jacobian if jac else None, maxfev=10000)
    return out, time.perf_counter() - w0, time.process_time() - c0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-maps", type=int, default=40000)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--subset", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads for fit_prf (0: torch's default)")
    ap.add_argument("--noise", type=float, default=0.05)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    maps = make_maps(args.n_maps, args.size, args.noise)
    print(f"{args.n_maps} maps of {args.size}x{args.size} (float32), torch threads: {torch.get_num_threads()}")

    walls, cpus = [], []
    for _ in range(args.repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        params = fit_prf(maps, EXTENT, sign="signed", progress=False)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    print(f"fit_prf: wall {min(walls):.2f} s (runs {', '.join(f'{w:.2f}' for w in walls)}), "
          f"cpu {min(cpus):.2f} s; converged {params['converged'].mean():.4f}, mean iterations {params['n_iter'].mean():.2f}")

    # scipy from the same starting point (fit_prf's grid search), converted to degrees
    sub = np.random.default_rng(1).choice(args.n_maps, args.subset, replace=False)
    coords = torch.arange(args.size, dtype=torch.float32)
    p0 = _init_grid(torch.from_numpy(maps[sub]), coords, coords, positive=False).double().numpy()
    x0, y0 = pixels_to_degrees(p0[:, 0], p0[:, 1], (args.size, args.size), EXTENT)
    p0_deg = np.column_stack([x0, y0, p0[:, 2] * deg_per_pixel((args.size, args.size), EXTENT), p0[:, 3], p0[:, 4]])
    ours = params.iloc[sub][["x", "y", "sigma", "amplitude", "offset"]].to_numpy()
    results = {}
    for jac in (True, False):
        runs = [scipy_loop(maps[sub], p0_deg, jac) for _ in range(max(1, args.repeats - 1))]
        ref = runs[0][0]
        wall = min(r[1] for r in runs) / args.subset * args.n_maps
        cpu = min(r[2] for r in runs) / args.subset * args.n_maps
        diff = np.abs(ours[:, :3] - ref[:, :3])
        label = "analytic Jacobian" if jac else "numerical Jacobian"
        results[label] = (wall, cpu)
        print(f"scipy curve_fit ({label}), {args.subset} maps scaled to {args.n_maps}: wall {wall:.1f} s, cpu {cpu:.1f} s")
        print(f"  ratio: wall {wall / min(walls):.1f}x, cpu {cpu / min(cpus):.1f}x; "
              f"max |diff| x {diff[:, 0].max():.2e}, y {diff[:, 1].max():.2e}, sigma {diff[:, 2].max():.2e} deg; "
              f"within 0.01 deg: {np.mean((diff < 0.01).all(1)):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
