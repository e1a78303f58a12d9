"""layer_igc / layer_igac / layer_conductance and rule= / path= through the public functions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from neuro_igc.attribution import (
    BlurPath,
    GuidedPath,
    ig,
    igac,
    igc,
    layer_conductance,
    layer_igac,
    layer_igc,
    naive_ig,
)
from neuro_igc.attribution._layer import conductance_rows
from neuro_igc.attribution._paths import StraightPath, path_integral
from neuro_igc.attribution._quadrature import quadrature
from neuro_igc.attribution._rules import cell_bounds
from neuro_igc.models import EncodingConvNeXt

QUIET = dict(progress=False, warn=False)


def cnn(seed=0, n_out=3):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.Tanh(), nn.Conv2d(3, 2, 3, padding=1), nn.Softplus(),
                         nn.Flatten(), nn.Linear(2 * 8 * 8, n_out)).double().eval()


@pytest.fixture
def img_data():
    rng = np.random.default_rng(5)
    x = torch.tensor(rng.normal(size=(24, 1, 8, 8)))
    y = cnn()(x).detach() + 0.5 * torch.tensor(rng.normal(size=(24, 3)))
    return x, y


def convnext(n_out=7):
    torch.manual_seed(0)
    return EncodingConvNeXt(n_out, input_size=16, stem_width=4, widths=(8, 16), depth=1, hidden=5,
                            layer_scale=0.5).double().eval()


def rule_args(method, n):
    a, w = quadrature(method, n)
    return dict(alphas=torch.tensor(a), weights=torch.tensor(w), bounds=cell_bounds(w))


# ---------------------------------------------------------------- rule= and path= on the public functions
@pytest.mark.parametrize("n", [2, 4, 8, 64])
def test_ig_idgi_is_exactly_complete(img_data, n):
    x, _ = img_data
    res = ig(cnn(), x[:4], baselines=2, n_steps=n, rule="idgi", **QUIET)
    assert res.ig_error.max() < 1e-12  # float64 rounding of n telescoping differences
    assert res.settings["rule"] == "idgi" and res.settings["readout"] is False


def test_igc_idgi_sums_exactly_to_the_correlation(img_data):
    x, y = img_data
    res = igc(cnn(), x, y, baselines=3, n_steps=4, rule="idgi", **QUIET)
    total = res.attributions.reshape(3, -1).sum(1) + res.baseline_term
    np.testing.assert_allclose(total, res.correlation, rtol=0, atol=1e-12)
    quad = igc(cnn(), x, y, baselines=3, n_steps=4, **QUIET)
    assert quad.ig_error.max() > 1e3 * res.ig_error.max()


@pytest.mark.parametrize("path", ["straight", "guided", BlurPath(max_sigma=4.0)], ids=["straight", "guided", "blur"])
@pytest.mark.parametrize("rule", ["quadrature", "idgi"])
def test_public_ig_equals_the_plain_path_integral(img_data, path, rule):
    x, _ = img_data
    model = cnn()
    b = x[-2:]
    method = "riemann-left" if path == "guided" else "gauss-legendre"
    res = ig(model, x[:3], baselines=b, n_steps=6, method=method, rule=rule, path=path, **QUIET)
    p = StraightPath() if path == "straight" else (GuidedPath() if path == "guided" else path)
    r = rule_args(method, 6)
    if p.uses_baselines:
        want = sum(path_integral(model, x[:3], b[k:k + 1].expand(3, -1, -1, -1), path=p, rule=rule, **r)
                   for k in range(2)) / 2
    else:
        want = path_integral(model, x[:3], p.start(x[:3]), path=p, rule=rule, **r)
    np.testing.assert_allclose(res.attributions, want.permute(1, 0, 2, 3, 4).numpy(), rtol=1e-10, atol=1e-13)
    assert res.settings["path"] == p.name


def test_blur_path_baseline_term_is_the_blurred_images(img_data):
    x, y = img_data
    model = cnn()
    p = BlurPath(max_sigma=4.0)
    res = igc(model, x, y, n_steps=4, path=p, rule="idgi", **QUIET)
    with torch.no_grad():
        f, fb = model(x).numpy(), model(p.start(x)).numpy()
    yv = y.numpy()
    cov = ((fb - fb.mean(0)) * (yv - yv.mean(0))).mean(0) / (f.std(0) * yv.std(0))
    np.testing.assert_allclose(res.baseline_term, cov, rtol=1e-9, atol=1e-12)
    assert res.settings["baselines"] == "blur start" and res.settings["max_sigma"] == 4.0


def test_paths_run_in_igac_and_naive_ig(img_data):
    x, _ = img_data
    a = igac(cnn(), x, n_steps=4, path="guided", rule="idgi", baselines=2, **QUIET)
    np.testing.assert_allclose(a.attributions.reshape(3, -1).sum(1) + a.baseline_term, 1.0, atol=1e-12)
    nv = naive_ig(cnn(), x[:6], n_steps=4, path=BlurPath(3.0), **QUIET)
    assert nv.mean.attributions.shape == (3, 1, 8, 8) and np.all(nv.sd.attributions >= 0)


def test_factorizations_are_switched_off_with_the_reason():
    model = convnext()
    xi = torch.randn(10, 1, 16, 16, dtype=torch.float64)
    yi = torch.randn(10, 7, dtype=torch.float64)
    res = igc(model, xi, yi, n_steps=2, baselines=2, rule="idgi", **QUIET)
    assert res.settings["readout"] is False
    assert "rule='idgi' is not linear in the gradient" in res.settings["factorizations"]["readout"]["reason"]
    with pytest.raises(ValueError, match="Invalid value for 'readout': the factorization cannot be used"):
        igc(model, xi, yi, n_steps=2, baselines=2, rule="idgi", readout="readout", **QUIET)
    with pytest.raises(ValueError, match="Invalid value for 'rule'"):
        igc(model, xi, yi, rule="simpson", **QUIET)


# ---------------------------------------------------------------- layers
def test_layer_igc_sums_to_the_input_igc(img_data):
    x, y = img_data
    model = cnn()
    kw = dict(baselines=3, n_steps=6, **QUIET)
    inp = igc(model, x, y, **kw)
    for layer in ("1", "3", model[2]):
        lay = layer_igc(model, layer, x, y, **kw)
        assert lay.attributions.shape[1:] == ((3, 8, 8) if layer == "1" else (2, 8, 8))
        # the same per-sample IG totals: the same sums over components, to float64 rounding
        np.testing.assert_allclose(lay.attributions.reshape(3, -1).sum(1), inp.attributions.reshape(3, -1).sum(1),
                                   rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(lay.ig_error, inp.ig_error, rtol=1e-8, atol=1e-14)
        np.testing.assert_allclose(lay.baseline_term, inp.baseline_term, rtol=1e-12)
        assert lay.settings["kind"] == "layer-igc"


def test_layer_conductance_per_sample_equals_the_plain_conductance(img_data):
    x, _ = img_data
    model = cnn()
    b = x[-2:]
    for form in ("quadrature", "difference"):
        res = layer_conductance(model, "1", x[:3], baselines=b, n_steps=5, method="riemann-left",
                                conductance=form, **QUIET)
        r = rule_args("riemann-left", 5)
        want = sum(conductance_rows(model, model[1], x[:3], b[k:k + 1].expand(3, -1, -1, -1), path=StraightPath(),
                                    form=form, **r) for k in range(2)) / 2
        np.testing.assert_allclose(res.attributions, want.permute(1, 0, 2, 3, 4).numpy(), rtol=1e-10, atol=1e-13)


def test_layer_igc_with_the_readout_factorization_on_the_convnext():
    model = convnext()
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(12, 1, 16, 16)))
    y = model(x).detach() + torch.tensor(rng.normal(size=(12, 7)))
    kw = dict(baselines=2, n_steps=3, **QUIET)
    fast = layer_igc(model, "stages.1", x, y, **kw)
    plain = layer_igc(model, "stages.1", x, y, readout=False, **kw)
    assert fast.settings["readout"] is True and plain.settings["readout"] is False
    assert fast.attributions.shape == (7, 16, 2, 2)
    np.testing.assert_allclose(fast.attributions, plain.attributions, rtol=1e-8, atol=1e-12)
    inp = igc(model, x, y, **kw)
    np.testing.assert_allclose(fast.attributions.reshape(7, -1).sum(1), inp.attributions.reshape(7, -1).sum(1),
                               rtol=1e-8, atol=1e-12)
    # per ROI: summing the outputs' maps is the map of the summed output
    roi = [1, 4, 5]
    assert fast.attributions[roi].sum(0).shape == (16, 2, 2)


def test_region_share_sums_to_the_region_igc(img_data):
    x, y = img_data
    model = cnn()
    kw = dict(baselines=2, n_steps=5, **QUIET)
    region = np.zeros((1, 8, 8), bool)
    region[0, 2:5, 1:6] = True
    inp = igc(model, x, y, **kw)
    part = layer_igc(model, "3", x, y, region=region, **kw)
    rest = layer_igc(model, "3", x, y, region=~region, **kw)
    np.testing.assert_allclose(part.attributions.reshape(3, -1).sum(1), inp.attributions[:, region].sum(1),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(part.attributions + rest.attributions, layer_igc(model, "3", x, y, **kw).attributions,
                               rtol=1e-9, atol=1e-12)
    assert part.settings["region_size"] == int(region.sum())


def test_layer_igac_and_categorical():
    torch.manual_seed(1)
    clf = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    x = torch.randn(40, 5, dtype=torch.float64)
    labels = torch.arange(40) % 3
    kw = dict(baselines=2, n_steps=4, **QUIET)
    a_in, a_lay = igac(clf, x, **kw), layer_igac(clf, "1", x, **kw)
    np.testing.assert_allclose(a_lay.attributions.sum(1), a_in.attributions.sum(1), rtol=1e-10)
    c_in = igc(clf, x, labels, output_transform="softmax", **kw)
    c_lay = layer_igc(clf, "1", x, labels, output_transform="softmax", **kw)
    assert c_lay.settings["kind"] == "layer-igc-categorical" and c_lay.attributions.shape == (3, 6)
    np.testing.assert_allclose(c_lay.attributions.sum(1), c_in.attributions.sum(1), rtol=1e-10)


def test_layer_errors(img_data):
    x, y = img_data
    model = cnn()
    with pytest.raises(ValueError, match="no submodule 'stage9'"):
        layer_igc(model, "stage9", x, y, **QUIET)
    with pytest.raises(ValueError, match="a region's share needs conductance='quadrature'"):
        layer_igc(model, "1", x, y, region=np.ones((1, 8, 8), bool), conductance="difference", **QUIET)
    with pytest.raises(ValueError, match="Invalid value for 'region': expected a boolean mask of the input shape"):
        layer_igc(model, "1", x, y, region=np.ones((8, 8), bool), **QUIET)
    with pytest.raises(ValueError, match="Invalid value for 'conductance'"):
        layer_igc(model, "1", x, y, conductance="exact", **QUIET)
    with pytest.raises(ValueError, match="a layer's conductance uses rule='quadrature'"):
        layer_igc(model, "1", x, y, rule="idgi", **QUIET)
    with pytest.raises(ValueError, match="Invalid value for 'path': layer conductance needs a fixed path"):
        layer_igc(model, "1", x, y, path="guided", **QUIET)
