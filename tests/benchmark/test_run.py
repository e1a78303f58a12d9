"""run_benchmark: table layout, the method registry, scores, small runs of every experiment."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from neuro_igc.benchmark import PAPER_RECOVERY, PAPER_VALUES, make_experiment, paper_comparison, run_benchmark
from neuro_igc.benchmark._run import (
    DEFAULT_SETTINGS,
    METHODS,
    PAPER_SETTINGS,
    TABLE_COLUMNS,
    MethodContext,
    ttest_groups,
)

TINY_MODEL = {"model_train": 64, "model_epochs": 1, "model_samples": 40, "model_baselines": 2, "model_steps": 2,
              "model_seeds": 2, "model_keep": 1,
              "model_config": {"stem_width": 4, "widths": (8, 8, 8, 8), "depth": 1, "hidden": 8,
                               "drop_path": 0.0, "dropout": 0.0}}

FAST = [m for m in METHODS if m not in ("IGC (model)", "BSC")]


@pytest.fixture(scope="module")
def small_a():
    return run_benchmark(["A"], n_samples=300, methods=FAST, n_steps=2, progress=False, return_maps=True,
                         n_mc=500)


def test_methods_are_an_explicit_registry():
    assert all(callable(fn) for fn in METHODS.values())
    assert {"IG mean", "IG SD", "IG variance", "IGC", "IGaC", "correlation", "t-test", "BSC",
            "IGC (model)"} == set(METHODS)


def test_table_layout_and_recovery_in_exp_a(small_a):
    table, maps = small_a
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert list(table["method"]) == FAST
    row = table.set_index("method")
    assert row.loc["IGC", "truth_corr"] > 0.9 and row.loc["IGaC", "truth_corr"] > 0.9
    # a linear statistic: the quadrature is exact, and with baselines drawn afresh per sample the
    # sum misses the correlation only by the baseline term, O(1 / sqrt(n * n_baselines))
    assert row.loc["IGC", "igc_error"] < 0.05
    # y = f(x) in Exp. A, so IGC and IGaC are the same map
    np.testing.assert_allclose(maps[("A", "IGC")], maps[("A", "IGaC")], rtol=1e-3, atol=1e-9)
    # IG SD is non-negative: it cannot show the negative centre
    assert (maps[("A", "IG SD")] >= 0).all()
    assert row.loc["IG SD", "sign_agreement"] < row.loc["IGC", "sign_agreement"]
    np.testing.assert_allclose(maps[("A", "IG variance")], maps[("A", "IG SD")] ** 2)
    assert row.loc["IGC", "n_samples"] == 300
    assert maps[("A", "ground truth")].shape == (64, 64)
    assert np.isnan(row.loc["IGC", "paper_value"])


def test_magnitudes(small_a):
    table, maps = small_a
    row = table.set_index("method")
    assert row.loc["IG SD", "magnitude"] == pytest.approx(1.0)
    # correlation maps times sd(f) are corr(IG_j, y) sd(IG_j): at most the IG SD map
    assert 0 < row.loc["IGC", "magnitude"] <= 1.0 + 1e-9
    expected = np.linalg.norm(maps[("A", "IG mean")]) / np.linalg.norm(maps[("A", "IG SD")])
    assert row.loc["IG mean", "magnitude"] == pytest.approx(expected)
    assert np.isnan(row.loc["correlation", "magnitude"]) and np.isnan(row.loc["IG variance", "magnitude"])


def test_ig_mean_and_sd_in_exp_a_follow_the_closed_form(small_a):
    # IG of the standardized linear statistic is w * (x - b) / sd_y: IG SD is |w| sd(x_j - b_j) / sd_y with
    # sd(x_j - b_j) between 1 (one shared baseline set) and sqrt(1 + 1/8) (8 fresh baselines per sample),
    # IG mean is w * (mean x_j - mean b_j) / sd_y
    table, maps = small_a
    exp = make_experiment("A", n_standardize=100)
    w, sd_y = exp.weights.numpy().astype(float), exp.y_sd.item()
    spread = maps[("A", "IG SD")] / np.abs(w) * sd_y
    assert np.all(spread > 0.8) and np.all(spread < 1.25)
    shift = maps[("A", "IG mean")] / w * sd_y
    assert np.all(np.abs(shift) < 1.5) and np.ptp(shift) > 0


def test_bsc_on_the_support_pixels_agrees_with_igc():
    table, maps = run_benchmark(["B"], n_samples=200, methods=["IGC", "BSC"], n_steps=4, bsc_fraction=0.1,
                                bsc_baselines=2, progress=False, return_maps=True, n_mc=500)
    row = table.set_index("method")
    assert row.loc["BSC", "n_samples"] == 20 and row.loc["IGC", "n_samples"] == 200
    support = make_experiment("B", n_standardize=100).support()
    outside = np.setdiff1d(np.arange(64 * 64), support)
    assert (maps[("B", "BSC")].ravel()[outside] == 0).all()  # dummies get exactly 0
    assert row.loc["BSC", "truth_corr"] > 0.5


def test_ttest_groups_and_map_match_scipy():
    y = np.random.default_rng(0).normal(size=1000) * 3 + 1
    hi, lo = ttest_groups(y, categorical=False)
    z = (y - y.mean()) / y.std()
    np.testing.assert_array_equal(hi, z > stats.norm.ppf(0.9))
    np.testing.assert_array_equal(lo, z < stats.norm.ppf(0.1))
    labels = np.array([0, 1, 2, 0, 3])
    hi, lo = ttest_groups(labels, categorical=True, output=0)
    assert hi.tolist() == [True, False, False, True, False] and lo.tolist() == [not v for v in hi]
    exp = make_experiment("B", n_standardize=200)
    data = exp.sample(200, seed=1)
    ctx = MethodContext("B", exp, data, dict(DEFAULT_SETTINGS), 0, progress=False)
    amap, _ = METHODS["t-test"](ctx)
    hi, lo = ttest_groups(data.y.numpy(), False)
    x = data.x.reshape(200, -1).double().numpy()
    expected = stats.ttest_ind(x[hi], x[lo], equal_var=True).statistic
    np.testing.assert_allclose(amap.ravel(), expected, rtol=1e-6)


def test_paper_values_ratios_and_comparison_in_exp_b_and_c():
    table = run_benchmark(["B", "C"], n_samples=80, methods=["IGC", "IGaC", "IG SD", "IG variance"], n_steps=2,
                          baselines=2, progress=False, n_mc=500)
    row = table.set_index(["experiment", "method"])
    assert row.loc[("B", "IGC"), "paper_value"] == 0.85 and row.loc[("B", "IG variance"), "paper_value"] == 0.57
    assert np.isnan(row.loc[("B", "IG SD"), "paper_value"])  # the paper's 0.57 is a variance ratio
    assert row.loc[("C", "IGC"), "paper_value"] == 0.56 and row.loc[("C", "IGaC"), "paper_value"] == 1.0
    assert np.isfinite(row.loc[("B", "IGC"), "overlap_ratio"]) and np.isnan(row.loc[("B", "IGC"), "unreliable_ratio"])
    assert np.isfinite(row.loc[("C", "IGC"), "unreliable_ratio"])
    assert row.loc[("B", "IGC"), "truth_value"] == pytest.approx(1.0)
    comp = paper_comparison(table)
    assert set(comp.columns) == {"experiment", "method", "figure", "ours", "paper", "reproduced"}
    b = comp[(comp.experiment == "B") & (comp.method == "IGC") & (comp.figure == "(a+b+c)/d")].iloc[0]
    assert b.paper == "0.85" and b.ours == pytest.approx(row.loc[("B", "IGC"), "overlap_ratio"])
    assert b.reproduced == (abs(b.ours - 0.85) <= 0.1)
    rec = comp[(comp.experiment == "B") & (comp.figure == "truth_corr")]
    assert set(rec.method) == {"IGC", "IGaC"} and (rec.paper == ">= 0.9").all()
    assert len(comp) == sum(k in row.index for k in list(PAPER_VALUES) + list(PAPER_RECOVERY))


def test_categorical_experiment_and_tiny_models():
    table, maps = run_benchmark(["D"], n_samples=100, methods=["IGC", "t-test", "IGC (model)"], n_steps=2,
                                progress=False, return_maps=True, **TINY_MODEL)
    row = table.set_index("method")
    assert np.isfinite(row.loc["IGC", "truth_corr"]) and np.isfinite(row.loc["IGC", "unreliable_ratio"])
    assert row.loc["IGC", "truth_value"] == pytest.approx(0.25)
    assert 0.0 <= row.loc["IGC (model)", "model_score"] <= 1.0  # an accuracy
    assert row.loc["IGC (model)", "n_samples"] == 40
    assert np.isfinite(maps[("D", "IGC (model)")]).all()


def test_presets_have_the_same_keys():
    assert set(PAPER_SETTINGS) - {"n_samples"} == set(DEFAULT_SETTINGS)
    assert PAPER_SETTINGS["n_samples"] == 100_000 and PAPER_SETTINGS["n_steps"] == 512
    assert PAPER_SETTINGS["baselines"] == 8 and PAPER_SETTINGS["quadrature"] == "riemann-trapezoid"
    assert (PAPER_SETTINGS["model_seeds"], PAPER_SETTINGS["model_keep"]) == (10, 5)
    assert PAPER_SETTINGS["model_samples"] == 10_000 and PAPER_SETTINGS["model_steps"] == 64
    assert 1 < DEFAULT_SETTINGS["model_keep"] < DEFAULT_SETTINGS["model_seeds"]  # several trained, best averaged


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"experiments": ["E"]}, "'experiments'"),
        ({"experiments": []}, "'experiments'"),
        ({"n_samples": 10}, "'n_samples'"),
        ({"methods": ["IG median"]}, "'methods'"),
        ({"n_stepz": 4}, "Invalid setting"),
        ({"baselines": 0}, "'baselines'"),
        ({"bsc_fraction": 0.0}, "'bsc_fraction'"),
        ({"model_seeds": 2, "model_keep": 3}, "'model_keep'"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        run_benchmark(**{"experiments": ["A"], "n_samples": 100, "progress": False, **kwargs})


@pytest.mark.slow
def test_recovery_at_the_default_size():
    torch.manual_seed(0)
    table = run_benchmark(["A", "B"], n_samples=2000, methods=["IG mean", "IG SD", "IG variance", "IGC", "IGaC"],
                          progress=False)
    comp = paper_comparison(table).set_index(["experiment", "method", "figure"])
    for key in [("A", "IGC", "truth_corr"), ("A", "IGaC", "truth_corr"), ("B", "IGC", "truth_corr"),
                ("B", "IGaC", "truth_corr"), ("B", "IGC", "(a+b+c)/d"), ("B", "IG variance", "(a+b+c)/d")]:
        assert comp.loc[key, "reproduced"], (key, comp.loc[key, "ours"])
