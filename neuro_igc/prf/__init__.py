"""neuro_igc.prf (see DESIGN.md)."""

__all__: list[str] = []
