"""Recovery scores on maps with known answers."""

import numpy as np
import pytest

import pandas as pd

from neuro_igc.benchmark import (
    magnitude,
    overlap_ratio,
    paper_comparison,
    score_map,
    sign_agreement,
    truth_correlation,
    unreliable_ratio,
)
from neuro_igc.benchmark._report import table_to_markdown


def test_truth_correlation_matches_numpy():
    rng = np.random.default_rng(0)
    a, t = rng.normal(size=(8, 8)), rng.normal(size=(8, 8))
    assert truth_correlation(a, t) == pytest.approx(np.corrcoef(a.ravel(), t.ravel())[0, 1])
    assert truth_correlation(3 * t + 2, t) == pytest.approx(1.0)
    assert truth_correlation(-t, t) == pytest.approx(-1.0)
    assert np.isnan(truth_correlation(np.ones((8, 8)), t))
    assert truth_correlation(a[None], t) == pytest.approx(truth_correlation(a, t))  # (1, H, W) accepted


def test_sign_agreement_weights_by_truth_magnitude():
    truth = np.array([[2.0, -1.0], [1.0, 0.0]])
    assert sign_agreement(truth, truth) == 1.0
    assert sign_agreement(np.abs(truth), truth) == pytest.approx(3 / 4)  # the -1 pixel disagrees
    assert sign_agreement(-truth, truth) == 0.0
    assert sign_agreement(np.zeros((2, 2)), truth) == 0.0


def _three_disc_regions():
    reg = {k: np.zeros((4, 4), bool) for k in "abcd"}
    reg["a"][0, 0] = reg["b"][0, 3] = reg["c"][3, 0] = True
    reg["d"][1:3, 1:3] = True
    return reg


def test_overlap_ratio_of_known_maps():
    reg = _three_disc_regions()
    ideal = np.zeros((4, 4))
    for k in "abc":
        ideal[reg[k]] = 1 / 3
    ideal[reg["d"]] = 1.0
    assert overlap_ratio(ideal, reg) == pytest.approx(1.0)
    squashed = ideal.copy()
    squashed[reg["d"]] = 2.0  # central area over-weighted
    assert overlap_ratio(squashed, reg) == pytest.approx(0.5)


def test_unreliable_ratio_of_known_maps():
    pairs = {"a": np.zeros((2, 4), bool), "b": np.zeros((2, 4), bool)}
    pairs["a"][:, :2] = True
    pairs["b"][:, 2:] = True
    amap = np.where(pairs["a"], 2.0, 0.0) + np.where(pairs["b"], 0.5, 0.0)
    assert unreliable_ratio(amap, pairs) == pytest.approx(0.25)
    squares = {"square": pairs["b"], "reliable": pairs["a"]}
    assert unreliable_ratio(amap, squares) == pytest.approx(0.25)


def test_score_map_fills_the_scores_of_each_experiment():
    reg = _three_disc_regions()
    t = np.random.default_rng(1).normal(size=(4, 4))
    a = score_map("A", t, t, {}, signed=True)
    assert a["truth_corr"] == pytest.approx(1.0) and a["sign_agreement"] == 1.0
    assert np.isnan(a["overlap_ratio"]) and np.isnan(a["unreliable_ratio"])
    b = score_map("B", np.abs(t), np.abs(t), reg)
    assert np.isfinite(b["overlap_ratio"]) and np.isnan(b["sign_agreement"])


def test_magnitude_is_a_norm_ratio():
    rng = np.random.default_rng(2)
    a, r = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    assert magnitude(a, r) == pytest.approx(np.sqrt((a**2).sum() / (r**2).sum()))
    assert magnitude(0.01 * r, r) == pytest.approx(0.01) and np.isnan(magnitude(a, np.zeros((5, 5))))


def test_paper_comparison_puts_ours_beside_the_papers():
    nan = float("nan")
    table = pd.DataFrame([
        {"experiment": "A", "method": "IGC", "truth_corr": 0.95, "magnitude": 0.5, "overlap_ratio": nan,
         "unreliable_ratio": nan},
        {"experiment": "A", "method": "IG mean", "truth_corr": -0.6, "magnitude": 0.02, "overlap_ratio": nan,
         "unreliable_ratio": nan},
        {"experiment": "B", "method": "IG variance", "truth_corr": 0.9, "magnitude": nan, "overlap_ratio": 0.70,
         "unreliable_ratio": nan},
        {"experiment": "C", "method": "IGaC", "truth_corr": 0.9, "magnitude": 0.5, "overlap_ratio": nan,
         "unreliable_ratio": 0.95},
    ])
    comp = paper_comparison(table).set_index(["experiment", "method", "figure"])
    assert comp.loc[("A", "IGC", "truth_corr"), "paper"] == ">= 0.9" and comp.loc[("A", "IGC", "truth_corr"), "reproduced"]
    assert comp.loc[("A", "IG mean", "magnitude"), "reproduced"]  # vanishing, whatever its correlation
    row = comp.loc[("B", "IG variance", "(a+b+c)/d")]
    assert row.paper == "0.57" and row.ours == 0.70 and not row.reproduced  # 0.13 away
    row = comp.loc[("C", "IGaC", "b/a (unreliable/reliable)")]
    assert row.paper == "1.00" and row.reproduced
    assert len(comp) == 4


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: truth_correlation(np.zeros((2, 2)), np.zeros((3, 3))), "must be the same"),
        (lambda: truth_correlation(np.zeros(4), np.zeros(4)), "2-D map"),
        (lambda: overlap_ratio(np.zeros((4, 4)), {k: np.zeros((4, 4), bool) for k in "abcd"}), "non-empty"),
    ],
)
def test_bad_maps(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_markdown_table():
    import pandas as pd

    md = table_to_markdown(pd.DataFrame({"method": ["IGC", "IG SD"], "truth_corr": [0.91234, float("nan")]}))
    lines = md.splitlines()
    assert lines[0] == "| method | truth_corr |"
    assert lines[2] == "| IGC | 0.912 |" and lines[3] == "| IG SD |  |"
