"""Atlas construction from every supported format, alignment with features, merging, errors."""

from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pytest

from neuro_igc.data import SurfaceSpace, VolumeSpace
from neuro_igc.atlas import NSD_MERGES, Atlas, nsd_table, write_ctab


def _visual_labels(rng, n=642):
    return {h: rng.integers(0, 8, n).astype(np.int32) for h in ("lh", "rh")}


def _write_nsd_labels(root, labels, who="fsaverage", atlas="prf-visualrois", ctab=True):
    d = root / "nsddata" / "freesurfer" / who / "label"
    d.mkdir(parents=True, exist_ok=True)
    for h, v in labels.items():
        nib.save(nib.MGHImage(v.reshape(-1, 1, 1).astype(np.int32), np.eye(4)), d / f"{h}.{atlas}.mgz")
    if ctab:
        write_ctab(d / f"{atlas}.mgz.ctab", nsd_table(atlas))
    return d


def test_from_nsd_surface_and_merge(tmp_path):
    rng = np.random.default_rng(0)
    labels = _visual_labels(rng)
    _write_nsd_labels(tmp_path, labels)
    atlas = Atlas.from_nsd(tmp_path, "prf-visualrois")
    assert atlas.kind == "surface" and atlas.n_vertices == 642 and atlas.density == "fsaverage3"
    assert atlas.roi_names == ["V1v", "V1d", "V2v", "V2d", "V3v", "V3d", "hV4"]
    for h in ("lh", "rh"):
        np.testing.assert_array_equal(atlas.labels[h], labels[h])
    merged = atlas.merge(NSD_MERGES["prf-visualrois"])
    assert merged.roi_names == ["V1", "V2", "V3", "hV4"]
    expect = np.array([0, 1, 1, 2, 2, 3, 3, 4])  # old id -> new id
    for h in ("lh", "rh"):
        np.testing.assert_array_equal(merged.labels[h], expect[labels[h]])
    partial = atlas.merge({"V1": ["V1v", "V1d"]})
    assert partial.roi_names == ["V1", "V2v", "V2d", "V3v", "V3d", "hV4"]
    dropped = atlas.merge({"V1": ["V1v", "V1d"]}, keep_others=False)
    assert dropped.roi_names == ["V1"] and set(np.unique(dropped.labels["lh"])) <= {0, 1}


def test_from_mgz_falls_back_to_the_shipped_table(tmp_path):
    rng = np.random.default_rng(1)
    d = _write_nsd_labels(tmp_path, _visual_labels(rng), who="subj01", ctab=False)
    atlas = Atlas.from_nsd(tmp_path, "prf-visualrois", subject=1)
    assert atlas.table == nsd_table("prf-visualrois") and (d / "lh.prf-visualrois.mgz").exists()


def test_labels_for_aligns_with_a_feature_vector():
    rng = np.random.default_rng(2)
    labels = _visual_labels(rng)
    atlas = Atlas(labels, nsd_table("prf-visualrois"))
    hemi = np.array(["lh"] * 30 + ["rh"] * 20)
    vertex = np.concatenate([rng.choice(642, 30, replace=False), rng.choice(642, 20, replace=False)])
    space = SurfaceSpace("fsaverage3", hemi, vertex)
    got = atlas.labels_for(space)
    np.testing.assert_array_equal(got[:30], labels["lh"][vertex[:30]])
    np.testing.assert_array_equal(got[30:], labels["rh"][vertex[30:]])
    masks = atlas.masks(space, rois=["V1v", "hV4"])
    np.testing.assert_array_equal(masks["hV4"], got == 7)


def test_clear_errors(tmp_path):
    atlas = Atlas({"lh": np.zeros(642, int), "rh": np.ones(642, int)}, {1: "V1"}, name="toy")
    with pytest.raises(ValueError, match="Label density does not match the data: atlas 'toy' has 642 vertices.*10242"):
        atlas.labels_for(SurfaceSpace("fsaverage5", ["lh"], [0]))
    with pytest.raises(ValueError, match="Label density does not match the data: 'vertex' goes up to 5000"):
        atlas.labels_for(SurfaceSpace("fsaverage5", ["lh"], [5000]))
    with pytest.raises(ValueError, match=r"Unknown ROI name\(s\) \['V9'\] in atlas 'toy'; known ROIs are: V1"):
        atlas.merge({"V": ["V1", "V9"]})
    with pytest.raises(FileNotFoundError, match=r"Cannot read atlas file .*lh.prf-visualrois.mgz: no such file"):
        Atlas.from_nsd(tmp_path, "prf-visualrois")
    with pytest.raises(ValueError, match="merged into both"):
        Atlas({"lh": np.arange(3), "rh": np.arange(3)}, {1: "a", 2: "b"}).merge({"x": ["a"], "y": ["a", "b"]})
    big = Atlas({"lh": np.zeros(10242, int), "rh": np.zeros(10242, int)}, {1: "V1"})
    with pytest.raises(ValueError, match=r"atlas.decimate\('fsaverage3'\)"):
        big.labels_for(SurfaceSpace("fsaverage3", ["lh"], [0]))


def test_annot_round_trip_and_split(tmp_path):
    rng = np.random.default_rng(3)
    atlas = Atlas(_visual_labels(rng), nsd_table("prf-visualrois"), name="visual")
    paths = atlas.to_annot(tmp_path)
    back = Atlas.from_annot(paths["lh"], paths["rh"])
    assert back.roi_names == atlas.roi_names
    for h in ("lh", "rh"):
        np.testing.assert_array_equal(back.labels[h], atlas.labels[h])
    split = atlas.split_hemispheres()
    assert split.roi_names[:2] == ["lh.V1v", "lh.V1d"] and "rh.hV4" in split.roi_names
    hemi, vertex = np.array(["lh", "rh"]), np.array([5, 5])
    space = SurfaceSpace("fsaverage3", hemi, vertex)
    names = [split.table[i] for i in split.labels_for(space) if i]
    assert all(n.startswith(h) for n, h in zip(names, hemi[atlas.labels_for(space) > 0]))


def test_from_gifti_labels(tmp_path):
    rng = np.random.default_rng(4)
    paths = {}
    raw = {}
    for h in ("lh", "rh"):
        keys = np.array([0, 10, 20])  # GIFTI keys need not be 1..n
        raw[h] = keys[rng.integers(0, 3, 642)]
        table = nib.gifti.GiftiLabelTable()
        for k, name in zip(keys, ["???", "FFA", "PPA"]):
            lab = nib.gifti.GiftiLabel(key=int(k), red=0.5, green=0.2, blue=0.1, alpha=1.0)
            lab.label = name
            table.labels.append(lab)
        img = nib.gifti.GiftiImage(labeltable=table)
        img.add_gifti_data_array(nib.gifti.GiftiDataArray(raw[h].astype(np.int32), intent="NIFTI_INTENT_LABEL"))
        paths[h] = tmp_path / f"{h}.rois.label.gii"
        nib.save(img, paths[h])
    atlas = Atlas.from_gifti(paths["lh"], paths["rh"])
    assert atlas.roi_names == ["FFA", "PPA"]
    for h in ("lh", "rh"):
        np.testing.assert_array_equal(atlas.labels[h], (raw[h] // 10))


def test_from_nifti_volume_with_minus_one_outside(tmp_path):
    rng = np.random.default_rng(5)
    vol = rng.integers(-1, 4, (6, 7, 8)).astype(np.int16)
    affine = np.diag([1.8, 1.8, 1.8, 1.0])
    path = tmp_path / "nsddata" / "ppdata" / "subj01" / "func1pt8mm" / "roi" / "floc-places.nii.gz"
    path.parent.mkdir(parents=True)
    nib.save(nib.Nifti1Image(vol, affine), path)
    atlas = Atlas.from_nsd(tmp_path, "floc-places", subject=1, space="func1pt8mm")
    assert atlas.kind == "volume" and atlas.roi_names == ["OPA", "PPA", "RSC"]
    np.testing.assert_allclose(atlas.affine, affine)
    ijk = np.argwhere(np.ones(vol.shape, bool))[::7]
    np.testing.assert_array_equal(atlas.labels_for(VolumeSpace(ijk, affine, vol.shape)), np.clip(vol[tuple(ijk.T)], 0, None))
    with pytest.raises(ValueError, match="outside the atlas volume"):
        atlas.labels_for(VolumeSpace([[6, 0, 0]], affine, (7, 7, 8)))


def test_from_roi_labels_duck_typed():
    roi = SimpleNamespace(atlas="streams", labels=np.array([1, 2, 0, 3]), table=nsd_table("streams"),
                          feature_space=SurfaceSpace("fsaverage3", ["lh", "lh", "rh", "rh"], [0, 9, 3, 4]))
    atlas = Atlas.from_roi_labels(roi)
    assert atlas.n_vertices == 642 and atlas.name == "streams"
    np.testing.assert_array_equal(atlas.labels_for(roi.feature_space), roi.labels)


def test_synthetic_nsd_folder_visual_atlas(tmp_path):
    synthetic = pytest.importorskip("neuro_igc.data.synthetic")
    truth = synthetic.make_nsd_like(tmp_path, subjects=1, sessions=1, trials=8, image_size=64,
                                    volume_spaces=(), progress=False)
    atlas = Atlas.from_nsd(tmp_path, "prf-visualrois", subject=1, density="fsaverage5")
    assert atlas.density == "fsaverage5" and "white-to-fsaverage" in atlas.source
    assert atlas.roi_names == list(nsd_table("prf-visualrois").values())
    a = truth.arrays
    got = atlas.labels_for(SurfaceSpace("fsaverage5", a["subj01_prf_hemi"].astype(str), a["subj01_prf_vertex"].astype(int)))
    np.testing.assert_array_equal(got, a["subj01_prf_roi"])
