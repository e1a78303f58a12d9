"""Every exact acceleration gives the plain path's numbers (float64, rtol 1e-5)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from attribution_nets import SubjectNet, mish_mlp, tiny_cnn
from neuro_igc.attribution import ig, igc
from neuro_igc.attribution._factorize import find_factorization

PLAIN = dict(input_linear=False, readout=False, vjp="loop", freeze=False, progress=False, warn=False)
RTOL = 1e-5


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-12 * max(1.0, np.abs(b).max()))


def _check_same(fn, model, x, *args, switches, **kw):
    """Run ``fn`` plainly and with ``switches``; the maps and IG errors must agree."""
    plain = {**PLAIN, **kw}
    fast = {**PLAIN, **switches, **kw}
    if fn is ig:
        plain.pop("warn"), fast.pop("warn")
    ref = fn(model, x, *args, **plain)
    res = fn(model, x, *args, **fast)
    _close(res.attributions, ref.attributions)
    _close(res.ig_error, ref.ig_error)
    return res


SWITCH_SETS = {
    "frozen": {"freeze": True},
    "batched": {"vjp": "batched"},
    "input_linear": {"input_linear": True},
    "readout": {"readout": True},
    "all": {"freeze": True, "vjp": "batched", "input_linear": True, "readout": True},
}


@pytest.mark.parametrize("name", list(SWITCH_SETS))
def test_sequential_mlp(regression_data, name):
    x, y = regression_data
    model = mish_mlp(n_out=3)
    res = _check_same(igc, model, x, y, switches=SWITCH_SETS[name], n_steps=6, baselines=5)
    for key in ("input_linear", "readout"):
        assert res.settings[key] is SWITCH_SETS[name].get(key, False)


@pytest.mark.parametrize("name", list(SWITCH_SETS))
def test_per_subject_model_mixed_subjects(subject_data, name):
    x, y, subject = subject_data
    model = SubjectNet()
    res = _check_same(igc, model, x, y, switches=SWITCH_SETS[name], n_steps=5, baselines=4,
                      extra={"subject": subject}, batch_size=97)
    assert res.settings["group_key"] == ("subject" if name in ("input_linear", "readout", "all") else None)
    _check_same(ig, model, x[:12], switches=SWITCH_SETS[name], n_steps=5, baselines=3,
                extra={"subject": subject[:12]})


def test_per_subject_constant_subject_and_auto(subject_data):
    x, y, _ = subject_data
    model = SubjectNet()
    res = _check_same(igc, model, x, y, switches={"input_linear": "auto", "readout": "auto", "vjp": "auto",
                                                  "freeze": True},
                      n_steps=5, baselines=4, model_kwargs={"subject": 1})
    # input 7 -> hidden 5 and bottleneck 4 < 10 outputs: "auto" takes both shortcuts
    assert res.settings["input_linear"] and res.settings["readout"]


@pytest.mark.parametrize("readout", [True, "auto"])
def test_cnn_readout(image_data, readout):
    x, y = image_data
    res = _check_same(igc, tiny_cnn(), x, y, switches={"readout": readout, "vjp": "batched", "freeze": True},
                      n_steps=4, baselines=3)
    assert res.settings["readout"] and res.settings["n_targets"] == 5


def test_cnn_per_sample_and_output_subset(image_data):
    x, y = image_data
    model = tiny_cnn()
    _check_same(ig, model, x[:4], switches={"readout": True, "vjp": "batched"}, n_steps=4, baselines=2,
                output_idx=[1, 7, 3])


def test_vjp_modes_agree(regression_data):
    x, y = regression_data
    for a, b in itertools.combinations(["batched", "loop"], 2):
        ra = igc(mish_mlp(), x, y, n_steps=5, vjp=a, progress=False, warn=False)
        rb = igc(mish_mlp(), x, y, n_steps=5, vjp=b, progress=False, warn=False)
        _close(ra.attributions, rb.attributions)


def test_sequential_discovery():
    mlp = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(6, 4), nn.Mish(), nn.Linear(4, 2))
    fac = find_factorization(mlp)
    assert fac.input_linear is mlp[2] and fac.readout is mlp[4] and fac.source == "sequential"
    single = nn.Sequential(nn.Linear(3, 2))
    fac = find_factorization(single)
    assert fac.input_linear is single[0] and fac.readout is None
    assert find_factorization(nn.Sequential(nn.Conv2d(1, 1, 1), nn.Flatten())).input_linear is None


def test_flattened_image_input_linear():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3), nn.Mish(), nn.Linear(3, 2)).double()
    x = torch.randn(30, 1, 4, 4, dtype=torch.float64)
    y = torch.randn(30, 2, dtype=torch.float64) + x.mean((1, 2, 3))[:, None]
    res = _check_same(igc, model, x, y, switches={"input_linear": True}, n_steps=4, baselines=3)
    assert res.attributions.shape == (2, 1, 4, 4)


class _WrongDeclaration(nn.Module):
    """Declares a readout that is not what forward uses."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 3), nn.Mish())
        self.out = nn.Linear(3, 5)
        self.other = nn.Linear(3, 5)
        self.double()

    igc_readout = property(lambda self: self.other)

    def forward_features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.out(self.body(x))


def test_wrong_declaration_is_caught():
    x = torch.randn(20, 4, dtype=torch.float64)
    y = torch.randn(20, 5, dtype=torch.float64)
    with pytest.raises(ValueError, match="readout factorization does not reproduce model"):
        igc(_WrongDeclaration(), x, y, readout=True, progress=False)
    res = igc(_WrongDeclaration(), x, y, readout=False, n_steps=4, progress=False, warn=False)
    assert res.attributions.shape == (5, 4)


def test_unavailable_switches_raise(image_data, regression_data):
    x, y = image_data
    with pytest.raises(ValueError, match="input_linear=True but the model has no first linear map"):
        igc(tiny_cnn(), x, y, input_linear=True, progress=False)
    xr, yr = regression_data
    with pytest.raises(ValueError, match="readout=True cannot be used: an output_transform follows"):
        igc(mish_mlp(), xr, yr, readout=True, output_transform="softmax", progress=False)
    plain = nn.Sequential(nn.Mish(), nn.Flatten()).double()
    with pytest.raises(ValueError, match="readout=True cannot be used: the model declares no readout"):
        igc(plain, xr, yr, readout=True, progress=False)
