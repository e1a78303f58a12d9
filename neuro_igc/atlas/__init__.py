"""neuro_igc.atlas (see DESIGN.md)."""

__all__: list[str] = []
