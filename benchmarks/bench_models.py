"""Deep models against ridge baselines on the synthetic NSD-like folder (validation correlations).

Run (CPU, a few minutes; the folder is written to a temporary directory unless --root is given)::

    .venv/bin/python benchmarks/bench_models.py
    .venv/bin/python benchmarks/bench_models.py --root /tmp/nsd_synth --keep   # reuse a folder

What is measured (validation = shared images averaged over repeats, training = single trials of
the other images, as the paper; betas z-scored per session):

* decoding (betas of the ``nsdgeneral`` vertices -> luminance contrast and 1/f slope of the
  image, targets standardised on the training set): the paper's :class:`DecodingMLP` (one model
  for all subjects, per-subject input layer) against one :class:`Ridge` per subject; Pearson r
  per statistic on the pooled validation samples. The planted relation is linear (vertices of
  EBA carry z(contrast), of PPA z(slope)), so ridge is expected to do about as well.
* encoding (image -> betas of the V1-hV4 vertices of each subject): a small
  :class:`EncodingConvNeXt` (per-subject readout) against one :class:`Ridge` per subject on the
  pixels, and on a "contrast-energy" feature map ((image - blur(image))**2, the planted drive
  up to its square root and the pRF pooling), which shows what a linear model reaches when given
  the right nonlinear features. Mean Pearson r over vertices, per subject then averaged. The
  planted response is nonlinear in the pixels (square root of the pRF-weighted local contrast
  energy), so the ConvNeXt should beat the pixel ridge.

Small settings (documented, chosen so the whole script runs in a few minutes on 2 CPU cores):
2 subjects x 2 sessions (750 trials each), fsaverage5, images at 32 px (the paper: 64 px); the
ConvNeXt has stem 16 and stages 32-64-128 of 2 blocks (the paper: 32, 64-128-256-512, 3 blocks)
and a 128-unit hidden layer (paper: 256); one decoding model (the paper keeps the best 5 of 10).
One intra-op torch thread by default (``--threads``): these small models gain nothing from more,
and on a shared machine the thread pool's busy waiting makes them much slower.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from neuro_igc.models import EncodingConvNeXt, Ridge, build_model, evaluate, fit, pearson_r


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", type=Path, default=None, help="synthetic NSD folder (written if it has no truth file)")
    p.add_argument("--keep", action="store_true", help="keep the folder written to --root")
    p.add_argument("--subjects", type=int, default=2)
    p.add_argument("--sessions", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=32, help="encoding image size in pixels (multiple of 16)")
    p.add_argument("--dec-epochs", type=int, default=40)
    p.add_argument("--enc-epochs", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--progress", action="store_true", help="show tqdm bars")
    return p.parse_args(argv)


def synthetic_folder(root: Path, subjects: int, sessions: int, seed: int) -> Path:
    from neuro_igc.data.synthetic import TRUTH_JSON, make_nsd_like

    if not (root / TRUTH_JSON).is_file():
        t = time.perf_counter()
        make_nsd_like(root, subjects=subjects, sessions=sessions, seed=seed)
        print(f"wrote the synthetic folder {root} in {time.perf_counter() - t:.0f} s")
    return root


# -- decoding --------------------------------------------------------------------------------
def _standardised(train, val):
    """Decoding datasets with targets standardised on the training set (as the paper)."""
    from neuro_igc.data import DecodingDataset

    ys = np.concatenate([train.tensors(s)[1].numpy() for s in range(train.n_subjects)])
    mean, sd = ys.mean(0), ys.std(0)

    def rebuild(ds):
        xs = [ds.tensors(s)[0].numpy() for s in range(ds.n_subjects)]
        ys = [(ds.tensors(s)[1].numpy() - mean) / sd for s in range(ds.n_subjects)]
        return DecodingDataset(xs, ys, subjects=ds.subjects, with_subject=True, target_names=ds.target_names)

    return rebuild(train), rebuild(val)


def bench_decoding(nsd, args) -> list[tuple]:
    from neuro_igc.data import decoding_datasets

    t = time.perf_counter()
    train, val = decoding_datasets(nsd, list(range(1, args.subjects + 1)), roi="nsdgeneral",
                                   density="fsaverage5")
    train, val = _standardised(train, val)
    names = train.target_names
    print(f"decoding data: {len(train)} training trials, {len(val)} validation images, "
          f"{train.n_features_per_subject} vertices ({time.perf_counter() - t:.0f} s)")

    # ridge: one per subject, validation predictions pooled over subjects
    t = time.perf_counter()
    pred, target = [], []
    for s in range(train.n_subjects):
        x, y = train.tensors(s)
        model = Ridge(cv=5).fit(x, y)
        xv, yv = val.tensors(s)
        with torch.no_grad():
            pred.append(model(xv).double().numpy())
        target.append(yv.double().numpy())
    r_ridge = pearson_r(np.concatenate(pred), np.concatenate(target))
    t_ridge = time.perf_counter() - t

    t = time.perf_counter()
    mlp = build_model("decoding_mlp", n_inputs=train.n_features_per_subject, n_outputs=len(names),
                      n_subjects=train.n_subjects, seed=args.seed)
    res = fit(mlp, train, val, epochs=args.dec_epochs, batch_size=64, lr=1e-3, seed=args.seed,
              device=args.device, progress=args.progress)
    r_mlp = evaluate(res.model, val)["r"]
    t_mlp = time.perf_counter() - t
    rows = []
    for k, name in enumerate(names):
        rows.append(("decoding", name, "DecodingMLP", r_mlp[k], t_mlp))
        rows.append(("decoding", name, "Ridge (per subject)", r_ridge[k], t_ridge))
    return rows


# -- encoding --------------------------------------------------------------------------------
def _subject_arrays(ds, s):
    idx = ds.indices_by_subject()[s]
    items = [ds[int(i)] for i in idx]
    return torch.stack([it[0] for it in items]), torch.stack([it[1] for it in items])


def _energy(x: torch.Tensor) -> torch.Tensor:
    """Local contrast energy (x - blur(x))**2, blur a Gaussian of SD 1 px (per image)."""
    k = torch.exp(-0.5 * torch.arange(-3, 4, dtype=x.dtype) ** 2)
    k = k / k.sum()
    blur = torch.nn.functional.conv2d(x, k.view(1, 1, 1, 7), padding=(0, 3))
    blur = torch.nn.functional.conv2d(blur, k.view(1, 1, 7, 1), padding=(3, 0))
    return (x - blur) ** 2


def bench_encoding(nsd, args) -> list[tuple]:
    from neuro_igc.data import encoding_datasets

    t = time.perf_counter()
    train, val = encoding_datasets(nsd, list(range(1, args.subjects + 1)), roi="prf-visualrois",
                                   density="fsaverage5", size=args.size)
    print(f"encoding data: {len(train)} training trials, {len(val)} validation images, "
          f"{train.n_features_per_subject} vertices, images {train.input_shape} "
          f"({time.perf_counter() - t:.0f} s)")
    rows = []
    for label, transform in (("Ridge on pixels (per subject)", lambda x: x),
                             ("Ridge on contrast energy (per subject)", _energy)):
        t = time.perf_counter()
        rs = []
        for s in range(train.n_subjects):
            x, y = _subject_arrays(train, s)
            xv, yv = _subject_arrays(val, s)
            model = Ridge(cv=5).fit(transform(x), y)
            with torch.no_grad():
                rs.append(pearson_r(model(transform(xv)).double().numpy(), yv.double().numpy()))
        rows.append(("encoding", "visual vertices", label, float(np.mean([np.nanmean(r) for r in rs])),
                     time.perf_counter() - t))

    t = time.perf_counter()
    torch.manual_seed(args.seed)
    net = EncodingConvNeXt(train.n_features_per_subject, n_subjects=train.n_subjects, input_size=args.size,
                           stem_width=16, widths=(32, 64, 128), depth=2, hidden=128, drop_path=0.2)
    res = fit(net, train, val, epochs=args.enc_epochs, batch_size=32, lr=1e-3, seed=args.seed,
              device=args.device, progress=args.progress)
    ev = evaluate(res.model, val)
    r_net = float(np.mean([np.nanmean(v["r"]) for v in ev["subjects"].values()]))
    rows.append(("encoding", "visual vertices", "EncodingConvNeXt", r_net, time.perf_counter() - t))
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from neuro_igc.data import NSD

    tmp = None
    if args.root is None:
        tmp = Path(tempfile.mkdtemp(prefix="nsd_synth_"))
        args.root = tmp
    start = time.perf_counter()
    try:
        synthetic_folder(args.root, args.subjects, args.sessions, args.seed)
        nsd = NSD(args.root, progress=False)
        rows = bench_decoding(nsd, args) + bench_encoding(nsd, args)
    finally:
        if tmp is not None and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"{'task':<9} {'target':<20} {'model':<40} {'val r':>7} {'time s':>7}")
    for task, target, model, r, secs in rows:
        print(f"{task:<9} {target:<20} {model:<40} {r:>7.3f} {secs:>7.1f}")
    print(f"\ntotal {time.perf_counter() - start:.0f} s, torch threads {torch.get_num_threads()}, "
          f"device {args.device}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
