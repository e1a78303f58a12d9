"""neuro_igc.benchmark (see DESIGN.md)."""

__all__: list[str] = []
