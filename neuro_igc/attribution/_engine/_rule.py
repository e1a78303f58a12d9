"""The *rule*: how the gradients at the points of a path become an integral.

Today one rule, the quadrature of the path integral (Integrated Gradients): nodes ``t_s`` and
weights ``w_s`` of ``method`` (:mod:`neuro_igc.attribution._quadrature`), and
``integral ~= sum_s w_s grad(gamma(t_s))``.

Interface used by the path integral (:mod:`._integral`):

- ``nodes`` (S,) in the model's dtype: where on ``[0, 1]`` the path is evaluated;
- ``n_steps``, ``method``: for the settings;
- ``sum_steps(grads, first, n_paths)``: ``(T, n_paths * ns, ...)`` gradients of ``T`` targets at
  the nodes ``first .. first + ns - 1`` of ``n_paths`` paths (path-major) -> ``(T, n_paths, size)``
  their weighted sum (a partial integral; the chunks of nodes add up);
- ``linear = True``: the result is linear in the gradients, so the exact factorizations (which
  integrate gradients of bottleneck units or in a smaller space and map them afterwards) apply.
  A rule that is not (IDGI) sets it False and the planner leaves the factorizations out.
"""

from __future__ import annotations

import torch

from neuro_igc.attribution._quadrature import QUADRATURE_RULES

__all__ = ["QuadratureRule"]


class QuadratureRule:
    """Gauss-Legendre or Riemann quadrature of the gradient along each path.

    ``method`` and ``n_steps`` are valid already (checked where the settings are built).
    """

    name = "quadrature"
    linear = True

    def __init__(self, method: str, n_steps: int, *, device: torch.device, dtype: torch.dtype):
        nodes, weights = QUADRATURE_RULES[method][0](int(n_steps))
        self.method, self.n_steps = method, int(n_steps)
        self.nodes = torch.as_tensor(nodes, dtype=torch.float64).to(device=device, dtype=dtype)
        self.weights = torch.as_tensor(weights, dtype=torch.float64).to(device)  # float64, for the record
        self._weights_model = self.weights.to(dtype)

    def sum_steps(self, grads: torch.Tensor, first: int, n_paths: int) -> torch.Tensor:
        """``(T, n_paths, size)``: the weighted sum over nodes ``first..`` of each path's gradients."""
        n_targets = grads.shape[0]
        ns = grads.shape[1] // n_paths
        w = self._weights_model[first:first + ns].view(1, 1, ns)
        return torch.matmul(w, grads.reshape(n_targets * n_paths, ns, -1)).reshape(n_targets, n_paths, -1)

    def describe(self) -> dict:
        return {"rule": self.name, "method": self.method, "n_steps": self.n_steps}
