"""Nothing stale: a step rerun with other settings removes the files its earlier run wrote and this
one does not (one log line says so); what killed runs left (their logs being written, their
staging folders) is tidied by the next run."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from neuro_igc.pipeline import load_config, run_pipeline
from neuro_igc.pipeline._state import StepCache

TINY_BENCHMARK = {"benchmark.experiments": ["A"], "benchmark.n_samples": 40,
                  "benchmark.params": {"methods": ["IGC", "IG mean"], "n_steps": 4, "baselines": 2, "n_mc": 500}}


def _writer(names):
    def work(stage):
        for n in names:
            (stage / n).parent.mkdir(parents=True, exist_ok=True)
            (stage / n).write_text(n)
    return work


@pytest.mark.parametrize("relative", [False, True])
def test_a_rerun_removes_what_the_earlier_settings_wrote(tmp_path, caplog, monkeypatch, relative):
    monkeypatch.chdir(tmp_path)
    root = Path("neuro-igc") if relative else tmp_path / "neuro-igc"
    root.mkdir()
    StepCache(root).run("x/other", {"k": 0}, _writer(["sub-01/shared.txt"]))
    StepCache(root).run("x/maps", {"targets": ["a", "b"]},
                        _writer(["sub-01/a.txt", "sub-01/b.txt", "sub-01/figures/b.png", "sub-01/shared.txt"]))
    # another step now owns shared.txt: the rerun must not delete it
    StepCache(root).run("x/other", {"k": 1}, _writer(["sub-01/shared.txt"]))
    with caplog.at_level(logging.INFO, logger="neuro_igc"):
        rec = StepCache(root).run("x/maps", {"targets": ["a"]}, _writer(["sub-01/a.txt"]))
    assert rec.outputs == ["sub-01/a.txt"]
    assert sorted(str(p.relative_to(root)) for p in (root / "sub-01").rglob("*")) == ["sub-01/a.txt", "sub-01/shared.txt"]
    lines = [r.getMessage() for r in caplog.records if "removed" in r.getMessage()]
    assert len(lines) == 1 and "x/maps: removed 2 file(s) that its earlier settings wrote" in lines[0], lines
    assert "sub-01/b.txt" in lines[0] and "sub-01/figures/b.png" in lines[0]
    assert not (root / "sub-01" / "figures").exists()  # the folder it left empty goes too


def test_an_unchanged_rerun_removes_nothing(tmp_path, caplog):
    root = tmp_path / "neuro-igc"
    root.mkdir()
    StepCache(root).run("x/maps", {"t": 1}, _writer(["a.txt", "b.txt"]))
    with caplog.at_level(logging.INFO, logger="neuro_igc"):
        StepCache(root, force=True).run("x/maps", {"t": 1}, _writer(["a.txt", "b.txt"]))
    assert (root / "a.txt").exists() and (root / "b.txt").exists()
    assert not [r for r in caplog.records if "removed" in r.getMessage()]


def test_a_killed_runs_log_and_staging_folder_are_tidied(tmp_path):
    out = tmp_path / "out"
    logs = out / "neuro-igc" / "logs"
    logs.mkdir(parents=True)
    killed = logs / ".synthetic_benchmark_participant_20260101-120000.log.tmp"
    killed.write_text("2026-01-01 12:00:00,000 INFO neuro_igc.pipeline: step benchmark/benchmark: running\n")
    (out / "neuro-igc" / ".staging" / "benchmark_benchmark").mkdir(parents=True)
    (out / "neuro-igc" / ".staging" / "benchmark_benchmark" / "half.tsv").write_text("half written")
    res = run_pipeline(tmp_path, out, "participant", load_config("synthetic_benchmark", overrides=TINY_BENCHMARK),
                       device="cpu", progress=False)
    assert not list(logs.glob(".*"))  # no hidden temporary log left
    kept = logs / "synthetic_benchmark_participant_20260101-120000.log"
    assert kept.read_text().endswith("running\n")  # the interrupted run's log, kept whole
    assert not (out / "neuro-igc" / ".staging").exists()
    text = res.log.read_text()
    assert "the log of an interrupted run was left as" in text and "removed the staging folder" in text
    record = json.loads((logs / "steps" / "benchmark_benchmark.json").read_text())
    assert not any("half" in f for f in record["outputs"])
