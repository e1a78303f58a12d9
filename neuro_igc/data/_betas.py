"""The ``Betas`` container and the operations users apply before modelling.

Per-session z-scoring, averaging over repeats of an image, the shared-1000 split and the paper's
train/validation split (training on single trials of non-shared images, validating on shared
images averaged over their repeats).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Betas", "zscore_per_session", "average_repeats", "split_shared", "train_val_split"]

_TRIAL_ARRAYS = ("image_ids", "session", "trial", "global_trial", "n_repeats")
_FEATURE_ARRAYS = ("hemi", "vertex", "ijk")


@dataclass
class Betas:
    """Single-trial (or repeat-averaged) responses of one subject.

    Attributes
    ----------
    data : float32 (n_trials, n_features)
        Percent signal change (or z-scores after :func:`zscore_per_session`).
    image_ids : int64 (n_trials,)
        0-based 73k image ids, in session then trial order.
    session : int64 (n_trials,)
        1-based session of each trial.
    trial : int64 (n_trials,)
        1-based trial within its session (1..750).
    global_trial : int64 (n_trials,)
        1-based trial number over the whole experiment (``(session - 1) * 750 + trial``), the
        numbering of ``nsd_stim_info_merged.csv``'s ``subjectN_repK`` columns.
    subject : int
        NSD subject number (1..8).
    space : str
        ``"fsaverage"``, ``"func1pt8mm"`` or ``"func1mm"``.
    hemi, vertex : (n_features,) or None
        Surface spaces: hemisphere (``"lh"``/``"rh"``) and vertex index of each feature; lh first.
    density : str or None
        Surface spaces: ``"fsaverage"`` (163842 per hemisphere) or ``"fsaverage5"`` (10242).
    ijk : int64 (n_features, 3) or None
        Volume spaces: voxel index of each feature.
    affine : float64 (4, 4) or None
        Volume spaces: voxel -> scanner mm.
    volume_shape : tuple or None
        Volume spaces: (X, Y, Z).
    n_repeats : int64 (n_trials,)
        Trials averaged into each row (1 for single trials).
    """

    data: np.ndarray
    image_ids: np.ndarray
    session: np.ndarray
    trial: np.ndarray
    global_trial: np.ndarray
    subject: int
    space: str
    hemi: np.ndarray | None = None
    vertex: np.ndarray | None = None
    density: str | None = None
    ijk: np.ndarray | None = None
    affine: np.ndarray | None = None
    volume_shape: tuple | None = None
    n_repeats: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.n_repeats is None:
            self.n_repeats = np.ones(len(self.image_ids), dtype=np.int64)
        n = self.data.shape[0]
        for name in _TRIAL_ARRAYS:
            if len(getattr(self, name)) != n:
                raise ValueError(f"Betas.{name} has {len(getattr(self, name))} rows; data has {n}.")

    @property
    def n_trials(self) -> int:
        return int(self.data.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.data.shape[1])

    def __repr__(self) -> str:
        return (
            f"Betas(subject={self.subject}, space={self.space!r}, n_trials={self.n_trials}, "
            f"n_features={self.n_features}, sessions={sorted(set(self.session.tolist()))})"
        )

    def select_trials(self, index) -> Betas:
        """Rows ``index`` (bool mask or integer array)."""
        index = np.asarray(index)
        kw = {name: getattr(self, name)[index] for name in _TRIAL_ARRAYS}
        return dataclasses.replace(self, data=self.data[index], **kw)

    def select_features(self, index) -> Betas:
        """Columns ``index`` (bool mask or integer array), keeping hemi/vertex/ijk aligned."""
        index = np.asarray(index)
        kw = {name: (None if getattr(self, name) is None else getattr(self, name)[index])
              for name in _FEATURE_ARRAYS}
        return dataclasses.replace(self, data=self.data[:, index], **kw)

    def zscore(self) -> Betas:
        """Per-session z-scoring of every feature (see :func:`zscore_per_session`)."""
        return zscore_per_session(self)

    def average_repeats(self, min_repeats: int = 1) -> Betas:
        """Mean over the trials of each image (see :func:`average_repeats`)."""
        return average_repeats(self, min_repeats=min_repeats)

    def split_shared(self, shared_ids) -> tuple[Betas, Betas]:
        """(trials of shared images, the other trials) (see :func:`split_shared`)."""
        return split_shared(self, shared_ids)


def zscore_per_session(betas: Betas, eps: float = 1e-8) -> Betas:
    """Z-score every feature within each session (mean 0, SD 1 over that session's trials).

    Features with zero variance in a session become 0 there.
    """
    out = np.empty_like(betas.data, dtype=np.float32)
    for s in np.unique(betas.session):
        rows = betas.session == s
        block = betas.data[rows].astype(np.float64)
        sd = block.std(axis=0)
        out[rows] = ((block - block.mean(axis=0)) / np.where(sd > eps, sd, np.inf)).astype(np.float32)
    return dataclasses.replace(betas, data=out, info={**betas.info, "zscored": "per session"})


def average_repeats(betas: Betas, min_repeats: int = 1) -> Betas:
    """One row per distinct image: the mean of its trials, ordered by first presentation.

    ``session``/``trial``/``global_trial`` keep the first presentation; ``n_repeats`` says how
    many trials were averaged. Images seen fewer than ``min_repeats`` times are left out.
    """
    if int(min_repeats) < 1:
        raise ValueError(f"Invalid value for 'min_repeats': must be >= 1; got {min_repeats!r}.")
    ids, first, inverse = np.unique(betas.image_ids, return_index=True, return_inverse=True)
    reps = betas.n_repeats.astype(np.float64)  # already-averaged rows weigh by their repeats
    from scipy import sparse

    pool = sparse.csr_matrix((reps, (inverse, np.arange(reps.size))), shape=(ids.size, reps.size))
    sums = np.asarray(pool @ betas.data.astype(np.float64))
    weights = np.bincount(inverse, weights=reps, minlength=ids.size)
    counts = np.rint(weights).astype(np.int64)
    mean = (sums / weights[:, None]).astype(np.float32)
    order = np.argsort(first, kind="stable")
    order = order[counts[order] >= int(min_repeats)]
    rows = first[order]
    return dataclasses.replace(
        betas,
        data=mean[order],
        image_ids=ids[order],
        session=betas.session[rows],
        trial=betas.trial[rows],
        global_trial=betas.global_trial[rows],
        n_repeats=counts[order].astype(np.int64),
    )


def split_shared(betas: Betas, shared_ids) -> tuple[Betas, Betas]:
    """Split into (trials showing one of ``shared_ids``, all other trials).

    ``shared_ids`` are 0-based 73k ids (``NSD.expdesign.shared_ids``).
    """
    is_shared = np.isin(betas.image_ids, np.asarray(shared_ids))
    return betas.select_trials(is_shared), betas.select_trials(~is_shared)


def train_val_split(betas: Betas, shared_ids, *, min_repeats: int = 1) -> tuple[Betas, Betas]:
    """The paper's split: train on single trials of non-shared images, validate on shared images
    averaged over their repeats.

    Returns
    -------
    train : Betas, single trials of images outside ``shared_ids``
    val : Betas, one row per shared image (mean of its ``>= min_repeats`` trials)
    """
    shared, rest = split_shared(betas, shared_ids)
    return rest, average_repeats(shared, min_repeats=min_repeats)
