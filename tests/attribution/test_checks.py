"""Clear errors for models the engine cannot attribute as they are."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from attribution_nets import mish_mlp
from neuro_igc.attribution import ig, igc

Q = dict(progress=False, warn=False, n_steps=4)


class TupleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = mish_mlp()

    def forward(self, x):
        out = self.net(x)
        return out, out.sum(1)


class DictNet(TupleNet):
    def forward(self, x):
        return {"pred": self.net(x)}


def test_tuple_output_says_how_to_select(regression_data):
    x, y = regression_data
    with pytest.raises(TypeError, match=r"returned a tuple of 2 items \(\(4, 3\), \(4,\)\).*output_selector=0"):
        igc(TupleNet(), x, y, **Q)
    res = igc(TupleNet(), x, y, output_selector=0, **Q)
    ref = igc(TupleNet().net, x, y, **Q)
    np.testing.assert_allclose(res.attributions, ref.attributions, rtol=1e-12)
    res = igc(DictNet(), x, y, output_selector=lambda out: out["pred"], **Q)
    np.testing.assert_allclose(res.attributions, ref.attributions, rtol=1e-12)
    with pytest.raises(TypeError, match=r"returned a dict with keys \['pred'\].*output_selector=<key>"):
        igc(DictNet(), x, y, **Q)
    with pytest.raises(ValueError, match="'output_selector': 'nope' does not select"):
        igc(DictNet(), x, y, output_selector="nope", **Q)


class NanNet(nn.Module):
    def forward(self, x):
        out = x[:, :2] * 1.0
        return torch.where(x[:, :1] > 1.5, torch.log(-x[:, :2].abs() - 1), out)


def test_non_finite_outputs_named(regression_data):
    x, y = regression_data
    bad = np.flatnonzero(x[:, 0].numpy() > 1.5)
    with pytest.raises(ValueError, match=rf"NaN or infinite values in the model's outputs f\(x\): outputs \[0, 1\] "
                                         rf"for {bad.size} samples \(indices \[{bad[0]}, "):
        igc(NanNet(), x, y[:, :2], **Q)


class SqrtNet(nn.Module):
    def forward(self, x):
        return (x[:, :1] - 0.5).abs().sqrt() * 0 + x[:, :1].abs().sqrt()


def test_non_finite_gradients_named():
    x = torch.tensor([[1.0], [-1.0], [2.0], [-2.0]], dtype=torch.float64)
    y = torch.tensor([1.0, 0.0, 2.0, 1.0], dtype=torch.float64)
    # paths from x to baselines of the opposite sign cross 0, where d sqrt|x| / dx is infinite
    with pytest.raises(ValueError, match=r"NaN or infinite gradients along the integration paths of outputs \[0\]"):
        igc(SqrtNet(), x, y, baselines=torch.zeros(1, 1, dtype=torch.float64), method="riemann-trapezoid",
            n_steps=3, progress=False, warn=False)


def test_input_shape_mismatch_names_both_shapes(regression_data):
    x, y = regression_data
    model = nn.Sequential(nn.Linear(8, 4), nn.Mish(), nn.Linear(4, 3)).double()
    with pytest.raises(ValueError, match=r"inputs of shape \(4, 6\) \(input_shape \(6,\)\).*failed in 0 "
                                         r"\(Linear, in_features=8\), which received shape \(4, 6\)"):
        igc(model, x, y, **Q)


class BatchCoupled(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = mish_mlp()

    def forward(self, x):
        return self.net(x - x.mean(0, keepdim=True))


def test_batch_coupling_detected(regression_data):
    x, y = regression_data
    with pytest.raises(ValueError, match=r"couples the samples of a batch: its outputs for samples \[0, 1, 2, 3\]"):
        igc(BatchCoupled(), x, y, **Q)
    res = ig(BatchCoupled(), x[:3], baselines=2, check_coupling=False, n_steps=2, progress=False, warn=False)
    assert np.isfinite(res.attributions).all()
