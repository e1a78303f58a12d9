"""The ``Betas`` container and the operations users apply before modelling.

Per-session z-scoring, averaging over repeats of an image, the shared-1000 split and the paper's
train/validation split (training on single trials of non-shared images, validating on shared
images averaged over their repeats).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from neuro_igc.data._spaces import InFeatureSpace, SurfaceSpace, VolumeSpace

__all__ = [
    "Betas",
    "zscore_per_session",
    "average_repeats",
    "split_shared",
    "train_val_split",
    "SharedSplit",
    "TrainValSplit",
]

_TRIAL_ARRAYS = ("image_ids", "session", "trial", "global_trial", "n_repeats")


@dataclass
class Betas(InFeatureSpace):
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
    feature_space : SurfaceSpace or VolumeSpace
        Where each column lives. ``space``, ``hemi``, ``vertex``, ``density``, ``ijk``,
        ``affine`` and ``volume_shape`` are read from it:
    space : str
        ``"fsaverage"``, ``"nativesurface"``, ``"func1pt8mm"`` or ``"func1mm"``.
    hemi, vertex : (n_features,) or None
        Surface spaces: hemisphere (``"lh"``/``"rh"``) and vertex index of each feature; lh first.
    density : str or None
        Surface spaces: ``"fsaverage"`` (163842 per hemisphere), ``"fsaverage5"`` (10242) or
        ``"native"``.
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
    feature_space: SurfaceSpace | VolumeSpace
    n_repeats: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.n_repeats is None:
            self.n_repeats = np.ones(len(self.image_ids), dtype=np.int64)
        n = self.data.shape[0]
        for name in _TRIAL_ARRAYS:
            if len(getattr(self, name)) != n:
                raise ValueError(f"Betas.{name} has {len(getattr(self, name))} rows; data has {n}.")
        if not isinstance(self.feature_space, (SurfaceSpace, VolumeSpace)):
            raise ValueError(f"Betas.feature_space must be a SurfaceSpace or VolumeSpace; got {type(self.feature_space).__name__}.")
        if self.feature_space.n_features != self.data.shape[1]:
            raise ValueError(
                f"Betas.feature_space describes {self.feature_space.n_features} features; data has {self.data.shape[1]} columns."
            )

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
        return dataclasses.replace(self, data=self.data[:, index], feature_space=self.feature_space.select(index))

    def zscore(self) -> Betas:
        """Per-session z-scoring of every feature (see :func:`zscore_per_session`)."""
        return zscore_per_session(self)

    def average_repeats(self, min_repeats: int = 1) -> Betas:
        """Mean over the trials of each image (see :func:`average_repeats`)."""
        return average_repeats(self, min_repeats=min_repeats)

    def split_shared(self, shared_ids) -> SharedSplit:
        """``.shared`` and ``.rest`` trials (see :func:`split_shared`)."""
        return split_shared(self, shared_ids)


def zscore_per_session(betas: Betas, eps: float = 1e-8, *, exclude_ids=None) -> Betas:
    """Z-score every feature within each session (mean 0, SD 1 over that session's trials).

    Parameters
    ----------
    betas : Betas
    eps : float, default=1e-8
        Features with an SD at or below ``eps`` in a session become 0 there.
    exclude_ids : int array-like or None
        0-based 73k ids of held-out images (validation/test): their trials are z-scored too, but
        the session mean and SD come from the other trials only, so nothing of the held-out images
        leaks into the statistics. None uses every trial.
    """
    fit = np.ones(betas.n_trials, dtype=bool) if exclude_ids is None else ~np.isin(betas.image_ids, np.asarray(exclude_ids))
    out = np.empty_like(betas.data, dtype=np.float32)
    for s in np.unique(betas.session):
        rows = betas.session == s
        ref = rows & fit
        if ref.sum() < 2:
            raise ValueError(
                f"Cannot z-score session {int(s)}: {int(ref.sum())} trials remain after leaving out "
                f"'exclude_ids' (at least 2 are needed for a mean and SD)."
            )
        stats = betas.data[ref].astype(np.float64)
        mean, sd = stats.mean(axis=0), stats.std(axis=0)
        out[rows] = ((betas.data[rows].astype(np.float64) - mean) / np.where(sd > eps, sd, np.inf)).astype(np.float32)
    how = "per session" if exclude_ids is None else "per session, statistics without the held-out images"
    return dataclasses.replace(betas, data=out, info={**betas.info, "zscored": how})


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


class SharedSplit:
    """Result of :func:`split_shared`: ``.shared`` (trials of the given images) and ``.rest``.

    Read the parts by name; unpacking by position is refused, because the paper's
    :func:`train_val_split` returns the same two parts in the other order (train = rest first).
    """

    __slots__ = ("shared", "rest")

    def __init__(self, shared: Betas, rest: Betas):
        self.shared = shared
        self.rest = rest

    def __iter__(self):
        raise TypeError(
            "split_shared(...) returns named parts: use result.shared and result.rest (positional "
            "unpacking is refused because train_val_split returns (train=rest, val=shared))."
        )

    def __repr__(self) -> str:
        return f"SharedSplit(shared={self.shared.n_trials} trials, rest={self.rest.n_trials} trials)"


class TrainValSplit(NamedTuple):
    """Result of :func:`train_val_split`: ``(train, val)``, also readable by name."""

    train: Betas
    val: Betas


def split_shared(betas: Betas, shared_ids) -> SharedSplit:
    """Split into the trials showing one of ``shared_ids`` (``.shared``) and all others (``.rest``).

    ``shared_ids`` are 0-based 73k ids (``NSD.expdesign.shared_ids``, or a named split from
    :meth:`NSD.split_ids`).
    """
    is_shared = np.isin(betas.image_ids, np.asarray(shared_ids))
    return SharedSplit(betas.select_trials(is_shared), betas.select_trials(~is_shared))


def train_val_split(betas: Betas, shared_ids, *, min_repeats: int = 1) -> TrainValSplit:
    """The paper's split: train on single trials of non-shared images, validate on shared images
    averaged over their repeats.

    Returns
    -------
    TrainValSplit
        ``train``: single trials of images outside ``shared_ids``; ``val``: one row per shared
        image (mean of its ``>= min_repeats`` trials). Unpacks as ``train, val``.
    """
    parts = split_shared(betas, shared_ids)
    return TrainValSplit(parts.rest, average_repeats(parts.shared, min_repeats=min_repeats))
