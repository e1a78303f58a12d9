"""Config-driven, BIDS-App style runs: configs, derivatives layout, steps, HTML report.

Public names
------------
load_config, config_from_dict, PipelineConfig, ConfigError, settings_hash, shipped_pipelines
    Pipeline configs (YAML, validated on load) and the settings hash used to skip unchanged steps.
run_pipeline, RunResult, PipelineError, LockTimeout
    Run one pipeline at the participant or group level into ``OUTPUT_DIR/neuro-igc`` (one run at a
    time per folder: a second one waits for the lock or fails with :class:`LockTimeout`).
Derivatives, bids_name, density_label
    The derivatives folder's names and writers.
StepCache
    Skip-if-unchanged bookkeeping.
ReportSection, write_report
    The HTML report.

Examples
--------
>>> from neuro_igc.pipeline import load_config
>>> load_config("encoding_prf").outputs.prf.enabled
True
"""

from neuro_igc.pipeline._config import (
    PIPELINES_DIR,
    ConfigError,
    PipelineConfig,
    config_from_dict,
    load_config,
    parse_overrides,
    settings_hash,
    shipped_pipelines,
)
from neuro_igc.pipeline._errors import LockTimeout, PipelineError
from neuro_igc.pipeline._layout import Derivatives, bids_name, density_label
from neuro_igc.pipeline._report import ReportSection, write_report
from neuro_igc.pipeline._state import StepCache, StepRecord

__all__ = [
    "PIPELINES_DIR",
    "ConfigError",
    "PipelineConfig",
    "config_from_dict",
    "load_config",
    "parse_overrides",
    "settings_hash",
    "shipped_pipelines",
    "Derivatives",
    "bids_name",
    "density_label",
    "ReportSection",
    "write_report",
    "StepCache",
    "StepRecord",
    "run_pipeline",
    "RunResult",
    "PipelineError",
    "LockTimeout",
]


def __getattr__(name):
    # the runner imports torch and the other subpackages: load it on first use only
    if name in ("run_pipeline", "RunResult"):
        from neuro_igc.pipeline import _run

        return getattr(_run, name)
    raise AttributeError(f"module 'neuro_igc.pipeline' has no attribute {name!r}")
