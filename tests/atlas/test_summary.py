"""ROI sums: plain-loop reference, additivity, group statistics, bar plot."""

import numpy as np
import pandas as pd
import pytest

from neuro_igc.data import SurfaceSpace
from neuro_igc.atlas import OTHER, Atlas, check_additivity, group_summary, nsd_table, plot_roi_sums, roi_sums


@pytest.fixture
def setup():
    rng = np.random.default_rng(0)
    labels = {h: rng.integers(0, 8, 642) for h in ("lh", "rh")}
    atlas = Atlas(labels, nsd_table("prf-visualrois"), name="visual")
    hemi = np.array(["lh"] * 200 + ["rh"] * 150)
    vertex = np.concatenate([rng.choice(642, 200, replace=False), rng.choice(642, 150, replace=False)])
    return rng, atlas, hemi, vertex


def test_roi_sums_equal_a_plain_loop_and_add_up(setup):
    rng, atlas, hemi, vertex = setup
    att = rng.standard_normal((2, len(hemi)))
    table = roi_sums(att, atlas, space=SurfaceSpace("fsaverage3", hemi, vertex), subject="01", outputs=["contrast", "slope"])
    assert list(table.columns) == ["subject", "output", "roi", "value", "n_features"]
    assert len(table) == 2 * 8  # 7 ROIs + (other)
    for o, name in enumerate(["contrast", "slope"]):
        for roi in atlas.roi_names:
            rid = atlas.ids(roi)[0]
            sel = np.array([atlas.labels[h][v] == rid for h, v in zip(hemi, vertex)])
            row = table[(table.output == name) & (table.roi == roi)].iloc[0]
            assert row["value"] == pytest.approx(att[o, sel].sum(), abs=1e-12)
            assert row["n_features"] == sel.sum()
    checked = check_additivity(table, att.sum(1))
    assert checked["ok"].all() and np.abs(checked["difference"]).max() < 1e-12
    # merged ROIs are sums of their parts
    merged = roi_sums(att, atlas.merge({"V1": ["V1v", "V1d"]}), space=SurfaceSpace("fsaverage3", hemi, vertex), outputs=["contrast", "slope"])
    v1 = merged[(merged.roi == "V1") & (merged.output == "slope")]["value"].item()
    parts = table[table.roi.isin(["V1v", "V1d"]) & (table.output == "slope")]["value"].sum()
    assert v1 == pytest.approx(parts)
    # per hemisphere rows add up to the bilateral ROI
    sep = roi_sums(att, atlas, space=SurfaceSpace("fsaverage3", hemi, vertex), outputs=["contrast", "slope"], hemispheres="separate", rois=["hV4"])
    assert set(sep.roi) == {"lh.hV4", "rh.hV4", OTHER}
    both = table[(table.roi == "hV4") & (table.output == "contrast")]["value"].item()
    assert sep[(sep.roi != OTHER) & (sep.output == "contrast")]["value"].sum() == pytest.approx(both)
    assert check_additivity(sep, att.sum(1))["ok"].all()


def test_additivity_check_detects_a_missing_roi(setup):
    rng, atlas, hemi, vertex = setup
    att = rng.standard_normal(len(hemi)) + 1.0
    table = roi_sums(att, atlas, space=SurfaceSpace("fsaverage3", hemi, vertex))
    assert not check_additivity(table[table.roi != "V2v"], [att.sum()])["ok"].all()


def test_group_summary_mean_sd_across_subjects(setup, tmp_path):
    rng, atlas, hemi, vertex = setup
    atts = {s: rng.standard_normal((2, len(hemi))) for s in ("01", "02", "03")}
    table = pd.concat([roi_sums(a, atlas, space=SurfaceSpace("fsaverage3", hemi, vertex), subject=s, outputs=["a", "b"]) for s, a in atts.items()])
    summary = group_summary(table)
    row = summary[(summary.output == "b") & (summary.roi == "V3d")].iloc[0]
    vals = table[(table.output == "b") & (table.roi == "V3d")]["value"].to_numpy()
    assert row["mean"] == pytest.approx(vals.mean()) and row["sd"] == pytest.approx(vals.std(ddof=1))
    assert row["n_subjects"] == 3 and row["sem"] == pytest.approx(vals.std(ddof=1) / np.sqrt(3))
    totals = {(s, o): a[i].sum() for s, a in atts.items() for i, o in enumerate(["a", "b"])}
    assert check_additivity(table, totals)["ok"].all()
    out = plot_roi_sums(table, tmp_path / "rois.png", title="ROI sums")
    import matplotlib.image

    assert matplotlib.image.imread(out).shape[0] > 100
    with pytest.raises(ValueError, match=r"Unknown ROI name\(s\) \['V9'\] in 'rois'"):
        plot_roi_sums(table, tmp_path / "x.png", rois=["V9"])
    with pytest.raises(ValueError, match="several rows for the same"):
        group_summary(pd.concat([table, table]))


def test_roi_sums_errors(setup):
    rng, atlas, hemi, vertex = setup
    with pytest.raises(ValueError, match="'attributions' has 3 features but the feature description"):
        roi_sums(np.zeros(3), atlas, space=SurfaceSpace("fsaverage3", hemi, vertex))
    with pytest.raises(ValueError, match="Label density does not match the data"):
        roi_sums(np.zeros(len(hemi)), atlas, space=SurfaceSpace("fsaverage", hemi, vertex))
    with pytest.raises(ValueError, match=r"Unknown ROI name\(s\) \['V1'\].*known ROIs are: V1v, V1d"):
        roi_sums(np.zeros(len(hemi)), atlas, space=SurfaceSpace("fsaverage3", hemi, vertex), rois=["V1"])
    with pytest.raises(ValueError, match="Invalid value for 'hemispheres'"):
        roi_sums(np.zeros(len(hemi)), atlas, space=SurfaceSpace("fsaverage3", hemi, vertex), hemispheres="lh")


def _roi_labels_of(atlas, hemi, vertex):
    from neuro_igc.data import ROILabels

    space = SurfaceSpace("fsaverage3", hemi, vertex)
    return ROILabels("visual", atlas.labels_for(space), atlas.table, space, source="test")


def test_roi_sums_take_feature_aligned_roi_labels(setup):
    rng, atlas, hemi, vertex = setup
    att = rng.standard_normal((2, len(hemi)))
    roi = _roi_labels_of(atlas, hemi, vertex)
    expected = roi_sums(att, atlas, space=SurfaceSpace("fsaverage3", hemi, vertex), subject="01")
    pd.testing.assert_frame_equal(roi_sums(att, roi, subject="01"), expected)
    separate = roi_sums(att, roi, subject="01", hemispheres="separate")
    pd.testing.assert_frame_equal(separate, roi_sums(att, atlas, space=SurfaceSpace("fsaverage3", hemi, vertex), subject="01",
                                                     hemispheres="separate"))


def test_roi_sums_take_volume_roi_labels():
    from neuro_igc.data import ROILabels, VolumeSpace

    ijk = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 1]])
    space = VolumeSpace(ijk, np.eye(4), (2, 2, 2))
    roi = ROILabels("toy", [1, 1, 2, -1], {1: "A", 2: "B"}, space)
    table = roi_sums([1.0, 2.0, 4.0, 8.0], roi)
    assert table[["roi", "value", "n_features"]].values.tolist() == [["A", 3.0, 2], ["B", 4.0, 1], [OTHER, 8.0, 1]]


def test_check_additivity_takes_the_attribution_result(setup):
    from neuro_igc.attribution import AttributionResult

    rng, atlas, hemi, vertex = setup
    att = rng.standard_normal((2, len(hemi)))
    res = AttributionResult(att, settings={"output_idx": [0, 1]})
    table = roi_sums(res.attributions, _roi_labels_of(atlas, hemi, vertex))
    check = check_additivity(table, res)
    assert check["ok"].all()
    np.testing.assert_allclose(check["total"], att.sum(1))


def test_roi_sums_take_native_surface_roi_labels():
    # hemispheres of different vertex counts (a subject's own surface): no full-hemisphere atlas needed
    from neuro_igc.atlas import ROI_TABLE_COLUMNS
    from neuro_igc.data import ROILabels

    space = SurfaceSpace("native", ["lh", "lh", "rh"], [0, 1, 4], subject=1, n_vertices={"lh": 3, "rh": 5})
    roi = ROILabels("toy", [1, 0, 2], {1: "A", 2: "B"}, space)
    table = roi_sums([[1.0, 2.0, 4.0]], roi, subject="01")
    assert list(table.columns) == list(ROI_TABLE_COLUMNS)
    assert table[["roi", "value", "n_features"]].values.tolist() == [["A", 1.0, 1], ["B", 4.0, 1], [OTHER, 2.0, 1]]


def test_roi_sums_need_a_feature_space(setup):
    rng, atlas, hemi, vertex = setup
    with pytest.raises(ValueError, match=r"Missing 'space'.*SurfaceSpace"):
        roi_sums(np.zeros(len(hemi)), atlas)
    with pytest.raises(ValueError, match=r"Invalid value for 'space'.*SurfaceSpace\(density, hemi, vertex\)"):
        roi_sums(np.zeros(len(hemi)), atlas, space=(hemi, vertex))
    roi = _roi_labels_of(atlas, hemi, vertex)
    with pytest.raises(ValueError, match="ROI labels carry their own feature space"):
        roi_sums(np.zeros(len(hemi)), roi, space=SurfaceSpace("fsaverage3", hemi[:3], vertex[:3]))


def test_roi_sums_per_hemisphere_of_native_roi_labels():
    from neuro_igc.data import ROILabels

    space = SurfaceSpace("native", ["lh", "lh", "rh", "rh"], [0, 1, 0, 4], subject=1, n_vertices={"lh": 3, "rh": 5})
    roi = ROILabels("toy", [1, 2, 0, 1], {1: "A", 2: "B"}, space)
    table = roi_sums([1.0, 2.0, 4.0, 8.0], roi, hemispheres="separate")
    assert table[["roi", "value"]].values.tolist() == [["lh.A", 1.0], ["lh.B", 2.0], ["rh.A", 8.0], [OTHER, 4.0]]
    only_a = roi_sums([1.0, 2.0, 4.0, 8.0], roi, hemispheres="separate", rois=["A"])
    assert only_a[["roi", "value"]].values.tolist() == [["lh.A", 1.0], ["rh.A", 8.0], [OTHER, 6.0]]
