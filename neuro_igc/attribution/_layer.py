"""Conductance: Integrated Gradients through an internal layer (Dhamdhere et al.; Lundstrom et al.).

For a layer ``h`` that every route from the input to the output passes through (a *cut*), the
chain rule splits IG's path integral over the layer's units ``k``:

- total conductance of unit ``k``, ``Cond_k = int dF/dh_k (gamma(t)) dh_k/dt dt``; its sum over the
  units is IG's total ``F(x) - F(x')``. Two discretisations:

  * ``form="quadrature"``: ``sum_s w_s dF/dh_k(gamma(t_s)) [J_h(gamma(t_s)) gamma'(t_s)]_k``, the
    layer's velocity from one forward-mode product per step; the sum over units equals the input
    IG's sum at the same quadrature *exactly* (the maps over units sum to the input IGC's total);
  * ``form="difference"`` (Captum's ``LayerConductance``): ``sum_s dF/dh_k(gamma(t_s))
    [h_k(gamma(C_s)) - h_k(gamma(C_{s-1}))]`` over the rule's cells (see ``_rules``); with
    ``method="riemann-left"`` and ``n`` steps this is Captum's rule with ``n_steps=n`` and
    ``method="riemann_trapezoid"``. Needs no forward-mode support.

- per input component ``i`` and unit ``k`` (Captum's ``NeuronConductance``):
  ``Cond_ik = (x_i - x'_i) sum_s w_s dF/dh_k dh_k/dx_i``; ``sum_k Cond_ik = IG_i`` exactly.
  Lundstrom et al.'s region question, the units' share of a set ``S`` of components,
  ``sum_{i in S} Cond_ik``, is the quadrature form with the velocity restricted to ``S``: one
  forward-mode product per step for all units at once (:func:`conductance` with ``region``).

The layer is observed with a forward hook: its output is replaced by a detached copy that the rest
of the model runs on, so gradients stop at the layer and forward-mode tangents stop there too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.autograd import forward_ad as fwAD

from neuro_igc._utils import check_option

__all__ = ["CONDUCTANCE_FORMS", "resolve_layer", "LayerTap", "conductance_rows", "neuron_conductance_rows"]

#: discretisations of the total conductance
CONDUCTANCE_FORMS = {
    "quadrature": "forward-mode velocity of the layer at the rule's nodes; sums exactly to the input IG",
    "difference": "the layer's change over each cell (Captum's LayerConductance)",
}


def resolve_layer(model: nn.Module, layer) -> tuple[str, nn.Module]:
    """``(name, module)`` of ``layer``: a submodule of ``model`` or its dotted name."""
    if isinstance(layer, str):
        try:
            return layer, model.get_submodule(layer)
        except AttributeError:
            names = [n for n, _ in model.named_modules() if n]
            shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
            raise ValueError(
                f"Invalid value for 'layer': the model has no submodule {layer!r}; its submodules are {shown}."
            ) from None
    if isinstance(layer, nn.Module):
        for name, mod in model.named_modules():
            if mod is layer:
                return name, mod
        raise ValueError(
            f"Invalid value for 'layer': the {type(layer).__name__} given is not a submodule of the model; "
            "pass one of model.named_modules() or its name."
        )
    raise TypeError(f"Invalid value for 'layer': expected an nn.Module of the model or its name; got {type(layer).__name__}.")


class LayerTap:
    """A forward hook that cuts the model at ``module``.

    Inside ``with tap:`` every forward records the layer's output ``h`` and continues from a
    detached leaf ``h_leaf`` (``requires_grad``), so a backward from the output stops at the layer.
    Under ``torch.autograd.forward_ad`` the layer's tangent is recorded (``tangent``) and not passed
    on. ``keep_graph=True`` keeps ``h`` attached to the input (for input gradients through ``h``).
    """

    def __init__(self, module: nn.Module, name: str = "layer", keep_graph: bool = False):
        self.module, self.name, self.keep_graph = module, name, keep_graph
        self.h = self.leaf = self.tangent = None
        self.calls = 0

    def _hook(self, module, inputs, output):
        if not isinstance(output, torch.Tensor):
            raise ValueError(
                f"Invalid value for 'layer': {self.name!r} returns a {type(output).__name__}, not one tensor; "
                "pick a module whose output is a single tensor."
            )
        self.calls += 1
        if self.calls > 1:
            raise ValueError(
                f"Invalid value for 'layer': {self.name!r} is called more than once in one forward pass; "
                "pick a module the model calls once (e.g. a whole stage)."
            )
        primal, tangent = fwAD.unpack_dual(output)
        self.tangent = tangent
        self.h = primal if self.keep_graph else primal.detach()
        self.leaf = primal.detach().requires_grad_(True)
        return self.leaf

    def __enter__(self):
        self.calls = 0
        self._handle = self.module.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc):
        self._handle.remove()
        return False

    def run(self, fn: Callable, pts):
        """``fn(pts)`` with the layer cut; returns the outputs (the layer's values are on ``self``)."""
        self.calls = 0
        out = fn(pts)
        if self.calls != 1:
            raise ValueError(
                f"Invalid value for 'layer': {self.name!r} was not called in the model's forward pass; "
                "pick a module the forward pass uses."
            )
        return out


def check_cut(fn: Callable, tap: LayerTap, pts: torch.Tensor) -> None:
    """Raise unless every route from the input to the outputs passes through the layer."""
    p = pts.detach().requires_grad_(True)
    with torch.enable_grad(), tap:
        out = tap.run(fn, p)
        (g,) = torch.autograd.grad(out.sum(), p, allow_unused=True)
    if g is not None and bool((g != 0).any()):
        raise ValueError(
            f"Invalid value for 'layer': the outputs depend on the input also by a route that bypasses "
            f"{tap.name!r} (e.g. a skip connection around it), so its conductance would miss part of IG; "
            "pick a layer that all of the computation passes through (e.g. a whole stage's output)."
        )


def conductance_rows(fn: Callable, module: nn.Module, x: torch.Tensor, start: torch.Tensor, *, path, alphas: torch.Tensor,
                     weights: torch.Tensor, bounds: np.ndarray, form: str = "quadrature", region=None,
                     name: str = "layer", chunk_points: int = 4096, row_kwargs: dict | None = None) -> torch.Tensor:
    """Total conductances ``(Q, R, *unit_shape)`` of ``R`` paths for every output of ``fn``.

    ``fn(points (P, *shape)) -> (P, Q)``; ``x``, ``start`` ``(R, *shape)``; ``path`` a fixed path
    (straight or blur); ``alphas``/``weights`` the rule's nodes and weights, ``bounds`` its
    cells. ``region`` (a boolean mask of the input shape, or ``(R, *shape)``) restricts the
    velocity to those components (the units' share of the region's IG; quadrature form only).
    """
    check_option("form", form, CONDUCTANCE_FORMS)
    if region is not None and form != "quadrature":
        raise ValueError("Invalid value for 'form': a region's conductance needs form='quadrature'.")
    if getattr(path, "adaptive", False):
        raise ValueError("Invalid value for 'path': layer conductance needs a fixed path ('straight' or 'blur').")
    from neuro_igc.attribution._paths import rows_caller

    R, shape = x.shape[0], x.shape[1:]
    S = alphas.numel()
    call = rows_caller(fn, row_kwargs, R)
    tap = LayerTap(module, name)
    ns_max = max(1, chunk_points // max(R, 1))
    out_parts = None
    dh_cells = None
    if form == "difference":
        with torch.no_grad(), tap:
            tb = torch.as_tensor(bounds, dtype=x.dtype, device=x.device)
            hb = []
            for b0 in range(0, S + 1, ns_max):
                pts = path.points(x, start, tb[b0:b0 + ns_max])
                nb = pts.shape[1]
                tap.run(call, pts)
                hb.append(tap.h.reshape(R, nb, -1))
            hb = torch.cat(hb, 1)
        dh_cells = hb[:, 1:] - hb[:, :-1]  # (R, S, U)
    mask = None if region is None else torch.as_tensor(region, device=x.device).to(torch.bool)
    unit_shape = None
    for s0 in range(0, S, ns_max):
        ns = min(S, s0 + ns_max) - s0
        t = alphas[s0:s0 + ns]
        pts = path.points(x, start, t).detach()
        with torch.enable_grad(), tap:
            if form == "quadrature":
                vel = path.velocity(x, start, t)
                vel = vel.expand(R, ns, *shape) if vel.shape[1] == 1 else vel
                if mask is not None:
                    mk = mask.to(vel.dtype)
                    vel = vel * (mk.unsqueeze(1) if mk.ndim == len(shape) + 1 else mk)
                with fwAD.dual_level():
                    out = tap.run(call, fwAD.make_dual(pts, vel.contiguous()))
                    out = fwAD.unpack_dual(out).primal
                dh = tap.tangent
                if dh is None:
                    raise RuntimeError(f"No forward-mode tangent reached {name!r}; use form='difference'.")
                dh = dh.detach().reshape(R, ns, -1)
            else:
                out = tap.run(call, pts)
                dh = dh_cells[:, s0:s0 + ns]
            leaf = tap.leaf
            unit_shape = tuple(leaf.shape[1:])
            Q = out.shape[1]
            if out_parts is None:
                out_parts = torch.zeros(Q, R, dh.shape[-1], dtype=x.dtype, device=x.device)
            for q in range(Q):
                (g,) = torch.autograd.grad(out[:, q].sum(), leaf, retain_graph=q < Q - 1, allow_unused=True)
                if g is None:
                    continue
                g = g.reshape(R, ns, -1)
                if form == "quadrature":
                    w = weights[s0:s0 + ns].to(x.dtype).view(1, ns, 1)
                    out_parts[q] += (w * g * dh).sum(1)
                else:
                    out_parts[q] += (g * dh).sum(1)
    return out_parts.reshape(out_parts.shape[0], R, *unit_shape)


def neuron_conductance_rows(fn: Callable, module: nn.Module, x: torch.Tensor, start: torch.Tensor, *, units,
                            alphas: torch.Tensor, weights: torch.Tensor, output: int = 0,
                            name: str = "layer") -> torch.Tensor:
    """``sum_{k in units} Cond_ik`` for one output on the straight path, ``(R, *shape)``.

    ``units``: a boolean mask of the layer's unit shape (or an int: the flat index of one unit).
    The plain definition, one backward through the layer per call: a reference for tests.
    """
    R, shape = x.shape[0], x.shape[1:]
    S = alphas.numel()
    tap = LayerTap(module, name, keep_graph=True)
    pts = (start.unsqueeze(1) + alphas.to(x.dtype).view(1, S, *(1,) * len(shape))
           * (x - start).unsqueeze(1)).reshape(R * S, *shape).detach().requires_grad_(True)
    with torch.enable_grad(), tap:
        out = tap.run(fn, pts)[:, output]
        (gh,) = torch.autograd.grad(out.sum(), tap.leaf)
        sel = torch.zeros(gh.shape[1:].numel(), dtype=gh.dtype, device=gh.device)
        if isinstance(units, (int, np.integer)):
            sel[int(units)] = 1
        else:
            sel = torch.as_tensor(units, device=gh.device).reshape(-1).to(gh.dtype)
        (gx,) = torch.autograd.grad(tap.h, pts, gh * sel.view(1, *gh.shape[1:]))
    w = weights.to(x.dtype).view(1, S, *(1,) * len(shape))
    return (w * gx.reshape(R, S, *shape)).sum(1) * (x - start)
