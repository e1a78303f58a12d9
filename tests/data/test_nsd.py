"""NSD loaders on synthetic folders: exact values, index conventions, alignment, bad input."""

from __future__ import annotations

import shutil

import h5py
import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy.io import loadmat

from neuro_igc.data import NSD, average_repeats, make_nsd_like, split_shared, train_val_split
from neuro_igc.data import _layout as L
from neuro_igc.data._io import write_ctab, write_mgh, write_nifti

V5 = L.N_VERTICES["fsaverage5"]
VERSION = L.BETA_VERSIONS[0]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """1 subject x 2 sessions x 12 trials with betas overwritten by an exact code per value."""
    root = tmp_path_factory.mktemp("nsd_planted")
    make_nsd_like(root, subjects=1, sessions=2, trials=12, image_size=32, volume_shape=(8, 8, 8), progress=False)
    t = np.arange(12)
    for ses in (1, 2):
        for h, sign in (("lh", 1), ("rh", -1)):
            code = sign * (np.arange(V5)[:, None] + 20000 * t[None] + 500000 * ses)
            write_mgh(code.T.astype(np.float32), root / L.surface_betas_path(1, h, ses, VERSION))
        mask = nib.load(str(root / L.brainmask_path(1, "func1pt8mm")))
        (root / L.valid_session_path(1, "func1pt8mm", ses)).unlink()  # the planted code has no invalid voxels
        i, j, k = np.indices((8, 8, 8))
        code = (i + 8 * j + 64 * k)[..., None] + 512 * (t + 12 * (ses - 1))[None, None, None]
        write_nifti(root / L.volume_betas_path(1, "func1pt8mm", ses, VERSION, ".nii.gz"), code.astype(np.int16), mask.affine)
        with h5py.File(root / L.volume_betas_path(1, "func1pt8mm", ses, VERSION, ".hdf5"), "w") as f:
            f["betas"] = np.ascontiguousarray(code.astype(np.int16).transpose(3, 2, 1, 0))  # (T, Z, Y, X)
    return root


def test_surface_values_come_back_exactly(planted):
    b = NSD(planted, progress=False).betas(1)
    assert b.data.dtype == np.float32 and b.data.shape == (24, 2 * V5)
    assert list(b.hemi[:V5]) == ["lh"] * V5 and list(b.hemi[V5:]) == ["rh"] * V5
    sign = np.where(b.hemi == "lh", 1, -1)
    expected = sign[None] * (b.vertex[None] + 20000 * (b.trial[:, None] - 1) + 500000 * b.session[:, None])
    np.testing.assert_array_equal(b.data, expected.astype(np.float32))
    np.testing.assert_array_equal(b.session, np.repeat([1, 2], 12))
    np.testing.assert_array_equal(b.global_trial, np.r_[np.arange(1, 13), 751 + np.arange(12)])


@pytest.mark.parametrize("source", ["nifti", "hdf5", "auto"])
def test_volume_values_scaled_exactly(planted, source):
    nsd = NSD(planted, progress=False)
    b = nsd.betas(1, sessions=[2, 1], space="func1pt8mm", source=source)
    brain = np.asarray(nib.load(str(planted / L.brainmask_path(1, "func1pt8mm"))).dataobj) > 0
    np.testing.assert_array_equal(b.ijk, np.argwhere(brain))
    i, j, k = b.ijk.T
    trial_code = 512 * ((b.trial - 1) + 12 * (b.session - 1))
    expected = ((i + 8 * j + 64 * k)[None] + trial_code[:, None]).astype(np.float32) / np.float32(300)
    np.testing.assert_array_equal(b.data, expected)
    np.testing.assert_array_equal(b.session, np.repeat([2, 1], 12))
    np.testing.assert_allclose(b.affine, nib.load(str(planted / L.brainmask_path(1, "func1pt8mm"))).affine)


def test_hdf5_equals_nifti(tiny_nsd):
    for space in ("func1pt8mm", "func1mm"):
        a = tiny_nsd.betas(2, space=space, source="nifti")
        b = tiny_nsd.betas(2, space=space, source="hdf5", roi=None)
        np.testing.assert_array_equal(a.data, b.data)
        assert a.data.std() > 0.5  # noise in percent signal change, not raw int16


def test_one_based_conversions(tiny, tiny_nsd):
    root, _ = tiny
    mat = loadmat(str(root / L.expdesign_path()))
    assert mat["masterordering"].shape == (1, 30000) and mat["subjectim"].shape == (8, 10000)
    assert mat["sharedix"].shape == (1, 1000) and mat["masterordering"].min() == 1
    for s in (1, 2):
        b = tiny_nsd.betas(s, sessions=[1, 2])
        t0 = b.global_trial - 1
        manual = mat["subjectim"][s - 1, mat["masterordering"][0, t0].astype(int) - 1].astype(int) - 1
        np.testing.assert_array_equal(b.image_ids, manual)
        resp = tiny_nsd.responses(s)
        np.testing.assert_array_equal(resp["73KID"].to_numpy() - 1, b.image_ids)
        np.testing.assert_array_equal(resp["image_id"].to_numpy(), b.image_ids)
        assert list(resp.columns[:19]) == list(L.RESPONSES_COLUMNS)
        info = tiny_nsd.stim_info()
        reps = info.loc[b.image_ids, [f"subject{s}_rep{k}" for k in range(3)]].to_numpy()
        assert np.all((reps == b.global_trial[:, None]).sum(1) == 1)  # 1-based trial numbers
    np.testing.assert_array_equal(tiny_nsd.shared_ids, np.sort(mat["sharedix"][0].astype(int) - 1))
    np.testing.assert_array_equal(tiny_nsd.expdesign.subjectim[:, :1000], np.tile(tiny_nsd.shared_ids, (8, 1)))


def test_stimuli_lazy_reads_resize_and_luminance(tiny, tiny_nsd):
    root, _ = tiny
    ids = tiny_nsd.betas(1, sessions=1).image_ids[[5, 0, 5, 3]]
    with h5py.File(root / L.stimuli_path(), "r") as f:
        assert f["imgBrick"].shape == (73000, 64, 64, 3) and f["imgBrick"].dtype == np.uint8
        direct = np.stack([f["imgBrick"][i] for i in ids])
    np.testing.assert_array_equal(tiny_nsd.stimuli(ids, chunk=2), direct)
    from neuro_igc.data import resize_images, to_luminance

    np.testing.assert_allclose(tiny_nsd.stimuli(ids, size=32, luminance=True),
                               resize_images(to_luminance(direct), 32), rtol=1e-6)
    assert tiny_nsd.stimuli(ids, size=(16, 16)).shape == (4, 16, 16, 3)
    with pytest.raises(ValueError, match="73k ids are 0-based, 0..72999"):
        tiny_nsd.stimuli([73000])
    with pytest.raises(ValueError, match="1-D integer array"):
        tiny_nsd.stimuli([0.5])


def subject_labels_on_fsaverage(root, s, atlas, n):
    """Independent reference: a subject's native labels at the 1-based white-to-fsaverage indices,
    read with nibabel alone and cut to ``n`` vertices (the nested prefix)."""
    out = {}
    for h in ("lh", "rh"):
        native = np.asarray(nib.load(str(root / L.surface_label_path(s, h, atlas))).dataobj).ravel()
        fmap = np.asarray(nib.load(str(root / L.transform_path(s, h, "white-to-fsaverage"))).dataobj).ravel()
        out[h] = native[np.rint(fmap).astype(np.int64) - 1][:n]
    return out


def test_roi_labels_align_with_features(tiny, tiny_nsd):
    root, _ = tiny
    b = tiny_nsd.betas(1, sessions=1)
    labels = tiny_nsd.roi("prf-visualrois", subject=1, like=b)
    # a subject atlas on fsaverage takes the subject of the betas it is aligned with
    np.testing.assert_array_equal(tiny_nsd.roi("prf-visualrois", like=b).labels, labels.labels)
    with pytest.raises(ValueError, match="'prf-visualrois' is a subject atlas"):
        tiny_nsd.roi("prf-visualrois")
    ref = subject_labels_on_fsaverage(root, 1, "prf-visualrois", V5)
    for h in ("lh", "rh"):
        on = b.hemi == h
        np.testing.assert_array_equal(labels.labels[on], ref[h][b.vertex[on]])
    assert "white-to-fsaverage" in labels.source
    group = tiny_nsd.roi("nsdgeneral", like=b)
    for h in ("lh", "rh"):
        ondisk = np.asarray(nib.load(str(root / L.surface_label_path(None, h, "nsdgeneral"))).dataobj).ravel()
        np.testing.assert_array_equal(group.labels[b.hemi == h], ondisk[b.vertex[b.hemi == h]])
    labels = tiny_nsd.roi("prf-visualrois", subject=1, like=b)
    assert labels.names == ["V1v", "V1d", "V2v", "V2d", "V3v", "V3d", "hV4"]
    v1 = tiny_nsd.betas(1, sessions=1, roi=("prf-visualrois", ["V1v", "V1d"]))
    sel = labels.mask(["V1v", "V1d"])
    np.testing.assert_array_equal(v1.data, b.data[:, sel])
    np.testing.assert_array_equal(v1.vertex, b.vertex[sel])
    np.testing.assert_array_equal(tiny_nsd.roi("prf-visualrois", like=v1, subject=1).labels, labels.labels[sel])
    # volume labels follow the voxel order of the betas
    vb = tiny_nsd.betas(1, sessions=1, space="func1pt8mm", roi="prf-visualrois")
    vl = tiny_nsd.roi("prf-visualrois", "func1pt8mm", subject=1, like=vb)
    vol = np.asarray(nib.load(str(root / L.volume_roi_path(1, "func1pt8mm", "prf-visualrois"))).dataobj)
    np.testing.assert_array_equal(vl.labels, vol[tuple(vb.ijk.T)])
    assert np.all(vl.labels > 0)
    lh = tiny_nsd.roi("prf-visualrois", "func1pt8mm", subject=1, hemi="lh")
    assert set(np.unique(lh.labels)) <= {-1, 0, *range(1, 8)}


def test_ncsnr_aligned_with_truth(tiny, tiny_nsd):
    _, truth = tiny
    b = tiny_nsd.betas(1, sessions=1, roi="prf-visualrois")
    nc = tiny_nsd.ncsnr(1, roi="prf-visualrois")
    p = truth.prf(1)
    lookup = dict(zip(zip(p.hemi, p.vertex), p.ncsnr))
    np.testing.assert_allclose(nc, [lookup[(h, v)] for h, v in zip(b.hemi, b.vertex)], rtol=1e-6)


def test_repeats_shared_split_and_zscore(tiny_nsd):
    b = tiny_nsd.betas(1)
    parts = split_shared(b, tiny_nsd.shared_ids)
    shared, rest = parts.shared, parts.rest
    with pytest.raises(TypeError, match=r"result\.shared and result\.rest"):
        _a, _b = parts  # positional unpacking would swap train and test with train_val_split
    assert shared.n_trials + rest.n_trials == b.n_trials
    assert np.isin(shared.image_ids, tiny_nsd.shared_ids).all() and not np.isin(rest.image_ids, tiny_nsd.shared_ids).any()
    avg = average_repeats(shared)
    for k, img in enumerate(avg.image_ids[:5]):
        np.testing.assert_allclose(avg.data[k], b.data[b.image_ids == img].mean(0), rtol=1e-5, atol=1e-5)
        assert avg.n_repeats[k] == np.sum(b.image_ids == img)
    assert avg.n_repeats.max() == 3
    np.testing.assert_allclose(average_repeats(avg).data, avg.data, rtol=1e-6)
    train, val = train_val_split(b, tiny_nsd.shared_ids, min_repeats=3)
    named = train_val_split(b, tiny_nsd.shared_ids, min_repeats=3)
    np.testing.assert_array_equal(named.train.image_ids, rest.image_ids)
    np.testing.assert_array_equal(named.val.data, val.data)
    assert np.all(val.n_repeats == 3) and np.all(train.n_repeats == 1)
    assert not np.intersect1d(train.image_ids, val.image_ids).size
    z = tiny_nsd.betas(1, zscore=True)
    for s in (1, 2):
        rows = z.session == s
        np.testing.assert_allclose(z.data[rows].mean(0), 0, atol=1e-5)
        np.testing.assert_allclose(z.data[rows].std(0), 1, atol=1e-4)


def test_decimation_and_density_mismatch(tmp_path, tiny_nsd):
    root = tmp_path / "full"
    make_nsd_like(root, subjects=1, sessions=1, trials=3, image_size=32, density="fsaverage",
                  volume_spaces=(), progress=False)
    nsd = NSD(root, progress=False)
    full = nsd.betas(1, nan="keep")
    assert full.n_features == 2 * L.N_VERTICES["fsaverage"] and full.density == "fsaverage"
    dec = nsd.betas(1, density="fsaverage5", roi="nsdgeneral", nan="keep")
    keep = (full.vertex < V5) & nsd.roi("nsdgeneral", like=full).mask()
    np.testing.assert_array_equal(dec.data, full.data[:, keep], strict=False)
    assert dec.density == "fsaverage5"
    labels5 = nsd.roi("prf-visualrois", subject=1, density="fsaverage5")
    assert labels5.labels.size == 2 * V5
    with pytest.raises(ValueError, match="Density mismatch"):
        tiny_nsd.betas(1, density="fsaverage")
    for h in ("lh", "rh"):  # a label file at fsaverage5 cannot label full-density betas
        write_mgh(np.ones(V5, np.int32), root / L.surface_label_path(None, h, "toy"))
    write_ctab(root / L.ctab_path(None, "toy"), {1: "one"})
    with pytest.raises(ValueError, match="Density mismatch"):
        nsd.roi("toy", like=full)


def test_missing_files_name_path_and_part(tmp_path, tiny):
    empty = NSD(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"betas_session01\.mgh.*'nsddata_betas'"):
        empty.betas(1)
    with pytest.raises(FileNotFoundError, match=r"nsd_stimuli\.hdf5.*'nsddata_stimuli'"):
        empty.stimuli([0])
    with pytest.raises(FileNotFoundError, match=r"nsd_expdesign\.mat.*'nsddata'"):
        _ = empty.expdesign
    with pytest.raises(FileNotFoundError, match=r"responses\.tsv"):
        empty.responses(1)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        NSD(tmp_path / "nope")
    nsd = NSD(tiny[0], progress=False)
    with pytest.raises(FileNotFoundError, match=r"betas_session03\.mgh.*nsddata_betas"):
        nsd.betas(1, sessions=[1, 3])
    with pytest.raises(FileNotFoundError, match=r"Kastner2015\.mgz\.ctab.*'nsddata'"):
        nsd.roi("Kastner2015")


def test_bad_subject_session_roi_and_options(tiny_nsd):
    with pytest.raises(ValueError, match=r"subjects 1\.\.8"):
        tiny_nsd.betas(9)
    with pytest.raises(ValueError, match=r"subjects 1\.\.8"):
        tiny_nsd.betas("subj00")
    with pytest.raises(ValueError, match=r"subj04 has sessions 1\.\.30"):
        tiny_nsd.betas(4, sessions=[31])
    with pytest.raises(ValueError, match="sessions repeat"):
        tiny_nsd.betas(1, sessions=[1, 1])
    with pytest.raises(ValueError, match="Invalid ROI name 'V9'.*allowed are 'V1v'"):
        tiny_nsd.betas(1, roi=("prf-visualrois", "V9"))
    with pytest.raises(ValueError, match="Invalid value for 'space'"):
        tiny_nsd.betas(1, space="MNI")
    with pytest.raises(ValueError, match="Invalid value for 'nan'"):
        tiny_nsd.betas(1, nan="ignore")
    with pytest.raises(ValueError, match="Invalid shape for 'mask'"):
        tiny_nsd.betas(1, mask=np.ones(5, bool))
    with pytest.raises(ValueError, match="only fsaverage surface betas have one"):
        tiny_nsd.betas(1, space="func1pt8mm", density="fsaverage5")
    with pytest.raises(ValueError, match="volume ROIs"):
        tiny_nsd.roi("prf-visualrois", "func1pt8mm")
    m = np.zeros(2 * V5, bool)
    m[[3, V5 + 7]] = True
    b = tiny_nsd.betas(1, sessions=1, mask=m)
    assert list(zip(b.hemi, b.vertex)) == [("lh", 3), ("rh", 7)]


def test_nan_betas_raise_or_drop(tmp_path, tiny):
    root = tmp_path / "nan"
    shutil.copytree(tiny[0], root)
    nsd = NSD(root, progress=False)
    before = nsd.betas(1, nan="keep")
    outside = np.isnan(before.data).all(0)  # the folder's vertices outside coverage
    assert outside.any() and not (np.isnan(before.data).any(0) & ~outside).any()
    v = int(np.flatnonzero(~outside & (before.hemi == "rh"))[0])
    rh_vertex = int(before.vertex[v])
    path = root / L.surface_betas_path(1, "rh", 2, VERSION)
    data = np.asarray(nib.load(str(path)).dataobj)[:, 0, 0, :]
    data[rh_vertex, 4] = np.nan
    write_mgh(data.T, path)
    with pytest.raises(ValueError, match=rf"NaN betas in {int(outside.sum()) + 1} of 20484 features.*nan='drop'"):
        nsd.betas(1, nan="raise")
    # NaN in one trial only: not the all-trials NaN of NSD's coverage gaps, so the default raises
    with pytest.raises(ValueError, match=rf"only some trials of 1 features.*rh vertex {rh_vertex}, NaN in 1 of 80.*drop-any"):
        nsd.betas(1)
    b = nsd.betas(1, nan="drop-any")
    assert b.n_features == 2 * V5 - int(outside.sum()) - 1
    assert not ((b.hemi == "rh") & (b.vertex == rh_vertex)).any()
    assert nsd.betas(1, nan="keep").n_features == 2 * V5


def test_wrong_dtype_and_shape(tmp_path, tiny):
    root = tmp_path / "bad"
    shutil.copytree(tiny[0], root)
    nsd = NSD(root, progress=False)
    vpath = root / L.volume_betas_path(1, "func1pt8mm", 1, VERSION, ".nii.gz")
    img = nib.load(str(vpath))
    write_nifti(vpath, np.asarray(img.dataobj).astype(np.float32), img.affine)
    with pytest.raises(ValueError, match="Wrong dtype.*int16"):
        nsd.betas(1, sessions=1, space="func1pt8mm", source="nifti")
    hpath = root / L.volume_betas_path(1, "func1pt8mm", 1, VERSION, ".hdf5")
    with h5py.File(hpath, "w") as f:
        f["betas"] = np.zeros((40, 10, 12, 11), dtype=np.int16)
    with pytest.raises(ValueError, match=r"Wrong shape.*\(n_trials, Z, Y, X\)"):
        nsd.betas(1, sessions=1, space="func1pt8mm", source="hdf5")
    spath = root / L.surface_betas_path(1, "lh", 1, VERSION)
    write_mgh(np.zeros((40, 1000), np.float32), spath)
    with pytest.raises(ValueError, match="matches no fsaverage density"):
        nsd.betas(1, sessions=1)
    write_mgh(np.zeros((40, V5), np.int32), spath)
    with pytest.raises(ValueError, match="Wrong dtype.*float32"):
        nsd.betas(1, sessions=1)
    pd.DataFrame({"SUBJECT": [1]}).to_csv(root / L.responses_path(1), sep="\t", index=False)
    with pytest.raises(ValueError, match="columns .* are missing"):
        nsd.responses(1)


def test_roi_like_takes_the_subject_of_the_betas(tmp_path):
    # the docstring's promise, as a new user tries it: no subject= needed next to like=
    make_nsd_like(tmp_path, subjects=2, sessions=1, trials=3, image_size=32, volume_spaces=(), progress=False)
    nsd = NSD(tmp_path, progress=False)
    b = nsd.betas(2, nan="keep")
    bodies = nsd.roi("floc-bodies", like=b)
    np.testing.assert_array_equal(bodies.labels, nsd.roi("floc-bodies", subject=2, like=b).labels)
    assert "subj02" in bodies.source and bodies.counts()["EBA"] > 0
    # an atlas NSD does not list, drawn on this subject only (no group file on fsaverage)
    for h in ("lh", "rh"):
        shutil.copy(tmp_path / L.surface_label_path(2, h, "floc-bodies"), tmp_path / L.surface_label_path(2, h, "mine"))
    shutil.copy(tmp_path / L.ctab_path(2, "floc-bodies"), tmp_path / L.ctab_path(2, "mine"))
    mine = nsd.roi("mine", like=b)
    np.testing.assert_array_equal(mine.labels, bodies.labels)
    assert "subj02" in mine.source
    # a group atlas is still read from fsaverage's own files
    assert "fsaverage/label" in nsd.roi("streams", like=b).source


def test_the_facade_keeps_its_public_methods(tiny_nsd):
    # NSD is a facade over its parts: every public name stays on it, nothing else leaks out
    public = {n for n in dir(NSD) if not n.startswith("_")}
    assert public == {"betas", "expdesign", "native_vertices", "ncsnr", "preset_sessions", "responses", "roi",
                      "sessions", "shared_ids", "split_ids", "stim_info", "stimuli", "to_fsaverage", "to_native",
                      "transform", "valid_mask"}
    assert tiny_nsd.expdesign is tiny_nsd.expdesign  # read once
