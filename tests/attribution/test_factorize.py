"""Every exact acceleration gives the plain path's numbers (float64, rtol 1e-5)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from attribution_nets import SubjectNet, mish_mlp, tiny_cnn
from neuro_igc.models import PerSubjectLinear
from neuro_igc.attribution import ig, igc

PLAIN = dict(input_linear=False, readout=False, vjp="loop", freeze=False, progress=False, warn=False)
MODES = ["per-sample", "shared"]
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


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(SWITCH_SETS))
def test_sequential_mlp(regression_data, name, mode):
    x, y = regression_data
    model = mish_mlp(n_out=3)
    res = _check_same(igc, model, x, y, switches=SWITCH_SETS[name], n_steps=6, baselines=5, baseline_mode=mode)
    for key in ("input_linear", "readout"):
        assert res.settings[key] is SWITCH_SETS[name].get(key, False)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(SWITCH_SETS))
def test_per_subject_model_mixed_subjects(subject_data, name, mode):
    x, y, subject = subject_data
    model = SubjectNet()
    res = _check_same(igc, model, x, y, switches=SWITCH_SETS[name], n_steps=5, baselines=4,
                      extra={"subject": subject}, batch_size=97, baseline_mode=mode)
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


def _used(res):
    f = res.settings["factorizations"]
    return f["input_linear"]["used"], f["readout"]["used"]


def test_sequential_discovery(regression_data):
    x, y = regression_data
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(6, 4), nn.Mish(), nn.Linear(4, 2)).double()
    res = _check_same(igc, mlp, x, y[:, :2], switches={"input_linear": True, "readout": True}, n_steps=4, baselines=3)
    f = res.settings["factorizations"]
    assert f["input_linear"]["module"] == "2" and f["readout"]["module"] == "4"
    assert f["input_linear"]["source"] == f["readout"]["source"] == "found"


class CustomMLP(nn.Module):
    """A plain module: nothing declared, attribute names of the user's choosing."""

    def __init__(self, n_in=6, n_out=3, reuse=False, skip=False, two_readers=False):
        super().__init__()
        torch.manual_seed(0)
        self.inp = nn.Linear(n_in, 5)
        self.other = nn.Linear(n_in, 5)
        self.body = nn.Sequential(nn.Mish(), nn.Linear(5, 5), nn.Mish())
        self.head = nn.Linear(5, n_out)
        self.drop = nn.Dropout(0.3)
        self.reuse, self.skip, self.two_readers = reuse, skip, two_readers
        self.double()

    def forward(self, x):
        h = self.inp(x.flatten(1))
        if self.two_readers:
            h = h + self.other(x)
        if self.skip:
            h = h + x[:, :5] ** 2  # the input is read outside the first Linear
        h = self.body(h)
        if self.reuse:
            h = self.body[1](h)
        return self.drop(self.head(h))


def test_custom_module_found_and_exact(regression_data):
    x, y = regression_data
    model = CustomMLP(n_out=8)
    yy = torch.cat([y, y, y[:, :2]], 1)
    res = _check_same(igc, model, x, yy, switches={"input_linear": "auto", "readout": "auto", "freeze": True},
                      n_steps=5, baselines=4)
    f = res.settings["factorizations"]
    assert (f["input_linear"]["module"], f["readout"]["module"]) == ("inp", "head")
    assert _used(res) == (True, True)
    _check_same(ig, model, x[:5], switches={"input_linear": True, "readout": True}, n_steps=5, baselines=3)


@pytest.mark.parametrize("value", ["head", "module"])
def test_readout_named_or_given(regression_data, value):
    x, y = regression_data
    model = CustomMLP(n_out=8)  # 5 bottleneck units for 8 outputs: the named readout saves work
    yy = torch.cat([y, y, y[:, :2]], 1)
    readout = model.head if value == "module" else "head"
    res = _check_same(igc, model, x, yy, switches={"readout": readout, "input_linear": "inp"}, n_steps=4, baselines=3)
    assert _used(res) == (True, True) and res.settings["factorizations"]["readout"]["source"] == "given"
    with pytest.raises(ValueError, match="'readout': the model has no module named 'nope'"):
        igc(model, x, y, readout="nope", progress=False)
    with pytest.raises(ValueError, match="'readout': expected an nn.Linear or a per-subject linear layer; got Mish"):
        igc(model, x, y, readout="body.0", progress=False)


def test_reused_linear_falls_back(regression_data, caplog):
    x, y = regression_data
    model = CustomMLP(n_out=8, reuse=True)
    yy = torch.cat([y, y, y[:, :2]], 1)
    res = _check_same(igc, model, x, yy, switches={"input_linear": "auto", "readout": "auto"}, n_steps=4,
                      baselines=3)
    assert _used(res) == (True, True)  # the reused Linear is inside; both ends are fine
    # a readout called twice
    twice = nn.Sequential(nn.Linear(6, 6), nn.Mish()).double()

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.f, self.out = twice, nn.Linear(6, 6).double()

        def forward(self, x):
            return self.out(self.f(self.out(x)))

    res = _check_same(igc, Twice(), x, torch.cat([y, y], 1), switches={"readout": "auto", "input_linear": "auto"},
                      n_steps=4, baselines=3)
    f = res.settings["factorizations"]
    assert not f["readout"]["used"] and "called 2 times" in f["readout"]["reason"]
    assert not f["input_linear"]["used"] and "called 2 times" in f["input_linear"]["reason"]


class Tokens(nn.Module):
    """Linear layers on a 3-D view of the input, then reshaped."""

    def __init__(self, end3d=False):
        super().__init__()
        torch.manual_seed(0)
        self.tok = nn.Linear(3, 2)
        self.mid = nn.Sequential(nn.Mish(), nn.Linear(4, 4), nn.Mish())
        self.head = nn.Linear(4, 6)
        self.end3d = end3d
        self.double()

    def forward(self, x):
        h = self.mid(self.tok(x.reshape(x.shape[0], 2, 3)).reshape(x.shape[0], 4))
        if self.end3d:
            return self.head(h.reshape(h.shape[0], 1, 4)).reshape(h.shape[0], 6)
        return self.head(h)


def test_linear_on_3d_input_stays_exact(regression_data):
    x, y = regression_data
    yy = torch.cat([y, y], 1)
    res = _check_same(igc, Tokens(), x, yy, switches={"input_linear": "auto", "readout": "auto"}, n_steps=4,
                      baselines=3)
    f = res.settings["factorizations"]
    assert not f["input_linear"]["used"] and "reads the flattened input directly" in f["input_linear"]["reason"]
    assert f["readout"]["used"]
    res = _check_same(igc, Tokens(end3d=True), x, yy, switches={"input_linear": "auto", "readout": "auto"},
                      n_steps=4, baselines=3)
    assert not _used(res)[1] and "not produced by a layer" in res.settings["factorizations"]["readout"]["reason"]


def test_input_read_twice_stays_exact(regression_data):
    x, y = regression_data
    res = _check_same(igc, CustomMLP(two_readers=True), x, y, switches={"input_linear": "auto"}, n_steps=4,
                      baselines=3)
    reason = res.settings["factorizations"]["input_linear"]["reason"]
    assert not _used(res)[0] and "read by 2 layer calls (inp, other)" in reason
    res = _check_same(igc, CustomMLP(skip=True), x, y, switches={"input_linear": "auto"}, n_steps=4, baselines=3)
    reason = res.settings["factorizations"]["input_linear"]["reason"]
    assert not _used(res)[0] and "checked and rejected" in reason
    with pytest.raises(ValueError, match="input-linear factorization does not reproduce model"):
        igc(CustomMLP(skip=True), x, y, input_linear=True, progress=False)


class SubjectFirst(nn.Module):
    """A per-subject first layer (the public protocol), nothing declared."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.first = PerSubjectLinear(3, 7, 4)
        self.rest = nn.Sequential(nn.Mish(), nn.Linear(4, 10))
        self.double()

    def forward(self, x, subject=0):
        return self.rest(self.first(x, subject=subject))


def test_per_subject_layer_found(subject_data):
    x, y, subject = subject_data
    res = _check_same(igc, SubjectFirst(), x, y, switches={"input_linear": "auto", "readout": "auto"}, n_steps=4,
                      baselines=3, extra={"subject": subject})
    assert _used(res) == (True, True) and res.settings["group_key"] == "subject"


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
    with pytest.raises(ValueError, match="input_linear=True cannot be used: the first layer 0 is a Conv2d"):
        igc(tiny_cnn(), x, y, input_linear=True, progress=False)
    xr, yr = regression_data
    with pytest.raises(ValueError, match="readout=True cannot be used: an output_transform follows"):
        igc(mish_mlp(), xr, yr, readout=True, output_transform="softmax", progress=False)
    plain = nn.Sequential(nn.Mish(), nn.Flatten()).double()
    with pytest.raises(ValueError, match=r"readout=True cannot be used: the model's output comes from 1 \(Flatten\)"):
        igc(plain, xr, yr, readout=True, progress=False)
