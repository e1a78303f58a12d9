"""The planner: factorizations only when they save work, probes once per model and settings, the
input-linear sums mapped back once."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from neuro_igc.attribution import IGC, ig, igc
from neuro_igc.attribution import _factorize
from neuro_igc.attribution._engine._reduce import WeightedSums

QUIET = dict(progress=False, warn=False)


class SqueezedHead(nn.Module):
    """An MLP decoder ending in ``self.head(h).squeeze(-1)``: one output, a 12-wide bottleneck."""

    def __init__(self, n_in=10, width=12):
        super().__init__()
        torch.manual_seed(0)
        self.inp = nn.Linear(n_in, width)
        self.body = nn.Sequential(nn.Mish(), nn.Linear(width, width), nn.Mish())
        self.head = nn.Linear(width, 1)
        self.double()

    def forward(self, x):
        return self.head(self.body(self.inp(x))).squeeze(-1)


class DeclaredWide(SqueezedHead):
    """The same model declaring its readout through the package's protocol."""

    @property
    def igc_readout(self):
        return self.head

    def forward_features(self, x):
        return self.body(self.inp(x))


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.normal(size=(40, 10)))
    y = torch.tensor(np.tanh(rng.normal(size=40)) + x[:, 0].numpy())
    return x, y


@pytest.mark.parametrize("kind", ["named", "module", "declared"])
def test_a_factorization_that_adds_work_is_not_used(data, kind, caplog):
    """12 bottleneck units for 1 output: differentiating the units costs 12 backward passes per point
    instead of 1, so the readout (named, given as a module, or declared) must not be used."""
    x, y = data
    model = DeclaredWide() if kind == "declared" else SqueezedHead()
    readout = {"named": "head", "module": model.head, "declared": "auto"}[kind]
    with caplog.at_level(logging.INFO, logger="neuro_igc.attribution._factorize"):
        res = igc(model, x, y, readout=readout, n_steps=4, baselines=3, **QUIET)
    f = res.settings["factorizations"]
    assert not f["readout"]["used"] and not res.settings["readout"]
    assert f["readout"]["source"] == ("declared" if kind == "declared" else "given")
    assert "it would add work" in f["readout"]["reason"] and "12 bottleneck units" in f["readout"]["reason"]
    work = f["work_per_sample"]
    assert work["readout"] > work["plain"] and work["both"] > work["input_linear"]
    assert res.settings["n_targets"] == 1
    lines = [r.getMessage() for r in caplog.records if "Not using the readout factorization" in r.getMessage()]
    assert len(lines) == 1 and "it would add work" in lines[0]
    # the maps are those of the plain computation
    plain = igc(model, x, y, readout=False, input_linear=False, n_steps=4, baselines=3, **QUIET)
    np.testing.assert_allclose(res.attributions, plain.attributions, rtol=1e-10, atol=1e-14)


def test_forcing_still_uses_it(data):
    """``readout=True`` is an order: used even where it adds work, and exact."""
    x, y = data
    res = igc(DeclaredWide(), x, y, readout=True, n_steps=4, baselines=3, **QUIET)
    plain = igc(DeclaredWide(), x, y, readout=False, input_linear=False, n_steps=4, baselines=3, **QUIET)
    assert res.settings["readout"] and res.settings["n_targets"] == 12
    np.testing.assert_allclose(res.attributions, plain.attributions, rtol=1e-9, atol=1e-14)


def test_a_factorization_that_saves_work_is_used(data):
    """A wide readout (40 outputs from 12 units) pays: it is used, with the work figures recorded."""
    x, _ = data
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(10, 12), nn.Mish(), nn.Linear(12, 40)).double()
    y = torch.randn(40, 40, dtype=torch.float64) + x[:, :1]
    res = igc(model, x, y, n_steps=4, baselines=3, **QUIET)
    f = res.settings["factorizations"]
    assert f["readout"]["used"] and f["work_per_sample"]["readout"] < f["work_per_sample"]["plain"]


def test_probes_run_once_per_model_and_settings(data, monkeypatch):
    x, y = data
    calls = []
    verify = _factorize._verify
    monkeypatch.setattr(_factorize, "_verify", lambda *a, **k: calls.append(1) or verify(*a, **k))
    model = nn.Sequential(nn.Linear(10, 4), nn.Mish(), nn.Linear(4, 6)).double()
    yy = torch.randn(40, 6, dtype=torch.float64) + x[:, :1]
    first = igc(model, x, yy, n_steps=4, baselines=3, **QUIET)
    n_first = len(calls)
    assert n_first >= 1 and first.settings["readout"] and first.settings["input_linear"]
    again = igc(model, x[:30], yy[:30], n_steps=4, baselines=3, **QUIET)  # other data, same settings
    attr = IGC(model, n_steps=4, baselines=3, **QUIET)
    attr.igc(x, yy)
    attr.ig(x[:3])  # same settings, per-sample IG
    assert len(calls) == n_first
    assert again.settings["factorizations"] == first.settings["factorizations"]
    igc(model, x, yy, n_steps=6, baselines=3, **QUIET)  # other settings: probed again
    assert len(calls) == n_first + 1
    with torch.no_grad():  # other weights: probed again
        model[0].weight.mul_(1.5)
    igc(model, x, yy, n_steps=4, baselines=3, **QUIET)
    assert len(calls) == n_first + 2


class _Flops(TorchDispatchMode):
    """Operations of the matrix products run inside (torch's own counting rules)."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        rule = flop_registry.get(func._overloadpacket)
        self.total += 0 if rule is None else int(rule(*args, **(kwargs or {}), out_val=out))
        return out


class WideInput(nn.Module):
    """400 inputs -> Linear 4 -> Mish -> Linear 2: the input-linear factorization pays."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(2)
        self.inp = nn.Linear(400, 4)
        self.rest = nn.Sequential(nn.Mish(), nn.Linear(4, 2))
        self.double()

    def forward(self, x):
        return self.rest(self.inp(x))


@pytest.mark.parametrize("mode", ["per-sample", "shared"])
def test_input_linear_sums_are_mapped_back_once(mode, monkeypatch):
    """With the input-linear factorization the path points live in the 4-d space: the first layer
    never sees them, and ``A`` is applied to the float64 sums once at the end, not per path point or
    per batch."""
    rng = np.random.default_rng(4)
    x = torch.tensor(rng.normal(size=(30, 400)))
    y = torch.tensor(rng.normal(size=(30, 2))) + x[:, :2]
    model = WideInput()
    times = []
    apply = WeightedSums._times_weight
    monkeypatch.setattr(WeightedSums, "_times_weight", lambda self, *a: times.append(1) or apply(self, *a))
    kw = dict(n_steps=8, baselines=3, baseline_mode=mode, batch_size=48, **QUIET)  # several batches
    igc(model, x, y, input_linear=True, **kw)  # plan once (the probes are kept)
    times.clear()
    with _Flops() as fast:
        res = igc(model, x, y, input_linear=True, **kw)
    assert res.settings["input_linear"] and len(times) == 1
    with _Flops() as slow:
        plain = igc(model, x, y, input_linear=False, readout=False, **kw)
    np.testing.assert_allclose(res.attributions, plain.attributions, rtol=1e-9, atol=1e-14)
    # 30 x 3 x 8 path points: mapping each one's 4-d gradient back through A (4 x 400) would cost
    # about as much as the plain run's per-point products with A; projecting the data rows once and
    # applying A once to the float64 coefficients costs a small fraction of it
    per_point_map = 2 * 30 * 3 * 8 * 4 * 400 * 2
    assert fast.total < per_point_map / 4 < slow.total


def test_settings_are_checked_once_where_built():
    from neuro_igc.attribution import AttributionSettings

    with pytest.raises(ValueError, match="'n_steps': 'gauss-legendre' needs an integer >= 1"):
        AttributionSettings(n_steps=0)
    with pytest.raises(ValueError, match="'vjp': allowed are 'auto', 'batched', 'loop'; got 'x'"):
        AttributionSettings(vjp="x")
    st = AttributionSettings(n_steps="auto", method="riemann-trapezoid")
    with pytest.raises(ValueError, match="'riemann-trapezoid' needs an integer >= 2"):
        st.replace(n_steps=1)


def test_per_sample_ig_with_readout_not_paying_is_exact(data):
    x, _ = data
    a = ig(SqueezedHead(), x[:5], readout="head", n_steps=4, baselines=3, progress=False)
    b = ig(SqueezedHead(), x[:5], readout=False, input_linear=False, n_steps=4, baselines=3, progress=False)
    np.testing.assert_allclose(a.attributions, b.attributions, rtol=1e-10, atol=1e-14)
