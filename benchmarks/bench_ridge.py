"""Benchmark: neuro_igc.models.Ridge against himalaya's RidgeCV / KernelRidgeCV, side by side.

Usage (himalaya is not a dependency of the package: ``.venv/bin/pip install himalaya`` first)::

    .venv/bin/python benchmarks/bench_ridge.py [--shapes wide many] [--threads 1] [--repeats 1]
                                               [--backend numpy] [--n-test 500]

Shapes (the voxelwise-modelling regimes the package meets):

- ``wide``: 3,000 samples x 20,000 features -> 5 targets (``decoding_ridge`` at full density:
  trials x vertices -> image statistics); ours takes the dual (kernel) form, himalaya's
  ``KernelRidgeCV`` (linear kernel, eigendecomposition solver).
- ``many``: 3,000 samples x 500 features -> 20,000 targets (an encoding model: image features
  -> vertices); ours takes the primal form, himalaya's ``RidgeCV`` (SVD solver).
- ``--shape N D T`` adds any other shape (``mid``-style checks, e.g. ``3000 4000 5``).

Data: X standard normal; Y = X W + noise with a different signal-to-noise ratio per target (so
that the chosen alphas differ between targets), float64. Both libraries get the same alpha grid
(``neuro_igc.models.DEFAULT_ALPHAS``: 17 values, 1e-2 .. 1e6), the same 5 contiguous folds
(``KFold(5)`` without shuffling), per-target alphas, an intercept, float64 arrays and the same
number of threads (torch and BLAS via threadpoolctl).

Reported per shape: wall-clock and process CPU time of ``fit`` (minimum over ``repeats``), the
ratio ours / himalaya (<= 1: ours is at most himalaya's time), the fraction of targets given the
same alpha, and the smallest correlation, over targets, between the two models' predictions on
``n_test`` held-out samples (target: > 0.999). Times on a shared machine vary: compare the two
columns of one run, not runs with each other.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from neuro_igc.models import DEFAULT_ALPHAS, Ridge

SHAPES = {"wide": (3000, 20000, 5), "many": (3000, 500, 20000)}


def make_data(n, d, t, n_test, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n + n_test, d))
    k = min(d, 200)  # each target reads a random subset of features
    W = np.zeros((d, t))
    for j in range(t):
        W[rng.choice(d, k, replace=False), j] = rng.standard_normal(k) / np.sqrt(k)
    snr = np.logspace(-1.5, 1, t)  # weak to strong signal: different alphas per target
    Y = (X @ W) * snr + rng.standard_normal((n + n_test, t)) + 2.0
    return X[:n], Y[:n], X[n:], Y[n:]


def timed(fn, repeats):
    best_wall, best_cpu, out = np.inf, np.inf, None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        best_wall, best_cpu = min(best_wall, time.perf_counter() - w), min(best_cpu, time.process_time() - c)
    return out, best_wall, best_cpu


def run_shape(name, n, d, t, args):
    Xtr, Ytr, Xte, Yte = make_data(n, d, t, args.n_test)
    alphas = np.asarray(DEFAULT_ALPHAS)

    def ours():
        return Ridge(alphas=alphas, cv=5).fit(Xtr, Ytr)

    def himalaya():
        if d > n:
            from himalaya.kernel_ridge import KernelRidgeCV

            model = KernelRidgeCV(alphas=alphas, kernel="linear", cv=5, fit_intercept=True)
        else:
            from himalaya.ridge import RidgeCV

            model = RidgeCV(alphas=alphas, cv=5, fit_intercept=True)
        return model.fit(Xtr, Ytr)

    m_ours, w_ours, c_ours = timed(ours, args.repeats)
    m_him, w_him, c_him = timed(himalaya, args.repeats)
    with torch.no_grad():
        p_ours = m_ours(torch.as_tensor(Xte)).numpy()
    p_him = np.asarray(m_him.predict(Xte))
    a, b = p_ours - p_ours.mean(0), p_him - p_him.mean(0)
    corr = (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))
    same_alpha = float(np.mean(np.isclose(m_ours.alpha_.numpy(), np.asarray(m_him.best_alphas_), rtol=1e-6)))
    return {"shape": f"{name}: {n} x {d} -> {t}", "solver": m_ours.solver_,
            "ours_wall_s": w_ours, "himalaya_wall_s": w_him, "ratio_wall": w_ours / w_him,
            "ours_cpu_s": c_ours, "himalaya_cpu_s": c_him, "ratio_cpu": c_ours / c_him,
            "same_alpha": same_alpha, "min_pred_corr": float(corr.min())}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shapes", nargs="*", default=list(SHAPES), choices=list(SHAPES))
    p.add_argument("--shape", nargs=3, type=int, action="append", default=[], metavar=("N", "D", "T"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--backend", default="numpy", help="himalaya backend (numpy, torch)")
    p.add_argument("--n-test", type=int, default=500)
    args = p.parse_args(argv)
    from himalaya.backend import set_backend

    set_backend(args.backend, on_error="raise")
    torch.set_num_threads(args.threads)
    shapes = [(s, *SHAPES[s]) for s in args.shapes] + [("custom", *s) for s in args.shape]
    rows = []
    with threadpool_limits(args.threads):
        for name, n, d, t in shapes:
            row = run_shape(name, n, d, t, args)
            rows.append(row)
            print(" | ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    print(f"\n(threads={args.threads}, himalaya backend={args.backend}, repeats={args.repeats})")
    print("| shape | our solver | ours (s) | himalaya (s) | ours / himalaya | CPU ours / himalaya | same alpha | min corr of predictions |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['shape']} | {r['solver']} | {r['ours_wall_s']:.1f} | {r['himalaya_wall_s']:.1f} | "
              f"{r['ratio_wall']:.2f} | {r['ratio_cpu']:.2f} | {r['same_alpha']:.1%} | {r['min_pred_corr']:.7f} |")


if __name__ == "__main__":
    main()
