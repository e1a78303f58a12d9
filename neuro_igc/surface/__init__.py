"""neuro_igc.surface (see DESIGN.md)."""

__all__: list[str] = []
