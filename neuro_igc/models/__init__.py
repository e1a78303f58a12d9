"""Model zoo, training and metrics (see DESIGN.md)."""

from neuro_igc.models._layers import PerSubjectLinear

__all__ = ["PerSubjectLinear"]
