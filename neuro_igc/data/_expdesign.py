"""NSD's experiment design (``nsd_expdesign.mat``), converted once to 0-based indices."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuro_igc.data._layout import N_IMAGES_73K, N_SUBJECTS, TRIALS_PER_SESSION, subject_id

__all__ = ["ExpDesign"]

#: real shapes of the arrays in nsd_expdesign.mat
EXPDESIGN_SHAPES = {"masterordering": (1, 30000), "subjectim": (8, 10000), "sharedix": (1, 1000)}


@dataclass(frozen=True)
class ExpDesign:
    """The experiment design with every index made 0-based.

    Attributes
    ----------
    masterordering : int64 (30000,)
        For each trial of the experiment (0-based), the 0-based index into a subject's 10k images.
    subjectim : int64 (8, 10000)
        0-based 73k id of each subject's 10k images; the first 1000 columns are the shared images.
    shared_ids : int64 (1000,)
        0-based 73k ids of the shared images (``sharedix - 1``).
    """

    masterordering: np.ndarray
    subjectim: np.ndarray
    shared_ids: np.ndarray
    path: Path | None = None

    @classmethod
    def from_mat(cls, path: str | Path) -> ExpDesign:
        """Read ``nsd_expdesign.mat`` (MATLAB v5, values 1-based) and check the array shapes."""
        from neuro_igc._read import read_mat

        mat = read_mat(path, "experiment design", variables=EXPDESIGN_SHAPES)
        arrays = {}
        for name, shape in EXPDESIGN_SHAPES.items():
            arr = np.asarray(mat[name])
            if arr.shape != shape:
                raise ValueError(f"Wrong shape for {name!r} in {path}: expected {shape}; got {arr.shape}.")
            if np.any(arr < 1):
                raise ValueError(f"Wrong values for {name!r} in {path}: NSD indices are 1-based (>= 1).")
            arrays[name] = np.rint(arr).astype(np.int64) - 1  # 1-based -> 0-based
        if arrays["masterordering"].max() >= EXPDESIGN_SHAPES["subjectim"][1]:
            raise ValueError(f"Wrong values for 'masterordering' in {path}: must index 10000 images.")
        if arrays["subjectim"].max() >= N_IMAGES_73K:
            raise ValueError(f"Wrong values for 'subjectim' in {path}: must be 73k ids (<= {N_IMAGES_73K}).")
        return cls(arrays["masterordering"][0], arrays["subjectim"], arrays["sharedix"][0], Path(path))

    def image_ids(self, subject, global_trials) -> np.ndarray:
        """0-based 73k ids shown at 0-based experiment trials ``global_trials`` of ``subject``.

        Trial ``t`` shows ``subjectim[subject - 1, masterordering[t]]`` (all 0-based here).
        """
        s = subject_id(subject)
        return self.subjectim[s - 1, self.masterordering[np.asarray(global_trials, dtype=np.int64)]]

    def session_trials(self, session: int, n_trials: int = TRIALS_PER_SESSION) -> np.ndarray:
        """0-based experiment trials of the first ``n_trials`` trials of a 1-based session."""
        return (int(session) - 1) * TRIALS_PER_SESSION + np.arange(int(n_trials))

    @property
    def n_subjects(self) -> int:
        return N_SUBJECTS
