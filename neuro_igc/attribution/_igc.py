"""Public attribution functions: ig, igc, igac, igc_categorical, naive_ig."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn

from neuro_igc import _distributed as dist
from neuro_igc._utils import resolve_device
from neuro_igc.attribution._data import check_targets, is_categorical, make_baselines, make_source
from neuro_igc.attribution._engine import Engine, prepared_model
from neuro_igc.attribution._factorize import SWITCHES
from neuro_igc.attribution._quadrature import check_method, check_steps
from neuro_igc.attribution._result import AttributionAccuracyWarning, AttributionResult, NaiveIG

__all__ = ["ig", "igc", "igac", "igc_categorical", "naive_ig", "IGC_ERROR_WARN"]

#: the paper's advice (Section 3.4): |sum of IGC - correlation| should stay below this
IGC_ERROR_WARN = 0.01

# defaults of the n_steps="auto" search
_AUTO = {"auto_tol": 0.01, "auto_max_steps": 512, "auto_start": 8, "probe_size": 32}

_COMMON_DOC = """
    model : torch.nn.Module
        Maps ``(n, *input_shape)`` to ``(n, n_outputs)`` (or ``(n,)``). Put in eval mode during the
        run (and restored); parameters are frozen while attributing (``freeze``).
    baselines : int, (n_baselines, *input_shape) array-like or "zeros", default=8
        An int draws that many distinct samples of ``x`` (seeded by ``seed``); an array is used
        as it is. Either way the same baseline set serves every sample.
    n_steps : int or "auto", default=16
        Quadrature points per path. ``"auto"`` doubles the steps (from ``auto_start``) on a probe
        of ``probe_size`` samples until the relative IG error is below ``auto_tol``; the steps
        chosen are in ``result.settings["n_steps"]``.
    method : str, default="gauss-legendre"
        "gauss-legendre", "riemann-trapezoid" (n_steps points from 0 to 1 inclusive),
        "riemann-middle", "riemann-left" or "riemann-right" (see ``QUADRATURE_RULES``).
    seed : int, default=0
        Seeds the baseline draw and the ``"auto"`` probe.
    batch_size : int, optional
        Memory budget: the number of (sample, baseline, step) path points evaluated at once,
        times the number of targets when their gradients are batched. Results do not depend on it.
    device : str or torch.device, optional
        Default: CUDA when available, else CPU. The model is moved there and back.
    output_idx : int or sequence of int, optional
        The model outputs to attribute (default: all).
    extra : dict of str to (n, ...) tensors, optional
        Per-sample keyword inputs of the model, not attributed (e.g. ``{"subject": LongTensor}``);
        each path is evaluated with its sample's values. A Dataset yielding ``(x, y, subject)``
        fills ``extra["subject"]``.
    model_kwargs : dict, optional
        Constant keyword arguments of the model (e.g. ``{"subject": 0}``).
    progress : bool, default=True
        A tqdm bar with the running IG error.
    output_transform : {"softmax", "exp", "sigmoid"} or callable, optional
        Applied to the model's outputs before attribution (e.g. logits or log-probabilities to
        probabilities for categorical IGC).
    input_linear, readout : bool or "auto", default="auto"
        Exact factorizations through the model's first linear map and its linear readout
        (declared with the protocol of ``neuro_igc.models._layers`` or found in an
        ``nn.Sequential``). "auto" uses them when they reduce the work.
    vjp : {"auto", "batched", "loop"}, default="auto"
        One forward pass per chunk, then the targets' vector-Jacobian products batched
        (``is_grads_batched``) or in a loop. "auto": batched, except convolutional models on CPU.
    freeze : bool, default=True
        Set ``requires_grad=False`` on the parameters during the run (restored after).
    distributed : {"auto", True, False}, default="auto"
        Inside an initialised ``torch.distributed`` process group of several processes (e.g.
        under ``torchrun``), each rank attributes its own block of the samples on its own device
        (``cuda`` becomes ``cuda:LOCAL_RANK``) and the float64 sums are all-reduced once: every
        rank gets the single-process result (to float64 summation order). ``True`` also
        initialises the group from the ``torchrun`` environment; ``False`` stays in this process.
        Progress bars and warnings come from rank 0 only.
"""


def _docstring(fn):
    fn.__doc__ = fn.__doc__.replace("    {common}\n", _COMMON_DOC.strip("\n") + "\n")
    return fn


def _prepare(model, x, y, *, need_y, baselines, n_steps, method, seed, batch_size, device, output_idx,
             extra, model_kwargs, progress, output_transform, input_linear, readout, vjp, freeze, desc,
             distributed="auto"):
    if not isinstance(model, nn.Module):
        raise TypeError(f"Invalid value for 'model': expected a torch.nn.Module; got {type(model).__name__}.")
    check_method(method)
    if n_steps != "auto":
        check_steps(n_steps, method)
    if freeze not in SWITCHES[:2]:
        raise ValueError(f"Invalid value for 'freeze': allowed are True, False; got {freeze!r}.")
    src = make_source(x, y, extra, need_y=need_y)
    base, base_info = make_baselines(baselines, src, seed)
    dev = resolve_device(device)
    sharded = dist.resolve(distributed)  # distributed: each rank on its own device, rank 0 shows progress
    if sharded:
        dev = dist.rank_device(dev)
        progress = progress and dist.is_main()
    start = 8 if n_steps == "auto" else n_steps
    kwargs = dict(method=method, n_steps=start, output_idx=output_idx, device=dev, batch_size=batch_size,
                  model_kwargs=model_kwargs, output_transform=output_transform, input_linear=input_linear,
                  readout=readout, vjp=vjp, progress=progress, desc=desc, distributed=sharded)
    return src, base, base_info, dev, kwargs


def _auto_steps(engine: Engine, n_steps, *, seed, auto_tol, auto_max_steps, probe_size, auto_start) -> dict:
    """Double the steps on a probe subset until the relative IG error is below ``auto_tol``."""
    if n_steps != "auto":
        return {}
    if not 0 < auto_tol < 1:
        raise ValueError(f"Invalid value for 'auto_tol': expected a number in (0, 1); got {auto_tol!r}.")
    rng = np.random.default_rng(seed + 1)
    probe = np.sort(rng.choice(engine.src.n, size=min(probe_size, engine.src.n), replace=False))
    steps = max(auto_start, 2 if engine.method == "riemann-trapezoid" else 1)
    history = []
    while True:
        engine.set_steps(engine.method, steps)
        err = float(np.max(engine.run(subset=probe, desc=f"probe {steps} steps")["ig_error"]))
        history.append([steps, err])
        if err < auto_tol or steps >= auto_max_steps:
            break
        steps *= 2
    if err >= auto_tol and dist.is_main():
        warnings.warn(
            f"n_steps='auto' stopped at {steps} steps with a relative IG error of {err:.3g} (> auto_tol="
            f"{auto_tol}); raise auto_max_steps or check the model for non-smooth activations.",
            AttributionAccuracyWarning, stacklevel=3,
        )
    return {"n_steps_requested": "auto", "auto_tol": auto_tol, "auto_history": history,
            "probe_indices": probe.tolist()}


def _std_checks(values: np.ndarray, name: str, what: str, outputs: list[int]) -> np.ndarray:
    sd = values.std(0)
    bad = [outputs[j] for j in np.flatnonzero(sd <= 1e-12 * np.maximum(1.0, np.abs(values).max(0)))]
    if bad:
        raise ValueError(
            f"{what} has zero variance for outputs {bad}: the correlation (and IGC) is undefined there. "
            f"Leave them out with 'output_idx' or check {name}."
        )
    return sd


def _dataset_wise(kind: str, model, x, y, *, categorical: bool, warn: bool, auto: dict, **kw) -> AttributionResult:
    src, base, base_info, dev, ekw = _prepare(model, x, y, need_y=kind != "igac", desc=kind.upper(), **kw)
    if src.n < 2:
        raise ValueError(f"Invalid value for 'x': {kind.upper()} needs at least 2 samples (it is a correlation); got {src.n}.")
    with prepared_model(model, dev, kw["freeze"]):
        engine = Engine(model, src, base, **ekw)
        fx = engine.predict().cpu().numpy()
        if kind == "igac":
            yv = fx
        else:
            categorical = categorical or is_categorical(src.y)
            if categorical and not is_categorical(src.y):
                raise ValueError("Invalid value for 'y': categorical IGC needs integer class labels (n_samples,).")
            yv = check_targets(src.y, engine.n_outputs, engine.idx, categorical)
        sdf = _std_checks(fx, "the model", "The model's prediction", engine.idx)
        sdy = _std_checks(yv, "'y'", "'y'", engine.idx)
        n = src.n
        w = torch.as_tensor(yv - yv.mean(0), device=dev)
        auto_info = _auto_steps(engine, kw["n_steps"], seed=kw["seed"], **auto)
        out = engine.run(weights=w)
    scale = 1.0 / (n * sdf * sdy)
    att = (out["S"].cpu().numpy() * scale[:, None]).reshape(engine.O, *src.input_shape)
    corr = ((fx - fx.mean(0)) * (yv - yv.mean(0))).mean(0) / (sdf * sdy)
    if kind == "igac":
        corr = np.ones(engine.O)
    igc_err = np.abs(att.reshape(engine.O, -1).sum(1) - corr)
    settings = {"kind": kind + ("-categorical" if categorical and kind == "igc" else ""),
                "n_samples": n, "input_shape": list(src.input_shape), "seed": kw["seed"],
                "batch_size": kw["batch_size"], "output_idx": engine.idx,
                "output_transform": _name(kw["output_transform"]), **base_info, **engine.describe(), **auto_info}
    res = AttributionResult(att, correlation=corr, ig_error=out["ig_error"], igc_error=igc_err, settings=settings,
                            baseline_term=out["cw"].cpu().numpy() * scale)
    if warn and dist.is_main():
        _warn(res)
    return res


def _name(value) -> str | None:
    return None if value is None else (value if isinstance(value, str) else getattr(value, "__name__", repr(value)))


def _warn(res: AttributionResult) -> None:
    bad = np.flatnonzero(res.igc_error > IGC_ERROR_WARN)
    if bad.size:
        outs = [res.output_idx[j] for j in bad]
        hint = ""
        if res.baseline_term is not None and np.abs(res.baseline_term[bad]).max() > IGC_ERROR_WARN / 2:
            hint = (" Part of it is the baseline term (per-sample extra inputs change mean f(baselines)); "
                    "attribute one subject at a time to remove it.")
        ig_err = "" if res.ig_error is None else f", IG error {np.max(res.ig_error):.3g}"
        warnings.warn(
            f"IGC error above {IGC_ERROR_WARN} for outputs {outs} (max {res.igc_error.max():.3g}{ig_err}): "
            f"raise n_steps (or use n_steps='auto') or the number of samples.{hint}",
            AttributionAccuracyWarning, stacklevel=3,
        )


@_docstring
def igc(model: nn.Module, x, y=None, baselines=8, n_steps: int | str = 16, method: str = "gauss-legendre",
        seed: int = 0, batch_size: int | None = None, device=None, output_idx=None,
        extra: Mapping | None = None, model_kwargs: Mapping | None = None, progress: bool = True, *,
        output_transform: str | Callable | None = None, input_linear="auto", readout="auto",
        vjp: str = "auto", freeze: bool = True, warn: bool = True, auto_tol: float = 0.01,
        auto_max_steps: int = 512, auto_start: int = 8, probe_size: int = 32,
        distributed="auto") -> AttributionResult:
    """Integrated Gradient Correlation: dataset-wise attribution maps that sum to corr(f(x), y).

    With ``IG_ij`` the IG of sample i, component j, averaged over the baseline set,
    ``IGC_j = mean_i[IG_ij (y_i - mean(y))] / (sd(f(x)) sd(y))`` (population SDs), per output.

    Identity: by completeness ``sum_j IG_ij = f(x_i) - c_i`` with ``c_i = mean_k f(b_k)``, so
    ``sum_j IGC_j = corr(f(x), y) - cov(c, y) / (sd(f) sd(y))`` up to the quadrature error.
    The baseline set is shared by all samples, so ``c_i`` is one constant and its covariance with
    ``y`` is zero: the maps sum to the correlation. Only per-sample ``extra`` inputs that change
    ``f(b_k)`` (several subjects' weights) make ``c_i`` vary; that covariance is reported as
    ``result.baseline_term`` (attribute one subject at a time to make it vanish).

    Parameters
    ----------
    x : (n_samples, *input_shape) array-like or torch Dataset
        The inputs; a map-style Dataset may yield ``(x, y)`` or ``(x, y, subject)``.
    y : (n_samples,) or (n_samples, n_outputs) array-like, optional
        True outputs (columns matching the model's outputs or ``output_idx``). Integer labels
        ``(n_samples,)`` make this categorical IGC (see :func:`igc_categorical`). Taken from the
        Dataset when omitted.
    {common}
    warn : bool, default=True
        Warn (``AttributionAccuracyWarning``) when ``igc_error > 0.01`` for some output.
    auto_tol, auto_max_steps, auto_start, probe_size
        Settings of ``n_steps="auto"`` (tolerance on the relative IG error, step cap, first
        number of steps, probe size).

    Returns
    -------
    AttributionResult
        ``attributions`` (n_outputs, *input_shape), ``correlation``, ``ig_error``, ``igc_error``,
        ``baseline_term``, ``settings``.

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(200, 5, dtype=torch.float64)
    >>> model = torch.nn.Linear(5, 1).double()
    >>> y = 2 * x[:, 0] + 0.1 * torch.randn(200, dtype=torch.float64)
    >>> res = igc(model, x, y, baselines=4, n_steps=2, progress=False)
    >>> bool(abs(res.attributions.sum() - res.correlation[0]) < 1e-8)
    True
    """
    return _dataset_wise("igc", model, x, y, categorical=False, warn=warn,
                         auto=dict(auto_tol=auto_tol, auto_max_steps=auto_max_steps, probe_size=probe_size,
                                   auto_start=auto_start),
                         baselines=baselines, n_steps=n_steps, method=method, seed=seed, batch_size=batch_size,
                         device=device, output_idx=output_idx, extra=extra, model_kwargs=model_kwargs,
                         progress=progress, output_transform=output_transform, input_linear=input_linear,
                         readout=readout, vjp=vjp, freeze=freeze, distributed=distributed)


@_docstring
def igc_categorical(model: nn.Module, x, labels=None, baselines=8, n_steps: int | str = 16,
                    method: str = "gauss-legendre", seed: int = 0, batch_size: int | None = None, device=None,
                    output_idx=None, extra: Mapping | None = None, model_kwargs: Mapping | None = None,
                    progress: bool = True, *, output_transform: str | Callable | None = "softmax",
                    **options) -> AttributionResult:
    """Per-class IGC of a classifier (the paper's Section 3.3).

    Class k's map is IGC of the model's class-k output ``p_k`` against the one-hot indicator
    ``y_k = [label == k]``, so it sums to ``corr(p_k, y_k)`` (``result.correlation[k]``).
    By default the outputs are turned into probabilities with a softmax
    (``output_transform="softmax"``; use "exp" for a log-softmax model, None for raw outputs).

    Parameters
    ----------
    x : (n_samples, *input_shape) array-like or torch Dataset
    labels : (n_samples,) int array-like
        Class labels in ``0..n_classes-1`` (taken from the Dataset when omitted).
    {common}
    **options
        Further keywords of :func:`igc` (``warn``, ``vjp``, ``auto_tol``, ...).

    Returns
    -------
    AttributionResult
        ``attributions`` (n_classes, *input_shape), one map per class (``output_idx``).
    """
    auto = {k: options.pop(k) for k in ("auto_tol", "auto_max_steps", "auto_start", "probe_size") if k in options}
    auto = {**_AUTO, **auto}
    warn = options.pop("warn", True)
    return _dataset_wise("igc", model, x, labels, categorical=True, warn=warn, auto=auto,
                         baselines=baselines, n_steps=n_steps, method=method, seed=seed, batch_size=batch_size,
                         device=device, output_idx=output_idx, extra=extra, model_kwargs=model_kwargs,
                         progress=progress, output_transform=output_transform,
                         **{"input_linear": "auto", "readout": "auto", "vjp": "auto", "freeze": True, **options})


@_docstring
def igac(model: nn.Module, x, baselines=8, n_steps: int | str = 16, method: str = "gauss-legendre",
         seed: int = 0, batch_size: int | None = None, device=None, output_idx=None,
         extra: Mapping | None = None, model_kwargs: Mapping | None = None, progress: bool = True,
         **options) -> AttributionResult:
    """Integrated Gradient auto-Correlation: IGC with ``y`` replaced by the predictions ``f(x)``.

    Needs no true outputs; the maps sum to 1 per output (``corr(f, f)``, up to the quadrature
    error and ``baseline_term``, as in :func:`igc`).

    Parameters
    ----------
    x : (n_samples, *input_shape) array-like or torch Dataset
    {common}
    **options
        Further keywords of :func:`igc`.

    Returns
    -------
    AttributionResult
        ``correlation`` is all ones.
    """
    auto = {k: options.pop(k) for k in ("auto_tol", "auto_max_steps", "auto_start", "probe_size") if k in options}
    auto = {**_AUTO, **auto}
    warn = options.pop("warn", True)
    return _dataset_wise("igac", model, x, None, categorical=False, warn=warn, auto=auto,
                         baselines=baselines, n_steps=n_steps, method=method, seed=seed, batch_size=batch_size,
                         device=device, output_idx=output_idx, extra=extra, model_kwargs=model_kwargs,
                         progress=progress, **{"output_transform": None, "input_linear": "auto", "readout": "auto",
                                                "vjp": "auto", "freeze": True, **options})


def _per_sample_run(kind, model, x, consumer_factory, **kw):
    src, base, base_info, dev, ekw = _prepare(model, x, None, need_y=False, desc=kind, **kw)
    with prepared_model(model, dev, kw["freeze"]):
        engine = Engine(model, src, base, **ekw)
        engine.predict()
        auto_info = _auto_steps(engine, kw["n_steps"], seed=kw["seed"], **_AUTO)
        consumer, finish = consumer_factory(src, engine)
        out = engine.run(per_sample=consumer)
    settings = {"kind": kind, "n_samples": src.n, "input_shape": list(src.input_shape), "seed": kw["seed"],
                "batch_size": kw["batch_size"], "output_idx": engine.idx,
                "output_transform": _name(kw["output_transform"]), **base_info, **engine.describe(), **auto_info}
    return finish(out["ig_error"], settings)


@_docstring
def ig(model: nn.Module, x, baselines=8, n_steps: int | str = 16, method: str = "gauss-legendre", seed: int = 0,
       batch_size: int | None = None, device=None, output_idx=None, extra: Mapping | None = None,
       model_kwargs: Mapping | None = None, progress: bool = True, *,
       output_transform: str | Callable | None = None, input_linear="auto", readout="auto", vjp: str = "auto",
       freeze: bool = True, distributed="auto") -> AttributionResult:
    """Per-sample Integrated Gradients, averaged over the baseline set.

    ``IG_ij = mean_k (x_ij - b_kj) * integral_0^1 d f(b_k + t (x_i - b_k)) / d x_j dt``; by
    completeness ``sum_j IG_ij = f(x_i) - mean_k f(b_k)`` up to the quadrature error.

    Parameters
    ----------
    x : (n_samples, *input_shape) array-like or torch Dataset
    {common}

    Returns
    -------
    AttributionResult
        ``attributions`` of shape (n_samples, n_outputs, *input_shape) and ``ig_error``
        (``settings["kind"] == "ig"``).
    """
    def factory(src, engine):
        store = np.zeros((src.n, engine.O, engine.m))

        def consume(idx, values):
            store[idx] = values.cpu().numpy()

        def finish(ig_error, settings):
            values = store
            if engine.dist:  # each rank filled its own samples' rows; the others are zeros
                values = dist.all_reduce_sums({"ig": torch.from_numpy(store)}, what="IG")["ig"].numpy()
            return AttributionResult(values.reshape(src.n, engine.O, *src.input_shape), ig_error=ig_error,
                                     settings=settings)

        return consume, finish

    return _per_sample_run("ig", model, x, factory, baselines=baselines, n_steps=n_steps, method=method, seed=seed,
                           batch_size=batch_size, device=device, output_idx=output_idx, extra=extra,
                           model_kwargs=model_kwargs, progress=progress, output_transform=output_transform,
                           input_linear=input_linear, readout=readout, vjp=vjp, freeze=freeze,
                           distributed=distributed)


def _merge(state: dict, nb: int, bmean: torch.Tensor, bm2: torch.Tensor) -> None:
    """Chan et al.'s pairwise merge of (count, mean, M2) into ``state``."""
    if nb == 0:
        return
    n0 = state["n"]
    tot = n0 + nb
    d = bmean - state["mean"]
    state["mean"] = state["mean"] + d * (nb / tot)
    state["m2"] = state["m2"] + bm2 + d**2 * (n0 * nb / tot)
    state["n"] = tot


@_docstring
def naive_ig(model: nn.Module, x, baselines=8, n_steps: int | str = 16, method: str = "gauss-legendre", seed: int = 0,
             batch_size: int | None = None, device=None, output_idx=None, extra: Mapping | None = None,
             model_kwargs: Mapping | None = None, progress: bool = True, *,
             output_transform: str | Callable | None = None, input_linear="auto", readout="auto",
             vjp: str = "auto", freeze: bool = True, distributed="auto") -> NaiveIG:
    """Naive dataset-wise aggregations of IG: the mean and the standard deviation over samples.

    Streams over samples (per-sample IG is never stored for the whole dataset); the SD is the
    population standard deviation (not the variance), merged batch by batch in float64.

    Parameters
    ----------
    x : (n_samples, *input_shape) array-like or torch Dataset
    {common}

    Returns
    -------
    NaiveIG
        ``(mean, sd)``, two AttributionResult with maps of shape (n_outputs, *input_shape)
        (kinds "ig-mean" and "ig-sd").
    """

    def factory(src, engine):
        state = {"n": 0, "mean": torch.zeros(engine.O, engine.m, dtype=torch.float64, device=engine.device)}
        state["m2"] = torch.zeros_like(state["mean"])

        def consume(idx, values):
            bmean = values.mean(0)
            _merge(state, values.shape[0], bmean, ((values - bmean) ** 2).sum(0))

        def finish(ig_error, settings):
            if engine.dist:  # merge the ranks' (count, mean, M2) in rank order, the same on every rank
                parts = dist.gather_tensors({"n": torch.tensor([float(state["n"])]), "mean": state["mean"],
                                             "m2": state["m2"]}, what="naive IG")
                state.update(n=0, mean=torch.zeros_like(state["mean"]), m2=torch.zeros_like(state["m2"]))
                for n_r, mean_r, m2_r in zip(parts["n"][:, 0].tolist(), parts["mean"], parts["m2"]):
                    _merge(state, int(n_r), mean_r.to(state["mean"].device), m2_r.to(state["mean"].device))
            shape = (engine.O, *src.input_shape)
            mean = state["mean"].cpu().numpy().reshape(shape)
            sd = np.sqrt(state["m2"].cpu().numpy() / state["n"]).reshape(shape)
            return NaiveIG(AttributionResult(mean, ig_error=ig_error, settings={**settings, "kind": "ig-mean"}),
                           AttributionResult(sd, ig_error=ig_error, settings={**settings, "kind": "ig-sd"}))

        return consume, finish

    return _per_sample_run("ig-naive", model, x, factory, baselines=baselines, n_steps=n_steps, method=method,
                           seed=seed, batch_size=batch_size, device=device, output_idx=output_idx, extra=extra,
                           model_kwargs=model_kwargs, progress=progress, output_transform=output_transform,
                           input_linear=input_linear, readout=readout, vjp=vjp, freeze=freeze,
                           distributed=distributed)
