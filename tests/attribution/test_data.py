"""Bad input gets a clear error naming the parameter, the allowed values and what was given."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from attribution_nets import mish_mlp
from neuro_igc.attribution import QUADRATURE_RULES, bsc, ig, igac, igc

Q = dict(progress=False)


@pytest.fixture
def data(regression_data):
    x, y = regression_data
    return mish_mlp(), x, y


def test_wrong_x_shape(data):
    model, x, y = data
    with pytest.raises(ValueError, match=r"'x': expected shape \(n_samples, \*input_shape\) with at least 2"):
        igc(model, x[:, 0], y, **Q)
    with pytest.raises(ValueError, match=r"'x': IGC needs at least 2 samples \(it is a correlation\); got 1"):
        igc(model, x[:1], y[:1], baselines=1, **Q)
    assert ig(model, x[:1], baselines=1, n_steps=4, **Q).attributions.shape == (1, 3, 6)
    with pytest.raises(ValueError, match="'x': no samples"):
        igc(model, x[:0], y[:0], **Q)


def test_wrong_y_shape(data):
    model, x, y = data
    with pytest.raises(ValueError, match=r"'y': expected 120 rows \(one per sample of 'x'\); got shape \(100, 3\)"):
        igc(model, x, y[:100], **Q)
    with pytest.raises(ValueError, match="'y': 2 columns match neither the model's 3 outputs nor the 1 selected"):
        igc(model, x, y[:, :2], output_idx=1, **Q)
    with pytest.raises(ValueError, match="Missing 'y'"):
        igc(model, x, **Q)


def test_model_output_shape():
    class Bad(nn.Module):
        def forward(self, x):
            return x[:, :, None] * 1.0

    x = torch.randn(10, 3)
    with pytest.raises(ValueError, match=r"must map \(n, \*input_shape\) to \(n, n_outputs\)"):
        igc(Bad(), x, torch.randn(10, 3), **Q)
    with pytest.raises(TypeError, match="'model': expected a torch.nn.Module"):
        igc(lambda t: t, x, torch.randn(10, 3), **Q)


def test_nan_inputs(data):
    model, x, y = data
    xn = x.clone()
    xn[3, 2] = float("nan")
    with pytest.raises(ValueError, match="'x': 1 NaN or infinite entries"):
        igc(model, xn, y, **Q)
    yn = y.clone()
    yn[0, 0] = float("inf")
    with pytest.raises(ValueError, match="'y': 1 NaN or infinite entries"):
        igc(model, x, yn, **Q)
    with pytest.raises(ValueError, match="'baselines': 5 NaN"):
        igc(model, x, y, baselines=np.where(np.arange(6) < 5, np.nan, 0.0)[None], **Q)


def test_zero_variance_y_names_outputs(data):
    model, x, y = data
    yc = y.clone()
    yc[:, 1] = 2.0
    with pytest.raises(ValueError, match=r"'y' has zero variance for outputs \[1\]"):
        igc(model, x, yc, **Q)
    # output_idx maps back to the model's output numbers
    with pytest.raises(ValueError, match=r"'y' has zero variance for outputs \[1\]"):
        igc(model, x, yc[:, 1:], output_idx=[1, 2], **Q)


def test_zero_variance_predictions_name_outputs(data):
    _, x, y = data
    model = nn.Sequential(nn.Linear(6, 3)).double()
    with torch.no_grad():
        model[0].weight[2] = 0.0
    with pytest.raises(ValueError, match=r"The model's prediction has zero variance for outputs \[2\]"):
        igc(model, x, y, **Q)
    with pytest.raises(ValueError, match=r"prediction has zero variance for outputs \[2\]"):
        igac(model, x, **Q)


def test_unknown_method(data):
    model, x, y = data
    allowed = ", ".join(repr(m) for m in QUADRATURE_RULES)
    with pytest.raises(ValueError, match=f"Invalid value for 'method': allowed are {allowed}; got 'simpson'"):
        igc(model, x, y, method="simpson", **Q)
    with pytest.raises(ValueError, match="allowed are 'gauss-legendre'"):
        ig(model, x, method="gausslegendre", **Q)


@pytest.mark.parametrize(
    "baselines, match",
    [
        ("ones", r"'baselines': allowed are an int \(drawn from 'x'\), an array .* or 'zeros'; got 'ones'"),
        (0, r"'baselines': the number of baselines drawn from 'x' must lie in 1..120 .*got 0"),
        (500, r"must lie in 1..120 \(the number of samples\); got 500"),
        (np.zeros((2, 5)), r"'baselines': an explicit set needs shape \(n_baselines, 6\); got \(2, 5\)"),
        (None, r"'baselines': expected an int, an array or 'zeros'; got None"),
        (True, r"'baselines': expected an int, an array or 'zeros'; got True"),
    ],
)
def test_bad_baselines(data, baselines, match):
    model, x, y = data
    with pytest.raises(ValueError, match=match):
        igc(model, x, y, baselines=baselines, **Q)


def test_zeros_and_single_baseline(data):
    model, x, y = data
    a = igc(model, x, y, baselines="zeros", n_steps=4, warn=False, **Q)
    b = igc(model, x, y, baselines=np.zeros(6), n_steps=4, warn=False, **Q)
    np.testing.assert_array_equal(a.attributions, b.attributions)
    assert a.settings["baselines"] == "zeros" and b.settings["n_baselines"] == 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_steps": 0}, r"'n_steps': 'gauss-legendre' needs an integer >= 1 \(or 'auto'\); got 0"),
        ({"n_steps": 1, "method": "riemann-trapezoid"}, "'riemann-trapezoid' needs an integer >= 2"),
        ({"n_steps": 2.5}, "'n_steps'.*got 2.5"),
        ({"batch_size": 0}, "'batch_size': expected a positive int or None; got 0"),
        ({"vjp": "vmap"}, "'vjp': allowed are 'auto', 'batched', 'loop'; got 'vmap'"),
        ({"input_linear": "yes"}, "'input_linear': the model has no module named 'yes'"),
        ({"readout": 1}, "'readout': allowed are True, False, 'auto', a module of the model or its attribute name; got 1"),
        ({"baseline_mode": "each"}, "'baseline_mode': allowed are 'per-sample', 'shared'; got 'each'"),
        ({"freeze": "auto"}, "'freeze': allowed are True, False; got 'auto'"),
        ({"output_idx": [0, 3]}, r"'output_idx': indices must lie in 0..2 \(the model has 3 outputs\); got \[3\]"),
        ({"output_transform": "logit"}, "'output_transform': allowed are None, 'softmax', 'exp', 'sigmoid'"),
        ({"extra": {"subject": torch.zeros(5)}}, r"'extra\['subject'\]': per-sample inputs need 120 rows"),
        ({"n_steps": "auto", "auto_tol": 2}, r"'auto_tol': expected a number in \(0, 1\); got 2"),
        ({"device": "cuda:0" if not torch.cuda.is_available() else "cpu:x"}, "'device'|Invalid device"),
    ],
)
def test_bad_options(data, kwargs, match):
    model, x, y = data
    with pytest.raises((ValueError, RuntimeError), match=match):
        igc(model, x, y, **{**Q, **kwargs})


def test_bad_labels(data):
    model, x, _ = data
    with pytest.raises(ValueError, match=r"'y': integer class labels must lie in 0..2 \(the model has 3 outputs\)"):
        igc(model, x, torch.arange(120) % 5, **Q)


def test_bsc_bad_permutations(data):
    model, x, y = data
    with pytest.raises(ValueError, match="'n_permutations': expected an int >= 1; got 0"):
        bsc(model, x, y, n_permutations=0, **Q)
