"""A pipeline's ``attribution:`` block is the package's AttributionSettings, checked once on load."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import neuro_igc
from neuro_igc.attribution import AttributionSettings
from neuro_igc.pipeline import ConfigError, load_config
from neuro_igc.pipeline import config_from_dict


def test_the_block_is_the_attribution_settings():
    cfg = load_config("encoding_prf", overrides={"attribution.n_steps": 6, "attribution.params.auto_tol": 0.02,
                                                 "attribution.params.readout": False, "attribution.n_samples": 9})
    a = cfg.attribution
    assert type(a) is AttributionSettings
    assert (a.n_steps, a.auto_tol, a.readout, a.warn) == (6, 0.02, False, False)  # warn: the pipeline reports
    assert cfg.attribution_samples == 9
    block = cfg.to_dict()["attribution"]
    assert block == {"method": "gauss-legendre", "n_steps": 6, "baselines": a.baselines, "n_samples": 9,
                     "batch_size": None, "seed": 0, "params": {"auto_tol": 0.02, "readout": False}, "layers": []}
    again = config_from_dict(cfg.to_dict(), source="round trip")
    assert again.attribution == cfg.attribution and again.attribution_samples == 9


@pytest.mark.parametrize("key, value, words", [
    ("attribution.n_steps", 0, ["'attribution.n_steps'", "needs an integer >= 1"]),
    ("attribution.method", "simpson", ["'attribution.method'", "allowed are 'gauss-legendre'"]),
    ("attribution.params.auto_tol", 3, ["'attribution.params.auto_tol'", "(0, 1)"]),
    ("attribution.params.vjp", "vmap", ["'attribution.params.vjp'", "'batched'"]),
])
def test_bad_settings_name_the_key(key, value, words):
    with pytest.raises(ConfigError) as info:
        load_config("decoding_image_stats", overrides={key: value})
    for w in words:
        assert w in str(info.value)


def test_one_class_of_that_name():
    root = Path(neuro_igc.__file__).parent
    found = [f for f in root.rglob("*.py")
             for node in ast.walk(ast.parse(f.read_text()))
             if isinstance(node, ast.ClassDef) and node.name == "AttributionSettings"]
    assert [f.relative_to(root).as_posix() for f in found] == ["attribution/_settings.py"]
