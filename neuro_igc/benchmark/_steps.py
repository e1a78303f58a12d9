"""The step study: how IG and IGC depend on the number of steps, for every path and rule.

In the spirit of Singhi & Kumari's Fig. 4 (IG-based methods and IDGI against the number of
Riemann steps, on ImageNet), but on the benchmark's planted ground truth (Exp. A-C), which they
did not have. For every experiment, path (``"straight"``, ``"blur"``, ``"guided"``), rule
(``"quadrature"``, ``"idgi"``) and number of steps, one per-sample IG run through the
experiment's true statistic gives both maps:

- ``IG``: the mean over samples of per-sample IG (the naive dataset-wise map);
- ``IGC``: ``mean_i IG_i (y_i - mean y) / (sd(f) sd(y))`` (what :func:`~neuro_igc.attribution.igc`
  computes from the same IG; the study takes it from the per-sample IG so that both maps share
  one run).

and the table holds, per row:

- ``completeness_error``: the relative mean absolute completeness gap of the per-sample IG,
  ``sum_i |sum_j IG_ij - (f(x_i) - f(start_i))| / sum_i |f(x_i) - f(start_i)|`` (IDGI: zero up to
  rounding by construction);
- ``corr_with_ref``: the map's correlation over pixels with its own version at the largest
  number of steps (``max(steps)``, 128 by default): how far from converged it is;
- ``truth_corr``: the map's correlation with the experiment's ground truth (recovery).

:func:`steps_summary` reads off, per experiment, kind, path and rule, the fewest steps reaching a
1 % completeness error and a 0.99 correlation with the reference; :func:`write_step_report` writes
the summary, the figure and every row as one Markdown report.

Time: the default size (:data:`STEP_STUDY_DEFAULTS`: Exp. A-C, 32 images, 2 baselines, 2 to 128
steps, three paths, two rules; 252 IG runs) took 1 min 44 s of wall time on a 2-core CPU shared
with other work (``neuro-igc benchmark --steps-study``); most of it is the guided path (one forward
and backward pass per step, all paths of a batch walked together) and Exp. C's statistic.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from neuro_igc._utils import Interval, check_option, check_param

__all__ = ["run_step_study", "steps_summary", "plot_step_study", "write_step_report", "STEP_STUDY_DEFAULTS",
           "STEP_STUDY_COLUMNS"]

logger = logging.getLogger(__name__)

#: the default size (the module docstring gives the time it takes)
STEP_STUDY_DEFAULTS: dict = {
    "experiments": ("A", "B", "C"),
    "n_samples": 32,
    "baselines": 2,
    "steps": (2, 4, 8, 16, 32, 64, 128),
    "paths": ("straight", "blur", "guided"),
    "rules": ("quadrature", "idgi"),
    "method": "gauss-legendre",
    "max_sigma": 20.0,
}

#: columns of the table of :func:`run_step_study`
STEP_STUDY_COLUMNS = ("experiment", "kind", "path", "rule", "n_steps", "completeness_error", "corr_with_ref",
                      "truth_corr", "seconds")


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a.ravel() - a.mean()
    b = b.ravel() - b.mean()
    den = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b / den) if den > 0 else float("nan")


def run_step_study(experiments: Sequence[str] = STEP_STUDY_DEFAULTS["experiments"],
                   n_samples: int = STEP_STUDY_DEFAULTS["n_samples"],
                   steps: Sequence[int] = STEP_STUDY_DEFAULTS["steps"],
                   paths: Sequence[str] = STEP_STUDY_DEFAULTS["paths"],
                   rules: Sequence[str] = STEP_STUDY_DEFAULTS["rules"], *,
                   baselines: int = STEP_STUDY_DEFAULTS["baselines"],
                   method: str = STEP_STUDY_DEFAULTS["method"],
                   max_sigma: float = STEP_STUDY_DEFAULTS["max_sigma"], n_mc: int = 20_000, seed: int = 0,
                   device=None, batch_size: int | None = None, progress: bool = False,
                   return_maps: bool = False, n_standardize: int = 10_000):
    """Completeness, convergence and recovery of IG and IGC maps against the number of steps.

    Parameters
    ----------
    experiments : sequence of {"A", "B", "C"}, default=("A", "B", "C")
        Exp. D (categorical) is left out: its class-probability statistic is the same kind of
        function as Exp. C's.
    n_samples : int, default=32
        Images per experiment.
    steps : sequence of int, default=(2, 4, 8, 16, 32, 64, 128)
        Numbers of steps; the largest is the reference of ``corr_with_ref``.
    paths : sequence of {"straight", "blur", "guided"}
    rules : sequence of {"quadrature", "idgi"}
    baselines : int, default=2
        Baselines per sample drawn from the images (straight and guided paths).
    method : str, default="gauss-legendre"
        The quadrature's nodes and cells (see ``neuro_igc.attribution.quadrature``).
    max_sigma : float, default=20.0
        The blur path's starting blur (pixels; the images are 64 px).
    n_mc : int, default=20_000
        Images for the ground-truth densities of Exp. B and C.
    seed : int, default=0
    device, batch_size, progress
        Passed to :func:`neuro_igc.attribution.ig`.
    n_standardize : int, default=10_000
        Images measuring each statistic's mean and SD (see ``make_experiment``).
    return_maps : bool, default=False
        Also return ``{(experiment, kind, path, rule, n_steps): map}`` and the ground truths
        under ``(experiment, "truth")``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`STEP_STUDY_COLUMNS`, one row per (experiment, kind, path, rule, n_steps).

    Examples
    --------
    >>> table = run_step_study(["A"], n_samples=16, steps=(2, 4), paths=["straight"],
    ...                        n_mc=200)  # doctest: +SKIP
    """
    from neuro_igc.attribution import PATHS, RULES, BlurPath, ig
    from neuro_igc.benchmark._experiments import make_experiment
    from neuro_igc.benchmark._run import _SEED_OFFSET

    for e in experiments:
        check_option("experiments", e, ("A", "B", "C"))
    for p in paths:
        check_option("paths", p, PATHS)
    for r in rules:
        check_option("rules", r, RULES)
    steps = sorted({int(s) for s in steps})
    if not steps or steps[0] < 1:
        raise ValueError(f"Invalid value for 'steps': positive integers are needed; got {steps!r}.")
    check_param("n_samples", n_samples, Interval(numbers.Integral, 4))
    rows, maps = [], {}
    for name in experiments:
        experiment = make_experiment(name, n_standardize=int(n_standardize)).eval()
        data = experiment.sample(int(n_samples), seed=int(seed) + _SEED_OFFSET[name])
        truth = experiment.ground_truth(n_mc=int(n_mc))
        maps[(name, "truth")] = truth
        x = data.x  # float32, the statistics' own precision (IDGI's completeness then holds to ~1e-7)
        y = data.y.double().numpy().reshape(-1)
        model = experiment
        size = experiment.size
        # IGC's weights from the model's outputs: the same for every path, rule and number of steps
        f = np.asarray(experiment_outputs(model, x), dtype=float)
        w = (y - y.mean()) / (len(y) * f.std() * y.std())
        for path in paths:
            p = BlurPath(max_sigma) if path == "blur" else path
            for rule in rules:
                found = {}
                for n in steps:
                    start = time.perf_counter()
                    res = ig(model, x, baselines=int(baselines), n_steps=n, method=method, rule=rule, path=p,
                             seed=seed, device=device, batch_size=batch_size, progress=progress, warn=False)
                    seconds = time.perf_counter() - start
                    per = np.asarray(res.attributions, dtype=float).reshape(int(n_samples), -1)
                    found[n] = {"IG": per.mean(0).reshape(size, size), "IGC": (w @ per).reshape(size, size),
                                "err": float(np.max(res.ig_error_relative)), "s": seconds}
                ref = found[steps[-1]]
                for n in steps:
                    for kind in ("IG", "IGC"):
                        amap = found[n][kind]
                        maps[(name, kind, path, rule, n)] = amap
                        rows.append({"experiment": name, "kind": kind, "path": path, "rule": rule, "n_steps": n,
                                     "completeness_error": found[n]["err"],
                                     "corr_with_ref": _corr(amap, ref[kind]),
                                     "truth_corr": _corr(amap, np.asarray(truth, dtype=float)),
                                     "seconds": found[n]["s"]})
                logger.info("step study: Exp. %s, %s path, %s rule done", name, path, rule)
    table = pd.DataFrame(rows, columns=list(STEP_STUDY_COLUMNS))
    return (table, maps) if return_maps else table


def experiment_outputs(model, x):
    import torch

    with torch.no_grad():
        return model(x)[:, 0].double().numpy()


def steps_summary(table: pd.DataFrame, tol: float = 0.01, converged: float = 0.99) -> pd.DataFrame:
    """Per (experiment, kind, path, rule): the fewest steps reaching each target.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment, kind, path, rule``, ``steps_complete`` (fewest steps with
        ``completeness_error <= tol``; NaN if none), ``steps_converged`` (fewest steps with
        ``corr_with_ref >= converged``, the reference itself excluded), and ``truth_corr_ref``
        (the recovery at the largest number of steps).
    """
    out = []
    keys = ["experiment", "kind", "path", "rule"]
    for key, g in table.groupby(keys, sort=False):
        g = g.sort_values("n_steps")
        top = g["n_steps"].max()
        ok = g[g["completeness_error"] <= tol]["n_steps"]
        conv = g[(g["corr_with_ref"] >= converged) & (g["n_steps"] < top)]["n_steps"]
        out.append(dict(zip(keys, key), steps_complete=float(ok.min()) if len(ok) else math.nan,
                        steps_converged=float(conv.min()) if len(conv) else math.nan,
                        truth_corr_ref=float(g[g["n_steps"] == top]["truth_corr"].iloc[0])))
    return pd.DataFrame(out)


def plot_step_study(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """One row per measure (completeness error, correlation with the reference, recovery), one
    column per experiment; a line per (path, rule), IGC solid and IG dashed. Written atomically."""
    from neuro_igc._utils import new_figure, save_figure

    experiments = list(dict.fromkeys(table["experiment"]))
    measures = [("completeness_error", "completeness error (relative)", True),
                ("corr_with_ref", "corr. with max-step map", False),
                ("truth_corr", "corr. with ground truth", False)]
    fig = new_figure("The step study's figure", figsize=(4.2 * len(experiments), 9.5))
    axes = fig.subplots(len(measures), len(experiments), squeeze=False)
    colors = {"straight": "C0", "blur": "C1", "guided": "C2"}
    markers = {"quadrature": "o", "idgi": "s"}
    for j, name in enumerate(experiments):
        sub = table[table["experiment"] == name]
        for i, (col, label, log) in enumerate(measures):
            ax = axes[i][j]
            for (kind, pth, rule), g in sub.groupby(["kind", "path", "rule"], sort=False):
                if col == "completeness_error" and kind == "IGC":
                    continue  # the same per-sample IG: one line per (path, rule)
                g = g.sort_values("n_steps")
                vals = g[col].to_numpy(dtype=float)
                if log:
                    vals = np.maximum(vals, 1e-17)
                ax.plot(g["n_steps"], vals, color=colors.get(pth, "k"), marker=markers.get(rule, "x"), ms=3,
                        ls="-" if kind == "IGC" or col == "completeness_error" else "--",
                        label=f"{kind} {pth} {rule}" if col != "completeness_error" else f"{pth} {rule}")
            ax.set_xscale("log", base=2)
            if log:
                ax.set_yscale("log")
                ax.axhline(0.01, color="grey", lw=0.8, ls=":")
            if i == 0:
                ax.set_title(f"Exp. {name}")
            if j == 0:
                ax.set_ylabel(label)
            if i == len(measures) - 1:
                ax.set_xlabel("steps")
    axes[0][-1].legend(fontsize=6, loc="best")
    axes[1][-1].legend(fontsize=5, loc="best", ncol=2)
    fig.tight_layout()
    return save_figure(fig, path)


def write_step_report(table: pd.DataFrame, out_dir: str | os.PathLike, *, figure: str | os.PathLike | None = None,
                      settings: dict | None = None, tol: float = 0.01, converged: float = 0.99) -> Path:
    """The step study's report, ``steps_report.md`` in ``out_dir`` (written atomically).

    It holds the summary of :func:`steps_summary` (fewest steps to a ``tol`` completeness error and
    to a ``converged`` correlation with the largest-step map; recovery there), the figure of
    :func:`plot_step_study` (``figure``, linked relative to ``out_dir``) and every row of ``table``.

    Returns
    -------
    Path of the report.
    """
    from neuro_igc._utils import atomic_write_text
    from neuro_igc.benchmark._report import table_to_markdown

    out_dir = Path(out_dir)
    top = int(table["n_steps"].max())
    lines = ["# The step study", "",
             "IG and IGC through each experiment's true statistic, for every path and rule, against the "
             "number of steps (`neuro_igc.benchmark.run_step_study`). `completeness_error`: relative mean "
             "absolute completeness gap of the per-sample IG; `corr_with_ref`: the map's correlation with "
             f"its own {top}-step version; `truth_corr`: its correlation with the planted ground truth.", ""]
    if settings:
        lines += ["Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()) + ".", ""]
    lines += [f"## Fewest steps to a {tol:g} completeness error and to a {converged:g} correlation with the "
              f"{top}-step map", "",
              f"`steps_complete`: empty where no number of steps up to {top} reaches it; `steps_converged`: "
              f"where none below {top} does (the {top}-step map is the reference); `truth_corr_ref`: the "
              f"recovery at {top} steps.", "",
              table_to_markdown(steps_summary(table, tol=tol, converged=converged)), ""]
    if figure is not None:
        rel = os.path.relpath(Path(figure), out_dir) if Path(figure).is_absolute() else str(figure)
        lines += ["## Figure", "",
                  f"![Rows: completeness error, correlation with the {top}-step map, correlation with the "
                  f"ground truth; columns: experiments; IGC solid, IG dashed]({Path(rel).as_posix()})", ""]
    lines += ["## Every run", "", table_to_markdown(table), ""]
    return atomic_write_text(out_dir / "steps_report.md", "\n".join(lines))
