"""run_benchmark: table layout, recovery on a small run, a tiny model, errors."""

import numpy as np
import pandas as pd
import pytest

from neuro_igc.benchmark import run_benchmark
from neuro_igc.benchmark._run import DEFAULT_SETTINGS, METHODS, PAPER_SETTINGS, TABLE_COLUMNS

TINY_MODEL = {"model_train": 64, "model_epochs": 1, "model_samples": 40, "model_baselines": 2, "model_steps": 2,
              "model_config": {"stem_width": 4, "widths": (8, 8, 8, 8), "depth": 1, "hidden": 8,
                               "drop_path": 0.0, "dropout": 0.0}}


@pytest.fixture(scope="module")
def small_a():
    return run_benchmark(["A"], n_samples=200, methods=[m for m in METHODS if m != "IGC (model)"], n_steps=2,
                         baseline_chunk=50, bsc_fraction=0.1, bsc_baselines=2, progress=False, return_maps=True)


def test_table_layout_and_recovery_in_exp_a(small_a):
    table, maps = small_a
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert list(table["method"]) == [m for m in METHODS if m != "IGC (model)"]
    assert set(table["experiment"]) == {"A"}
    row = table.set_index("method")
    assert row.loc["IGC", "truth_corr"] > 0.9
    assert row.loc["IGC", "sign_agreement"] > 0.75
    assert row.loc["IGC", "igc_error"] < 1e-6  # a linear statistic: quadrature is exact
    # y = f(x) in Exp. A, so IGC and IGaC are the same map
    np.testing.assert_allclose(maps[("A", "IGC")], maps[("A", "IGaC")], rtol=1e-3, atol=1e-9)  # float32 y
    # IG SD is non-negative: it cannot show the negative surround
    assert (maps[("A", "IG SD")] >= 0).all() and row.loc["IG SD", "sign_agreement"] < 0.6
    assert row.loc["BSC", "n_samples"] == 20 and row.loc["IGC", "n_samples"] == 200
    assert ("A", "ground truth") in maps and maps[("A", "ground truth")].shape == (64, 64)
    assert np.isnan(row.loc["IGC", "paper_value"])


def test_paper_values_and_ratios_are_filled_in_exp_b_and_c():
    table = run_benchmark(["B", "C"], n_samples=120, methods=["IGC", "IG SD"], n_steps=2, baseline_chunk=60,
                          progress=False, n_mc=500)
    row = table.set_index(["experiment", "method"])
    assert row.loc[("B", "IGC"), "paper_value"] == 0.85 and row.loc[("B", "IG SD"), "paper_value"] == 0.57
    assert row.loc[("C", "IGC"), "paper_value"] == 0.56
    assert np.isfinite(row.loc[("B", "IGC"), "overlap_ratio"]) and np.isnan(row.loc[("B", "IGC"), "unreliable_ratio"])
    assert np.isfinite(row.loc[("C", "IGC"), "unreliable_ratio"])
    assert row.loc[("B", "IGC"), "truth_value"] == pytest.approx(1.0)
    assert row.loc[("B", "IGC"), "truth_corr"] > 0.7


def test_categorical_experiment_and_tiny_model():
    table = run_benchmark(["D"], n_samples=80, methods=["IGC", "correlation", "IGC (model)"], n_steps=2,
                          baseline_chunk=40, progress=False, **TINY_MODEL)
    row = table.set_index("method")
    assert np.isfinite(row.loc["IGC", "truth_corr"]) and np.isfinite(row.loc["IGC", "unreliable_ratio"])
    assert 0.0 <= row.loc["IGC (model)", "model_score"] <= 1.0  # an accuracy
    assert row.loc["IGC (model)", "n_samples"] == 40
    assert np.isfinite(row.loc["IGC (model)", "truth_corr"])


def test_presets_have_the_same_keys():
    assert set(PAPER_SETTINGS) - {"n_samples"} == set(DEFAULT_SETTINGS)
    assert PAPER_SETTINGS["n_samples"] == 100_000 and PAPER_SETTINGS["n_steps"] == 512
    assert PAPER_SETTINGS["baselines"] == 8


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
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        run_benchmark(**{"experiments": ["A"], "n_samples": 100, "progress": False, **kwargs})
