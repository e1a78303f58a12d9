"""`neuro-igc demo --toy`: the in-memory IGC example runs end to end and writes its result."""

from __future__ import annotations

import numpy as np

from neuro_igc import cli
from neuro_igc.attribution import AttributionResult


def test_demo_runs_and_finds_planted_components(tmp_path, capsys):
    from neuro_igc._toy_demo import SIGNAL

    assert cli.main(["demo", "--toy", str(tmp_path / "out"), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "top components" in text and "IGC error" in text and "igc_demo.npz" in text
    res = AttributionResult.load(tmp_path / "out" / "igc_demo.npz")
    top = set(np.argsort(-np.abs(res.attributions[0]))[: len(SIGNAL)].tolist())
    assert top == set(SIGNAL)
    # the quadrature part of the IGC error is small; the rest is the per-sample baselines' term,
    # of order 1 / sqrt(n_samples * n_baselines) = 0.011 here
    assert abs(res.attributions[0].sum() + res.baseline_term[0] - res.correlation[0]) < 0.01
    assert abs(res.baseline_term[0]) < 3 / np.sqrt(1000 * 8)
    assert "baseline term" in text
    assert (tmp_path / "out" / "igc_demo_roi.csv").exists()
