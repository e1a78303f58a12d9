"""The pipeline's error types, in a module of their own so that every part can import them."""

from __future__ import annotations

from neuro_igc.errors import NeuroIGCError
from neuro_igc.pipeline._schema import ConfigError

__all__ = ["ConfigError", "PipelineError", "LockTimeout"]


class PipelineError(NeuroIGCError, RuntimeError):
    """A run that cannot go on (missing data, unknown participant, nothing to summarize)."""


class LockTimeout(PipelineError):
    """Another run holds the derivatives folder's lock."""
