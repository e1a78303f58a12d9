"""IG / IGC / IGaC / categorical IGC / naive IG against closed forms, identities and Captum."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from attribution_nets import SubjectNet, mish_mlp
from neuro_igc.attribution import (
    CAPTUM_METHOD_NAMES,
    QUADRATURE_RULES,
    AttributionAccuracyWarning,
    ig,
    igac,
    igc,
    igc_categorical,
    naive_ig,
)

FAST = dict(progress=False)


def linear_model(n_in=5, n_out=2, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_in, n_out)).double()


@pytest.mark.parametrize("method", list(QUADRATURE_RULES))
def test_linear_ig_closed_form(method):
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(20, 5)))
    base = torch.tensor(rng.normal(size=(3, 5)))
    model = linear_model()
    res = ig(model, x, baselines=base, n_steps=3, method=method, input_linear=False, **FAST)
    w = model[0].weight.detach().numpy()  # (2, 5)
    expect = w[None] * (x.numpy() - base.numpy().mean(0))[:, None, :]
    np.testing.assert_allclose(res.attributions, expect, rtol=1e-12, atol=1e-12)
    assert res.attributions.shape == (20, 2, 5)
    assert np.all(res.ig_error < 1e-12)


def test_linear_igc_closed_form():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5)) + 2.0
    y = np.stack([x[:, 0] - x[:, 3], x[:, 1]], 1) + rng.normal(size=(300, 2))
    model = linear_model()
    res = igc(model, x, y, baselines=6, n_steps=1, baseline_mode="shared", **FAST)
    w = model[0].weight.detach().numpy()
    f = x @ w.T
    yc = y - y.mean(0)
    # the baseline set is shared: mean_i (x_ij - b_j)(y_i - ybar) = cov(x_j, y)
    cov = (x - x.mean(0)).T @ yc / len(x)  # (5, 2)
    expect = w * cov.T / (f.std(0) * y.std(0))[:, None]
    np.testing.assert_allclose(res.attributions, expect, rtol=1e-10)
    np.testing.assert_allclose(res.correlation, [np.corrcoef(f[:, o], y[:, o])[0, 1] for o in range(2)], rtol=1e-12)
    np.testing.assert_allclose(res.attributions.sum(1), res.correlation, rtol=1e-10)


def test_linear_igc_per_sample_baselines_closed_form():
    """Baselines drawn afresh per sample, seeded by (seed, sample index), as documented."""
    rng = np.random.default_rng(0)
    n, K, seed = 200, 4, 7
    x = rng.normal(size=(n, 5)) + 2.0
    y = np.stack([x[:, 0] - x[:, 3], x[:, 1]], 1) + rng.normal(size=(n, 2))
    model = linear_model()
    res = igc(model, x, y, baselines=K, n_steps=1, seed=seed, **FAST)
    assert res.settings["baseline_mode"] == "per-sample"
    w = model[0].weight.detach().numpy()
    bidx = np.stack([np.random.default_rng([seed, i]).choice(n, size=K, replace=False) for i in range(n)])
    bmean = x[bidx].mean(1)  # (n, 5): each sample's mean baseline
    f = x @ w.T
    yc = y - y.mean(0)
    ig_ = w[None] * (x - bmean)[:, None, :]  # (n, 2, 5)
    expect = np.einsum("ioj,io->oj", ig_, yc) / n / (f.std(0) * y.std(0))[:, None]
    np.testing.assert_allclose(res.attributions, expect, rtol=1e-10, atol=1e-14)
    c = bmean @ w.T  # mean_k f(b_ik), bias included on both sides
    term = ((c - c.mean(0)) * yc).mean(0) / (f.std(0) * y.std(0))
    np.testing.assert_allclose(res.baseline_term, term, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(res.attributions.sum(1) + res.baseline_term, res.correlation, rtol=1e-9)
    np.testing.assert_allclose(res.igc_error, np.abs(res.attributions.sum(1) - res.correlation), rtol=1e-12)
    assert np.abs(res.baseline_term).max() > 1e-4  # the residual is really there, and reported


def test_completeness_mish_mlp(regression_data):
    x, y = regression_data
    model = mish_mlp()
    res = igc(model, x, y, baselines=8, n_steps=32, warn=False, **FAST)
    assert res.attributions.shape == (3, 6)
    np.testing.assert_allclose(res.attributions.sum(1) + res.baseline_term, res.correlation, atol=1e-4)
    assert np.all(res.ig_error < 1e-4) and np.all(res.ig_error_relative < 1e-4)
    shared = igc(model, x, y, baselines=8, n_steps=32, baseline_mode="shared", **FAST)
    assert np.allclose(shared.baseline_term, 0, atol=1e-12)  # shared baselines: the term cancels
    assert np.all(shared.igc_error < 1e-4)
    with torch.no_grad():
        f = model.eval()(x).numpy()
    expect = [np.corrcoef(f[:, o], y[:, o])[0, 1] for o in range(3)]
    np.testing.assert_allclose(res.correlation, expect, rtol=1e-10)


def test_ig_error_is_the_mean_absolute_gap(regression_data):
    x, _ = regression_data
    model = mish_mlp()
    res = ig(model, x[:20], baselines=3, n_steps=2, method="riemann-left", warn=False, **FAST)
    with torch.no_grad():
        f = model.eval()(x).numpy()
    bidx = np.stack([np.random.default_rng([0, i]).choice(20, size=3, replace=False) for i in range(20)])
    gap = res.attributions.sum(2) - (f[:20] - f[bidx].mean(1))  # (20, 3)
    np.testing.assert_allclose(res.ig_error, np.abs(gap).mean(0), rtol=1e-10)
    np.testing.assert_allclose(res.ig_error_relative, np.abs(gap).sum(0) / np.abs(f[:20] - f[bidx].mean(1)).sum(0),
                               rtol=1e-10)
    with pytest.warns(AttributionAccuracyWarning, match=r"IG error \(mean \|sum IG - \(f\(x\) - f\(baselines\)\)\|\) above 0.01"):
        ig(model, x[:20], baselines=3, n_steps=2, method="riemann-left", **FAST)


def test_reference_set(regression_data):
    x, y = regression_data
    model = mish_mlp()
    res = igc(model, x[:60], y[:60], n_steps=16, reference=(x, y), warn=False, **FAST)
    with torch.no_grad():
        f = model.eval()(x).numpy()
    ref = [np.corrcoef(f[:, o], y[:, o])[0, 1] for o in range(3)]
    np.testing.assert_allclose(res.reference_correlation, ref, rtol=1e-10)
    np.testing.assert_allclose(res.igc_error, np.abs(res.attributions.sum(1) - ref), rtol=1e-12)
    assert res.settings["igc_error_against"] == "reference"
    ds = igc(model, x[:60], y[:60], n_steps=16, reference=torch.utils.data.TensorDataset(x, y), warn=False, **FAST)
    np.testing.assert_allclose(ds.reference_correlation, ref, rtol=1e-10)
    with pytest.raises(ValueError, match=r"'reference': its inputs have shape \(5,\), 'x' has \(6,\)"):
        igc(model, x, y, reference=(x[:, :5], y), **FAST)


def test_igac_sums_to_one(regression_data):
    x, _ = regression_data
    res = igac(mish_mlp(), x, baselines=6, n_steps=32, warn=False, **FAST)
    np.testing.assert_allclose(res.attributions.sum(1) + res.baseline_term, 1.0, atol=1e-4)
    np.testing.assert_allclose(res.correlation, 1.0)
    assert res.kind == "igac"


def test_igac_warns_about_its_own_error(regression_data):
    x, _ = regression_data
    # 2 baselines on 20 samples: a baseline term far above 0.01 (checked below), so igac warns
    with pytest.warns(AttributionAccuracyWarning, match=r"IGaC error \(\|sum of the map - 1\|\) above 0.01") as rec:
        res = igac(mish_mlp(), x[:20], baselines=2, n_steps=8, **FAST)
    assert res.igc_error.max() > 0.01
    assert not any("IGC error" in str(w.message) for w in rec)


def test_dummy_component_gets_zero(regression_data):
    x, y = regression_data
    model = mish_mlp()
    with torch.no_grad():
        model[0].weight[:, 4] = 0.0  # the model ignores component 4
    res = igc(model, x, y, n_steps=8, warn=False, **FAST)
    assert np.all(res.attributions[:, 4] == 0.0)
    assert np.all(np.abs(res.attributions[:, :4]).max(1) > 1e-3)
    per = ig(model, x[:10], n_steps=8, **FAST)
    assert np.all(per.attributions[:, :, 4] == 0.0)


def test_categorical_per_class(regression_data):
    x, _ = regression_data
    labels = torch.tensor((x[:, 0] > 0.3).long().numpy() + (x[:, 1] > 0.5).long().numpy())  # classes 0..2
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 12), nn.Mish(), nn.Linear(12, 3)).double()
    res = igc(model, x, labels, baselines=6, n_steps=32, output_transform="softmax", warn=False, **FAST)
    assert res.kind == "igc-categorical" and res.attributions.shape == (3, 6)
    with torch.no_grad():
        p = torch.softmax(model(x), 1).numpy()
    onehot = np.eye(3)[labels.numpy()]
    expect = [np.corrcoef(p[:, k], onehot[:, k])[0, 1] for k in range(3)]
    np.testing.assert_allclose(res.correlation, expect, rtol=1e-10)
    np.testing.assert_allclose(res.attributions.sum(1) + res.baseline_term, expect, atol=1e-4)
    # same as igc_categorical (softmax by default) and as IGC of the one-hot targets
    res2 = igc_categorical(model, x, labels, baselines=6, n_steps=32, warn=False, **FAST)
    np.testing.assert_allclose(res2.attributions, res.attributions, rtol=1e-12)
    res3 = igc(model, x, torch.tensor(onehot), baselines=6, n_steps=32, output_transform="softmax", warn=False,
               **FAST)
    np.testing.assert_allclose(res3.attributions, res.attributions, rtol=1e-12)
    sub = igc_categorical(model, x, labels, baselines=6, n_steps=32, output_idx=[2], warn=False, **FAST)
    np.testing.assert_allclose(sub.attributions[0], res.attributions[2], rtol=1e-12)


@pytest.mark.parametrize("method", list(QUADRATURE_RULES))
def test_ig_equals_captum(method):
    captum_attr = pytest.importorskip("captum.attr")
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.normal(size=(6, 6)))
    base = torch.tensor(rng.normal(size=(1, 6)))
    model = mish_mlp().eval()
    n_steps = 7
    ours = ig(model, x, baselines=base, n_steps=n_steps, method=method, **FAST).attributions
    explainer = captum_attr.IntegratedGradients(model)
    for o in range(3):
        ref = explainer.attribute(x, baselines=base, target=o, n_steps=n_steps,
                                  method=CAPTUM_METHOD_NAMES[method]).detach().numpy()
        if method == "riemann-trapezoid":
            ref = ref * n_steps / (n_steps - 1)  # Captum's trapezoid weights sum to (n - 1) / n
        np.testing.assert_allclose(ours[:, o], ref, rtol=1e-5, atol=1e-10)


def test_naive_ig_mean_and_sd(regression_data):
    x, _ = regression_data
    model = mish_mlp()
    per = ig(model, x, baselines=4, n_steps=8, **FAST).attributions
    naive = naive_ig(model, x, baselines=4, n_steps=8, batch_size=7 * 4 * 8, **FAST)
    np.testing.assert_allclose(naive.mean.attributions, per.mean(0), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(naive.sd.attributions, per.std(0), rtol=1e-8, atol=1e-14)
    assert naive.sd.kind == "ig-sd" and naive.mean.kind == "ig-mean"


def test_seeded_determinism(regression_data):
    x, y = regression_data
    model = mish_mlp()
    a = igc(model, x, y, baselines=5, n_steps=4, seed=3, warn=False, **FAST)
    b = igc(model, x, y, baselines=5, n_steps=4, seed=3, warn=False, **FAST)
    c = igc(model, x, y, baselines=5, n_steps=4, seed=4, warn=False, **FAST)
    np.testing.assert_array_equal(a.attributions, b.attributions)
    assert not np.allclose(a.attributions, c.attributions)
    s3 = igc(model, x, y, baselines=5, n_steps=4, seed=3, baseline_mode="shared", warn=False, **FAST)
    s4 = igc(model, x, y, baselines=5, n_steps=4, seed=4, baseline_mode="shared", warn=False, **FAST)
    assert s3.settings["baseline_indices"] != s4.settings["baseline_indices"]


@pytest.mark.parametrize("batch_size", [1, 5, 64, 10_000])
def test_result_independent_of_batch_size(regression_data, batch_size):
    x, y = regression_data
    model = mish_mlp()
    ref = igc(model, x, y, baselines=4, n_steps=6, warn=False, **FAST)
    res = igc(model, x, y, baselines=4, n_steps=6, batch_size=batch_size, warn=False, **FAST)
    np.testing.assert_allclose(res.attributions, ref.attributions, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(res.ig_error, ref.ig_error, rtol=1e-8, atol=1e-14)


def test_auto_steps(regression_data):
    x, y = regression_data
    res = igc(mish_mlp(), x, y, n_steps="auto", method="riemann-trapezoid", auto_tol=1e-3, **FAST)
    hist = res.settings["auto_history"]
    assert res.settings["n_steps_requested"] == "auto"
    assert res.settings["n_steps"] == hist[-1][0] and hist[-1][1] < 1e-3
    assert all(err >= 1e-3 for _, err in hist[:-1]) and len(hist) >= 2
    assert [s for s, _ in hist] == [8 * 2**i for i in range(len(hist))]
    assert np.max(res.ig_error) < 1e-2


def test_auto_steps_warns_when_capped(regression_data):
    x, y = regression_data
    with pytest.warns(AttributionAccuracyWarning, match="stopped at 2 steps"):
        igc(mish_mlp(), x, y, n_steps="auto", method="riemann-left", auto_start=1, auto_max_steps=2,
            auto_tol=1e-6, warn=False, **FAST)


def test_warns_on_large_igc_error(regression_data):
    x, y = regression_data
    with pytest.warns(AttributionAccuracyWarning, match=r"IGC error above 0.01 for outputs"):
        igc(mish_mlp(), x, y, n_steps=1, method="riemann-left", **FAST)


def test_model_state_restored(regression_data):
    x, y = regression_data
    model = mish_mlp().train()
    model[0].weight.requires_grad_(False)
    before = model[3].running_mean.clone()
    igc(model, x, y, n_steps=4, warn=False, **FAST)
    assert model.training and model[3].training
    assert not model[0].weight.requires_grad and model[2].weight.requires_grad
    assert torch.equal(before, model[3].running_mean)  # evaluated in eval mode: no BN update
    assert all(p.grad is None for p in model.parameters())


def test_dataset_input_matches_arrays(subject_data):
    x, y, subject = subject_data
    model = SubjectNet()
    ref = igc(model, x, y, n_steps=6, extra={"subject": subject}, warn=False, **FAST)
    ds = torch.utils.data.TensorDataset(x, y, subject)
    res = igc(model, ds, n_steps=6, warn=False, **FAST)
    np.testing.assert_allclose(res.attributions, ref.attributions, rtol=1e-12)
    res2 = igc(model, torch.utils.data.TensorDataset(x, y), n_steps=6, model_kwargs={"subject": 1}, warn=False, **FAST)
    ref2 = igc(model, x, y, n_steps=6, model_kwargs={"subject": 1}, warn=False, **FAST)
    np.testing.assert_allclose(res2.attributions, ref2.attributions, rtol=1e-12)


def test_mixed_subjects_identity_with_baseline_term(subject_data):
    x, y, subject = subject_data
    model = SubjectNet()
    res = igc(model, x, y, n_steps=32, extra={"subject": subject}, warn=False, **FAST)
    # sum_j IGC_j = corr - cov(c, y) / (sd f sd y), c_i = mean_k f(b_k) with sample i's subject
    np.testing.assert_allclose(res.attributions.sum(1) + res.baseline_term, res.correlation, atol=1e-5)
    assert np.abs(res.baseline_term).max() > 1e-3
    one = igc(model, x, y, n_steps=32, model_kwargs={"subject": 2}, baseline_mode="shared", warn=False, **FAST)
    np.testing.assert_allclose(one.attributions.sum(1), one.correlation, atol=1e-5)
    np.testing.assert_allclose(one.baseline_term, 0, atol=1e-12)


def test_device_matches_cpu(regression_data, device):
    x, y = regression_data
    model = mish_mlp()
    ref = igc(model, x, y, n_steps=8, device="cpu", warn=False, **FAST)
    res = igc(model, x, y, n_steps=8, device=device, warn=False, **FAST)
    np.testing.assert_allclose(res.attributions, ref.attributions, rtol=1e-7, atol=1e-12)
    assert res.settings["device"].startswith(device)
    assert next(model.parameters()).device.type == "cpu"


@pytest.mark.parametrize("vjp", ["batched", "loop"])
def test_identity_model(vjp):
    x = torch.randn(10, 1, dtype=torch.float64)
    base = torch.randn(3, 1, dtype=torch.float64)
    res = ig(nn.Flatten(), x, baselines=base, n_steps=3, vjp=vjp, **FAST)
    np.testing.assert_allclose(res.attributions[:, 0, 0], (x - base.mean(0)).numpy()[:, 0], rtol=1e-12)


@pytest.mark.parametrize("switches", [dict(input_linear=False, readout=False), dict(input_linear=True, readout=True)])
def test_split_over_processes_adds_up(regression_data, switches):
    """A run split over processes (each a share of the samples, the sums added) equals one run."""
    from neuro_igc.attribution._engine import Engine, prepared_model
    from neuro_igc.attribution._igc import _prepare
    from neuro_igc.attribution._settings import AttributionSettings

    x, y = regression_data
    model = mish_mlp()
    st = AttributionSettings(baselines=5, n_steps=6, progress=False, **switches)
    src, bl, dev, ekw, _ = _prepare(model, x, y, st, need_y=True, desc="IGC")
    with prepared_model(model, dev, True):
        engine = Engine(model, src, bl, **ekw)
        engine.predict()
        yc = torch.as_tensor(y.numpy() - y.numpy().mean(0))
        full = engine.run(weights=yc)
        parts = [engine.run(weights=yc, subset=np.arange(r, 120, 3))["sums"] for r in range(3)]
        total = parts[0]
        for p in parts[1:]:
            for a, b in zip(total.tensors(), p.tensors()):
                a += b
        split = engine.finish(total)
    np.testing.assert_allclose(split["S"].numpy(), full["S"].numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(split["ig_error"], full["ig_error"], rtol=1e-10)
    np.testing.assert_allclose(split["cw"].numpy(), full["cw"].numpy(), rtol=1e-10, atol=1e-13)


def test_per_sample_baselines_independent_of_batching(regression_data):
    x, y = regression_data
    model = mish_mlp()
    a = ig(model, x[:30], baselines=4, n_steps=3, warn=False, **FAST)
    b = ig(model, x[:30], baselines=4, n_steps=3, batch_size=13, warn=False, **FAST)
    np.testing.assert_allclose(a.attributions, b.attributions, rtol=1e-10, atol=1e-14)
