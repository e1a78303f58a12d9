"""Pipeline configs: shipped files load, every kind of bad input names its key."""

from __future__ import annotations

import pytest
import yaml

from neuro_igc.pipeline import ConfigError, config_from_dict, load_config, settings_hash, shipped_pipelines

MINIMAL = {"name": "t", "task": "decoding", "model": {"name": "decoding_mlp"}}


def _with(**sections):
    d = yaml.safe_load(yaml.safe_dump(MINIMAL))
    for key, value in sections.items():
        node = d
        parts = key.split("__")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return d


def test_shipped_pipelines_load():
    names = shipped_pipelines()
    assert {"decoding_image_stats", "encoding_prf", "synthetic_benchmark", "decoding_ridge"} <= set(names)
    for name in names:
        cfg = load_config(name)
        assert cfg.name == name
        assert cfg.label.isalnum()
    assert load_config("encoding_prf").outputs.prf.enabled
    assert load_config("decoding_image_stats").data.targets == ["luminance_contrast", "spectral_slope"]


def test_defaults_and_label():
    cfg = config_from_dict({"name": "my_run-1", "task": "benchmark"})
    assert cfg.label == "myrun1"
    assert cfg.attribution.method == "gauss-legendre"
    assert cfg.to_dict()["outputs"]["roi"]["merge"]["V1"] == ["V1v", "V1d"]


@pytest.mark.parametrize(
    "data, match",
    [
        (_with(modle={"name": "x"}), r"Unknown key 'modle'.*allowed keys here are .*'model'"),
        (_with(model__nmae="x"), r"Unknown key 'model.nmae'"),
        (_with(outputs__roi__atlas=["a"]), r"Unknown key 'outputs.roi.atlas'"),
        (_with(training__epochs="ten"), r"Invalid value for 'training.epochs'.*expected an integer; got 'ten'"),
        (_with(training__epochs=True), r"'training.epochs'.*expected an integer"),
        (_with(training__lr="fast"), r"'training.lr'.*expected a number"),
        (_with(data__targets="luminance_contrast"), r"'data.targets'.*expected a list of strings"),
        (_with(data__sessions=[1, "two"]), r"'data.sessions\[1\]'"),
        (_with(data__zscore="yes"), r"'data.zscore'.*true/false"),
        (_with(task="decode"), r"'task'.*allowed are 'decoding', 'encoding', 'benchmark'; got 'decode'"),
        (_with(data__density="fsaverage6"), r"'data.density'.*allowed are 'fsaverage5', 'fsaverage'"),
        (_with(attribution__n_steps="many"), r"'attribution.n_steps'.*an integer or one of 'auto'"),
        (_with(attribution__method="simpson"), r"'attribution.method'.*allowed are 'gauss-legendre'.*got 'simpson'"),
        (_with(attribution__baselines=0), r"'attribution.baselines'.*>= 1; got 0"),
        (_with(training__keep=3, training__n_models=2), r"'training.keep'.*keep <= n_models"),
        (_with(label="has-dash"), r"'label'.*letters and digits only"),
        (_with(outputs="yes"), r"'outputs'.*expected a mapping"),
        ({"task": "decoding"}, r"Missing required key 'name'"),
        ({"name": "t", "task": "encoding"}, r"Missing required key 'model.name'"),
    ],
)
def test_config_errors_name_the_key(data, match):
    with pytest.raises(ConfigError, match=match):
        config_from_dict(data, source="my.yaml")


def test_missing_file_names_key_and_path(tmp_path):
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(yaml.safe_dump(_with(model__checkpoint="models/missing.pt")))
    with pytest.raises(ConfigError, match=r"Missing file for 'model.checkpoint'.*missing.pt.*does not exist"):
        load_config(cfg_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "missing.pt").write_bytes(b"")
    cfg = load_config(cfg_path)  # relative to the config's folder
    assert cfg.model.checkpoint == str(tmp_path / "models" / "missing.pt")


def test_missing_config_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match=r"Missing file for 'config'.*nope.yaml.*decoding_image_stats"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"Invalid YAML in .*bad.yaml"):
        load_config(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match=r"expected a mapping at the top level"):
        load_config(bad)


def test_overrides_are_validated():
    cfg = load_config("decoding_image_stats", overrides={"training.epochs": 3, "attribution.n_steps": "auto"})
    assert cfg.training.epochs == 3 and cfg.attribution.n_steps == "auto"
    with pytest.raises(ConfigError, match=r"'training.epochs'.*got 'x'"):
        load_config("decoding_image_stats", overrides={"training.epochs": "x"})
    with pytest.raises(ConfigError, match=r"Unknown key 'training.epoch'"):
        load_config("decoding_image_stats", overrides={"training.epoch": 3})


def test_settings_hash_stable_and_sensitive():
    a = load_config("decoding_image_stats")
    b = load_config("decoding_image_stats", overrides={"training.epochs": a.training.epochs + 1})
    assert a.section_hash("data", "model") == b.section_hash("data", "model")
    assert a.section_hash("training") != b.section_hash("training")
    assert settings_hash({"x": 1, "y": 2}) == settings_hash({"y": 2, "x": 1})
    assert settings_hash([1, 2]) != settings_hash([2, 1])


def test_training_section_gives_the_models_settings_type_checked_at_load():
    from neuro_igc.models import TrainingSettings

    cfg = config_from_dict(_with(training__epochs=3, training__params={"patience": 2, "min_lr": 1e-5}))
    st = cfg.training.settings()
    assert isinstance(st, TrainingSettings)
    assert (st.epochs, st.patience, st.min_lr, st.batch_size) == (3, 2, 1e-5, cfg.training.batch_size)
    with pytest.raises(ConfigError, match=r"Invalid value for 'training.params.patience' in <dict>: must be >= 0"):
        config_from_dict(_with(training__params={"patience": -1}))
    with pytest.raises(ConfigError, match=r"Invalid value for 'training.lr' in <dict>: must be > 0; got 0"):
        config_from_dict(_with(training__lr=0))


@pytest.mark.parametrize("key", ["version", "roi", "zscore_exclude", "space"])
def test_data_params_cannot_set_what_the_data_section_sets(key):
    # the pipeline passes these to NSD.betas from the data section's own fields
    with pytest.raises(ConfigError, match=rf"Invalid key 'data.params.{key}'.*sets '{key}'"):
        config_from_dict(_with(data__params={key: None}))
