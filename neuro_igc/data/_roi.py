"""ROI labels aligned with a feature vector, with their lookup table and where they came from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from neuro_igc.data._spaces import InFeatureSpace, SurfaceSpace, VolumeSpace
from neuro_igc.data._tables import LookupTable

__all__ = ["ROILabels"]


@dataclass
class ROILabels(InFeatureSpace):
    """Integer ROI label of each feature (0 = outside, -1 = outside the brain in volumes).

    Attributes
    ----------
    atlas : str
        Atlas name, e.g. ``"prf-visualrois"``.
    labels : int64 (n_features,)
    table : LookupTable
        Label index -> ROI name (index 0 left out).
    feature_space : SurfaceSpace or VolumeSpace
        Where each label lives; ``space``, ``hemi``, ``vertex``, ``ijk`` and ``density`` read from it.
    source : str
        Which files the labels were read from and how they reached this space, e.g. a subject's
        native labels mapped to fsaverage through NSD's ``white-to-fsaverage`` transforms.
    """

    atlas: str
    labels: np.ndarray
    table: LookupTable
    feature_space: SurfaceSpace | VolumeSpace
    source: str = ""

    def __post_init__(self):
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if not isinstance(self.table, LookupTable):
            self.table = LookupTable(self.table, name=self.atlas)
        if self.labels.shape != (self.feature_space.n_features,):
            raise ValueError(
                f"ROI labels of {self.atlas!r}: {self.labels.shape} labels for {self.feature_space.n_features} features."
            )

    @property
    def names(self) -> list[str]:
        """ROI names in table order."""
        return self.table.names

    def index(self, name: str) -> int:
        """Label index of ROI ``name``; a ValueError lists the table when it is not there."""
        try:
            return self.table.index(name)
        except ValueError:
            raise ValueError(
                f"Invalid ROI name {name!r}: not in the lookup table of {self.atlas!r}; "
                f"allowed are {', '.join(repr(n) for n in self.names)}."
            ) from None

    def mask(self, names: str | Iterable[str] | None = None) -> np.ndarray:
        """Boolean (n_features,): features in any of ``names`` (all labelled features if None)."""
        if names is None:
            return self.labels > 0
        if isinstance(names, str):
            names = [names]
        return np.isin(self.labels, [self.index(n) for n in names])

    def counts(self) -> dict[str, int]:
        """Number of features per ROI name."""
        return {self.table[k]: int(np.sum(self.labels == k)) for k in self.table}

    def select(self, index) -> ROILabels:
        """Labels of the features ``index`` (bool mask or increasing integer array)."""
        index = np.asarray(index)
        return ROILabels(self.atlas, self.labels[index], self.table, self.feature_space.select(index), self.source)

    def __len__(self) -> int:
        return int(self.labels.size)
