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


def compare(args) -> list[dict]:
    try:
        import igc as theirs_pkg  # noqa: F401
        have_theirs = hasattr(theirs_pkg, "IntGradCorr")
    except ImportError:
        have_theirs = False
    if not have_theirs:
        print("int_grad_corr (package 'igc', github.com/plelievre/int_grad_corr) is not installed: the side-by-side "
              "part is skipped; install it with `pip install <clone of the repository>`.")
    rows = []
    cases = [
        ("decoding", DecodingNet, _data_decoding, args.decoding_samples, 12),
        ("encoding", EncodingNet, _data_encoding, args.encoding_samples, 4),
    ]
    for name, cls, data, n, k in cases:
        if args.only and name != args.only:
            continue
        torch.manual_seed(0)
        model = _trained_like(cls(), 0)
        x = data(n)
        y = _targets(model, x)
        igc(model, x[:4], y[:4], baselines=2, n_steps=2, progress=False, warn=False)  # warm-up
        ours, t_ours = _timed(lambda: igc(model, x, y, baselines=k, progress=args.progress, warn=False))
        row = {"case": name, "n": n, "K": k, "outputs": y.shape[1], "ours_s": t_ours,
               "ours_used": ours.settings["factorizations"], "ours_ig_error": float(ours.ig_error.max()),
               "ours_igc_error": float(ours.igc_error.max())}
        if have_theirs:
            # theirs loops over samples one at a time: its time is linear in the samples, so it is
            # timed on the first ``--their-samples`` and scaled (exact when they equal n)
            nt = min(n, args.their_samples)
            xs, ys = x[:nt], y[:nt]
            print(f"[{name}] ours: {t_ours:.3g} s; timing int_grad_corr on {nt} samples ...", flush=True)
            _, t_theirs = _timed(lambda: _theirs(model, x, y, k, n_x=nt))
            row.update(theirs_s=t_theirs * n / nt, their_samples=nt, speedup=t_theirs * n / nt / t_ours)
            gen = torch.Generator().manual_seed(5)
            base = x[torch.randperm(n, generator=gen)[:k]]
            ours_b = igc(model, xs, ys, baselines=base, progress=False, warn=False)
            theirs_b = _theirs(model, x, y, base, n_x=nt)
            row.update(map_corr=_corr(ours_b.attributions, theirs_b),
                       map_rel_diff=float(np.abs(ours_b.attributions - theirs_b).max()
                                          / np.abs(theirs_b).max()))
        rows.append(row)
        print(_fmt(row), flush=True)
    return rows


def _fmt(r: dict) -> str:
    used = ", ".join(f"{k} ({v.get('module')})" for k, v in r["ours_used"].items() if v["used"]) or "none"
    out = (f"[{r['case']}] {r['n']} samples x {r['K']} baselines, {r['outputs']} outputs\n"
           f"  ours   : {r['ours_s']:.3g} s (defaults: 16 Gauss-Legendre nodes, per-sample baselines; "
           f"factorizations found: {used}); max IG error {r['ours_ig_error']:.2e}, max IGC error "
           f"{r['ours_igc_error']:.2e}")
    if "theirs_s" in r:
        scaled = "" if r["their_samples"] == r["n"] else f"; timed on {r['their_samples']} samples and scaled"
        out += (f"\n  theirs : {r['theirs_s']:.3g} s (int_grad_corr, 64 trapezoid steps, final Linear declared{scaled})"
                f"\n  speed-up: {r['speedup']:.1f}x\n  maps with one explicit shared baseline set ({r['their_samples']} samples): correlation "
                f"{r['map_corr']:.6f}, max |ours - theirs| / max |theirs| {r['map_rel_diff']:.2e}")
    return out


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
    p.add_argument("--decoding-samples", type=int, default=100)
    p.add_argument("--encoding-samples", type=int, default=32)
    p.add_argument("--their-samples", type=int, default=12,
                   help="samples int_grad_corr is timed on (its time is scaled to all samples)")
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
