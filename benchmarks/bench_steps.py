"""The guided walk before and after, side by side, and the step study's time per path.

Run (CPU; about 4 minutes at the defaults, ``--quick`` about one)::

    .venv/bin/python benchmarks/bench_steps.py
    .venv/bin/python benchmarks/bench_steps.py --quick                 # Exp. A only, 64 steps
    .venv/bin/python benchmarks/bench_steps.py --study A B C           # the whole default study too

Part 1 times ``ig(..., path="guided")`` through an experiment's statistic (the step study's call:
32 images, 2 baselines, Gauss-Legendre cells) in three configurations, in one process, alternating
(``--repeats`` rounds, the median kept):

* ``before``: the previous walk (kept below as :func:`reference_walk`: a sorting
  ``torch.quantile`` at every sub-step, every step's gradient stacked for IDGI) with the previous
  batching (samples per batch sized as if all ``n_steps`` points of a path went through one
  forward pass: ``512 // (baselines * n_steps)`` samples at 64 x 64 px, reproduced with
  ``batch_size``);
* ``walk``: the current walk (``torch.kthvalue`` picks the same 'lower' quantile element without
  sorting; IDGI's sum taken step by step) with the previous batching;
* ``after``: the current walk and batching (a guided path is walked one step at a time, so a
  forward pass holds one point per path and all 64 paths walk together).

Every configuration's attributions are compared with ``before`` (largest absolute difference
relative to the largest attribution): the walk is the same algorithm, so they agree to the
rounding of the statistics' float32 arithmetic.

Part 2 runs :func:`neuro_igc.benchmark.run_step_study` on ``--study`` experiments at the default
size and prints the seconds spent per path and rule (the table's ``seconds``, one IG run per
number of steps) and the whole wall time (which adds the experiments' set-up and ground truths).

Timings on a shared machine vary; the ratios are taken within each round.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

from neuro_igc.attribution import GuidedPath, ig
from neuro_igc.attribution._rules import idgi_sum
from neuro_igc.benchmark import STEP_STUDY_DEFAULTS, make_experiment, run_step_study
from neuro_igc.benchmark._run import _SEED_OFFSET


def reference_walk(self, grad_fn: Callable, x: torch.Tensor, start: torch.Tensor, bounds: np.ndarray, rule: str,
                   value_fn: Callable | None = None) -> torch.Tensor:
    """The guided walk as it was before this benchmark's change (for timing and comparison only)."""
    xin = x.reshape(x.shape[0], -1)
    base = start.reshape(start.shape[0], -1)
    total = xin - base
    l1_total = total.abs().sum(1)
    pt = base.clone()
    attr = torch.zeros_like(xin)
    moving = total != 0
    safe_total = torch.where(moving, total, torch.ones_like(total))
    nan_alpha = torch.full_like(xin, float("nan"))
    S = len(bounds) - 1
    f_prev = None
    steps = []
    for s in range(S):
        f_now, grad = grad_fn(pt)
        if rule == "idgi":
            if f_prev is not None:
                steps[-1][1] = f_now - f_prev
            f_prev = f_now
        a = float(bounds[s + 1])
        a_min, a_max = max(a - self.max_dist, 0.0), min(a + self.max_dist, 1.0)
        x_min, x_max = base + a_min * total, base + a_max * total
        l1_target = l1_total * (1 - a)
        pt_start = pt.clone()
        active = l1_total > 0
        while bool(active.any()):
            alpha = torch.where(moving, (pt - base) / safe_total, nan_alpha)
            alpha = torch.where(torch.isnan(alpha), torch.full_like(alpha, a_max), alpha)
            behind = (alpha < a_min) & active[:, None]
            pt = torch.where(behind, x_min, pt)
            l1_cur = (pt - xin).abs().sum(1)
            tol = 64 * torch.finfo(pt.dtype).eps
            close = (l1_target - l1_cur).abs() <= torch.clamp(tol * torch.maximum(l1_target.abs(), l1_cur.abs()),
                                                              min=tol)
            active = active & ~close
            if not bool(active.any()):
                break
            g = torch.where(pt == x_max, torch.full_like(grad, math.inf), grad.abs())
            thr = torch.quantile(g, self.fraction, dim=1, keepdim=True, interpolation="lower")
            sel = (g <= thr) & torch.isfinite(g) & active[:, None]
            l1_s = ((pt - x_max).abs() * sel).sum(1)
            gamma = torch.where(l1_s > 0, (l1_cur - l1_target) / torch.where(l1_s > 0, l1_s, torch.ones_like(l1_s)),
                                torch.full_like(l1_s, math.inf))
            full = (gamma > 1)[:, None]
            moved = torch.where(full, x_max, pt + gamma.clamp(max=1)[:, None] * (x_max - pt))
            pt = torch.where(sel, moved, pt)
            active = active & (gamma > 1) & (l1_s > 0)
        if rule == "idgi":
            steps.append([grad, None])
        else:
            attr += (pt - pt_start) * grad
    if rule == "idgi":
        f_end = value_fn(pt)
        steps[-1][1] = f_end - f_prev
        g = torch.stack([st[0] for st in steps], 1)
        df = torch.stack([st[1] for st in steps], 1)
        attr = idgi_sum(g, df)
    return attr.reshape(x.shape)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--exp", nargs="+", default=["A", "C"], help="experiments of part 1")
    p.add_argument("--steps", nargs="+", type=int, default=[128], help="numbers of steps of part 1")
    p.add_argument("--rules", nargs="+", default=["quadrature", "idgi"])
    p.add_argument("--n", type=int, default=STEP_STUDY_DEFAULTS["n_samples"], help="images")
    p.add_argument("--baselines", type=int, default=STEP_STUDY_DEFAULTS["baselines"])
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--study", nargs="*", default=["A"], help="experiments of part 2 (none: skip it)")
    p.add_argument("--quick", action="store_true", help="part 1 on Exp. A at 64 steps, quadrature; part 2 skipped")
    args = p.parse_args(argv)
    if args.quick:
        args.exp, args.steps, args.rules, args.study = ["A"], [64], ["quadrature"], []
    return args


def old_batch_size(n_steps: int, baselines: int, size: int) -> int:
    """``batch_size`` reproducing the previous samples per batch of a guided run."""
    chunk_points = max(1, 2**21 // (size * size))  # the engine's POINT_BUDGET over the input size
    return baselines * max(1, chunk_points // (baselines * n_steps))


def part1(args) -> None:
    print("part 1: ig(path='guided') through the statistic, seconds (median of rounds) and agreement")
    print(f"{'exp':>3} {'rule':>10} {'steps':>5} {'before':>8} {'walk':>8} {'after':>8} {'x walk':>7} "
          f"{'x after':>7} {'diff walk':>10} {'diff after':>10}")
    original = GuidedPath.walk
    for name in args.exp:
        exp = make_experiment(name, n_standardize=10_000).eval()
        data = exp.sample(args.n, seed=_SEED_OFFSET[name])
        for rule in args.rules:
            for n in args.steps:
                common = dict(baselines=args.baselines, n_steps=n, method="gauss-legendre", rule=rule, path="guided",
                              seed=0, progress=False, warn=False)
                small = old_batch_size(n, args.baselines, exp.size)
                configs = {"before": (reference_walk, small), "walk": (original, small), "after": (original, None)}
                times = {k: [] for k in configs}
                maps = {}
                for _ in range(args.repeats):
                    for key, (walk, bs) in configs.items():
                        GuidedPath.walk = walk
                        try:
                            t0 = time.perf_counter()
                            res = ig(exp, data.x, batch_size=bs, **common)
                            times[key].append(time.perf_counter() - t0)
                        finally:
                            GuidedPath.walk = original
                        maps[key] = np.asarray(res.attributions, dtype=np.float64)
                med = {k: statistics.median(v) for k, v in times.items()}
                scale = float(np.abs(maps["before"]).max()) or 1.0
                diff = {k: float(np.abs(maps[k] - maps["before"]).max()) / scale for k in ("walk", "after")}
                print(f"{name:>3} {rule:>10} {n:>5} {med['before']:8.2f} {med['walk']:8.2f} {med['after']:8.2f} "
                      f"{med['before'] / med['walk']:7.1f} {med['before'] / med['after']:7.1f} "
                      f"{diff['walk']:10.1e} {diff['after']:10.1e}", flush=True)


def part2(args) -> None:
    print(f"\npart 2: the step study at its default size on Exp. {', '.join(args.study)}")
    t0 = time.perf_counter()
    table = run_step_study(args.study)
    wall = time.perf_counter() - t0
    runs = table[table["kind"] == "IG"]  # one IG run gives both rows (IG and IGC)
    per = runs.groupby(["experiment", "path", "rule"], sort=False)["seconds"].sum()
    print(per.to_string(float_format=lambda v: f"{v:.1f}"))
    print(f"IG runs {runs['seconds'].sum():.1f} s; whole study (with set-up and ground truths) {wall:.1f} s")


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.n} images x {args.baselines} baselines")
    part1(args)
    if args.study:
        part2(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
