"""Native surfaces, NSD's 1-based transforms, subject atlases on fsaverage, native-surface betas.

The folder is built by hand on top of a small synthetic one, following the real layout: native
vertex counts that differ per hemisphere, transforms with 163,842 fsaverage entries, subject atlases
only on the native surface, nothing subject-drawn under ``freesurfer/fsaverage/label``.
"""

from __future__ import annotations

import logging

import h5py
import numpy as np
import pytest

from neuro_igc.data import NSD, LookupTable, SurfaceSpace, make_nsd_like
from neuro_igc.data import _layout as L
from neuro_igc.data._io import write_ctab, write_mgh

FS = L.N_VERTICES["fsaverage"]
V5 = L.N_VERTICES["fsaverage5"]
NATIVE = {"lh": 300, "rh": 350}
VERSION = L.BETA_VERSIONS[0]
TRIALS = 6


def w2f(h):
    """1-based native vertex of each fsaverage vertex (what the file holds)."""
    n = NATIVE[h]
    return (np.arange(FS) * (7 if h == "lh" else 11) + 3) % n + 1


def f2w(h):
    """1-based fsaverage vertex of each native vertex."""
    return (np.arange(NATIVE[h]) * 13 + (0 if h == "lh" else 5)) % FS + 1


def native_labels(h):
    v = np.arange(NATIVE[h])
    return (v % 8) if h == "lh" else ((3 * v + 1) % 8)


def native_code(h, ses):
    """int16 native betas (n_trials, V): a code per (hemisphere, session, trial, vertex)."""
    t = np.arange(TRIALS)[:, None]
    v = np.arange(NATIVE[h])[None]
    return ((1 if h == "lh" else -1) * (v + 400 * t + 3000 * ses)).astype(np.int16)


@pytest.fixture(scope="module")
def real_layout(tmp_path_factory):
    root = tmp_path_factory.mktemp("nsd_real_layout")
    make_nsd_like(root, subjects=1, sessions=2, trials=TRIALS, image_size=16, volume_spaces=(), progress=False)
    for h in ("lh", "rh"):
        write_mgh(w2f(h).astype(np.float32), root / L.transform_path(1, h, "white-to-fsaverage"))  # real files: float
        write_mgh(f2w(h).astype(np.int32), root / L.transform_path(1, h, "fsaverage-to-white"))
        write_mgh(native_labels(h).astype(np.int32), root / L.surface_label_path(1, h, "prf-visualrois"))
        (root / L.surface_label_path(None, h, "prf-visualrois")).unlink(missing_ok=True)  # not in NSD
        for ses in (1, 2):
            path = root / L.native_betas_path(1, h, ses, VERSION)
            path.parent.mkdir(parents=True, exist_ok=True)
            with h5py.File(path, "w") as f:
                f.create_dataset("betas", data=native_code(h, ses), chunks=(TRIALS, 1))
    write_ctab(root / L.ctab_path(1, "prf-visualrois"), L.LABEL_TABLES["prf-visualrois"])
    return root


@pytest.fixture(scope="module")
def nsd(real_layout):
    return NSD(real_layout, progress=False)


def test_transforms_are_read_one_based(nsd):
    for h in ("lh", "rh"):
        np.testing.assert_array_equal(nsd.transform(1, h), w2f(h) - 1)
        np.testing.assert_array_equal(nsd.transform(1, h, "fsaverage-to-white"), f2w(h) - 1)
        assert nsd.native_vertices(1, h) == NATIVE[h]


def test_to_fsaverage_and_back_take_the_mapped_vertex(nsd):
    rng = np.random.default_rng(0)
    for h in ("lh", "rh"):
        native = rng.normal(size=(2, NATIVE[h]))
        fs = nsd.to_fsaverage(native, 1, h)
        assert fs.shape == (2, FS)
        f = np.array([0, 1, 2, 12345, FS - 1])
        np.testing.assert_array_equal(fs[:, f], native[:, w2f(h)[f] - 1])  # fsavg = native[map - 1]
        np.testing.assert_array_equal(nsd.to_fsaverage(native, 1, h, density="fsaverage5"), fs[:, :V5])
        back = nsd.to_native(fs[0], 1, h)
        np.testing.assert_array_equal(back, fs[0, f2w(h) - 1])
    both = nsd.to_fsaverage({h: np.arange(NATIVE[h], dtype=float) for h in ("lh", "rh")}, 1)
    np.testing.assert_array_equal(both["rh"], w2f("rh") - 1.0)
    with pytest.raises(ValueError, match="subj01 lh has 300 native vertices; got \\(350,\\)"):
        nsd.to_fsaverage(np.zeros(350), 1, "lh")  # rh values given as lh
    with pytest.raises(ValueError, match="to_native needs full fsaverage hemispheres.*fsaverage5 values"):
        nsd.to_native(np.zeros(V5), 1, "lh")


def test_subject_atlas_on_fsaverage_goes_through_the_transform(nsd):
    roi = nsd.roi("prf-visualrois", "fsaverage", subject=1)
    assert roi.density == "fsaverage" and len(roi) == 2 * FS
    assert "white-to-fsaverage" in roi.source and "subj01/label" in roi.source
    for h in ("lh", "rh"):
        on = roi.hemi == h
        np.testing.assert_array_equal(roi.labels[on], native_labels(h)[w2f(h) - 1])
    roi5 = nsd.roi("prf-visualrois", subject=1, density="fsaverage5")
    np.testing.assert_array_equal(roi5.labels[:V5], roi.labels[:V5])  # nested prefix
    np.testing.assert_array_equal(roi5.labels[V5:], roi.labels[FS:FS + V5])
    assert isinstance(roi5.table, LookupTable) and roi5.table[7] == "hV4"
    with pytest.raises(ValueError, match="'prf-visualrois' is a subject atlas.*pass subject=1..8.*transforms"):
        nsd.roi("prf-visualrois", "fsaverage")
    group = nsd.roi("nsdgeneral", "fsaverage", subject=1)
    assert "group atlas" in group.source and "fsaverage/label" in group.source


def test_native_labels_and_group_atlas_on_the_native_surface(nsd, real_layout):
    roi = nsd.roi("prf-visualrois", "nativesurface", subject=1)
    assert roi.feature_space.is_native and roi.feature_space.n_vertices == NATIVE
    np.testing.assert_array_equal(roi.labels, np.r_[native_labels("lh"), native_labels("rh")])


def test_native_surface_betas(nsd):
    b = nsd.betas(1, space="nativesurface")
    assert b.space == "nativesurface" and b.density == "native" and b.n_features == 650
    assert list(b.hemi[:300]) == ["lh"] * 300 and list(b.hemi[300:]) == ["rh"] * 350
    expected = np.concatenate([np.concatenate([native_code("lh", s), native_code("rh", s)], axis=1)
                               for s in (1, 2)], axis=0)
    np.testing.assert_array_equal(b.data, expected.astype(np.float32) / np.float32(300))
    v1 = nsd.betas(1, sessions=[2], space="nativesurface", roi=("prf-visualrois", ["V1v", "V1d"]))
    labels = np.r_[native_labels("lh"), native_labels("rh")]
    keep = np.isin(labels, [1, 2])
    np.testing.assert_array_equal(v1.data, b.data[b.session == 2][:, keep])
    # the selection travels with the data: back on full hemispheres, then to fsaverage
    full = v1.feature_space.to_hemispheres(v1.data[0])
    assert full["rh"].shape == (350,) and np.isnan(full["lh"][0]) and full["lh"][1] == v1.data[0, 0]


def test_fsaverage_betas_selected_by_a_native_subject_atlas(nsd):
    b = nsd.betas(1, sessions=1, roi=("prf-visualrois", "hV4"), nan="keep")
    roi = nsd.roi("prf-visualrois", subject=1, density="fsaverage5")
    expect = roi.feature_space.select(roi.labels == 7)
    assert b.feature_space == expect and b.n_features > 0
    assert set(nsd.roi("prf-visualrois", like=b, subject=1).labels.tolist()) == {7}


def test_bad_transforms_raise(tmp_path, real_layout):
    import shutil

    root = tmp_path / "bad"
    shutil.copytree(real_layout, root)
    write_mgh((w2f("lh") - 1).astype(np.float32), root / L.transform_path(1, "lh", "white-to-fsaverage"))
    with pytest.raises(ValueError, match=r"1-based \(smallest index 1\); got 0.*shift every vertex by one"):
        NSD(root).transform(1, "lh")
    write_mgh(w2f("rh")[:V5].astype(np.float32), root / L.transform_path(1, "rh", "white-to-fsaverage"))
    with pytest.raises(ValueError, match="one entry per fsaverage vertex \\(163842\\); got 10242"):
        NSD(root).transform(1, "rh")
    write_mgh(native_labels("lh")[:-1].astype(np.int32), root / L.surface_label_path(1, "lh", "prf-visualrois"))
    write_mgh(w2f("lh").astype(np.float32), root / L.transform_path(1, "lh", "white-to-fsaverage"))
    write_mgh(w2f("rh").astype(np.float32), root / L.transform_path(1, "rh", "white-to-fsaverage"))
    with pytest.raises(ValueError, match="subj01 lh has 300 native vertices.*the label file has 299"):
        NSD(root).roi("prf-visualrois", subject=1)


def test_surface_space_type():
    sp = SurfaceSpace.from_indices({"lh": [2, 5], "rh": [0]}, "fsaverage5")
    assert sp.n_features == 3 and sp.bids_entities("lh") == {"hemi": "L", "space": "fsaverage", "den": "10k"}
    with pytest.raises(ValueError, match="A native surface space needs 'subject' and 'n_vertices'"):
        SurfaceSpace("native", ["lh"], [0])
    with pytest.raises(ValueError, match="outside 0..641"):
        SurfaceSpace("fsaverage3", ["lh"], [642])
    with pytest.raises(ValueError, match="Invalid value for 'density'"):
        SurfaceSpace("fsaverage7", ["lh"], [0])


def test_nan_vertices_dropped_by_default_with_a_logged_count(tmp_path, caplog):
    root = tmp_path / "nan"
    make_nsd_like(root, subjects=1, sessions=1, trials=TRIALS, image_size=16, volume_spaces=(), progress=False)
    path = root / L.surface_betas_path(1, "lh", 1, VERSION)
    import nibabel as nib

    data = np.asarray(nib.load(str(path)).dataobj)[:, 0, 0, :].T.copy()  # (T, V)
    base = np.isnan(data).all(0)  # the synthetic folder's own vertices outside coverage
    new = np.flatnonzero(~base)[[4, 9]]
    data[:, new] = np.nan  # outside coverage: NaN in every trial
    write_mgh(data, path)
    nsd = NSD(root, progress=False)
    kept = nsd.betas(1, nan="keep")
    n_nan = int(np.isnan(kept.data).all(0).sum())
    assert int(np.isnan(kept.data[:, kept.hemi == "lh"]).all(0).sum()) == base.sum() + 2
    with caplog.at_level(logging.INFO, logger="neuro_igc.data._nsd"):
        b = nsd.betas(1)
    assert b.n_features == 2 * V5 - n_nan and b.info["nan_dropped"] == n_nan
    assert not np.isin(b.vertex[b.hemi == "lh"], new).any() and not np.isnan(b.data).any()
    assert f"dropped {n_nan} of 20484 features" in caplog.text
    assert kept.n_features == 2 * V5 and np.isnan(kept.data[:, new]).all()
    # ncsnr aligned with the kept features
    full_nc = nsd.ncsnr(1)
    np.testing.assert_array_equal(nsd.ncsnr(1, like=b), full_nc[~np.isnan(kept.data).all(0)])
