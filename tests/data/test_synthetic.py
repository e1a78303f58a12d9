"""The synthetic NSD folder: layout, determinism, and the planted truth as documented."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from neuro_igc.data import NSD, LABEL_TABLES, load_truth, luminance_contrast, make_nsd_like, spectral_slope
from neuro_igc.data import _layout as L
from neuro_igc.data._cli import main as synth_main
from neuro_igc.data._io import read_ctab
from neuro_igc.data._synth_cortex import pial_coordinates, prf_weights
from neuro_igc.data._synth_images import contrast_energy
from neuro_igc.data.synthetic import TRUTH_JSON, TRUTH_NPZ

SMALL = dict(subjects=1, sessions=1, trials=8, image_size=32, volume_shape=(8, 8, 8), progress=False)


def test_files_shapes_and_dtypes(tiny):
    root, truth = tiny
    for s in (1, 2):
        for h in ("lh", "rh"):
            img = nib.load(str(root / L.surface_betas_path(s, h, 1, L.BETA_VERSIONS[0])))
            assert img.shape == (10242, 1, 1, 40) and img.get_data_dtype() == np.dtype(">f4")
        nii = nib.load(str(root / L.volume_betas_path(s, "func1pt8mm", 2, L.BETA_VERSIONS[0], ".nii.gz")))
        assert nii.shape == (10, 12, 10, 40) and nii.get_data_dtype() == np.int16
        assert nib.load(str(root / L.volume_betas_path(s, "func1mm", 2, L.BETA_VERSIONS[0], ".nii.gz"))).shape == (18, 22, 18, 40)
    for atlas, table in LABEL_TABLES.items():
        assert read_ctab(root / L.ctab_path(None, atlas)) == table
        assert read_ctab(root / L.ctab_path(1, atlas)) == table
    meta = json.loads((root / TRUTH_JSON).read_text())
    assert meta["format"] == "neuro_igc.synthetic_truth" and meta["statistics"] == truth.statistics
    assert (root / TRUTH_NPZ).is_file()


def test_design_counts(tiny_nsd, tiny):
    e = tiny_nsd.expdesign
    assert np.all(np.bincount(e.masterordering, minlength=10000) == 3)
    assert np.unique(e.subjectim).size == 73000  # 1000 shared + 8 x 9000 distinct
    b = tiny_nsd.betas(1)
    shared = np.isin(b.image_ids, tiny_nsd.shared_ids)
    counts = np.unique(b.image_ids[shared], return_counts=True)[1]
    assert np.all(counts == 3) and counts.size == tiny[1].meta["n_shared_used"] == 8
    assert np.unique(b.image_ids[~shared]).size == (~shared).sum()  # non-shared shown once


def test_determinism(tmp_path):
    a = make_nsd_like(tmp_path / "a", seed=5, **SMALL)
    b = make_nsd_like(tmp_path / "b", seed=5, **SMALL)
    c = make_nsd_like(tmp_path / "c", seed=6, **SMALL)
    assert a.arrays.keys() == b.arrays.keys()
    for k in a.arrays:
        np.testing.assert_array_equal(a.arrays[k], b.arrays[k], err_msg=k)
    na, nb, nc = (NSD(t.root, progress=False) for t in (a, b, c))
    np.testing.assert_array_equal(na.betas(1).data, nb.betas(1).data)
    np.testing.assert_array_equal(na.betas(1, space="func1pt8mm").data, nb.betas(1, space="func1pt8mm").data)
    np.testing.assert_array_equal(na.stimuli(a.arrays["image_ids"]), nb.stimuli(b.arrays["image_ids"]))
    assert not np.array_equal(na.betas(1).data, nc.betas(1).data)
    assert load_truth(a.root).meta == a.meta


def test_retinotopy_is_plausible(tiny):
    _, truth = tiny
    p = truth.prf(1)
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
    # V1's foveal end sits at the occipital pole (most posterior pial y)
    for h in ("lh", "rh"):
        y = pial_coordinates(h)[:, 1]
        fovea = p[(p.hemi == h) & v1 & (p.eccentricity < 0.5)].vertex
        assert np.median(y[fovea]) < np.quantile(y, 0.05)


def test_planted_response_model_as_documented(tiny, tiny_nsd):
    """Betas minus the documented signal leave noise with the planted SD."""
    root, truth = tiny
    meta, a = truth.meta, truth.arrays
    b = tiny_nsd.betas(1)
    p = truth.prf(1)
    col = {(h, v): i for i, (h, v) in enumerate(zip(b.hemi, b.vertex))}
    cols = np.array([col[(h, v)] for h, v in zip(p.hemi, p.vertex)])
    shown = np.unique(b.image_ids)
    ce = contrast_energy(tiny_nsd.stimuli(shown, luminance=True), size=meta["drive_size"])
    drive = np.sqrt(ce @ prf_weights(p.x, p.y, p.sigma, meta["drive_size"]).T)
    np.testing.assert_allclose(drive.mean(0), p.drive_mean, rtol=1e-4)
    signal = (drive - p.drive_mean.values) / p.drive_sd.values * p.gain.values
    signal = signal[np.searchsorted(shown, b.image_ids)]
    hi = np.where(p.hemi == "lh", 0, 1)
    offset = a["subj01_session_offset"][b.session - 1][:, hi, p.vertex]
    resid = b.data[:, cols] - signal - offset
    ratio = resid.std(0) / a["subj01_noise_sd"][hi, p.vertex]
    assert 0.95 < np.median(ratio) < 1.05
    assert np.abs(resid.mean(0)).mean() < 0.5
    r = [np.corrcoef(b.data[:, c], signal[:, i])[0, 1] for i, c in enumerate(cols)]
    assert np.median(r) > 0.5


def test_planted_statistics(tiny, tiny_nsd):
    root, truth = tiny
    stats = truth.image_stats()
    imgs = tiny_nsd.stimuli(stats.index.to_numpy(), luminance=True)
    np.testing.assert_allclose(stats.luminance_contrast, luminance_contrast(imgs), rtol=1e-6)
    np.testing.assert_allclose(stats.spectral_slope, spectral_slope(imgs), rtol=1e-6)
    b = tiny_nsd.betas(2)
    for name, where in truth.statistics.items():
        roi = tiny_nsd.betas(2, roi=(where["atlas"], where["roi"]))
        sv = truth.statistic_vertices(name, 2)
        assert set(zip(roi.hemi, roi.vertex)) == set(zip(sv.hemi, sv.vertex))
        y = stats.loc[b.image_ids, name].to_numpy()
        r = np.median([np.corrcoef(y, roi.data[:, i])[0, 1] for i in range(roi.n_features)])
        assert r > 0.4, (name, r)
        other = "spectral_slope" if name == "luminance_contrast" else "luminance_contrast"
        r_other = np.median([abs(np.corrcoef(stats.loc[b.image_ids, other], roi.data[:, i])[0, 1])
                             for i in range(roi.n_features)])
        assert r_other < r / 2


def test_atlases_disjoint_and_nested(tiny):
    root, _ = tiny
    nsd = NSD(root, progress=False)
    vis = nsd.roi("prf-visualrois", subject=1).labels > 0
    floc = sum((nsd.roi(a, subject=1).labels > 0).astype(int) for a in LABEL_TABLES if a.startswith("floc"))
    assert floc.max() == 1 and not np.any(vis & (floc > 0))
    # group atlases on fsaverage are read from the fsaverage folder; here the subject's own copies
    from neuro_igc.atlas import Atlas

    def own(atlas):
        a = Atlas.from_nsd(root, atlas, subject=1)
        return np.concatenate([a.labels["lh"], a.labels["rh"]])

    general = own("nsdgeneral") > 0
    assert np.all(general[vis]) and np.all(general[floc > 0])
    assert np.all(own("streams")[vis] == 1)
    ecc = nsd.roi("prf-eccrois", subject=1).labels
    assert np.array_equal(ecc > 0, vis)


def test_make_nsd_like_bad_input(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(FileExistsError, match="not empty"):
        make_nsd_like(tmp_path / "full", **SMALL)
    with pytest.raises(FileExistsError, match="not a synthetic NSD folder"):
        make_nsd_like(tmp_path / "full", overwrite=True, **SMALL)
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


@pytest.mark.slow
def test_default_folder_prfs_recoverable_by_a_linear_map(tmp_path):
    """On the default folder, ridge maps from 32 x 32 contrast energy to V1 betas already locate the
    planted pRFs (weighted centroid of the positive weights), so the planted SNR is sufficient."""
    from neuro_igc.data import train_val_split
    from neuro_igc.data._synth_cortex import pixel_grid_deg

    truth = make_nsd_like(tmp_path / "nsd", progress=False)
    nsd = NSD(truth.root, progress=False)
    train, _ = train_val_split(nsd.betas(1, zscore=True), nsd.shared_ids)
    p = truth.prf(1)
    v1 = p[p.roi <= 2]
    col = {(h, v): i for i, (h, v) in enumerate(zip(train.hemi, train.vertex))}
    y = train.data[:, [col[(h, v)] for h, v in zip(v1.hemi, v1.vertex)]]
    n = 32
    x = contrast_energy(nsd.stimuli(train.image_ids, luminance=True), size=n)
    x = (x - x.mean(0)) / x.std(0)
    w = np.linalg.solve(x.T @ x + 1e4 * np.eye(n * n), x.T @ (y - y.mean(0)))
    m = np.maximum(w.T, 0)
    m /= m.sum(1, keepdims=True)
    gx, gy = (g.ravel() for g in pixel_grid_deg(n))
    cx, cy = m @ gx, m @ gy
    size = np.sqrt(np.maximum(m @ gx**2 - cx**2 + m @ gy**2 - cy**2, 0) / 2)
    assert np.median(np.hypot(cx - v1.x, cy - v1.y)) < 0.5
    assert np.corrcoef(size, v1.sigma)[0, 1] > 0.7
