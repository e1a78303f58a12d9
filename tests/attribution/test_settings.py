"""One settings object for every attribution function; keyword-only options; typos named."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attribution_nets import mish_mlp
from neuro_igc.attribution import IGC, AttributionSettings, bsc, ig, igac, igc, igc_categorical, naive_ig

Q = dict(progress=False, warn=False)


@pytest.mark.parametrize("fn", [ig, igc, igac, igc_categorical, naive_ig, bsc])
def test_typo_names_the_function(regression_data, fn):
    x, y = regression_data
    args = (x,) if fn in (ig, igac, naive_ig) else (x, y)
    with pytest.raises(TypeError, match=rf"^{fn.__name__}\(\) got an unexpected keyword argument 'n_step'; did you mean 'n_steps'\?"):
        fn(mish_mlp(), *args, n_step=4)


def test_options_are_keyword_only(regression_data):
    x, y = regression_data
    with pytest.raises(TypeError):
        igc(mish_mlp(), x, y, 8)  # baselines must be named
    with pytest.raises(TypeError):
        ig(mish_mlp(), x, 8)


def test_settings_object_and_overrides(regression_data):
    x, y = regression_data
    model = mish_mlp()
    st = AttributionSettings(baselines=4, n_steps=6, seed=2, progress=False, warn=False)
    a = igc(model, x, y, settings=st)
    b = igc(model, x, y, baselines=4, n_steps=6, seed=2, **Q)
    np.testing.assert_array_equal(a.attributions, b.attributions)
    c = igc(model, x, y, settings=st, n_steps=8)  # keywords override the object
    assert c.settings["n_steps"] == 8 and a.settings["n_steps"] == 6
    assert st.replace(n_steps=3).n_steps == 3 and st.n_steps == 6
    with pytest.raises(TypeError, match=r"AttributionSettings.replace\(\) got an unexpected keyword argument 'seeds'"):
        st.replace(seeds=1)
    with pytest.raises(TypeError, match="'settings' in igc\\(\\): expected an AttributionSettings; got dict"):
        igc(model, x, y, settings={"n_steps": 3})


def test_igc_class_shares_settings(regression_data):
    x, y = regression_data
    model = mish_mlp()
    attr = IGC(model, baselines=3, n_steps=4, seed=1, **Q)
    np.testing.assert_array_equal(attr.igc(x, y).attributions,
                                  igc(model, x, y, baselines=3, n_steps=4, seed=1, **Q).attributions)
    np.testing.assert_array_equal(attr.ig(x[:5]).attributions,
                                  ig(model, x[:5], baselines=3, n_steps=4, seed=1, **Q).attributions)
    np.testing.assert_array_equal(attr.naive_ig(x).sd.attributions,
                                  naive_ig(model, x, baselines=3, n_steps=4, seed=1, **Q).sd.attributions)
    np.testing.assert_array_equal(attr.igac(x, output_idx=1).attributions,
                                  igac(model, x, baselines=3, n_steps=4, seed=1, output_idx=1, **Q).attributions)
    b = attr.bsc(x[:20], y[:20], n_permutations=1)
    assert b.kind == "bsc" and b.settings["n_baselines"] == 3
    labels = torch.tensor((x[:, 0] > 0).long().numpy())
    cat = attr.igc_categorical(x, labels, output_idx=[0, 1])
    assert cat.settings["output_transform"] == "softmax"  # the categorical default
    with pytest.raises(TypeError, match=r"^IGC\(\) got an unexpected keyword argument 'baseline'"):
        IGC(model, baseline=3)
    assert "n_steps=4" in repr(attr)
