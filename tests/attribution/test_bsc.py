"""Baseline-Shapley correlation: equals IGC on a linear model, sums to the correlation."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from attribution_nets import mish_mlp
from neuro_igc.attribution import bsc, igc


def test_bsc_equals_igc_on_linear_model(regression_data):
    x, y = regression_data
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 3)).double()
    for mode in ("per-sample", "shared"):
        b = bsc(model, x[:40], y[:40], baselines=3, n_permutations=2, baseline_mode=mode, progress=False, warn=False)
        g = igc(model, x[:40], y[:40], baselines=3, n_steps=2, baseline_mode=mode, progress=False, warn=False)
        np.testing.assert_allclose(b.attributions, g.attributions, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(b.baseline_term, g.baseline_term, rtol=1e-9, atol=1e-14)
    assert b.settings["baseline_indices"] == g.settings["baseline_indices"]


def test_bsc_complete_on_nonlinear_model(regression_data):
    x, y = regression_data
    model = mish_mlp()
    b = bsc(model, x[:30], y[:30], baselines=2, n_permutations=3, progress=False, warn=False)
    np.testing.assert_allclose(b.attributions.sum(1) + b.baseline_term, b.correlation, atol=1e-10)
    assert b.kind == "bsc" and b.attributions.shape == (3, 6)
    again = bsc(model, x[:30], y[:30], baselines=2, n_permutations=3, progress=False, warn=False)
    np.testing.assert_array_equal(again.attributions, b.attributions)
    g = igc(model, x[:30], y[:30], baselines=2, n_steps=16, progress=False, warn=False)
    # both are path methods on a mildly nonlinear model: close, not equal
    assert np.corrcoef(b.attributions.ravel(), g.attributions.ravel())[0, 1] > 0.9


def test_bsc_small_batches_and_extras(subject_data):
    from attribution_nets import SubjectNet

    x, y, subject = subject_data
    model = SubjectNet()
    a = bsc(model, x[:12], y[:12], baselines=2, n_permutations=2, extra={"subject": subject[:12]},
            progress=False, warn=False)
    b = bsc(model, x[:12], y[:12], baselines=2, n_permutations=2, extra={"subject": subject[:12]},
            batch_size=5, progress=False, warn=False)
    np.testing.assert_allclose(a.attributions, b.attributions, rtol=1e-12)
