"""Exported files read back through nibabel and nilearn give the same values."""

import nibabel as nib
import numpy as np
import pytest
from nilearn.surface import load_surf_data

from neuro_igc.data import SurfaceSpace, VolumeSpace
from neuro_igc.surface import bids_name, freeview_command, to_hemispheres, write_annot, write_gifti, write_mgz, write_surface_maps


@pytest.fixture
def maps():
    rng = np.random.default_rng(0)
    return {"lh": rng.standard_normal(10242).astype(np.float32), "rh": rng.standard_normal(10242).astype(np.float32)}


def test_mgz_round_trip_nibabel_and_nilearn(tmp_path, maps):
    p = write_mgz(maps["lh"], tmp_path / "lh.igc.mgz")
    img = nib.load(p)
    assert img.shape == (10242, 1, 1) and img.get_data_dtype() == np.dtype(">f4")  # big-endian float32, like NSD
    np.testing.assert_array_equal(np.asarray(img.dataobj).ravel(), maps["lh"])
    np.testing.assert_array_equal(load_surf_data(str(p)), maps["lh"])
    frames = np.stack([maps["lh"], -maps["lh"], 2 * maps["lh"]])
    p3 = write_mgz(frames.astype(np.float64), tmp_path / "lh.three.mgz")  # float64 is cast to float32
    data = np.asarray(nib.load(p3).dataobj)
    assert data.shape == (10242, 1, 1, 3)
    np.testing.assert_array_equal(data[:, 0, 0, :].T, frames)
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".")] == []  # no temporary left


def test_gifti_round_trip_nibabel_and_nilearn(tmp_path, maps):
    name = bids_name("stat", ".func.gii", sub=1, space=SurfaceSpace.full("fsaverage5"), hemi="rh", desc="igc")
    assert name == "sub-01_hemi-R_space-fsaverage_den-10k_desc-igc_stat.func.gii"
    p = write_gifti(maps["rh"], tmp_path / name, hemi="rh", names="IGC luminance")
    img = nib.load(p)
    assert img.darrays[0].intent == nib.nifti1.intent_codes["NIFTI_INTENT_ESTIMATE"]
    assert img.meta["AnatomicalStructurePrimary"] == "CortexRight"
    assert img.darrays[0].meta["Name"] == "IGC luminance"
    np.testing.assert_array_equal(img.darrays[0].data, maps["rh"])
    np.testing.assert_array_equal(load_surf_data(str(p)), maps["rh"])
    two = write_gifti(np.stack([maps["rh"], maps["lh"]]), tmp_path / "two.func.gii")
    np.testing.assert_array_equal(load_surf_data(str(two)), np.stack([maps["rh"], maps["lh"]]).T)
    assert [d.meta["Name"] for d in nib.load(two).darrays] == ["two_1", "two_2"]  # never "#1"
    with pytest.raises(ValueError, match="'names': 1 names for 2 maps"):
        write_gifti(np.stack([maps["rh"], maps["lh"]]), tmp_path / "x.func.gii", names=["a"])


def test_bids_name_entities_and_errors():
    full = SurfaceSpace.full("fsaverage")
    assert bids_name("stat", ".func.gii", space=full, hemi="lh", desc="prfangle") == \
        "hemi-L_space-fsaverage_den-164k_desc-prfangle_stat.func.gii"
    assert bids_name("bold", ".func.gii", sub="02", space=SurfaceSpace.full("fsaverage6"), hemi="lh",
                     desc="x").endswith("den-41k_desc-x_bold.func.gii")
    native = SurfaceSpace.full("native", subject=1, n_vertices={"lh": 50, "rh": 60})
    assert bids_name("stat", ".func.gii", sub=1, space=native, hemi="rh", desc="x") == \
        "sub-01_hemi-R_space-fsnative_desc-x_stat.func.gii"
    vol = VolumeSpace([[0, 0, 0]], np.eye(4), (2, 2, 2), name="func1pt8mm")
    assert bids_name("stat", ".nii.gz", sub=1, space=vol, desc="x") == "sub-01_space-func1pt8mm_desc-x_stat.nii.gz"
    # one bids_name for the package: the pipeline's is the same function
    from neuro_igc.pipeline import bids_name as pipeline_bids_name

    assert pipeline_bids_name is bids_name
    with pytest.raises(ValueError, match="Invalid value for BIDS entity 'desc': letters and digits only"):
        bids_name("stat", ".func.gii", hemi="lh", desc="lum_contrast")
    with pytest.raises(ValueError, match="Invalid value for 'hemi'"):
        bids_name("stat", ".func.gii", hemi="left")
    with pytest.raises(ValueError, match="Invalid value for 'ext'"):
        bids_name("igc", "rh")  # the older (desc, hemi) call order fails loudly


def test_annot_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, 642)
    table = {1: "V1", 2: "V2", 3: "V3"}
    p = write_annot(labels, table, tmp_path / "lh.rois.annot")
    got, ctab, names = nib.freesurfer.read_annot(str(p))
    names = [n.decode() for n in names]
    assert names == ["unknown", "V1", "V2", "V3"]
    read_ids = np.array([0, 1, 2, 3])[got]
    np.testing.assert_array_equal(read_ids, labels)
    assert len({tuple(c[:3]) for c in ctab}) == 4  # distinct colours


def test_write_surface_maps_and_freeview_command(tmp_path, maps):
    out = write_surface_maps(maps, tmp_path, "igc", subject=1, threshold=(0.5, 2.0), annot={"lh": "lh.rois.annot"})
    assert sorted(out) == ["freeview", "lh.gifti", "lh.mgz", "rh.gifti", "rh.mgz"]
    for h in ("lh", "rh"):
        np.testing.assert_array_equal(load_surf_data(str(out[f"{h}.gifti"])), maps[h])
        np.testing.assert_array_equal(np.asarray(nib.load(out[f"{h}.mgz"]).dataobj).ravel(), maps[h])
    text = out["freeview"].read_text()
    assert "freeview -f $SUBJECTS_DIR/fsaverage5/surf/lh.inflated:overlay=lh.igc.mgz:overlay_threshold=0.5,2" in text
    assert ":annot=lh.rois.annot:annot_outline=1" in text and "rh.inflated:overlay=rh.igc.mgz" in text
    assert freeview_command({"rh": "a.mgz"}, template="fsaverage").startswith("freeview -f $SUBJECTS_DIR/fsaverage/surf/rh.inflated")
    with pytest.raises(ValueError, match="Invalid value for 'formats'"):
        write_surface_maps(maps, tmp_path, "igc", formats=("nii",))
    with pytest.raises(ValueError, match="Invalid value for 'name'"):
        write_surface_maps(maps, tmp_path, "my map")


def test_writers_reject_mismatched_hemispheres_unknown_densities_and_duplicates(tmp_path):
    with pytest.raises(ValueError, match=r"Hemispheres of different vertex counts \(lh: 10242, rh: 642\)"):
        write_surface_maps({"lh": np.zeros(10242), "rh": np.zeros(642)}, tmp_path, "x")
    with pytest.raises(ValueError, match="1000 vertices per hemisphere is no fsaverage density.*native"):
        write_surface_maps({"lh": np.zeros(1000), "rh": np.zeros(1000)}, tmp_path, "x")
    assert not list(tmp_path.iterdir())  # nothing half-written
    # a native surface: its own counts, named space-fsnative
    native = SurfaceSpace.full("native", subject=2, n_vertices={"lh": 1000, "rh": 1200})
    out = write_surface_maps({"lh": np.ones(1000), "rh": np.ones(1200)}, tmp_path, "x", subject=2, space=native,
                             formats=("gifti",))
    assert out["rh.gifti"].name == "sub-02_hemi-R_space-fsnative_desc-x_stat.func.gii"
    with pytest.raises(ValueError, match=r"maps\['rh'\] has 1000 vertices but the space has 1200"):
        write_surface_maps({"lh": np.ones(1000), "rh": np.ones(1000)}, tmp_path, "y", space=native)
    # duplicate vertex indices: an error, not the last value kept
    with pytest.raises(ValueError, match=r"Duplicate vertex indices in lh: \[5\]"):
        to_hemispheres([1.0, 2.0, 3.0], SurfaceSpace("fsaverage3", ["lh", "lh", "rh"], [5, 5, 0]))
    with pytest.raises(ValueError, match=r"Duplicate vertex indices in rh: \[1\]"):
        SurfaceSpace("fsaverage3", ["rh", "rh"], [1, 1])
    with pytest.raises(ValueError, match="every lh vertex before every rh vertex"):
        SurfaceSpace("fsaverage3", ["rh", "lh"], [1, 2])


def test_one_fill_value_in_gifti_and_mgz(tmp_path, maps):
    holes = {h: np.where(np.arange(10242) % 3 == 0, np.nan, m) for h, m in maps.items()}
    for fill in (0.0, np.nan):
        paths = write_surface_maps(holes, tmp_path / str(fill), "igc", fill=fill)
        for h in ("lh", "rh"):
            gii = nib.load(paths[f"{h}.gifti"]).darrays[0].data
            mgz = np.asarray(nib.load(paths[f"{h}.mgz"]).dataobj).reshape(-1)
            np.testing.assert_array_equal(gii, mgz)  # the same numbers in both formats
            want = np.where(np.isnan(holes[h]), fill, holes[h]).astype(np.float32)
            np.testing.assert_array_equal(gii, want)


def test_gifti_labels(tmp_path):
    from neuro_igc.surface import write_gifti_labels

    labels = np.array([0, 1, 1, 2, 0])
    p = write_gifti_labels(labels, {0: "outside", 1: "a", 2: "b"}, tmp_path / "x.label.gii", hemi="lh")
    img = nib.load(p)
    assert img.darrays[0].intent == nib.nifti1.intent_codes["NIFTI_INTENT_LABEL"]
    assert img.labeltable.get_labels_as_dict() == {0: "outside", 1: "a", 2: "b"}
    np.testing.assert_array_equal(img.darrays[0].data, labels)
    with pytest.raises(ValueError, match=r"labels \[2\] have no name"):
        write_gifti_labels(labels, {0: "outside", 1: "a"}, tmp_path / "y.label.gii")
