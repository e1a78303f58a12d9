"""Degenerate pRF inputs: maps with nothing to fit must be flagged, not reported as converged fits.

A constant map (all zero, e.g. a vertex without attribution; or a constant offset) has no centre
and no size; neither has a negative-only map fitted with ``sign="positive"`` (its positive part is
all zero). Those rows must come back with NaN position/size/r2, ``converged=False`` and a warning,
and must not change the fits of the other maps of the batch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from neuro_igc.prf import PRF_SIGNS, fit_prf, gaussian_maps

EXTENT = 8.4
UNDEFINED = ["x", "y", "sigma", "angle", "eccentricity", "size", "r2"]
CONSTANTS = {"zeros": 0.0, "ones": 1.0, "negative": -2.5, "tiny": 1e-30, "large": 1e6}


def _good(n=3, size=20):
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-2, 2, n), rng.uniform(-2, 2, n)
    s = rng.uniform(0.6, 1.2, n)
    return gaussian_maps(x, y, s, shape=(size, size), extent_deg=EXTENT)


def _assert_flagged(p: pd.DataFrame, rows) -> None:
    rows = list(rows)
    assert p.loc[rows, UNDEFINED].isna().all().all(), p.loc[rows]
    assert not p.loc[rows, "converged"].any()


@pytest.mark.parametrize("sign", list(PRF_SIGNS))
@pytest.mark.parametrize("name", list(CONSTANTS))
def test_constant_map(name, sign):
    maps = np.full((2, 16, 16), CONSTANTS[name])
    with pytest.warns(RuntimeWarning, match=r"2 of 2 map\(s\) are constant .*NaN and 'converged' is False"):
        p = fit_prf(maps, EXTENT, sign=sign, progress=False)
    _assert_flagged(p, [0, 1])
    assert (p["amplitude"].abs() <= 1e-9 * max(1.0, abs(CONSTANTS[name]))).all()


def test_negative_map_with_positive_sign():
    maps = -_good(2)
    with pytest.warns(RuntimeWarning, match=r"sign='positive'.*fit it with sign='signed' or 'abs'"):
        p = fit_prf(maps, EXTENT, sign="positive", progress=False)
    _assert_flagged(p, [0, 1])
    q = fit_prf(maps, EXTENT, sign="signed", progress=False)  # the same maps, fitted signed
    assert q["converged"].all() and q["r2"].min() > 0.99


@pytest.mark.parametrize("sign", list(PRF_SIGNS))
def test_flat_maps_leave_the_others_alone(sign):
    good = _good(3)
    maps = np.concatenate([good[:1], np.zeros((1, 20, 20)), good[1:2], np.full((1, 20, 20), 0.7), good[2:]])
    with pytest.warns(RuntimeWarning, match=r"2 of 5 map\(s\).*first: \[11, 13\]"):
        p = fit_prf(maps, EXTENT, sign=sign, progress=False, index=[10, 11, 12, 13, 14])
    _assert_flagged(p, [11, 13])
    ref = fit_prf(good, EXTENT, sign=sign, progress=False)
    np.testing.assert_allclose(p.loc[[10, 12, 14], ["x", "y", "sigma", "r2"]].to_numpy(),
                               ref[["x", "y", "sigma", "r2"]].to_numpy(), rtol=1e-10, atol=1e-12)
    assert p.loc[[10, 12, 14], "converged"].all()


def test_zero_float32_tensor_batches():
    maps = torch.zeros((5, 12, 12), dtype=torch.float32)
    with pytest.warns(RuntimeWarning, match=r"5 of 5 map\(s\)"):
        p = fit_prf(maps, EXTENT, progress=False, batch_size=2, dtype=torch.float32)
    _assert_flagged(p, range(5))


def test_good_maps_do_not_warn():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = fit_prf(_good(3), EXTENT, progress=False)
    assert p["converged"].all() and p[UNDEFINED].notna().all().all()
