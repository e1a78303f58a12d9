"""Strong scaling of IGC over torch.distributed processes (not run by CI).

The decoding and encoding workloads of ``bench_igc.py`` (fast path: factorizations, frozen
parameters, batched VJPs where they pay, Gauss-Legendre) attributed by 1, 2, ... processes on one
machine, each with ``--threads`` torch threads (Gloo on CPU; NCCL and one GPU per process with
``--device cuda``, or several processes sharing one GPU with ``--share-gpu``). Every run is a fresh
set of processes started by ``neuro_igc._distributed.run_local``; the time is that of the ``igc``
call alone (between two barriers, after a warm-up call), the slowest rank's. The maps of every run
are compared with the 1-process maps.

- decoding: DecodingMLP, 20,484 inputs -> 128 -> 64-32-16-8 -> 2 outputs, 12 baselines.
- encoding: EncodingConvNeXt (narrowed for a CPU, as in bench_igc.py) on 64x64 images, 256-unit
  bottleneck -> 3,000 outputs, 6 baselines.

Usage: ``PYTHONPATH=. python benchmarks/bench_distributed.py [--procs 1 2] [--threads 1]``
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from neuro_igc import _distributed as D
from neuro_igc.attribution import igc

N_VERTICES = 2 * 10242


def _workload(name: str, args):
    from neuro_igc.models import DecodingMLP, EncodingConvNeXt

    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    if name == "decoding":
        model = DecodingMLP(n_inputs=N_VERTICES, n_outputs=2, n_subjects=2).eval()
        x = torch.tensor(rng.normal(size=(args.decoding_samples, N_VERTICES)), dtype=torch.float32)
        with torch.no_grad():
            f = model(x, subject=0)
        base = x[torch.as_tensor(rng.choice(len(x), 12, replace=False))]
        kw = dict(model_kwargs={"subject": 0}, n_steps=16, baselines=base)
    else:
        model = EncodingConvNeXt(args.encoding_outputs, input_size=64, hidden=256, stem_width=8,
                                 widths=(16, 32, 64, 128), depth=1).eval()
        with torch.no_grad():  # non-zero convolution biases, as after training (see bench_igc.py)
            for mod in model.modules():
                if isinstance(mod, torch.nn.Conv2d) and mod.bias is not None:
                    mod.bias.copy_(torch.tensor(rng.normal(0, 0.1, size=mod.bias.shape), dtype=mod.bias.dtype))
        img = torch.tensor(rng.normal(size=(max(args.encoding_samples, 64), 1, 64, 64)), dtype=torch.float32)
        img = torch.nn.functional.avg_pool2d(img, 3, 1, 1)
        x = ((img - img.mean()) / img.std())[: args.encoding_samples]
        with torch.no_grad():
            f = torch.cat([model(x[i:i + 16]) for i in range(0, len(x), 16)])
        base = img[torch.as_tensor(rng.choice(len(img), 6, replace=False))]
        kw = dict(n_steps=8, baselines=base)
    y = f + torch.tensor(rng.normal(size=tuple(f.shape)), dtype=f.dtype) * f.std(0, keepdim=True)
    return model, x, y, kw


def _worker(name: str, args, folder: str) -> None:
    model, x, y, kw = _workload(name, args)
    device = args.device
    if device == "cuda" and args.share_gpu:
        device = "cuda:0"
    opts = dict(device=device, progress=False, warn=False, **kw)
    igc(model, x[: 2 * D.world_size()], y[: 2 * D.world_size()], **opts)  # warm-up
    D.barrier()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t = time.perf_counter()
    res = igc(model, x, y, **opts)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - t
    times = D.gather_objects(elapsed)
    if D.is_main():
        np.save(Path(folder, f"{name}_{D.world_size()}.npy"), res.attributions)
        Path(folder, f"{name}_{D.world_size()}.json").write_text(json.dumps(
            {"seconds": max(times), "per_rank": times, "settings": {k: res.settings[k] for k in (
                "n_steps", "input_linear", "readout", "vjp", "world_size")}}))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--only", choices=("decoding", "encoding"), default=None)
    p.add_argument("--decoding-samples", type=int, default=400)
    p.add_argument("--encoding-samples", type=int, default=16)
    p.add_argument("--encoding-outputs", type=int, default=3000)
    p.add_argument("--device", default="cpu", help="cpu, or cuda (NCCL; one GPU per process)")
    p.add_argument("--share-gpu", action="store_true", help="every process on cuda:0 (Gloo)")
    args = p.parse_args(argv)
    backend = "nccl" if args.device == "cuda" and not args.share_gpu else "gloo"
    names = [args.only] if args.only else ["decoding", "encoding"]
    print(f"# bench_distributed: {os.cpu_count()} CPUs, {args.threads} torch thread(s) per process, "
          f"device {args.device}{' (shared)' if args.share_gpu else ''}, backend {backend}; "
          f"load average {os.getloadavg()[0]:.1f} at start")
    print("| workload | processes | IGC time (s) | speed-up | efficiency | max rel. diff of the maps |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            base_t, base_map = None, None
            for n in args.procs:
                D.run_local(_worker, n, (name, args, folder), backend=backend, timeout=1800, threads=args.threads)
                info = json.loads(Path(folder, f"{name}_{n}.json").read_text())
                att = np.load(Path(folder, f"{name}_{n}.npy"))
                t = info["seconds"]
                if base_t is None:  # the first process count is the reference
                    base_t, base_n, base_map = t, n, att
                diff = float(np.abs(att - base_map).max() / np.abs(base_map).max())
                speedup = base_t / t
                print(f"| {name} | {n} | {t:.2f} (ranks: {', '.join(f'{s:.2f}' for s in info['per_rank'])}) | "
                      f"{speedup:.2f}x | {speedup * base_n / n:.0%} | {diff:.1e} |", flush=True)
    print(f"# load average {os.getloadavg()[0]:.1f} at end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
