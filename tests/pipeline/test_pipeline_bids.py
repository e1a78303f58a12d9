"""The derivatives folder as the field's tools see it: the BIDS validator (bids-validator-deno) on a
participant + group run of every shipped pipeline, and pybids querying its maps, tables and sidecars."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from neuro_igc.pipeline import load_config, run_pipeline
from neuro_igc.pipeline._layout import BIDSIGNORE

TINY = {
    "decoding_image_stats": {"training.epochs": 1, "attribution.n_steps": 2, "attribution.baselines": 2,
                             "outputs.roi.atlases": ["prf-visualrois"], "outputs.figures": False,
                             "outputs.interactive": False},
    "decoding_ridge": {"model.params.alphas": [1.0, 100.0], "outputs.roi.atlases": ["prf-visualrois"],
                       "outputs.views": ["posterior"], "outputs.interactive": False},
    "encoding_prf": {"training.epochs": 1, "data.roi_labels": ["V1v", "V1d"], "data.image_size": 16,
                     "model.params.hidden": 8, "model.params.stem_width": 4, "model.params.widths": [8],
                     "attribution.n_samples": 6, "attribution.baselines": 2, "attribution.n_steps": 2,
                     "outputs.figures": False, "outputs.interactive": False},
    "synthetic_benchmark": {"benchmark.experiments": ["A"], "benchmark.n_samples": 40,
                            "benchmark.params": {"methods": ["IGC", "IG mean"], "n_steps": 4, "baselines": 2,
                                                 "n_mc": 500}},
}


@pytest.fixture(scope="module")
def derivatives(tmp_path_factory):
    """One output folder with a participant and a group run of every shipped pipeline."""
    from neuro_igc.data import make_nsd_like
    from neuro_igc.pipeline._config import shipped_pipelines

    assert set(TINY) == set(shipped_pipelines()), "a shipped pipeline is missing from this test"
    base = tmp_path_factory.mktemp("bids")
    nsd = base / "nsd"
    make_nsd_like(nsd, subjects=2, sessions=2, trials=100, image_size=64, volume_spaces=(), seed=1, progress=False)
    for name, overrides in TINY.items():
        cfg = load_config(name, overrides=overrides)
        for level in ("participant", "group"):
            run_pipeline(nsd, base / "out", level, cfg, device="cpu", progress=False)
    return base / "out" / "neuro-igc"


def test_dataset_files(derivatives):
    desc = json.loads((derivatives / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative" and desc["BIDSVersion"]
    assert desc["SourceDatasets"] == [{"URL": "../../nsd"}]  # relative: no path of the machine that ran it
    for entry in desc["GeneratedBy"]:
        assert entry["Name"] == "neuro-igc" and "arxiv" not in entry["CodeURL"]
        assert entry["ConfigFile"] == f"code/{entry['Description']}.yaml"
        assert (derivatives / entry["ConfigFile"]).is_file()
    assert {g["Description"] for g in desc["GeneratedBy"]} == set(TINY)
    assert (derivatives / "README.md").read_text().startswith("# neuro-igc derivatives")
    assert (derivatives / ".bidsignore").read_text().split() == list(BIDSIGNORE)
    empty = [p.relative_to(derivatives) for p in derivatives.rglob("*") if p.is_file() and p.stat().st_size == 0]
    assert empty == []  # the lock file included
    assert sorted(p.name for p in (derivatives / "sub-01").iterdir()) == ["anat", "figures", "func"]


def test_bids_validator_reports_no_error(derivatives):
    here = str(Path(sys.executable).parent)  # the environment's scripts, on PATH or not
    exe = next(filter(None, (shutil.which(n, path=f"{here}{os.pathsep}{os.environ.get('PATH', '')}")
                             for n in ("bids-validator-deno", "bids-validator"))), None)
    if exe is None:
        pytest.skip("the BIDS validator is not installed (pip install bids-validator-deno; .ci/run installs it)")
    proc = subprocess.run([exe, str(derivatives), "--format", "json"], capture_output=True, text=True, timeout=600)
    report = json.loads(proc.stdout)
    issues = report["issues"]["issues"]
    errors = sorted({i["code"] for i in issues if i["severity"] == "error"})
    warnings = sorted({i["code"] for i in issues if i["severity"] == "warning"})
    assert errors == [], proc.stdout[:3000]
    # the one warning left, listed in the README: the package cannot know who ran it
    assert set(warnings) <= {"TOO_FEW_AUTHORS"}, warnings
    assert sorted(report["summary"]["subjects"]) == ["01", "02"]
    assert proc.returncode == 0


def test_pybids_indexes_maps_tables_and_sidecars(derivatives):
    bids = pytest.importorskip("bids", reason="pybids is not installed (it is in the test extra)")
    layout = bids.BIDSLayout(derivatives, validate=False, is_derivative=True)  # metadata indexed
    assert layout.get_subjects() == ["01", "02"]
    maps = layout.get(subject="01", hemi="L", space="fsaverage", suffix="statmap", extension=".func.gii")
    descs = {f.entities["desc"] for f in maps}
    assert {"imagestatsLuminanceContrast", "ridgeSpectralSlope", "prfEccentricity"} <= descs
    for f in maps:
        assert f.entities["datatype"] == "func" and f.entities["den"] == "10k"
        meta = f.get_metadata()  # the sidecar
        assert meta["FillValue"] == 0 and meta["Hemisphere"] == "left"
        mask = layout.get_file(derivatives / meta["Mask"].removeprefix("bids::"))
        assert mask.entities["suffix"] == "dseg" and mask.entities["hemi"] == "L"
    right = layout.get(subject="02", hemi="R", desc="imagestatsLuminanceContrast", suffix="statmap",
                       extension=".mgz")
    assert len(right) == 1 and right[0].filename.startswith("sub-02_hemi-R_space-fsaverage_den-10k_")
    tables = layout.get(subject="01", suffix="roisums", extension=".tsv")
    assert {f.entities["desc"] for f in tables} == {"imagestats", "ridge", "prf"}
    for f in tables:
        assert f.entities["atlas"] == "prfvisualrois"
        assert "value" in f.get_metadata() and set(f.get_df().columns) >= {"output", "roi", "value"}
    dseg = layout.get(subject="01", suffix="dseg", extension=".label.gii", desc="imagestats")
    assert {f.entities["hemi"] for f in dseg} == {"L", "R"}
