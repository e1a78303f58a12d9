"""Layer and neuron conductance against Captum and the identities of the chain rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from neuro_igc.attribution._layer import LayerTap, check_cut, conductance_rows, neuron_conductance_rows, resolve_layer
from neuro_igc.attribution._paths import BlurPath, StraightPath
from neuro_igc.attribution._quadrature import quadrature
from neuro_igc.attribution._rules import cell_bounds
from neuro_igc.models import EncodingConvNeXt


class TwoLayerNet(nn.Module):
    """A small multi-layer model in the style of Captum's test models: linear, ReLU, linear, softplus."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.linear1 = nn.Linear(5, 4)
        self.relu = nn.ReLU()
        self.linear2 = nn.Linear(4, 3)
        self.act = nn.Softplus()
        self.linear3 = nn.Linear(3, 2)
        self.double()

    def forward(self, x):
        return self.linear3(self.act(self.linear2(self.relu(self.linear1(x)))))


class ConvNet(nn.Module):
    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.conv1 = nn.Conv2d(1, 3, 3, padding=1)
        self.act1 = nn.Tanh()
        self.conv2 = nn.Conv2d(3, 2, 3, padding=1)
        self.act2 = nn.GELU()
        self.fc = nn.Linear(2 * 6 * 6, 2)
        self.double()

    def forward(self, x):
        return self.fc(self.act2(self.conv2(self.act1(self.conv1(x)))).flatten(1))


def tiny_convnext():
    torch.manual_seed(0)
    model = EncodingConvNeXt(5, input_size=16, stem_width=4, widths=(8, 16), depth=1, hidden=6, layer_scale=0.5)
    model = model.double().eval()
    with torch.no_grad():  # a trained-looking BatchNorm (the default running stats are the identity)
        model.head[1].running_mean.normal_(0, 0.1)
    return model


def rule(method, n):
    a, w = quadrature(method, n)
    return dict(alphas=torch.tensor(a), weights=torch.tensor(w), bounds=cell_bounds(w))


def captum_cells(n):
    """Our left rule's cells ``[s/n, (s+1)/n]`` are Captum's ``n + 1`` trapezoid nodes. Captum
    builds them with ``torch.linspace`` in float32 (a quirk matched here: the same rounded nodes)."""
    c = torch.linspace(0, 1, n + 1).tolist()
    return dict(alphas=torch.tensor(c[:-1], dtype=torch.float64), weights=torch.tensor(np.diff(c)),
                bounds=np.asarray(c, dtype=np.float64))


CASES = [
    ("mlp", TwoLayerNet, "linear2", (5,)),
    ("mlp-act", TwoLayerNet, "act", (5,)),
    ("conv", ConvNet, "act1", (1, 6, 6)),
    ("conv2", ConvNet, "conv2", (1, 6, 6)),
    ("convnext-stem", tiny_convnext, "stem", (1, 16, 16)),
    ("convnext-stage0", tiny_convnext, "stages.0", (1, 16, 16)),
    ("convnext-stage1", tiny_convnext, "stages.1", (1, 16, 16)),
]


def data(shape, seed=0, n=3):
    rng = np.random.default_rng(seed)
    return torch.tensor(rng.normal(size=(n, *shape))), torch.tensor(rng.normal(size=(n, *shape)))


@pytest.mark.parametrize("name,make,layer,shape", CASES, ids=[c[0] for c in CASES])
def test_layer_conductance_equals_captum(name, make, layer, shape):
    captum_attr = pytest.importorskip("captum.attr")
    model = make()
    _, module = resolve_layer(model, layer)
    x, b = data(shape)
    n = 6
    ours = conductance_rows(model, module, x, b, path=StraightPath(), form="difference", **captum_cells(n))
    for target in range(2):
        ref = captum_attr.LayerConductance(model, module).attribute(x, b, target=target, n_steps=n,
                                                                   method="riemann_trapezoid")
        np.testing.assert_allclose(ours[target].numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("name,make,layer,shape", CASES, ids=[c[0] for c in CASES])
def test_neuron_conductance_equals_captum_and_sums_to_ig(name, make, layer, shape):
    captum_attr = pytest.importorskip("captum.attr")
    model = make()
    _, module = resolve_layer(model, layer)
    x, b = data(shape, seed=1)
    n = 5
    r = rule("gauss-legendre", n)
    # Captum multiplies by its step sizes as a float32 tensor (a quirk matched here)
    r["weights"] = r["weights"].float().double()
    tap = LayerTap(module)
    with torch.no_grad(), tap:
        tap.run(model, x[:1])
    unit_shape = tuple(tap.h.shape[1:])
    neuron = tuple(int(s) // 2 for s in unit_shape)
    units = torch.zeros(unit_shape, dtype=torch.float64)
    units[neuron] = 1
    ours = neuron_conductance_rows(model, module, x, b, units=units, alphas=r["alphas"], weights=r["weights"], output=1)
    ref = captum_attr.NeuronConductance(model, module).attribute(x, neuron, b, target=1, n_steps=n,
                                                                 method="gausslegendre")
    np.testing.assert_allclose(ours.numpy(), ref.detach().numpy(), rtol=1e-9, atol=1e-13)
    # sum over every unit: IG of the same quadrature, exactly (the chain rule through a cut)
    every = neuron_conductance_rows(model, module, x, b, units=torch.ones(unit_shape), alphas=r["alphas"],
                                    weights=r["weights"], output=1)
    ig = captum_attr.IntegratedGradients(model).attribute(x, b, target=1, n_steps=n, method="gausslegendre")
    np.testing.assert_allclose(every.numpy(), ig.detach().numpy(), rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("name,make,layer,shape", CASES, ids=[c[0] for c in CASES])
def test_quadrature_conductance_sums_exactly_to_ig_and_regions_add_up(name, make, layer, shape):
    captum_attr = pytest.importorskip("captum.attr")
    model = make()
    _, module = resolve_layer(model, layer)
    x, b = data(shape, seed=2)
    n = 7
    r = rule("gauss-legendre", n)
    r["weights"] = r["weights"].float().double()  # Captum's float32 step sizes (see above)
    cond = conductance_rows(model, module, x, b, path=StraightPath(), form="quadrature", **r)
    region = torch.zeros(shape, dtype=torch.bool)
    region.view(-1)[: region.numel() // 3] = True
    part = conductance_rows(model, module, x, b, path=StraightPath(), form="quadrature", region=region, **r)
    rest = conductance_rows(model, module, x, b, path=StraightPath(), form="quadrature", region=~region, **r)
    for target in range(2):
        ig = captum_attr.IntegratedGradients(model).attribute(x, b, target=target, n_steps=n, method="gausslegendre")
        ig = ig.detach()
        # float64 sums of a few hundred terms
        np.testing.assert_allclose(cond[target].flatten(1).sum(1), ig.flatten(1).sum(1), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(part[target].flatten(1).sum(1), (ig * region).flatten(1).sum(1), rtol=1e-10,
                                   atol=1e-13)
        # the region's unit shares are the neuron conductances summed over the region (for one unit)
        unit = (0,) * (cond.ndim - 2)
        units = torch.zeros(cond.shape[2:], dtype=torch.float64)
        units[unit] = 1
        nc = neuron_conductance_rows(model, module, x, b, units=units, output=target, **{k: r[k] for k in ("alphas", "weights")})
        np.testing.assert_allclose(part[target][(slice(None), *unit)].numpy(), (nc * region).flatten(1).sum(1).numpy(),
                                   rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose((part + rest).numpy(), cond.numpy(), rtol=1e-10, atol=1e-13)


def test_conductance_forms_converge_to_each_other():
    model = ConvNet()
    _, module = resolve_layer(model, "act1")
    x, b = data((1, 6, 6), seed=4, n=2)
    q = conductance_rows(model, module, x, b, path=StraightPath(), form="quadrature", **rule("gauss-legendre", 32))
    coarse = conductance_rows(model, module, x, b, path=StraightPath(), form="difference", **rule("riemann-middle", 8))
    fine = conductance_rows(model, module, x, b, path=StraightPath(), form="difference", **rule("riemann-middle", 64))
    e_coarse, e_fine = float((coarse - q).abs().max()), float((fine - q).abs().max())
    assert e_fine < e_coarse / 4  # the difference form's error falls at least linearly with the steps


def test_missing_a_step_is_caught():
    """Dropping one step's gradient breaks agreement with Captum (and completeness)."""
    captum_attr = pytest.importorskip("captum.attr")
    model = ConvNet()
    x, b = data((1, 6, 6))
    r = captum_cells(6)
    ref = captum_attr.LayerConductance(model, model.act1).attribute(x, b, target=0, n_steps=6, method="riemann_trapezoid")
    short = dict(r, alphas=r["alphas"][:-1], bounds=r["bounds"][:-1])
    bad = conductance_rows(model, model.act1, x, b, path=StraightPath(), form="difference", **short)
    assert float((bad[0] - ref).abs().max()) > 1e-3


def test_blur_path_conductance_sums_to_blur_ig():
    model = ConvNet()
    x, _ = data((1, 6, 6))
    p = BlurPath(max_sigma=3.0)
    r = rule("gauss-legendre", 8)
    from neuro_igc.attribution._paths import path_integral

    cond = conductance_rows(model, model.act1, x, p.start(x), path=p, form="quadrature", **r)
    ig = path_integral(model, x, p.start(x), path=p, rule="quadrature", **r)
    np.testing.assert_allclose(cond.flatten(2).sum(-1).numpy(), ig.flatten(2).sum(-1).numpy(), rtol=1e-10, atol=1e-13)


def test_layer_errors():
    model = ConvNet()
    with pytest.raises(ValueError, match="no submodule 'conv9'"):
        resolve_layer(model, "conv9")
    with pytest.raises(ValueError, match="not a submodule of the model"):
        resolve_layer(model, nn.Linear(2, 2))

    class Skip(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(3, 3)

        def forward(self, x):
            return (x + torch.tanh(self.inner(x))).sum(1, keepdim=True)

    skip = Skip().double()
    with pytest.raises(ValueError, match="bypasses 'inner'"):
        check_cut(skip, LayerTap(skip.inner, "inner"), torch.randn(2, 3, dtype=torch.float64))
    check_cut(model, LayerTap(model.act1, "act1"), torch.randn(2, 1, 6, 6, dtype=torch.float64))

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x):
            return self.lin(self.lin(x))

    tw = Twice().double()
    with pytest.raises(ValueError, match="called more than once"), LayerTap(tw.lin, "lin") as tap:
        tap.run(tw, torch.randn(2, 3, dtype=torch.float64))
