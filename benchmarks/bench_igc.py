"""IGC throughput: ours side by side with the paper authors' ``int_grad_corr``, and the engine's overhead.

Not run by CI. Two parts:

``compare``
    Plain custom modules with nothing declared (for ours), the paper's two NSD workloads at a
    CPU-friendly size:

    - decoding: 20,484 inputs (two fsaverage5 hemispheres) -> Linear 128 + BatchNorm + Mish ->
      64-32-16-8 (Linear + BatchNorm + Mish) -> Linear 2; 100 samples, 12 baselines;
    - encoding: a convolutional trunk on 64x64 images -> 128 units -> ``self.readout``
      Linear -> 200 outputs; 32 samples, 4 baselines.

    Ours at its defaults (16 Gauss-Legendre nodes, baselines drawn per sample, factorizations
    found); theirs (``igc.IntGradCorr``, installed from the authors' repository) at their
    published 64 trapezoid steps with the final linear layer declared by hand (their
    ``add_final_linear_layer`` + a ``features`` method). Both timed end to end. The maps are
    then compared with one explicit shared baseline set given to both (correlation of the maps;
    ours at its defaults, theirs at 64 steps). When ``int_grad_corr`` is not installed that
    part is skipped with a message.

``overhead``
    The engine against a bare loop of the same vector-Jacobian products (same points, same
    chunks, same number of backward passes, no accumulation beyond a sum), on a small conv
    encoder on CPU without factorizations: the ratio engine / bare loop.

Usage (record the command with the figures; the machine may be shared)::

    PYTHONPATH=$PWD python benchmarks/bench_igc.py [--part compare|overhead|all] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from neuro_igc.attribution import igc

N_VERTICES = 2 * 10242  # fsaverage5, both hemispheres


class DecodingNet(nn.Module):
    """The decoding MLP as a user would write it: a plain module, nothing declared."""

    def __init__(self, n_in=N_VERTICES, hidden=128, widths=(64, 32, 16, 8), n_out=2):
        super().__init__()
        self.inp = nn.Linear(n_in, hidden)
        self.norm = nn.BatchNorm1d(hidden)
        self.act = nn.Mish()
        layers, prev = [], hidden
        for w in widths:
            layers += [nn.Linear(prev, w), nn.BatchNorm1d(w), nn.Mish()]
            prev = w
        self.blocks = nn.Sequential(*layers)
        self.out = nn.Linear(prev, n_out)

    def features(self, x):  # used by int_grad_corr only (its final-linear-layer option)
        return self.blocks(self.act(self.norm(self.inp(x))))

    def forward(self, x):
        return self.out(self.features(x))


class EncodingNet(nn.Module):
    """A small conv encoder with a ``readout`` attribute, nothing declared."""

    def __init__(self, n_out=200, hidden=128):
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Conv2d(1, 16, 4, stride=4), nn.Mish(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.Mish(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.Mish(),
            nn.Flatten(), nn.Linear(64 * 4 * 4, hidden), nn.Mish(),
        )
        self.readout = nn.Linear(hidden, n_out)

    def features(self, x):  # used by int_grad_corr only
        return self.trunk(x)

    def forward(self, x):
        return self.readout(self.features(x))


def _trained_like(model: nn.Module, seed: int) -> nn.Module:
    """Non-zero biases and BatchNorm statistics, as after training."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (nn.Linear, nn.Conv2d)) and mod.bias is not None:
                mod.bias.copy_(0.1 * torch.randn(mod.bias.shape, generator=gen))
            if isinstance(mod, nn.BatchNorm1d):
                mod.running_mean.copy_(0.1 * torch.randn(mod.running_mean.shape, generator=gen))
                mod.running_var.copy_(1 + 0.2 * torch.rand(mod.running_var.shape, generator=gen))
    return model.eval()


def _data_decoding(n, seed=0):
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.normal(size=(n, N_VERTICES)), dtype=torch.float32)
    return x


def _data_encoding(n, seed=0):
    rng = np.random.default_rng(seed)
    img = torch.tensor(rng.normal(size=(n, 1, 64, 64)), dtype=torch.float32)
    img = torch.nn.functional.avg_pool2d(img, 5, 1, 2)
    return (img - img.mean()) / img.std()


def _targets(model, x, seed=1):
    with torch.no_grad():
        f = torch.cat([model(x[i:i + 64]) for i in range(0, x.shape[0], 64)])
    gen = torch.Generator().manual_seed(seed)
    return f + f.std(0, keepdim=True) * torch.randn(f.shape, generator=gen)


class _TheirDataset(torch.utils.data.TensorDataset):
    """A TensorDataset with the ``rng`` attribute int_grad_corr's datasets carry."""

    rng = None


def _theirs(model, x, y, baselines, n_steps=64, n_x=None):
    """IGC by the authors' package at its published settings; the final Linear declared.

    Baselines are drawn from all of ``x``; the first ``n_x`` samples are attributed.
    """
    from igc import IntGradCorr

    ds = _TheirDataset(x, y)
    attr = IntGradCorr(model, ds, forward_method_name="features")
    readout = model.out if isinstance(model, DecodingNet) else model.readout
    attr.add_final_linear_layer(readout)
    return attr.compute(x_0=baselines, n_steps=n_steps, x_0_seed=100, n_x=n_x)


def _draws(n, K, seed=0):
    """Each sample's K distinct baseline rows, drawn as the package documents it (seeded by (seed, i))."""
    return np.stack([np.random.default_rng([seed, i]).choice(n, size=K, replace=False) for i in range(n)])


def floor_decoding(model: DecodingNet, x: torch.Tensor, y: torch.Tensor, K: int, n_steps: int = 16,
                   chunk: int = 64) -> np.ndarray:
    """A minimal hand-written IGC of the decoding MLP: the floor the engine is measured against.

    One projection ``z = A x + c`` per data row; the small network on the ``n K S`` path points in
    the 128-d space, one forward per chunk and one backward per output; the quadrature sums; float64
    coefficients on the data rows (the sample with its weight, its baselines with minus it); ``A``
    applied once at the end. Same per-sample baseline draws as the package, so the maps agree.
    """
    nodes, weights = np.polynomial.legendre.leggauss(n_steps)
    t = torch.tensor((nodes + 1) / 2, dtype=x.dtype)
    w = torch.tensor(weights / 2, dtype=x.dtype)
    A, c = model.inp.weight.detach(), model.inp.bias.detach()
    rest = lambda z: model.out(model.blocks(model.act(model.norm(z))))  # noqa: E731
    n, n_out = x.shape[0], y.shape[1]
    with torch.no_grad():
        Z = x @ A.T + c  # (n, D): one projection per data row
        fx = rest(Z).double()
    yc = (y.double() - y.double().mean(0))
    bidx = torch.as_tensor(_draws(n, K))
    coef = torch.zeros(n, n_out, A.shape[0], dtype=torch.float64)
    for s in range(0, n, chunk):
        i = torch.arange(s, min(n, s + chunk))
        zb = Z[bidx[i]]  # (b, K, D)
        dz = Z[i][:, None] - zb
        pts = (zb[:, :, None] + t.view(1, 1, -1, 1) * dz[:, :, None]).reshape(-1, A.shape[0]).requires_grad_(True)
        out = rest(pts)
        M = torch.empty(i.numel(), K, n_out, A.shape[0], dtype=torch.float64)
        for o in range(n_out):
            (g,) = torch.autograd.grad(out[:, o].sum(), pts, retain_graph=o < n_out - 1)
            G = (g.reshape(i.numel(), K, n_steps, -1) * w.view(1, 1, -1, 1)).sum(2).double()  # (b, K, D)
            M[:, :, o] = yc[i, o].view(-1, 1, 1) * G / K
        coef[i] += M.sum(1)  # the samples' rows
        coef.index_add_(0, bidx[i].reshape(-1), -M.reshape(-1, n_out, A.shape[0]))  # their baselines' rows
    C = coef.permute(1, 2, 0).reshape(-1, n) @ x.double()  # (O D, m)
    S = (C.reshape(n_out, A.shape[0], -1) * A.double()[None]).sum(1)
    return (S / (n * fx.std(0, unbiased=False) * yc.std(0, unbiased=False))[:, None]).numpy()


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def _corr(a, b):
    return float(np.corrcoef(np.asarray(a).ravel(), np.asarray(b).ravel())[0, 1])


class ZooEncoder(nn.Module):
    """The zoo's ConvNeXt encoder as a plain module for both packages.

    ``features`` is the zoo model's ``forward_features``; ``readout`` an ``nn.Linear`` holding
    subject 0's readout weights (int_grad_corr's final-linear-layer option takes an ``nn.Linear``).
    """

    def __init__(self, zoo):
        super().__init__()
        self.zoo = zoo
        W, b = zoo.readout.weight_for(0), zoo.readout.bias_for(0)
        self.readout = nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            self.readout.weight.copy_(W)
            self.readout.bias.copy_(b)

    def features(self, x):
        return self.zoo.forward_features(x)

    def forward(self, x):
        return self.readout(self.features(x))


def _zoo_convnext(n_out):
    from neuro_igc.models import EncodingConvNeXt

    torch.manual_seed(0)
    zoo = EncodingConvNeXt(n_out, input_size=64, stem_width=16, widths=(32, 64, 128), depth=1, hidden=128)
    return ZooEncoder(_trained_like(zoo, 0).eval()).eval()


def _have_theirs(path) -> bool:
    import sys

    if path:
        sys.path.insert(0, str(path))
    try:
        import igc as theirs_pkg
    except ImportError:
        return False
    return hasattr(theirs_pkg, "IntGradCorr")


def _mean_ig_error(model, x, y, K, method, n_steps):
    """Mean absolute completeness error (over samples and outputs), the paper's IG error."""
    res = igc(model, x, y, baselines=K, method=method, n_steps=n_steps, progress=False, warn=False)
    return float(np.mean(res.ig_error))


def _equal_error_steps(model, x, y, K, target, candidates=(2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)):
    """The smallest Gauss-Legendre count whose IG error is at most ``target`` (on the same samples)."""
    errors = {}
    for s in candidates:
        errors[s] = _mean_ig_error(model, x, y, K, "gauss-legendre", s)
        if errors[s] <= target:
            return s, errors
    return candidates[-1], errors


def _their_time(model, x, y, K, nt):
    _, t = _timed(lambda: _theirs(model, x, y, K, n_x=nt))
    return t


def compare(args) -> list[dict]:
    """Decoding at n = 100 and 1,000 (ours, floor, theirs); encoding by time to accuracy."""
    have_theirs = _have_theirs(args.theirs)
    if not have_theirs:
        print("int_grad_corr (package 'igc', github.com/plelievre/int_grad_corr) is not importable: its "
              "columns are skipped; pass --theirs <checkout of the repository> or pip install it.")
    rows = []
    if args.only in (None, "decoding"):
        rows += _compare_decoding(args, have_theirs)
    if args.only in (None, "encoding"):
        rows += _compare_encoding(args, have_theirs)
    print("\n" + _table(rows), flush=True)
    return rows


def _compare_decoding(args, have_theirs) -> list[dict]:
    torch.manual_seed(0)
    model = _trained_like(DecodingNet(), 0)
    K = 12
    n_max = max(args.decoding_samples)
    x_all = _data_decoding(n_max)
    y_all = _targets(model, x_all)
    igc(model, x_all[:4], y_all[:4], baselines=2, n_steps=2, progress=False, warn=False)  # warm-up
    floor_decoding(model, x_all[:8], y_all[:8], 2)
    # the error of the authors' rule (64 trapezoid points; the rule fixes it), on a subset
    ne = min(n_max, args.error_samples)
    theirs_err = _mean_ig_error(model, x_all[:ne], y_all[:ne], K, "riemann-trapezoid", 64)
    steps, errors = _equal_error_steps(model, x_all[:ne], y_all[:ne], K, theirs_err)
    t_theirs_per_sample = None
    if have_theirs:
        nt = min(n_max, args.their_samples)
        t_theirs_per_sample = _their_time(model, x_all, y_all, K, nt) / nt
    rows = []
    for n in args.decoding_samples:
        x, y = x_all[:n], y_all[:n]
        ours, t_ours = _timed(lambda: igc(model, x, y, baselines=K, progress=False, warn=False))
        fl, t_floor = _timed(lambda: floor_decoding(model, x, y, K))
        eq, t_eq = _timed(lambda: igc(model, x, y, baselines=K, n_steps=steps, progress=False, warn=False))
        row = {"case": "decoding MLP", "n": n, "K": K, "ours_steps": 16, "ours_s": t_ours, "floor_s": t_floor,
               "ours_vs_floor": t_ours / t_floor,
               "floor_map_rel_diff": float(np.abs(ours.attributions - fl).max() / np.abs(fl).max()),
               "ours_error": float(np.mean(ours.ig_error)), "theirs_error": theirs_err,
               "eq_steps": steps, "eq_error": errors[steps], "eq_s": t_eq, "error_samples": ne}
        if t_theirs_per_sample is not None:
            row.update(theirs_s=t_theirs_per_sample * n, their_samples=min(n_max, args.their_samples),
                       speedup_default=t_theirs_per_sample * n / t_ours, speedup_eq=t_theirs_per_sample * n / t_eq)
        rows.append(row)
        print(_fmt(row), flush=True)
    if have_theirs:
        rows[-1]["map_corr"] = _map_agreement(model, x_all, y_all, K, min(n_max, args.their_samples))
        print(f"  maps with one explicit shared baseline set: correlation {rows[-1]['map_corr']:.6f}", flush=True)
    return rows


def _map_agreement(model, x, y, K, nt):
    gen = torch.Generator().manual_seed(5)
    base = x[torch.randperm(x.shape[0], generator=gen)[:K]]
    ours = igc(model, x[:nt], y[:nt], baselines=base, method="riemann-trapezoid", n_steps=64, progress=False,
               warn=False)
    theirs = _theirs(model, x, y, base, n_x=nt)
    return _corr(ours.attributions, theirs)


def _compare_encoding(args, have_theirs) -> list[dict]:
    rows = []
    cases = [("conv encoder", lambda: _trained_like(EncodingNet(), 0), 200),
             ("zoo ConvNeXt", lambda: _zoo_convnext(args.convnext_outputs), args.convnext_outputs)]
    K = args.encoding_baselines
    for name, build, n_out in cases:
        torch.manual_seed(0)
        model = build()
        n = args.encoding_samples
        x = _data_encoding(n)
        y = _targets(model, x)
        igc(model, x[:2], y[:2], baselines=2, n_steps=2, progress=False, warn=False)  # warm-up
        ne = min(n, args.error_samples)
        theirs_err = _mean_ig_error(model, x[:ne], y[:ne], K, "riemann-trapezoid", 64)
        steps, errors = _equal_error_steps(model, x[:ne], y[:ne], K, theirs_err)
        eq, t_eq = _timed(lambda: igc(model, x, y, baselines=K, n_steps=steps, progress=False, warn=False))
        row = {"case": name, "n": n, "K": K, "outputs": n_out, "theirs_error": theirs_err, "eq_steps": steps,
               "eq_error": errors[steps], "eq_s": t_eq, "error_samples": ne,
               "ours_used": eq.settings["factorizations"]}
        if have_theirs:
            nt = min(n, args.their_samples_encoding)
            t_theirs = _their_time(model, x, y, K, nt) * n / nt
            row.update(theirs_s=t_theirs, their_samples=nt, speedup_eq=t_theirs / t_eq,
                       map_corr=_map_agreement(model, x, y, K, nt))
        rows.append(row)
        print(_fmt(row), flush=True)
    return rows


def _fmt(r: dict) -> str:
    out = f"[{r['case']}] {r['n']} samples x {r['K']} baselines"
    if "ours_s" in r:
        out += (f"\n  ours (defaults, 16 Gauss-Legendre nodes): {r['ours_s']:.3g} s, IG error {r['ours_error']:.2e}; "
                f"floor (hand-written): {r['floor_s']:.3g} s -> ours / floor {r['ours_vs_floor']:.2f} "
                f"(maps differ by {r['floor_map_rel_diff']:.1e} relative)")
    out += (f"\n  equal error: theirs' rule (64 trapezoid points) IG error {r['theirs_error']:.2e} on "
            f"{r['error_samples']} samples; ours reaches it with {r['eq_steps']} Gauss-Legendre nodes "
            f"({r['eq_error']:.2e}) in {r['eq_s']:.3g} s")
    if "theirs_s" in r:
        scaled = "" if r["their_samples"] == r["n"] else f", timed on {r['their_samples']} samples and scaled"
        out += f"\n  theirs: {r['theirs_s']:.3g} s (int_grad_corr, 64 trapezoid steps{scaled})"
        if "speedup_default" in r:
            out += f"; speed-up at defaults {r['speedup_default']:.0f}x"
        out += f"; at equal error {r['speedup_eq']:.0f}x"
        if "map_corr" in r:
            out += f"; maps' correlation (shared baselines) {r['map_corr']:.6f}"
    return out


def _table(rows: list[dict]) -> str:
    head = ("case", "n", "ours s", "floor s", "ours/floor", "theirs s", "x default", "err theirs", "GL eq",
            "err ours", "ours eq s", "x equal err", "map corr")
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    f = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
    for r in rows:
        lines.append(" | ".join([
            r["case"], str(r["n"]), f(r.get("ours_s"), ".3g"), f(r.get("floor_s"), ".3g"),
            f(r.get("ours_vs_floor"), ".2f"), f(r.get("theirs_s"), ".3g"), f(r.get("speedup_default"), ".0f"),
            f(r.get("theirs_error"), ".2e"), str(r["eq_steps"]), f(r.get("eq_error"), ".2e"),
            f(r.get("eq_s"), ".3g"), f(r.get("speedup_eq"), ".0f"), f(r.get("map_corr"), ".6f")]))
    return "\n".join(lines)


# ---------------------------------------------------------------------- overhead
def _bare_loop(model, x, base, n_steps, chunk, n_out):
    """The same vector-Jacobian products as the engine: one forward per chunk, a backward per output."""
    from neuro_igc.attribution import quadrature

    alphas, w = quadrature("gauss-legendre", n_steps)
    alphas = torch.tensor(alphas, dtype=x.dtype)
    w = torch.tensor(w, dtype=x.dtype)
    K = base.shape[0]
    total = torch.zeros(n_out, *x.shape[1:], dtype=torch.float64)
    for i in range(x.shape[0]):
        for k0 in range(0, K, max(1, chunk // n_steps)):
            b = base[k0:k0 + max(1, chunk // n_steps)]
            pts = (b[:, None] + alphas.view(1, -1, 1, 1, 1) * (x[i] - b)[:, None]).reshape(-1, *x.shape[1:])
            pts.requires_grad_(True)
            out = model(pts)
            for q in range(n_out):
                (g,) = torch.autograd.grad(out[:, q].sum(), pts, retain_graph=q < n_out - 1)
                gw = (g.reshape(b.shape[0], n_steps, -1) * w.view(1, -1, 1)).sum(1)
                total[q] += (gw * (x[i] - b).reshape(b.shape[0], -1)).sum(0).reshape(x.shape[1:]).double()
    return total


def overhead(args) -> dict:
    torch.manual_seed(0)
    model = _trained_like(EncodingNet(n_out=args.overhead_outputs), 0)
    for p in model.parameters():
        p.requires_grad_(False)
    n, K, S = args.overhead_samples, 4, 16
    x = _data_encoding(n + K)
    base, x = x[:K], x[K:]
    y = _targets(model, x)
    chunk = K * S  # one sample's paths per chunk, as the engine does at this size
    kw = dict(baselines=base, n_steps=S, readout=False, input_linear=False, vjp="loop", progress=False,
              warn=False, batch_size=chunk)
    igc(model, x[:2], y[:2], **kw)
    _bare_loop(model, x[:1], base, S, chunk, args.overhead_outputs)
    t_bare = min(_timed(lambda: _bare_loop(model, x, base, S, chunk, args.overhead_outputs))[1]
                 for _ in range(args.repeats))
    t_eng = min(_timed(lambda: igc(model, x, y, **kw))[1] for _ in range(args.repeats))
    res = {"bare_s": t_bare, "engine_s": t_eng, "ratio": t_eng / t_bare}
    print(f"[overhead] conv encoder, {n} samples x {K} baselines x {S} steps, {args.overhead_outputs} outputs, no "
          f"factorization, loop VJPs: engine {t_eng:.3g} s, bare VJP loop {t_bare:.3g} s, ratio {res['ratio']:.2f} "
          f"(best of {args.repeats})", flush=True)
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("compare", "overhead", "all"), default="all")
    p.add_argument("--only", choices=("decoding", "encoding"), default=None)
    p.add_argument("--decoding-samples", type=int, nargs="+", default=[100, 1000])
    p.add_argument("--encoding-samples", type=int, default=32)
    p.add_argument("--encoding-baselines", type=int, default=4)
    p.add_argument("--convnext-outputs", type=int, default=500)
    p.add_argument("--error-samples", type=int, default=100,
                   help="samples the IG errors (theirs' rule, ours per node count) are measured on")
    p.add_argument("--their-samples", type=int, default=12,
                   help="decoding samples int_grad_corr is timed on (its time is scaled to all samples)")
    p.add_argument("--their-samples-encoding", type=int, default=4)
    p.add_argument("--theirs", default=None, help="a checkout of github.com/plelievre/int_grad_corr (put on sys.path)")
    p.add_argument("--overhead-samples", type=int, default=8)
    p.add_argument("--overhead-outputs", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, cpu ({torch.get_num_threads()} threads)")
    if args.part in ("compare", "all"):
        compare(args)
    if args.part in ("overhead", "all"):
        overhead(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
