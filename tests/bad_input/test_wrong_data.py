"""Wrong data in valid files is named when it is read: sessions whose betas are constant (all
zero), infinite betas (under the same ``nan=`` policies as NaN, counted before z-scoring), and
ROI label values that the atlas' lookup table does not have. Each message names the file, the
session or the hemisphere."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from neuro_igc.data import NSD
from neuro_igc.data import _layout as L
from neuro_igc.data._io import VOLUME_SCALE

VERSION = L.BETA_VERSIONS[0]


@pytest.fixture(scope="module")
def nsd_src(tmp_path_factory):
    from neuro_igc.data import make_nsd_like

    root = tmp_path_factory.mktemp("nsd_wrong")
    make_nsd_like(root, subjects=1, sessions=3, seed=0, trials=20, image_size=16,
                  volume_spaces=("func1pt8mm",), volume_shape=(8, 8, 8), progress=False)
    return root


@pytest.fixture
def nsd(nsd_src, tmp_path):
    """A copy made of links to the source files; a test replaces the files it damages."""
    shutil.copytree(nsd_src, tmp_path / "nsd", copy_function=os.symlink)
    return tmp_path / "nsd"


def _rewrite(path: Path, change) -> None:
    """Replace the (linked) image file at ``path`` by one with ``change(data)`` as its values."""
    img = nib.load(path)
    data = change(np.asarray(img.dataobj).copy())
    cls = type(img)
    path.unlink()
    nib.save(cls(data.astype(img.get_data_dtype()), img.affine, img.header), path)


def _surface(nsd: Path, hemi: str, ses: int) -> Path:
    return nsd / L.surface_betas_path(1, hemi, ses, VERSION)


def test_an_all_zero_session_is_dropped_with_a_warning_naming_its_file(nsd, caplog):
    _rewrite(_surface(nsd, "rh", 2), np.zeros_like)
    with caplog.at_level(logging.WARNING, logger="neuro_igc"):
        b = NSD(nsd, progress=False).betas(1, zscore=True)
    assert sorted(set(b.session.tolist())) == [1, 3] and b.n_trials == 40
    assert np.isfinite(b.data).all()
    msg = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert "dropped 1 of 3 session(s) whose betas are constant" in msg
    assert "session 2 (rh " in msg and "rh.betas_session02.mgh" in msg and "every beta is 0" in msg


def test_a_constant_volume_session_is_dropped(nsd, caplog):
    path = nsd / L.volume_betas_path(1, "func1pt8mm", 3, VERSION, ".nii.gz")
    _rewrite(path, lambda d: np.full_like(d, 250))
    with caplog.at_level(logging.WARNING, logger="neuro_igc"):
        b = NSD(nsd, progress=False).betas(1, space="func1pt8mm", invalid="keep", source="nifti")
    assert sorted(set(b.session.tolist())) == [1, 2]
    msg = " ".join(r.getMessage() for r in caplog.records)
    assert "session 3 (" in msg and "betas_session03.nii.gz" in msg and f"every beta is {250 / VOLUME_SCALE:g}" in msg


def test_only_constant_sessions_is_an_error(nsd):
    _rewrite(_surface(nsd, "lh", 1), np.zeros_like)
    with pytest.raises(ValueError) as info:
        NSD(nsd, progress=False).betas(1, sessions=[1])
    msg = str(info.value)
    assert "Constant betas in subj01" in msg and "lh.betas_session01.mgh" in msg and "session 1" in msg
    assert "download them again" in msg


def _plant_inf(nsd: Path, value=np.inf) -> int:
    """One infinite beta (trial 4 of session 1) at the first lh vertex that has no NaN (the
    synthetic folder has NaN vertices, as NSD's coverage); returns that vertex."""
    found = []

    def change(d):
        v = int(np.flatnonzero(np.isfinite(d.reshape(d.shape[0], -1)).all(1))[0])
        d[v, 0, 0, 3] = value
        found.append(v)
        return d
    _rewrite(_surface(nsd, "lh", 1), change)
    return found[0]


@pytest.mark.parametrize("policy, words", [
    ("drop", ["NaN or infinite betas in only some trials of 1 features", "lh vertex {v}, inf in 1 of 60 trials, session(s) [1]",
              "nan='drop-any'"]),
    ("raise", ["NaN or infinite betas in"]),
])
def test_an_infinite_beta_is_caught_like_a_nan(nsd, policy, words):
    v = _plant_inf(nsd)
    with pytest.raises(ValueError) as info:
        NSD(nsd, progress=False).betas(1, nan=policy, zscore=True)
    for w in words:
        assert w.format(v=v) in str(info.value)


def test_drop_any_drops_infinite_features_before_z_scoring(nsd, caplog):
    clean = NSD(nsd, progress=False).betas(1, nan="drop-any")
    v = _plant_inf(nsd, -np.inf)
    with caplog.at_level(logging.INFO, logger="neuro_igc"):
        b = NSD(nsd, progress=False).betas(1, nan="drop-any", zscore=True)
    assert b.n_features == clean.n_features - 1 and b.info["nan_dropped"] == clean.info["nan_dropped"] + 1
    assert np.isfinite(b.data).all()  # the z-scoring saw no infinite value
    assert not ((b.hemi == "lh") & (b.vertex == v)).any()
    assert "1 with infinite values" in " ".join(r.getMessage() for r in caplog.records)


def test_a_label_value_missing_from_the_table_is_an_error(nsd):
    path = nsd / L.surface_label_path(1, "rh", "prf-visualrois")
    _rewrite(path, lambda d: np.where(np.arange(d.size).reshape(d.shape) % 7 == 0, 99, d))
    with pytest.raises(ValueError) as info:
        NSD(nsd, progress=False).roi("prf-visualrois", "fsaverage", subject=1)
    msg = str(info.value)
    assert "label value(s) 99" in msg and "labels of rh" in msg
    assert "{lh,rh}.prf-visualrois.mgz" in msg and "not in the prf-visualrois lookup table" in msg
