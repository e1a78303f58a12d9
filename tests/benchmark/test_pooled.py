"""Per-chunk baselines: one chunk equals the engine; pooling is exact and complete."""

import numpy as np
import pytest
import torch

import neuro_igc.attribution as attribution
from neuro_igc.benchmark import ExperimentA, ExperimentB
from neuro_igc.benchmark._pooled import chunk_plan, pooled_correlation_map, pooled_naive_ig, predict


@pytest.fixture(scope="module")
def data_b():
    exp = ExperimentB().double()
    d = exp.sample(120, seed=0)
    return exp, d.x.double(), d.y.double()


def test_one_chunk_equals_the_engine(data_b):
    exp, x, y = data_b
    plan = chunk_plan(120, 120, 6, seed=0)
    fx = predict(exp, x, 0)
    np.testing.assert_allclose(fx, exp(x)[:, 0].detach().numpy(), rtol=1e-12)
    base = x[plan[0][1]]
    ref = attribution.igc(exp, x, y, baselines=base, n_steps=8, output_idx=0, progress=False)
    got = pooled_correlation_map(attribution.igc, exp, x, y, y.numpy(), fx, plan, 0, progress=False, n_steps=8)
    np.testing.assert_allclose(got["map"], ref.attributions.reshape(-1), rtol=1e-9, atol=1e-15)
    assert got["correlation"] == pytest.approx(float(ref.correlation[0]), rel=1e-12)
    naive = attribution.naive_ig(exp, x, baselines=base, n_steps=8, output_idx=0, progress=False)
    pooled = pooled_naive_ig(attribution.naive_ig, exp, x, plan, 0, progress=False, n_steps=8)
    np.testing.assert_allclose(pooled["mean"], naive.mean.attributions.reshape(-1), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(pooled["sd"], naive.sd.attributions.reshape(-1), rtol=1e-9, atol=1e-15)


def test_pooled_linear_igc_matches_the_closed_form():
    # f = w.x is linear: IG_ij = w_j (x_ij - mean_k b_kj) exactly, so the pooled map is known
    exp = ExperimentA().double()
    d = exp.sample(90, seed=1)
    x, y = d.x.double(), d.y.double()
    plan = chunk_plan(90, 30, 4, seed=3)
    fx = predict(exp, x, 0)
    got = pooled_correlation_map(attribution.igc, exp, x, y, y.numpy(), fx, plan, 0, progress=False, n_steps=2)
    w = exp.weights.double().numpy().reshape(-1)
    xf = x.reshape(90, -1).numpy()
    num = np.zeros_like(w)
    ss = 0.0
    for idx, bidx in plan:
        ig = w * (xf[idx] - xf[bidx].mean(0))
        yc = y.numpy()[idx] - y.numpy()[idx].mean()
        num += (ig * yc[:, None]).sum(0)
        ss += (yc**2).sum()
    np.testing.assert_allclose(got["map"], num / ss, rtol=1e-8, atol=1e-14)  # y = f here
    assert got["map"].sum() == pytest.approx(1.0, abs=1e-8)  # sums to the within-chunk correlation


def test_pooled_naive_sd_combines_chunks_exactly(data_b):
    exp, x, _ = data_b
    plan = chunk_plan(120, 40, 3, seed=2)
    pooled = pooled_naive_ig(attribution.naive_ig, exp, x, plan, 0, progress=False, n_steps=4)
    per_sample = []
    for idx, bidx in plan:
        res = attribution.ig(exp, x[idx], baselines=x[bidx], n_steps=4, output_idx=0, progress=False)
        per_sample.append(np.asarray(res.attributions).reshape(idx.size, -1))
    ig = np.concatenate(per_sample)
    np.testing.assert_allclose(pooled["mean"], ig.mean(0), rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(pooled["sd"], ig.std(0), rtol=1e-7, atol=1e-12)


def test_chunk_plan_draws_new_baselines_per_chunk():
    plan = chunk_plan(1000, 100, 8, seed=0)
    assert len(plan) == 10 and sum(i.size for i, _ in plan) == 1000
    assert all(b.size == 8 and len(set(b)) == 8 for _, b in plan)
    assert len({tuple(b) for _, b in plan}) == 10
    assert [tuple(b) for _, b in plan] == [tuple(b) for _, b in chunk_plan(1000, 100, 8, seed=0)]


def test_constant_targets_everywhere_is_an_error():
    exp = ExperimentA().double()
    x = exp.sample(40, seed=0).x.double()
    with pytest.raises(ValueError, match="No chunk has varying"):
        pooled_correlation_map(attribution.igc, exp, x, torch.zeros(40, dtype=torch.float64), np.zeros(40),
                               predict(exp, x, 0), chunk_plan(40, 20, 2, 0), 0, progress=False)
