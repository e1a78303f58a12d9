"""IDGI and the rules' cells: against an independent numpy transcription of the published update."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuro_igc.attribution._paths import StraightPath, path_integral
from neuro_igc.attribution._quadrature import QUADRATURE_RULES, quadrature
from neuro_igc.attribution._rules import RULES, cell_bounds, check_rule, idgi_sum


class NumpyNet:
    """``f(x) = v . tanh(W x + c) + 0.3 (u . x)^2``, with its gradient written out in numpy."""

    def __init__(self, d=6, h=5, seed=0):
        rng = np.random.default_rng(seed)
        self.W, self.c = rng.normal(size=(h, d)), rng.normal(size=h)
        self.v, self.u = rng.normal(size=h), rng.normal(size=d)

    def f(self, x):
        return np.tanh(x @ self.W.T + self.c) @ self.v + 0.3 * (x @ self.u) ** 2

    def grad(self, x):
        t = np.tanh(x @ self.W.T + self.c)
        return ((1 - t**2) * self.v) @ self.W + 0.6 * (x @ self.u)[..., None] * self.u

    def torch_model(self):
        net = self

        class T(torch.nn.Module):
            def forward(self, x):
                W, c = torch.tensor(net.W), torch.tensor(net.c)
                v, u = torch.tensor(net.v), torch.tensor(net.u)
                return (torch.tanh(x @ W.T + c) @ v + 0.3 * (x @ u) ** 2)[:, None]

        return T()


def idgi_reference(net: NumpyNet, x: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """The published IDGI update on IG's Riemann path, transcribed directly:
    ``x_j = b + (j / n)(x - b)``, ``j = 0..n``; ``attr += g_j * g_j * (f(x_{j+1}) - f(x_j)) / ||g_j||^2``."""
    attr = np.zeros_like(x)
    for j in range(n):
        xj = b + (j / n) * (x - b)
        xn = b + ((j + 1) / n) * (x - b)
        g = net.grad(xj)
        attr += g * g * (net.f(xn) - net.f(xj)) / np.sum(g * g)
    return attr


@pytest.mark.parametrize("n", [2, 4, 8, 64])
def test_idgi_matches_numpy_transcription_and_is_complete(n):
    net = NumpyNet()
    rng = np.random.default_rng(1)
    x, b = rng.normal(size=(3, 6)), rng.normal(size=(3, 6))
    a, w = quadrature("riemann-left", n)
    got = path_integral(net.torch_model(), torch.tensor(x), torch.tensor(b), path=StraightPath(), rule="idgi",
                        alphas=torch.tensor(a), weights=torch.tensor(w), bounds=cell_bounds(w))[0].numpy()
    want = np.stack([idgi_reference(net, x[r], b[r], n) for r in range(3)])
    # float64 arithmetic on both sides, one division per step: agreement to rounding
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    # completeness holds exactly (to float64 rounding of n telescoping differences)
    np.testing.assert_allclose(got.sum(1), net.f(x) - net.f(b), rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", list(QUADRATURE_RULES))
@pytest.mark.parametrize("n", [2, 4, 8, 64])
def test_idgi_is_complete_with_every_quadrature_rule(method, n):
    if n < QUADRATURE_RULES[method][1]:
        pytest.skip("too few steps for this rule")
    net = NumpyNet(seed=3)
    rng = np.random.default_rng(2)
    x, b = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    a, w = quadrature(method, n)
    got = path_integral(net.torch_model(), torch.tensor(x), torch.tensor(b), path=StraightPath(), rule="idgi",
                        alphas=torch.tensor(a), weights=torch.tensor(w), bounds=cell_bounds(w))[0].numpy()
    np.testing.assert_allclose(got.sum(1), net.f(x) - net.f(b), rtol=0, atol=1e-12)


def test_idgi_unnormalised_weights_would_fail():
    """The normalisation by ||g||^2 is what the transcription checks: without it the sums differ."""
    g = torch.tensor([[[3.0, 4.0]]], dtype=torch.float64)  # ||g||^2 = 25
    df = torch.tensor([[2.0]], dtype=torch.float64)
    np.testing.assert_allclose(idgi_sum(g, df).numpy(), [[2 * 9 / 25, 2 * 16 / 25]])
    assert float(idgi_sum(g, df).sum()) == pytest.approx(2.0)
    # a zero gradient contributes nothing (no division by zero)
    assert torch.equal(idgi_sum(torch.zeros(1, 1, 2), torch.ones(1, 1)), torch.zeros(1, 2))


@pytest.mark.parametrize("method", list(QUADRATURE_RULES))
@pytest.mark.parametrize("n", [2, 3, 8, 33, 64])
def test_each_node_lies_in_its_cell(method, n):
    if n < QUADRATURE_RULES[method][1]:
        pytest.skip("too few steps for this rule")
    a, w = quadrature(method, n)
    c = cell_bounds(w)
    assert c[0] == 0.0 and c[-1] == 1.0 and np.all(np.diff(c) > 0)
    # Gauss-Legendre: the Chebyshev-Markov-Stieltjes separation theorem; Riemann rules by construction
    assert np.all(a >= c[:-1] - 1e-15) and np.all(a <= c[1:] + 1e-15)


def test_check_rule_names_the_options():
    assert set(RULES) == {"quadrature", "idgi"}
    with pytest.raises(ValueError, match="Invalid value for 'rule': allowed are 'quadrature', 'idgi'; got 'simpson'"):
        check_rule("simpson")
