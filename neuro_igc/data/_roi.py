"""ROI labels aligned with a feature vector, with their lookup table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["ROILabels"]


@dataclass
class ROILabels:
    """Integer ROI label of each feature (0 = outside, -1 = outside the brain in volumes).

    Attributes
    ----------
    atlas : str
        Atlas name, e.g. ``"prf-visualrois"``.
    labels : int64 (n_features,)
    table : dict int -> str
        Lookup table (index 0 left out).
    space : str
    hemi, vertex : (n_features,) or None
        Surface features (lh first, then rh).
    ijk : int64 (n_features, 3) or None
        Volume features.
    density : str or None
    """

    atlas: str
    labels: np.ndarray
    table: dict
    space: str
    hemi: np.ndarray | None = None
    vertex: np.ndarray | None = None
    ijk: np.ndarray | None = None
    density: str | None = None

    @property
    def names(self) -> list[str]:
        """ROI names in table order."""
        return [self.table[k] for k in sorted(self.table)]

    def index(self, name: str) -> int:
        """Label index of ROI ``name``; a ValueError lists the table when it is not there."""
        for k, v in self.table.items():
            if v == name:
                return int(k)
        raise ValueError(
            f"Invalid ROI name {name!r}: not in the lookup table of {self.atlas!r}; "
            f"allowed are {', '.join(repr(n) for n in self.names)}."
        )

    def mask(self, names: str | Iterable[str] | None = None) -> np.ndarray:
        """Boolean (n_features,): features in any of ``names`` (all labelled features if None)."""
        if names is None:
            return self.labels > 0
        if isinstance(names, str):
            names = [names]
        return np.isin(self.labels, [self.index(n) for n in names])

    def counts(self) -> dict[str, int]:
        """Number of features per ROI name."""
        return {self.table[k]: int(np.sum(self.labels == k)) for k in sorted(self.table)}

    def __len__(self) -> int:
        return int(self.labels.size)
