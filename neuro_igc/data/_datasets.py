"""torch Datasets for decoding (betas -> image statistics) and encoding (images -> betas).

Item contract (shared with ``neuro_igc.models`` and ``neuro_igc.attribution``)
----------------------------------------------------------------------------
``dataset[i]`` is ``(x, y)`` or ``(x, y, subject)``:

* ``x`` float32 tensor: decoding ``(n_features_s,)`` betas of subject s; encoding ``(C, H, W)``
  image (C = 1 for luminance);
* ``y`` float32 tensor: decoding ``(n_outputs,)`` statistics; encoding ``(n_features_s,)`` betas;
* ``subject`` 0-d LongTensor: the position of the item's subject in ``dataset.subjects``
  (0-based; the index a :class:`~neuro_igc.models.PerSubjectLinear` expects).

``with_subject`` (default: True when there are several subjects) chooses the 3-tuple. Every
dataset exposes ``subject_index`` (np.int64 (n,)), ``subjects`` (NSD subject numbers),
``n_features_per_subject`` and ``indices_by_subject()``; sizes differ between subjects, so batches
must hold one subject each: :class:`SubjectBatchSampler` does that.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from neuro_igc.data._betas import Betas, train_val_split

__all__ = ["DecodingDataset", "EncodingDataset", "SubjectBatchSampler", "decoding_datasets", "encoding_datasets"]


def _float32(a, name: str) -> np.ndarray:
    """``a`` as a float32 array, or a TypeError naming ``name``; NaN/inf rows raise a ValueError."""
    try:
        arr = np.asarray(a, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"Invalid type for {name!r}: expected a numeric array; got {type(a).__name__} ({exc}).") from None
    if arr.ndim and arr.size:
        # a row sum is non-finite exactly when the row holds NaN/inf (or overflows float64: not for float32)
        bad = ~np.isfinite(arr.reshape(len(arr), -1).sum(1, dtype=np.float64))
        if bad.any():
            rows = np.flatnonzero(bad)
            raise ValueError(
                f"Invalid value for {name!r}: {rows.size} of {len(arr)} rows hold NaN or inf (first: "
                f"{rows[:5].tolist()}); drop those samples or features first (e.g. NSD.betas(..., nan='drop'))."
            )
    return arr


def _tensor(a, name: str = "data") -> torch.Tensor:
    """float32 tensor sharing memory with ``a`` where possible (copied if read-only)."""
    arr = np.ascontiguousarray(_float32(a, name))
    if not arr.flags.writeable:
        arr = arr.copy()
    return torch.from_numpy(arr)


def _as_list(a) -> list:
    return list(a) if isinstance(a, (list, tuple)) else [a]


def _check_pairs(name_x, xs, name_y, ys):
    if len(xs) != len(ys):
        raise ValueError(f"Invalid value for {name_y!r}: one array per subject expected ({len(xs)}); got {len(ys)}.")
    for i, (a, b) in enumerate(zip(xs, ys)):
        if len(a) != len(b):
            raise ValueError(
                f"Invalid shape: subject {i} has {len(a)} rows in {name_x!r} but {len(b)} in {name_y!r}."
            )


class _SubjectDataset(Dataset):
    """Common bookkeeping: items of several subjects concatenated in subject order."""

    def _init_index(self, sizes, subjects, with_subject):
        self.subject_index = np.repeat(np.arange(len(sizes)), sizes).astype(np.int64)
        self._row = np.concatenate([np.arange(n) for n in sizes]).astype(np.int64) if sizes else np.zeros(0, np.int64)
        self.subjects = list(range(1, len(sizes) + 1)) if subjects is None else [int(s) for s in subjects]
        if len(self.subjects) != len(sizes):
            raise ValueError(f"Invalid value for 'subjects': {len(sizes)} subjects of data; got {self.subjects!r}.")
        self.with_subject = len(sizes) > 1 if with_subject is None else bool(with_subject)
        self._subject_tensors = [torch.tensor(i, dtype=torch.long) for i in range(len(sizes))]

    def __len__(self) -> int:
        return int(self.subject_index.size)

    @property
    def n_subjects(self) -> int:
        return len(self.subjects)

    def indices_by_subject(self) -> dict[int, np.ndarray]:
        """``{subject position: item indices}``."""
        return {i: np.flatnonzero(self.subject_index == i) for i in range(self.n_subjects)}

    def _pack(self, s, x, y):
        return (x, y, self._subject_tensors[s]) if self.with_subject else (x, y)


class DecodingDataset(_SubjectDataset):
    """Betas -> image statistics, for one or several subjects.

    Parameters
    ----------
    x : (n, n_features) array or list of (n_s, n_features_s) arrays, one per subject
    y : (n, n_outputs) or (n,) array, or a list of them, one per subject
    subjects : list of int, optional
        NSD numbers of the subjects (metadata; default 1..n_subjects).
    with_subject : bool, optional
        Return ``(x, y, subject)``; default True when there are several subjects.
    target_names : list of str, optional

    Examples
    --------
    >>> ds = DecodingDataset([np.zeros((3, 5)), np.ones((2, 4))], [np.zeros((3, 2)), np.ones((2, 2))])
    >>> x, y, s = ds[4]
    >>> tuple(x.shape), tuple(y.shape), int(s), ds.n_features_per_subject
    ((4,), (2,), 1, [5, 4])
    """

    def __init__(self, x, y, *, subjects=None, with_subject=None, target_names=None, image_ids=None):
        xs, ys = _as_list(x), _as_list(y)
        _check_pairs("x", xs, "y", ys)
        self._x = [_tensor(a, "x" if len(xs) == 1 else f"x[{i}]") for i, a in enumerate(xs)]
        ys = [_float32(b, "y" if len(ys) == 1 else f"y[{i}]") for i, b in enumerate(ys)]
        self._y = [_tensor(b[:, None] if b.ndim == 1 else b) for b in ys]
        for i, a in enumerate(self._x):
            if a.ndim != 2:
                raise ValueError(f"Invalid shape for 'x' of subject {i}: expected (n, n_features); got {tuple(a.shape)}.")
        widths = {int(b.shape[1]) for b in self._y}
        if len(widths) > 1:
            raise ValueError(f"Invalid shape for 'y': every subject needs the same outputs; got widths {sorted(widths)}.")
        self._init_index([len(a) for a in self._x], subjects, with_subject)
        self.n_features_per_subject = [int(a.shape[1]) for a in self._x]
        self.n_outputs = widths.pop() if widths else 0
        self.target_names = list(target_names) if target_names is not None else [f"y{i}" for i in range(self.n_outputs)]
        self.image_ids = None if image_ids is None else np.concatenate([np.asarray(a) for a in _as_list(image_ids)])

    def __getitem__(self, i):
        s, r = int(self.subject_index[i]), int(self._row[i])
        return self._pack(s, self._x[s][r], self._y[s][r])

    def tensors(self, subject: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """All ``(x, y)`` of one subject position, as stacked tensors."""
        return self._x[subject], self._y[subject]

    @classmethod
    def from_betas(cls, betas, statistics, targets: Sequence[str] = ("luminance_contrast", "spectral_slope"),
                   with_subject=None) -> DecodingDataset:
        """Build from :class:`Betas` (one per subject) and a statistics table indexed by 73k id.

        ``statistics``: a DataFrame indexed by 0-based image id with one column per target
        (e.g. :func:`neuro_igc.data.features.image_statistics` of the stimuli).
        """
        bl = _as_list(betas)
        missing = [t for t in targets if t not in statistics.columns]
        if missing:
            raise ValueError(f"Invalid value for 'targets': {missing} not in the statistics columns {list(statistics.columns)}.")
        ys = []
        for b in bl:
            absent = np.setdiff1d(b.image_ids, statistics.index.to_numpy())
            if absent.size:
                raise ValueError(f"Invalid value for 'statistics': no row for image ids {absent[:5].tolist()} of subject {b.subject}.")
            ys.append(statistics.loc[b.image_ids, list(targets)].to_numpy(np.float32))
        return cls([b.data for b in bl], ys, subjects=[b.subject for b in bl], with_subject=with_subject,
                   target_names=targets, image_ids=[b.image_ids for b in bl])


class EncodingDataset(_SubjectDataset):
    """Images -> betas of one or several subjects.

    Parameters
    ----------
    images : (n_images, H, W) or (n_images, C, H, W) float array
        The distinct images (linear luminance or channels), stored once.
    image_index : (n_s,) int array or a list of them, one per subject
        Row of ``images`` shown at each trial of each subject.
    y : (n_s, n_features_s) array or a list of them
    subjects, with_subject : as :class:`DecodingDataset`
    pool : int, default=1
        ``images`` are stored ``pool`` times larger than the model input. Each item is reduced by
        ``pool`` x ``pool`` blocks: a random pixel per block when ``augment`` (the paper's
        augmentation), the block mean otherwise.
    augment : bool, default=False
    image_stats : (mean, sd) or None
        Standardize images with these global values; None computes them from ``images``
        (pass a training set's ``image_stats`` to its validation set). ``False`` disables.

    Examples
    --------
    >>> ds = EncodingDataset(np.zeros((4, 8, 8)), [np.array([0, 1, 1])], [np.zeros((3, 6))], image_stats=False)
    >>> x, y = ds[2]
    >>> tuple(x.shape), tuple(y.shape)
    ((1, 8, 8), (6,))
    """

    def __init__(self, images, image_index, y, *, subjects=None, with_subject=None, pool: int = 1,
                 augment: bool = False, image_stats=None, image_ids=None):
        imgs = _float32(images, "images")
        if imgs.ndim == 3:
            imgs = imgs[:, None]
        if imgs.ndim != 4:
            raise ValueError(f"Invalid shape for 'images': expected (n, H, W) or (n, C, H, W); got {imgs.shape}.")
        if int(pool) < 1 or imgs.shape[2] % int(pool) or imgs.shape[3] % int(pool):
            raise ValueError(f"Invalid value for 'pool': a divisor of the image size {imgs.shape[2:]} ; got {pool!r}.")
        idx = []
        for a in _as_list(image_index):
            a = np.asarray(a)
            if a.ndim != 1 or not (np.issubdtype(a.dtype, np.integer) or a.size == 0):
                raise ValueError(f"Invalid value for 'image_index': 1-D integer rows of 'images' per subject; got "
                                 f"dtype {a.dtype} shape {a.shape}.")
            idx.append(a.astype(np.int64))
        ys = _as_list(y)
        _check_pairs("image_index", idx, "y", ys)
        for a in idx:
            if a.size and (a.min() < 0 or a.max() >= len(imgs)):
                raise ValueError(f"Invalid value for 'image_index': rows must be in 0..{len(imgs) - 1}.")
        if image_stats is None:
            image_stats = (float(imgs.mean()), float(imgs.std()) or 1.0)
        self.image_stats = image_stats if image_stats is not False else None
        if self.image_stats is not None:
            imgs = (imgs - self.image_stats[0]) / self.image_stats[1]
        self._images = torch.from_numpy(np.ascontiguousarray(imgs))
        self._index = [torch.from_numpy(a) for a in idx]
        self._y = [_tensor(b, "y" if len(ys) == 1 else f"y[{i}]") for i, b in enumerate(ys)]
        for i, b in enumerate(self._y):
            if b.ndim != 2:
                raise ValueError(f"Invalid shape for 'y' of subject {i}: expected (n_trials, n_features); got {tuple(b.shape)}.")
        self._init_index([len(a) for a in idx], subjects, with_subject)
        self.n_features_per_subject = [int(b.shape[1]) for b in self._y]
        self.pool = int(pool)
        self.augment = bool(augment)
        self.input_shape = (imgs.shape[1], imgs.shape[2] // self.pool, imgs.shape[3] // self.pool)
        self.image_ids = None if image_ids is None else np.asarray(image_ids)

    def image(self, row: int) -> torch.Tensor:
        """Image ``row`` at the model's input size (C, H, W), augmented if ``augment``."""
        img = self._images[row]
        p = self.pool
        if p == 1:
            return img
        c, h, w = img.shape
        blocks = img.reshape(c, h // p, p, w // p, p)
        if not self.augment:
            return blocks.mean(dim=(2, 4))
        rows = torch.arange(h // p)[:, None] * p + torch.randint(p, (h // p, w // p))
        cols = torch.arange(w // p)[None, :] * p + torch.randint(p, (h // p, w // p))
        return img[:, rows, cols]

    def __getitem__(self, i):
        s, r = int(self.subject_index[i]), int(self._row[i])
        return self._pack(s, self.image(int(self._index[s][r])), self._y[s][r])

    @classmethod
    def from_betas(cls, nsd, betas, *, size: int = 64, augment: bool = False, image_stats=None,
                   with_subject=None) -> EncodingDataset:
        """Build from :class:`Betas` (one per subject), loading each distinct image once (linear
        luminance, ``size`` px; twice that with ``augment``)."""
        bl = _as_list(betas)
        ids = np.unique(np.concatenate([b.image_ids for b in bl]))
        pool = 2 if augment else 1
        images = nsd.stimuli(ids, size=size * pool, luminance=True)
        index = [np.searchsorted(ids, b.image_ids) for b in bl]
        return cls(images, index, [b.data for b in bl], subjects=[b.subject for b in bl], with_subject=with_subject,
                   pool=pool, augment=augment, image_stats=image_stats, image_ids=ids)


class SubjectBatchSampler(Sampler):
    """Batches of item indices, each from one subject (for models whose sizes differ per subject).

    Parameters
    ----------
    subject_index : (n,) int array (a dataset's ``subject_index``)
    batch_size : int
    shuffle : bool, default=True
        Shuffle items within subjects and the order of batches, anew each epoch.
    drop_last : bool, default=False
    seed : int, default=0
        Epoch e uses ``seed + e`` (see :meth:`set_epoch`; the epoch advances after each pass).
    """

    def __init__(self, subject_index, batch_size: int, shuffle: bool = True, drop_last: bool = False, seed: int = 0):
        if int(batch_size) < 1:
            raise ValueError(f"Invalid value for 'batch_size': must be >= 1; got {batch_size!r}.")
        self.subject_index = np.asarray(subject_index, dtype=np.int64)
        self.batch_size, self.shuffle, self.drop_last, self.seed = int(batch_size), shuffle, drop_last, int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _batches(self, rng):
        out = []
        for s in np.unique(self.subject_index):
            idx = np.flatnonzero(self.subject_index == s)
            if self.shuffle:
                idx = rng.permutation(idx)
            for start in range(0, idx.size, self.batch_size):
                b = idx[start:start + self.batch_size]
                if len(b) == self.batch_size or not self.drop_last:
                    out.append(b.tolist())
        if self.shuffle:
            out = [out[i] for i in rng.permutation(len(out))]
        return out

    def __iter__(self):
        rng = np.random.default_rng(self.seed + self.epoch)
        self.epoch += 1
        return iter(self._batches(rng))

    def __len__(self) -> int:
        return len(self._batches(np.random.default_rng(0)))


def _splits(nsd, subjects, sessions, space, roi, zscore, min_repeats, density):
    out = []
    for s in _as_list(subjects):
        b = nsd.betas(s, sessions=sessions, space=space, roi=roi, zscore=zscore, density=density)
        out.append(train_val_split(b, nsd.shared_ids, min_repeats=min_repeats))
    return [t for t, _ in out], [v for _, v in out]


def decoding_datasets(nsd, subjects, *, sessions=None, space: str = "fsaverage", roi=None, density=None,
                      targets: Sequence[str] = ("luminance_contrast", "spectral_slope"), stat_size=None,
                      zscore: bool = True, min_repeats: int = 1) -> tuple[DecodingDataset, DecodingDataset]:
    """The paper's decoding split: train on single trials of non-shared images, validate on shared
    images averaged over repeats; targets from :func:`~neuro_igc.data.features.image_statistics`
    of the stimuli (at ``stat_size``, default the stored size). Betas are z-scored per session."""
    from neuro_igc.data.features import image_statistics

    train, val = _splits(nsd, subjects, sessions, space, roi, zscore, min_repeats, density)
    ids = np.unique(np.concatenate([b.image_ids for b in train + val]))
    stats = image_statistics(nsd.stimuli(ids, size=stat_size, luminance=True), targets)
    stats.index = ids
    return (DecodingDataset.from_betas(train, stats, targets), DecodingDataset.from_betas(val, stats, targets))


def encoding_datasets(nsd, subjects, *, sessions=None, space: str = "fsaverage", roi=None, density=None,
                      size: int = 64, augment: bool = False, zscore: bool = True,
                      min_repeats: int = 1) -> tuple[EncodingDataset, EncodingDataset]:
    """The paper's encoding split (as :func:`decoding_datasets`), images at ``size`` px linear
    luminance standardized with the training set's global mean and SD."""
    train, val = _splits(nsd, subjects, sessions, space, roi, zscore, min_repeats, density)
    tr = EncodingDataset.from_betas(nsd, train, size=size, augment=augment)
    va = EncodingDataset.from_betas(nsd, val, size=size, image_stats=tr.image_stats)
    return tr, va
