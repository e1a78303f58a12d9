"""Quadrature rules for the path integral of Integrated Gradients, on ``[0, 1]``.

Every rule maps a number of steps to interpolation coefficients ``alphas`` and weights
``weights`` (both float64 arrays of length ``n_steps``) so that
``integral_0^1 g(t) dt ~= sum(weights * g(alphas))``. All weights sum to 1, so a linear model's
IG is exact with every rule.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["QUADRATURE_RULES", "CAPTUM_METHOD_NAMES", "quadrature"]


def _gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.legendre.leggauss(n)
    return 0.5 * (nodes + 1.0), 0.5 * weights


def _trapezoid(n: int) -> tuple[np.ndarray, np.ndarray]:
    # n points from 0 to 1 inclusive, spacing 1 / (n - 1), halved end weights
    alphas = np.linspace(0.0, 1.0, n)
    weights = np.full(n, 1.0 / (n - 1))
    weights[[0, -1]] *= 0.5
    return alphas, weights


def _left(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(n) / n, np.full(n, 1.0 / n)


def _right(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(1, n + 1) / n, np.full(n, 1.0 / n)


def _middle(n: int) -> tuple[np.ndarray, np.ndarray]:
    return (np.arange(n) + 0.5) / n, np.full(n, 1.0 / n)


#: name -> (rule, smallest number of steps it accepts)
QUADRATURE_RULES: dict[str, tuple[Callable[[int], tuple[np.ndarray, np.ndarray]], int]] = {
    "gauss-legendre": (_gauss_legendre, 1),
    "riemann-trapezoid": (_trapezoid, 2),
    "riemann-middle": (_middle, 1),
    "riemann-left": (_left, 1),
    "riemann-right": (_right, 1),
}

#: the same rules under Captum's names (``IntegratedGradients.attribute(method=...)``). Captum's
#: trapezoid weights sum to ``(n - 1) / n`` instead of 1; the other rules are identical.
CAPTUM_METHOD_NAMES: dict[str, str] = {
    "gauss-legendre": "gausslegendre",
    "riemann-trapezoid": "riemann_trapezoid",
    "riemann-middle": "riemann_middle",
    "riemann-left": "riemann_left",
    "riemann-right": "riemann_right",
}


def check_method(method: str) -> str:
    """Raise a ValueError naming the allowed quadrature rules unless ``method`` is one."""
    from neuro_igc._utils import check_option

    return check_option("method", method, QUADRATURE_RULES)


def check_steps(n_steps, method: str) -> int:
    """Validate an integer number of steps for ``method``."""
    min_steps = QUADRATURE_RULES[method][1]
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < min_steps:
        raise ValueError(
            f"Invalid value for 'n_steps': {method!r} needs an integer >= {min_steps} (or 'auto'); "
            f"got {n_steps!r}."
        )
    return int(n_steps)


def quadrature(method: str, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Interpolation coefficients and weights of a rule on ``[0, 1]``.

    Parameters
    ----------
    method : {"gauss-legendre", "riemann-trapezoid", "riemann-middle", "riemann-left", "riemann-right"}
    n_steps : int
        Number of points (``>= 2`` for the trapezoid rule, ``>= 1`` otherwise).

    Returns
    -------
    alphas, weights : (n_steps,) float64 arrays

    Examples
    --------
    >>> alphas, weights = quadrature("riemann-trapezoid", 3)
    >>> alphas.tolist(), weights.tolist()
    ([0.0, 0.5, 1.0], [0.25, 0.5, 0.25])
    """
    check_method(method)
    n_steps = check_steps(n_steps, method)
    alphas, weights = QUADRATURE_RULES[method][0](n_steps)
    return np.asarray(alphas, dtype=np.float64), np.asarray(weights, dtype=np.float64)
