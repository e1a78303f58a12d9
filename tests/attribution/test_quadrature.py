"""Quadrature rules on [0, 1]: weights, exactness, and Captum's nodes."""

from __future__ import annotations

import numpy as np
import pytest

from neuro_igc.attribution import CAPTUM_METHOD_NAMES, QUADRATURE_RULES, quadrature


@pytest.mark.parametrize("method", list(QUADRATURE_RULES))
@pytest.mark.parametrize("n", [2, 3, 8])
def test_weights_sum_to_one_and_linear_exact(method, n):
    a, w = quadrature(method, n)
    assert a.shape == w.shape == (n,) and a.dtype == np.float64
    assert np.all((a >= 0) & (a <= 1))
    np.testing.assert_allclose(w.sum(), 1.0, rtol=1e-14)
    exact_degree = {"gauss-legendre": 2 * n - 1, "riemann-trapezoid": 1, "riemann-middle": 1}.get(method, 0)
    for deg in range(exact_degree + 1):
        np.testing.assert_allclose((w * a**deg).sum(), 1 / (deg + 1), rtol=1e-12)


@pytest.mark.parametrize("method", list(QUADRATURE_RULES))
def test_convergence_on_smooth_integrand(method):
    errs = [abs((w * np.exp(a)).sum() - (np.e - 1)) for a, w in (quadrature(method, n) for n in (4, 8, 16))]
    assert errs[2] < errs[1] < errs[0]


@pytest.mark.parametrize("method", list(QUADRATURE_RULES))
def test_same_nodes_as_captum(method):
    approx = pytest.importorskip("captum.attr._utils.approximation_methods")
    steps, alphas = approx.approximation_parameters(CAPTUM_METHOD_NAMES[method])
    a, w = quadrature(method, 7)
    np.testing.assert_allclose(a, alphas(7), rtol=1e-6, atol=1e-7)  # Captum builds Riemann nodes in float32
    scale = 7 / 6 if method == "riemann-trapezoid" else 1.0  # Captum's trapezoid weights sum to 6/7
    np.testing.assert_allclose(w, np.asarray(steps(7)) * scale, rtol=1e-12)


def test_errors():
    with pytest.raises(ValueError, match="Invalid value for 'method': allowed are 'gauss-legendre', 'riemann-trapezoid'"):
        quadrature("simpson", 4)
    with pytest.raises(ValueError, match="'n_steps': 'riemann-left' needs an integer >= 1"):
        quadrature("riemann-left", 0)
    with pytest.raises(ValueError, match="'riemann-trapezoid' needs an integer >= 2"):
        quadrature("riemann-trapezoid", 1)
