"""`neuro-igc demo` (what `make demo` runs): synthetic folder, both pipelines, recovery figures.

The default test runs the demo's machinery on shrunken settings; the `slow` test runs it at the
demo's own scale and checks the recovery targets of the planted truth.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from neuro_igc import cli
from neuro_igc._demo import DEMO_PIPELINES, RECOVERY_TARGETS, _print_summary, recovery_rows, run_demo

TINY = {"training.epochs": 1, "attribution.n_steps": 2, "attribution.baselines": 1, "attribution.n_samples": 8,
        "outputs.views": ["posterior"], "synthetic.params": {"trials": 120, "image_size": 64, "volume_spaces": []}}
TINY_PER_PIPELINE = {"encoding_prf": {"data.roi_labels": ["V1v", "V1d"], "data.image_size": 16,
                                      "model.params.hidden": 8, "model.params.stem_width": 4,
                                      "model.params.widths": [8]}}


def test_demo_runs_both_pipelines_and_reports_recovery(tmp_path, capsys):
    out = tmp_path / "demo"
    result = run_demo(out, subjects=1, overrides=TINY, pipeline_overrides=TINY_PER_PIPELINE, device="cpu",
                      progress=False)
    _print_summary(result)
    text = capsys.readouterr().out
    assert "recovery of the planted truth" in text and "Reports" in text
    summary = json.loads((out / "demo_summary.json").read_text())
    assert set(summary["reports"]) == {f"{p} {lvl}" for p in DEMO_PIPELINES for lvl in ("participant", "group")}
    for path in summary["reports"].values():
        assert path.endswith(".html") and (out / "neuro-igc" / path.rsplit("/", 1)[-1]).exists()
    assert {row["figure"] for row in summary["recovery"]} == set(RECOVERY_TARGETS)
    assert all(isinstance(row["met"], bool) for row in summary["recovery"])
    assert (out / "nsd_synthetic" / "synthetic_truth.json").exists()
    assert (out / "neuro-igc" / "sub-01").is_dir()

    # a second run reuses the folder and skips every finished step
    again = run_demo(out, subjects=1, overrides=TINY, pipeline_overrides=TINY_PER_PIPELINE, device="cpu",
                     progress=False)
    assert "reusing the synthetic folder" in capsys.readouterr().out
    for levels in again["runs"].values():
        for res in levels.values():
            assert res.records and all(r.skipped for r in res.records)


def test_recovery_rows_compare_with_the_targets():
    class Run:
        def __init__(self, scores):
            self.scores = scores

    rows = recovery_rows({
        "encoding_prf": Run({"prf_recovery": {"sub-01": {
            "V1": {"median_centre_error_deg": 0.3, "size_correlation": 0.6},
            "V2": {"median_centre_error_deg": 9.0, "size_correlation": 0.0}}}}),
        "decoding_image_stats": Run({"planted_roi_rank": {"sub-01": {"luminance_contrast": 1,
                                                                     "spectral_slope": 3}}}),
    })
    met = {(r["figure"], r.get("output")): r["met"] for r in rows}
    assert met == {("V1 median pRF centre error (deg)", None): True, ("V1 pRF size correlation", None): False,
                   ("rank of the planted ROI", "luminance_contrast"): True,
                   ("rank of the planted ROI", "spectral_slope"): False}


def test_demo_bad_override_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["demo", str(tmp_path / "d"), "--set", "training.epoch=3", "--no-progress"]) == 1
    assert "training.epoch" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_recovers_the_planted_truth_at_demo_scale(tmp_path):
    """The issue's targets, end to end at the demo's settings (about 5 minutes on 2 cores)."""
    result = run_demo(tmp_path / "demo", progress=False)
    rows = result["recovery"]
    centre = [r["value"] for r in rows if r["figure"] == "V1 median pRF centre error (deg)"]
    size = [r["value"] for r in rows if r["figure"] == "V1 pRF size correlation"]
    ranks = {r["output"]: r["value"] for r in rows if r["figure"] == "rank of the planted ROI"
             and r["output"] == "luminance_contrast"}
    assert len(centre) == len(size) == 2
    assert np.max(centre) <= 0.5
    assert np.min(size) >= 0.7
    assert ranks and all(v == 1 for v in ranks.values())
