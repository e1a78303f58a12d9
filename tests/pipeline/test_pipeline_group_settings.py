"""The group level summarizes the participants' outputs with the settings that made them: it reads
them from the participant level's step records, warns when the command line differs, shows them in
its report, and refuses to mix subjects processed with different settings."""

from __future__ import annotations

import json
import logging

import pytest
import yaml

from neuro_igc.pipeline import PipelineError, load_config, run_pipeline

# the smallest run that still trains, attributes and sums over ROIs (no figures: the check is about settings)
FAST = {"training.epochs": 1, "attribution.n_steps": 2, "attribution.baselines": 2, "attribution.n_samples": 8,
        "outputs.figures": False, "outputs.interactive": False, "outputs.surface": True}


@pytest.fixture(scope="module")
def nsd(tmp_path_factory):
    from neuro_igc.data import make_nsd_like

    root = tmp_path_factory.mktemp("nsd") / "nsd"
    make_nsd_like(root, subjects=2, sessions=2, trials=60, image_size=32, volume_spaces=(), seed=3,
                  progress=False)
    return root


def _report_settings(path) -> dict:
    text = path.read_text()
    block = text.split('<section id="settings">', 1)[1].split("<pre>", 1)[1].split("</pre>", 1)[0]
    import html

    return yaml.safe_load(html.unescape(block))


def test_group_uses_and_reports_participant_settings(nsd, tmp_path, caplog):
    out = tmp_path / "out"
    participant = load_config("decoding_image_stats", overrides={**FAST, "training.epochs": 2})
    run_pipeline(nsd, out, "participant", participant, device="cpu", progress=False)
    command_line = load_config("decoding_image_stats", overrides=FAST)  # group run without the epochs override
    assert command_line.training.epochs == 1
    with caplog.at_level(logging.WARNING, logger="neuro_igc"):
        group = run_pipeline(nsd, out, "group", command_line, device="cpu", progress=False)
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("training.epochs: participants 2, this command 1" in m and "--set training.epochs=2" in m
               for m in warned), warned
    assert len(group.warnings) == 1 and "--set training.epochs=2" in group.warnings[0]
    page = group.report.read_text()
    assert "Settings differ" in page and 'section id="settings-differ" class="warn"' in page
    settings = _report_settings(group.report)
    assert settings["training"]["epochs"] == 2  # what made the maps, not the command line's 1
    assert settings["attribution"]["n_steps"] == 2
    # the derivatives' description keeps the participant level's config too
    desc = json.loads((out / "neuro-igc" / "dataset_description.json").read_text())
    entry = next(g for g in desc["GeneratedBy"] if g["Description"] == "decoding_image_stats")
    assert entry["Config"]["training"]["epochs"] == 2

    # the participants' validation r and IGC errors are in the group report; vertex counts are integers
    assert "Participants: validation" in page and "Participants: IGC errors" in page
    for sub in ("01", "02"):
        assert page.count(f'<td class="l">{sub}</td><td class="l">luminance_contrast</td>') == 2
    import pandas as pd

    summary = pd.read_csv(out / "neuro-igc" / "group" / "atlas-prfvisualrois_desc-imagestats_roisummary.tsv",
                          sep="\t")
    for col in ("n_features", "n_features_min", "n_features_max"):
        assert summary[col].dtype.kind == "i"
    assert (summary["n_features_min"] <= summary["n_features"]).all()
    assert (summary["n_features"] <= summary["n_features_max"]).all()

    # the same command as the participant level: no warning, no flagged section
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="neuro_igc"):
        same = run_pipeline(nsd, out, "group", participant, device="cpu", progress=False)
    assert not [r for r in caplog.records if "other settings" in r.getMessage()]
    assert "Settings differ" not in same.report.read_text() and not same.warnings
    assert _report_settings(same.report)["training"]["epochs"] == 2


def test_group_refuses_subjects_with_different_settings(nsd, tmp_path):
    out = tmp_path / "out"
    run_pipeline(nsd, out, "participant", load_config("decoding_image_stats", overrides=FAST), ["01"],
                 device="cpu", progress=False)
    other = load_config("decoding_image_stats", overrides={**FAST, "attribution.baselines": 3})
    run_pipeline(nsd, out, "participant", other, ["02"], device="cpu", progress=False)
    with pytest.raises(PipelineError, match=r"different settings for sub-01 and sub-02 \(attribution.baselines: "
                                            r"sub-01 2, sub-02 3\)"):
        run_pipeline(nsd, out, "group", other, device="cpu", progress=False)


def test_command_line_warns_on_stderr(nsd, tmp_path, capsys):
    from neuro_igc.pipeline._cli import main

    fast = [a for k, v in FAST.items() for a in ("--set", f"{k}={str(v).lower()}")]
    common = [str(nsd), str(tmp_path / "out")]
    assert main([*common, "participant", "--participant-label", "01", *fast, "--set", "training.epochs=2",
                 "--no-progress"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert main([*common, "group", "--participant-label", "01", *fast, "--no-progress"]) == 0
    captured = capsys.readouterr()
    line = next(x for x in captured.err.splitlines() if x.startswith("neuro-igc: warning:"))
    assert "training.epochs: participants 2, this command 1" in line and "--set training.epochs=2" in line
    assert "WARNING: the participant outputs were made with other settings" in captured.out
