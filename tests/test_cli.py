"""The ``neuro-igc`` command line, in-process: help, exit codes, errors, skip-if-unchanged, --force."""

from __future__ import annotations

import json

import pytest

from neuro_igc.cli import main as cli_main
from neuro_igc.pipeline._cli import main as bids_main

# a benchmark run of a second: one experiment, two methods, few samples and steps
TINY_BENCHMARK = [
    "--config", "synthetic_benchmark",
    "--set", "benchmark.experiments=[A]",
    "--set", "benchmark.n_samples=40",
    "--set", "benchmark.params={methods: [IGC, IG mean], n_steps: 4, baselines: 2, n_mc: 500}",
    "--no-progress",
]


def test_help_and_usage(capsys):
    assert bids_main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "NSD_ROOT OUTPUT_DIR {participant,group}" in out
    for option in ("--participant-label", "--config", "--device", "--force", "--n-jobs", "--set"):
        assert option in out
    assert "decoding_image_stats" in out  # shipped pipelines are listed
    assert cli_main(["--help"]) == 0
    assert "neuro-igc NSD_ROOT OUTPUT_DIR" in capsys.readouterr().out
    assert cli_main([]) == 2


def test_usage_errors_exit_2(tmp_path, capsys):
    assert bids_main([str(tmp_path), str(tmp_path / "out"), "everything"]) == 2
    assert "invalid choice: 'everything'" in capsys.readouterr().err
    assert bids_main([str(tmp_path)]) == 2
    assert bids_main([str(tmp_path), str(tmp_path / "out"), "participant", "--n-jobs", "two"]) == 2


def test_input_errors_exit_1_with_message(tmp_path, capsys):
    out = str(tmp_path / "out")
    assert bids_main([str(tmp_path / "missing"), out, "participant", "--config", "decoding_image_stats"]) == 1
    assert "NSD_ROOT" in capsys.readouterr().err
    assert bids_main([str(tmp_path), out, "participant", "--config", str(tmp_path / "none.yaml")]) == 1
    assert "Missing file for 'config'" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntask: decoding\nmodel: {name: decoding_mlp}\ntraining: {epochs: many}\n")
    assert bids_main([str(tmp_path), out, "participant", "--config", str(bad)]) == 1
    assert "Invalid value for 'training.epochs'" in capsys.readouterr().err
    assert bids_main([str(tmp_path), out, "participant", "--set", "training.epoch=3"]) == 1
    err = capsys.readouterr().err
    # the mistake is the override's, not the config file's
    assert "Unknown key 'training.epoch' in --set training.epoch=3 (overriding " in err
    assert "in /" not in err.split("(overriding")[0]
    assert bids_main([str(tmp_path), out, "participant", "--set", "noequals"]) == 1
    assert "expected KEY=VALUE" in capsys.readouterr().err
    # an empty folder has no subjects
    assert bids_main([str(tmp_path), out, "participant", "--config", "decoding_image_stats"]) == 1
    assert "No subject found" in capsys.readouterr().err


def _records(root):
    return {p.stem: json.loads(p.read_text()) for p in (root / "logs" / "steps").glob("*.json")}


def test_benchmark_pipeline_skip_and_force(tmp_path, capsys):
    out = tmp_path / "out"
    args = [str(tmp_path), str(out), "participant", *TINY_BENCHMARK]
    assert bids_main(args) == 0
    text = capsys.readouterr().out
    assert "1 step(s) run, 0 unchanged" in text and "report:" in text
    root = out / "neuro-igc"
    table = root / "benchmark" / "desc-benchmark_scores.tsv"
    assert table.exists() and table.with_suffix(".json").exists()
    assert (root / "benchmark" / "figures" / "desc-benchmark_maps.png").exists()
    desc = json.loads((root / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative"
    assert desc["GeneratedBy"][0]["Config"]["benchmark"]["n_samples"] == 40
    assert list((root / "logs").glob("synthetic_benchmark_participant_*.log"))
    first = table.stat().st_mtime_ns
    # unchanged: skipped, the table is not rewritten
    assert bids_main(args) == 0
    assert "0 step(s) run, 1 unchanged" in capsys.readouterr().out
    assert table.stat().st_mtime_ns == first
    # --force redoes it
    assert bids_main([*args, "--force"]) == 0
    assert "1 step(s) run, 0 unchanged" in capsys.readouterr().out
    assert table.stat().st_mtime_ns != first
    # a changed setting redoes it too
    assert bids_main([*args, "--set", "benchmark.seed=1"]) == 0
    assert "1 step(s) run" in capsys.readouterr().out
    # group level has nothing to compute but reports
    assert bids_main([str(tmp_path), str(out), "group", *TINY_BENCHMARK]) == 0
    assert (root / "synthetic_benchmark_group_report.html").exists()


def test_failed_step_leaves_no_final_file(tmp_path, monkeypatch):
    """A step that dies half-way leaves neither its outputs nor a record (the re-run redoes it)."""
    import neuro_igc.benchmark as report_mod  # the pipeline takes the public name when the step runs

    def boom(*args, **kwargs):
        raise KeyboardInterrupt("killed while drawing")

    monkeypatch.setattr(report_mod, "plot_benchmark", boom)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        bids_main([str(tmp_path), str(out), "participant", *TINY_BENCHMARK])
    root = out / "neuro-igc"
    leftovers = [p for p in root.rglob("*") if p.is_file() and p.name != ".bidsignore"  # the dataset's own
                 and (p.name.startswith(".") or "tmp" in p.name)]
    assert leftovers == []
    assert not list((root / "logs" / "steps").glob("*.json")) if (root / "logs" / "steps").exists() else True
    assert not (root / "synthetic_benchmark_participant_report.html").exists()
    # the log of the failed run is complete (renamed at the end, not left as a temporary)
    assert list((root / "logs").glob("synthetic_benchmark_participant_*.log"))
    monkeypatch.undo()
    assert bids_main([str(tmp_path), str(out), "participant", *TINY_BENCHMARK]) == 0
