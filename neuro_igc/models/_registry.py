"""The model zoo by name: ``MODELS`` and :func:`build_model`."""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import torch

from neuro_igc._utils import check_option
from neuro_igc.models._convnext import EncodingConvNeXt
from neuro_igc.models._digits import DigitsClassifier
from neuro_igc.models._mlp import DecodingMLP
from neuro_igc.models._ridge import Ridge

__all__ = ["MODELS", "build_model"]

#: registry name -> model class; ``build_model`` and checkpoints use it
MODELS = {
    cls.name: cls for cls in (DecodingMLP, EncodingConvNeXt, Ridge, DigitsClassifier)
}


def build_model(name_or_config: str | Mapping, seed: int | None = None, **kwargs) -> torch.nn.Module:
    """Build a zoo model from its registry name or its config.

    Parameters
    ----------
    name_or_config : str or mapping
        A key of :data:`MODELS` (``"decoding_mlp"``, ``"encoding_convnext"``, ``"ridge"``,
        ``"digits_classifier"``), or a mapping ``{"name": ..., **kwargs}`` such as
        ``model.config``.
    seed : int, optional
        Seed the weight initialisation (the global torch RNG is left as it was).
    **kwargs
        Constructor arguments; they override those of a config.

    Returns
    -------
    torch.nn.Module

    Examples
    --------
    >>> model = build_model("decoding_mlp", n_inputs=100, n_subjects=2, seed=0)
    >>> build_model(model.config).config == model.config
    True
    """
    if isinstance(name_or_config, Mapping):
        config = dict(name_or_config)
        if "name" not in config:
            raise ValueError(
                f"A model config needs a 'name' key, one of {sorted(MODELS)}; got keys {sorted(config)}."
            )
        name = config.pop("name")
        config.update(kwargs)
    else:
        name, config = name_or_config, dict(kwargs)
    check_option("name", name, MODELS)
    cls = MODELS[name]
    params = inspect.signature(cls.__init__).parameters
    unknown = sorted(set(config) - set(params) - {"self"})
    if unknown:
        allowed = ", ".join(p for p in params if p != "self")
        raise TypeError(f"Unknown argument(s) {unknown} for model {name!r}; allowed are: {allowed}.")
    missing = [
        p for p, v in params.items()
        if p != "self" and v.default is inspect.Parameter.empty and p not in config
        and v.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if missing:
        raise TypeError(f"Model {name!r} needs the argument(s) {missing}.")
    if seed is None:
        return cls(**config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return cls(**config)
