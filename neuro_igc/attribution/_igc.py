"""Public attribution functions: ig, igc, igac, igc_categorical, naive_ig, and the reusable IGC."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from neuro_igc import _distributed as dist
from neuro_igc.attribution._bsc import bsc
from neuro_igc.attribution._data import check_targets, is_categorical
from neuro_igc.attribution._engine import Engine, prepared_model
from neuro_igc.attribution._result import AttributionAccuracyWarning, AttributionResult, NaiveIG
from neuro_igc.attribution._run import (IG_ERROR_WARN, IGC_ERROR_WARN, _corr, _name, _prepare,
                                        _reference_correlation, _settings, _std_checks, warn_errors)
from neuro_igc.attribution._settings import AttributionSettings, resolve_settings

__all__ = ["ig", "igc", "igac", "igc_categorical", "naive_ig", "model_outputs", "IGC", "IGC_ERROR_WARN",
           "IG_ERROR_WARN"]


_COMMON_DOC = """
    model : torch.nn.Module
        Maps ``(n, *input_shape)`` to ``(n, n_outputs)`` (or ``(n,)``). Put in eval mode during the
        run (and restored); parameters are frozen while attributing (``freeze``).
    settings : AttributionSettings, optional
        Settings shared between calls; the keywords below override it.

    Other Parameters
    ----------------
    baselines : int, (n_baselines, *input_shape) array-like or "zeros", default=8
        An int draws that many distinct samples of ``x`` **afresh for every sample** (the paper's
        Eq. 2), from a generator seeded by ``(seed, sample index)``: results do not depend on the
        batch size, the device or the number of processes. An array is one explicit set used for
        every sample.
    baseline_mode : {"per-sample", "shared"}, default="per-sample"
        "shared" draws one set of ``baselines`` samples (seeded by ``seed``) for all samples:
        the maps then sum exactly to the correlation, but the baselines' imprint shrinks only
        with their number, not with the number of samples. For a model close to linear the
        shared set's imprint cancels (``sum_i (y_i - mean y) = 0``) while per-sample draws add
        noise of order ``1 / sqrt(n_samples * n_baselines)``: there the shared draw is the more
        reproducible one (``benchmarks/bench_baselines.py`` measures both).
    n_steps : int or "auto", default=16
        Quadrature points per path. ``"auto"`` doubles the steps (from ``auto_start``) on a probe
        of ``probe_size`` samples until the relative IG error is below ``auto_tol``; the steps
        chosen are in ``result.settings["n_steps"]``.
    method : str, default="gauss-legendre"
        "gauss-legendre", "riemann-trapezoid" (n_steps points from 0 to 1 inclusive),
        "riemann-middle", "riemann-left" or "riemann-right" (see ``QUADRATURE_RULES``).
    seed : int, default=0
        Seeds the baselines and the ``"auto"`` probe.
    batch_size : int, optional
        Memory budget: the number of (sample, baseline, step) path points evaluated at once,
        times the number of targets when their gradients are batched. Results do not depend on it.
    device : str or torch.device, optional
        Default: CUDA when available, else CPU. The model is moved there and back.
    output_idx : int or sequence of int, optional
        The model outputs to attribute (default: all).
    output_selector : int, str or callable, optional
        For a model returning a tuple or dict: the item to attribute (``out[output_selector]``)
        or a function ``out -> (n, n_outputs) tensor``.
    output_transform : {"softmax", "exp", "sigmoid"}, callable or None, default="auto"
        Applied to the model's outputs before attribution (e.g. logits or log-probabilities to
        probabilities for categorical IGC). "auto": a softmax for :func:`igc_categorical`, none
        otherwise.
    extra : dict of str to (n, ...) tensors, optional
        Per-sample keyword inputs of the model, not attributed (e.g. ``{"subject": LongTensor}``);
        each path is evaluated with its sample's values. A Dataset yielding ``(x, y, subject)``
        fills ``extra["subject"]``.
    model_kwargs : dict, optional
        Constant keyword arguments of the model (e.g. ``{"subject": 0}``).
    reference : (x, y) or (x, y, extra) or Dataset, optional
        A reference set (the paper: the whole validation set) whose correlation ``corr(f(x), y)``
        the IGC total is compared with in ``igc_error`` (``result.reference_correlation``).
    progress : bool, default=True
        A tqdm bar with the running IG error.
    input_linear, readout : bool, "auto", a module of the model or its attribute name
        Exact factorizations through the model's first linear map and its linear readout,
        declared (the protocol of ``neuro_igc.models``), named here, or found by observing one
        forward pass; always checked on probe points (outputs and input gradients) before use.
        A found, declared or named one is used only when it reduces the work (multiply-adds per
        sample, counted with and without it, in ``result.settings["factorizations"]
        ["work_per_sample"]``); otherwise, or when it is absent or fails the check, the plain path
        is taken and the reason is in ``result.settings["factorizations"]`` and one log line.
        ``True`` forces it (an error when unavailable). Fast models have a narrow layer before a
        linear readout with more outputs than units, and a first linear layer that shrinks the
        input; the probes run once per model and settings.
    vjp : {"auto", "batched", "loop"}, default="auto"
        One forward pass per chunk, then the targets' vector-Jacobian products batched
        (``is_grads_batched``) or in a loop. "auto": batched, except convolutional models on CPU.
    freeze : bool, default=True
        Set ``requires_grad=False`` on the parameters during the run (restored after).
    warn : bool, default=True
        Warn (``AttributionAccuracyWarning``) when ``ig_error > IG_ERROR_WARN`` or
        ``igc_error > IGC_ERROR_WARN`` (0.01, the paper's targets) for some output.
    distributed : {"auto", True, False}, default="auto"
        Inside an initialised ``torch.distributed`` process group of several processes (e.g.
        under ``torchrun``), each rank attributes its own block of the samples on its own device
        (``cuda`` becomes ``cuda:LOCAL_RANK``) and the float64 sums are all-reduced once: every
        rank gets the single-process result (to float64 summation order; each sample keeps its
        own seeded baselines). ``True`` also initialises the group from the ``torchrun``
        environment; ``False`` stays in this process. Progress bars and warnings come from rank
        0 only.
    rule : {"quadrature", "idgi"}, default="quadrature"
        How the gradients along each path become attributions: ``"quadrature"`` is Integrated
        Gradients with the nodes and weights of ``method``; ``"idgi"`` (Important Direction
        Gradient Integration) gives each step's change of the output ``f`` to the components along
        the gradient's own direction, ``g * g * df / ||g||^2``, so that IG sums to ``f(x) -
        f(start)`` exactly at any number of steps (``method`` still chooses the points: each
        node's cell is bounded by the cumulative weights). IDGI is not linear in the gradient, so
        the readout and input-linear factorizations are switched off (every output costs one
        backward pass per point).
    path : {"straight", "blur", "guided"} or a path object, default="straight"
        The supporting path (the IGC paper's Section 3.1): the straight line from each baseline;
        ``"blur"`` (BlurIG) from the image blurred with a large Gaussian down to the image (image
        inputs ``(n, H, W)`` or ``(n, C, H, W)``; no baselines: ``baselines`` is not used);
        ``"guided"`` (GuidedIG) from each baseline, moving the features with the smallest
        gradients first (one path per output, so no readout factorization). ``BlurPath(max_sigma=)``
        and ``GuidedPath(fraction=, max_dist=)`` set their options. The straight and guided paths
        keep IGC's sum property as IG does; the blur path starts at each sample's own blurred image,
        so ``baseline_term`` (``cov(f(start), y) / (sd(f) sd(y))``) does not shrink with the
        number of samples and the maps sum to the correlation minus it.
    check_coupling : bool, default=True
        Check on the first samples that each output depends on its own sample only.
    auto_tol, auto_max_steps, auto_start, probe_size
        Settings of ``n_steps="auto"`` (tolerance on the relative IG error, step cap, first
        number of steps, probe size).
"""


def _docstring(fn):
    fn.__doc__ = fn.__doc__.replace("    {common}\n", _COMMON_DOC.strip("\n") + "\n")
    return fn


def _auto_steps(engine: Engine, st: AttributionSettings) -> dict:
    """Double the steps on a probe subset until the relative IG error is below ``auto_tol``."""
    if st.n_steps != "auto":
        return {}
    rng = np.random.default_rng(st.seed + 1)
    probe = np.sort(rng.choice(engine.source.n, size=min(st.probe_size, engine.source.n), replace=False))
    steps = max(st.auto_start, 2 if engine.rule.method == "riemann-trapezoid" else 1)
    history = []
    while True:
        engine.set_steps(steps)
        err = float(np.max(engine.run(subset=probe, desc=f"probe {steps} steps")["ig_error_relative"]))
        history.append([steps, err])
        if err < st.auto_tol or steps >= st.auto_max_steps:
            break
        steps *= 2
    if err >= st.auto_tol and dist.is_main():
        warnings.warn(
            f"n_steps='auto' stopped at {steps} steps with a relative IG error of {err:.3g} (> auto_tol="
            f"{st.auto_tol}); raise auto_max_steps or check the model for non-smooth activations.",
            AttributionAccuracyWarning, stacklevel=4,
        )
    return {"n_steps_requested": "auto", "auto_tol": st.auto_tol, "auto_history": history,
            "probe_indices": probe.tolist()}


def _dataset_wise(kind: str, model, x, y, st: AttributionSettings, *, categorical: bool,
                  layer_options: dict | None = None) -> AttributionResult:
    src, bl, dev, ekw, transform = _prepare(model, x, y, st, need_y=kind != "igac", desc=kind.upper(),
                                            categorical_default=categorical)
    ekw.update(layer_options or {})
    if src.n < 2:
        raise ValueError(f"Invalid value for 'x': {kind.upper()} needs at least 2 samples (it is a correlation); got {src.n}.")
    with prepared_model(model, dev, st.freeze):
        engine = Engine(model, src, bl, **ekw)
        fx = engine.predict().cpu().numpy()
        if kind == "igac":
            yv = fx
        else:
            if not categorical and is_categorical(src.y):
                # integers: class labels only when the model has one output per class
                categorical = engine.n_outputs > 1
                if categorical:
                    warnings.warn(
                        f"igc: 'y' holds integers, taken as class labels of the model's {engine.n_outputs} outputs "
                        "(categorical IGC, as igc_categorical). If they are numbers to correlate with, pass them "
                        "as floats (y.astype(float)); call igc_categorical for class labels without this warning.",
                        UserWarning, stacklevel=3)
            if categorical and not is_categorical(src.y):
                raise ValueError("Invalid value for 'y': categorical IGC needs integer class labels (n_samples,).")
            yv = check_targets(src.y, engine.n_outputs, engine.output_idx, categorical)
        sdf = _std_checks(fx, "the model", "The model's prediction", engine.output_idx)
        sdy = _std_checks(yv, "'y'", "'y'", engine.output_idx)
        n = src.n
        w = torch.as_tensor(yv - yv.mean(0), device=dev)
        auto_info = _auto_steps(engine, st)
        out = engine.run(weights=w)
        ref_corr = _reference_correlation(engine, st.reference, categorical, kind)
    scale = 1.0 / (n * sdf * sdy)
    att = (out["S"].cpu().numpy() * scale[:, None]).reshape(engine.n_attributed, *engine.attr_shape)
    corr = _corr(fx, yv) if kind != "igac" else np.ones(engine.n_attributed)
    target = corr if ref_corr is None else ref_corr
    igc_err = np.abs(att.reshape(engine.n_attributed, -1).sum(1) - target)
    settings = {"kind": ("layer-" if engine.layer is not None else "") + kind
                + ("-categorical" if categorical and kind == "igc" else ""),
                "n_samples": n, "input_shape": list(src.input_shape), "seed": st.seed,
                "batch_size": st.batch_size, "output_idx": engine.output_idx,
                "output_transform": _name(transform), **engine.baseline_info(bl), **engine.describe(), **auto_info,
                "igc_error_against": "same samples" if ref_corr is None else "reference"}
    res = AttributionResult(att, correlation=corr, ig_error=out["ig_error"], igc_error=igc_err, settings=settings,
                            baseline_term=out["cw"].cpu().numpy() * scale,
                            ig_error_relative=out["ig_error_relative"], reference_correlation=ref_corr)
    if st.warn:
        warn_errors(res)
    return res


@_docstring
def igc(model: nn.Module, x, y=None, *, settings: AttributionSettings | None = None, **options) -> AttributionResult:
    """Integrated Gradient Correlation: dataset-wise attribution maps that sum to corr(f(x), y).

    With ``IG_ij`` the IG of sample i, component j, averaged over its baselines,
    ``IGC_j = mean_i[IG_ij (y_i - mean(y))] / (sd(f(x)) sd(y))`` (population SDs), per output.

    Identity: by completeness ``sum_j IG_ij = f(x_i) - c_i`` with ``c_i = mean_k f(b_ik)``, so
    ``sum_j IGC_j = corr(f(x), y) - cov(c, y) / (sd(f) sd(y))`` up to the quadrature error. The
    second term is ``result.baseline_term``: with baselines drawn afresh per sample it is a
    random term of mean zero that shrinks with the number of samples and baselines; with one
    shared set (an explicit array or ``baseline_mode="shared"``) it is zero, except where
    per-sample ``extra`` inputs (subjects) change ``f(b_k)``.

    Parameters
    ----------
    x : (n_samples, *input_shape) array-like or torch Dataset
        The inputs; a map-style Dataset may yield ``(x, y)`` or ``(x, y, subject)``.
    y : (n_samples,) or (n_samples, n_outputs) array-like, optional
        True outputs (columns matching the model's outputs or ``output_idx``). Integer labels
        ``(n_samples,)`` make this categorical IGC (see :func:`igc_categorical`) when the model
        has more than one output, with a warning saying so; with one output they are numbers. Taken from the
        Dataset when omitted.
    {common}

    Returns
    -------
    AttributionResult
        ``attributions`` (n_outputs, *input_shape), ``correlation``, ``ig_error`` (mean absolute
        completeness gap), ``ig_error_relative``, ``igc_error`` (against ``reference`` when
        given), ``baseline_term``, ``settings``.

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(200, 5, dtype=torch.float64)
    >>> model = torch.nn.Linear(5, 1).double()
    >>> y = 2 * x[:, 0] + 0.1 * torch.randn(200, dtype=torch.float64)
    >>> res = igc(model, x, y, baselines=4, n_steps=2, progress=False)
    >>> bool(abs(res.attributions.sum() + res.baseline_term[0] - res.correlation[0]) < 1e-8)
    True
    """
    st = _settings("igc", settings, options)
    return _dataset_wise("igc", model, x, y, st, categorical=False)


@_docstring
def igc_categorical(model: nn.Module, x, labels=None, *, settings: AttributionSettings | None = None,
                    **options) -> AttributionResult:
    """Per-class IGC of a classifier (the paper's Section 3.3).

    Class k's map is IGC of the model's class-k output ``p_k`` against the one-hot indicator
    ``y_k = [label == k]``, so it sums to ``corr(p_k, y_k)`` (``result.correlation[k]``).
    By default the outputs are turned into probabilities with a softmax
    (``output_transform="auto"``; use "exp" for a log-softmax model, None for raw outputs).

    Parameters
    ----------
    x : (n_samples, *input_shape) array-like or torch Dataset
    labels : (n_samples,) int array-like
        Class labels in ``0..n_classes-1`` (taken from the Dataset when omitted).
    {common}

    Returns
    -------
    AttributionResult
        ``attributions`` (n_classes, *input_shape), one map per class (``output_idx``).
    """
    st = _settings("igc_categorical", settings, options)
    return _dataset_wise("igc", model, x, labels, st, categorical=True)


@_docstring
def igac(model: nn.Module, x, *, settings: AttributionSettings | None = None, **options) -> AttributionResult:
    """Integrated Gradient auto-Correlation: IGC with ``y`` replaced by the predictions ``f(x)``.

    Needs no true outputs; the maps sum to 1 per output (``corr(f, f)``, up to the quadrature
    error and ``baseline_term``, as in :func:`igc`).

    Parameters
    ----------
    x : (n_samples, *input_shape) array-like or torch Dataset
    {common}

    Returns
    -------
    AttributionResult
        ``correlation`` is all ones.
    """
    st = _settings("igac", settings, options)
    return _dataset_wise("igac", model, x, None, st, categorical=False)


def model_outputs(model: nn.Module, x, *, settings: AttributionSettings | None = None, **options) -> np.ndarray:
    """``f(x)``: the model's attributed outputs on every sample, as :func:`igc` correlates them.

    The same path as the attribution functions: eval mode (restored afterwards), the model's
    dtype, ``output_idx``, ``output_transform`` (its "auto" is no transform here), ``extra``
    inputs, ``batch_size``, ``device`` and ``distributed`` as in :class:`AttributionSettings`.

    Parameters
    ----------
    model : torch.nn.Module
    x : (n_samples, *input_shape) array-like or torch Dataset
    settings : AttributionSettings, optional
        Settings shared with other calls; keywords override it.

    Returns
    -------
    float64 ndarray (n_samples, n_outputs)
        One column per attributed output (``output_idx``), in sample order.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Linear(3, 2).double()
    >>> x = torch.randn(10, 3, dtype=torch.float64)
    >>> f = model_outputs(model, x, output_idx=[1], progress=False)
    >>> bool(torch.allclose(torch.as_tensor(f[:, 0]), model(x)[:, 1].detach()))
    True
    """
    # one baseline unless asked: nothing is integrated, and any x with one sample is enough
    st = _settings("model_outputs", settings, options, baselines=1)
    src, bl, dev, ekw, _ = _prepare(model, x, None, st, need_y=False, desc="f(x)")
    with prepared_model(model, dev, st.freeze):
        return Engine(model, src, bl, **ekw).predict().cpu().numpy()


def _per_sample_run(kind, model, x, consumer_factory, st: AttributionSettings, layer_options: dict | None = None):
    src, bl, dev, ekw, transform = _prepare(model, x, None, st, need_y=False, desc=kind)
    ekw.update(layer_options or {})
    with prepared_model(model, dev, st.freeze):
        engine = Engine(model, src, bl, **ekw)
        engine.predict()
        auto_info = _auto_steps(engine, st)
        consumer, finish = consumer_factory(src, engine)
        out = engine.run(per_sample=consumer)
    settings = {"kind": kind, "n_samples": src.n, "input_shape": list(src.input_shape), "seed": st.seed,
                "batch_size": st.batch_size, "output_idx": engine.output_idx,
                "output_transform": _name(transform), **engine.baseline_info(bl), **engine.describe(), **auto_info}
    return finish(out, settings)


@_docstring
def ig(model: nn.Module, x, *, settings: AttributionSettings | None = None, **options) -> AttributionResult:
    """Per-sample Integrated Gradients, averaged over each sample's baselines.

    ``IG_ij = mean_k (x_ij - b_ikj) * integral_0^1 d f(b_ik + t (x_i - b_ik)) / d x_j dt``; by
    completeness ``sum_j IG_ij = f(x_i) - mean_k f(b_ik)`` up to the quadrature error.

    Parameters
    ----------
    x : (n_samples, *input_shape) array-like or torch Dataset
    {common}

    Returns
    -------
    AttributionResult
        ``attributions`` of shape (n_samples, n_outputs, *input_shape), ``ig_error`` and
        ``ig_error_relative`` (``settings["kind"] == "ig"``).
    """
    st = _settings("ig", settings, options)
    return _ig_run("ig", model, x, st)


def _ig_run(kind: str, model, x, st: AttributionSettings, layer_options: dict | None = None) -> AttributionResult:
    """Per-sample IG (or a layer's conductances) averaged over each sample's baselines."""

    def factory(src, engine):
        store = np.zeros((src.n, engine.n_attributed, engine.n_components))

        def consume(idx, values):
            store[idx] = values.cpu().numpy()

        def finish(out, settings):
            values = store
            if engine.distributed:  # each rank filled its own samples' rows; the others are zeros
                values = dist.all_reduce_sums({"ig": torch.from_numpy(store)}, what="IG")["ig"].numpy()
            res = AttributionResult(values.reshape(src.n, engine.n_attributed, *engine.attr_shape), ig_error=out["ig_error"],
                                    ig_error_relative=out["ig_error_relative"], settings=settings)
            if st.warn:
                warn_errors(res)
            return res

        return consume, finish

    return _per_sample_run(kind, model, x, factory, st, layer_options)


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
def naive_ig(model: nn.Module, x, *, settings: AttributionSettings | None = None, **options) -> NaiveIG:
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
    st = _settings("naive_ig", settings, options)

    def factory(src, engine):
        state = {"n": 0, "mean": torch.zeros(engine.n_attributed, engine.n_components, dtype=torch.float64,
                                             device=engine.device)}
        state["m2"] = torch.zeros_like(state["mean"])

        def consume(idx, values):
            bmean = values.mean(0)
            _merge(state, values.shape[0], bmean, ((values - bmean) ** 2).sum(0))

        def finish(out, settings):
            if engine.distributed:  # merge the ranks' (count, mean, M2) in rank order, the same on every rank
                parts = dist.gather_tensors({"n": torch.tensor([float(state["n"])]), "mean": state["mean"],
                                             "m2": state["m2"]}, what="naive IG")
                state.update(n=0, mean=torch.zeros_like(state["mean"]), m2=torch.zeros_like(state["m2"]))
                for n_r, mean_r, m2_r in zip(parts["n"][:, 0].tolist(), parts["mean"], parts["m2"]):
                    _merge(state, int(n_r), mean_r.to(state["mean"].device), m2_r.to(state["mean"].device))
            shape = (engine.n_attributed, *engine.attr_shape)
            mean = state["mean"].cpu().numpy().reshape(shape)
            sd = np.sqrt(state["m2"].cpu().numpy() / state["n"]).reshape(shape)
            errs = dict(ig_error=out["ig_error"], ig_error_relative=out["ig_error_relative"])
            res = NaiveIG(AttributionResult(mean, settings={**settings, "kind": "ig-mean"}, **errs),
                          AttributionResult(sd, settings={**settings, "kind": "ig-sd"}, **errs))
            if st.warn:
                warn_errors(res.mean)
            return res

        return consume, finish

    return _per_sample_run("ig-naive", model, x, factory, st)


class IGC:
    """A model with one set of attribution settings, for several attribution functions.

    Parameters
    ----------
    model : torch.nn.Module
    **options
        Any setting of :func:`igc` (see :class:`AttributionSettings`).

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Linear(5, 2).double()
    >>> x = torch.randn(50, 5, dtype=torch.float64)
    >>> attr = IGC(model, baselines=4, n_steps=4, progress=False)
    >>> attr.igc(x, x[:, :2]).attributions.shape, attr.ig(x[:4]).attributions.shape
    ((2, 5), (4, 2, 5))
    """

    def __init__(self, model: nn.Module, *, settings: AttributionSettings | None = None, **options):
        self.model = model
        self.settings = resolve_settings("IGC", options, base=settings)

    def __repr__(self) -> str:
        return f"IGC({type(self.model).__name__}, {self.settings})"

    def _call(self, fn: Callable, *data, **options):
        return fn(self.model, *data, settings=self.settings, **options)

    def igc(self, x, y=None, **options) -> AttributionResult:
        """:func:`igc` with these settings (keywords override them)."""
        return self._call(igc, x, y, **options)

    def igc_categorical(self, x, labels=None, **options) -> AttributionResult:
        """:func:`igc_categorical` with these settings."""
        return self._call(igc_categorical, x, labels, **options)

    def igac(self, x, **options) -> AttributionResult:
        """:func:`igac` with these settings."""
        return self._call(igac, x, **options)

    def ig(self, x, **options) -> AttributionResult:
        """:func:`ig` with these settings."""
        return self._call(ig, x, **options)

    def naive_ig(self, x, **options) -> NaiveIG:
        """:func:`naive_ig` with these settings."""
        return self._call(naive_ig, x, **options)

    def bsc(self, x, y=None, **options) -> AttributionResult:
        """:func:`neuro_igc.attribution.bsc` with these settings."""
        return self._call(bsc, x, y, **options)
