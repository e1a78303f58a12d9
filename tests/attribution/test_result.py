"""AttributionResult: save/load round trip, ROI sums."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from attribution_nets import mish_mlp
from neuro_igc.attribution import AttributionResult, ig, igc, ttest_map


def test_save_load_round_trip(tmp_path, regression_data):
    x, y = regression_data
    res = igc(mish_mlp(), x, y, n_steps="auto", progress=False)
    path = res.save(tmp_path / "sub" / "igc")
    assert path == tmp_path / "sub" / "igc.npz" and path.exists()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary left
    back = AttributionResult.load(path)
    for key in ("attributions", "correlation", "ig_error", "igc_error", "baseline_term"):
        np.testing.assert_array_equal(getattr(back, key), getattr(res, key))
    assert back.settings == res.settings
    assert back.settings["n_steps"] == res.settings["auto_history"][-1][0]
    assert AttributionResult.load(tmp_path / "sub" / "igc").kind == "igc"


def test_save_load_extras_and_missing(tmp_path, regression_data):
    x, y = regression_data
    res = ttest_map(x, y)
    back = AttributionResult.load(res.save(tmp_path / "t.npz"))
    np.testing.assert_array_equal(back.extras["p_values"], res.extras["p_values"])
    assert back.correlation is None and back.kind == "t-test"
    np.save(tmp_path / "other.npy", np.zeros(2))
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="not an attribution result written by AttributionResult.save"):
        AttributionResult.load(tmp_path / "other.npz")


def test_roi_sum():
    maps = np.arange(12.0).reshape(2, 2, 3)  # 2 outputs, input shape (2, 3)
    labels = np.array([[0, 1, 1], [2, 2, 1]])
    res = AttributionResult(maps, settings={"output_idx": [4, 7]})
    table = res.roi_sum(labels, names={1: "V1", 2: "V2"})
    assert isinstance(table, pd.DataFrame) and len(table) == 6
    assert list(table.columns) == ["output", "label", "name", "n_components", "attribution"]
    v1 = table[(table.output == 7) & (table.name == "V1")]
    assert v1.attribution.item() == 7 + 8 + 11 and v1.n_components.item() == 3
    np.testing.assert_allclose(table.groupby("output").attribution.sum().values, maps.reshape(2, -1).sum(1))
    assert table[table.label == 0].name.tolist() == ["0", "0"]  # unnamed labels keep their number
    seq = res.roi_sum(labels.ravel(), names=["bg", "V1", "V2"])
    assert seq.name.tolist()[:3] == ["bg", "V1", "V2"]
    with pytest.raises(ValueError, match=r"'labels': expected one label per input component \(6, input shape \(2, 3\)\)"):
        res.roi_sum(np.zeros(5))


def test_roi_sum_per_sample(regression_data):
    x, _ = regression_data
    res = ig(mish_mlp(), x[:3], baselines=2, n_steps=4, progress=False)
    table = res.roi_sum([0, 0, 1, 1, 2, 2])
    assert len(table) == 3 * 3 * 3 and table.columns[0] == "sample"
    sums = table.groupby(["sample", "output"]).attribution.sum().values.reshape(3, 3)
    np.testing.assert_allclose(sums, res.attributions.sum(-1))


def test_repr_summarises_many_outputs():
    few = AttributionResult(np.zeros((2, 5)), correlation=np.array([0.5, 0.25]), igc_error=np.array([0.001, 0.02]))
    assert repr(few) == ("AttributionResult(kind='igc', attributions(2, 5), correlation=[0.5, 0.25], "
                         "max igc_error=0.02)")
    many = AttributionResult(np.zeros((300, 5)), correlation=np.linspace(-0.5, 1.0, 300))
    text = repr(many)
    assert "\n" not in text and len(text) < 160  # one short line, not 300 numbers
    assert "<300 values: median 0.25, min -0.5, max 1>" in text


def _surface_rois():
    from neuro_igc.data import ROILabels, SurfaceSpace

    space = SurfaceSpace("fsaverage3", ["lh", "lh", "lh", "rh", "rh", "rh"], [0, 4, 9, 1, 2, 3])
    return ROILabels("visual", [1, 1, 0, 2, 0, 3], {1: "V1", 2: "V2", 3: "V3"}, space)


def test_roi_sum_takes_roi_labels_and_gives_the_roi_table():
    from neuro_igc.atlas import OTHER, ROI_TABLE_COLUMNS, check_additivity, roi_sums

    roi = _surface_rois()
    maps = np.arange(12.0).reshape(2, 6)
    res = AttributionResult(maps, settings={"output_idx": [4, 7]})
    table = res.roi_sum(roi)  # what nsd.roi(..., like=betas) gives
    assert list(table.columns) == list(ROI_TABLE_COLUMNS)
    pd.testing.assert_frame_equal(table, roi_sums(maps, roi, outputs=[4, 7]))
    v1 = table[(table.output == 7) & (table.roi == "V1")]
    assert v1.value.item() == 6 + 7 and v1.n_features.item() == 2
    unlabelled = table[(table.output == 4) & (table.roi == OTHER)]  # label 0: named, not "0"
    assert unlabelled.value.item() == 2 + 4 and unlabelled.n_features.item() == 2
    assert "0" not in set(table.roi)
    assert check_additivity(table, res)["ok"].all()
    with pytest.raises(ValueError, match="'names'"):
        res.roi_sum(roi, names={1: "x"})


def test_roi_sum_of_roi_labels_per_sample(regression_data):
    x, _ = regression_data
    res = ig(mish_mlp(), x[:3], baselines=2, n_steps=4, progress=False)
    table = res.roi_sum(_surface_rois())
    assert table.columns[0] == "sample" and len(table) == 3 * 3 * 4  # samples x outputs x (3 ROIs + other)
    sums = table.groupby(["sample", "output"]).value.sum().values.reshape(3, 3)
    np.testing.assert_allclose(sums, res.attributions.sum(-1))
