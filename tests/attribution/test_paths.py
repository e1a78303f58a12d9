"""Straight, blur and guided paths: endpoints, closed forms, and the PAIR ``saliency`` package."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch
from torch import nn

from neuro_igc.attribution import ig
from neuro_igc.attribution._paths import PATHS, BlurPath, GuidedPath, StraightPath, blur, gaussian_blur_matrices, make_path, path_integral
from neuro_igc.attribution._quadrature import quadrature
from neuro_igc.attribution._rules import cell_bounds


def small_cnn(seed=0, n_out=2):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.Tanh(), nn.Conv2d(3, 2, 3, padding=1), nn.Softplus(),
                         nn.Flatten(), nn.Linear(2 * 8 * 8, n_out)).double().eval()


def images(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return torch.tensor(rng.normal(size=(n, 1, 8, 8))), torch.tensor(rng.normal(size=(n, 1, 8, 8)))


def run(model, x, start, path, rule="quadrature", method="gauss-legendre", n=16):
    a, w = quadrature(method, n)
    return path_integral(model, x, start, path=path, rule=rule, alphas=torch.tensor(a), weights=torch.tensor(w),
                         bounds=cell_bounds(w))


def test_straight_path_equals_engine_ig():
    model = small_cnn()
    x, b = images()
    ours = run(model, x, b[:1].expand_as(x), StraightPath())  # (Q, R, ...)
    ref = ig(model, x, baselines=b[:1], n_steps=16, progress=False, warn=False).attributions
    np.testing.assert_allclose(ours.permute(1, 0, 2, 3, 4).numpy(), ref, rtol=1e-10, atol=1e-13)


# ---------------------------------------------------------------- blur
@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.5, 40.0])
def test_blur_is_scipy_gaussian_filter_on_full_support(sigma):
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(0)
    img = rng.normal(size=(7, 9))
    ours = blur(torch.tensor(img)[None], sigma)[0].numpy()
    # scipy's radius is int(truncate * sigma + 0.5); ours is size - 1 on each axis
    want_h = ndimage.gaussian_filter1d(img, sigma, axis=0, mode="constant", truncate=6.0 / sigma)
    want = ndimage.gaussian_filter1d(want_h, sigma, axis=1, mode="constant", truncate=8.0 / sigma)
    np.testing.assert_allclose(ours, want, rtol=1e-12, atol=1e-14)


def test_blur_derivative_is_exact():
    sig = torch.tensor([0.7, 2.0, 9.0], dtype=torch.float64)
    M, dM = gaussian_blur_matrices(10, sig, derivative=True)
    h = 1e-6
    fd = (gaussian_blur_matrices(10, sig + h) - gaussian_blur_matrices(10, sig - h)) / (2 * h)
    np.testing.assert_allclose(dM.numpy(), fd.numpy(), atol=1e-8)  # central differences: O(h^2) + rounding/h
    M0, dM0 = gaussian_blur_matrices(4, torch.zeros(1, dtype=torch.float64), derivative=True)
    assert torch.equal(M0[0], torch.eye(4, dtype=torch.float64)) and not dM0.any()


def test_blur_path_endpoints_and_completeness():
    model = small_cnn()
    x, _ = images()
    p = BlurPath(max_sigma=6.0)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    ends = p.points(x, None, t)
    torch.testing.assert_close(ends[:, 1], x, rtol=0, atol=0)  # t = 1 is the image itself
    torch.testing.assert_close(ends[:, 0], blur(x, 6.0), rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(p.start(x), blur(x, 6.0), rtol=1e-14, atol=1e-15)
    with torch.no_grad():
        gap = (model(x) - model(p.start(x))).T
    err = [float((run(model, x, p.start(x), p, n=n).flatten(2).sum(-1) - gap).abs().max()) for n in (8, 32, 64)]
    assert err[2] < 1e-6 and err[0] > err[1] > err[2]  # the quadrature converges to the path integral
    exact = run(model, x, p.start(x), p, rule="idgi", n=4).flatten(2).sum(-1)
    torch.testing.assert_close(exact, gap, rtol=0, atol=1e-12)


def test_blur_path_needs_images():
    with pytest.raises(ValueError, match="Invalid value for 'path': 'blur' blurs the last two axes"):
        BlurPath().start(torch.zeros(4, 6))
    with pytest.raises(ValueError, match="'max_sigma'"):
        BlurPath(max_sigma=0)


# ---------------------------------------------------------------- the PAIR saliency package
def call_model(model, out_idx):
    """saliency's call_model_function for a torch model on (H, W, C) images."""
    def fn(batch, call_model_args=None, expected_keys=None):
        xb = torch.tensor(np.asarray(batch, dtype=np.float64)).permute(0, 3, 1, 2).requires_grad_(True)
        out = model(xb)[:, out_idx].sum()
        (g,) = torch.autograd.grad(out, xb)
        return {"INPUT_OUTPUT_GRADIENTS": g.permute(0, 2, 3, 1).numpy()}
    return fn


def test_straight_path_matches_saliency_integrated_gradients():
    saliency = pytest.importorskip("saliency.core")
    model = small_cnn()
    x, b = images(1)
    n = 12
    sal = saliency.IntegratedGradients().GetMask(x[0].permute(1, 2, 0).numpy(), call_model(model, 1),
                                                 x_baseline=b[0].permute(1, 2, 0).numpy(), x_steps=n, batch_size=4)
    # saliency's quirk: n points from 0 to 1 inclusive, each weighted 1/n (not the trapezoid's
    # halved ends): sal = ((n - 1) * trapezoid(n) + (g(b) + g(x)) / 2 * (x - b)) / n
    trap = run(model, x, b, StraightPath(), method="riemann-trapezoid", n=n)[1, 0]
    ends = torch.cat([b, x]).requires_grad_(True)
    (g,) = torch.autograd.grad(model(ends)[:, 1].sum(), ends)
    want = ((n - 1) * trap + 0.5 * (g[0] + g[1]) * (x[0] - b[0])) / n
    # saliency accumulates the gradients in float32: relative rounding ~1e-7
    np.testing.assert_allclose(sal, want.permute(1, 2, 0).numpy(), rtol=1e-5, atol=1e-7)


def test_blur_path_matches_saliency_blur_ig(monkeypatch):
    saliency = pytest.importorskip("saliency.core")
    blur_ig = pytest.importorskip("saliency.core.blur_ig")
    model = small_cnn()
    x, _ = images(1)
    img = x[0].permute(1, 2, 0).numpy()
    n, max_sigma = 24, 6.0
    ours = run(model, x, BlurPath(max_sigma).start(x), BlurPath(max_sigma), method="riemann-right", n=n)[0, 0]
    ours = ours.permute(1, 2, 0).numpy()

    # 1) saliency's blur truncated at 4 sigma (scipy's default) replaced by the full-support blur:
    # its left sum in sigma from the image is our right rule in t = 1 - sigma / max_sigma; what is
    # left is its forward-difference derivative in sigma (step grad_step)
    def full_blur(image, sigma):
        return image if sigma == 0 else blur(torch.tensor(image).permute(2, 0, 1), sigma).permute(1, 2, 0).numpy()

    monkeypatch.setattr(blur_ig, "gaussian_blur", full_blur)
    sal = saliency.BlurIG().GetMask(img, call_model(model, 0), max_sigma=max_sigma, steps=n, grad_step=1e-6)
    # forward difference with step 1e-6: error ~ 1e-6 |d2 blur / d sigma2| relative, plus rounding 1e-16/1e-6
    np.testing.assert_allclose(sal, ours, rtol=1e-4, atol=1e-6 * np.abs(ours).max())
    monkeypatch.undo()

    # 2) saliency's defaults (4-sigma truncation, grad_step=0.01): the same map to within a few percent
    sal_default = saliency.BlurIG().GetMask(img, call_model(model, 0), max_sigma=max_sigma, steps=n)
    rel = np.abs(sal_default - ours).sum() / np.abs(ours).sum()
    assert rel < 0.05, rel
    assert np.corrcoef(sal_default.ravel(), ours.ravel())[0, 1] > 0.99


def numpy_with_quantile_interpolation():
    """numpy >= 2 dropped ``np.quantile(interpolation=)``, which saliency's GuidedIG still passes."""
    shim = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})

    def quantile(a, q, interpolation="linear", **kw):
        return np.quantile(a, q, method=interpolation, **kw)

    shim.quantile = quantile
    return shim


@pytest.mark.parametrize("fraction,max_dist", [(0.25, 0.02), (0.1, 0.3), (0.5, 1.0)])
def test_guided_path_matches_saliency_guided_ig(monkeypatch, fraction, max_dist):
    saliency = pytest.importorskip("saliency.core")
    guided_ig = pytest.importorskip("saliency.core.guided_ig")
    monkeypatch.setattr(guided_ig, "np", numpy_with_quantile_interpolation())
    model = small_cnn(seed=1)
    x, b = images(2, seed=3)
    n = 10
    p = GuidedPath(fraction=fraction, max_dist=max_dist)
    ours = run(model, x, b, p, method="riemann-left", n=n)[1]
    for r in range(2):
        sal = saliency.GuidedIG().GetMask(x[r].permute(1, 2, 0).numpy(), call_model(model, 1),
                                          x_baseline=b[r].permute(1, 2, 0).numpy(), x_steps=n,
                                          fraction=fraction, max_dist=max_dist)
        # the same float64 algorithm step by step: agreement to rounding
        np.testing.assert_allclose(ours[r].permute(1, 2, 0).numpy(), sal, rtol=1e-9, atol=1e-12)


def test_guided_path_endpoints_and_completeness():
    model = small_cnn()
    x, b = images()
    with torch.no_grad():
        gap = (model(x) - model(b)).T
    errs = [float((run(model, x, b, GuidedPath(), method="riemann-left", n=n).flatten(2).sum(-1) - gap).abs().max())
            for n in (8, 64)]
    assert errs[1] < errs[0] and errs[1] < 0.05 * float(gap.abs().max())
    exact = run(model, x, b, GuidedPath(), rule="idgi", method="riemann-left", n=5).flatten(2).sum(-1)
    torch.testing.assert_close(exact, gap, rtol=0, atol=1e-12)  # IDGI telescopes to f(x) - f(b)
    # max_dist = 0 is the straight path (IG with the left rule)
    straight = run(model, x, b, StraightPath(), method="riemann-left", n=8)
    guided0 = run(model, x, b, GuidedPath(max_dist=0.0), method="riemann-left", n=8)
    torch.testing.assert_close(guided0, straight, rtol=1e-9, atol=1e-12)


def test_make_path_names_and_errors():
    assert set(PATHS) == {"straight", "blur", "guided"}
    assert isinstance(make_path("blur"), BlurPath) and make_path("blur").max_sigma == 50.0
    p = GuidedPath(fraction=0.5)
    assert make_path(p) is p
    with pytest.raises(ValueError, match="Invalid value for 'path': allowed are 'straight', 'blur', 'guided'"):
        make_path("curved")
    with pytest.raises(ValueError, match="'fraction'"):
        GuidedPath(fraction=2.0)


def test_guided_walk_in_float32_ends_and_agrees_with_float64():
    """A float32 walk reaches the input (its 'at the target' test follows the dtype's rounding)."""
    model = small_cnn()
    x, b = images()
    exact64 = run(model, x, b, GuidedPath(), rule="idgi", n=16)
    quad64 = run(model, x, b, GuidedPath(), n=16)
    model32 = small_cnn().float()
    x32, b32 = x.float(), b.float()
    exact32 = run(model32, x32, b32, GuidedPath(), rule="idgi", n=16)
    quad32 = run(model32, x32, b32, GuidedPath(), n=16)
    with torch.no_grad():
        gap = (model32(x32) - model32(b32)).T.double()
    # IDGI telescopes: float32 sums of 64 components and 16 steps, rounding ~1e-6 of the outputs
    torch.testing.assert_close(exact32.flatten(2).sum(-1).double(), gap, rtol=0, atol=1e-4 * float(gap.abs().max()))
    # the same walk in either precision: the features' order by gradient is not near a tie here,
    # so the maps differ by float32 rounding only (~1e-7 relative per operation, 16 steps)
    for ours, ref in ((exact32, exact64), (quad32, quad64)):
        scale = float(ref.abs().max())
        np.testing.assert_allclose(ours.double().numpy(), ref.numpy(), rtol=0, atol=1e-4 * scale)


def test_guided_ig_does_not_depend_on_the_batching():
    """Every guided path walks on its own: the samples per batch change nothing but rounding."""
    model = small_cnn()
    x, _ = images(6, seed=4)
    common = dict(baselines=2, n_steps=8, path="guided", seed=0, progress=False, warn=False)
    for rule in ("quadrature", "idgi"):
        default = ig(model, x, rule=rule, **common).attributions
        one_by_one = ig(model, x, rule=rule, batch_size=2, **common).attributions  # one sample per batch
        # float64 model: only the forward passes' batch size differs (BLAS rounding ~1e-16)
        np.testing.assert_allclose(one_by_one, default, rtol=1e-10, atol=1e-12 * np.abs(default).max())
