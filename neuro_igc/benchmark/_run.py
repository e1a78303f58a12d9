"""``run_benchmark``: every method on every experiment, scored against the ground truth.

Methods (:data:`METHODS`, a registry of name -> function of a :class:`MethodContext`), all but
the last computed through the experiment's *true differentiable statistic*
(``neuro_igc.benchmark.ExperimentA`` ...) with the public ``neuro_igc.attribution`` functions:

``"IG mean"``, ``"IG SD"``
    Mean and standard deviation over the samples of per-sample IG (``naive_ig``).
``"IG variance"``
    The variance of per-sample IG: what the paper's "IG SD" column holds (the authors' code
    returns the variance), so its Exp. B ratio is the one to compare with the paper's 0.57.
``"IGC"``, ``"IGaC"``
    ``igc`` against the true outputs ``y`` (which carry the hidden randomness of Exp. C and D) and
    ``igac`` (auto-correlation, no ``y``).
``"correlation"``, ``"t-test"``
    Data-only maps: per-pixel correlation with ``y`` and Student's two-sample t statistic between
    the images with standardized ``y`` below ``Phi^-1(0.1)`` and above ``Phi^-1(0.9)`` (Exp. D:
    class 0 against the others).
``"BSC"``
    Baseline-Shapley correlation on ``bsc_fraction`` of the samples (the paper: 10 %).
``"IGC (model)"``
    IGC of encoding ConvNeXts of the zoo trained on fresh samples ``(x, y)`` of the experiment:
    ``model_seeds`` models trained with different seeds, the maps of the ``model_keep`` best (by
    validation score) averaged, as the paper does; computed on ``model_samples`` samples.

Exp. D is categorical: its maps are those of class 0 (the paper's "a"); IGC uses the integer
labels (per-class IGC), the statistic's and the model's outputs are class probabilities.

Baselines are an int (``baselines``, 8 as in the paper) handed to the engine, which draws them
from the data.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from neuro_igc._utils import check_option
from neuro_igc.benchmark._experiments import EXPERIMENTS, BenchmarkData, make_experiment
from neuro_igc.benchmark._scoring import PAPER_VALUES, SCORE_COLUMNS, magnitude, score_map

__all__ = ["run_benchmark", "METHODS", "DEFAULT_SETTINGS", "PAPER_SETTINGS", "TABLE_COLUMNS", "MethodContext",
           "train_models"]

logger = logging.getLogger(__name__)

#: settings of a CPU run (the command line's default size runs in about 5 minutes on 2 cores)
DEFAULT_SETTINGS: dict = {
    "baselines": 8,
    "n_steps": 16,
    "quadrature": "riemann-trapezoid",
    "bsc_fraction": 0.05,
    "bsc_baselines": 2,
    "bsc_permutations": 1,
    "model_train": 4000,
    "model_epochs": 8,
    "model_samples": 1000,
    "model_baselines": 8,
    "model_steps": 8,
    "model_seeds": 3,
    "model_keep": 2,
    "model_config": {"stem_width": 8, "widths": (16, 32, 64, 128), "depth": 1, "hidden": 64,
                     "drop_path": 0.0, "dropout": 0.1},
    "model_batch_size": 64,
    "model_lr": 1e-3,
}

#: the paper's settings (Table A1, appendix A.5): 100k samples, 512 steps, 8 baselines; models
#: trained on 100k samples (50 epochs), IGC (model) on 10k samples with 64 steps, 10 seeds of
#: which the 5 best are averaged. Meant for a GPU.
PAPER_SETTINGS: dict = {
    "n_samples": 100_000,
    "baselines": 8,
    "n_steps": 512,
    "quadrature": "riemann-trapezoid",
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

# methods whose maps are correlation maps (IGC-like): their magnitude is taken times sd(f)
_CORRELATION_MAPS = ("IGC", "IGaC", "BSC")


def _engine():
    """The attribution functions, with a clear error while ``neuro_igc.attribution`` lacks them."""
    import neuro_igc.attribution as attribution

    names = ("igc", "igac", "naive_ig", "bsc", "correlation_map", "model_outputs")
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
class MethodContext:
    """What a method of :data:`METHODS` gets: one experiment, its data and the run's settings."""

    name: str
    experiment: nn.Module
    data: BenchmarkData
    settings: dict
    seed: int
    device: object = None
    batch_size: int | None = None
    progress: bool = True
    cache: dict = field(default_factory=dict)
    output: int = 0  # Exp. D: the maps of class 0 (the paper's "a")

    @property
    def engine(self):
        return _engine()

    def engine_kwargs(self, n_steps: int | None = None, baselines: int | None = None) -> dict:
        s = self.settings
        return {"baselines": int(baselines or s["baselines"]), "n_steps": int(n_steps or s["n_steps"]),
                "method": s["quadrature"], "seed": self.seed, "batch_size": self.batch_size,
                "device": self.device, "output_idx": self.output, "progress": self.progress}

    def fx(self) -> np.ndarray:
        """``f(x)`` of the attributed output on every sample, float64 ``(n,)``."""
        if "fx" not in self.cache:
            f = self.engine.model_outputs(self.experiment, self.data.x, output_idx=self.output,
                                          batch_size=self.batch_size, device=self.device, progress=False)
            self.cache["fx"] = f[:, 0]
        return self.cache["fx"]


def _map(attributions, size: int = 64) -> np.ndarray:
    return np.asarray(attributions, dtype=float).reshape(size, size)


def _diag(res) -> dict:
    out = {}
    for key in ("ig_error", "igc_error"):
        value = getattr(res, key, None)
        if value is not None:
            out[key] = float(np.nanmax(np.asarray(value, dtype=float)))
    return out


def _naive(ctx: MethodContext):
    if "naive" not in ctx.cache:
        ctx.cache["naive"] = ctx.engine.naive_ig(ctx.experiment, ctx.data.x, **ctx.engine_kwargs())
    return ctx.cache["naive"]


def _method_ig_mean(ctx: MethodContext):
    res = _naive(ctx)
    return _map(res.mean.attributions, ctx.experiment.size), _diag(res.mean)


def _method_ig_sd(ctx: MethodContext):
    res = _naive(ctx)
    return _map(res.sd.attributions, ctx.experiment.size), _diag(res.sd)


def _method_ig_variance(ctx: MethodContext):
    res = _naive(ctx)
    return _map(np.asarray(res.sd.attributions, dtype=float) ** 2, ctx.experiment.size), _diag(res.sd)


def _method_igc(ctx: MethodContext):
    res = ctx.engine.igc(ctx.experiment, ctx.data.x, ctx.data.y, warn=False, **ctx.engine_kwargs())
    return _map(np.asarray(res.attributions)[0], ctx.experiment.size), _diag(res)


def _method_igac(ctx: MethodContext):
    res = ctx.engine.igac(ctx.experiment, ctx.data.x, warn=False, **ctx.engine_kwargs())
    return _map(np.asarray(res.attributions)[0], ctx.experiment.size), _diag(res)


def _method_correlation(ctx: MethodContext):
    # integer labels (Exp. D) give one map per class: correlation with the class indicator
    res = ctx.engine.correlation_map(ctx.data.x, ctx.data.y)
    return _map(np.asarray(res.attributions)[ctx.output], ctx.experiment.size), {}


def ttest_groups(y, categorical: bool, output: int = 0, low: float = 0.1, high: float = 0.9):
    """The two groups of the benchmark's t-test, boolean ``(n,)`` each: (high, low).

    Continuous ``y``: standardized (mean 0, SD 1 on the samples), above ``Phi^-1(high)`` and
    below ``Phi^-1(low)``; labels: class ``output`` against all others.
    """
    from scipy.stats import norm

    y = np.asarray(y)
    if categorical:
        return y == output, y != output
    z = (y - y.mean()) / y.std()
    return z > norm.ppf(high), z < norm.ppf(low)


def _method_ttest(ctx: MethodContext):
    from scipy.stats import ttest_ind

    hi, lo = ttest_groups(ctx.data.y.numpy(), ctx.experiment.categorical, ctx.output)
    if hi.sum() < 2 or lo.sum() < 2:
        raise ValueError(
            f"Exp. {ctx.name}: the t-test groups hold {int(hi.sum())} and {int(lo.sum())} samples; at least 2 "
            "each are needed. Use more samples ('n_samples')."
        )
    x = ctx.data.x.reshape(ctx.data.x.shape[0], -1).double().numpy()
    t = ttest_ind(x[hi], x[lo], axis=0, equal_var=True).statistic
    return _map(np.nan_to_num(t), ctx.experiment.size), {}


def _method_bsc(ctx: MethodContext):
    s = ctx.settings
    n = ctx.data.x.shape[0]
    m = min(n, max(20, int(round(float(s["bsc_fraction"]) * n))))
    idx = np.sort(np.random.default_rng(ctx.seed).choice(n, size=m, replace=False))
    # Baseline Shapley on the statistic's support pixels only: the others are dummies (exactly 0)
    support = ctx.experiment.support()
    x = ctx.data.x[idx].reshape(m, -1)[:, torch.as_tensor(support)]
    res = ctx.engine.bsc(ctx.experiment.on_support(), x, ctx.data.y[idx], baselines=int(s["bsc_baselines"]),
                         n_permutations=int(s["bsc_permutations"]), seed=ctx.seed, batch_size=ctx.batch_size,
                         device=ctx.device, output_idx=ctx.output, progress=ctx.progress, warn=False)
    full = np.zeros(ctx.experiment.size**2)
    full[support] = np.asarray(res.attributions, dtype=float)[0].reshape(-1)
    return _map(full, ctx.experiment.size), {**_diag(res), "n_samples": m}


def train_models(experiment: nn.Module, settings: dict, seed: int = 0, device=None, progress: bool = True):
    """Train the zoo's encoding ConvNeXt on fresh samples of ``experiment`` (for "IGC (model)").

    ``model_seeds`` models are trained with seeds ``seed, seed + 1, ...`` on the same
    ``model_train`` images (plus a tenth for validation) and the ``model_keep`` best kept.

    Returns
    -------
    models : list of nn.Module
        The kept models, wrapped to return class probabilities for a categorical experiment; eval
        mode.
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
        loss, y = "mse", y.float()[:, None]  # standardized already
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


def _method_model(ctx: MethodContext):
    s = ctx.settings
    models, scores = train_models(ctx.experiment, s, seed=ctx.seed, device=ctx.device, progress=ctx.progress)
    n = min(int(s["model_samples"]), ctx.data.x.shape[0])
    x, y = ctx.data.x[:n], ctx.data.y[:n]
    kwargs = ctx.engine_kwargs(n_steps=int(s["model_steps"]), baselines=int(s["model_baselines"]))
    maps, diags = [], []
    for model in models:
        res = ctx.engine.igc(model, x, y, warn=False, **kwargs)
        maps.append(np.asarray(res.attributions, dtype=float)[0])
        diags.append(_diag(res))
    diag = {key: float(np.nanmax([d.get(key, math.nan) for d in diags])) for key in ("ig_error", "igc_error")}
    diag["model_score"] = float(np.nanmax(np.sort(scores)[::-1][: len(models)]))
    diag["model_scores"] = scores
    diag["n_samples"] = n
    return _map(np.mean(maps, axis=0), ctx.experiment.size), diag


#: the methods of the benchmark: name -> function(MethodContext) returning (map, diagnostics)
METHODS: dict[str, Callable[[MethodContext], tuple[np.ndarray, dict]]] = {
    "IG mean": _method_ig_mean,
    "IG SD": _method_ig_sd,
    "IG variance": _method_ig_variance,
    "IGC": _method_igc,
    "IGaC": _method_igac,
    "correlation": _method_correlation,
    "t-test": _method_ttest,
    "BSC": _method_bsc,
    "IGC (model)": _method_model,
}

_POSITIVE_INT_SETTINGS = ("baselines", "n_steps", "bsc_baselines", "model_train", "model_epochs", "model_samples",
                          "model_baselines", "model_steps", "model_seeds", "model_keep", "bsc_permutations",
                          "model_batch_size")


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
            f"Invalid value for 'n_samples': at least 20 samples are needed (t-test groups, correlations); "
            f"got {n_samples!r}."
        )
    unknown = set(settings) - set(DEFAULT_SETTINGS)
    if unknown:
        raise ValueError(
            f"Invalid setting(s) {sorted(unknown)}: allowed are {sorted(DEFAULT_SETTINGS)}."
        )
    for key in _POSITIVE_INT_SETTINGS:
        if key in settings and (isinstance(settings[key], bool) or int(settings[key]) < 1):
            raise ValueError(f"Invalid value for {key!r}: must be an int >= 1; got {settings[key]!r}.")
    if "bsc_fraction" in settings and not 0 < float(settings["bsc_fraction"]) <= 1:
        raise ValueError(f"Invalid value for 'bsc_fraction': must be in (0, 1]; got {settings['bsc_fraction']!r}.")
    merged = {**DEFAULT_SETTINGS, **settings}
    if int(merged["model_keep"]) > int(merged["model_seeds"]):
        raise ValueError(
            f"Invalid value for 'model_keep': at most 'model_seeds' = {merged['model_seeds']} models can be kept; "
            f"got {merged['model_keep']!r}."
        )
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
        (``truth_corr``; ``magnitude``; ``sign_agreement`` for Exp. A, ``overlap_ratio`` for
        Exp. B, ``unreliable_ratio`` for Exp. C and D), the paper's value of the experiment's
        ratio where it gives one (``paper_value``), the ground truth's own ratio
        (``truth_value``), the engine's diagnostics, the trained models' best validation score,
        samples used and seconds. :func:`paper_comparison` puts ours beside the paper's.
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
        ctx = MethodContext(name, experiment, data, merged, int(seed), device, batch_size, progress)
        exp_rows = []
        for method in methods:
            logger.info("Exp. %s: %s", name, method)
            start = time.perf_counter()
            amap, diag = METHODS[method](ctx)
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
            exp_rows.append(row)
        # magnitudes relative to the IG SD map, where it was computed
        sd_map = maps.get((name, "IG SD"))
        if sd_map is not None:
            sd_f = float(np.std(ctx.fx()))
            for row in exp_rows:
                scale = {"IG mean": 1.0, "IG SD": 1.0}.get(row["method"])
                if row["method"] in _CORRELATION_MAPS:
                    scale = sd_f
                if scale is not None:
                    row["magnitude"] = magnitude(maps[(name, row["method"])] * scale, sd_map)
        rows.extend(exp_rows)
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    return (table, maps) if return_maps else table
