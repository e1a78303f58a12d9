"""``run_benchmark``: every method on every experiment, scored against the ground truth.

Methods (:data:`METHODS`), all but the last computed through the experiment's *true
differentiable statistic* (``neuro_igc.benchmark.ExperimentA`` ...) with ``neuro_igc.attribution``:

``"IG mean"``, ``"IG SD"``
    Mean and standard deviation over the samples of per-sample IG (``naive_ig``).
``"IGC"``, ``"IGaC"``
    ``igc`` against the true outputs ``y`` (which carry the hidden randomness of Exp. C and D) and
    ``igac`` (auto-correlation, no ``y``).
``"correlation"``, ``"t-test"``
    Data-only maps: per-pixel correlation with ``y`` and a two-sample t-test (first vs last decile
    of ``y``; for Exp. D class 0 against the others).
``"BSC"``
    Baseline-Shapley correlation on ``bsc_fraction`` of the samples (the paper: 10 %).
``"IGC (model)"``
    IGC of encoding ConvNeXts of the zoo trained on fresh samples ``(x, y)`` of the experiment
    (``model_seeds`` trained, the attributions of the ``model_keep`` best averaged, as the paper),
    computed on ``model_samples`` further samples.

Exp. D is categorical: its maps are those of class 0 (the paper's "a"), IGC uses the integer
labels (per-class IGC), the statistic's and the model's outputs are class probabilities.

Baselines: every chunk of ``baseline_chunk`` samples gets its own ``baselines`` images drawn from
the data, and the chunks are pooled exactly (see ``neuro_igc.benchmark._pooled``): one shared set
of 8 baselines makes the Exp. B and C ratios depend on that one draw far more than on the number
of samples.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from neuro_igc._utils import check_option
from neuro_igc.benchmark._experiments import EXPERIMENTS, BenchmarkData, make_experiment
from neuro_igc.benchmark._pooled import chunk_plan, pooled_correlation_map, pooled_naive_ig, predict
from neuro_igc.benchmark._scoring import PAPER_VALUES, SCORE_COLUMNS, score_map

__all__ = ["run_benchmark", "METHODS", "DEFAULT_SETTINGS", "PAPER_SETTINGS", "TABLE_COLUMNS"]

logger = logging.getLogger(__name__)

#: method name -> how its map is computed (function name in this module)
METHODS: dict[str, str] = {
    "IG mean": "_method_ig_mean",
    "IG SD": "_method_ig_sd",
    "IGC": "_method_igc",
    "IGaC": "_method_igac",
    "correlation": "_method_correlation",
    "t-test": "_method_ttest",
    "BSC": "_method_bsc",
    "IGC (model)": "_method_model",
}

#: settings of a CPU run (about a minute per experiment on 2 cores with the default n_samples)
DEFAULT_SETTINGS: dict = {
    "baselines": 8,
    "n_steps": 16,
    "quadrature": "gauss-legendre",
    "baseline_chunk": 100,
    "bsc_fraction": 0.1,
    "bsc_baselines": 8,
    "bsc_permutations": 1,
    "model_train": 4000,
    "model_epochs": 8,
    "model_samples": 500,
    "model_baselines": 4,
    "model_steps": 8,
    "model_seeds": 1,
    "model_keep": 1,
    "model_config": {"stem_width": 8, "widths": (16, 32, 64, 128), "depth": 1, "hidden": 64,
                     "drop_path": 0.0, "dropout": 0.1},
    "model_batch_size": 64,
    "model_lr": 1e-3,
}

#: the paper's settings (Table A1, appendix A.5): 100k samples, 512 steps, 8 baselines; models
#: trained on 100k samples (50 epochs, 100 for Exp. D), IGC (model) on 10k samples with 64 steps,
#: 10 seeds of which the 5 best are averaged. Meant for a GPU.
PAPER_SETTINGS: dict = {
    "n_samples": 100_000,
    "baselines": 8,
    "n_steps": 512,
    "quadrature": "gauss-legendre",
    "baseline_chunk": 100,
    "bsc_fraction": 0.1,
    "bsc_baselines": 8,
    "bsc_permutations": 1,
    "model_train": 100_000,
    "model_epochs": 50,
    "model_samples": 10_000,
    "model_baselines": 8,
    "model_steps": 64,
    "model_seeds": 10,
    "model_keep": 5,
    "model_config": {"stem_width": 16, "widths": (32, 64, 128, 256), "depth": 3, "hidden": 128,
                     "drop_path": 0.5, "dropout": 0.25},
    "model_batch_size": 64,
    "model_lr": 1e-3,
}

#: columns of the table returned by :func:`run_benchmark`
TABLE_COLUMNS = (
    "experiment", "method", *SCORE_COLUMNS, "paper_value", "truth_value", "ig_error", "igc_error",
    "model_score", "n_samples", "seconds",
)

_SEED_OFFSET = {"A": 0, "B": 1_000_003, "C": 2_000_003, "D": 3_000_017}


def _engine():
    """The attribution functions, with a clear error while ``neuro_igc.attribution`` lacks them."""
    import neuro_igc.attribution as attribution

    names = ("igc", "igac", "naive_ig", "bsc", "correlation_map", "ttest_map")
    missing = [n for n in names if not hasattr(attribution, n)]
    if missing:
        raise ImportError(
            "run_benchmark needs neuro_igc.attribution." + ", ".join(missing)
            + ", which this installation does not provide; update neuro_igc."
        )
    return attribution


class _ClassProbabilities(nn.Module):
    """Exponentiate a log-softmax classifier: attributions are taken on class probabilities."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).exp()


class _LogSoftmax(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.model(x), dim=1)


@dataclass
class _Context:
    name: str
    experiment: nn.Module
    data: BenchmarkData
    settings: dict
    seed: int
    device: object
    batch_size: int | None
    progress: bool
    cache: dict = field(default_factory=dict)
    output: int = 0  # Exp. D: the maps of class 0 (the paper's "a")

    @property
    def engine(self):
        return _engine()

    def engine_kwargs(self, n_steps: int | None = None) -> dict:
        s = self.settings
        return {"n_steps": int(n_steps or s["n_steps"]), "method": s["quadrature"], "seed": self.seed,
                "batch_size": self.batch_size, "device": self.device}

    def plan(self, n: int, n_baselines: int | None = None, seed: int = 0):
        return chunk_plan(n, int(self.settings["baseline_chunk"]), int(n_baselines or self.settings["baselines"]),
                          self.seed + seed)

    def target(self, y: torch.Tensor) -> np.ndarray:
        """What the engine centres: ``y``, or the class indicator for labels."""
        y = y.numpy()
        return (y == self.output).astype(float) if self.experiment.categorical else y.astype(float)

    def fx(self) -> np.ndarray:
        if "fx" not in self.cache:
            self.cache["fx"] = predict(self.experiment, self.data.x, self.output, device=self.device)
        return self.cache["fx"]


def _map(attributions, size: int = 64) -> np.ndarray:
    return np.asarray(attributions, dtype=float).reshape(size, size)


def _diag(res: dict) -> dict:
    return {k: res[k] for k in ("ig_error", "igc_error") if k in res}


def _naive(ctx: _Context) -> dict:
    if "naive" not in ctx.cache:
        n = ctx.data.x.shape[0]
        ctx.cache["naive"] = pooled_naive_ig(
            ctx.engine.naive_ig, ctx.experiment, ctx.data.x, ctx.plan(n), ctx.output, progress=ctx.progress,
            desc=f"Exp. {ctx.name} naive IG", **ctx.engine_kwargs(),
        )
    return ctx.cache["naive"]


def _method_ig_mean(ctx: _Context):
    res = _naive(ctx)
    return _map(res["mean"], ctx.experiment.size), _diag(res)


def _method_ig_sd(ctx: _Context):
    res = _naive(ctx)
    return _map(res["sd"], ctx.experiment.size), _diag(res)


def _method_igc(ctx: _Context):
    n = ctx.data.x.shape[0]
    res = pooled_correlation_map(
        ctx.engine.igc, ctx.experiment, ctx.data.x, ctx.data.y, ctx.target(ctx.data.y), ctx.fx(), ctx.plan(n),
        ctx.output, progress=ctx.progress, desc=f"Exp. {ctx.name} IGC", warn=False, **ctx.engine_kwargs(),
    )
    return _map(res["map"], ctx.experiment.size), _diag(res)


def _method_igac(ctx: _Context):
    n = ctx.data.x.shape[0]
    res = pooled_correlation_map(
        ctx.engine.igac, ctx.experiment, ctx.data.x, None, ctx.fx(), ctx.fx(), ctx.plan(n), ctx.output,
        progress=ctx.progress, desc=f"Exp. {ctx.name} IGaC", warn=False, **ctx.engine_kwargs(),
    )
    return _map(res["map"], ctx.experiment.size), _diag(res)


def _method_correlation(ctx: _Context):
    # integer labels (Exp. D) give one map per class: correlation with the class indicator
    res = ctx.engine.correlation_map(ctx.data.x, ctx.data.y)
    return _map(np.asarray(res.attributions)[ctx.output], ctx.experiment.size), {}


def _method_ttest(ctx: _Context):
    # last vs first decile of y; for labels, each class against the others
    res = ctx.engine.ttest_map(ctx.data.x, ctx.data.y)
    return _map(np.asarray(res.attributions)[ctx.output], ctx.experiment.size), {}


def _method_bsc(ctx: _Context):
    s = ctx.settings
    n = ctx.data.x.shape[0]
    m = min(n, max(20, int(round(float(s["bsc_fraction"]) * n))))
    idx = np.sort(np.random.default_rng(ctx.seed).choice(n, size=m, replace=False))
    # Baseline Shapley on the statistic's support pixels only: the others are dummies (exactly 0)
    support = ctx.experiment.support()
    x = ctx.data.x[idx].reshape(m, -1)[:, torch.as_tensor(support)]
    y = ctx.data.y[idx]
    kwargs = {"seed": ctx.seed, "batch_size": ctx.batch_size, "device": ctx.device,
              "n_permutations": int(s["bsc_permutations"]), "warn": False}
    res = pooled_correlation_map(
        ctx.engine.bsc, ctx.experiment.on_support(), x, y, ctx.target(y), ctx.fx()[idx],
        ctx.plan(m, n_baselines=int(s["bsc_baselines"]), seed=1),
        ctx.output, progress=ctx.progress, desc=f"Exp. {ctx.name} BSC", **kwargs,
    )
    full = np.zeros(ctx.experiment.size**2)
    full[support] = res["map"]
    return _map(full, ctx.experiment.size), {**_diag(res), "n_samples": m}


def train_models(experiment: nn.Module, settings: dict, seed: int = 0, device=None, progress: bool = True):
    """Train the zoo's encoding ConvNeXt on fresh samples of ``experiment`` (for "IGC (model)").

    Returns
    -------
    models : list of nn.Module
        The ``model_keep`` best of ``model_seeds`` models, wrapped to return class probabilities
        for a categorical experiment; eval mode.
    scores : np.ndarray
        Validation score of every trained model (Pearson r, or accuracy for Exp. D).
    """
    from neuro_igc.models import EncodingConvNeXt, fit_ensemble

    n_train = int(settings["model_train"])
    n_val = max(64, n_train // 10)
    data = experiment.sample(n_train + n_val, seed=seed + 77)
    y = data.y
    if experiment.categorical:
        loss, y = "nll", y.long()
    else:
        loss, y = "mse", ((y - y[:n_train].mean()) / y[:n_train].std()).float()[:, None]
    train = torch.utils.data.TensorDataset(data.x[:n_train], y[:n_train])
    val = torch.utils.data.TensorDataset(data.x[n_train:], y[n_train:])
    config = dict(settings["model_config"])

    def factory(s):
        torch.manual_seed(s)
        net = EncodingConvNeXt(experiment.n_outputs, input_size=experiment.size, **config)
        return _LogSoftmax(net) if experiment.categorical else net

    res = fit_ensemble(
        factory, train, val, n_models=int(settings["model_seeds"]), keep=int(settings["model_keep"]),
        seed=seed, loss=loss, epochs=int(settings["model_epochs"]),
        batch_size=int(settings["model_batch_size"]), lr=float(settings["model_lr"]),
        device=device, progress=progress,
    )
    models = [(_ClassProbabilities(m) if experiment.categorical else m).eval() for m in res.models]
    return models, np.asarray(res.scores)


def _method_model(ctx: _Context):
    s = ctx.settings
    models, scores = train_models(ctx.experiment, s, seed=ctx.seed, device=ctx.device, progress=ctx.progress)
    n = min(int(s["model_samples"]), ctx.data.x.shape[0])
    x, y = ctx.data.x[:n], ctx.data.y[:n]
    plan = ctx.plan(n, n_baselines=int(s["model_baselines"]), seed=2)
    maps, diags = [], []
    for k, model in enumerate(models):
        fx = predict(model, x, ctx.output, device=ctx.device)
        res = pooled_correlation_map(
            ctx.engine.igc, model, x, y, ctx.target(y), fx, plan, ctx.output, progress=ctx.progress,
            desc=f"Exp. {ctx.name} IGC (model {k})", warn=False, **ctx.engine_kwargs(int(s["model_steps"])),
        )
        maps.append(res["map"])
        diags.append(res)
    diag = {key: float(np.nanmax([d[key] for d in diags])) for key in ("ig_error", "igc_error")}
    diag["model_score"] = float(np.nanmax(scores))
    diag["n_samples"] = n
    return _map(np.mean(maps, axis=0), ctx.experiment.size), diag


def _check_settings(n_samples, experiments, methods, settings) -> tuple[list, list]:
    if isinstance(experiments, str):
        experiments = [experiments]
    experiments = [str(e).upper() for e in experiments]
    if not experiments:
        raise ValueError(f"Invalid value for 'experiments': choose one or more of {list(EXPERIMENTS)}; got none.")
    for e in experiments:
        check_option("experiments", e, EXPERIMENTS)
    methods = list(METHODS) if methods is None else ([methods] if isinstance(methods, str) else list(methods))
    for m in methods:
        check_option("methods", m, METHODS)
    if not isinstance(n_samples, (int, np.integer)) or int(n_samples) < 20:
        raise ValueError(
            f"Invalid value for 'n_samples': at least 20 samples are needed (deciles, correlations); "
            f"got {n_samples!r}."
        )
    unknown = set(settings) - set(DEFAULT_SETTINGS)
    if unknown:
        raise ValueError(
            f"Invalid setting(s) {sorted(unknown)}: allowed are {sorted(DEFAULT_SETTINGS)}."
        )
    for key in ("baselines", "n_steps", "baseline_chunk", "bsc_baselines", "model_train", "model_epochs", "model_samples", "model_baselines",
                "model_steps", "model_seeds", "model_keep", "bsc_permutations"):
        if key in settings and int(settings[key]) < 1:
            raise ValueError(f"Invalid value for {key!r}: must be >= 1; got {settings[key]!r}.")
    if "bsc_fraction" in settings and not 0 < float(settings["bsc_fraction"]) <= 1:
        raise ValueError(f"Invalid value for 'bsc_fraction': must be in (0, 1]; got {settings['bsc_fraction']!r}.")
    return experiments, methods


def run_benchmark(
    experiments: Sequence[str] = ("A", "B", "C", "D"),
    n_samples: int = 10_000,
    seed: int = 0,
    *,
    methods: Sequence[str] | None = None,
    device=None,
    batch_size: int | None = None,
    progress: bool = True,
    return_maps: bool = False,
    n_mc: int = 20_000,
    **settings,
):
    """Run the paper's synthetic benchmark and score every map against the ground truth.

    Parameters
    ----------
    experiments : sequence of {"A", "B", "C", "D"}, default=("A", "B", "C", "D")
    n_samples : int, default=10_000
        Images per experiment for the methods computed through the true statistic (>= 20).
    seed : int, default=0
        Seeds the images, hidden randomness, baselines and models.
    methods : sequence of str, optional
        Subset of :data:`METHODS` (default: all).
    device : str or torch.device, optional
        Default: CUDA when available, else CPU.
    batch_size : int, optional
        Memory budget of the attribution engine.
    progress : bool, default=True
        tqdm bars of the engine and of training.
    return_maps : bool, default=False
        Also return the maps: ``{(experiment, method): (H, W) array}``, the ground truth under
        method ``"ground truth"``.
    n_mc : int, default=20_000
        Images used to estimate the ground-truth densities of Exp. B and C.
    **settings
        Overrides of :data:`DEFAULT_SETTINGS` (``baselines``, ``n_steps``, ``quadrature``,
        ``bsc_fraction``, ``bsc_baselines``, ``bsc_permutations``, ``model_train``, ``model_epochs``,
        ``model_samples``, ``model_baselines``, ``model_steps``, ``model_seeds``, ``model_keep``,
        ``model_config``, ``model_batch_size``, ``model_lr``); see :data:`PAPER_SETTINGS`.

    Returns
    -------
    table : pandas.DataFrame
        One row per (experiment, method), columns :data:`TABLE_COLUMNS`: the scores
        (``truth_corr``, ``sign_agreement`` for Exp. A, ``overlap_ratio`` for Exp. B,
        ``unreliable_ratio`` for Exp. C and D), the paper's value of the experiment's ratio where
        it gives one (``paper_value``), the ground truth's own ratio (``truth_value``), the
        engine's diagnostics, the trained model's validation score, samples used and seconds.
    maps : dict, only with ``return_maps=True``

    Examples
    --------
    >>> table = run_benchmark(["A"], n_samples=200, methods=["IGC", "IG mean"], n_steps=4,
    ...                       progress=False)  # doctest: +SKIP
    >>> list(table["method"])  # doctest: +SKIP
    ['IGC', 'IG mean']
    """
    experiments, methods = _check_settings(n_samples, experiments, methods, settings)
    merged = {**DEFAULT_SETTINGS, **settings}
    rows, maps = [], {}
    for name in experiments:
        experiment = make_experiment(name).eval()
        exp_seed = int(seed) + _SEED_OFFSET[name]
        data = experiment.sample(int(n_samples), seed=exp_seed)
        truth = experiment.ground_truth(n_mc=int(n_mc))
        regions = experiment.regions()
        truth_scores = score_map(name, truth, truth, regions, signed=experiment.signed_truth)
        truth_value = truth_scores["overlap_ratio"] if name == "B" else truth_scores["unreliable_ratio"]
        maps[(name, "ground truth")] = truth
        ctx = _Context(name, experiment, data, merged, int(seed), device, batch_size, progress)
        for method in methods:
            logger.info("Exp. %s: %s", name, method)
            start = time.perf_counter()
            amap, diag = globals()[METHODS[method]](ctx)
            seconds = time.perf_counter() - start
            maps[(name, method)] = amap
            row = {"experiment": name, "method": method}
            row.update(score_map(name, amap, truth, regions, signed=experiment.signed_truth))
            row["paper_value"] = PAPER_VALUES.get((name, method), math.nan)
            row["truth_value"] = truth_value
            row["ig_error"] = diag.get("ig_error", math.nan)
            row["igc_error"] = diag.get("igc_error", math.nan)
            row["model_score"] = diag.get("model_score", math.nan)
            row["n_samples"] = int(diag.get("n_samples", int(n_samples)))
            row["seconds"] = seconds
            rows.append(row)
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    return (table, maps) if return_maps else table
