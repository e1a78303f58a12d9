"""Clear errors for models the engine cannot attribute as they are.

Tuple or dict outputs (select one with ``output_selector``), non-finite outputs or gradients
(naming the outputs and samples), inputs the model rejects (naming both shapes), and models
whose output for one sample depends on the other samples of the batch (a probe).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["first_forward", "coupling_probe", "not_a_tensor", "check_finite_outputs", "check_finite_paths"]


def not_a_tensor(out) -> None:
    """Raise the error for a model output that is not one tensor."""
    if isinstance(out, (tuple, list)):
        shapes = ", ".join(str(tuple(o.shape)) if isinstance(o, torch.Tensor) else type(o).__name__ for o in out)
        raise TypeError(
            f"The model returned a {type(out).__name__} of {len(out)} items ({shapes}); attribution needs one "
            "(n, n_outputs) tensor. Pass output_selector=<index> (e.g. output_selector=0) or a callable "
            "output_selector=lambda out: ..., or wrap the model."
        )
    if isinstance(out, dict):
        raise TypeError(
            f"The model returned a dict with keys {list(out)}; attribution needs one (n, n_outputs) tensor. "
            "Pass output_selector=<key> or a callable, or wrap the model."
        )
    raise TypeError(
        f"The model returned a {type(out).__name__}; attribution needs one (n, n_outputs) tensor. Pass a "
        "callable output_selector that extracts it."
    )


def _expected(module: nn.Module) -> str:
    if isinstance(module, nn.Linear):
        return f"in_features={module.in_features}"
    if isinstance(module, nn.modules.conv._ConvNd):
        return f"in_channels={module.in_channels}"
    if hasattr(module, "weight_for"):
        return f"{module.weight_for(0).shape[1]} input features"
    return ""


def first_forward(fn, x: torch.Tensor, extra: dict, input_shape: tuple) -> torch.Tensor:
    """The model (a :class:`~._model.ModelFunction`) on the first samples, ``(n, n_outputs)``.

    Raises the errors of this module when the model cannot be applied to ``x``.
    """
    model = fn.model
    names = {m: n for n, m in model.named_modules() if n}
    entered: list = []

    def pre(module, args):
        entered.append((module, args[0] if args else None))

    handles = [m.register_forward_pre_hook(pre) for m in names]
    try:
        with torch.no_grad():
            raw = model(x, **fn.kwargs(extra))
    except (RuntimeError, ValueError, IndexError) as exc:
        where = ""
        if entered:
            mod, inp = entered[-1]
            shape = f" received shape {tuple(inp.shape)}" if isinstance(inp, torch.Tensor) else ""
            exp = _expected(mod)
            where = (f" It failed in {names[mod]} ({type(mod).__name__}{', ' + exp if exp else ''}), which"
                     f"{shape}.")
        raise ValueError(
            f"The model cannot be applied to 'x': inputs of shape {tuple(x.shape)} (input_shape "
            f"{tuple(input_shape)}) raised {type(exc).__name__}: {exc}.{where} Check that x has the "
            "shape the model expects, (n_samples, *input_shape)."
        ) from exc
    finally:
        for h in handles:
            h.remove()
    out = fn.raw(raw)
    if out.shape[0] != x.shape[0]:
        raise ValueError(
            f"The model returned {out.shape[0]} rows for {x.shape[0]} samples (output shape {tuple(out.shape)}); "
            "it must map (n, *input_shape) to (n, n_outputs)."
        )
    return out


def coupling_probe(fn, x: torch.Tensor, extra: dict, out: torch.Tensor) -> None:
    """Raise when the model's output is random (dropout left active) or, for a sample, changes
    with the other samples of its batch. The model is in eval mode here (``prepared_model``)."""
    n = x.shape[0]
    with torch.no_grad():
        again = fn.raw(fn.model(x, **fn.kwargs(extra)))
    scale0 = float(out.abs().max()) + 1e-12
    tol0 = 1e-9 if fn.dtype == torch.float64 else 1e-4
    if float((again.double() - out.double()).abs().max()) / scale0 > tol0:
        raise ValueError(
            "The model is not deterministic: two evaluations of the same inputs give different outputs, in eval "
            "mode. Dropout left active does this (torch.nn.functional.dropout(x, p) is on unless given "
            "training=self.training), as does added noise. Attributions of a random model are random too: make "
            "the forward pass deterministic in eval mode, or pass check_coupling=False if this is intended."
        )
    if n < 2:
        return
    with torch.no_grad():
        alone = torch.cat([fn.raw(fn.model(x[i:i + 1], **fn.kwargs(
            {k: v[i:i + 1] for k, v in extra.items()}))) for i in range(n)])
    scale = float(out.abs().max()) + 1e-12
    tol = 1e-9 if fn.dtype == torch.float64 else 1e-4
    diff = (alone.double() - out.double()).abs().amax(1) / scale
    bad = torch.nonzero(diff > tol).flatten().tolist()
    if bad:
        raise ValueError(
            f"The model couples the samples of a batch: its outputs for samples {bad} differ when they are "
            f"evaluated alone (relative difference up to {float(diff.max()):.2g}). Attribution evaluates many "
            "path points per batch, so every output must depend on its own input only: check for "
            "normalisation over the batch dimension (e.g. a BatchNorm forced into training mode) or pass "
            "check_coupling=False if this is intended."
        )


def check_finite_outputs(out: torch.Tensor, outputs: list[int], what: str) -> None:
    bad = ~torch.isfinite(out)
    if bool(bad.any()):
        rows = np.flatnonzero((bad.any(1)).cpu().numpy())
        cols = [outputs[j] for j in np.flatnonzero((bad.any(0)).cpu().numpy())]
        raise ValueError(
            f"NaN or infinite values in {what}: outputs {cols[:20]} for {rows.size} samples (indices "
            f"{rows[:20].tolist()}). Check the model and these inputs before computing attributions."
        )


def check_finite_paths(comp: torch.Tensor, idx: np.ndarray, outputs: list[int]) -> None:
    """``comp`` (nb, K, O): the path sums of a batch must be finite."""
    bad = ~torch.isfinite(comp)
    if bool(bad.any()):
        rows = np.asarray(idx)[np.flatnonzero(bad.any(2).any(1).cpu().numpy())]
        cols = [outputs[j] for j in np.flatnonzero(bad.any(0).any(0).cpu().numpy())]
        raise ValueError(
            f"NaN or infinite gradients along the integration paths of outputs {cols[:20]} for samples "
            f"{rows[:20].tolist()}: the model is not differentiable (or overflows) between these inputs and "
            "their baselines."
        )
