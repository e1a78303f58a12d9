"""Data-only maps against numpy and scipy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from neuro_igc.attribution import correlation_map, ttest_map


def test_correlation_map_matches_numpy(regression_data):
    x, y = regression_data
    res = correlation_map(x, y)
    assert res.attributions.shape == (3, 6) and res.kind == "correlation-map"
    xn, yn = x.numpy(), y.numpy()
    expect = np.array([[np.corrcoef(xn[:, j], yn[:, o])[0, 1] for j in range(6)] for o in range(3)])
    np.testing.assert_allclose(res.attributions, expect, rtol=1e-10)
    flat = correlation_map(np.c_[xn, np.ones(len(xn))], yn[:, 0])
    assert flat.attributions.shape == (1, 7) and flat.attributions[0, 6] == 0.0


def test_correlation_map_labels_and_dataset(regression_data):
    x, _ = regression_data
    labels = torch.tensor((x[:, 0] > 0).long().numpy())
    res = correlation_map(torch.utils.data.TensorDataset(x, labels), None)
    onehot = np.eye(2)[labels.numpy()]
    expect = np.array([[np.corrcoef(x.numpy()[:, j], onehot[:, k])[0, 1] for j in range(6)] for k in range(2)])
    np.testing.assert_allclose(res.attributions, expect, rtol=1e-10)


@pytest.mark.parametrize("equal_var", [False, True])
def test_ttest_deciles_match_scipy(regression_data, equal_var):
    x, y = regression_data
    res = ttest_map(x, y, equal_var=equal_var)
    xn, yn = x.numpy(), y.numpy()
    for o in range(3):
        hi, lo = yn[:, o] >= np.quantile(yn[:, o], 0.9), yn[:, o] <= np.quantile(yn[:, o], 0.1)
        ref = stats.ttest_ind(xn[hi], xn[lo], equal_var=equal_var)
        np.testing.assert_allclose(res.attributions[o], ref.statistic, rtol=1e-8)
        np.testing.assert_allclose(res.extras["p_values"][o], ref.pvalue, rtol=1e-6)


def test_ttest_classes_match_scipy(regression_data):
    x, _ = regression_data
    labels = (x[:, 0] > 0.3).long() + (x[:, 1] > 0.5).long()
    res = ttest_map(x, labels)
    xn, ln = x.numpy(), labels.numpy()
    assert res.attributions.shape == (3, 6)
    for k in range(3):
        ref = stats.ttest_ind(xn[ln == k], xn[ln != k], equal_var=False)
        np.testing.assert_allclose(res.attributions[k], ref.statistic, rtol=1e-8)


def test_ttest_errors(regression_data):
    x, y = regression_data
    with pytest.raises(ValueError, match=r"'decile': expected a fraction in \(0, 0.5\); got 0.7"):
        ttest_map(x, y, decile=0.7)
    labels = torch.zeros(120, dtype=torch.long)
    labels[0] = 1
    with pytest.raises(ValueError, match=r"output/class 0 leaves fewer than 2 samples in a group \(119 vs 1\)"):
        ttest_map(x, labels)
