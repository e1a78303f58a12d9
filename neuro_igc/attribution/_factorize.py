"""Find a model's first and last linear maps for the engine's exact factorizations, check them, and
use them only when they pay.

Three sources, in this order:

- given: ``readout=`` / ``input_linear=`` name a module of the model (or its attribute name);
- declared: the model defines the protocol of :mod:`neuro_igc.models._layers`
  (``igc_input_linear`` + ``forward_from_input_linear``, ``igc_readout`` + ``forward_features``);
- found: one forward pass on a few samples is observed with module hooks. The *readout* is the
  ``nn.Linear`` (or per-subject linear layer) whose output is the model's output, through eval-mode
  ``Dropout``/``Identity`` at most, called once, on a 2-D input. The *input-linear map* is the
  linear layer whose input is the flattened model input, when no other layer reads that input.

Whatever the source, a factorization is used only when it saves work and after it reproduces the
plain model on probe points -- outputs *and* input gradients. The work of each combination is
counted on one probe point (:func:`work_per_sample`: multiply-adds of one forward pass, one
backward pass per target, the quadrature sums, and the input-linear map's fixed costs per sample);
a given, declared or found factorization that would add work is left out, with the figures in
``result.settings["factorizations"]`` and one log line. ``True`` forces a factorization (an error
when it is unavailable), ``False`` turns it off. A factorization that fails the check falls back to
the plain path with the reason logged and kept in the settings; a named or forced one raises.

The verdict depends on the model's structure and weights and on the call's settings, not on the
data: it is kept per model (weights unchanged, same settings) and reused by later calls, so the
probes run once per model and settings (:func:`plan_factorizations`).
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from neuro_igc.attribution._model import ModelFunction, select_output

__all__ = ["Factorization", "plan_factorizations", "is_subject_linear", "check_switch", "work_per_sample",
           "factorized_outputs"]

logger = logging.getLogger(__name__)

# modules that are the identity in eval mode
_TRANSPARENT = (nn.Identity, nn.modules.dropout._DropoutNd)


def is_subject_linear(module) -> bool:
    """True for a per-subject linear layer (``neuro_igc.models.SubjectLinear``)."""
    from neuro_igc.models._layers import SubjectLinear

    return isinstance(module, nn.Module) and isinstance(module, SubjectLinear)


def _is_linear(module) -> bool:
    return isinstance(module, nn.Linear) or is_subject_linear(module)


@dataclass
class Factorization:
    """What the engine uses: the layers, the functions around them, and why a shortcut is off."""

    input_linear: nn.Module | None = None  # z = A x + c
    rest_from_z: Callable | None = None  # (z, **kw) -> model output
    readout: nn.Module | None = None  # f = W h + b
    features: Callable | None = None  # (x, **kw) -> h
    features_from_z: Callable | None = None  # (z, **kw) -> h
    uses_input_linear: bool = False
    uses_readout: bool = False
    source: str = "none"
    names: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)
    reasons: dict = field(default_factory=dict)
    work: dict = field(default_factory=dict)  # "plain", "input_linear", "readout", "both" -> per sample

    def report(self) -> dict:
        out = {}
        for key, used in (("input_linear", self.uses_input_linear), ("readout", self.uses_readout)):
            out[key] = {"used": bool(used), "module": self.names.get(key), "source": self.sources.get(key)}
            if not used:
                out[key]["reason"] = self.reasons.get(key, "not found")
        if self.work:
            out["work_per_sample"] = {k: float(v) for k, v in self.work.items()}
        return out

    def target_function(self, uses_input_linear: bool, uses_readout: bool) -> Callable | None:
        """``(points, **kw) -> tensor`` of the targets at points of the space, or None (the model itself)."""
        if uses_readout:
            return self.features_from_z if uses_input_linear else self.features
        return self.rest_from_z if uses_input_linear else None

    @staticmethod
    def in_features(layer) -> int:
        if isinstance(layer, nn.Linear):
            return layer.in_features
        return int(layer.weight_for(0).shape[1])

    @staticmethod
    def out_features(layer) -> int:
        if isinstance(layer, nn.Linear):
            return layer.out_features
        return int(layer.weight_for(0).shape[0])

    @staticmethod
    def linear_params(layer: nn.Module, subject) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Weight ``(out, in)`` and bias of an nn.Linear, or of one subject of a per-subject layer."""
        if isinstance(layer, nn.Linear):
            return layer.weight, layer.bias
        s = 0 if subject is None else int(subject)
        return layer.weight_for(s), layer.bias_for(s)

    @staticmethod
    def subject_key(layer: nn.Module | None) -> str | None:
        """The keyword that selects a per-subject layer's weights (None for nn.Linear)."""
        if layer is None or isinstance(layer, nn.Linear):
            return None
        return getattr(layer, "subject_key", "subject")


# ---------------------------------------------------------------------- observing a forward pass
@dataclass
class _Call:
    module: nn.Module
    name: str
    inp: object
    out: object


def _observe(model: nn.Module, x: torch.Tensor, kw: dict) -> tuple[list[_Call], object]:
    calls: list[_Call] = []
    names = {m: n for n, m in model.named_modules() if n}
    handles = []

    def hook(module, args, kwargs, output):
        inp = args[0] if args else next(iter(kwargs.values()), None)
        calls.append(_Call(module, names[module], inp, output))

    for module in names:
        handles.append(module.register_forward_hook(hook, with_kwargs=True))
    try:
        with torch.no_grad():
            out = model(x, **kw)
    finally:
        for h in handles:
            h.remove()
    return calls, out


def _aliases(t, x: torch.Tensor) -> bool:
    """``t`` is ``x`` or a flattened view of it."""
    if not isinstance(t, torch.Tensor) or t.shape[0] != x.shape[0]:
        return False
    if t is x:
        return True
    return (t.untyped_storage().data_ptr() == x.untyped_storage().data_ptr() and t.ndim == 2
            and t.shape[1] == x[0].numel() and t.storage_offset() == x.storage_offset())


def _leaf_like(module) -> bool:
    return is_subject_linear(module) or not any(True for _ in module.children())


def _find_readout(selector, calls: list[_Call], out) -> tuple[nn.Module | None, str]:
    target = select_output(out, selector)
    if not isinstance(target, torch.Tensor):
        return None, "the model's output is not a tensor"
    end = len(calls)
    while True:
        pos = next((j for j in range(end - 1, -1, -1) if calls[j].out is target and _leaf_like(calls[j].module)),
                   None)
        if pos is None:
            return None, "the model's output is not produced by a layer module (computed in forward itself)"
        producer = calls[pos]
        if isinstance(producer.module, _TRANSPARENT):
            target, end = producer.inp, pos
            continue
        break
    mod = producer.module
    if not _is_linear(mod):
        return None, f"the model's output comes from {producer.name} ({type(mod).__name__}), not a linear layer"
    n_calls = sum(c.module is mod for c in calls)
    if n_calls != 1:
        return None, f"the final linear layer {producer.name} is called {n_calls} times in one forward pass"
    h = producer.inp
    if not isinstance(h, torch.Tensor) or h.ndim != 2:
        nd = h.ndim if isinstance(h, torch.Tensor) else "non-tensor"
        return None, f"the final linear layer {producer.name} is applied to a {nd}-D input"
    return mod, ""


def _find_input_linear(calls: list[_Call], x: torch.Tensor) -> tuple[nn.Module | None, str]:
    readers = [c for c in calls if _leaf_like(c.module) and _aliases(c.inp, x)
               and not isinstance(c.module, (nn.Flatten, *_TRANSPARENT))]
    if not readers:
        return None, "no layer reads the flattened input directly"
    mods = {id(c.module): c for c in readers}
    if len(readers) > 1:
        names = ", ".join(c.name for c in readers)
        return None, f"the input is read by {len(readers)} layer calls ({names})"
    call = readers[0]
    mod = call.module
    if not _is_linear(mod):
        return None, f"the first layer {call.name} is a {type(mod).__name__}, not a linear layer"
    if call.inp.ndim != 2:
        return None, f"the first linear layer {call.name} is applied to a {call.inp.ndim}-D view of the input"
    n_calls = sum(c.module is mod for c in calls)
    if n_calls != 1:
        return None, f"the first linear layer {call.name} is called {n_calls} times in one forward pass"
    del mods
    return mod, ""


# ---------------------------------------------------------------------- functions around the layers
@contextlib.contextmanager
def _replaced(layer: nn.Module, value: torch.Tensor):
    """Calls of ``layer`` return ``value`` (its own computation is skipped)."""
    had = "forward" in layer.__dict__
    old = layer.__dict__.get("forward")
    layer.forward = lambda *a, **k: value
    try:
        yield
    finally:
        if had:
            layer.forward = old
        else:
            del layer.forward


def _captured(layer: nn.Module, run: Callable[[], object]) -> torch.Tensor:
    seen = []

    def hook(_module, args, kwargs):
        seen.append(args[0] if args else next(iter(kwargs.values())))

    handle = layer.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        run()
    finally:
        handle.remove()
    if len(seen) != 1:
        raise ValueError(
            f"The readout layer was called {len(seen)} times in one forward pass; the readout factorization "
            "needs exactly one call. Pass readout=False."
        )
    return seen[0]


def _found_functions(model: nn.Module, input_shape: tuple, fac: Factorization) -> None:
    lin, ro = fac.input_linear, fac.readout
    if lin is not None and fac.rest_from_z is None:
        def rest_from_z(z, **kw):
            dummy = torch.zeros((1, *input_shape), dtype=z.dtype, device=z.device).expand(z.shape[0], *input_shape)
            with _replaced(lin, z):
                return model(dummy, **kw)
        fac.rest_from_z = rest_from_z
    if ro is not None and fac.features is None:
        fac.features = lambda x, **kw: _captured(ro, lambda: model(x, **kw))
    if lin is not None and ro is not None and fac.features_from_z is None:
        rest = fac.rest_from_z
        fac.features_from_z = lambda z, **kw: _captured(ro, lambda: rest(z, **kw))


def _declared(model) -> Factorization:
    fac = Factorization()
    if hasattr(model, "igc_input_linear") and hasattr(model, "forward_from_input_linear"):
        fac.input_linear = model.igc_input_linear
        fac.rest_from_z = model.forward_from_input_linear
        fac.sources["input_linear"] = "declared"
    if hasattr(model, "igc_readout") and hasattr(model, "forward_features"):
        fac.readout = model.igc_readout
        fac.features = model.forward_features
        fac.sources["readout"] = "declared"
    for name, layer in (("igc_input_linear", fac.input_linear), ("igc_readout", fac.readout)):
        if layer is not None and not _is_linear(layer):
            raise TypeError(
                f"The model's {name} must be an nn.Linear or a per-subject linear layer; got {type(layer).__name__}."
            )
    return fac


def _resolve_module(model: nn.Module, name: str, value) -> nn.Module | None:
    if isinstance(value, bool) or value == "auto":
        return None
    if isinstance(value, str):
        try:
            mod = model.get_submodule(value)
        except AttributeError:
            mod = getattr(model, value, None)
        if not isinstance(mod, nn.Module):
            raise ValueError(f"Invalid value for {name!r}: the model has no module named {value!r}.")
    else:
        mod = value
    if not any(m is mod for m in model.modules()):
        raise ValueError(f"Invalid value for {name!r}: {type(mod).__name__} is not a module of the model.")
    if not _is_linear(mod):
        raise ValueError(
            f"Invalid value for {name!r}: expected an nn.Linear or a per-subject linear layer; got {type(mod).__name__}."
        )
    return mod


# ---------------------------------------------------------------------- the factorized model
def _subject_for(fn: ModelFunction, layer, group_key: str | None, group) -> int | None:
    key = Factorization.subject_key(layer)
    return fn.subject(key, group if key is not None and key == group_key else None)


def factorized_outputs(fn: ModelFunction, fac: Factorization, uses_input_linear: bool, uses_readout: bool,
                       points: torch.Tensor, kw: dict, group_key: str | None = None, group=None) -> torch.Tensor:
    """The attributed outputs at input ``points`` computed through the chosen factorizations.

    Equal to ``fn(points, kw)`` when the factorizations are right: :func:`_verify` checks it.
    """
    u = points
    if uses_input_linear:
        A, c = fac.linear_params(fac.input_linear, _subject_for(fn, fac.input_linear, group_key, group))
        u = F.linear(points.reshape(points.shape[0], -1), A, c)
    kwargs = fn.kwargs(kw)
    if uses_readout:
        h = fac.target_function(uses_input_linear, True)(u, **kwargs).reshape(points.shape[0], -1)
        W, b = fac.linear_params(fac.readout, _subject_for(fn, fac.readout, group_key, group))
        W = W[fn.output_idx].double()
        out = h.double() @ W.T
        return out if b is None else out + b[fn.output_idx].double()
    if uses_input_linear:
        return fn.outputs(fac.rest_from_z(u, **kwargs))
    return fn.outputs(fn.model(u, **kwargs))


def _probe_group(fac: Factorization, use_in: bool, use_ro: bool, x: torch.Tensor, extra: dict):
    """Probe points of one subject (per-subject layers), their extras, the subject keyword and value."""
    keys = [fac.subject_key(fac.input_linear) if use_in else None, fac.subject_key(fac.readout) if use_ro else None]
    key = next((k for k in keys if k is not None and k in extra), None)
    group = None
    if key is not None:
        keep = extra[key] == extra[key][0]
        x, extra = x[keep], {k: v[keep] for k, v in extra.items()}
        group = int(extra[key][0])
    return x, extra, key, group


def _verify(fn: ModelFunction, fac: Factorization, use_in: bool, use_ro: bool, x: torch.Tensor, extra: dict) -> str:
    """"" when the factorized path gives the plain outputs and input gradients on probe points."""
    x, extra, key, group = _probe_group(fac, use_in, use_ro, x, extra)
    pts = torch.cat([x, 0.5 * (x + x.roll(1, 0))]) if x.shape[0] > 1 else x
    kw = {k: torch.cat([v, v]) if x.shape[0] > 1 else v for k, v in extra.items()}
    gen = torch.Generator().manual_seed(0)
    v = torch.randn(pts.shape[0], fn.n_attributed, generator=gen, dtype=torch.float64).to(fn.device, fn.dtype)
    try:
        with torch.enable_grad():
            p1 = pts.detach().clone().requires_grad_(True)
            ref = fn(p1, kw)
            (g_ref,) = torch.autograd.grad((ref * v).sum(), p1, allow_unused=True)
            p2 = pts.detach().clone().requires_grad_(True)
            got = factorized_outputs(fn, fac, use_in, use_ro, p2, kw, key, group)
            (g_got,) = torch.autograd.grad((got * v.to(got.dtype)).sum(), p2, allow_unused=True)
    except Exception as exc:  # a function around the layer failed: not usable
        return f"the factorized model failed on probe points ({type(exc).__name__}: {exc})"
    tol = 1e-7 if fn.dtype == torch.float64 else 2e-4
    g_ref = torch.zeros_like(pts) if g_ref is None else g_ref
    g_got = torch.zeros_like(pts) if g_got is None else g_got
    e_out = float((got.detach().double() - ref.detach().double()).abs().max()) / (float(ref.detach().abs().max()) + 1e-12)
    e_grad = float((g_got.double() - g_ref.double()).abs().max()) / (float(g_ref.abs().max()) + 1e-12)
    if e_out > tol:
        return f"it does not reproduce the model's outputs on probe points (relative difference {e_out:.2g})"
    if e_grad > tol:
        return f"it does not reproduce the model's input gradients on probe points (relative difference {e_grad:.2g})"
    return ""


# ---------------------------------------------------------------------- the work of each choice
class MatmulFlops(TorchDispatchMode):
    """Counts the floating-point operations of matrix products and convolutions run inside it.

    The counting rules are those of :mod:`torch.utils.flop_counter` (its ``flop_registry``);
    element-wise operations count zero.
    """

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        rule = flop_registry.get(func._overloadpacket)
        if rule is not None:
            self.total += int(rule(*args, **kwargs, out_val=out))
        return out


_COMBOS = {(False, False): "plain", (True, False): "input_linear", (False, True): "readout", (True, True): "both"}


def work_per_sample(fn: ModelFunction, fac: Factorization, use_in: bool, use_ro: bool, x: torch.Tensor, extra: dict,
                    n_points: int) -> float:
    """Multiply-adds to attribute one sample along ``n_points`` path points (baselines x steps).

    Per path point: one forward pass to the targets, one backward pass per target (as many as
    bottleneck units with the readout factorization, as many as attributed outputs without), and
    the quadrature's weighted sum of each target's gradient in the attribution space (the input,
    or the input-linear map's output). Per sample, with the input-linear factorization: mapping
    the sample's row once and the final ``A^T`` on its coefficients. Counted with
    :class:`MatmulFlops` on one probe point (matrix products and convolutions).
    """
    x, extra, key, group = _probe_group(fac, use_in, use_ro, x[:1], {k: v[:1] for k, v in extra.items()})
    n_inputs = x[0].numel()
    kwargs = fn.kwargs(extra)
    u = x
    if use_in:
        A, c = fac.linear_params(fac.input_linear, _subject_for(fn, fac.input_linear, key, group))
        u = F.linear(x.reshape(1, -1), A.detach(), None if c is None else c.detach())
    u = u.detach().requires_grad_(True)
    target = fac.target_function(use_in, use_ro)
    with torch.enable_grad():
        with MatmulFlops() as count:
            if target is None:
                out = fn.outputs(fn.model(u, **kwargs))
            else:
                out = target(u, **kwargs).reshape(1, -1)
                out = out if use_ro else fn.outputs(out)
        forward = count.total
        with MatmulFlops() as count:
            torch.autograd.grad(out[:, 0].sum(), u, allow_unused=True)
        backward = count.total
    n_targets, size = out.shape[1], u[0].numel()
    per_point = forward + n_targets * (backward + 2 * size)
    fixed = 2 * n_inputs * size * (1 + fn.n_attributed) if use_in else 0
    return float(n_points * per_point + fixed) / 2  # flops -> multiply-adds


# ---------------------------------------------------------------------- planning
def check_switch(name: str, value) -> object:
    """``True``, ``False``, ``"auto"``, a module or an attribute name; anything else raises."""
    if isinstance(value, bool) or (isinstance(value, str) and value == "auto"):
        return value
    if isinstance(value, (nn.Module, str)):
        return value
    raise ValueError(
        f"Invalid value for {name!r}: allowed are True, False, 'auto', a module of the model or its "
        f"attribute name; got {value!r}."
    )


def _candidates(fn: ModelFunction, input_shape: tuple, input_linear, readout, x, extra) -> tuple[Factorization, bool, bool]:
    """The layers (given, declared or found) and their functions; which of them may be used at all."""
    model = fn.model
    given_in = _resolve_module(model, "input_linear", input_linear)
    given_ro = _resolve_module(model, "readout", readout)
    fac = _declared(model)
    if given_in is not None:
        fac.input_linear, fac.rest_from_z, fac.sources["input_linear"] = given_in, None, "given"
        fac.features_from_z = None
    if given_ro is not None:
        fac.readout, fac.features, fac.sources["readout"] = given_ro, None, "given"
        fac.features_from_z = None
    want_in = input_linear is not False
    want_ro = readout is not False
    for key, want in (("input_linear", want_in), ("readout", want_ro)):
        if not want:
            fac.reasons[key] = f"{key}=False"
    if (want_in and fac.input_linear is None) or (want_ro and fac.readout is None):
        calls, out = _observe(model, x, fn.kwargs(extra))
        if want_ro and fac.readout is None:
            mod, why = _find_readout(fn.selector, calls, out)
            if mod is not None:
                fac.readout, fac.sources["readout"] = mod, "found"
            else:
                fac.reasons["readout"] = why
        if want_in and fac.input_linear is None:
            mod, why = _find_input_linear(calls, x)
            if mod is not None:
                fac.input_linear, fac.sources["input_linear"] = mod, "found"
            else:
                fac.reasons["input_linear"] = why
    names = {m: n for n, m in model.named_modules()}
    for key in ("input_linear", "readout"):
        layer = getattr(fac, key)
        if layer is not None:
            fac.names[key] = names.get(layer, type(layer).__name__)
    if fac.readout is not None and fac.input_linear is not None and fac.features_from_z is None:
        if fac.sources.get("input_linear") == "declared":
            ro, rest = fac.readout, fac.rest_from_z
            fac.features_from_z = lambda z, **kw: _captured(ro, lambda: rest(z, **kw))
    _found_functions(model, input_shape, fac)

    n_inputs = 1
    for s in input_shape:
        n_inputs *= int(s)
    can_in = False
    if fac.input_linear is not None and want_in:
        if fac.in_features(fac.input_linear) != n_inputs:
            fac.reasons["input_linear"] = (f"{fac.names['input_linear']} has {fac.in_features(fac.input_linear)} "
                                           f"inputs, the flattened input {n_inputs}")
        else:
            can_in = True
    can_ro = False
    if fac.readout is not None and want_ro:
        if fn.transform is not None:
            fac.reasons["readout"] = "an output_transform follows the readout"
        else:
            can_ro = True
    return fac, can_in, can_ro


def _is_forced(value) -> bool:
    return value is True


def _choose(fn, fac: Factorization, can_in: bool, can_ro: bool, input_linear, readout, x, extra, n_points: int):
    """The combination with the least work among those allowed (a forced one is always taken)."""
    options_in = [True] if _is_forced(input_linear) else ([False, True] if can_in else [False])
    options_ro = [True] if _is_forced(readout) else ([False, True] if can_ro else [False])
    if len(options_in) == 1 and len(options_ro) == 1:
        return options_in[0], options_ro[0]
    failed = {}
    for use_in in options_in:
        for use_ro in options_ro:
            try:
                fac.work[_COMBOS[use_in, use_ro]] = work_per_sample(fn, fac, use_in, use_ro, x, extra, n_points)
            except Exception as exc:  # a function around the layer failed: that combination is out
                failed[use_in, use_ro] = f"the factorized model failed on a probe point ({type(exc).__name__}: {exc})"
    work = {c: fac.work[_COMBOS[c]] for c in _COMBOS if _COMBOS[c] in fac.work}
    if not work:
        return options_in[0], options_ro[0]
    best = min(work, key=lambda c: (work[c], sum(c)))
    for key, pos, options in (("input_linear", 0, options_in), ("readout", 1, options_ro)):
        if len(options) == 2 and not best[pos]:
            with_it = tuple(True if i == pos else best[i] for i in range(2))
            if with_it in failed:
                fac.reasons[key] = failed[with_it]
            elif with_it in work:
                fac.reasons[key] = (
                    f"it would add work: {work[with_it]:.3g} multiply-adds per sample with it, {work[best]:.3g} "
                    f"without ({_why(fac, key, fn)})")
    return best


def _why(fac: Factorization, key: str, fn: ModelFunction) -> str:
    if key == "readout":
        return (f"{fac.in_features(fac.readout)} bottleneck units to differentiate instead of "
                f"{fn.n_attributed} attributed outputs")
    return (f"the first linear map has {fac.out_features(fac.input_linear)} outputs for "
            f"{fac.in_features(fac.input_linear)} inputs")


def _plan(fn: ModelFunction, input_shape: tuple, input_linear, readout, x, extra, n_points: int) -> Factorization:
    fac, can_in, can_ro = _candidates(fn, input_shape, input_linear, readout, x, extra)
    if _is_forced(input_linear) and not can_in:
        raise ValueError(
            f"input_linear={_show(input_linear)} cannot be used: {fac.reasons.get('input_linear', 'not found')}. "
            "Name the first nn.Linear (input_linear=<module or attribute name>) or pass input_linear=False."
        )
    if _is_forced(readout) and not can_ro:
        raise ValueError(
            f"readout={_show(readout)} cannot be used: {fac.reasons.get('readout', 'the model has no readout')}. "
            "Name the final nn.Linear (readout=<module or attribute name>) or pass readout=False."
        )
    use_in, use_ro = _choose(fn, fac, can_in, can_ro, input_linear, readout, x, extra, n_points)
    for key, can, used in (("input_linear", can_in, use_in), ("readout", can_ro, use_ro)):
        if can and not used and key in fac.reasons:
            logger.info("Not using the %s factorization through %s (%s): %s.", key.replace("_", "-"),
                        fac.names.get(key), fac.sources.get(key), fac.reasons[key])
    # verify, dropping what fails
    if use_in or use_ro:
        why = _verify(fn, fac, use_in, use_ro, x, extra)
        if why:
            which = " and ".join(n for n, u in (("input-linear", use_in), ("readout", use_ro)) if u)
            msg = f"the {which} factorization was checked and rejected: {why}"
            drop_in, drop_ro = use_in, use_ro
            if use_in and use_ro:
                if not _verify(fn, fac, False, True, x, extra):
                    drop_ro = False
                elif not _verify(fn, fac, True, False, x, extra):
                    drop_in = False
            explicit_in = input_linear is True or (isinstance(input_linear, (str, nn.Module)) and input_linear != "auto")
            explicit_ro = readout is True or (isinstance(readout, (str, nn.Module)) and readout != "auto")
            if (drop_in and explicit_in) or (drop_ro and explicit_ro):
                raise ValueError(
                    f"The model's {which} factorization does not reproduce model(x): {why}. Check the named or "
                    "declared layers, or pass input_linear=False / readout=False."
                )
            if drop_in:
                fac.reasons["input_linear"], use_in = msg, False
            if drop_ro:
                fac.reasons["readout"], use_ro = msg, False
            logger.info("Not using a factorization: %s.", msg)
    fac.uses_input_linear, fac.uses_readout = use_in, use_ro
    used = [fac.sources.get(k, "") for k, u in (("input_linear", use_in), ("readout", use_ro)) if u]
    fac.source = "+".join(sorted(set(used))) if used else "none"
    return fac


# ---------------------------------------------------------------------- the verdicts, kept per model
_VERDICTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _fingerprint(value):
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), str(value.dtype), tuple(value.detach().cpu().reshape(-1)[:64].tolist()))
    if isinstance(value, nn.Module):
        return ("module", id(value))
    if isinstance(value, (list, tuple)):
        return tuple(_fingerprint(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _fingerprint(v)) for k, v in value.items()))
    if callable(value):
        return ("callable", id(value))
    return value


def _settings_key(fn: ModelFunction, input_shape, input_linear, readout, extra: dict, n_points: int):
    weights = tuple((id(t), t._version) for t in (*fn.model.parameters(), *fn.model.buffers()))
    return (tuple(input_shape), str(fn.dtype), str(fn.device), _fingerprint(fn.selector), _fingerprint(fn.transform),
            tuple(fn.output_idx), _fingerprint(input_linear), _fingerprint(readout),
            _fingerprint(fn.constant_kwargs), tuple(sorted(extra)), int(n_points), weights)


def _rebuild(fn: ModelFunction, input_shape: tuple, verdict: dict) -> Factorization:
    """A Factorization from a kept verdict: the layers by name, their functions, no probe."""
    model = fn.model
    fac = _declared(model)
    for key, attr in (("input_linear", "rest_from_z"), ("readout", "features")):
        source = verdict["sources"].get(key)
        if source in ("given", "found"):
            setattr(fac, key, model.get_submodule(verdict["names"][key]))
            setattr(fac, attr, None)
            fac.features_from_z = None
    if fac.readout is not None and fac.input_linear is not None and fac.features_from_z is None:
        if verdict["sources"].get("input_linear") == "declared":
            ro, rest = fac.readout, fac.rest_from_z
            fac.features_from_z = lambda z, **kw: _captured(ro, lambda: rest(z, **kw))
    _found_functions(model, input_shape, fac)
    for key in ("names", "sources", "reasons", "work"):
        setattr(fac, key, dict(verdict[key]))
    fac.uses_input_linear, fac.uses_readout = verdict["uses"]
    fac.source = verdict["source"]
    return fac


def plan_factorizations(fn: ModelFunction, input_shape: tuple, input_linear, readout, x: torch.Tensor, extra: dict,
                        n_points: int) -> Factorization:
    """Find, check and choose the factorizations of ``fn``'s model (see the module docstring).

    ``x`` / ``extra``: a few samples to observe and probe; ``n_points``: path points per sample
    (baselines x steps), which sets the weight of the per-sample fixed costs. A verdict for the
    same model (same weights), settings and ``n_points`` is reused without new probes.
    """
    check_switch("input_linear", input_linear)
    check_switch("readout", readout)
    key = _settings_key(fn, input_shape, input_linear, readout, extra, n_points)
    kept = _VERDICTS.get(fn.model, {})
    if key in kept:
        try:
            return _rebuild(fn, input_shape, kept[key])
        except (AttributeError, KeyError):  # the model changed its modules: plan again
            pass
    fac = _plan(fn, input_shape, input_linear, readout, x, extra, n_points)
    names = {m: n for n, m in fn.model.named_modules()}
    if all(getattr(fac, k) is None or getattr(fac, k) in names for k in ("input_linear", "readout")):
        verdict = {"names": dict(fac.names), "sources": dict(fac.sources), "reasons": dict(fac.reasons),
                   "work": dict(fac.work), "uses": (fac.uses_input_linear, fac.uses_readout), "source": fac.source}
        try:
            _VERDICTS.setdefault(fn.model, {})[key] = verdict
        except TypeError:  # a model that cannot be weakly referenced: plan every time
            pass
    return fac


def _show(value) -> str:
    return type(value).__name__ if isinstance(value, nn.Module) else repr(value)
