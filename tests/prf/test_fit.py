"""pRF fits: recovery of planted Gaussians, agreement with scipy curve_fit, exact normal equations."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.optimize import curve_fit

from neuro_igc.prf import PRF_INITS, PRF_SIGNS, PRF_SOLVERS, fit_prf, gaussian_maps
from neuro_igc.prf import _fit

H = W = 32
EXTENT = 8.4
DEG = EXTENT / W


def _blobs(rng, n, noise=0.05):
    x, y = rng.uniform(-2.5, 2.5, n), rng.uniform(-2.5, 2.5, n)
    sigma, amp, off = rng.uniform(0.4, 1.4, n), rng.uniform(0.8, 2.0, n), rng.uniform(-0.1, 0.1, n)
    # rendered independently of the package: rows count down from the top (+y up)
    xs = (np.arange(W) - (W - 1) / 2) * DEG
    ys = ((H - 1) / 2 - np.arange(H)) * DEG
    g = np.exp(-((xs[None, None, :] - x[:, None, None]) ** 2 + (ys[None, :, None] - y[:, None, None]) ** 2)
               / (2 * sigma[:, None, None] ** 2))
    maps = off[:, None, None] + amp[:, None, None] * g + noise * rng.standard_normal((n, H, W))
    return maps, pd.DataFrame({"x": x, "y": y, "sigma": sigma, "amplitude": amp, "offset": off})


def test_gaussian_maps_matches_independent_rendering():
    rng = np.random.default_rng(0)
    maps, truth = _blobs(rng, 5, noise=0.0)
    np.testing.assert_allclose(gaussian_maps(truth.x, truth.y, truth.sigma, truth.amplitude, truth.offset,
                                             shape=(H, W), extent_deg=EXTENT), maps, atol=1e-12)


@pytest.mark.parametrize("solver", list(PRF_SOLVERS))
@pytest.mark.parametrize("init", list(PRF_INITS))
def test_recovers_planted_parameters(solver, init):
    rng = np.random.default_rng(1)
    maps, truth = _blobs(rng, 24, noise=0.03)
    p = fit_prf(maps, EXTENT, sign="signed", solver=solver, init=init, progress=False)
    assert p["converged"].all()
    for c, tol in (("x", 0.03), ("y", 0.03), ("sigma", 0.03), ("amplitude", 0.06), ("offset", 0.01)):
        np.testing.assert_allclose(p[c], truth[c], atol=tol, err_msg=c)
    diff = (p["angle"] - np.degrees(np.arctan2(truth.y, truth.x)) + 180) % 360 - 180
    far = np.hypot(truth.x, truth.y) > 1.0  # the angle of a foveal pRF is ill-determined
    np.testing.assert_allclose(diff[far], 0, atol=3.0)
    np.testing.assert_allclose(p["eccentricity"], np.hypot(truth.x, truth.y), atol=0.04)
    np.testing.assert_array_equal(p["size"], p["sigma"])
    assert (p["r2"] > 0.8).all() and (p["r2"] <= 1).all()


def _scipy_fit(m, p0):
    xs = (np.arange(W) - (W - 1) / 2) * DEG
    ys = ((H - 1) / 2 - np.arange(H)) * DEG
    xx, yy = np.meshgrid(xs, ys)

    def model(_, x0, y0, s, a, b):
        return (b + a * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * s * s))).ravel()

    popt, _ = curve_fit(model, None, m.ravel(), p0=p0, xtol=1e-12, ftol=1e-12, maxfev=20000)
    return popt


def test_agrees_with_scipy_curve_fit():
    rng = np.random.default_rng(2)
    maps, truth = _blobs(rng, 25, noise=0.1)
    p = fit_prf(maps, EXTENT, sign="signed", progress=False)
    for i in range(len(maps)):
        p0 = truth.loc[i, ["x", "y", "sigma", "amplitude", "offset"]].to_numpy() + 0.05
        ref = _scipy_fit(maps[i], p0)
        np.testing.assert_allclose(p.loc[i, ["x", "y", "sigma"]].to_numpy(float), ref[:3], atol=1e-5)
        np.testing.assert_allclose(p.loc[i, ["amplitude", "offset"]].to_numpy(float), ref[3:], atol=1e-5)
        resid = maps[i] - gaussian_maps(*ref[:3], ref[3], ref[4], shape=(H, W), extent_deg=EXTENT)[0]
        r2 = 1 - (resid**2).sum() / ((maps[i] - maps[i].mean()) ** 2).sum()
        assert p.loc[i, "r2"] == pytest.approx(r2, abs=1e-9)


def test_separable_normal_equations_equal_autograd_jacobian():
    """The separable (cost, J^T J, J^T r) equal those from an autograd Jacobian of the plain model."""
    rng = np.random.default_rng(3)
    maps, _ = _blobs(rng, 6)
    y = torch.tensor(maps)
    rows, cols = torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64)
    p = torch.tensor(np.column_stack([rng.uniform(5, 26, 6), rng.uniform(5, 26, 6), rng.uniform(0.8, 6, 6),
                                      rng.uniform(-2, 2, 6), rng.uniform(-0.5, 0.5, 6)]))
    flat = y.flatten(1)
    stats = torch.stack([(flat * flat).sum(1), flat.sum(1)], 1)
    cost, jtj, jtr = _fit._normal_separable(p, y, stats, rows, cols)

    def model(q):
        g = torch.exp(-((cols[None, :] - q[0]) ** 2 + (rows[:, None] - q[1]) ** 2) / (2 * q[2] ** 2))
        return (q[4] + q[3] * g).flatten()

    for i in range(len(p)):
        j = torch.autograd.functional.jacobian(model, p[i], vectorize=True, strategy="forward-mode")
        r = flat[i] - model(p[i])
        torch.testing.assert_close(cost[i], (r * r).sum(), rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(jtj[i], j.T @ j, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(jtr[i], j.T @ r, rtol=1e-9, atol=1e-9)
    dense = _fit._normal_dense(p, y, stats, rows, cols)
    for a, b in zip((cost, jtj, jtr), dense):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_angle_convention_and_image_orientation():
    """Row 0 is the image top: a blob near the top is in the upper visual field, angle ~90."""
    maps = np.zeros((4, H, W))
    maps[0, 4, W // 2 - 1: W // 2 + 1] = 1.0  # top centre -> upper vertical meridian
    maps[1, H // 2 - 1: H // 2 + 1, W - 5] = 1.0  # right -> 0
    maps[2, H // 2 - 1: H // 2 + 1, 4] = 1.0  # left -> 180
    maps[3, H - 5, W // 2 - 1: W // 2 + 1] = 1.0  # bottom -> 270
    from scipy.ndimage import gaussian_filter

    maps = np.stack([gaussian_filter(m, 2.0) for m in maps])
    p = fit_prf(maps, EXTENT, progress=False)
    assert ((p["angle"] >= 0) & (p["angle"] < 360)).all()
    diff = (p["angle"].to_numpy() - [90, 0, 180, 270] + 180) % 360 - 180  # circular difference
    np.testing.assert_allclose(diff, 0, atol=1.0)
    assert p.loc[0, "y"] > 3 and p.loc[3, "y"] < -3 and p.loc[1, "x"] > 3 and p.loc[2, "x"] < -3


@pytest.mark.parametrize("sign", list(PRF_SIGNS))
def test_sign_options(sign):
    rng = np.random.default_rng(4)
    maps, truth = _blobs(rng, 4, noise=0.02)
    neg = -maps  # negative blobs
    p = fit_prf(neg, EXTENT, sign=sign, progress=False)
    if sign == "signed":
        np.testing.assert_allclose(p["amplitude"], -truth["amplitude"], atol=0.1)
        np.testing.assert_allclose(p[["x", "y"]], truth[["x", "y"]], atol=0.05)
    elif sign == "abs":
        np.testing.assert_allclose(p["amplitude"], truth["amplitude"], atol=0.1)
        np.testing.assert_allclose(p[["x", "y"]], truth[["x", "y"]], atol=0.05)
    else:  # the positive part of a negative blob is clipped noise: no pRF of that size
        assert (p["amplitude"] >= 0).all() and (p["amplitude"] < 0.3 * truth["amplitude"]).all()
        pos = fit_prf(maps, EXTENT, sign=sign, progress=False)  # positive blobs: the fit itself
        np.testing.assert_allclose(pos[["x", "y"]], truth[["x", "y"]], atol=0.05)


def test_fit_on_device(device):
    rng = np.random.default_rng(5)
    maps, truth = _blobs(rng, 8)
    p = fit_prf(torch.tensor(maps, dtype=torch.float32), EXTENT, device=device, sign="signed", progress=False,
                index=np.arange(100, 108))
    assert list(p.index) == list(range(100, 108))
    np.testing.assert_allclose(p[["x", "y"]].to_numpy(), truth[["x", "y"]].to_numpy(), atol=0.05)
    ref = fit_prf(maps, EXTENT, device="cpu", sign="signed", progress=False, batch_size=3)
    np.testing.assert_allclose(p[["x", "y", "sigma"]].to_numpy(), ref[["x", "y", "sigma"]].to_numpy(), atol=1e-4)


def test_errors():
    maps = np.zeros((2, 8, 8))
    with pytest.raises(ValueError, match="Invalid value for 'sign': allowed are 'positive', 'abs', 'signed'"):
        fit_prf(maps, sign="neg")
    with pytest.raises(ValueError, match="Invalid value for 'solver'"):
        fit_prf(maps, solver="adam")
    bad = maps.copy()
    bad[1, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values in 1 map\(s\) \(first: \[1\]\)"):
        fit_prf(bad)
    with pytest.raises(ValueError, match="Invalid shape for 'maps'"):
        fit_prf(np.zeros((2, 3, 8, 8)))
    with pytest.raises(ValueError, match="Invalid value for 'extent_deg'"):
        fit_prf(maps, extent_deg=-1)
    with pytest.raises(ValueError, match="'index' has 1 labels for 2 maps"):
        fit_prf(maps, index=[0])


def test_non_square_maps():
    """H != W: the extent spans the longer side; both axes keep square pixels."""
    x, y, s = np.array([1.5, -2.0]), np.array([0.8, -0.5]), np.array([0.7, 0.9])
    maps = gaussian_maps(x, y, s, shape=(20, 32), extent_deg=EXTENT)
    assert np.unravel_index(maps[0].argmax(), (20, 32))[0] < 10  # y > 0: upper half
    p = fit_prf(maps, EXTENT, progress=False)
    np.testing.assert_allclose(p[["x", "y", "sigma"]].to_numpy(), np.column_stack([x, y, s]), atol=1e-6)
