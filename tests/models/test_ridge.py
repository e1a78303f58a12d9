"""Ridge against scikit-learn and the closed form; the CV choice of alpha; errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge as SkRidge
from sklearn.model_selection import KFold

from neuro_igc.models import Ridge, load_checkpoint, save_checkpoint


def _data(n=60, d=12, t=5, seed=0, noise=0.5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, t))
    Y = X @ W + noise * rng.normal(size=(n, t)) + 3.0
    return X, Y


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", [(60, 12), (20, 40)])  # n > d and n < d
def test_single_alpha_equals_sklearn_and_closed_form(fit_intercept, shape):
    X, Y = _data(*shape)
    model = Ridge(alphas=2.5, fit_intercept=fit_intercept).fit(X, Y)
    ref = SkRidge(alpha=2.5, fit_intercept=fit_intercept).fit(X, Y)
    np.testing.assert_allclose(model.coef_.double().numpy(), ref.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.intercept_.double().numpy(), np.broadcast_to(ref.intercept_, (5,)),
                               rtol=1e-5, atol=1e-5)
    # closed form (X^T X + a I)^-1 X^T Y on centred data
    Xc, Yc = (X - X.mean(0), Y - Y.mean(0)) if fit_intercept else (X, Y)
    coef = np.linalg.solve(Xc.T @ Xc + 2.5 * np.eye(X.shape[1]), Xc.T @ Yc)
    np.testing.assert_allclose(model.coef_.double().numpy(), coef.T, rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        pred = model(torch.as_tensor(X, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(pred, ref.predict(X), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("d, solver", [(30, "primal"), (120, "dual")])  # n = 50 samples
def test_cv_matches_brute_force_kfold_with_sklearn(d, solver, fit_intercept):
    X, Y = _data(n=50, d=d, t=6, seed=1, noise=2.0)
    alphas = [1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3]
    model = Ridge(alphas=alphas, cv=5, fit_intercept=fit_intercept).fit(X, Y)
    assert model.solver_ == solver
    mse = np.zeros((len(alphas), Y.shape[1]))
    for tr, te in KFold(5).split(X):
        for i, a in enumerate(alphas):
            pred = SkRidge(alpha=a, fit_intercept=fit_intercept).fit(X[tr], Y[tr]).predict(X[te])
            mse[i] += ((pred - Y[te]) ** 2).sum(0)
    mse /= len(X)
    np.testing.assert_allclose(model.cv_mse_, mse, rtol=1e-8)
    np.testing.assert_allclose(model.alpha_.numpy(), np.asarray(alphas)[mse.argmin(0)])
    # the final fit uses each target's own alpha: as sklearn's Ridge with an alpha array
    ref = SkRidge(alpha=model.alpha_.numpy(), fit_intercept=fit_intercept).fit(X, Y)
    np.testing.assert_allclose(model.coef_.numpy(), ref.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(torch.as_tensor(X)).numpy(), ref.predict(X), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape", [(60, 12), (20, 40)])
def test_no_regularisation_is_the_pseudo_inverse(shape):
    X, Y = _data(*shape, seed=3)
    model = Ridge(alphas=0.0).fit(X, Y)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    # least squares (n > d) or the minimum-norm interpolation (n < d); rcond as the default of lstsq
    np.testing.assert_allclose(model.coef_.numpy(), (np.linalg.pinv(Xc) @ Yc).T, rtol=1e-6, atol=1e-8)


def test_float64_coefficients_and_inputs_of_either_precision():
    X, Y = _data(n=40, d=70, seed=4)
    m64 = Ridge(alphas=[0.5, 5.0], cv=4).fit(X, Y)
    m32 = Ridge(alphas=[0.5, 5.0], cv=4).fit(X.astype(np.float32), Y.astype(np.float32))
    assert m64.coef_.dtype == m64.intercept_.dtype == torch.float64
    # the float32 copy of X differs from X by rounding only (relative 6e-8): same alphas, close coefficients
    np.testing.assert_array_equal(m32.alpha_.numpy(), m64.alpha_.numpy())
    np.testing.assert_allclose(m32.coef_.numpy(), m64.coef_.numpy(), rtol=1e-4, atol=1e-6)
    x = torch.as_tensor(X[:5])
    np.testing.assert_allclose(m64(x).numpy(), m64(x.float()).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(m64(x).numpy(), X[:5] @ m64.coef_.numpy().T + m64.intercept_.numpy(), rtol=1e-12)


def test_cv_picks_sensible_alphas():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 20))
    w = rng.normal(size=20)
    clean = X @ w  # noiseless: weak regularisation is best
    noisy = rng.normal(size=200) * 10 + 0.05 * (X @ w)  # mostly noise: strong regularisation
    model = Ridge(alphas=np.logspace(-3, 5, 9)).fit(X, np.stack([clean, noisy], 1))
    assert model.alpha_[0] <= 1e-2
    assert model.alpha_[1] >= 1e2


def test_linear_protocol_and_images():
    X = torch.randn(30, 1, 4, 4)
    model = Ridge(alphas=[1.0]).fit(X, torch.randn(30, 3)).eval()
    x = torch.randn(5, 1, 4, 4, dtype=torch.float64)
    ref = model(x)
    assert ref.dtype == torch.float64 and model(x.float()).dtype == torch.float64  # float64 coefficients
    assert not hasattr(model, "igc_readout")
    torch.testing.assert_close(model.forward_from_input_linear(model.igc_input_linear(x.flatten(1))), ref,
                               rtol=0, atol=0)
    assert not any(p.requires_grad for p in model.parameters())
    xr = x.clone().requires_grad_(True)
    model(xr)[:, 1].sum().backward()  # input gradient = the coefficients
    torch.testing.assert_close(xr.grad.flatten(1), model.coef_[1].expand(5, -1))


def test_checkpoint_round_trip(tmp_path):
    X, Y = _data()
    model = Ridge(alphas=[0.1, 10.0], cv=3).fit(X, Y)
    save_checkpoint(tmp_path / "ridge.pt", model)
    clone = load_checkpoint(tmp_path / "ridge.pt")
    torch.testing.assert_close(clone.coef_, model.coef_, rtol=0, atol=0)
    torch.testing.assert_close(clone.alpha_, model.alpha_, rtol=0, atol=0)


def test_errors():
    with pytest.raises(ValueError, match="Invalid value for 'alphas'"):
        Ridge(alphas=[-1.0])
    with pytest.raises(ValueError, match="Invalid value for 'cv': at least 2 folds"):
        Ridge(cv=1)
    with pytest.raises(RuntimeError, match=r"not fitted yet: call model.fit\(X, Y\)"):
        Ridge()(torch.randn(2, 3))
    with pytest.raises(ValueError, match="same n_samples"):
        Ridge().fit(np.zeros((10, 3)), np.zeros((9, 2)))
    with pytest.raises(ValueError, match="Invalid value for 'X': 10 of 10 samples hold NaN or inf"):
        Ridge().fit(np.full((10, 3), np.nan), np.zeros((10, 2)))
    with pytest.raises(ValueError, match="5 folds need >= 5 samples"):
        Ridge().fit(np.zeros((3, 3)), np.zeros((3, 2)))
    model = Ridge(alphas=1.0).fit(np.random.rand(10, 3), np.random.rand(10, 2))
    with pytest.raises(ValueError, match="fitted on 3 features; got x with 4"):
        model(torch.randn(2, 4))
