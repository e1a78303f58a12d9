"""The step study: small runs checking its identities and the command line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuro_igc.attribution import igc
from neuro_igc.benchmark import STEP_STUDY_COLUMNS, make_experiment, run_step_study, steps_summary, write_step_report
from neuro_igc.benchmark._cli import main


@pytest.fixture(scope="module")
def study():
    return run_step_study(["A"], n_samples=8, steps=(2, 4), n_mc=200, return_maps=True, n_standardize=200)


def test_step_study_identities(study):
    table, maps = study
    assert tuple(table.columns) == STEP_STUDY_COLUMNS
    assert len(table) == 1 * 2 * 3 * 2 * 2  # experiment x kind x path x rule x steps
    idgi = table[table["rule"] == "idgi"]
    assert idgi["completeness_error"].max() < 1e-5  # IDGI telescopes exactly (float32 statistics: rounding)
    # Exp. A is linear: IG on the straight path is exact with any rule whose weights sum to 1
    straight = table[(table["rule"] == "quadrature") & (table["path"] == "straight")]
    assert straight["completeness_error"].max() < 1e-6
    ref = table[table["n_steps"] == 4]
    np.testing.assert_allclose(ref["corr_with_ref"], 1.0)
    assert np.isfinite(table["truth_corr"]).all()


def test_igc_map_is_igc(study):
    """The study's IGC map (taken from the per-sample IG) is what igc() computes."""
    _, maps = study
    from neuro_igc.benchmark._run import _SEED_OFFSET

    exp = make_experiment("A", n_standardize=200).eval()
    data = exp.sample(8, seed=_SEED_OFFSET["A"])
    res = igc(exp, data.x, data.y, baselines=2, n_steps=2, path="guided", rule="idgi",
              progress=False, warn=False)
    m = maps[("A", "IGC", "guided", "idgi", 2)]
    # float32 per-sample IG summed in float64 by both: agreement to float32 rounding
    np.testing.assert_allclose(m, res.attributions[0, 0], rtol=1e-4, atol=1e-6 * np.abs(m).max())


def test_steps_summary_reads_off_the_fewest_steps():
    import pandas as pd

    t = pd.DataFrame({"experiment": "A", "kind": "IG", "path": "straight", "rule": "quadrature",
                      "n_steps": [2, 4, 8], "completeness_error": [0.1, 0.005, 0.001],
                      "corr_with_ref": [0.9, 0.995, 1.0], "truth_corr": [0.1, 0.2, 0.3], "seconds": 0.0})
    s = steps_summary(t)
    assert s.loc[0, "steps_complete"] == 4 and s.loc[0, "steps_converged"] == 4 and s.loc[0, "truth_corr_ref"] == 0.3


def test_steps_study_errors():
    with pytest.raises(ValueError, match="Invalid value for 'experiments'"):
        run_step_study(["D"], n_samples=8)
    with pytest.raises(ValueError, match="Invalid value for 'paths'"):
        run_step_study(["A"], paths=["curved"], n_samples=8)


def test_cli_steps_study_dry_run(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--steps-study", "--dry-run", "--exp", "A", "--no-progress"]) == 0
    for name in ("steps_study.csv", "steps_study.md", "steps_summary.csv", "steps_summary.md", "steps_study.png",
                 "steps_report.md"):
        assert (tmp_path / name).is_file(), name
    assert "steps_complete" in capsys.readouterr().out
    # the report shows the summary table, the figure (a link that resolves) and every row
    report = (tmp_path / "steps_report.md").read_text()
    assert "](steps_study.png)" in report and (tmp_path / "steps_study.png").stat().st_size > 0
    summary = (tmp_path / "steps_summary.md").read_text().strip()
    rows = (tmp_path / "steps_study.md").read_text().strip()
    assert summary in report and rows in report
    assert report.index(summary) < report.index("](steps_study.png)") < report.index(rows)
    assert "n_samples=8" in report  # the settings it ran with


def test_step_report_marks_what_is_not_reached(study, tmp_path):
    table, _ = study
    path = write_step_report(table, tmp_path, figure=tmp_path / "fig.png", tol=1e-12, converged=1.5)
    text = path.read_text()
    assert path == tmp_path / "steps_report.md" and "](fig.png)" in text  # linked relative to the report
    summary = steps_summary(table, tol=1e-12, converged=1.5)
    assert summary["steps_converged"].isna().all()  # no correlation reaches 1.5
    rows = [line for line in text.splitlines() if line.startswith("| A | IG") and line.count("|") == 8]
    assert len(rows) == len(summary)  # the summary's rows (7 columns), IG and IGC
    assert all(line.split("|")[6].strip() == "" for line in rows)  # steps_converged: empty, not "nan"
    assert "nan" not in text.lower()
