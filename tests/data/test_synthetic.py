"""The synthetic NSD folder: NSD's real layout (checked with nibabel, h5py and scipy directly, not
through the loaders), determinism, interrupted writes, and the planted truth as documented."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pytest
from scipy.io import loadmat
from scipy.spatial import cKDTree

from neuro_igc.data import LABEL_TABLES, load_truth, luminance_contrast, make_nsd_like, spectral_slope
from neuro_igc.data import _layout as L
from neuro_igc.data._cli import main as synth_main
from neuro_igc.data._images import to_luminance
from neuro_igc.data._io import read_ctab
from neuro_igc.data._synth_cortex import pial_coordinates, prf_weights
from neuro_igc.data._synth_images import contrast_energy
from neuro_igc.data.synthetic import PARTIAL_MARKER, TRUTH_JSON, TRUTH_NPZ

SMALL = dict(subjects=1, sessions=1, trials=8, image_size=32, volume_shape=(8, 8, 8), progress=False)
HEMIS = ("lh", "rh")
V5, V7 = 10242, 163842
VERSION = L.BETA_VERSIONS[0]
SUBJECT_ATLASES = ("prf-visualrois", "prf-eccrois", "floc-faces", "floc-bodies", "floc-places", "floc-words")
GROUP_ATLASES = ("nsdgeneral", "streams")


def _surf(root, rel) -> np.ndarray:
    """An NSD surface file as (n_vertices,) or (n_vertices, n_frames), read with nibabel."""
    img = nib.load(str(Path(root) / rel))
    assert img.shape[1:3] == (1, 1), rel
    data = np.asarray(img.dataobj)
    return data.reshape(img.shape[0], -1).squeeze(1) if data.ndim == 3 else data.reshape(img.shape[0], -1)


def _transform(root, s, h, which) -> np.ndarray:
    return _surf(root, L.transform_path(s, h, which))


def _native_betas(root, s, h, ses) -> np.ndarray:
    with h5py.File(Path(root) / L.native_betas_path(s, h, ses, VERSION), "r") as f:
        return f["betas"][()]


def _image_ids(root, s, ses, n_trials) -> np.ndarray:
    """0-based 73k ids of a session's first trials, from nsd_expdesign.mat as NSD_FACTS.md says."""
    mat = loadmat(str(Path(root) / L.expdesign_path()))
    t = (ses - 1) * L.TRIALS_PER_SESSION + np.arange(n_trials)
    mo = mat["masterordering"][0].astype(np.int64)
    return mat["subjectim"][s - 1, mo[t] - 1].astype(np.int64) - 1


def _fsaverage_labels(root, s, h, atlas, n=V5) -> np.ndarray:
    """A subject atlas taken to fsaverage through the 1-based white-to-fsaverage map."""
    native = _surf(root, L.surface_label_path(s, h, atlas))
    return native[_transform(root, s, h, "white-to-fsaverage")[:n].astype(np.int64) - 1]


# ---------------------------------------------------------------------------------------------
# layout


def test_files_shapes_dtypes_and_chunks(tiny):
    root, truth = tiny
    counts = set()
    for s in (1, 2):
        for h in HEMIS:
            img = nib.load(str(root / L.surface_betas_path(s, h, 1, VERSION)))
            assert img.shape == (V5, 1, 1, 40) and img.get_data_dtype() == np.dtype(">f4")
            v = truth.meta["native_vertices"][L.subject_name(s)][h]
            counts.add(v)
            with h5py.File(root / L.native_betas_path(s, h, 2, VERSION), "r") as f:
                d = f["betas"]
                assert d.shape == (40, v) and d.dtype == np.int16 and d.chunks == (40, 1)
        nii = nib.load(str(root / L.volume_betas_path(s, "func1pt8mm", 2, VERSION, ".nii.gz")))
        assert nii.shape == (10, 12, 10, 40) and nii.get_data_dtype() == np.int16
        with h5py.File(root / L.volume_betas_path(s, "func1pt8mm", 2, VERSION, ".hdf5"), "r") as f:
            d = f["betas"]
            assert d.shape == (40, 10, 12, 10) and d.dtype == np.int16 and d.chunks == (40, 1, 1, 1)
            np.testing.assert_array_equal(d[()].transpose(3, 2, 1, 0), np.asarray(nii.dataobj))
        assert nib.load(str(root / L.volume_betas_path(s, "func1mm", 2, VERSION, ".nii.gz"))).shape == (18, 22, 18, 40)
    assert len(counts) == 4, "native vertex counts differ per subject and hemisphere"
    for atlas in SUBJECT_ATLASES + GROUP_ATLASES:
        assert read_ctab(root / L.ctab_path(1, atlas)) == LABEL_TABLES[atlas]
    for atlas in GROUP_ATLASES:
        assert read_ctab(root / L.ctab_path(None, atlas)) == LABEL_TABLES[atlas]
    meta = json.loads((root / TRUTH_JSON).read_text())
    assert meta["format"] == "neuro_igc.synthetic_truth" and meta["statistics"] == truth.statistics
    assert (root / TRUTH_NPZ).is_file()


def test_native_surfaces_and_one_based_transforms(tiny):
    """Both maps 1-based, in range, nearest neighbours on the sphere, and consistent with each other."""
    from nilearn.datasets import load_fsaverage

    root, truth = tiny
    fs5 = load_fsaverage("fsaverage5")["sphere"]
    for s in (1, 2):
        for h in HEMIS:
            v = truth.meta["native_vertices"][L.subject_name(s)][h]
            white, faces = nib.freesurfer.read_geometry(str(root / L.native_surface_path(s, h, "white")))
            sphere, faces2 = nib.freesurfer.read_geometry(str(root / L.native_surface_path(s, h, "sphere.reg")))
            assert white.shape == sphere.shape == (v, 3) and np.array_equal(faces, faces2)
            assert faces.shape == (2 * v - 4, 3)  # a closed triangulated sphere
            w2f = _transform(root, s, h, "white-to-fsaverage")
            f2w = _transform(root, s, h, "fsaverage-to-white")
            assert w2f.shape == (V7,) and f2w.shape == (v,)
            assert np.all(w2f == np.rint(w2f)) and np.all(f2w == np.rint(f2w))
            w2f, f2w = w2f.astype(np.int64), f2w.astype(np.int64)
            assert w2f.min() >= 1 and w2f.max() <= v and f2w.min() >= 1 and f2w.max() <= V7
            assert np.unique(w2f).size > 0.5 * v  # uses most native vertices
            # white-to-fsaverage: the nearest native vertex of each fsaverage5 vertex (nilearn's sphere)
            unit = sphere / np.linalg.norm(sphere, axis=1, keepdims=True)
            fs_unit = np.asarray(fs5.parts["left" if h == "lh" else "right"].coordinates, dtype=np.float64)
            fs_unit /= np.linalg.norm(fs_unit, axis=1, keepdims=True)
            _, nearest = cKDTree(unit).query(fs_unit)
            np.testing.assert_array_equal(w2f[:V5] - 1, nearest)
            # the two maps agree: native -> nearest fsaverage -> nearest native comes back
            back = w2f[f2w - 1] - 1
            assert np.mean(back == np.arange(v)) > 0.95
            # fsaverage-to-white of fsaverage5 targets: nearest among the fsaverage5 vertices when it is one
            in5 = f2w <= V5
            dist = np.linalg.norm(fs_unit[f2w[in5] - 1] - unit[in5], axis=1)
            assert np.all(dist < 0.01)
            assert np.array_equal(truth.fsaverage_parent(s, h), w2f[:V5] - 1)


def test_subject_atlases_only_on_the_native_surface_and_in_the_volume(tiny):
    root, truth = tiny
    fs_dir = root / L.label_dir(None)
    assert sorted(p.name for p in fs_dir.iterdir()) == sorted(
        [f"{h}.{a}.mgz" for h in HEMIS for a in GROUP_ATLASES] + [f"{a}.mgz.ctab" for a in GROUP_ATLASES])
    for h in HEMIS:
        for a in GROUP_ATLASES:
            lab = _surf(root, L.surface_label_path(None, h, a))
            assert lab.shape == (V7,) and lab.max() == max(LABEL_TABLES[a])
    for s in (1, 2):
        for h in HEMIS:
            v = truth.meta["native_vertices"][L.subject_name(s)][h]
            for a in SUBJECT_ATLASES + GROUP_ATLASES:
                lab = _surf(root, L.surface_label_path(s, h, a))
                assert lab.shape == (v,) and set(np.unique(lab)) <= {0, *LABEL_TABLES[a]}, (s, h, a)
                assert lab.max() > 0
            assert _surf(root, L.label_dir(s) / f"{h}.prfangle.mgz").shape == (v,)
        # volume ROIs: each voxel carrying a native vertex has that vertex's label
        name = L.subject_name(s)
        ijk = truth.arrays[f"{name}_func1pt8mm_ijk"]
        vh, vv = truth.arrays[f"{name}_func1pt8mm_hemi"], truth.arrays[f"{name}_func1pt8mm_native_vertex"]
        brain = np.asarray(nib.load(str(root / L.brainmask_path(s, "func1pt8mm"))).dataobj) > 0
        carrying = np.zeros(brain.shape, dtype=bool)
        carrying[tuple(ijk.T)] = True
        for a in SUBJECT_ATLASES:
            native = {h: _surf(root, L.surface_label_path(s, h, a)) for h in HEMIS}
            expected = np.array([native[h][v] for h, v in zip(vh, vv)])
            for hemi in (None, "lh", "rh"):
                vol = np.asarray(nib.load(str(root / L.volume_roi_path(s, "func1pt8mm", a, hemi))).dataobj)
                assert vol.shape == brain.shape and np.all(vol[~brain] == -1) and np.all(vol[brain & ~carrying] == 0)
                want = expected if hemi is None else np.where(vh == hemi, expected, -1)
                np.testing.assert_array_equal(vol[tuple(ijk.T)], want, err_msg=f"{s} {a} {hemi}")
            if a == "prf-visualrois":
                assert vol.max() == 7


def test_native_atlases_disjoint_and_nested(tiny):
    root, _ = tiny
    for h in HEMIS:
        lab = {a: _surf(root, L.surface_label_path(1, h, a)) for a in SUBJECT_ATLASES + GROUP_ATLASES}
        vis = lab["prf-visualrois"] > 0
        floc = sum((lab[a] > 0).astype(int) for a in SUBJECT_ATLASES if a.startswith("floc"))
        assert floc.max() == 1 and not np.any(vis & (floc > 0))
        general = lab["nsdgeneral"] > 0
        assert np.all(general[vis]) and np.all(general[floc > 0])
        assert np.all(lab["streams"][vis] == 1)
        assert np.array_equal(lab["prf-eccrois"] > 0, vis)


def test_nan_vertices_outside_coverage(tiny):
    root, truth = tiny
    for s in (1, 2):
        for h in HEMIS:
            parent = _transform(root, s, h, "white-to-fsaverage")[:V5].astype(np.int64) - 1
            covered = truth.arrays[f"{L.subject_name(s)}_{h}_covered"]
            general = _fsaverage_labels(root, s, h, "nsdgeneral") > 0
            for ses in (1, 2):
                b = _surf(root, L.surface_betas_path(s, h, ses, VERSION))
                nan = np.isnan(b)
                assert np.array_equal(nan.any(1), nan.all(1)), "NaN vertices are NaN for every trial"
                assert np.array_equal(nan.all(1), ~covered[parent])
                assert nan.all(1).sum() == truth.meta["nan_vertices"][L.subject_name(s)][h] > 100
                assert not np.any(nan.all(1) & general)
                assert np.all(_native_betas(root, s, h, ses)[:, ~covered] == 0)
            nc = _surf(root, L.ncsnr_surface_path(s, h, VERSION))
            assert np.array_equal(np.isnan(nc), ~covered[parent])


def test_fsaverage_betas_are_the_native_betas_through_the_transform(tiny):
    root, _ = tiny
    for h in HEMIS:
        w2f = _transform(root, 2, h, "white-to-fsaverage")[:V5].astype(np.int64)
        fs = _surf(root, L.surface_betas_path(2, h, 1, VERSION))
        native = _native_betas(root, 2, h, 1) / 300.0
        ok = ~np.isnan(fs[:, 0])
        np.testing.assert_allclose(fs[ok].T, native[:, w2f[ok] - 1], atol=0.5 / 300 + 1e-6)
        # an index off by one would take a far-away vertex
        assert np.median(np.abs(fs[ok].T - native[:, np.clip(w2f[ok], 0, native.shape[1] - 1)])) > 0.5


def test_valid_session_masks_match_the_zeros(tiny):
    root, truth = tiny
    for space in ("func1pt8mm", "func1mm"):
        brain = np.asarray(nib.load(str(root / L.brainmask_path(1, space))).dataobj) > 0
        masks = []
        for ses in (1, 2):
            valid = nib.load(str(root / L.valid_session_path(1, space, ses)))
            m = np.asarray(valid.dataobj)
            assert m.shape == brain.shape and set(np.unique(m)) <= {0, 1}
            invalid = brain & (m == 0)
            assert invalid.sum() == truth.meta["invalid_voxels"]["subj01"][space][ses - 1] > 0
            data = np.asarray(nib.load(str(root / L.volume_betas_path(1, space, ses, VERSION, ".nii.gz"))).dataobj)
            assert np.all(data[invalid] == 0)
            assert np.all(np.any(data[brain & (m == 1)] != 0, axis=1))
            masks.append(m)
        assert not np.array_equal(masks[0], masks[1])


def test_full_density_keeps_the_fsaverage5_prefix(tmp_path):
    args = dict(subjects=1, sessions=1, trials=3, image_size=32, volume_spaces=(), seed=4, progress=False)
    t5 = make_nsd_like(tmp_path / "fs5", **args)
    t7 = make_nsd_like(tmp_path / "fs7", density="fsaverage", **args)
    for h in HEMIS:
        b5 = _surf(t5.root, L.surface_betas_path(1, h, 1, VERSION))
        b7 = _surf(t7.root, L.surface_betas_path(1, h, 1, VERSION))
        assert b5.shape == (V5, 3) and b7.shape == (V7, 3)
        np.testing.assert_array_equal(b7[:V5], b5)
        nan = np.isnan(b7[:, 0])
        assert np.array_equal(nan, np.isnan(b7).any(1)) and nan[V5:].any()
        for which in ("white-to-fsaverage", "fsaverage-to-white"):
            np.testing.assert_array_equal(_transform(t5.root, 1, h, which), _transform(t7.root, 1, h, which))
        native = _native_betas(t7.root, 1, h, 1) / 300.0
        w2f = _transform(t7.root, 1, h, "white-to-fsaverage").astype(np.int64)
        np.testing.assert_allclose(b7[~nan].T, native[:, w2f[~nan] - 1], atol=0.5 / 300 + 1e-6)
    p5, p7 = t5.prf(1), t7.prf(1)
    assert len(p7) > 10 * len(p5)
    prefix = p7[p7.vertex < V5].reset_index(drop=True)
    np.testing.assert_array_equal(prefix[["vertex", "native_vertex", "x"]].to_numpy(), p5[["vertex", "native_vertex", "x"]].to_numpy())
    assert t7.meta["n_vertices"] == V7 and t7.fsaverage_parent(1, "lh").shape == (V7,)


# ---------------------------------------------------------------------------------------------
# the planted truth


def test_design_counts(tiny):
    root, truth = tiny
    mat = loadmat(str(root / L.expdesign_path()))
    assert np.all(np.bincount(mat["masterordering"][0].astype(np.int64) - 1, minlength=10000) == 3)
    assert np.unique(mat["subjectim"]).size == 73000  # 1000 shared + 8 x 9000 distinct
    ids = np.concatenate([_image_ids(root, 1, ses, 40) for ses in (1, 2)])
    shared = np.isin(ids, mat["sharedix"][0] - 1)
    counts = np.unique(ids[shared], return_counts=True)[1]
    assert np.all(counts == 3) and counts.size == truth.meta["n_shared_used"] == 8
    assert np.unique(ids[~shared]).size == (~shared).sum()  # non-shared shown once


def test_determinism(tmp_path):
    a = make_nsd_like(tmp_path / "a", seed=5, **SMALL)
    b = make_nsd_like(tmp_path / "b", seed=5, **SMALL)
    c = make_nsd_like(tmp_path / "c", seed=6, **{**SMALL, "volume_spaces": ()})
    assert a.arrays.keys() == b.arrays.keys()
    for k in a.arrays:
        np.testing.assert_array_equal(a.arrays[k], b.arrays[k], err_msg=k)
    rel = [L.surface_betas_path(1, "lh", 1, VERSION), L.native_betas_path(1, "rh", 1, VERSION),
           L.volume_betas_path(1, "func1pt8mm", 1, VERSION, ".nii.gz"), L.transform_path(1, "lh", "white-to-fsaverage"),
           L.stimuli_path(), L.valid_session_path(1, "func1pt8mm", 1)]
    for r in rel:
        assert (a.root / r).read_bytes() == (b.root / r).read_bytes(), r
    np.testing.assert_array_equal(_native_betas(a.root, 1, "lh", 1), _native_betas(b.root, 1, "lh", 1))
    assert not np.array_equal(_surf(a.root, rel[0]), _surf(c.root, rel[0]), equal_nan=True)
    assert load_truth(a.root).meta == a.meta


def test_retinotopy_is_plausible(tiny):
    _, truth = tiny
    for space in ("fsaverage", "nativesurface"):
        p = truth.prf(1, space=space)
        assert p.roi_name.value_counts().index[0] in ("V1v", "V1d")
        half = 8.4 / 2
        assert np.all(np.abs(p.x) < half) and np.all(np.abs(p.y) < half)
        assert np.all(p.x[p.hemi == "lh"] > 0) and np.all(p.x[p.hemi == "rh"] < 0)  # contralateral
        assert np.all(p.y[p.roi_name.isin(["V1d", "V2d", "V3d"])] <= 0)  # dorsal = lower field
        assert np.all(p.y[p.roi_name.isin(["V1v", "V2v", "V3v"])] >= 0)
        np.testing.assert_allclose(p.angle, np.mod(np.degrees(np.arctan2(p.y, p.x)), 360), atol=1e-9)
        np.testing.assert_allclose(p.eccentricity, np.hypot(p.x, p.y), atol=1e-9)
        v1 = p.roi <= 2
        assert np.corrcoef(p.eccentricity[v1], p.sigma[v1])[0, 1] > 0.8
        assert p.sigma[p.roi == 7].median() > p.sigma[v1].median()
    # V1's foveal end sits at the occipital pole (most posterior pial y of fsaverage5)
    p = truth.prf(1)
    for h in ("lh", "rh"):
        y = pial_coordinates(h)[:, 1]
        fovea = p[(p.hemi == h) & (p.roi <= 2) & (p.eccentricity < 0.5)].vertex
        assert np.median(y[fovea]) < np.quantile(y, 0.05)


def test_fsaverage_truth_is_the_native_truth_through_the_transform(tiny):
    root, truth = tiny
    native = truth.prf(2, space="nativesurface").set_index(["hemi", "vertex"])
    fs = truth.prf(2)
    for h in HEMIS:
        rows = fs[fs.hemi == h]
        w2f = _transform(root, 2, h, "white-to-fsaverage").astype(np.int64)
        np.testing.assert_array_equal(rows.native_vertex, w2f[rows.vertex] - 1)
        nat = native.loc[[(h, v) for v in rows.native_vertex]]
        np.testing.assert_array_equal(rows.x, nat.x)
        np.testing.assert_array_equal(rows.roi, nat.roi)
        # the subject's visual ROIs mapped to fsaverage are exactly the planted visual vertices
        vis = _fsaverage_labels(root, 2, h, "prf-visualrois")
        np.testing.assert_array_equal(np.flatnonzero(vis > 0), rows.vertex)
        np.testing.assert_array_equal(vis[rows.vertex], rows.roi)


def test_planted_response_model_as_documented(tiny):
    """Native betas minus the documented signal leave noise with the planted SD."""
    root, truth = tiny
    meta, a = truth.meta, truth.arrays
    p = truth.prf(1, space="nativesurface")
    ids = np.concatenate([_image_ids(root, 1, ses, 40) for ses in (1, 2)])
    with h5py.File(root / L.stimuli_path(), "r") as f:
        shown = np.unique(ids)
        imgs = f["imgBrick"][shown]
    ce = contrast_energy(to_luminance(imgs), size=meta["drive_size"])
    drive = np.sqrt(ce @ prf_weights(p.x, p.y, p.sigma, meta["drive_size"]).T)
    np.testing.assert_allclose(drive.mean(0), p.drive_mean, rtol=1e-4)
    signal = (drive - p.drive_mean.values) / p.drive_sd.values * p.gain.values
    signal = signal[np.searchsorted(shown, ids)]
    for h in HEMIS:
        on = (p.hemi == h).to_numpy()
        v = p.vertex[on].to_numpy()
        data = np.concatenate([_native_betas(root, 1, h, ses)[:, v] for ses in (1, 2)]) / 300.0
        offset = np.repeat(a[f"subj01_{h}_session_offset"][:, v], 40, axis=0)
        resid = data - signal[:, on] - offset
        ratio = resid.std(0) / a[f"subj01_{h}_noise_sd"][v]
        assert 0.95 < np.median(ratio) < 1.05
        assert np.abs(resid.mean(0)).mean() < 0.5
        r = [np.corrcoef(data[:, i], signal[:, on][:, i])[0, 1] for i in range(v.size)]
        assert np.median(r) > 0.5


def test_planted_statistics(tiny):
    root, truth = tiny
    stats = truth.image_stats()
    with h5py.File(root / L.stimuli_path(), "r") as f:
        imgs = to_luminance(f["imgBrick"][stats.index.to_numpy()])
    np.testing.assert_allclose(stats.luminance_contrast, luminance_contrast(imgs), rtol=1e-6)
    np.testing.assert_allclose(stats.spectral_slope, spectral_slope(imgs), rtol=1e-6)
    ids = np.concatenate([_image_ids(root, 2, ses, 40) for ses in (1, 2)])
    for name, where in truth.statistics.items():
        index = {v: k for k, v in LABEL_TABLES[where["atlas"]].items()}[where["roi"]]
        sv = truth.statistic_vertices(name, 2)
        cols = []
        for h in HEMIS:
            fs_roi = np.flatnonzero(_fsaverage_labels(root, 2, h, where["atlas"]) == index)
            np.testing.assert_array_equal(fs_roi, sv.vertex[sv.hemi == h])
            b = np.concatenate([_surf(root, L.surface_betas_path(2, h, ses, VERSION)) for ses in (1, 2)], axis=1)
            cols.append(b[fs_roi].T)
        data = np.concatenate(cols, axis=1)
        y = stats.loc[ids, name].to_numpy()
        r = np.median([np.corrcoef(y, data[:, i])[0, 1] for i in range(data.shape[1])])
        assert r > 0.4, (name, r)
        other = "spectral_slope" if name == "luminance_contrast" else "luminance_contrast"
        r_other = np.median([abs(np.corrcoef(stats.loc[ids, other], data[:, i])[0, 1]) for i in range(data.shape[1])])
        assert r_other < r / 2
        native = truth.statistic_vertices(name, 2, space="nativesurface")
        assert set(zip(sv.hemi, sv.native_vertex)) <= set(zip(native.hemi, native.vertex))


# ---------------------------------------------------------------------------------------------
# arguments, command line, interrupted writes


def test_make_nsd_like_bad_input(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(FileExistsError, match="not empty"):
        make_nsd_like(tmp_path / "full", **SMALL)
    with pytest.raises(FileExistsError, match="not a synthetic NSD folder"):
        make_nsd_like(tmp_path / "full", overwrite=True, **SMALL)
    (tmp_path / ".b.synth-partial").mkdir()
    with pytest.raises(FileExistsError, match="was not left by an interrupted make_nsd_like"):
        make_nsd_like(tmp_path / "b", **SMALL)
    with pytest.raises(ValueError, match="subj04 has 30 sessions"):
        make_nsd_like(tmp_path / "a", subjects=[4], sessions=31)
    with pytest.raises(ValueError, match="Invalid value for 'density'"):
        make_nsd_like(tmp_path / "a", density="fsaverage6")
    with pytest.raises(ValueError, match="Invalid value for 'trials'"):
        make_nsd_like(tmp_path / "a", trials=751)
    with pytest.raises(ValueError, match="Invalid value for 'subjects'"):
        make_nsd_like(tmp_path / "a", subjects=9)
    with pytest.raises(FileNotFoundError, match="synthetic_truth.json"):
        load_truth(tmp_path)
    assert not (tmp_path / "a").exists()


def test_overwrite_replaces_only_when_finished(tmp_path, monkeypatch):
    first = make_nsd_like(tmp_path / "nsd", seed=1, volume_spaces=(), **{k: v for k, v in SMALL.items() if k != "volume_shape"})

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("neuro_igc.data._synth_writer._write_subject", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        make_nsd_like(tmp_path / "nsd", seed=2, overwrite=True, **SMALL)
    assert load_truth(tmp_path / "nsd").meta["seed"] == 1 == first.meta["seed"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nsd"]


def test_cli_writes_folder_and_refuses_non_empty(tmp_path, capsys):
    out = tmp_path / "synth"
    args = [str(out), "--subjects", "1", "--sessions", "1", "--trials", "5", "--image-size", "32",
            "--volume-spaces", "--no-progress"]
    assert synth_main(args) == 0
    assert "wrote" in capsys.readouterr().out
    assert load_truth(out).meta["trials_per_session"] == 5
    assert not (out / "nsddata_betas/ppdata/subj01/func1pt8mm").exists()
    assert synth_main(args) == 1
    assert "not empty" in capsys.readouterr().err
    assert synth_main(args + ["--force", "--seed", "1"]) == 0
    assert load_truth(out).meta["seed"] == 1
    with pytest.raises(SystemExit):
        synth_main([str(out), "--density", "fsaverage7"])


@pytest.mark.slow  # ~18 s: a whole `neuro-igc synth` in a subprocess, twice
def test_killed_synth_is_rerun_by_the_same_command(tmp_path):
    """``neuro-igc synth`` killed mid-write leaves no OUTPUT_DIR; the same command then succeeds."""
    out = tmp_path / "nsd"
    partial = tmp_path / ".nsd.synth-partial"
    cmd = [sys.executable, "-m", "neuro_igc.cli", "synth", str(out), "--subjects", "1", "--sessions", "3",
           "--trials", "30", "--image-size", "32", "--volume-spaces", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    mid_write = partial / L.surface_label_path(1, "lh", "prf-visualrois")  # written before any betas
    deadline = time.monotonic() + 120
    while not mid_write.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed mid-write"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists() and (partial / PARTIAL_MARKER).is_file()
    assert not (partial / TRUTH_JSON).exists()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not partial.exists() and not (out / PARTIAL_MARKER).exists()
    truth = load_truth(out)
    assert truth.meta["sessions"] == 3
    assert _surf(out, L.surface_betas_path(1, "rh", 3, VERSION)).shape == (V5, 30)


@pytest.mark.slow
def test_default_folder_prfs_recoverable_by_a_linear_map(tmp_path):
    """On the default folder, ridge maps from 32 x 32 contrast energy to V1 betas already locate the
    planted pRFs (weighted centroid of the positive weights), so the planted SNR is sufficient."""
    from neuro_igc.data._synth_cortex import pixel_grid_deg

    truth = make_nsd_like(tmp_path / "nsd", progress=False)
    root = truth.root
    p = truth.prf(1, space="nativesurface")
    v1 = p[p.roi <= 2]
    ids = np.concatenate([_image_ids(root, 1, ses, 750) for ses in (1, 2)])
    y = np.concatenate([np.concatenate([_native_betas(root, 1, h, ses)[:, v1.vertex[v1.hemi == h]] for h in HEMIS], axis=1)
                        for ses in (1, 2)]) / 300.0
    v1 = v1.sort_values("hemi", kind="stable")
    for ses in (0, 1):  # z-score per session
        rows = slice(ses * 750, (ses + 1) * 750)
        y[rows] = (y[rows] - y[rows].mean(0)) / y[rows].std(0)
    train = np.unique(ids, return_counts=True)
    once = np.isin(ids, train[0][train[1] == 1])
    n = 32
    with h5py.File(root / L.stimuli_path(), "r") as f:
        uniq = np.unique(ids[once])
        x = contrast_energy(to_luminance(f["imgBrick"][uniq]), size=n)[np.searchsorted(uniq, ids[once])]
    y = y[once]
    x = (x - x.mean(0)) / x.std(0)
    w = np.linalg.solve(x.T @ x + 1e4 * np.eye(n * n), x.T @ (y - y.mean(0)))
    m = np.maximum(w.T, 0)
    m /= m.sum(1, keepdims=True)
    gx, gy = (g.ravel() for g in pixel_grid_deg(n))
    cx, cy = m @ gx, m @ gy
    size = np.sqrt(np.maximum(m @ gx**2 - cx**2 + m @ gy**2 - cy**2, 0) / 2)
    assert np.median(np.hypot(cx - v1.x.to_numpy(), cy - v1.y.to_numpy())) < 0.5
    assert np.corrcoef(size, v1.sigma)[0, 1] > 0.7


def test_full_density_mesh_nests_fsaverage5_and_is_a_closed_sphere():
    from nilearn.datasets import load_fsaverage

    from neuro_igc.data._synth_surface import fsaverage5_mesh, fsaverage_mesh, subdivide

    fs5 = load_fsaverage("fsaverage5")
    for h, part in (("lh", "left"), ("rh", "right")):
        m = fsaverage_mesh(h)
        assert m.n_vertices == V7 and m.faces.shape == (2 * V7 - 4, 3)
        sphere = np.asarray(fs5["sphere"].parts[part].coordinates, dtype=np.float64)
        np.testing.assert_allclose(m.unit[:V5], sphere / np.linalg.norm(sphere, axis=1, keepdims=True))
        np.testing.assert_allclose(m.coords[:V5], np.asarray(fs5["pial"].parts[part].coordinates))
        np.testing.assert_allclose(np.linalg.norm(m.unit, axis=1), 1.0)
        # each edge is used by exactly two triangles, all outward (positive volume)
        e = np.sort(np.concatenate([m.faces[:, [0, 1]], m.faces[:, [1, 2]], m.faces[:, [2, 0]]]), axis=1)
        assert np.all(np.unique(e[:, 0] * V7 + e[:, 1], return_counts=True)[1] == 2)
        p0, p1, p2 = (m.unit[m.faces[:, k]] for k in range(3))
        assert np.all(np.einsum("ij,ij->i", np.cross(p1 - p0, p2 - p0), p0) > 0)
        # the fsaverage6 level is the prefix of 40962 vertices
        fs6 = subdivide(fsaverage5_mesh(h))
        assert fs6.n_vertices == 40962 and np.array_equal(fs6.unit, m.unit[:40962])
        # new vertices lie between their parents: nearest-neighbour spacing shrinks 4x
        d7 = cKDTree(m.unit).query(m.unit[:1000], k=2)[0][:, 1]
        d5 = cKDTree(m.unit[:V5]).query(m.unit[:1000], k=2)[0][:, 1]
        assert 3.0 < np.median(d5 / d7) < 5.0
