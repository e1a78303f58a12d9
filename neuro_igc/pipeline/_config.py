"""Pipeline config files: schema, loading with validation, settings hashes.

A pipeline config is a YAML file (the shipped ones are package data in
``neuro_igc/pipeline/configs/``; ``neuro-igc pipelines show NAME > my.yaml`` copies one) with
these sections::

    name: decoding_image_stats      # required; also names the report
    task: decoding                  # required: decoding | encoding | benchmark
    label: imagestats               # letters/digits; prefixes every derivative's desc- entity
    data: {...}                     # which betas, vertices, targets or image size
    model: {name: ..., params: {...}, checkpoint: null}
    training: {epochs: ..., batch_size: ..., ...}
    attribution: {method: ..., n_steps: ..., baselines: ..., n_samples: ..., params: {...}}
    outputs: {surface: true, figures: true, roi: {...}, prf: {...}, report: true}
    benchmark: {...}                # task "benchmark" only
    synthetic: {...}                # the synthetic NSD-like folder made by --make-synthetic

Every key is checked on load: an unknown key, a value of the wrong type, a value outside the
allowed ones or a file that does not exist raises :class:`ConfigError` naming the dotted key and
the file.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib.resources
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from neuro_igc.attribution import AttributionSettings
from neuro_igc.pipeline._schema import ConfigError, from_dict, path_field, to_dict

__all__ = [
    "ConfigError",
    "PipelineConfig",
    "DataSettings",
    "ModelSettings",
    "TrainingSection",
    "AttributionSettings",
    "RoiSettings",
    "PrfSettings",
    "OutputSettings",
    "BenchmarkSettings",
    "SyntheticSettings",
    "load_config",
    "parse_overrides",
    "config_from_dict",
    "settings_hash",
    "PIPELINES_DIR",
    "shipped_pipelines",
    "shipped_config_path",
]

#: the shipped pipeline configs: package data, found in any installation (wheel or checkout)
PIPELINES_DIR = Path(str(importlib.resources.files("neuro_igc.pipeline") / "configs"))



def _default_merge() -> dict[str, list[str]]:
    """The ROI merges of ``neuro_igc.atlas.NSD_MERGES`` that join several ROIs (V1v + V1d -> V1)."""
    from neuro_igc.atlas import NSD_MERGES

    return {k: list(v) for k, v in NSD_MERGES["prf-visualrois"].items() if len(v) > 1}


@dataclass
class DataSettings:
    """Which data the model sees.

    ``roi_atlas``/``roi_labels`` select the vertices (decoding inputs, encoding outputs);
    ``targets`` are the image statistics a decoding model predicts; ``image_size`` the side of
    the (square, luminance) images an encoding model reads; ``augment`` draws one pixel per 2x2
    block of a double-size image at training (the paper's augmentation). ``params`` go to
    ``NSD.betas``. ``sessions``: a list, ``"nsd37"`` (every session but the last 3) or null (all).
    ``zscore_train_only``: the per-session z-scoring statistics leave out the validation (shared)
    images. Subject atlases (``prf-visualrois``, ``floc-*``) reach fsaverage from each subject's
    native labels through NSD's transforms.
    """

    space: Literal["fsaverage"] = "fsaverage"
    density: Literal["fsaverage5", "fsaverage"] = "fsaverage5"
    beta_version: str = field(default="betas_fithrf_GLMdenoise_RR", metadata={"arg": "version"})
    sessions: list[int] | Literal["nsd37"] | None = None
    zscore: bool = True
    zscore_train_only: bool = field(default=True, metadata={"arg": "zscore_exclude"})
    roi_atlas: str = field(default="nsdgeneral", metadata={"arg": "roi"})
    roi_labels: list[str] | None = None
    targets: list[str] = field(default_factory=lambda: ["luminance_contrast", "spectral_slope"])
    image_size: int = 32
    augment: bool = False
    max_trials: int | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelSettings:
    """Model from the zoo's registry (``neuro_igc.models``), or a trained checkpoint to reuse."""

    name: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = path_field()


@dataclass
class TrainingSection:
    """The ``training`` section: the settings every pipeline gives, ``params`` for the other fields
    of :class:`neuro_igc.models.TrainingSettings` (``patience``, ``min_lr``, ...); ``n_models``
    seeds are trained and the best ``keep`` averaged. :meth:`settings` is the one
    ``TrainingSettings`` object passed to ``fit``."""

    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    n_models: int = 1
    keep: int = 1
    params: dict[str, Any] = field(default_factory=dict)

    def settings(self):
        """The section as a checked :class:`neuro_igc.models.TrainingSettings`."""
        from neuro_igc.models import TrainingSettings

        given = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                 if f.name in {g.name for g in dataclasses.fields(TrainingSettings)}}
        return TrainingSettings(**given, **self.params)


_ATTRIBUTION_DEFAULTS = AttributionSettings()
#: what a pipeline changes from ``AttributionSettings``'s defaults (its own one-line error report)
_PIPELINE_ATTRIBUTION = {"warn": False}
#: keys of the ``attribution:`` block that are settings of the same name
_ATTRIBUTION_KEYS = ("method", "n_steps", "baselines", "batch_size", "seed")


@dataclass
class _AttributionBlock:
    """The ``attribution:`` block as a config file writes it; loaded into an
    :class:`neuro_igc.attribution.AttributionSettings` (``PipelineConfig.attribution``).

    ``method``, ``n_steps``, ``baselines``, ``batch_size``, ``seed`` are the settings of that
    name; ``params`` any other setting of it (``readout``, ``auto_tol``, ...). The pipeline's own:
    ``n_samples``, the validation samples attributed (all when null); ``layers`` (encoding), modules
    of the model (names in ``model.named_modules()``, e.g. ``stages.0``) whose per-ROI layer IGC
    profiles are written (``neuro_igc.attribution.layer_igc``).
    """

    method: str = _ATTRIBUTION_DEFAULTS.method
    n_steps: int | Literal["auto"] = _ATTRIBUTION_DEFAULTS.n_steps
    baselines: int = _ATTRIBUTION_DEFAULTS.baselines
    n_samples: int | None = None
    batch_size: int | None = _ATTRIBUTION_DEFAULTS.batch_size
    seed: int = _ATTRIBUTION_DEFAULTS.seed
    params: dict[str, Any] = field(default_factory=dict)
    layers: list[str] = field(default_factory=list)


@dataclass
class RoiSettings:
    """Atlases whose ROIs the attributions are summed over, and ROI merges (V1v + V1d -> V1)."""

    atlases: list[str] = field(default_factory=lambda: ["prf-visualrois"])
    merge: dict[str, list[str]] = field(default_factory=_default_merge)


@dataclass
class PrfSettings:
    """pRF fits of image-space attribution maps (encoding pipelines); ``sign`` and ``params`` go
    to ``neuro_igc.prf.fit_prf``; vertices whose fit has ``r2 < min_r2`` are left out of the
    angle/eccentricity/size maps and ROI means."""

    enabled: bool = False
    extent_deg: float = 8.4
    sign: Literal["positive", "abs", "signed"] = "positive"
    min_r2: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class OutputSettings:
    """What the pipeline writes besides the attributions; ``views`` are those of the surface
    figures (fewer views draw faster); ``interactive`` adds an offline 3-D view (HTML) of each
    surface map, linked from the report."""

    surface: bool = True
    figures: bool = True
    interactive: bool = True
    views: list[Literal["lateral", "medial", "ventral", "posterior", "dorsal", "anterior"]] = field(
        default_factory=lambda: ["lateral", "medial", "ventral", "posterior"])
    roi: RoiSettings = field(default_factory=RoiSettings)
    prf: PrfSettings = field(default_factory=PrfSettings)
    report: bool = True


@dataclass
class BenchmarkSettings:
    """The synthetic benchmark (``neuro_igc.benchmark.run_benchmark``)."""

    experiments: list[Literal["A", "B", "C", "D"]] = field(default_factory=lambda: ["A", "B", "C", "D"])
    n_samples: int = 2000
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class SyntheticSettings:
    """The synthetic NSD-like folder written by ``--make-synthetic`` (``make_nsd_like``)."""

    subjects: int = 2
    sessions: int = 2
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class PipelineConfig:
    """A validated pipeline config. Build with :func:`load_config` or :func:`config_from_dict`."""

    name: str
    task: Literal["decoding", "encoding", "benchmark"]
    label: str = ""
    description: str = ""
    data: DataSettings = field(default_factory=DataSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    training: TrainingSection = field(default_factory=TrainingSection)
    #: the ``attribution:`` block, checked once when the config loads and given to ``igc`` as is
    attribution: AttributionSettings = field(
        default_factory=lambda: AttributionSettings(**_PIPELINE_ATTRIBUTION), metadata={"internal": True})
    #: ``attribution.n_samples``: validation samples attributed (all when None)
    attribution_samples: int | None = field(default=None, metadata={"internal": True})
    #: ``attribution.layers``: modules whose layer IGC profiles are written (encoding)
    attribution_layers: list[str] = field(default_factory=list, metadata={"internal": True})
    outputs: OutputSettings = field(default_factory=OutputSettings)
    benchmark: BenchmarkSettings = field(default_factory=BenchmarkSettings)
    synthetic: SyntheticSettings = field(default_factory=SyntheticSettings)
    source: str = field(default="<dict>", compare=False, metadata={"internal": True})

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (the config as run, defaults filled in), without the source path."""
        d = to_dict(self)
        d.pop("source", None)
        d.pop("attribution_samples", None)
        d.pop("attribution_layers", None)
        d["attribution"] = _attribution_block(self.attribution, self.attribution_samples, self.attribution_layers)
        return d

    def section_hash(self, *sections: str) -> str:
        """Hash of the named sections' settings (see :func:`settings_hash`)."""
        d = self.to_dict()
        return settings_hash({s: d[s] for s in sections})


def _check_semantics(cfg: PipelineConfig, source: str) -> None:
    from neuro_igc.pipeline._paths import check_name

    # every config string that becomes part of a file or folder name is a plain name, not a path
    check_name(cfg.name, "name", source)
    if not cfg.label:
        cfg.label = re.sub(r"[^A-Za-z0-9]", "", cfg.name)[:MAX_LABEL_LENGTH]
    if not re.fullmatch(r"[A-Za-z0-9]+", cfg.label):
        raise ConfigError(
            f"Invalid value for 'label' in {source}: BIDS entities allow letters and digits only; "
            f"got {cfg.label!r}."
        )
    check_name(cfg.label, "label", source, max_length=MAX_LABEL_LENGTH)
    check_name(cfg.data.beta_version, "data.beta_version", source)
    check_name(cfg.data.roi_atlas, "data.roi_atlas", source)
    for i, atlas in enumerate(cfg.outputs.roi.atlases):
        check_name(atlas, f"outputs.roi.atlases[{i}]", source)
    t = cfg.training
    if t.n_models < 1 or not 1 <= t.keep <= t.n_models:
        raise ConfigError(
            f"Invalid value for 'training.keep' in {source}: need 1 <= keep <= n_models; "
            f"got keep={t.keep}, n_models={t.n_models}."
        )
    positive = {
        "training.epochs": t.epochs,
        "training.batch_size": t.batch_size,
        "data.image_size": cfg.data.image_size,
        "benchmark.n_samples": cfg.benchmark.n_samples,
        "synthetic.subjects": cfg.synthetic.subjects,
        "synthetic.sessions": cfg.synthetic.sessions,
    }
    _check_positive(positive, source)
    _check_training(t, source)
    if cfg.task in ("decoding", "encoding") and not cfg.model.name and not cfg.model.checkpoint:
        raise ConfigError(
            f"Missing required key 'model.name' in {source}: a {cfg.task} pipeline needs a model "
            "from the registry (or 'model.checkpoint')."
        )
    if cfg.task in ("decoding", "encoding") and cfg.model.name:
        _check_model(cfg.model.name, cfg.model.params, source)
    _check_free_params(cfg, source)
    if cfg.task == "decoding" and not cfg.data.targets:
        raise ConfigError(f"Invalid value for 'data.targets' in {source}: give at least one target.")


def _check_training(section: TrainingSection, source: str) -> None:
    """The training section (with its ``params``) makes a valid ``TrainingSettings`` now, at load."""
    from neuro_igc._utils import InvalidParameterError

    if set(section.params) - _accepted_params(section):
        return  # an unknown key: reported by the params check with the accepted names
    try:
        section.settings()
    except InvalidParameterError as exc:
        key = f"training.{exc.param}" if exc.param not in section.params else f"training.params.{exc.param}"
        raise ConfigError(f"Invalid value for {key!r} in {source}: {exc.reason}") from None


#: longest ``label``: it starts the desc- entity of every derivative's file name
MAX_LABEL_LENGTH = 64


# arguments the pipeline fills in from the data (sizes, subjects)
DATA_ARGS = {"n_inputs", "n_outputs", "n_subjects", "input_size", "in_channels", "n_features", "n_targets"}


def _check_model(name: str, params: dict[str, Any], source: str) -> None:
    """The model name is in the zoo's registry and its params are arguments of that model."""
    import inspect

    from neuro_igc.models import MODELS

    if name not in MODELS:
        allowed = ", ".join(repr(m) for m in MODELS)
        raise ConfigError(f"Invalid value for 'model.name' in {source}: allowed are {allowed}; got {name!r}.")
    accepted = [p for p in inspect.signature(MODELS[name].__init__).parameters if p != "self"]
    for key in params:
        if key in DATA_ARGS:
            raise ConfigError(
                f"Invalid key 'model.params.{key}' in {source}: the pipeline sets it from the data; remove it."
            )
        if key not in accepted:
            allowed = ", ".join(repr(a) for a in accepted if a not in DATA_ARGS)
            raise ConfigError(
                f"Unknown key 'model.params.{key}' in {source}: model {name!r} accepts {allowed}."
            )


#: what the pipeline decides for every step it runs: the device, progress bars, and that results
#: come back with their maps; a ``params`` block cannot set these
RUN_ARGS = frozenset({"device", "progress", "return_maps"})


def _set_by_pipeline(section: type, func) -> set[str]:
    """The arguments of ``func`` that the pipeline gives itself: those a field of ``section`` sets
    (the field's name, or its ``metadata["arg"]`` when the names differ), the data (arguments
    without a default), and :data:`RUN_ARGS`."""
    import inspect

    params = inspect.signature(func).parameters
    from_section = {f.metadata.get("arg", f.name) for f in dataclasses.fields(section)}
    data = {n for n, p in params.items()
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return ((from_section | RUN_ARGS) & set(params)) | data


def _free_params_targets():
    """``params`` block -> (function they go to, arguments the pipeline sets itself, extra keywords
    the function takes through ``**kwargs``)."""
    from neuro_igc.attribution import igc
    from neuro_igc.data import NSD, make_nsd_like
    from neuro_igc.models import TrainingSettings
    from neuro_igc.prf import fit_prf

    def attribution():
        from neuro_igc import attribution as A

        # igc's keywords are the fields of its settings type (``igc(..., **options)``)
        fields = getattr(A, "AttributionSettings", None)
        extra = {f.name for f in dataclasses.fields(fields)} if dataclasses.is_dataclass(fields) else set()
        return igc, {"model", "x", "y", "settings", "baselines", "n_steps", "method", "seed", "batch_size",
                     "device", "model_kwargs", "progress"}, extra

    def benchmark():
        from neuro_igc.benchmark import DEFAULT_SETTINGS, run_benchmark

        return run_benchmark, _set_by_pipeline(BenchmarkSettings, run_benchmark), set(DEFAULT_SETTINGS)

    def derived(section, func):
        return lambda: (func, _set_by_pipeline(section, func), set())

    return {
        "data.params": derived(DataSettings, NSD.betas),
        # the block holds the fields of the settings type that ``fit`` takes
        "training.params": derived(TrainingSection, TrainingSettings),
        "attribution.params": attribution,
        "outputs.prf.params": derived(PrfSettings, fit_prf),
        "benchmark.params": benchmark,
        "synthetic.params": derived(SyntheticSettings, make_nsd_like),
    }


def _accepted_params(section: TrainingSection) -> set[str]:
    """The keys the training section's ``params`` may hold."""
    from neuro_igc.models import TrainingSettings

    return {f.name for f in dataclasses.fields(TrainingSettings)} - _set_by_pipeline(TrainingSection, TrainingSettings)


def _check_free_params(cfg: PipelineConfig, source: str) -> None:
    """Every ``params`` block names arguments of the function it is passed to (found when the
    config loads, not after training); ``attribution.params`` is checked with its block."""
    blocks = {
        "data.params": cfg.data.params, "training.params": cfg.training.params,
        "outputs.prf.params": cfg.outputs.prf.params,
        "benchmark.params": cfg.benchmark.params, "synthetic.params": cfg.synthetic.params,
    }
    for dotted, params in blocks.items():
        _check_params_block(dotted, params, source)


def _check_params_block(dotted: str, params: dict[str, Any], source: str) -> None:
    """The keys of one ``params`` block are arguments of the function it is passed to."""
    import inspect

    if params:
        func, reserved, extra = _free_params_targets()[dotted]()
        sig = inspect.signature(func)
        named = [n for n, p in sig.parameters.items()
                 if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and n not in reserved]
        open_kwargs = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()) and not extra
        accepted = named + sorted(extra - set(named) - reserved)
        where = f"{func.__module__.split('._')[0]}.{func.__qualname__}"
        for key in params:
            if key in reserved:
                raise ConfigError(
                    f"Invalid key '{dotted}.{key}' in {source}: the pipeline sets {key!r} of {where} "
                    "itself (from its own section or the data); remove it."
                )
            if key not in accepted and not open_kwargs:
                shown = ", ".join(repr(a) for a in accepted) or "none"
                raise ConfigError(f"Unknown key '{dotted}.{key}' in {source}: {where} accepts {shown}.")


def config_from_dict(
    data: dict[str, Any], *, source: str = "<dict>", base: str | os.PathLike | None = None
) -> PipelineConfig:
    """Validate a config given as a dict (e.g. a YAML file's content) and return it.

    Raises
    ------
    ConfigError
        Unknown key, wrong type, value not allowed or missing file; the message names the key.
    """
    base_path = Path(base) if base is not None else None
    if isinstance(data, dict):
        data = dict(data)
        block = data.pop("attribution", None)
    else:
        block = None
    cfg = from_dict(PipelineConfig, data, source=source, base=base_path)
    cfg.source = source
    _check_semantics(cfg, source)
    cfg.attribution, cfg.attribution_samples, cfg.attribution_layers = _attribution_settings(block, source, base_path)
    return cfg


def _check_positive(values: dict[str, Any], source: str) -> None:
    for key, value in values.items():
        if value < 1:
            raise ConfigError(f"Invalid value for {key!r} in {source}: expected >= 1; got {value!r}.")


def _attribution_settings(block: Any, source: str, base: Path | None) -> tuple[AttributionSettings, int | None,
                                                                               list[str]]:
    """The ``attribution:`` block as an :class:`AttributionSettings` (built, hence checked, once here),
    the number of validation samples it asks for and its layers."""
    b = from_dict(_AttributionBlock, block, source=source, prefix="attribution", base=base)
    positive = {"attribution.baselines": b.baselines}  # checked against the data's size later
    if b.n_samples is not None:
        positive["attribution.n_samples"] = b.n_samples
    _check_positive(positive, source)
    if b.n_samples is not None and b.n_samples < 2:
        raise ConfigError(
            f"Invalid value for 'attribution.n_samples' in {source}: IGC correlates predictions and targets "
            f"over samples, which needs at least 2; got {b.n_samples}."
        )
    if b.n_samples is not None and b.baselines > b.n_samples:
        raise ConfigError(
            f"Invalid value for 'attribution.baselines' in {source}: the {b.baselines} baselines are drawn from "
            f"the attribution.n_samples={b.n_samples} samples; give baselines <= n_samples (or more samples)."
        )
    _check_params_block("attribution.params", b.params, source)
    values = {**_PIPELINE_ATTRIBUTION, **{k: getattr(b, k) for k in _ATTRIBUTION_KEYS}, **b.params}
    try:
        return AttributionSettings(**values), b.n_samples, list(b.layers)  # the settings' own checks, once
    except (ValueError, TypeError) as exc:
        found = re.match(r"Invalid value for '(\w+)': (.*)", str(exc), re.S)
        if found is None:
            raise ConfigError(f"Invalid 'attribution' settings in {source}: {exc}") from exc
        key = found.group(1)
        dotted = f"attribution.{key}" if key in _ATTRIBUTION_KEYS else f"attribution.params.{key}"
        raise ConfigError(f"Invalid value for {dotted!r} in {source}: {found.group(2)}") from exc


def _attribution_block(settings: AttributionSettings, n_samples: int | None, layers: list[str]) -> dict[str, Any]:
    """The ``attribution:`` block (as a config file writes it) of ``settings``."""
    block = {k: getattr(settings, k) for k in _ATTRIBUTION_KEYS}
    block["n_samples"] = n_samples
    block["layers"] = list(layers)
    defaults = {**{f.name: getattr(_ATTRIBUTION_DEFAULTS, f.name) for f in dataclasses.fields(settings)},
                **_PIPELINE_ATTRIBUTION}
    block["params"] = {f.name: to_dict(getattr(settings, f.name)) for f in dataclasses.fields(settings)
                       if f.name not in _ATTRIBUTION_KEYS and not _same(getattr(settings, f.name), defaults[f.name])}
    return block


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError, RuntimeError):  # tensors, arrays
        return False


def load_config(path: str | os.PathLike, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Read and validate a pipeline config file.

    Parameters
    ----------
    path : str or path-like
        A YAML file, or the bare name of a shipped pipeline (``"decoding_image_stats"``).
    overrides : dict or None
        Dotted keys replacing values from the file (``{"training.epochs": 2}``), validated too.

    Examples
    --------
    >>> cfg = load_config("decoding_image_stats")
    >>> cfg.task
    'decoding'
    """
    p = Path(path)
    if not p.exists() and p.suffix == "" and p.name == str(path) and p.name in shipped_pipelines():
        p = shipped_config_path(p.name)
    if not p.exists():
        shipped = ", ".join(shipped_pipelines()) or "none found"
        raise ConfigError(
            f"Missing file for 'config': {str(path)!r} does not exist; give a YAML file or one of "
            f"the shipped pipelines ({shipped})."
        )
    if p.is_dir():
        raise ConfigError(
            f"Invalid value for 'config': {str(path)!r} is a folder; give a YAML file inside it or "
            "a shipped pipeline name (`neuro-igc pipelines` lists them)."
        )
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"Invalid YAML in {str(p)!r}: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read config {str(p)!r}: {exc}; check the file and its permissions.") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"Invalid config {str(p)!r}: expected a mapping at the top level.")
    if not overrides:
        return config_from_dict(data, source=str(p), base=p.parent)
    config_from_dict(copy.deepcopy(data), source=str(p), base=p.parent)  # the file's own mistakes first
    merged = copy.deepcopy(data)
    for key, value in overrides.items():
        _apply_override(merged, key, value)
    try:
        return config_from_dict(merged, source=str(p), base=p.parent)
    except ConfigError:
        pass
    # name the override at fault: the first one that is wrong on top of the file by itself. The
    # overrides are checked together first, so that values that only fit together (e.g.
    # n_samples=4 with baselines=2, against a file's baselines=6) are accepted in any order.
    for key, value in overrides.items():
        alone = copy.deepcopy(data)
        _apply_override(alone, key, value)
        config_from_dict(alone, source=f"--set {key}={_yaml_inline(value)} (overriding {p})", base=p.parent)
    # only their combination is wrong: the same check again, its message naming all of them
    shown = " ".join(f"--set {k}={_yaml_inline(v)}" for k, v in overrides.items())
    return config_from_dict(merged, source=f"{shown} (overriding {p})", base=p.parent)


def _apply_override(data: dict, key: str, value: Any) -> None:
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"Invalid override {key!r}: {part!r} is not a section.")
    node[parts[-1]] = value


def _yaml_inline(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("\n...").strip()


def parse_overrides(items: list[str]) -> dict:
    """``--set KEY=VALUE`` items as the ``overrides`` of :func:`load_config` (values read as YAML).

    Examples
    --------
    >>> parse_overrides(["training.epochs=5", "data.sessions=[1, 2]"])
    {'training.epochs': 5, 'data.sessions': [1, 2]}
    """
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or not all(part.strip() for part in key.split(".")):
            raise ValueError(
                f"Invalid value for '--set': expected KEY=VALUE with a dotted KEY such as "
                f"training.epochs=5; got {item!r}."
            )
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "not valid YAML"
            raise ValueError(
                f"Invalid value for '--set {key}': {value!r} is not a YAML value ({problem}); "
                "quote strings and close brackets, e.g. --set data.sessions=[1,2]."
            ) from None
    return out


def shipped_pipelines() -> list[str]:
    """Names of the pipeline configs shipped with the package (``neuro-igc pipelines`` lists them).

    Examples
    --------
    >>> "encoding_prf" in shipped_pipelines()
    True
    """
    if not PIPELINES_DIR.is_dir():
        return []
    return sorted(p.stem for p in PIPELINES_DIR.glob("*.yaml"))


def shipped_config_path(name: str) -> Path:
    """The file of the shipped pipeline ``name``; ConfigError naming the shipped ones otherwise."""
    path = PIPELINES_DIR / f"{name}.yaml"
    if not path.is_file():
        shipped = ", ".join(shipped_pipelines()) or "none found"
        raise ConfigError(f"Unknown pipeline {name!r}: the shipped pipelines are {shipped}.")
    return path


def settings_hash(*parts: Any) -> str:
    """Stable SHA-256 (16 hex digits) of JSON-serializable settings, used for skip-if-unchanged.

    Examples
    --------
    >>> settings_hash({"a": 1, "b": [1, 2]}) == settings_hash({"b": [1, 2], "a": 1})
    True
    """
    text = json.dumps(parts, sort_keys=True, default=_json_default, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _json_default(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return to_dict(obj)
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"cannot hash {type(obj).__name__}")
