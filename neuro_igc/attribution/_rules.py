"""Rules that turn the gradients at the points of a path into attributions.

A path ``gamma(t)``, ``t in [0, 1]``, runs from a start (a baseline, or a blurred image) to the
input. A quadrature rule (``method``) gives nodes ``t_s`` and weights ``w_s`` (summing to 1); the
weights cut ``[0, 1]`` into *cells* ``[C_{s-1}, C_s]`` with ``C_s = w_1 + ... + w_s``, and each
node lies in its own cell (for the Riemann rules by construction, for Gauss-Legendre by the
Chebyshev-Markov-Stieltjes separation theorem). With ``g_s`` the gradient of the target at
``gamma(t_s)``:

- ``"quadrature"``: ``sum_s w_s g_s * gamma'(t_s)``, Integrated Gradients' quadrature of the
  path integral (for the straight path ``gamma' = x - x'``); complete up to the quadrature error.
- ``"idgi"``: Important Direction Gradient Integration (Yang et al. 2023): each cell's change of
  the output ``f(gamma(C_s)) - f(gamma(C_{s-1}))`` is shared out along the gradient's own
  direction, ``g_s * g_s * df_s / ||g_s||^2``. The changes telescope, so the attributions sum to
  ``f(x) - f(gamma(0))`` exactly at any number of steps (a cell where the gradient is exactly zero
  contributes nothing). With ``method="riemann-left"`` and ``n`` steps this is the published
  update with the gradient at ``x_j`` and the change ``f(x_{j+1}) - f(x_j)`` over ``n`` equal steps.

IDGI is not linear in the gradient: the exact readout and input-linear factorizations (which
integrate gradients of bottleneck units or in a smaller space) do not apply to it, so it is
computed per output in the input space.
"""

from __future__ import annotations

import numpy as np
import torch

from neuro_igc._utils import check_option

__all__ = ["RULES", "check_rule", "cell_bounds", "idgi_sum"]

#: rule name -> one line of what it does
RULES: dict[str, str] = {
    "quadrature": "the quadrature of the gradient along the path (Integrated Gradients)",
    "idgi": "each step's change of the output along the gradient's direction (IDGI; exactly complete)",
}


def check_rule(rule: str) -> str:
    """Raise a ValueError naming the allowed rules unless ``rule`` is one."""
    return check_option("rule", rule, RULES)


def cell_bounds(weights) -> np.ndarray:
    """The cells' boundaries ``0 = C_0 < C_1 < ... < C_S = 1`` of a quadrature rule's weights.

    Examples
    --------
    >>> cell_bounds([0.25, 0.25, 0.5]).tolist()
    [0.0, 0.25, 0.5, 1.0]
    """
    w = np.asarray(weights, dtype=np.float64)
    bounds = np.concatenate([[0.0], np.cumsum(w)])
    bounds[-1] = 1.0  # the weights sum to 1 up to rounding: the last cell ends at the input
    return bounds


def idgi_sum(grads: torch.Tensor, df: torch.Tensor) -> torch.Tensor:
    """``sum_s g_s * g_s * df_s / ||g_s||^2`` over the step axis.

    Parameters
    ----------
    grads : (..., S, m) tensor
        The target's gradient at each step's node (flattened components).
    df : (..., S) tensor
        The target's change over each step's cell.

    Returns
    -------
    (..., m) tensor, in the dtype of ``grads``
    """
    sq = grads * grads
    norm = sq.sum(-1)
    coef = torch.where(norm > 0, df.to(sq.dtype) / torch.where(norm > 0, norm, torch.ones_like(norm)),
                       torch.zeros_like(norm))
    return (coef.unsqueeze(-1) * sq).sum(-2)
