"""``model_outputs``: f(x) through the attribution path, equal to the plain forward pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from neuro_igc.attribution import igc, model_outputs


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Dropout(0.5), nn.Linear(16, 3))


def test_equals_the_plain_forward_pass_in_eval_mode():
    model = _model().train()
    x = torch.randn(50, 6)
    flags = [p.requires_grad for p in model.parameters()]
    f = model_outputs(model, x, output_idx=[2, 0], batch_size=7, progress=False)
    assert model.training and [p.requires_grad for p in model.parameters()] == flags  # restored
    with torch.no_grad():
        ref = model.eval()(x).double()[:, [2, 0]].numpy()
    assert f.dtype == np.float64 and f.shape == (50, 2)
    # float32 model: the same float32 forward pass, batching alone may change the last bit
    np.testing.assert_allclose(f, ref, rtol=1e-6, atol=1e-6)
    soft = model_outputs(model, x, output_transform="softmax", progress=False)
    with torch.no_grad():
        np.testing.assert_allclose(soft, torch.softmax(model(x), 1).double().numpy(), rtol=1e-6, atol=1e-7)


def test_is_the_f_that_igc_correlates():
    model = _model().double()
    x = torch.randn(40, 6, dtype=torch.float64)
    y = torch.randn(40, dtype=torch.float64)
    f = model_outputs(model, torch.utils.data.TensorDataset(x, y), output_idx=1, progress=False)[:, 0]
    res = igc(model, x, y, output_idx=1, baselines=2, n_steps=2, progress=False, warn=False)
    # float64 throughout: the correlation of the same f agrees to rounding
    assert res.correlation[0] == pytest.approx(np.corrcoef(f, y.numpy())[0, 1], abs=1e-12)


def test_bad_options_are_named():
    with pytest.raises(TypeError, match="model_outputs\\(\\) got an unexpected keyword argument 'outputs'"):
        model_outputs(_model(), torch.randn(4, 6), outputs=[0])
