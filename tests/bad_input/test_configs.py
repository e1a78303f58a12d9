"""Bad pipeline configs are refused when they load, naming the key and what is allowed: typos in
the free-form ``params`` blocks included (not found only after training)."""

from __future__ import annotations

import pytest

from neuro_igc.pipeline import ConfigError, load_config


@pytest.mark.parametrize("pipeline, key, words", [
    ("encoding_prf", "attribution.params.nsteps", ["Unknown key 'attribution.params.nsteps'", "'auto_tol'"]),
    ("encoding_prf", "training.params.patiense", ["Unknown key 'training.params.patiense'", "'patience'"]),
    ("encoding_prf", "outputs.prf.params.max_iters", ["Unknown key 'outputs.prf.params.max_iters'", "'max_iter'"]),
    ("encoding_prf", "data.params.nans", ["Unknown key 'data.params.nans'", "'nan'"]),
    ("encoding_prf", "synthetic.params.trial", ["Unknown key 'synthetic.params.trial'", "'trials'"]),
    ("synthetic_benchmark", "benchmark.params.steps", ["Unknown key 'benchmark.params.steps'", "'n_steps'"]),
    ("decoding_image_stats", "model.params.hiden", ["Unknown key 'model.params.hiden'", "'hidden'"]),
])
def test_params_typo_names_the_key_and_the_valid_ones(pipeline, key, words):
    with pytest.raises(ConfigError) as info:
        load_config(pipeline, overrides={key: 1})
    for w in words:
        assert w in str(info.value)


@pytest.mark.parametrize("pipeline, key, words", [
    ("encoding_prf", "attribution.params.n_steps", ["Invalid key 'attribution.params.n_steps'", "sets 'n_steps'"]),
    ("encoding_prf", "training.params.lr", ["Invalid key 'training.params.lr'", "sets 'lr'"]),
    ("encoding_prf", "outputs.prf.params.sign", ["Invalid key 'outputs.prf.params.sign'", "sets 'sign'"]),
    ("synthetic_benchmark", "benchmark.params.seed", ["Invalid key 'benchmark.params.seed'", "sets 'seed'"]),
    ("encoding_prf", "model.params.n_outputs", ["Invalid key 'model.params.n_outputs'", "from the data"]),
])
def test_params_that_the_pipeline_sets_are_refused(pipeline, key, words):
    with pytest.raises(ConfigError) as info:
        load_config(pipeline, overrides={key: 1})
    for w in words:
        assert w in str(info.value)


def test_valid_params_pass():
    cfg = load_config("encoding_prf", overrides={"attribution.params.auto_tol": 0.01,
                                                 "training.params.patience": 2,
                                                 "outputs.prf.params.max_iter": 50,
                                                 "synthetic.params.trials": 30})
    assert cfg.training.params == {"patience": 2}
    assert load_config("synthetic_benchmark", overrides={"benchmark.params.n_steps": 4}).benchmark.params == {"n_steps": 4}


def test_override_into_a_value_that_is_not_a_section():
    with pytest.raises(ConfigError, match=r"Invalid override 'training.epochs.x': 'epochs' is not a section"):
        load_config("encoding_prf", overrides={"training.epochs.x": 1})


@pytest.mark.parametrize("order", [("attribution.n_samples", "attribution.baselines"),
                                   ("attribution.baselines", "attribution.n_samples")])
def test_overrides_that_fit_together_are_accepted_in_any_order(order):
    """encoding_prf.yaml has baselines: 6; n_samples=4 fits only with the baselines=2 given beside it."""
    values = {"attribution.n_samples": 4, "attribution.baselines": 2}
    cfg = load_config("encoding_prf", overrides={k: values[k] for k in order})
    assert cfg.attribution.baselines == 2 and cfg.attribution_samples == 4


def test_an_override_wrong_on_its_own_is_named():
    with pytest.raises(ConfigError, match=r"'attribution.baselines' in --set attribution.n_samples=4 \(overriding "):
        load_config("encoding_prf", overrides={"training.epochs": 2, "attribution.n_samples": 4})


def test_overrides_wrong_only_together_are_named_together():
    # each fits the file alone (n_samples: null there; baselines: 6 <= 7), not with the other
    with pytest.raises(ConfigError, match=r"'attribution.baselines' in --set attribution.baselines=8 "
                                          r"--set attribution.n_samples=7 \(overriding "):
        load_config("encoding_prf", overrides={"attribution.baselines": 8, "attribution.n_samples": 7})


def test_config_file_that_is_a_folder(tmp_path):
    with pytest.raises(ConfigError, match=r"is a folder; give a YAML file"):
        load_config(tmp_path)


def test_config_file_unreadable(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ConfigError, match=r"bad\.yaml"):
        load_config(bad)


def test_shipped_name_does_not_shadow_a_path(tmp_path):
    """A missing relative path that happens to end in a shipped name is not silently replaced."""
    with pytest.raises(ConfigError, match=r"'sub/encoding_prf' does not exist"):
        load_config("sub/encoding_prf")
