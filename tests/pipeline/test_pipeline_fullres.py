"""Both shipped NSD pipelines end to end, participant and group level, on a synthetic folder in NSD's
real layout at full fsaverage density (163,842 vertices per hemisphere, NaN vertices outside
coverage, subject atlases only on the native surface): the ROI sums over V1-hV4 and the floc ROIs
come from native labels through the 1-based white-to-fsaverage maps."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from neuro_igc.attribution import AttributionResult
from neuro_igc.pipeline import load_config, run_pipeline

FS = 163842
FAST = {"outputs.views": ["posterior"], "outputs.figures": False}
DECODING = {**FAST, "data.density": "fsaverage", "training.epochs": 1, "attribution.n_steps": 2,
            "attribution.baselines": 2, "attribution.n_samples": 8,
            "outputs.roi.atlases": ["prf-visualrois", "floc-bodies", "floc-places"]}
ENCODING = {**FAST, "data.density": "fsaverage", "training.epochs": 1, "data.roi_labels": ["V1v", "V1d"],
            "data.image_size": 16, "model.params.hidden": 8, "model.params.stem_width": 4,
            "model.params.widths": [8], "attribution.n_samples": 4, "attribution.baselines": 2,
            "attribution.n_steps": 2}


def native_on_fsaverage(root, s, atlas):
    """Independent reference with nibabel alone: native labels at the 1-based white-to-fsaverage indices."""
    out = {}
    for h in ("lh", "rh"):
        native = np.asarray(nib.load(root / f"nsddata/freesurfer/subj{s:02d}/label/{h}.{atlas}.mgz").dataobj).ravel()
        fmap = np.asarray(nib.load(root / f"nsddata/ppdata/subj{s:02d}/transforms/{h}.white-to-fsaverage.mgz").dataobj)
        out[h] = native[np.rint(fmap.ravel()).astype(np.int64) - 1]
    return out


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    from neuro_igc.data import make_nsd_like

    root = tmp_path_factory.mktemp("nsd_full") / "nsd"
    make_nsd_like(root, subjects=2, sessions=2, trials=60, image_size=32, density="fsaverage", volume_spaces=(),
                  seed=2, progress=False)
    assert not (root / "nsddata/freesurfer/fsaverage/label/lh.prf-visualrois.mgz").exists()  # as in NSD
    return root


def _check_roi_sums(root, d, sub, label, atlas, values, vert, ids, roi):
    ref = native_on_fsaverage(root, int(sub), atlas)
    lab = np.array([ref[h][v] for h, v in zip(vert["hemi"], vert["vertex"])])
    table = pd.read_csv(d / f"sub-{sub}_atlas-{atlas.replace('-', '')}_desc-{label}_roisums.tsv", sep="\t")
    got = table.loc[table["roi"] == roi].set_index("output")["value"]
    side = json.loads((d / f"sub-{sub}_atlas-{atlas.replace('-', '')}_desc-{label}_roisums.json").read_text())
    assert "white-to-fsaverage" in side["Sources"][0]
    return got, values[:, np.isin(lab, ids)], lab


@pytest.mark.slow
def test_both_pipelines_at_full_density_participant_and_group(full, tmp_path):
    out = tmp_path / "out"
    dec = load_config("decoding_image_stats", overrides=DECODING)
    run_pipeline(full, out, "participant", dec, device="cpu", progress=False)
    run_pipeline(full, out, "group", dec, device="cpu", progress=False)
    root = out / "neuro-igc"
    for sub in ("01", "02"):
        d = root / f"sub-{sub}" / "func"
        vert = pd.read_csv(d / f"sub-{sub}_desc-imagestats_vertices.tsv", sep="\t")
        igc = AttributionResult.load(d / f"sub-{sub}_desc-imagestats_igc.npz")
        gii = nib.load(d / f"sub-{sub}_hemi-L_space-fsaverage_den-164k_stat-igc_desc-imagestatsLuminanceContrast_statmap.func.gii")
        assert gii.darrays[0].data.shape == (FS,) and gii.darrays[0].meta["Name"] != "#1"
        # NaN vertices (outside coverage) were dropped: none of the kept vertices is NaN in the betas
        lh = nib.load(full / f"nsddata_betas/ppdata/subj{sub}/fsaverage/betas_fithrf_GLMdenoise_RR/lh.betas_session01.mgh")
        col = np.asarray(lh.dataobj[:, 0, 0, 0])
        assert np.isnan(col).any() and not np.isnan(col[vert.loc[vert["hemi"] == "lh", "vertex"]]).any()
        for atlas, roi, ids in (("prf-visualrois", "V1", [1, 2]), ("floc-bodies", "EBA", [1])):
            got, cols, _ = _check_roi_sums(full, d, sub, "imagestats", atlas, igc.attributions, vert, ids, roi)
            np.testing.assert_allclose(got.to_numpy(), cols.sum(axis=1), rtol=1e-9, atol=1e-12)
    assert (root / "group" / "atlas-prfvisualrois_desc-imagestats_roisummary.tsv").exists()

    enc = load_config("encoding_prf", overrides=ENCODING)
    run_pipeline(full, out, "participant", enc, participants=["01"], device="cpu", progress=False)
    run_pipeline(full, out, "group", enc, participants=["01"], device="cpu", progress=False)
    d = root / "sub-01" / "func"
    params = pd.read_csv(d / "sub-01_desc-prf_prf.tsv", sep="\t")
    ref = native_on_fsaverage(full, 1, "prf-visualrois")
    lab = np.array([ref[h][v] for h, v in zip(params["hemi"], params["vertex"])])
    assert len(params) and np.isin(lab, [1, 2]).all()  # the encoding outputs are V1v/V1d through the maps
    assert (root / "group" / "atlas-prfvisualrois_desc-prf_roisummary.tsv").exists()
