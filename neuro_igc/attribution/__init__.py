"""neuro_igc.attribution (see DESIGN.md)."""

__all__: list[str] = []
