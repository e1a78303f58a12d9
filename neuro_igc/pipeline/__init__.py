"""neuro_igc.pipeline (see DESIGN.md)."""

__all__: list[str] = []
