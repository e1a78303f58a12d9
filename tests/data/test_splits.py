"""Named splits, session presets, noise ceiling, training-only z-scoring, valid-session masks."""

from __future__ import annotations

import logging
import shutil

import nibabel as nib
import numpy as np
import pytest

from neuro_igc.data import NSD, noise_ceiling, zscore_per_session
from neuro_igc.data import _layout as L
from neuro_igc.data._io import write_nifti, write_volume_hdf5

VERSION = L.BETA_VERSIONS[0]


def test_noise_ceiling_formula():
    snr = np.array([0.0, 0.5, 1.0, 2.0])
    for n in (1, 3):
        np.testing.assert_allclose(noise_ceiling(snr, n=n), 100 * snr**2 / (snr**2 + 1 / n))
    assert noise_ceiling(1.0, n=3) == pytest.approx(75.0)
    with pytest.raises(ValueError, match="Invalid value for 'n'"):
        noise_ceiling(snr, n=0)


def test_named_splits_follow_their_definitions(tiny_nsd):
    e = tiny_nsd.expdesign
    np.testing.assert_array_equal(tiny_nsd.split_ids("shared1000"), np.sort(e.shared_ids))
    special = tiny_nsd.split_ids("special515")
    # brute force: shared images every subject saw 3 times in its acquired sessions
    ok = []
    for img in e.shared_ids:
        counts = [np.sum(e.image_ids(s, np.arange(L.SESSIONS_PER_SUBJECT[s - 1] * 750)) == img) for s in range(1, 9)]
        ok.append(min(counts) >= 3)
    np.testing.assert_array_equal(special, np.sort(e.shared_ids[np.array(ok)]))
    test = tiny_nsd.split_ids("nsd37-test")
    for s in (1, 2, 5, 7):
        seen = np.unique(e.image_ids(s, np.arange(37 * 750)))
        assert np.isin(test, seen).all()
    assert np.isin(test, e.shared_ids).all()
    assert tiny_nsd.preset_sessions(3) == list(range(1, 30)) and tiny_nsd.preset_sessions(8)[-1] == 27
    with pytest.raises(ValueError, match="Invalid value for 'name'.*'special515'"):
        tiny_nsd.split_ids("test")


def test_zscore_statistics_without_held_out_images(tiny_nsd):
    b = tiny_nsd.betas(1)
    held = tiny_nsd.shared_ids
    z = zscore_per_session(b, exclude_ids=held)
    train = ~np.isin(b.image_ids, held)
    for s in (1, 2):
        rows = (b.session == s) & train
        np.testing.assert_allclose(z.data[rows].mean(0), 0, atol=1e-4)
        np.testing.assert_allclose(z.data[rows].std(0), 1, atol=1e-3)
        # the held-out trials use the training statistics
        ref = b.data[rows].astype(np.float64)
        test_rows = (b.session == s) & ~train
        np.testing.assert_allclose(z.data[test_rows], (b.data[test_rows] - ref.mean(0)) / ref.std(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tiny_nsd.betas(1, zscore=True, zscore_exclude=held).data, z.data)
    with pytest.raises(ValueError, match="pass zscore=True too"):
        tiny_nsd.betas(1, zscore_exclude=held)


def test_invalid_voxels_excluded_not_read_as_zeros(tmp_path, tiny, caplog):
    root = tmp_path / "valid"
    shutil.copytree(tiny[0], root)
    nsd = NSD(root, progress=False)
    brain = np.asarray(nib.load(str(root / L.brainmask_path(1, "func1pt8mm"))).dataobj) > 0
    affine = nib.load(str(root / L.brainmask_path(1, "func1pt8mm"))).affine
    bad = np.argwhere(brain)[[0, 5, 9]]
    for ses in (1, 2):
        valid = brain.astype(np.uint8)
        if ses == 2:
            valid[tuple(bad.T)] = 0
            # NSD stores invalid voxels as 0 in that session's betas
            for ext in (".nii.gz", ".hdf5"):
                p = root / L.volume_betas_path(1, "func1pt8mm", 2, VERSION, ext)
                img = nib.load(str(root / L.volume_betas_path(1, "func1pt8mm", 2, VERSION, ".nii.gz")))
                data = np.asarray(img.dataobj.get_unscaled()).copy()
                data[tuple(bad.T)] = 0
                if ext == ".hdf5":
                    write_volume_hdf5(p, data)
                else:
                    write_nifti(p, data, img.affine)
        write_nifti(root / L.valid_session_path(1, "func1pt8mm", ses), valid, affine)
    keep = nsd.betas(1, space="func1pt8mm", invalid="keep")
    with caplog.at_level(logging.INFO, logger="neuro_igc.data._nsd"):
        b = nsd.betas(1, space="func1pt8mm")
    assert b.n_features == keep.n_features - 3 and b.info["invalid_voxels"] == 3
    assert "dropped 3 of" in caplog.text
    assert not any((b.ijk == v).all(1).any() for v in bad)
    nan = nsd.betas(1, space="func1pt8mm", invalid="nan", nan="keep")
    cols = [int(np.flatnonzero((nan.ijk == v).all(1))[0]) for v in bad]
    assert np.isnan(nan.data[np.ix_(nan.session == 2, cols)]).all()
    assert not np.isnan(nan.data[np.ix_(nan.session == 1, cols)]).any()
    assert (keep.data[np.ix_(keep.session == 2, cols)] == 0).all()  # what a loader ignoring the masks sees
    for source in ("hdf5", "nifti"):
        np.testing.assert_array_equal(nsd.betas(1, space="func1pt8mm", source=source).data, b.data)
