"""``neuro-igc demo --toy [OUTPUT_DIR]``: a small in-memory IGC example, in a few seconds.

Synthetic data in which a known subset of the input components carries the target: a small
Mish MLP is trained on it, IGC is computed on held-out samples, and a summary is printed (top
components, correlation, IG/IGC errors, ROI sums); the result is saved under OUTPUT_DIR.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

__all__ = ["main"]

N_COMPONENTS = 40
SIGNAL = (3, 11, 17, 25, 33)  # the components that carry the target


def _data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(n, N_COMPONENTS))
    s = x[:, list(SIGNAL)]
    y = np.tanh(s[:, 0]) + 0.8 * s[:, 1] - 0.6 * s[:, 2] + 0.5 * s[:, 3] * np.abs(s[:, 3]) ** 0.5 + 0.4 * s[:, 4]
    return x, y + 0.5 * rng.normal(size=n)


def _train(x, y, seed: int, epochs: int = 30):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(N_COMPONENTS, 32), nn.Mish(), nn.Linear(32, 16), nn.Mish(), nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)[:, None]
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(xt), generator=gen).split(200):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    """Run the demonstration; return 0 on success."""
    parser = argparse.ArgumentParser(prog="neuro-igc demo --toy", description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", nargs="?", default="demo_output", help="where the result is written")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    args = parser.parse_args(argv)

    from neuro_igc._utils import atomic_path
    from neuro_igc.attribution import igc

    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: thread hand-offs cost more than they give
    try:
        return _run(args, igc, atomic_path)
    finally:
        torch.set_num_threads(threads)


def _run(args, igc, atomic_path) -> int:
    t0 = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    x_train, y_train = _data(4000, rng)
    x_val, y_val = _data(1000, rng)
    print(f"Synthetic data: {N_COMPONENTS} input components; the target depends on components {list(SIGNAL)} only.")
    model = _train(x_train, y_train, args.seed)
    print(f"Trained a Mish MLP {N_COMPONENTS}-32-16-1 on 4000 samples ({time.perf_counter() - t0:.1f} s).")

    res = igc(model, x_val.astype(np.float32), y_val, baselines=8, n_steps="auto", seed=args.seed,
              progress=not args.no_progress)
    att = res.attributions[0]
    print("\nIGC on 1000 held-out samples "
          f"({res.settings['n_baselines']} baselines, {res.settings['n_steps']} {res.settings['method']} steps "
          f"chosen by n_steps='auto'):")
    print(f"  correlation corr(f(x), y)   {res.correlation[0]: .4f}")
    print(f"  sum of IGC attributions     {att.sum(): .4f}")
    print(f"  IGC error |sum - corr|      {res.igc_error[0]: .2e}   (advice: < 0.01)")
    print(f"    of which baseline term    {res.baseline_term[0]: .2e}   (random, shrinks with samples x baselines)")
    print(f"  IG error (mean abs. gap)    {res.ig_error[0]: .2e}   (relative {res.ig_error_relative[0]:.2e})")
    print("\n  top components   IGC     planted")
    for j in np.argsort(-np.abs(att))[:8]:
        print(f"  {j:>14d}  {att[j]: .4f}   {'yes' if j in SIGNAL else ''}")
    labels = np.where(np.isin(np.arange(N_COMPONENTS), SIGNAL), 1, 0)
    table = res.roi_sum(labels, names={0: "other components", 1: "planted components"})
    print("\n  ROI sums (IGC adds up over any set of components):")
    for _, row in table.iterrows():
        print(f"  {row['name']:>20s}  {row['attribution']: .4f}  ({row['n_components']} components)")

    out = Path(args.output_dir)
    path = res.save(out / "igc_demo.npz")
    with atomic_path(out / "igc_demo_roi.csv") as tmp:
        table.to_csv(tmp, index=False)
    print(f"\nSaved the result to {path} (load it with AttributionResult.load) and the ROI table to "
          f"{out / 'igc_demo_roi.csv'}. Total time {time.perf_counter() - t0:.1f} s.")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
