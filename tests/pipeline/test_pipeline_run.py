"""End to end on a tiny synthetic NSD-like folder: derivatives, exactness of the written maps,
ROI additivity, group summaries, skip-if-unchanged, the report in a real browser."""

from __future__ import annotations

import json
import re
import warnings

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from _browser import assert_not_blank

from neuro_igc.attribution import AttributionResult
from neuro_igc.pipeline import PipelineError, load_config, run_pipeline

TINY_DECODING = {"training.epochs": 2, "attribution.n_steps": 4, "attribution.baselines": 4,
                 "outputs.roi.atlases": ["prf-visualrois", "floc-bodies"], "outputs.views": ["posterior"]}
TINY_ENCODING = {"training.epochs": 1, "data.roi_labels": ["V1v", "V1d"], "data.image_size": 16,
                 "model.params.hidden": 8, "model.params.stem_width": 4, "model.params.widths": [8],
                 "attribution.n_samples": 6, "attribution.baselines": 2, "attribution.n_steps": 2,
                 "outputs.views": ["posterior"], "outputs.interactive": False}


@pytest.fixture(scope="module")
def nsd(tmp_path_factory):
    from neuro_igc.data import make_nsd_like

    root = tmp_path_factory.mktemp("nsd") / "nsd"
    make_nsd_like(root, subjects=2, sessions=2, trials=100, image_size=64, volume_spaces=(), seed=1,
                  progress=False)
    return root


@pytest.fixture(scope="module")
def decoding(nsd, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    cfg = load_config("decoding_image_stats", overrides=TINY_DECODING)
    first = run_pipeline(nsd, out, "participant", cfg, device="cpu", progress=False)
    return cfg, out, first


def test_decoding_derivatives(nsd, decoding):
    cfg, out, res = decoding
    root = out / "neuro-igc"
    assert res.subjects == ["01", "02"] and not any(r.skipped for r in res.records)
    desc = json.loads((root / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative"
    assert desc["GeneratedBy"][0]["Config"]["training"]["epochs"] == 2
    for sub in ("01", "02"):
        d = root / f"sub-{sub}" / "func"
        igc = AttributionResult.load(d / f"sub-{sub}_desc-imagestats_igc.npz")
        vert = pd.read_csv(d / f"sub-{sub}_desc-imagestats_vertices.tsv", sep="\t")
        assert igc.attributions.shape == (2, len(vert))
        for i, target in enumerate(["LuminanceContrast", "SpectralSlope"]):
            for hemi, h in (("lh", "L"), ("rh", "R")):
                stem = f"sub-{sub}_hemi-{h}_space-fsaverage_den-10k_stat-igc_desc-imagestats{target}_statmap"
                gii_img = nib.load(d / f"{stem}.func.gii")
                assert gii_img.darrays[0].intent == nib.nifti1.intent_codes["NIFTI_INTENT_ESTIMATE"]
                gii = gii_img.darrays[0].data
                mgz = np.asarray(nib.load(d / f"{stem}.mgz").dataobj).reshape(-1)
                assert gii.shape == mgz.shape == (10242,)
                sel = vert["hemi"] == hemi
                expected = igc.attributions[i][sel.to_numpy()].astype(np.float32)
                np.testing.assert_array_equal(gii[vert["vertex"][sel]], expected)  # exactly the IGC values
                np.testing.assert_array_equal(mgz[vert["vertex"][sel]], expected)
                outside = np.setdiff1d(np.arange(10242), vert["vertex"][sel])
                assert (gii[outside] == 0).all() and (mgz[outside] == 0).all()  # one fill value in both formats
                side = json.loads((d / f"{stem}.json").read_text())
                assert side["FillValue"] == 0
                # the dseg the sidecar names says which vertices the map covers
                dseg = nib.load(root / side["Mask"].removeprefix("bids::"))
                assert dseg.darrays[0].intent == nib.nifti1.intent_codes["NIFTI_INTENT_LABEL"]
                assert dseg.labeltable.get_labels_as_dict() == {0: "outside", 1: "covered"}
                covered = np.flatnonzero(dseg.darrays[0].data == 1)
                np.testing.assert_array_equal(covered, np.sort(vert["vertex"][sel].to_numpy()))
            cmd = (d / f"sub-{sub}_desc-imagestats{target}_freeview.txt").read_text()
            assert f"overlay=sub-{sub}_hemi-L_space-fsaverage_den-10k_stat-igc_desc-imagestats{target}_statmap.mgz" in cmd
            assert (d.parent / "figures" / f"sub-{sub}_desc-imagestats{target}_stat.png").exists()
        # ROI sums: additive (each atlas' rows, '(other)' included, add up to the correlation)
        for atlas in ("prfvisualrois", "flocbodies"):
            table = pd.read_csv(d / f"sub-{sub}_atlas-{atlas}_desc-imagestats_roisums.tsv", sep="\t")
            assert (d / f"sub-{sub}_atlas-{atlas}_desc-imagestats_roisums.json").exists()
            totals = table.groupby("output", sort=False)["value"].sum().to_numpy()
            np.testing.assert_allclose(totals, igc.attributions.sum(axis=1), rtol=1e-9, atol=1e-12)
        v1 = pd.read_csv(d / f"sub-{sub}_atlas-prfvisualrois_desc-imagestats_roisums.tsv", sep="\t")
        assert {"V1", "V2", "V3", "hV4"} <= set(v1["roi"])  # V1v + V1d merged
        # V1-hV4 come from the subject's native labels through white-to-fsaverage (1-based): the V1 sum
        # is the IGC over the vertices an independent nibabel mapping labels V1v or V1d
        ref = subject_labels_on_fsaverage(nsd, int(sub), "prf-visualrois")
        lab = np.array([ref[h][v] for h, v in zip(vert["hemi"], vert["vertex"])])
        np.testing.assert_allclose(v1.loc[v1["roi"] == "V1", "value"].to_numpy(),
                                   igc.attributions[:, np.isin(lab, [1, 2])].sum(axis=1), rtol=1e-9, atol=1e-12)
        side = json.loads((d / f"sub-{sub}_atlas-prfvisualrois_desc-imagestats_roisums.json").read_text())
        assert "white-to-fsaverage" in side["Sources"][0] and f"subj{sub}/label" in side["Sources"][0]
    assert list((root / "models" / "imagestats").glob("member-00_model.pt"))
    assert list((root / "logs").glob("decoding_image_stats_participant_*.log"))


@pytest.mark.slow  # ~25 s; skip and force are also covered by tests/test_cli.py
def test_decoding_rerun_skips_then_force(nsd, decoding):
    cfg, out, first = decoding
    again = run_pipeline(nsd, out, "participant", cfg, device="cpu", progress=False)
    assert again.records and all(r.skipped for r in again.records)
    assert again.scores["max_igc_error"] == first.scores["max_igc_error"]  # the report keeps its numbers
    changed = load_config("decoding_image_stats", overrides={**TINY_DECODING, "attribution.n_steps": 6})
    third = run_pipeline(nsd, out, "participant", changed, device="cpu", progress=False)
    status = {r.key: r.skipped for r in third.records}
    assert status["imagestats/train"] is True  # the model is reused...
    assert status["imagestats/sub-01/igc"] is False and status["imagestats/sub-01/roi"] is False  # ...IGC redone
    forced = run_pipeline(nsd, out, "participant", changed, participants=["02"], device="cpu", progress=False,
                          force=True)
    assert not any(r.skipped for r in forced.records)


def test_a_rerun_with_fewer_targets_leaves_no_stale_file(nsd, decoding, tmp_path):
    """The earlier targets' maps, freeview commands and figures go, at the participant and the group
    level; every file left is one that a step record lists (or the description, a report, a log)."""
    import shutil

    cfg, out, _ = decoding
    shutil.copytree(out, tmp_path / "out")
    root = tmp_path / "out" / "neuro-igc"
    # the shared folder may or may not hold a group run yet (test order): make one, so that the
    # group level's stale maps are always there to be removed
    run_pipeline(nsd, tmp_path / "out", "group", cfg, device="cpu", progress=False)
    assert list(root.glob("sub-01/**/*SpectralSlope*")) and list(root.glob("group/*SpectralSlope*"))
    fewer = load_config("decoding_image_stats", overrides={**TINY_DECODING, "data.targets": ["luminance_contrast"]})
    res = run_pipeline(nsd, tmp_path / "out", "participant", fewer, device="cpu", progress=False)
    run_pipeline(nsd, tmp_path / "out", "group", fewer, device="cpu", progress=False)
    assert not list(root.rglob("*SpectralSlope*"))
    listed = set()
    for rec in (root / "logs" / "steps").glob("*.json"):
        listed.update(json.loads(rec.read_text())["outputs"])
    files = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    orphans = {f for f in files - listed
               if not (f.startswith(("logs/", "code/")) or f.endswith("_report.html")
                       or f in ("dataset_description.json", "README.md", ".bidsignore"))}
    assert not orphans
    assert re.search(r"sub-01/surface: removed \d+ file\(s\) that its earlier settings wrote", res.log.read_text())


def test_decoding_group_level(nsd, decoding):
    cfg, out, _ = decoding
    res = run_pipeline(nsd, out, "group", cfg, device="cpu", progress=False)
    group = out / "neuro-igc" / "group"
    summary = pd.read_csv(group / "atlas-prfvisualrois_desc-imagestats_roisummary.tsv", sep="\t")
    subs = pd.concat([pd.read_csv(out / "neuro-igc" / f"sub-{s}" / "func" / f"sub-{s}_atlas-prfvisualrois_desc-"
                                  "imagestats_roisums.tsv", sep="\t") for s in ("01", "02")])
    expect = subs.groupby(["output", "roi"])["value"].agg(["mean", "std"])
    got = summary.set_index(["output", "roi"])
    np.testing.assert_allclose(got.loc[expect.index, "mean"], expect["mean"], rtol=1e-12)
    np.testing.assert_allclose(got.loc[expect.index, "sd"], expect["std"], rtol=1e-12)
    lh = nib.load(group / "hemi-L_space-fsaverage_den-10k_stat-meanigc_desc-imagestatsLuminanceContrast_statmap.func.gii")
    sub_maps = []
    for s in ("01", "02"):  # each subject's map where its dseg says it has vertices, NaN elsewhere
        d = out / "neuro-igc" / f"sub-{s}"
        data = nib.load(d / "func" / f"sub-{s}_hemi-L_space-fsaverage_den-10k_stat-igc_desc-"
                        "imagestatsLuminanceContrast_statmap.func.gii").darrays[0].data
        dseg = nib.load(d / "anat" / f"sub-{s}_hemi-L_space-fsaverage_den-10k_desc-imagestats_dseg.label.gii")
        sub_maps.append(np.where(dseg.darrays[0].data == 1, data, np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN vertices (outside every subject's mask)
        expected = np.nanmean(np.stack(sub_maps), axis=0)
    covered = np.isfinite(expected)
    np.testing.assert_allclose(lh.darrays[0].data[covered], expected[covered], rtol=1e-6)
    assert (lh.darrays[0].data[~covered] == 0).all()
    assert res.report.exists()


def test_report_in_browser(decoding, browser):
    _, out, res = decoding
    ok, total, bad = browser.check_images(res.report)
    assert total >= 3 and ok == total and bad == []  # per subject: 2 maps + the ROI plot
    text = res.report.read_text()
    for needle in ("Validation scores", "IGC error", "freeview -f", "Settings", "luminance_contrast"):
        assert needle in text
    assert_not_blank(browser.screenshot(res.report))
    # each map of the subjects in the report has its interactive view linked, and it draws the cortex
    views = re.findall(r'href="(sub-(\d+)/figures/sub-\d+_desc-imagestats(\w+)_view\.html)"', text)
    shown = set(re.findall(r'sub-(\d+): luminance_contrast', text))
    assert shown and {(s, t) for _, s, t in views} == {(s, t) for s in shown
                                                       for t in ("LuminanceContrast", "SpectralSlope")}
    assert all((res.report.parent / v).is_file() for v, _, _ in views)
    assert_not_blank(browser.screenshot(res.report.parent / views[0][0], size=(900, 600)))


def test_unknown_participant_and_group_without_outputs(nsd, tmp_path):
    cfg = load_config("decoding_image_stats", overrides=TINY_DECODING)
    with pytest.raises(PipelineError, match=r"subject 05 has no data in NSD_ROOT; available are 01 02"):
        run_pipeline(nsd, tmp_path, "participant", cfg, participants=["sub-05"], progress=False)
    with pytest.raises(PipelineError, match=r"not a participant label"):
        run_pipeline(nsd, tmp_path, "participant", cfg, participants=["first"], progress=False)
    with pytest.raises(PipelineError, match=r"run the participant level first"):
        run_pipeline(nsd, tmp_path / "empty", "group", cfg, progress=False)


def subject_labels_on_fsaverage(root, subject, atlas):
    """A subject's labels on fsaverage, read with nibabel alone: native labels taken at the 1-based
    ``white-to-fsaverage`` indices (cut to the betas' density by the nested prefix), or labels
    already at an fsaverage density."""
    label_dir = root / "nsddata" / "freesurfer" / f"subj{subject:02d}" / "label"
    out = {}
    for h in ("lh", "rh"):
        lab = np.asarray(nib.load(label_dir / f"{h}.{atlas}.mgz").dataobj).reshape(-1)
        tr = root / "nsddata" / "ppdata" / f"subj{subject:02d}" / "transforms" / f"{h}.white-to-fsaverage.mgz"
        if lab.size not in (10242, 163842) and tr.exists():
            lab = lab[np.asarray(nib.load(tr).dataobj).reshape(-1).astype(np.int64) - 1]
        out[h] = lab
    return out


def test_encoding_prf_outputs(nsd, tmp_path):
    cfg = load_config("encoding_prf", overrides=TINY_ENCODING)
    res = run_pipeline(nsd, tmp_path, "participant", cfg, participants=["01"], device="cpu", progress=False)
    d = tmp_path / "neuro-igc" / "sub-01" / "func"
    igc = AttributionResult.load(d / "sub-01_desc-prf_igc.npz")
    params = pd.read_csv(d / "sub-01_desc-prf_prf.tsv", sep="\t")
    assert igc.attributions.shape == (len(params), 1, 16, 16)
    assert {"hemi", "vertex", "x", "y", "sigma", "angle", "eccentricity", "size", "r2", "correlation"} <= set(params)
    np.testing.assert_allclose(params["correlation"], igc.correlation)
    lh = params["hemi"] == "lh"
    angle = nib.load(d / "sub-01_hemi-L_space-fsaverage_den-10k_stat-prf_desc-prfAngle_statmap.func.gii").darrays[0].data
    np.testing.assert_allclose(angle[params["vertex"][lh]], params["angle"][lh].astype(np.float32))
    assert (d.parent / "figures" / "sub-01_desc-prf_prfexamples.png").exists()
    roi = pd.read_csv(d / "sub-01_atlas-prfvisualrois_desc-prf_roisums.tsv", sep="\t")
    labels = subject_labels_on_fsaverage(nsd, 1, "prf-visualrois")  # a subject atlas: the subject's own labels
    in_v1 = np.array([labels[h][v] in (1, 2) for h, v in zip(params["hemi"], params["vertex"])])  # V1v, V1d
    v1 = roi[(roi["roi"] == "V1") & (roi["output"] == "size")]
    assert np.isclose(float(v1["value"].iloc[0]), params["size"][in_v1].mean())  # the ROI mean of V1
    assert "pRF maps" in res.report.read_text()
    grp = run_pipeline(nsd, tmp_path, "group", cfg, participants=["01"], device="cpu", progress=False)
    assert (tmp_path / "neuro-igc" / "group" / "atlas-prfvisualrois_desc-prf_roisummary.tsv").exists()
    assert grp.report.exists()


def test_encoding_layer_profiles(nsd, tmp_path):
    """attribution.layers: per-ROI layer profiles whose totals are the ROI's summed correlations."""
    cfg = load_config("encoding_prf", overrides={**TINY_ENCODING, "attribution.layers": ["stem", "stages.0"],
                                                 "outputs.prf.enabled": False})
    res = run_pipeline(nsd, tmp_path, "participant", cfg, participants=["01"], device="cpu", progress=False)
    d = tmp_path / "neuro-igc" / "sub-01" / "func"
    igc = AttributionResult.load(d / "sub-01_desc-prf_igc.npz")
    prof = pd.read_csv(d / "sub-01_desc-prf_layerprofile.tsv", sep="\t", na_values="n/a")
    assert set(prof["layer"]) == {"stem", "stages.0"}
    totals = igc.attributions.reshape(len(igc.correlation), -1).sum(1)
    for _, g in prof.groupby(["atlas", "roi"]):
        # every layer passes all of the computation: the same total at each layer
        np.testing.assert_allclose(g["total"], g["total"].iloc[0], rtol=1e-4, atol=1e-6)
    v1 = prof[(prof["roi"] == "V1") & (prof["layer"] == "stem")]
    assert len(v1) == 1 and int(v1["n_vertices"].iloc[0]) > 0
    # all V1 vertices are outputs here (data.roi_labels V1v, V1d): the V1 total is the sum of every map
    np.testing.assert_allclose(float(v1["total"].iloc[0]), totals.sum(), rtol=1e-4, atol=1e-5)
    assert ((prof["effective_units"] > 0) & (prof["effective_units"] <= 1)).all()
    maps = np.load(d / "sub-01_desc-prf_layerroimaps.npz")
    assert maps["prf-visualrois|V1|stem"].shape == (4, 8, 8)
    assert (d.parent / "figures" / "sub-01_desc-prf_layerprofile.png").exists()
    assert "Layer profiles" in res.report.read_text()


def test_encoding_group_layer_profiles(nsd, tmp_path):
    """The group level summarizes the subjects' layer profiles (mean and SD across subjects) and
    refuses subjects whose participant level ran with other layers."""
    overrides = {**TINY_ENCODING, "attribution.layers": ["stem", "stages.0"], "outputs.prf.enabled": False}
    cfg = load_config("encoding_prf", overrides=overrides)
    run_pipeline(nsd, tmp_path, "participant", cfg, device="cpu", progress=False)
    grp = run_pipeline(nsd, tmp_path, "group", cfg, device="cpu", progress=False)
    root = tmp_path / "neuro-igc"
    subs = {s: pd.read_csv(root / f"sub-{s}" / "func" / f"sub-{s}_desc-prf_layerprofile.tsv", sep="\t",
                           na_values="n/a") for s in ("01", "02")}
    both = pd.concat(subs.values(), ignore_index=True)
    for atlas in cfg.outputs.roi.atlases:
        path = root / "group" / f"atlas-{atlas.replace('-', '').lower()}_desc-prf_layersummary.tsv"
        group = pd.read_csv(path, sep="\t", na_values="n/a", keep_default_na=False)
        assert json.loads(path.with_suffix(".json").read_text())["Subjects"] == ["01", "02"]
        part = both[both["atlas"] == atlas]
        values = ["total", "effective_units", "top_share", "area50"]
        expected = part.groupby(["roi", "layer"])[values].agg(["mean", "std", "count"])
        assert len(group) == len(expected) > 0 and set(group["layer"]) == {"stem", "stages.0"}
        for _, row in group.iterrows():
            e = expected.loc[(row["roi"], row["layer"])]
            assert row["n_subjects"] == e[("total", "count")] == 2
            for c in values:
                np.testing.assert_allclose(row[f"{c}_mean"], e[(c, "mean")], rtol=1e-12, equal_nan=True)
                np.testing.assert_allclose(row[f"{c}_sd"], e[(c, "std")], rtol=1e-12, equal_nan=True)
    assert (root / "group" / "figures" / "desc-prf_layersummary.png").exists()
    report = grp.report.read_text()
    assert "Group layer profiles" in report and "effective_units_sd" in report
    # a group of one subject: its values, no spread
    one = run_pipeline(nsd, tmp_path, "group", cfg, participants=["01"], device="cpu", progress=False)
    path = root / "group" / "atlas-prfvisualrois_desc-prf_layersummary.tsv"
    single = pd.read_csv(path, sep="\t", na_values="n/a", keep_default_na=False)
    assert (single["n_subjects"] == 1).all() and single["total_sd"].isna().all()
    mine = subs["01"][subs["01"]["atlas"] == "prf-visualrois"]
    np.testing.assert_array_equal(single["total_mean"], mine["total"])
    assert "Group layer profiles" in one.report.read_text() and "effective_units_sd" not in one.report.read_text()
    # sub-02 redone with other layers: the settings check refuses to summarize them together
    other = load_config("encoding_prf", overrides={**overrides, "attribution.layers": ["stem"]})
    run_pipeline(nsd, tmp_path, "participant", other, participants=["02"], device="cpu", progress=False)
    with pytest.raises(PipelineError, match="attribution.layers"):
        run_pipeline(nsd, tmp_path, "group", cfg, device="cpu", progress=False)
