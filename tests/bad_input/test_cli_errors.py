"""User mistakes on the command line: one line on stderr naming the problem, exit status 1 (2
for usage errors), no traceback; ``--debug`` shows the traceback."""

from __future__ import annotations

import pytest

from neuro_igc.cli import main

BENCH = ["--config", "synthetic_benchmark", "--no-progress"]


def _err(capsys) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    lines = [line for line in captured.err.splitlines() if not line.startswith(("INFO ", "WARNING ", "ERROR "))]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("neuro-igc: error: ")
    return lines[0]


@pytest.mark.parametrize("extra, words", [
    (["--set", "training"], ["'--set'", "KEY=VALUE", "'training'"]),
    (["--set", "=3"], ["'--set'", "KEY=VALUE"]),
    (["--set", "benchmark..seed=3"], ["'--set'", "dotted KEY"]),
    (["--set", "benchmark.experiments=[A,"], ["'--set benchmark.experiments'", "not a YAML value"]),
    (["--set", "benchmark.nsamples=3"], ["Unknown key 'benchmark.nsamples'", "'n_samples'"]),
    (["--set", "benchmark.n_samples=many"], ["Invalid value for 'benchmark.n_samples'"]),
    (["--set", "benchmark.params.n_stepz=3"], ["Unknown key 'benchmark.params.n_stepz'", "'n_steps'"]),
    (["--set", "benchmark.params.seed=3"], ["Invalid key 'benchmark.params.seed'", "sets 'seed'"]),
    (["--device", "gpu"], ["Invalid value for 'device'", "'gpu'", "'cpu'"]),
    (["--device", "cuda:x"], ["Invalid value for 'device'", "'cuda:x'"]),
    (["--n-jobs", "0"], ["'--n-jobs'", ">= 1"]),
])
def test_bad_options(tmp_path, capsys, extra, words):
    assert main([str(tmp_path), str(tmp_path / "out"), "participant", *BENCH, *extra]) == 1
    line = _err(capsys)
    for w in words:
        assert w in line


def test_config_that_is_a_folder(tmp_path, capsys):
    assert main([str(tmp_path), str(tmp_path / "out"), "participant", "--config", str(tmp_path)]) == 1
    line = _err(capsys)
    assert "is a folder" in line and str(tmp_path) in line


def test_config_unreadable_bytes(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\xff\xfe\x00garbage\x00")
    assert main([str(tmp_path), str(tmp_path / "out"), "participant", "--config", str(bad)]) == 1
    line = _err(capsys)
    assert str(bad) in line


def test_config_not_a_mapping(tmp_path, capsys):
    bad = tmp_path / "list.yaml"
    bad.write_text("- a\n- b\n")
    assert main([str(tmp_path), str(tmp_path / "out"), "participant", "--config", str(bad)]) == 1
    assert "expected a mapping" in _err(capsys)


def test_unknown_pipeline_name(tmp_path, capsys):
    assert main([str(tmp_path), str(tmp_path / "out"), "participant", "--config", "encoding_prff"]) == 1
    line = _err(capsys)
    assert "'encoding_prff' does not exist" in line and "encoding_prf" in line


def test_pipelines_show_unknown_name(capsys):
    assert main(["pipelines", "show", "decoding"]) == 1
    line = _err(capsys)
    assert "Unknown pipeline 'decoding'" in line and "decoding_image_stats" in line


def test_output_dir_that_is_a_file(tmp_path, capsys):
    target = tmp_path / "results.txt"
    target.write_text("not a folder\n")
    assert main([str(tmp_path), str(target), "participant", *BENCH]) == 1
    line = _err(capsys)
    assert "OUTPUT_DIR" in line and "is a file" in line and str(target) in line


def test_output_dir_below_a_file(tmp_path, capsys):
    target = tmp_path / "results.txt"
    target.write_text("not a folder\n")
    assert main([str(tmp_path), str(target / "deeper"), "participant", *BENCH]) == 1
    line = _err(capsys)
    assert "OUTPUT_DIR" in line and "is a file" in line and str(target) in line


def test_nsd_root_that_is_a_file(tmp_path, capsys):
    f = tmp_path / "nsd.txt"
    f.write_text("x\n")
    assert main([str(f), str(tmp_path / "out"), "participant", "--config", "decoding_image_stats"]) == 1
    line = _err(capsys)
    assert "NSD_ROOT" in line and "is not a folder" in line


def test_usage_error_exits_2(tmp_path, capsys):
    assert main([str(tmp_path), str(tmp_path / "out"), "sometimes"]) == 2
    assert "invalid choice: 'sometimes'" in capsys.readouterr().err


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(ValueError, match="Invalid value for 'device'"):
        main([str(tmp_path), str(tmp_path / "out"), "participant", *BENCH, "--device", "gpu", "--debug"])


def test_unexpected_error_is_one_line_naming_its_type(tmp_path, capsys, monkeypatch):
    import neuro_igc.pipeline._run as run_mod

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(run_mod, "run_pipeline", broken)
    assert main([str(tmp_path), str(tmp_path / "out"), "participant", *BENCH]) == 1
    line = _err(capsys)
    assert "ZeroDivisionError" in line and "--debug" in line


@pytest.mark.parametrize("folder", ["nsd", "synth", "demo", "pipelines", "benchmark"])
def test_nsd_root_named_like_a_subcommand_is_the_bids_form(tmp_path, capsys, monkeypatch, folder):
    monkeypatch.chdir(tmp_path)
    assert main([folder, "out", "participant", "--config", "decoding_ridge"]) == 1
    line = _err(capsys)
    assert "NSD_ROOT" in line and repr(folder) in line  # read as NSD_ROOT, not as a sub-command
