"""``neuro-igc nsd check``: every file a run reads, and what is missing or malformed (headers only)."""

from __future__ import annotations

import json
import shutil

import h5py
import nibabel as nib
import numpy as np
import pytest

from neuro_igc.data._check import check_nsd
from neuro_igc.data._manifest import nsd_manifest
from neuro_igc.pipeline import config_from_dict
from neuro_igc.pipeline._nsd_cli import main
from nsd_s3 import CONFIG

VERSION = "betas_fithrf_GLMdenoise_RR"
LH1 = f"nsddata_betas/ppdata/subj01/fsaverage/{VERSION}/lh.betas_session01.mgh"


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "checkfetch.yaml"
    path.write_text(CONFIG)
    return str(path)


@pytest.fixture
def folder(tiny, tmp_path):
    """A copy of the tiny synthetic folder that a test may damage."""
    root = tmp_path / "nsd"
    shutil.copytree(tiny[0], root)
    return root


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_check_complete_folder(tiny, config_file, capsys):
    from neuro_igc.cli import main as neuro_igc

    code = neuro_igc(["nsd", "check", str(tiny[0]), "--config", config_file])  # the top-level command
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert code == 0, out
    assert "the run can read everything it needs" in out
    assert LH1 in out and "nsddata/freesurfer/fsaverage/label/lh.streams.mgz" in out
    assert "subj02: sessions on disk 1-2" in out


def test_shipped_pipelines_on_the_real_layout(folder, capsys):
    for name in ("decoding_image_stats", "encoding_prf"):
        for space in ("fsaverage", "nativesurface", "func1pt8mm"):
            code, out = run(capsys, "check", str(folder), "--config", name, "--space", space)
            assert code == 0, out
            assert "0 with warnings, 0 missing, 0 malformed" in out  # NSD's chunking, every file there
    assert "valid_session02.nii.gz" in out and "brainmask.nii.gz" in out
    assert "transforms" not in out  # volumes need no surface map
    # subject ROIs on fsaverage need the subject's index maps
    (folder / "nsddata/ppdata/subj01/transforms/lh.white-to-fsaverage.mgz").unlink()
    code, out = run(capsys, "check", str(folder), "--config", "encoding_prf", "--problems-only")
    assert code == 1, out
    assert "MISSING    nsddata/ppdata/subj01/transforms/lh.white-to-fsaverage.mgz" in out


def test_check_reports_missing_file(folder, config_file, capsys):
    (folder / LH1.replace("session01", "session02")).unlink()
    code, out = run(capsys, "check", str(folder), "--config", config_file, "--sessions", "1", "2")
    assert code == 1
    line = next(l for l in out.splitlines() if "lh.betas_session02.mgh" in l)
    assert line.startswith("MISSING") and "float32" in line
    assert "the run cannot succeed" in out
    assert (f"to download what is missing or malformed: neuro-igc nsd fetch {folder} --config {config_file} "
            "--subjects 1 2 --sessions 1 2") in out


def test_check_reports_wrong_dtype_and_shape(folder, config_file, capsys):
    img = nib.load(str(folder / LH1), mmap=False)
    data = np.asarray(img.dataobj)
    nib.MGHImage(np.nan_to_num(data).astype(np.int16), img.affine).to_filename(str(folder / LH1))  # wrong dtype
    rh2 = folder / LH1.replace("lh.", "rh.").replace("session01", "session02")
    img2 = nib.load(str(rh2), mmap=False)
    nib.MGHImage(np.asarray(img2.dataobj)[..., :-1], img2.affine).to_filename(str(rh2))  # one trial short
    code, out = run(capsys, "check", str(folder), "--config", config_file, "--problems-only")
    assert code == 1
    assert "dtype is int16, expected float32" in out
    assert f"found: ({data.shape[0]}, 1, 1, {data.shape[3]}) int16" in out
    assert (f"shape axis 3 is {data.shape[3] - 1}, but n_trials[subj01 session 02] is {data.shape[3]} in "
            f"{LH1.replace('session01', 'session02')}") in out
    assert "ok " not in out  # --problems-only


def test_check_reports_truncated_and_unreadable(folder, config_file, capsys):
    path = folder / LH1
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])  # an interrupted copy
    stim = folder / "nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5"
    stim.write_bytes(b"not an hdf5 file")
    code, out = run(capsys, "check", str(folder), "--config", config_file, "--json")
    assert code == 1
    report = json.loads(out)
    by_path = {f["path"]: f for f in report["files"]}
    assert by_path[LH1]["status"] == "malformed" and "truncated" in by_path[LH1]["problems"][0]
    stim_row = by_path["nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5"]
    assert stim_row["status"] == "malformed" and "cannot be read as hdf5" in stim_row["problems"][0]
    assert report["ok"] is False and report["counts"]["malformed"] == 2


def test_check_hdf5_dataset_and_chunks(folder):
    cfg = config_from_dict({"name": "v", "task": "decoding", "model": {"name": "ridge"},
                            "data": {"roi_atlas": "nsdgeneral"}, "outputs": {"roi": {"atlases": []}}})
    h5 = folder / f"nsddata_betas/ppdata/subj01/func1pt8mm/{VERSION}/betas_session01.hdf5"
    with h5py.File(h5, "r") as f:
        values = f["betas"][()]
    with h5py.File(h5, "w") as f:  # NSD's chunking: all trials of one voxel per chunk
        f.create_dataset("betas", data=values, chunks=(values.shape[0], 1, 1, 1))
    m = nsd_manifest(cfg, root=folder, space="func1pt8mm", subjects=[1], sessions=[1, 2])
    by_path = {r.spec.path: r for r in check_nsd(folder, m).results}
    assert by_path[str(h5.relative_to(folder))].status == "ok"
    other = str(h5.relative_to(folder)).replace("session01", "session02")
    assert by_path[other].status == "ok"  # the synthetic folder has NSD's chunking too
    with h5py.File(h5, "w") as f:  # one chunk per trial: reads of voxel subsets touch every chunk
        f.create_dataset("betas", data=values, chunks=(1,) + values.shape[1:])
    r = {r.spec.path: r for r in check_nsd(folder, m).results}[str(h5.relative_to(folder))]
    assert r.status == "warning" and "NSD's are" in r.problems[0] and check_nsd(folder, m).ok
    with h5py.File(h5, "w") as f:
        f.create_dataset("data", data=values)
    r = {r.spec.path: r for r in check_nsd(folder, m).results}[str(h5.relative_to(folder))]
    assert r.status == "malformed" and r.problems == ["dataset 'betas' is missing"]
    with h5py.File(h5, "w") as f:
        f.create_dataset("betas", data=values.astype(np.float32)[:, ::-1].copy()[:, :, :, :-1])
    r = {r.spec.path: r for r in check_nsd(folder, m).results}[str(h5.relative_to(folder))]
    assert r.status == "malformed"
    assert "dtype is float32, expected int16" in r.problems
    assert any(p.startswith("shape axis 3 is") and "X[subj01 func1pt8mm]" in p for p in r.problems)


def test_check_errors(tmp_path, config_file, capsys):
    code, out = run(capsys, "check", str(tmp_path / "nowhere"), "--config", config_file)
    assert code == 1 and "is not a folder" in out
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out = run(capsys, "check", str(empty), "--config", config_file)
    assert code == 1 and "no subject to run" in out
    code, out = run(capsys, "check", str(empty), "--config", str(tmp_path / "missing.yaml"))
    assert code == 1 and "Missing file for 'config'" in out
    code, out = run(capsys, "check", str(empty), "--space", "fsaverage7")
    assert code == 2


def test_check_index_maps_are_one_based(folder, capsys):
    lh = folder / "nsddata/ppdata/subj01/transforms/lh.white-to-fsaverage.mgz"
    img = nib.load(str(lh), mmap=False)
    values = np.asarray(img.dataobj).reshape(-1)
    n_native = nib.load(str(folder / "nsddata/freesurfer/subj01/label/lh.prf-visualrois.mgz")).shape[0]
    assert values.min() == 1 and values.max() <= n_native
    code, out = run(capsys, "check", str(folder), "--config", "encoding_prf")
    assert code == 0, out
    assert "values 1..native vertices[subj01 lh]" in out
    # the same map written 0-based, as numpy indices would be
    nib.MGHImage((values - 1).reshape(-1, 1, 1).astype(np.float32), img.affine).to_filename(str(lh))
    code, out = run(capsys, "check", str(folder), "--config", "encoding_prf", "--problems-only")
    assert code == 1
    assert "values start at 0, expected >= 1: NSD's maps are 1-based (a 0 means a 0-based map)" in out
    # a map indexing past the subject's native surface (e.g. another subject's or hemisphere's)
    nib.MGHImage((values + n_native).reshape(-1, 1, 1).astype(np.int32), img.affine).to_filename(str(lh))
    code, out = run(capsys, "check", str(folder), "--config", "encoding_prf", "--problems-only")
    assert code == 1
    assert (f"beyond the {n_native} vertices they index (native vertices[subj01 lh] in "
            "nsddata/freesurfer/subj01/label/lh.prf-visualrois.mgz)") in out
    rh = folder / "nsddata/ppdata/subj01/transforms/rh.white-to-fsaverage.mgz"
    nib.MGHImage(np.full((163842, 1, 1), 1.5, np.float32), img.affine).to_filename(str(rh))
    code, out = run(capsys, "check", str(folder), "--config", "encoding_prf", "--problems-only")
    assert "values are not all integers" in out
