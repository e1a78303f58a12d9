"""``neuro-igc benchmark``: run the paper's synthetic benchmark and write its figure and tables.

Writes to ``--out``: ``benchmark_scores.csv`` and ``benchmark_scores.md`` (the score table),
``benchmark_paper.csv`` and ``benchmark_paper.md`` (ours beside the paper's figures),
``benchmark_maps.png`` (the paper's Fig. 1 layout), ``benchmark_maps.npz`` (every map), and unless
``--no-digits`` the categorical example ``digits_igc.png``. Every file is written atomically.

``--steps-study`` runs the step study instead (:func:`neuro_igc.benchmark.run_step_study`: IG and
IGC x straight/blur/guided paths x quadrature/IDGI rules x 2..128 steps on Exp. A-C) and writes
``steps_study.csv``/``.md`` (every row), ``steps_summary.csv``/``.md`` (fewest steps to a 1 %
completeness error and to a 0.99 correlation with the 128-step map), ``steps_study.png``, and
``steps_report.md``, the report showing the summary, the figure and every row.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from neuro_igc._utils import atomic_path
from neuro_igc.benchmark._experiments import EXPERIMENTS
from neuro_igc.benchmark._run import DEFAULT_SETTINGS, METHODS, PAPER_SETTINGS

__all__ = ["main", "build_parser", "DEFAULT_CLI_SAMPLES"]

logger = logging.getLogger(__name__)

#: images per experiment of a default command-line run (about 5 minutes on 2 CPU cores)
DEFAULT_CLI_SAMPLES = 2000

#: sizes of a --dry-run (checks the wiring of a configuration in seconds)
DRY_RUN = {"n_samples": 100, "n_steps": 4, "model_train": 128, "model_epochs": 1, "model_samples": 32,
           "model_steps": 4, "model_seeds": 2, "model_keep": 1, "bsc_fraction": 0.2, "bsc_baselines": 1,
           "n_mc": 2000}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="neuro-igc benchmark",
        description="The synthetic benchmark of Lelievre & Chen (Section 4): Exp. A-D, every "
        "dataset-wise attribution method, scored against the ground truth.",
    )
    p.add_argument("--exp", nargs="+", default=list(EXPERIMENTS), metavar="X",
                   help="experiments to run (A B C D; default: all)")
    p.add_argument("--methods", nargs="+", default=None, metavar="NAME",
                   help=f"methods (default: all of {', '.join(METHODS)})")
    p.add_argument("--n-samples", type=int, default=None,
                   help=f"images per experiment (default {DEFAULT_CLI_SAMPLES}; "
                   f"{PAPER_SETTINGS['n_samples']} with --paper-settings)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--paper-settings", action="store_true",
                   help="the paper's settings (100k samples, 512 trapezoid steps, 8 baselines; 10 models "
                   "trained, the 5 best averaged): for a GPU")
    p.add_argument("--dry-run", action="store_true",
                   help="shrink every size to check a configuration in seconds (no meaningful scores)")
    p.add_argument("--steps", type=int, default=None, help="IG quadrature nodes through the statistics")
    p.add_argument("--baselines", type=int, default=None, help="random baselines per sample")
    p.add_argument("--model-train", type=int, default=None, help="training images per model")
    p.add_argument("--model-epochs", type=int, default=None, help="training epochs per model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--batch-size", type=int, default=None, help="memory budget of the attribution engine")
    p.add_argument("--no-digits", action="store_true", help="skip the digits (categorical) example")
    p.add_argument("--steps-study", action="store_true",
                   help="run the step study (paths x rules x steps, Exp. A-C) instead of the method comparison")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def _settings(args) -> tuple[int, dict, int]:
    base = dict(PAPER_SETTINGS) if args.paper_settings else dict(DEFAULT_SETTINGS)
    n_samples = base.pop("n_samples", DEFAULT_CLI_SAMPLES)
    n_mc = 20_000
    if args.dry_run:
        dry = dict(DRY_RUN)
        n_samples, n_mc = dry.pop("n_samples"), dry.pop("n_mc")
        dry["model_seeds"] = min(dry["model_seeds"], base["model_seeds"])
        base.update(dry)
    for key, value in (("n_steps", args.steps), ("baselines", args.baselines),
                       ("model_train", args.model_train), ("model_epochs", args.model_epochs)):
        if value is not None:
            base[key] = value
    if args.n_samples is not None:
        n_samples = args.n_samples
    return n_samples, base, n_mc


def main(argv: list[str] | None = None) -> int:
    """Run ``neuro-igc benchmark``; return the exit status."""
    args = build_parser().parse_args(argv)
    if args.steps_study:
        return _steps_study(args)
    from neuro_igc.benchmark._report import plot_benchmark, write_tables
    from neuro_igc.benchmark._run import run_benchmark
    from neuro_igc.benchmark._scoring import paper_comparison

    n_samples, settings, n_mc = _settings(args)
    out = Path(args.out)
    try:
        table, maps = run_benchmark(
            experiments=args.exp, n_samples=n_samples, seed=args.seed, methods=args.methods,
            device=args.device, batch_size=args.batch_size, progress=not args.no_progress,
            return_maps=True, n_mc=n_mc, **settings,
        )
    except ValueError as exc:
        print(f"neuro-igc benchmark: error: {exc}", file=sys.stderr)
        return 2
    paper = paper_comparison(table)
    paths = write_tables(table, out, paper=paper)
    experiments = list(dict.fromkeys(table["experiment"]))
    methods = list(dict.fromkeys(table["method"]))
    paths["png"] = plot_benchmark(maps, out / "benchmark_maps.png", experiments=experiments,
                                  methods=methods, table=table)
    with atomic_path(out / "benchmark_maps.npz") as tmp:
        np.savez_compressed(tmp, **{f"{e}|{m}": v for (e, m), v in maps.items()})
    paths["npz"] = out / "benchmark_maps.npz"
    if not args.no_digits:
        from neuro_igc.benchmark._digits import digits_igc, plot_digits_igc

        epochs = 1 if args.dry_run else 30
        res = digits_igc(epochs=epochs, n_steps=4 if args.dry_run else 16, seed=args.seed,
                         device=args.device, progress=not args.no_progress)
        paths["digits"] = plot_digits_igc(res, out / "digits_igc.png")
        print(f"digits classifier: validation accuracy {res.accuracy:.3f}")
    cols = ["experiment", "method", "truth_corr", "magnitude", "sign_agreement", "overlap_ratio",
            "unreliable_ratio", "paper_value", "truth_value", "seconds"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if len(paper):
        print("\nOurs beside the paper's figures:")
        print(paper.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for kind, path in paths.items():
        print(f"wrote {path}")
    return 0


def _steps_study(args) -> int:
    from neuro_igc.benchmark._report import write_tables
    from neuro_igc.benchmark._steps import (
        STEP_STUDY_DEFAULTS,
        plot_step_study,
        run_step_study,
        steps_summary,
        write_step_report,
    )

    opts = dict(STEP_STUDY_DEFAULTS)
    exps = [e for e in args.exp if e != "D"] if args.exp != list(EXPERIMENTS) else list(opts["experiments"])
    n_samples = args.n_samples if args.n_samples is not None else opts["n_samples"]
    steps = opts["steps"]
    n_mc, n_std = 20_000, 10_000
    if args.dry_run:
        n_samples, steps, n_mc, n_std = 8, (2, 4), 500, 200
    if args.steps is not None:
        steps = tuple(s for s in (2, 4, 8, 16, 32, 64, 128, 256, 512) if s <= args.steps)
    settings = dict(experiments=exps, n_samples=n_samples, steps=steps, paths=opts["paths"], rules=opts["rules"],
                    baselines=args.baselines or opts["baselines"], method=opts["method"],
                    max_sigma=opts["max_sigma"], n_mc=n_mc, seed=args.seed, n_standardize=n_std)
    try:
        table = run_step_study(device=args.device, batch_size=args.batch_size, progress=not args.no_progress,
                               **settings)
    except ValueError as exc:
        print(f"neuro-igc benchmark: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    summary = steps_summary(table)
    paths = write_tables(table, out, stem="steps_study")
    paths.update({f"summary {k}": v for k, v in write_tables(summary, out, stem="steps_summary").items()})
    paths["png"] = plot_step_study(table, out / "steps_study.png")
    shown = {k: (" ".join(map(str, v)) if isinstance(v, (list, tuple)) else v) for k, v in settings.items()}
    paths["report"] = write_step_report(table, out, figure="steps_study.png", settings=shown)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for kind, path in paths.items():
        print(f"wrote {path}")
    return 0
