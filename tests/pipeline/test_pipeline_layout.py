"""Derivatives names, dataset_description.json, atomic writers, skip-if-unchanged records."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import neuro_igc
from neuro_igc.pipeline import Derivatives, StepCache, bids_name, density_label
from neuro_igc.pipeline._layout import camel, write_tsv


def test_bids_names(tmp_path):
    d = Derivatives(tmp_path)
    p = d.surface_path("01", "lh", "fsaverage5", "imagestatsLuminanceContrast")
    assert p == tmp_path / "neuro-igc" / "sub-01" / "func" / (
        "sub-01_hemi-L_space-fsaverage_den-10k_stat-igc_desc-imagestatsLuminanceContrast_statmap.func.gii")
    assert d.surface_path("02", "rh", 163842, "x", ext=".mgz", stat="prf").name == (
        "sub-02_hemi-R_space-fsaverage_den-164k_stat-prf_desc-x_statmap.mgz")
    assert d.mask_path("01", "rh", "fsaverage5", "x") == tmp_path / "neuro-igc" / "sub-01" / "anat" / (
        "sub-01_hemi-R_space-fsaverage_den-10k_desc-x_dseg.label.gii")
    assert d.file_path("01", "igc", ".npz", desc="x").parent == tmp_path / "neuro-igc" / "sub-01" / "func"
    assert d.surface_path(None, "rh", "fsaverage5", "x").parent == tmp_path / "neuro-igc" / "group"
    # entities come out in the specification's order whatever the call order
    assert bids_name("roisums", ".tsv", desc="a", atlas="prfvisualrois", sub="01") == (
        "sub-01_atlas-prfvisualrois_desc-a_roisums.tsv")
    assert density_label("fsaverage") == "164k" and camel("luminance_contrast") == "LuminanceContrast"


def test_bids_name_errors(tmp_path):
    with pytest.raises(ValueError, match=r"Invalid value for BIDS entity 'desc'.*got 'a_b'"):
        bids_name("stat", ".func.gii", sub="01", desc="a_b")
    with pytest.raises(ValueError, match=r"Invalid BIDS entity 'task'"):
        bids_name("stat", ".func.gii", task="x")
    with pytest.raises(ValueError, match=r"Invalid value for 'hemi'.*got 'left'"):
        Derivatives(tmp_path).surface_path("01", "left", "fsaverage5", "x")
    with pytest.raises(ValueError, match=r"Invalid value for 'density'.*got 'fsaverage6'"):
        density_label("fsaverage6")


def test_dataset_description(tmp_path):
    d = Derivatives(tmp_path)
    d.write_description({"name": "a", "x": 1}, source="a.yaml")
    d.write_description({"name": "b"}, source="b.yaml")
    d.write_description({"name": "a", "x": 2}, source="a.yaml")  # replaces a's entry
    desc = json.loads((tmp_path / "neuro-igc" / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative" and desc["BIDSVersion"]
    gen = {g["Description"]: g for g in desc["GeneratedBy"]}
    assert set(gen) == {"a", "b"}
    assert gen["a"]["Name"] == "neuro-igc" and gen["a"]["Version"] == neuro_igc.__version__
    assert gen["a"]["Config"] == {"name": "a", "x": 2}


def test_tsv_with_sidecar(tmp_path):
    table = pd.DataFrame({"roi": ["V1", "V2"], "value": [0.5, float("nan")]})
    paths = write_tsv(tmp_path / "x_roisums.tsv", table, {"value": {"Description": "sum"}})
    assert [p.name for p in paths] == ["x_roisums.tsv", "x_roisums.json"]
    text = paths[0].read_text().splitlines()
    assert text[0] == "roi\tvalue" and text[2] == "V2\tn/a"
    back = pd.read_csv(paths[0], sep="\t", na_values="n/a")
    pd.testing.assert_frame_equal(back, table)


def test_failed_write_leaves_no_file(tmp_path):
    class Boom(pd.DataFrame):
        def to_csv(self, path, **kw):  # writes half a file, then fails
            open(path, "w").write("roi\tval")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_tsv(tmp_path / "t.tsv", Boom({"a": [1]}))
    assert list(tmp_path.iterdir()) == []


def test_step_cache_skips_and_force(tmp_path):
    calls = []

    def step(value):
        def work(stage):
            calls.append(value)
            (stage / "sub-01").mkdir()
            (stage / "sub-01" / "out.txt").write_text(str(value))
            return {"score": value}
        return work

    out = tmp_path / "sub-01" / "out.txt"
    cache = StepCache(tmp_path)
    r1 = cache.run("a/sub-01/train", {"epochs": 1}, step(1))
    assert r1.outputs == ["sub-01/out.txt"] and out.read_text() == "1"
    r2 = StepCache(tmp_path).run("a/sub-01/train", {"epochs": 1}, step(2))
    assert not r1.skipped and r2.skipped and calls == [1] and r2.info == {"score": 1}
    StepCache(tmp_path).run("a/sub-01/train", {"epochs": 2}, step(3))  # settings changed
    assert calls == [1, 3] and out.read_text() == "3"
    StepCache(tmp_path, force=True).run("a/sub-01/train", {"epochs": 2}, step(4))
    assert calls == [1, 3, 4]
    out.unlink()  # an output went missing: redo
    StepCache(tmp_path).run("a/sub-01/train", {"epochs": 2}, step(5))
    assert calls == [1, 3, 4, 5] and out.read_text() == "5"


def test_failed_step_leaves_nothing(tmp_path):
    def bad(stage):
        (stage / "first.txt").write_text("written before the failure")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        StepCache(tmp_path).run("s", {}, bad)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    calls = []
    StepCache(tmp_path).run("s", {}, lambda stage: calls.append(1))
    assert calls == [1]  # not recorded as done: redone


def test_the_roi_sidecar_describes_the_roi_table():
    # the _roisums.tsv files are ROI tables: every column the file name does not hold is described
    from neuro_igc.atlas import ROI_TABLE_COLUMNS
    from neuro_igc.pipeline._outputs import ROI_FILE_COLUMNS, ROI_SIDECAR

    assert list(ROI_SIDECAR) == [c for c in ROI_TABLE_COLUMNS if c not in ROI_FILE_COLUMNS]
