"""Find a model's first and last linear maps for the engine's exact factorizations.

A model declares them with the protocol of :mod:`neuro_igc.models._layers`
(``igc_input_linear`` + ``forward_from_input_linear``, ``igc_readout`` + ``forward_features``);
for a plain ``nn.Sequential`` they are found here: leading ``Flatten``/``Dropout``/``Identity``
modules followed by an ``nn.Linear`` (input-linear), and a final ``nn.Linear`` (readout).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["Factorization", "find_factorization", "linear_params", "SWITCHES"]

#: accepted values of the ``input_linear``, ``readout`` and ``freeze`` switches
SWITCHES = (True, False, "auto")

# modules that are the identity on a flattened input in eval mode
_TRANSPARENT = (nn.Flatten, nn.Identity, nn.modules.dropout._DropoutNd)


@dataclass
class Factorization:
    """What the engine may use; ``None`` fields are unavailable."""

    input_linear: nn.Module | None = None  # nn.Linear or PerSubjectLinear: z = A x + c
    rest_from_z: Callable | None = None  # (z, **kw) -> model output
    readout: nn.Module | None = None  # nn.Linear or PerSubjectLinear: f = W h + b
    features: Callable | None = None  # (x, **kw) -> h
    features_from_z: Callable | None = None  # (z, **kw) -> h
    source: str = "none"  # "protocol", "sequential" or "none"


def _is_linear(module) -> bool:
    return isinstance(module, nn.Linear) or (
        hasattr(module, "weight_for") and hasattr(module, "subject_key")
    )


def _sequential(model: nn.Sequential) -> Factorization:
    mods = list(model.children())
    fac = Factorization(source="sequential")
    first = next((i for i, m in enumerate(mods) if not isinstance(m, _TRANSPARENT)), None)
    if first is not None and isinstance(mods[first], nn.Linear):
        fac.input_linear = mods[first]
        rest = nn.Sequential(*mods[first + 1:])
        fac.rest_from_z = lambda z, **kw: rest(z)
    if len(mods) >= 2 and isinstance(mods[-1], nn.Linear) and (first is None or len(mods) - 1 != first):
        fac.readout = mods[-1]
        head = nn.Sequential(*mods[:-1])
        fac.features = lambda x, **kw: head(x)
        if fac.input_linear is not None:
            middle = nn.Sequential(*mods[first + 1:-1])
            fac.features_from_z = lambda z, **kw: middle(z)
    return fac


def _captured_input(model, readout: nn.Module, fn: Callable) -> Callable:
    """``fn`` returning the input that ``readout`` receives while ``fn`` runs."""

    def features(z, **kw):
        seen = []

        def hook(_module, args, kwargs):
            seen.append(args[0] if args else kwargs.get("input", kwargs.get("x")))

        handle = readout.register_forward_pre_hook(hook, with_kwargs=True)
        try:
            fn(z, **kw)
        finally:
            handle.remove()
        if len(seen) != 1:
            raise ValueError(
                f"The model's igc_readout was called {len(seen)} times in one forward pass; the readout "
                "factorization needs exactly one call. Pass readout=False."
            )
        return seen[0]

    return features


def find_factorization(model: nn.Module) -> Factorization:
    """The input-linear map and the readout a model declares, or that an nn.Sequential has."""
    has_in = hasattr(model, "igc_input_linear") and hasattr(model, "forward_from_input_linear")
    has_out = hasattr(model, "igc_readout") and hasattr(model, "forward_features")
    if not (has_in or has_out):
        return _sequential(model) if isinstance(model, nn.Sequential) else Factorization()
    fac = Factorization(source="protocol")
    if has_in:
        fac.input_linear = model.igc_input_linear
        fac.rest_from_z = model.forward_from_input_linear
    if has_out:
        fac.readout = model.igc_readout
        fac.features = model.forward_features
        if has_in:
            fac.features_from_z = _captured_input(model, fac.readout, model.forward_from_input_linear)
    for name, layer in (("igc_input_linear", fac.input_linear), ("igc_readout", fac.readout)):
        if layer is not None and not _is_linear(layer):
            raise TypeError(
                f"The model's {name} must be an nn.Linear or a PerSubjectLinear; got {type(layer).__name__}."
            )
    return fac


def linear_params(layer: nn.Module, subject) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Weight ``(out, in)`` and bias of an nn.Linear, or of one subject of a PerSubjectLinear."""
    if isinstance(layer, nn.Linear):
        return layer.weight, layer.bias
    s = 0 if subject is None else int(subject)
    return layer.weight_for(s), layer.bias_for(s)


def subject_key(layer: nn.Module | None) -> str | None:
    """The keyword that selects a PerSubjectLinear's weights (None for nn.Linear)."""
    if layer is None or isinstance(layer, nn.Linear):
        return None
    return getattr(layer, "subject_key", "subject")
