"""The four statistics: values on hand-built inputs, factorization, support, sampling, truths."""

import numpy as np
import pytest
import torch

from neuro_igc.benchmark import EXPERIMENTS, ExperimentA, ExperimentB, ExperimentC, ExperimentD, make_experiment
from neuro_igc.benchmark._experiments import disc_offsets


def _disc_pixels(center, radius, size=64):
    rr, cc = np.mgrid[:size, :size]
    return (rr - center[0]) ** 2 + (cc - center[1]) ** 2 <= radius**2


def _numpy_cosine(u, v):
    return (u * v).sum(-1) / np.sqrt((u * u).sum(-1) * (v * v).sum(-1))


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_forward_equals_factorized_form_and_support(name):
    exp = make_experiment(name)
    x = torch.randn(6, 1, 64, 64)
    z = exp.igc_input_linear(x.reshape(6, -1))
    torch.testing.assert_close(exp(x), exp.forward_from_input_linear(z))
    support = exp.support()
    torch.testing.assert_close(exp.on_support()(x.reshape(6, -1)[:, torch.as_tensor(support)]), exp(x),
                               rtol=1e-5, atol=1e-6)
    # pixels outside the support do not change the statistic
    x2 = x.clone().reshape(6, -1)
    outside = np.setdiff1d(np.arange(64 * 64), support)
    x2[:, torch.as_tensor(outside)] = torch.randn(6, outside.size)
    torch.testing.assert_close(exp(x2.reshape(6, 1, 64, 64)), exp(x), rtol=1e-5, atol=1e-6)
    assert exp(x).shape == (6, exp.n_outputs)


def test_a_is_the_weighted_sum_of_a_centre_surround_mask():
    exp = ExperimentA()
    w = exp.weights.numpy().astype(np.float64)
    x = np.random.default_rng(0).normal(size=(4, 1, 64, 64))
    expected = (x[:, 0] * w).sum(axis=(1, 2))
    got = exp(torch.as_tensor(x, dtype=torch.float32))[:, 0].numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert abs(w.sum()) < 1e-6  # balanced
    assert w[31, 31] > 0 and w[31, 31 + 12] < 0  # positive centre, negative surround
    np.testing.assert_allclose(w, w[::-1, ::-1], atol=1e-9)  # centred
    # the gradient of the statistic is the mask itself
    xt = torch.zeros(1, 1, 64, 64, requires_grad=True)
    exp(xt).sum().backward()
    np.testing.assert_allclose(xt.grad[0, 0].numpy(), w, atol=1e-7)
    assert exp.signed_truth and np.array_equal(exp.ground_truth(), w)


def test_b_picks_the_disc_with_the_largest_mean():
    exp = ExperimentB()
    for k, (center, mask) in enumerate(zip(exp.centers, exp.disc_masks)):
        np.testing.assert_array_equal(mask, _disc_pixels(center, 12))
        x = torch.zeros(1, 1, 64, 64)
        only_k = exp.regions()["abc"[k]]
        x[0, 0][torch.as_tensor(only_k)] = 1.0
        assert int(exp.disc_means(x).argmax()) == k
        assert exp(x).item() == pytest.approx(only_k.sum() / mask.sum(), rel=1e-6)
    x = np.random.default_rng(1).normal(size=(5, 64, 64))
    means = np.stack([x[:, m].mean(1) for m in exp.disc_masks], 1)
    np.testing.assert_allclose(exp(torch.as_tensor(x[:, None], dtype=torch.float32))[:, 0].numpy(),
                               means.max(1), rtol=1e-5, atol=1e-6)


def test_b_regions_and_ground_truth_density():
    exp = ExperimentB()
    reg = exp.regions()
    count = sum(m.astype(int) for m in exp.disc_masks)
    for k in "abc":
        assert reg[k].any() and (count[reg[k]] == 1).all()
    assert reg["d"].sum() > 20 and (count[reg["d"]] == 3).all()
    truth = exp.ground_truth(n_mc=6000)
    # each disc wins about a third of the time (symmetry), so the density is the coverage / 3
    np.testing.assert_allclose(truth, count / 3.0, atol=0.03)
    assert truth.sum() == pytest.approx(sum(m.sum() for m in exp.disc_masks) / 3.0, rel=0.03)


def test_c_similarities_and_hidden_drop():
    exp = ExperimentC()
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 64, 64))
    off = disc_offsets(8)
    sims = []
    for col in (20, 43):
        u = x[:, 20 + off[:, 0], col + off[:, 1]]
        v = x[:, 43 + off[:, 0], col + off[:, 1]]
        sims.append(_numpy_cosine(u, v))
    xt = torch.as_tensor(x[:, None], dtype=torch.float32)
    np.testing.assert_allclose(exp.similarities(xt).numpy(), np.stack(sims, 1), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(exp(xt)[:, 0].numpy(), np.maximum(*sims), rtol=1e-4, atol=1e-6)
    # identical upper and lower discs of pair a: similarity 1
    x2 = x.copy()
    x2[:, 43 + off[:, 0], 20 + off[:, 1]] = x2[:, 20 + off[:, 0], 20 + off[:, 1]]
    assert exp(torch.as_tensor(x2[:, None], dtype=torch.float32))[:, 0].numpy() == pytest.approx(np.ones(4), abs=1e-5)
    # the true output: pair b dropped with probability p_drop, invisible to f
    always = ExperimentC(p_drop=1.0).sample(300, seed=3)
    s = exp.similarities(always.x)
    torch.testing.assert_close(always.y, torch.clamp(s[:, 0], min=0.0))
    never = ExperimentC(p_drop=0.0).sample(300, seed=3)
    torch.testing.assert_close(never.y, exp(never.x)[:, 0])
    half = exp.sample(4000, seed=4)
    assert half.info["keep"].float().mean().item() == pytest.approx(0.5, abs=0.03)


def test_c_ground_truth_halves_the_unreliable_pair():
    exp = ExperimentC()
    truth = exp.ground_truth(n_mc=6000)
    reg = exp.regions()
    assert (truth[~(reg["a"] | reg["b"])] == 0).all()
    # pair b sets y only when kept (1/2) and larger (1/2)
    assert truth[reg["b"]].mean() == pytest.approx(0.25, abs=0.02)
    assert truth[reg["a"]].mean() > truth[reg["b"]].mean() + 0.15


def test_d_classes_squares_and_labels():
    exp = ExperimentD()
    x = torch.randn(3, 1, 64, 64)
    p = exp(x)
    torch.testing.assert_close(p.sum(1), torch.ones(3))
    # copy the central disc into corner 2: class 2 wins with similarity 1
    flat = x.reshape(3, -1).clone()
    flat[:, exp.corner_index[2]] = flat[:, exp.central_index]
    x2 = flat.reshape(3, 1, 64, 64)
    assert (exp(x2).argmax(1) == 2).all()
    assert exp.similarities(x2)[:, 2].numpy() == pytest.approx(np.ones(3), abs=1e-5)
    # squares: 5 x 5, inside their corner disc, towards the image corner
    for k in range(4):
        corner, central = exp.square_masks(k)
        assert corner.sum() == 25 and central.sum() == 25
        assert not (corner & ~exp.corner_masks[k]).any() and not (central & ~exp.central_mask).any()
    corner0, _ = exp.square_masks(0)
    rows, cols = np.nonzero(corner0)
    assert rows.max() < exp.corner_centers[0][0] and cols.max() < exp.corner_centers[0][1]
    # without substitution the label is the argmax of the statistic; with it, sometimes not
    clean = ExperimentD(p_substitute=0.0).sample(500, seed=5)
    torch.testing.assert_close(clean.y, exp(clean.x).argmax(1))
    noisy = ExperimentD(p_substitute=1.0).sample(500, seed=5)
    agree = (noisy.y == exp(noisy.x).argmax(1)).float().mean().item()
    assert 0.5 < agree < 1.0
    assert noisy.y.dtype == torch.int64 and set(noisy.y.tolist()) <= {0, 1, 2, 3}


def test_d_ground_truth_and_regions():
    exp = ExperimentD(p_substitute=0.5)
    truth = exp.ground_truth()
    reg = exp.regions()
    assert set(np.unique(truth)) == {0.0, 0.5, 1.0}
    assert (truth[reg["square"]] == 0.5).all() and (truth[reg["reliable"]] == 1).all()
    assert reg["square"].sum() == 50
    assert not (reg["square"] & reg["reliable"]).any()


def test_sampling_is_seeded():
    exp = ExperimentC()
    a, b = exp.sample(50, seed=9), exp.sample(50, seed=9)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(exp.sample(50, seed=10).y, a.y)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: make_experiment("E"), "'experiment'"),
        (lambda: ExperimentA(sigma_center=8, sigma_surround=4), "sigma_center"),
        (lambda: ExperimentC(p_drop=1.5), "'p_drop'"),
        (lambda: ExperimentD(p_substitute=-0.1), "'p_substitute'"),
        (lambda: ExperimentD(temperature=0), "'temperature'"),
        (lambda: ExperimentB(size=16), "does not fit"),
        (lambda: ExperimentD(square=9, square_offset=6), "inside the corner discs"),
    ],
)
def test_bad_geometry_and_options(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_wrong_image_size_is_reported():
    with pytest.raises(ValueError, match="images of shape"):
        ExperimentB()(torch.zeros(2, 1, 32, 32))
