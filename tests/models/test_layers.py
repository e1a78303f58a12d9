"""Per-subject layers route by subject index; small building blocks against their definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from neuro_igc.models import (
    DropPath,
    LayerNorm2d,
    PerSubjectBatchNorm1d,
    PerSubjectLinear,
    accuracy,
    init_kaiming_,
    pearson_r,
    r2_score,
)


def test_per_subject_linear_routes_each_sample():
    layer = PerSubjectLinear(3, 4, 2)
    x = torch.randn(7, 4)
    s = torch.tensor([2, 0, 1, 1, 2, 0, 0])
    out = layer(x, subject=s)
    for i in range(7):
        ref = x[i] @ layer.weights[int(s[i])].T + layer.biases[int(s[i])]
        torch.testing.assert_close(out[i], ref)
    torch.testing.assert_close(layer(x, subject=1), x @ layer.weights[1].T + layer.biases[1])


def test_per_subject_batchnorm_normalises_each_subject_with_its_own_statistics():
    bn = PerSubjectBatchNorm1d(2, 3).train()
    x = torch.randn(10, 3) * 5 + 2
    s = torch.tensor([0, 1] * 5)
    out = bn(x, subject=s)
    for k in range(2):
        ref = nn.functional.batch_norm(x[s == k], None, None, training=True)
        torch.testing.assert_close(out[s == k], ref)
        torch.testing.assert_close(bn.norms[k].running_mean, 0.1 * x[s == k].mean(0))
    with pytest.raises(ValueError, match=r"index 2 is outside 0..1"):
        bn(x, subject=2)
    with pytest.raises(ValueError, match="'subject' has 3 entries but the batch has 10"):
        bn(x, subject=torch.tensor([0, 1, 0]))


def test_drop_path():
    layer = DropPath(0.5).train()
    torch.manual_seed(0)
    x = torch.ones(20000, 3)
    y = layer(x)
    assert set(torch.unique(y).tolist()) == {0.0, 2.0}
    assert (y[:, 0:1] == y).all()  # whole samples are dropped
    assert y.mean().item() == pytest.approx(1.0, abs=0.03)
    assert torch.equal(layer.eval()(x), x)
    with pytest.raises(ValueError, match="Invalid value for 'p'"):
        DropPath(1.0)


def test_layer_norm_2d_is_a_channel_layer_norm():
    ln = LayerNorm2d(4)
    nn.init.normal_(ln.weight)
    nn.init.normal_(ln.bias)
    x = torch.randn(2, 4, 3, 5)
    mean = x.mean(1, keepdim=True)
    var = x.var(1, unbiased=False, keepdim=True)
    ref = (x - mean) / torch.sqrt(var + ln.eps) * ln.weight[:, None, None] + ln.bias[:, None, None]
    torch.testing.assert_close(ln(x), ref)


def test_init_on_per_subject_layers():
    layer = PerSubjectLinear(2, 3000, 400, bias=True)
    init_kaiming_(layer)
    for w in layer.weights:
        assert w.std().item() == pytest.approx((2 / 3000) ** 0.5, rel=0.05)
    assert all(torch.count_nonzero(b) == 0 for b in layer.biases)


def test_metrics_against_numpy_and_definitions():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(50, 3))
    p = y + rng.normal(size=(50, 3))
    np.testing.assert_allclose(pearson_r(p, y), [np.corrcoef(p[:, k], y[:, k])[0, 1] for k in range(3)])
    ref = 1 - ((y - p) ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0)
    np.testing.assert_allclose(r2_score(p, y), ref)
    assert np.isnan(pearson_r(np.ones(5), np.arange(5.0))[0])
    assert accuracy(np.eye(3)[[0, 2, 1, 1]], [0, 2, 1, 0]) == 0.75
    with pytest.raises(ValueError, match="'pred' and 'target' must have the same shape"):
        pearson_r(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="'scores' must be"):
        accuracy(np.zeros(4), np.zeros(4))
