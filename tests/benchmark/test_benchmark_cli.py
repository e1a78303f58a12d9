"""``neuro-igc benchmark`` in-process, with files in tmp_path."""

import pandas as pd
import pytest

from neuro_igc.benchmark._cli import DRY_RUN, _settings, build_parser, main
from neuro_igc.benchmark._run import PAPER_SETTINGS
from neuro_igc.cli import main as top_main


def test_small_run_writes_figure_tables_and_maps(tmp_path, capsys):
    out = tmp_path / "bench"
    rc = main(["--exp", "A", "--n-samples", "60", "--methods", "IGC", "correlation", "--steps", "2",
               "--out", str(out), "--no-digits", "--no-progress"])
    assert rc == 0
    table = pd.read_csv(out / "benchmark_scores.csv")
    assert list(table["method"]) == ["IGC", "correlation"] and (table["experiment"] == "A").all()
    paper = pd.read_csv(out / "benchmark_paper.csv")
    assert list(paper["method"]) == ["IGC"] and paper["paper"].tolist() == [">= 0.9"]
    assert paper["ours"].iloc[0] == table.set_index("method").loc["IGC", "truth_corr"]
    assert (out / "benchmark_scores.md").read_text().startswith("| experiment | method |")
    assert (out / "benchmark_maps.png").stat().st_size > 1000
    import numpy as np

    maps = np.load(out / "benchmark_maps.npz")
    assert set(maps.files) == {"A|ground truth", "A|IGC", "A|correlation"}
    printed = capsys.readouterr().out
    assert "wrote" in printed and "Ours beside the paper's figures" in printed


def test_dispatch_from_the_top_level_command(tmp_path):
    rc = top_main(["benchmark", "--exp", "B", "--n-samples", "40", "--methods", "t-test", "--out", str(tmp_path),
                   "--no-digits", "--no-progress", "--dry-run"])
    assert rc == 0 and (tmp_path / "benchmark_scores.csv").exists()


def test_paper_settings_flag_and_dry_run():
    args = build_parser().parse_args(["--out", "x", "--paper-settings"])
    n, settings, n_mc = _settings(args)
    assert n == PAPER_SETTINGS["n_samples"] and settings["n_steps"] == 512 and settings["baselines"] == 8
    assert settings["model_seeds"] == 10 and settings["model_keep"] == 5
    args = build_parser().parse_args(["--out", "x", "--paper-settings", "--dry-run", "--steps", "3"])
    n, settings, n_mc = _settings(args)
    assert n == DRY_RUN["n_samples"] and settings["n_steps"] == 3 and settings["baselines"] == 8
    assert settings["model_seeds"] == 2 and n_mc == DRY_RUN["n_mc"]


def test_bad_experiment_and_sample_count(tmp_path, capsys):
    assert main(["--exp", "E", "--out", str(tmp_path)]) == 2
    assert "Invalid value for 'experiments'" in capsys.readouterr().err
    assert main(["--exp", "A", "--n-samples", "5", "--out", str(tmp_path)]) == 2
    assert "'n_samples'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--exp", "A"])  # --out is required
