"""Plain vs fast IGC on the paper's two NSD models (not run by CI).

Plain path = what users do today: no factorizations, 64 trapezoid steps, parameters not
frozen, one backward pass per output (after one shared forward pass per chunk). Fast path = all
of the engine's exact accelerations (frozen parameters, batched vector-Jacobian products where
they pay, readout and input-linear factorizations) with Gauss-Legendre quadrature at the
smallest number of steps whose error is no larger than the plain path's (IGC error for
decoding, IG error for encoding), measured on the same samples (the trapezoid rule is tried when
no Gauss-Legendre count up to 64 qualifies; the table says which was used).

- decoding: DecodingMLP, 20,484 inputs (two fsaverage5 hemispheres), per-subject Linear -> 128,
  BatchNorm + Mish blocks 128-64-32-16-8 -> 2 outputs; 12 baselines; one subject's samples.
- encoding: EncodingConvNeXt on 64x64 images -> 256-unit bottleneck -> 3,000 outputs; 6 baselines;
  untrained, with non-zero convolution biases as after training (``--init zoo``: as initialised,
  zero biases, where the stem LayerNorm makes the path integrand nearly singular).

On a CPU the plain path is timed on a subset and extrapolated linearly (decoding: in samples;
encoding: in samples, and in outputs from a two-point fit t = a + b * n_outputs), and the
ConvNeXt is narrowed; both are printed. ``--paper-settings`` uses the paper's sizes
(1,000 samples, 64 steps, the paper's ConvNeXt widths) for a GPU run.

Usage: ``.venv/bin/python benchmarks/bench_igc.py [--paper-settings] [--device cuda]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from neuro_igc.attribution import igc

N_VERTICES = 2 * 10242  # fsaverage5, both hemispheres
PLAIN = dict(method="riemann-trapezoid", n_steps=64, input_linear=False, readout=False, vjp="loop", freeze=False)
FAST = dict(input_linear="auto", readout="auto", vjp="auto", freeze=True)
STEP_LADDER = (4, 8, 16, 32, 64)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, *args, **kwargs):
    """Run ``fn`` and return its result and the wall time (CUDA synchronised)."""
    dev = str(kwargs.get("device") or "cpu")
    _sync(dev)
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    _sync(dev)
    return out, time.perf_counter() - t


def _models():
    try:
        from neuro_igc.models import DecodingMLP, EncodingConvNeXt
    except ImportError as exc:  # pragma: no cover - the zoo ships with the package
        raise SystemExit(f"neuro_igc.models.DecodingMLP / EncodingConvNeXt are needed: {exc}") from exc
    return DecodingMLP, EncodingConvNeXt


def _targets(f: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """y = f(x) + noise of the same SD (a correlation around 0.7)."""
    noise = torch.tensor(rng.normal(size=tuple(f.shape)), dtype=f.dtype) * f.std(0, keepdim=True)
    return f + noise


def _pick_steps(run, plain_err: np.ndarray, err_of) -> tuple[str, int, object, list]:
    """The smallest Gauss-Legendre step count whose error (max and mean) is no larger than the
    plain path's; when none up to 64 is, the trapezoid rule is tried the same way (reported)."""
    tried = []
    for method in ("gauss-legendre", "riemann-trapezoid"):
        for steps in STEP_LADDER:
            res = run(method, steps)
            err = err_of(res)
            tried.append((method, steps, float(err.max())))
            if err.max() <= plain_err.max() and err.mean() <= plain_err.mean():
                return method, steps, res, tried
    return method, steps, res, tried


def _trained_like(model: torch.nn.Module, rng: np.random.Generator) -> None:
    """Give the convolutions non-zero biases, as training does.

    At initialisation the zoo's convolution biases are zero; the stem's LayerNorm then sees
    ``W p`` for a 2x2 patch ``p`` and is scale-invariant in ``p``, so wherever a straight path
    passes close to ``p = 0`` the integrand is nearly singular and no quadrature rule converges
    well. A trained model has non-zero biases; ``--init zoo`` keeps the initial weights.
    """
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.Conv2d) and mod.bias is not None:
                mod.bias.copy_(torch.tensor(rng.normal(0, 0.1, size=mod.bias.shape), dtype=mod.bias.dtype))


def bench_decoding(args, rng) -> dict:
    DecodingMLP, _ = _models()
    torch.manual_seed(0)
    model = DecodingMLP(n_inputs=N_VERTICES, n_outputs=2, n_subjects=8 if args.paper_settings else 2).eval()
    n_fast = args.n_samples
    n_plain = n_fast if args.paper_settings else args.decoding_plain_samples
    x = torch.tensor(rng.normal(size=(n_fast, N_VERTICES)), dtype=torch.float32)
    kw = dict(model_kwargs={"subject": 0}, device=args.device, progress=args.progress, warn=False)
    with torch.no_grad():
        y = _targets(model(x, subject=0), rng)
    base = x[torch.as_tensor(rng.choice(n_fast, 12, replace=False))]
    plain, t_plain = timed(igc, model, x[:n_plain], y[:n_plain], baselines=base, **PLAIN, **kw)
    method, steps, fast_same, tried = _pick_steps(
        lambda meth, s: igc(model, x[:n_plain], y[:n_plain], baselines=base, method=meth, n_steps=s, **FAST, **kw),
        plain.igc_error, lambda r: r.igc_error)
    igc(model, x[:2], y[:2], baselines=base, method=method, n_steps=steps, **FAST, **kw)  # warm-up
    fast, t_fast = timed(igc, model, x, y, baselines=base, method=method, n_steps=steps, **FAST, **kw)
    per_plain, per_fast = t_plain / n_plain, t_fast / n_fast
    return {
        "model": "decoding", "n_samples": n_fast, "baselines": 12, "outputs": 2,
        "plain": f"{PLAIN['n_steps']} trapezoid, timed on {n_plain} samples",
        "fast": f"{steps} {method} steps ({_used(fast)})", "tried": tried,
        "plain_s": per_plain * n_fast, "fast_s": t_fast, "speedup": per_plain / per_fast,
        "plain_igc_err": plain.igc_error.max(), "fast_igc_err_same": fast_same.igc_error.max(),
        "fast_igc_err_all": fast.igc_error.max(),
        "plain_ig_err": plain.ig_error.max(), "fast_ig_err_same": fast_same.ig_error.max(),
        "map_rel_diff": _rel(fast_same.attributions, plain.attributions),
    }


def bench_encoding(args, rng) -> dict:
    _, EncodingConvNeXt = _models()
    torch.manual_seed(0)
    if args.paper_settings:
        arch = dict(stem_width=32, widths=(64, 128, 256, 512), depth=3)
    else:
        arch = dict(stem_width=8, widths=(16, 32, 64, 128), depth=1)
    n_out = args.encoding_outputs
    model = EncodingConvNeXt(n_out, input_size=64, hidden=256, **arch).eval()
    if args.init == "trained-like":
        _trained_like(model, rng)
    n_fast = args.n_samples if args.paper_settings else args.encoding_fast_samples
    n_plain = args.encoding_plain_samples
    n_pool = max(n_fast, n_plain, 64)  # baselines and target noise come from a larger pool
    img = torch.tensor(rng.normal(size=(n_pool, 1, 64, 64)), dtype=torch.float32)
    img = torch.nn.functional.avg_pool2d(img, 3, 1, 1)  # some spatial correlation
    img = (img - img.mean()) / img.std()
    kw = dict(device=args.device, progress=args.progress, warn=False)
    with torch.no_grad():
        y = _targets(torch.cat([model(img[i:i + 16]) for i in range(0, n_pool, 16)]), rng)
    base = img[torch.as_tensor(rng.choice(n_pool, 6, replace=False))]
    # plain: one backward per output; time two output counts, fit t = a + b * n_outputs
    o1, o2 = args.encoding_plain_outputs
    xs, ys = img[:n_plain], y[:n_plain]
    _, t1 = timed(igc, model, xs, ys, baselines=base, output_idx=list(range(o1)), **PLAIN, **kw)
    plain, t2 = timed(igc, model, xs, ys, baselines=base, output_idx=list(range(o2)), **PLAIN, **kw)
    b = (t2 - t1) / (o2 - o1)
    a = max(t1 - b * o1, 0.0)
    t_plain_all = (a + b * n_out) / n_plain  # per sample, all outputs
    sub = slice(0, o2)
    method, steps, fast_same, tried = _pick_steps(
        lambda meth, s: igc(model, xs, ys, baselines=base, method=meth, n_steps=s, **FAST, **kw),
        plain.ig_error, lambda r: r.ig_error[sub])
    fast, t_fast = timed(igc, model, img[:n_fast], y[:n_fast], baselines=base, method=method, n_steps=steps,
                         **FAST, **kw)
    per_fast = t_fast / n_fast
    return {
        "model": "encoding", "n_samples": n_fast, "baselines": 6, "outputs": n_out,
        "plain": f"{PLAIN['n_steps']} trapezoid, timed on {n_plain} sample(s) x {o1} and {o2} outputs",
        "fast": f"{steps} {method} steps ({_used(fast)})", "tried": tried,
        "plain_s": t_plain_all * n_fast, "fast_s": t_fast, "speedup": t_plain_all / per_fast,
        "plain_igc_err": np.nan, "fast_igc_err_same": np.nan, "fast_igc_err_all": fast.igc_error.max(),
        "plain_ig_err": plain.ig_error.max(), "fast_ig_err_same": fast_same.ig_error[sub].max(),
        "plain_ig_err_mean": plain.ig_error.mean(), "fast_ig_err_mean_same": fast_same.ig_error[sub].mean(),
        "map_rel_diff": _rel(fast_same.attributions[sub], plain.attributions),
        "arch": {**arch, "init": args.init}, "plain_fit_s": (a, b),
    }


def _used(res) -> str:
    s = res.settings
    parts = [name for name in ("input_linear", "readout") if s[name]]
    return ", ".join(parts + [f"vjp={s['vjp']}", "frozen"])


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def _fmt_time(s: float) -> str:
    return f"{s:.3g} s" if s < 120 else (f"{s / 60:.3g} min" if s < 7200 else f"{s / 3600:.3g} h")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--paper-settings", action="store_true",
                   help="1,000 samples, the paper's ConvNeXt, 3,000 outputs (for a GPU)")
    p.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    p.add_argument("--only", choices=("decoding", "encoding"), default=None)
    p.add_argument("--n-samples", type=int, default=1000, help="samples of the fast decoding run (and of both with --paper-settings)")
    p.add_argument("--decoding-plain-samples", type=int, default=16)
    p.add_argument("--encoding-outputs", type=int, default=3000)
    p.add_argument("--encoding-plain-samples", type=int, default=2)
    p.add_argument("--encoding-plain-outputs", type=int, nargs=2, default=(4, 16))
    p.add_argument("--encoding-fast-samples", type=int, default=4)
    p.add_argument("--init", choices=("trained-like", "zoo"), default="trained-like",
                   help="encoding weights: zoo initialisation with non-zero conv biases (default), or as initialised")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.paper_settings:
        args.encoding_plain_samples = max(args.encoding_plain_samples, 2)
        args.encoding_plain_outputs = (8, 32)
    rng = np.random.default_rng(0)
    rows = []
    if args.only in (None, "decoding"):
        rows.append(bench_decoding(args, rng))
    if args.only in (None, "encoding"):
        rows.append(bench_encoding(args, rng))
    dev = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"cpu ({torch.get_num_threads()} threads)"
    print(f"\nIGC benchmark on {dev}, torch {torch.__version__}{' -- paper settings' if args.paper_settings else ''}")
    for r in rows:
        print(f"\n[{r['model']}] {r['n_samples']} samples x {r['baselines']} baselines, {r['outputs']} outputs")
        if "arch" in r:
            print(f"  ConvNeXt: {r['arch']}; plain time fit per {args.encoding_plain_samples} sample(s): "
                  f"{r['plain_fit_s'][0]:.3g} s + {r['plain_fit_s'][1]:.3g} s/output")
        print(f"  plain : {r['plain']}; {_fmt_time(r['plain_s'])} for {r['n_samples']} samples (extrapolated)")
        print(f"  fast  : {r['fast']}; {_fmt_time(r['fast_s'])} measured")
        print(f"  speed-up: {r['speedup']:.1f}x")
        print("  step search (rule, steps, max error): " + ", ".join(f"{m[:5]} {n}: {e:.1e}" for m, n, e in r["tried"]))
        print(f"  max IG error   plain {r['plain_ig_err']:.2e} | fast, same samples {r['fast_ig_err_same']:.2e}")
        if "plain_ig_err_mean" in r:
            print(f"  mean IG error  plain {r['plain_ig_err_mean']:.2e} | fast, same samples {r['fast_ig_err_mean_same']:.2e}")
        if np.isfinite(r["plain_igc_err"]):
            print(f"  max IGC error  plain {r['plain_igc_err']:.2e} | fast, same samples {r['fast_igc_err_same']:.2e}"
                  f" | fast, all {r['n_samples']} samples {r['fast_igc_err_all']:.2e}")
        print(f"  max |fast - plain| / max |plain| of the maps: {r['map_rel_diff']:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
