"""Cost of layer IGC and of the region share against the input IGC / one IG run, side by side.

Run (CPU, about a minute at the defaults)::

    .venv/bin/python benchmarks/bench_layers.py
    .venv/bin/python benchmarks/bench_layers.py --paper      # the paper's ConvNeXt (64 px, 4 stages of 3 blocks)

What is timed, in one process, alternating the calls (``--repeats`` rounds, the median kept), on
the zoo's :class:`EncodingConvNeXt` with its per-subject readout (found and used by every call):

* ``igc`` over the input against ``layer_igc`` over each stage (``stages.0`` .. ``stages.3``),
  at the same samples, baselines and steps; the layer maps' totals are checked equal to the input
  map's total (the quadrature conductance sums exactly to IG's total). Target: at most 2x.
* the region share (``layer_igc(..., region=mask)``: one forward-mode product per step for the
  region's direction) against the input IGC run it replaces (which gives only the region's sum,
  not the units' shares). Target: at most 1.5x.

Timings on a shared machine vary; the ratios are taken within each round.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from neuro_igc.attribution import igc, layer_igc
from neuro_igc.models import EncodingConvNeXt


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--paper", action="store_true", help="the paper's ConvNeXt: 64 px, widths 64-512, depth 3, hidden 256")
    p.add_argument("--n", type=int, default=16, help="samples")
    p.add_argument("--baselines", type=int, default=2)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--outputs", type=int, default=500, help="model outputs (vertices)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--layers", nargs="*", default=None, help="stages to time (default: all)")
    return p.parse_args(argv)


def model_of(args) -> EncodingConvNeXt:
    torch.manual_seed(0)
    if args.paper:
        return EncodingConvNeXt(args.outputs).eval()
    return EncodingConvNeXt(args.outputs, input_size=32, stem_width=16, widths=(32, 64, 128), depth=2,
                            hidden=128).eval()


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    model = model_of(args)
    size = model.input_size
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(args.n, 1, size, size)), dtype=torch.float32)
    with torch.no_grad():
        y = model(x) + torch.tensor(rng.normal(size=(args.n, args.outputs)), dtype=torch.float32)
    kw = dict(baselines=args.baselines, n_steps=args.steps, progress=False, warn=False)
    layers = args.layers or [f"stages.{i}" for i in range(len(model.stages))]
    region = np.zeros((1, size, size), bool)
    region[0, size // 4: size // 2, size // 4: size // 2] = True  # an image patch (an encoding "region")
    rows = {name: [] for name in ["input", *layers, "region"]}
    totals = {}
    for _ in range(args.repeats):
        t_in, res_in = timed(lambda: igc(model, x, y, **kw))
        rows["input"].append(t_in)
        totals["input"] = res_in.attributions.reshape(args.outputs, -1).sum(1)
        for name in layers:
            t, res = timed(lambda name=name: layer_igc(model, name, x, y, **kw))
            rows[name].append(t / t_in)
            totals[name] = res.attributions.reshape(args.outputs, -1).sum(1)
        t, res = timed(lambda: layer_igc(model, layers[-1], x, y, region=region, **kw))
        rows["region"].append(t / t_in)
        totals["region"] = res.attributions.reshape(args.outputs, -1).sum(1)
        totals["input-region"] = res_in.attributions[:, region].sum(1)
    print(f"EncodingConvNeXt {'paper' if args.paper else 'small'}: {size} px, {args.outputs} outputs, readout used; "
          f"n={args.n}, baselines={args.baselines}, n_steps={args.steps}, threads={args.threads}")
    print(f"{'call':<28}{'time (s) / ratio to input IGC':>32}{'max |total - input total|':>28}")
    print(f"{'igc (input)':<28}{np.median(rows['input']):>29.2f} s{'':>28}")
    for name in layers:
        err = np.abs(totals[name] - totals["input"]).max()
        print(f"{'layer_igc ' + name:<28}{np.median(rows[name]):>30.2f}x{err:>28.2e}")
    err = np.abs(totals["region"] - totals["input-region"]).max()
    print(f"{'layer_igc region (' + layers[-1] + ')':<28}{np.median(rows['region']):>30.2f}x{err:>28.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
