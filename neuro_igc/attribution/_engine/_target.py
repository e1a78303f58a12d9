"""The *targets*: the scalar functions whose gradients are integrated along the paths.

- :class:`OutputTargets`: the attributed outputs of the model (``output_idx``);
- :class:`ReadoutTargets`: the ``U`` bottleneck units ``h`` before a linear readout
  ``f = W h + b`` (*readout factorization*): the IG of output ``o`` is ``sum_u W_ou IG(h_u)``,
  so the cost follows ``U``, not the number of outputs.

Interface used by the engine:

- ``count``: the number of targets ``T``;
- ``values(points, kw)``: ``(P, T)`` the targets at ``P`` points of the attribution space
  (differentiable), ``kw`` the per-point keyword inputs;
- ``mixing(group)``: ``(O, T)`` float64 matrix from the targets to the attributed outputs, or
  None when the targets are the outputs.

:func:`target_gradients` takes the gradients of all targets after one forward pass: batched
vector-Jacobian products (``is_grads_batched``) or one backward pass per target.
"""

from __future__ import annotations

import torch

__all__ = ["OutputTargets", "ReadoutTargets", "target_gradients"]


class OutputTargets:
    """The attributed outputs, evaluated by the model or, in ``z``, by the rest of the model."""

    name = "outputs"

    def __init__(self, fn, rest_from_z=None):
        self.fn, self.rest_from_z = fn, rest_from_z
        self.count = fn.n_attributed

    def values(self, points: torch.Tensor, kw: dict) -> torch.Tensor:
        if self.rest_from_z is not None:
            return self.fn.outputs(self.rest_from_z(points, **self.fn.kwargs(kw)))
        return self.fn(points, kw)

    def mixing(self, group):
        return None


class ReadoutTargets:
    """The bottleneck units before the readout layer; ``mixing`` is the readout's weight rows."""

    name = "readout units"

    def __init__(self, fn, factorization, features, group_key):
        self.fn, self.features = fn, features
        self.layer = factorization.readout
        self._params = factorization.linear_params
        self.key = factorization.subject_key(self.layer)
        self.group_key = group_key
        self.count = factorization.in_features(self.layer)
        self._mixing: dict = {}

    def values(self, points: torch.Tensor, kw: dict) -> torch.Tensor:
        return self.features(points, **self.fn.kwargs(kw)).reshape(points.shape[0], -1)

    def mixing(self, group) -> torch.Tensor:
        if group not in self._mixing:
            subject = self.fn.subject(self.key, group if self.key is not None and self.key == self.group_key else None)
            W, _ = self._params(self.layer, subject)
            self._mixing[group] = W.detach()[self.fn.output_idx].double()
        return self._mixing[group]


def target_gradients(values: torch.Tensor, points: torch.Tensor, mode: str, reduce) -> torch.Tensor:
    """``reduce(grads)`` for the gradients of every target column of ``values`` w.r.t. ``points``.

    ``values`` ``(P, T)`` computed from ``points`` ``(P, *space)``; ``reduce`` maps ``(t, P, ...)``
    gradients of ``t`` targets to ``(t, ...)`` (the rule's sum over steps). ``mode`` "batched":
    one batched vector-Jacobian product for all targets; "loop": one backward pass per target.
    Returns ``(T, ...)``; a target that does not depend on the points gives zeros.
    """
    n_targets = values.shape[1]
    if mode == "batched" and n_targets > 1:
        # a contiguous seed: an expanded (stride-0) one makes the batched backward far slower
        eye = torch.eye(n_targets, dtype=values.dtype, device=values.device)[:, None, :].repeat(1, values.shape[0], 1)
        (g,) = torch.autograd.grad(values, points, eye, is_grads_batched=True, allow_unused=True)
        if g is None:
            g = torch.zeros((n_targets, *points.shape), dtype=points.dtype, device=points.device)
        return reduce(g)
    parts = []
    for t in range(n_targets):
        (g,) = torch.autograd.grad(values[:, t].sum(), points, retain_graph=t < n_targets - 1, allow_unused=True)
        parts.append(reduce((torch.zeros_like(points) if g is None else g).unsqueeze(0))[0])
    return torch.stack(parts)
