"""Find a model's first and last linear maps for the engine's exact factorizations, and verify them.

Three sources, in this order:

- given: ``readout=`` / ``input_linear=`` name a module of the model (or its attribute name);
- declared: the model defines the protocol of :mod:`neuro_igc.models._layers`
  (``igc_input_linear`` + ``forward_from_input_linear``, ``igc_readout`` + ``forward_features``);
- found: one forward pass on a few samples is observed with module hooks. The *readout* is the
  ``nn.Linear`` (or per-subject linear layer) whose output is the model's output, through eval-mode
  ``Dropout``/``Identity`` at most, called once, on a 2-D input. The *input-linear map* is the
  linear layer whose input is the flattened model input, when no other layer reads that input.

Whatever the source, a candidate is used only after it reproduces the plain model on probe
points -- outputs *and* input gradients. Otherwise "auto" falls back to the plain path and the
reason is logged and kept in ``result.settings["factorizations"]``; an explicit request raises.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["Factorization", "plan_factorizations", "is_subject_linear", "SWITCHES"]

logger = logging.getLogger(__name__)

#: accepted values of the ``input_linear``, ``readout`` and ``freeze`` switches (besides modules)
SWITCHES = (True, False, "auto")

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
    use_in: bool = False
    use_ro: bool = False
    source: str = "none"
    names: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)
    reasons: dict = field(default_factory=dict)

    def report(self) -> dict:
        out = {}
        for key, used in (("input_linear", self.use_in), ("readout", self.use_ro)):
            out[key] = {"used": bool(used), "module": self.names.get(key), "source": self.sources.get(key)}
            if not used:
                out[key]["reason"] = self.reasons.get(key, "not found")
        return out

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


def _observe(engine, x: torch.Tensor, kw: dict) -> tuple[list[_Call], object]:
    model = engine.model
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


def _find_readout(engine, calls: list[_Call], out) -> tuple[nn.Module | None, str]:
    from neuro_igc.attribution._engine import select_output

    target = select_output(out, engine.selector)
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


def _find_input_linear(engine, calls: list[_Call], x: torch.Tensor) -> tuple[nn.Module | None, str]:
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


def _dummy(engine, n: int) -> torch.Tensor:
    return torch.zeros((1, *engine.src.input_shape), dtype=engine.dtype, device=engine.device).expand(
        n, *engine.src.input_shape)


def _found_functions(engine, fac: Factorization) -> None:
    model = engine.model
    lin, ro = fac.input_linear, fac.readout
    if lin is not None and fac.rest_from_z is None:
        def rest_from_z(z, **kw):
            with _replaced(lin, z):
                return model(_dummy(engine, z.shape[0]), **kw)
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


# ---------------------------------------------------------------------- verification
def _verify(engine, fac: Factorization, use_in: bool, use_ro: bool, x: torch.Tensor, extra: dict) -> str:
    """"" when the factorized path gives the plain outputs and input gradients on probe points."""
    group = None
    keys = [fac.subject_key(fac.input_linear) if use_in else None, fac.subject_key(fac.readout) if use_ro else None]
    key = next((k for k in keys if k is not None and k in extra), None)
    if key is not None:
        keep = extra[key] == extra[key][0]
        x, extra = x[keep], {k: v[keep] for k, v in extra.items()}
        group = int(extra[key][0])
    pts = torch.cat([x, 0.5 * (x + x.roll(1, 0))]) if x.shape[0] > 1 else x
    kw = engine._kwargs({k: torch.cat([v, v]) if x.shape[0] > 1 else v for k, v in extra.items()})
    gen = torch.Generator().manual_seed(0)
    v = torch.randn(pts.shape[0], engine.O, generator=gen, dtype=torch.float64).to(engine.device, engine.dtype)
    saved = tuple(getattr(engine, a, None) for a in ("fac", "use_in", "use_ro", "group_key"))
    engine.fac, engine.use_in, engine.use_ro, engine.group_key = fac, use_in, use_ro, key
    try:
        with torch.enable_grad():
            p1 = pts.detach().clone().requires_grad_(True)
            ref = engine.outputs(engine.model(p1, **kw))
            (g_ref,) = torch.autograd.grad((ref * v).sum(), p1, allow_unused=True)
            p2 = pts.detach().clone().requires_grad_(True)
            u = p2
            if use_in:
                A, c = fac.linear_params(fac.input_linear, engine._subject(fac.input_linear, group))
                u = F.linear(p2.reshape(p2.shape[0], -1), A, c)
            got = engine.head(u, kw)
            if use_ro:
                W, b = engine.readout_params(group)
                got = got.double() @ W.T + (0 if b is None else b)
            (g_got,) = torch.autograd.grad((got * v.to(got.dtype)).sum(), p2, allow_unused=True)
    except Exception as exc:  # a function around the layer failed: not usable
        return f"the factorized model failed on probe points ({type(exc).__name__}: {exc})"
    finally:
        engine.fac, engine.use_in, engine.use_ro, engine.group_key = saved
    tol = 1e-7 if engine.dtype == torch.float64 else 2e-4
    g_ref = torch.zeros_like(pts) if g_ref is None else g_ref
    g_got = torch.zeros_like(pts) if g_got is None else g_got
    e_out = float((got.detach().double() - ref.detach().double()).abs().max()) / (float(ref.detach().abs().max()) + 1e-12)
    e_grad = float((g_got.double() - g_ref.double()).abs().max()) / (float(g_ref.abs().max()) + 1e-12)
    if e_out > tol:
        return f"it does not reproduce the model's outputs on probe points (relative difference {e_out:.2g})"
    if e_grad > tol:
        return f"it does not reproduce the model's input gradients on probe points (relative difference {e_grad:.2g})"
    return ""


def plan_factorizations(engine, input_linear, readout, x: torch.Tensor, extra: dict) -> Factorization:
    """Find, verify and choose the factorizations for ``engine`` (see the module docstring)."""
    model = engine.model
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
        calls, out = _observe(engine, x, engine._kwargs(extra))
        if want_ro and fac.readout is None:
            mod, why = _find_readout(engine, calls, out)
            if mod is not None:
                fac.readout, fac.sources["readout"] = mod, "found"
            else:
                fac.reasons["readout"] = why
        if want_in and fac.input_linear is None:
            mod, why = _find_input_linear(engine, calls, x)
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
        declared_both = fac.sources.get("input_linear") == "declared"
        if declared_both:
            ro, rest = fac.readout, fac.rest_from_z
            fac.features_from_z = lambda z, **kw: _captured(ro, lambda: rest(z, **kw))
    _found_functions(engine, fac)

    m = engine.m
    # which shortcuts are wanted
    use_in = False
    if fac.input_linear is not None and want_in:
        size_ok = fac.in_features(fac.input_linear) == m
        if not size_ok:
            fac.reasons["input_linear"] = (f"{fac.names['input_linear']} has {fac.in_features(fac.input_linear)} "
                                           f"inputs, the flattened input {m}")
        elif input_linear == "auto" and fac.out_features(fac.input_linear) >= m:
            fac.reasons["input_linear"] = "the first linear map does not reduce the input size"
        else:
            use_in = True
    use_ro = False
    if fac.readout is not None and want_ro:
        if engine.transform is not None:
            fac.reasons["readout"] = "an output_transform follows the readout"
        elif readout == "auto" and fac.in_features(fac.readout) >= engine.O:
            fac.reasons["readout"] = (f"the readout has {fac.in_features(fac.readout)} inputs for "
                                      f"{engine.O} attributed outputs: no saving")
        else:
            use_ro = True
    explicit_in = input_linear is True or isinstance(input_linear, (str, nn.Module)) and input_linear != "auto"
    explicit_ro = readout is True or isinstance(readout, (str, nn.Module)) and readout != "auto"
    if explicit_in and not use_in:
        raise ValueError(
            f"input_linear={_show(input_linear)} cannot be used: {fac.reasons.get('input_linear', 'not found')}. "
            "Name the first nn.Linear (input_linear=<module or attribute name>) or pass input_linear=False."
        )
    if explicit_ro and not use_ro:
        raise ValueError(
            f"readout={_show(readout)} cannot be used: {fac.reasons.get('readout', 'the model has no readout')}. "
            "Name the final nn.Linear (readout=<module or attribute name>) or pass readout=False."
        )
    # verify, dropping what fails
    if use_in or use_ro:
        why = _verify(engine, fac, use_in, use_ro, x, extra)
        if why:
            which = " and ".join(n for n, u in (("input-linear", use_in), ("readout", use_ro)) if u)
            msg = f"the {which} factorization was checked and rejected: {why}"
            drop_in, drop_ro = use_in, use_ro
            if use_in and use_ro:
                if not _verify(engine, fac, False, True, x, extra):
                    drop_ro = False
                elif not _verify(engine, fac, True, False, x, extra):
                    drop_in = False
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
    fac.use_in, fac.use_ro = use_in, use_ro
    used = [fac.sources.get(k, "") for k, u in (("input_linear", use_in), ("readout", use_ro)) if u]
    fac.source = "+".join(sorted(set(used))) if used else "none"
    return fac


def _show(value) -> str:
    return type(value).__name__ if isinstance(value, nn.Module) else repr(value)
