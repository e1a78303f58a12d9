"""The path integral of any path, rule or layer target: blur and guided paths, IDGI, conductance.

The straight path with the quadrature rule goes through :mod:`._integral` (with the exact
factorizations). Every other combination is computed here, in the input space, with the plain
integrators of :mod:`neuro_igc.attribution._paths` (paths and rules) and
:mod:`neuro_igc.attribution._layer` (a layer's units as the components), and handed to the
reductions as the same :class:`~._integral.PathIntegrals` (``ig`` and ``path_sums``).
"""

from __future__ import annotations

import torch
from torch import nn

from neuro_igc.attribution._engine._integral import PathIntegrals
from neuro_igc.attribution._layer import LayerTap, check_cut, conductance_rows
from neuro_igc.attribution._paths import path_integral

__all__ = ["IDGIRule", "generic_switches", "layer_units", "integrate_generic"]


class IDGIRule:
    """IDGI (:mod:`neuro_igc.attribution._rules`) on the nodes and cells of a quadrature rule.

    Not linear in the gradients (``linear = False``): the planner leaves the factorizations out.
    """

    name = "idgi"
    linear = False

    def __init__(self, quadrature_rule):
        self.quadrature = quadrature_rule
        self.method, self.n_steps = quadrature_rule.method, quadrature_rule.n_steps
        self.nodes, self.weights = quadrature_rule.nodes, quadrature_rule.weights

    def sum_steps(self, grads, first, n_paths):  # pragma: no cover - the generic integral is used instead
        raise NotImplementedError("IDGI is computed by integrate_generic")

    def describe(self) -> dict:
        return {"rule": self.name, "method": self.method, "n_steps": self.n_steps}


def generic_switches(settings, path, rule_name: str, layer) -> tuple[dict, dict]:
    """The factorization switches a path, rule or layer rules out, with the reasons.

    Returns ``(changes to the settings, reasons)``; a factorization named explicitly that cannot
    be used raises.
    """
    if layer is None and path.name == "straight" and rule_name == "quadrature":
        return {}, {}
    what = (f"layer {layer[0]!r}" if layer is not None else
            f"path={path.name!r}" if path.name != "straight" else f"rule={rule_name!r}")
    reasons = {"input_linear": f"{what} integrates in the input space"}
    if rule_name == "idgi" or path.adaptive:
        reasons["readout"] = (f"{what} is not linear in the gradient: every output needs its own"
                              if rule_name == "idgi" else f"{what} walks one path per output")
    changes, off = {}, {}
    for key, why in reasons.items():
        v = getattr(settings, key)
        if v is True or (isinstance(v, (str, nn.Module)) and v != "auto"):
            raise ValueError(f"Invalid value for {key!r}: the factorization cannot be used, {why}; pass {key}='auto' or False.")
        if v is not False:
            off[key] = why
        changes[key] = False
    return changes, off


def layer_units(targets, layer, first: torch.Tensor, extra0: dict) -> tuple[int, ...]:
    """The layer's unit shape, after checking that all of the computation passes through it."""
    name, module = layer
    tap = LayerTap(module, name)

    def fn(p):
        return targets.values(p, extra0)

    with torch.no_grad(), tap:
        tap.run(fn, first)
    check_cut(fn, tap, first)
    return tuple(tap.h.shape[1:])


def integrate_generic(engine, ends: torch.Tensor, starts: torch.Tensor, kw: dict, chunk_points: int,
                      accumulator_budget: int) -> PathIntegrals:
    """:class:`PathIntegrals` of the ``nb * K`` paths for any path, rule or layer (input space)."""
    targets = engine.plan.targets
    nb, K = ends.shape[0], starts.shape[1]
    n_targets, S = targets.count, engine.rule.n_steps
    dev = ends.device
    shape = ends.shape[1:]
    n_paths = nb * K
    ig = torch.zeros(n_targets, nb, engine.n_components, dtype=ends.dtype, device=dev)
    path_sums = torch.zeros(n_targets, n_paths, dtype=torch.float64, device=dev)
    starts_flat = starts.reshape(n_paths, *shape)
    # paths per chunk: the integrators take the steps in chunks of chunk_points points
    per_chunk = max(1, min(chunk_points, accumulator_budget // max(n_targets * engine.n_components, 1)))
    bounds = engine.bounds

    def fn(p, **k):
        return targets.values(p, k)

    for p0 in range(0, n_paths, per_chunk):
        pairs = torch.arange(p0, min(n_paths, p0 + per_chunk), device=dev)
        n_chunk = pairs.numel()
        sample = pairs // K
        common = dict(alphas=engine.rule.nodes, weights=engine.rule.weights, bounds=bounds,
                      chunk_points=chunk_points, row_kwargs={n: v[sample] for n, v in kw.items()})
        if engine.layer is not None:
            part = conductance_rows(fn, engine.layer[1], ends[sample], starts_flat[pairs], path=engine.path,
                                    form=engine.conductance, region=engine.region, name=engine.layer[0], **common)
        else:
            part = path_integral(fn, ends[sample], starts_flat[pairs], path=engine.path, rule=engine.rule.name,
                                 **common)
        part = part.reshape(n_targets, n_chunk, -1)
        ig.index_add_(1, sample, part)
        path_sums[:, p0:p0 + n_chunk] = part.sum(-1, dtype=torch.float64)
    return PathIntegrals(ig=ig, path_sums=path_sums.reshape(n_targets, nb, K).permute(1, 2, 0))
