"""The four statistics against independent computations of the authors' geometry."""

import math

import numpy as np
import pytest
import torch

from neuro_igc.benchmark import (
    EXPERIMENTS,
    ExperimentA,
    ExperimentB,
    ExperimentC,
    ExperimentD,
    density_disc,
    disc_radius,
    make_experiment,
    pixel_coordinates,
)

N_STD = 2000  # standardization images: enough for the tests, quick to build


@pytest.fixture(scope="module")
def exps():
    return {name: make_experiment(name, n_standardize=N_STD).eval() for name in EXPERIMENTS}


def _pixel_disc(center, radius, size=64):
    """Pixels whose centre lies within ``radius`` (image-width units) of ``center`` (x, y, +y up)."""
    rows, cols = np.mgrid[:size, :size]
    row_c, col_c = 31.5 - 64 * center[1], 31.5 + 64 * center[0]
    return (rows - row_c) ** 2 + (cols - col_c) ** 2 < (64 * radius) ** 2


def _cos(u, v):
    return (u * v).sum(-1) / np.sqrt((u * u).sum(-1) * (v * v).sum(-1))


def test_coordinates_convention():
    x, y = pixel_coordinates(64)
    assert x[0, 0] == pytest.approx(-31.5 / 64) and y[0, 0] == pytest.approx(31.5 / 64)  # top left
    assert x[10, 63] == pytest.approx(31.5 / 64) and y[63, 10] == pytest.approx(-31.5 / 64)
    assert np.all(np.diff(x, axis=1) > 0) and np.all(np.diff(y, axis=0) < 0)  # +x right, +y up
    # Exp. B's first disc, centred at y = 0.13 (8.32 px above the centre), sits in the top half
    rows, cols = np.nonzero(ExperimentB(n_standardize=N_STD).disc_masks[0])
    assert rows.mean() == pytest.approx(31.5 - 0.13 * 64, abs=0.2) and cols.mean() == pytest.approx(31.5, abs=0.01)


@pytest.mark.parametrize("sigma, radius_px", [(0.125, 17.2), (0.078125, 12.8), (0.07, 11.8)])
def test_disc_radius_from_the_density_threshold(sigma, radius_px):
    r = disc_radius(sigma)
    assert 64 * r == pytest.approx(radius_px, abs=0.05)
    # at the radius the density equals 1
    assert math.exp(-(r**2) / (2 * sigma**2)) / (2 * math.pi * sigma**2) == pytest.approx(1.0)
    for center in [(0.0, 0.13), (-0.25, -0.21875), (0.28125, 0.28125)]:
        np.testing.assert_array_equal(density_disc(center, sigma), _pixel_disc(center, r))


def test_a_is_the_authors_weighted_sum(exps):
    exp = exps["A"]
    rows, cols = np.mgrid[:64, :64]
    d2 = ((rows - 31.5) ** 2 + (cols - 31.5) ** 2) / 64**2
    dens = [np.exp(-d2 / (2 * s**2)) / (2 * np.pi * s**2) for s in (0.1, 0.18)]
    w = (-0.5 * dens[0] + 1.0 * dens[1]) / 64**2
    np.testing.assert_allclose(exp.weights.numpy(), w, rtol=1e-6)
    assert w[31, 31] < 0 and w.sum() > 0  # negative centre, net positive sum
    assert np.array_equal(exp.ground_truth(), exp.weights.numpy().astype(float)) and exp.signed_truth
    x = np.random.default_rng(0).normal(size=(4, 1, 64, 64))
    raw = (x[:, 0] * w).sum(axis=(1, 2))
    expected = (raw - exp.y_mean.item()) / exp.y_sd.item()
    np.testing.assert_allclose(exp(torch.as_tensor(x, dtype=torch.float32))[:, 0].numpy(), expected, rtol=1e-4,
                               atol=1e-4)


def test_outputs_of_a_to_c_are_standardized(exps):
    for name in "ABC":
        y = exps[name].sample(2000, seed=3).y.double()
        assert y.mean().item() == pytest.approx(0.0, abs=0.08) and y.std().item() == pytest.approx(1.0, abs=0.08)


def test_b_is_the_maximum_of_three_disc_means(exps):
    exp = exps["B"]
    r = disc_radius(0.125)
    discs = [_pixel_disc(c, r) for c in [(0, 0.13), (-0.15625, -0.140625), (0.15625, -0.140625)]]
    for got, want in zip(exp.disc_masks, discs):
        np.testing.assert_array_equal(got, want)
    data = exp.sample(64, seed=1)
    x = data.x[:, 0].double().numpy()
    means = np.stack([x[:, d].mean(1) for d in discs], 1)
    expected = (means.max(1) - exp.y_mean.item()) / exp.y_sd.item()
    np.testing.assert_allclose(data.y.numpy(), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(exp(data.x)[:, 0].numpy(), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(data.info["winner"].numpy(), means.argmax(1))
    reg = exp.regions()
    count = sum(d.astype(int) for d in discs)
    np.testing.assert_array_equal(reg["d"], count == 3)
    np.testing.assert_array_equal(reg["a"], discs[0] & (count == 1))
    truth = exp.ground_truth(n_mc=4000)
    assert truth[reg["d"]].mean() == pytest.approx(1.0)  # the three probabilities add up
    singles = [truth[reg[k]].mean() for k in "abc"]
    assert sum(singles) == pytest.approx(1.0) and min(singles) > 0.25


def test_c_pairs_and_their_probabilities(exps):
    exp = exps["C"]
    r = disc_radius(0.078125)
    centers = [(-0.25, 0.21875), (0.25, 0.21875), (-0.25, -0.21875), (0.25, -0.21875)]
    discs = [_pixel_disc(c, r) for c in centers]
    assert all(d.sum() == discs[0].sum() for d in discs)
    data = exp.sample(3000, seed=2)
    x = data.x[:, 0].reshape(3000, -1).double().numpy()
    idx = [np.flatnonzero(d) for d in discs]
    s = np.stack([_cos(x[:, idx[0]], x[:, idx[2]]), _cos(x[:, idx[1]], x[:, idx[3]])], 1)  # left, right column
    keep = data.info["keep"].numpy()
    assert keep[:, 0].all()  # pair 0 is reliable
    assert keep[:, 1].mean() == pytest.approx(0.5, abs=0.04)
    raw = np.where(keep, s, 0.0).max(1)
    np.testing.assert_allclose(data.y.numpy(), (raw - exp.y_mean.item()) / exp.y_sd.item(), rtol=1e-4, atol=1e-4)
    # the statistic sees both pairs
    f = exp(data.x[:50])[:, 0].numpy()
    np.testing.assert_allclose(f, (s[:50].max(1) - exp.y_mean.item()) / exp.y_sd.item(), rtol=1e-4, atol=1e-4)
    # who set y: pair 0, pair 1 (kept and larger), or nobody (pair 1 dropped and s_0 < 0)
    p1 = np.mean(keep[:, 1] & (s[:, 1] > s[:, 0]))
    p0 = np.mean(s[:, 0] >= np.where(keep[:, 1], s[:, 1], 0.0))
    w = data.info["winner"].numpy()
    assert np.mean(w == 0) == pytest.approx(p0, abs=1e-3) and np.mean(w == 1) == pytest.approx(p1, abs=1e-3)
    assert p1 == pytest.approx(0.25, abs=0.04)  # kept half the time, larger half of those
    truth = exp.ground_truth(n_mc=3000)
    reg = exp.regions()
    np.testing.assert_array_equal(reg["a"], discs[0] | discs[2])
    np.testing.assert_array_equal(reg["b"], discs[1] | discs[3])
    assert truth[reg["a"]].mean() == pytest.approx(p0, abs=0.04)
    assert truth[reg["b"]].mean() == pytest.approx(p1, abs=0.04)


def test_d_rings_squares_and_the_quarter_in_place(exps):
    exp = exps["D"]
    r = disc_radius(0.07)
    centers = [(0.0, 0.0), (-0.28125, 0.28125), (0.28125, 0.28125), (-0.28125, -0.28125), (0.28125, -0.28125)]
    rows, cols = np.mgrid[:64, :64]
    squares, rings = [], []
    for c in centers:
        row_c, col_c = 31.5 - 64 * c[1], 31.5 + 64 * c[0]
        sq = (np.abs(rows - row_c) < 4) & (np.abs(cols - col_c) < 4)  # 8 x 8 pixels
        squares.append(sq)
        rings.append(_pixel_disc(c, r) & ~sq)
    assert all(sq.sum() == 64 for sq in squares)
    for k in range(5):
        np.testing.assert_array_equal(exp.square_masks[k], squares[k])
        np.testing.assert_array_equal(exp.ring_masks[k], rings[k])
    n = 3000
    data = exp.sample(n, seed=4)
    perm = data.info["permutation"].numpy()
    in_place = data.info["in_place"].numpy()
    assert np.all(np.sort(perm, 1) == np.arange(4))  # permutations of the four corner squares
    np.testing.assert_allclose(in_place.mean(0), 0.25, atol=0.03)
    x = data.x[:, 0].reshape(n, -1).double().numpy()
    ring = [x[:, np.flatnonzero(m)] for m in rings]
    square = [x[:, np.flatnonzero(m)] for m in squares]
    ref = np.concatenate([ring[0], square[0]], 1)
    sims = np.stack([_cos(ref, np.concatenate([ring[k + 1], np.choose(perm[:, k][:, None], square[1:])], 1))
                     for k in range(4)], 1)
    np.testing.assert_array_equal(data.y.numpy(), sims.argmax(1))
    assert data.y.dtype == torch.int64
    # the true model: every square in place, softmax(100 s)
    clean = np.stack([_cos(ref, np.concatenate([ring[k + 1], square[k + 1]], 1)) for k in range(4)], 1)[:20]
    e = np.exp(100 * (clean - clean.max(1, keepdims=True)))
    np.testing.assert_allclose(exp(data.x[:20]).numpy(), e / e.sum(1, keepdims=True), rtol=1e-3, atol=1e-5)
    # ground truth of class 0 (corner 1): rings 1 and 0 at 1, squares 1 and 0 at the in-place 1/4
    truth = exp.ground_truth()
    assert set(np.unique(truth)) == {0.0, 0.25, 1.0}
    np.testing.assert_array_equal(truth == 0.25, squares[0] | squares[1])
    np.testing.assert_array_equal(truth == 1.0, rings[0] | rings[1])


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_forward_equals_factorized_form_and_support(exps, name):
    exp = exps[name]
    x = torch.randn(6, 1, 64, 64)
    z = exp.igc_input_linear(x.reshape(6, -1))
    torch.testing.assert_close(exp(x), exp.forward_from_input_linear(z))
    support = exp.support()
    torch.testing.assert_close(exp.on_support()(x.reshape(6, -1)[:, torch.as_tensor(support)]), exp(x),
                               rtol=1e-5, atol=1e-6)
    x2 = x.clone().reshape(6, -1)
    outside = np.setdiff1d(np.arange(64 * 64), support)
    x2[:, torch.as_tensor(outside)] = torch.randn(6, outside.size)
    torch.testing.assert_close(exp(x2.reshape(6, 1, 64, 64)), exp(x), rtol=1e-5, atol=1e-6)
    assert exp(x).shape == (6, exp.n_outputs)


def test_sampling_is_seeded(exps):
    exp = exps["C"]
    a, b = exp.sample(50, seed=9), exp.sample(50, seed=9)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(exp.sample(50, seed=10).y, a.y)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: make_experiment("E"), "'experiment'"),
        (lambda: ExperimentA(sigmas=(0.1,), n_standardize=10), "'sigmas'"),
        (lambda: ExperimentC(p_drop=(0.0, 1.5), n_standardize=10), "'p_drop'"),
        (lambda: ExperimentC(p_drop=(0.5,), n_standardize=10), "one probability per pair"),
        (lambda: ExperimentD(temperature=0), "'temperature'"),
        (lambda: ExperimentD(square=0.5), "inside its disc"),
        (lambda: ExperimentB(size=8), "'size'"),
        (lambda: ExperimentB(n_standardize=1), "'n_standardize'"),
        (lambda: disc_radius(0.5), "'sigma'"),
    ],
)
def test_bad_geometry_and_options(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_wrong_image_size_is_reported(exps):
    with pytest.raises(ValueError, match="images of shape"):
        exps["B"](torch.zeros(2, 1, 32, 32))
