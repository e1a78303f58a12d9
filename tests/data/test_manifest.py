"""The manifest of a run: exactly the NSD files the pipelines read, in NSD's real layout."""

from __future__ import annotations

import pytest

from neuro_igc.data._manifest import SUBJECT_ATLASES, Dim, nsd_manifest
from neuro_igc.pipeline import config_from_dict, load_config

BETAS = "nsddata_betas/ppdata/subj01"
VERSION = "betas_fithrf_GLMdenoise_RR"


def _config(**data):
    return config_from_dict({"name": "t", "task": "decoding", "model": {"name": "ridge"},
                             "data": data, "outputs": {"roi": {"atlases": []}}})


def test_fsaverage_subject_atlas_exact_list():
    m = nsd_manifest(_config(roi_atlas="prf-visualrois"), subjects=[1], sessions=[2])
    assert sorted(m.paths()) == sorted([
        "nsddata/experiments/nsd/nsd_expdesign.mat",
        "nsddata/experiments/nsd/nsd_stim_info_merged.csv",
        "nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5",
        "nsddata/ppdata/subj01/behav/responses.tsv",
        # a subject atlas on fsaverage: native labels + the subject's native -> fsaverage map
        "nsddata/freesurfer/subj01/label/lh.prf-visualrois.mgz",
        "nsddata/freesurfer/subj01/label/rh.prf-visualrois.mgz",
        "nsddata/freesurfer/subj01/label/prf-visualrois.mgz.ctab",
        "nsddata/ppdata/subj01/transforms/lh.white-to-fsaverage.mgz",
        "nsddata/ppdata/subj01/transforms/rh.white-to-fsaverage.mgz",
        "nsddata/ppdata/subj01/transforms/lh.fsaverage-to-white.mgz",  # the native vertex counts
        "nsddata/ppdata/subj01/transforms/rh.fsaverage-to-white.mgz",
        f"{BETAS}/fsaverage/{VERSION}/lh.betas_session02.mgh",
        f"{BETAS}/fsaverage/{VERSION}/rh.betas_session02.mgh",
    ])
    by_path = {f.path: f for f in m}
    w2f = by_path["nsddata/ppdata/subj01/transforms/lh.white-to-fsaverage.mgz"]
    assert w2f.shape == (163842, 1, 1) and w2f.dtype == "number"
    assert w2f.index_range == (1, Dim("native vertices[subj01 lh]"))  # 1-based native vertex numbers
    f2w = by_path["nsddata/ppdata/subj01/transforms/lh.fsaverage-to-white.mgz"]
    assert f2w.shape[0] == Dim("native vertices[subj01 lh]") and f2w.index_range == (1, 163842)
    lh = by_path[f"{BETAS}/fsaverage/{VERSION}/lh.betas_session02.mgh"]
    rh = by_path[f"{BETAS}/fsaverage/{VERSION}/rh.betas_session02.mgh"]
    assert lh.dtype == "float32" and lh.shape[1:3] == (1, 1)
    assert lh.shape[0].allowed == (163842, 10242)  # fsaverage5 runs decimate full-density files
    assert lh.shape[3] == rh.shape[3] and lh.shape[3].name  # both hemispheres: same trial count
    label = by_path["nsddata/freesurfer/subj01/label/lh.prf-visualrois.mgz"]
    assert label.shape[0] == Dim("native vertices[subj01 lh]")
    assert not by_path["nsddata/ppdata/subj01/behav/responses.tsv"].required
    # the package ships NSD's lookup tables: a missing ctab of a known atlas does not stop the run
    assert not by_path["nsddata/freesurfer/subj01/label/prf-visualrois.mgz.ctab"].required
    custom = nsd_manifest(_config(roi_atlas="myatlas"), subjects=[1], sessions=[1])
    assert {f.path: f for f in custom}["nsddata/freesurfer/fsaverage/label/myatlas.mgz.ctab"].required


def test_shipped_pipelines_read_subject_rois_from_native_labels():
    for name in ("decoding_image_stats", "encoding_prf", "decoding_ridge"):
        cfg = load_config(name)
        m = nsd_manifest(cfg, subjects=[1, 3], sessions=[1])
        paths = set(m.paths())
        atlases = [a for a in [cfg.data.roi_atlas, *cfg.outputs.roi.atlases] if a in SUBJECT_ATLASES]
        assert atlases
        for s in ("subj01", "subj03"):
            for h in ("lh", "rh"):
                assert f"nsddata/ppdata/{s}/transforms/{h}.white-to-fsaverage.mgz" in paths
                assert f"nsddata/ppdata/{s}/transforms/{h}.fsaverage-to-white.mgz" in paths
                for atlas in atlases:
                    assert f"nsddata/freesurfer/{s}/label/{h}.{atlas}.mgz" in paths
        # NSD has no subject atlas under fsaverage/label, and the run must not look there
        assert not any(p.startswith("nsddata/freesurfer/fsaverage/label/") and any(a in p for a in SUBJECT_ATLASES)
                       for p in paths)
        assert len(paths) == len(m.paths())  # no repeats


def test_full_density_accepts_only_163842():
    m = nsd_manifest(_config(roi_atlas="nsdgeneral", density="fsaverage"), subjects=[1], sessions=[1])
    by_path = {f.path: f for f in m}
    assert by_path["nsddata/freesurfer/fsaverage/label/lh.nsdgeneral.mgz"].shape[0].allowed == (163842,)
    assert by_path[f"{BETAS}/fsaverage/{VERSION}/lh.betas_session01.mgh"].shape[0].allowed == (163842,)
    assert not any("transforms" in p for p in by_path)  # group atlases need no transform


def test_nativesurface_space():
    m = nsd_manifest(_config(roi_atlas="nsdgeneral"), subjects=[2], sessions=[1], space="nativesurface",
                     atlases=["nsdgeneral", "visualsulc"])
    by_path = {f.path: f for f in m}
    betas = by_path[f"nsddata_betas/ppdata/subj02/nativesurface/{VERSION}/rh.betas_session01.hdf5"]
    assert (betas.format, betas.dataset, betas.dtype) == ("hdf5", "betas", "int16")
    assert betas.shape[1] == Dim("native vertices[subj02 rh]") and betas.chunks == (betas.shape[0], 1)
    f2w = by_path["nsddata/ppdata/subj02/transforms/rh.fsaverage-to-white.mgz"]
    assert f2w.shape[0] == betas.shape[1]  # one entry per native vertex
    assert "nsddata/ppdata/subj02/transforms/rh.white-to-fsaverage.mgz" in by_path
    assert "nsddata/freesurfer/subj02/label/rh.nsdgeneral.mgz" in by_path  # the subject's native copy
    assert not any(p.startswith("nsddata/freesurfer/fsaverage/") and "nsdgeneral" in p for p in by_path)
    # an atlas NSD has only on fsaverage reaches the native surface through fsaverage-to-white
    group = by_path["nsddata/freesurfer/fsaverage/label/rh.visualsulc.mgz"]
    assert group.shape[0].allowed == (163842,)
    assert "nsddata/freesurfer/subj02/label/rh.visualsulc.mgz" not in by_path


def test_volume_space():
    m = nsd_manifest(_config(roi_atlas="prf-visualrois"), subjects=[1], sessions=[1, 3], space="func1pt8mm",
                     atlases=["prf-visualrois", "nsdgeneral"])
    by_path = {f.path: f for f in m}
    mask = by_path["nsddata/ppdata/subj01/func1pt8mm/brainmask.nii.gz"]
    x, y, z = mask.shape
    h5 = by_path[f"{BETAS}/func1pt8mm/{VERSION}/betas_session03.hdf5"]
    assert h5.shape[1:] == (z, y, x) and h5.chunks == (h5.shape[0], 1, 1, 1) and h5.dtype == "int16"
    for ses in ("01", "03"):
        assert by_path[f"nsddata/ppdata/subj01/func1pt8mm/valid_session{ses}.nii.gz"].shape == (x, y, z)
    assert by_path["nsddata/ppdata/subj01/func1pt8mm/roi/prf-visualrois.nii.gz"].shape == (x, y, z)
    assert "nsddata/freesurfer/subj01/label/prf-visualrois.mgz.ctab" in by_path
    assert by_path["nsddata/ppdata/subj01/func1pt8mm/roi/nsdgeneral.nii.gz"].shape == (x, y, z)
    assert not any(p.startswith("nsddata/freesurfer/fsaverage/") for p in by_path)  # a volume run needs none
    assert not any(p.endswith(".mgh") or "transforms" in p for p in by_path)
    nifti = nsd_manifest(_config(roi_atlas="prf-visualrois", params={"source": "nifti"}), subjects=[1],
                         sessions=[1], space="func1pt8mm")
    assert f"{BETAS}/func1pt8mm/{VERSION}/betas_session01.nii.gz" in nifti.paths()
    assert not any(p.endswith(".hdf5") and "betas_session" in p for p in nifti.paths())


def test_sessions_default_to_every_nsd_session():
    m = nsd_manifest(_config(roi_atlas="nsdgeneral"), subjects=["subj01", 3])
    assert m.sessions == {1: list(range(1, 41)), 3: list(range(1, 33))}
    assert f"nsddata_betas/ppdata/subj03/fsaverage/{VERSION}/rh.betas_session32.mgh" in m.paths()
    assert m.subjects == [1, 3]
    assert nsd_manifest(_config(roi_atlas="nsdgeneral")).subjects == list(range(1, 9))


def test_benchmark_reads_nothing():
    m = nsd_manifest(load_config("synthetic_benchmark"))
    assert len(m) == 0 and "reads no NSD file" in m.notes[0]


def test_bad_selection_errors():
    with pytest.raises(ValueError, match=r"subj03 has sessions 1\.\.32; got 40"):
        nsd_manifest(_config(), subjects=[3], sessions=[40])
    with pytest.raises(ValueError, match="Invalid value for 'space': allowed are 'fsaverage', 'nativesurface'"):
        nsd_manifest(_config(), space="fsaverage6")
    with pytest.raises(ValueError, match="Invalid value for 'subject'"):
        nsd_manifest(_config(), subjects=[9])


def test_session_preset():
    m = nsd_manifest(_config(), subjects=[1, 4], sessions="nsd37")
    assert m.sessions == {1: list(range(1, 38)), 4: list(range(1, 28))}
    cfg = config_from_dict({"name": "t", "task": "decoding", "model": {"name": "ridge"},
                            "data": {"sessions": "nsd37"}, "outputs": {"roi": {"atlases": []}}})
    assert nsd_manifest(cfg, subjects=[3]).sessions == {3: list(range(1, 30))}
    with pytest.raises(ValueError, match="Invalid value for 'sessions': allowed are 'nsd37'"):
        nsd_manifest(_config(), subjects=[1], sessions="nsd38")
