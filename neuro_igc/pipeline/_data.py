"""Load what a decoding or encoding pipeline trains on, through ``neuro_igc.data``.

The paper's split: train on single trials of the images a subject alone saw, validate on the
shared images averaged over their repeats. Betas are z-scored per session and vertex; decoding
targets (image statistics) are standardized with the training trials' mean and SD, encoding
images globally over all pixels (as the paper, appendix A.6).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from neuro_igc.pipeline._errors import PipelineError

__all__ = ["PipelineData", "SubjectInfo", "load_data"]

logger = logging.getLogger(__name__)


@dataclass
class SubjectInfo:
    """Where a subject's beta columns live on the surface.

    Attributes
    ----------
    subject : int
        NSD subject number.
    index : int
        The subject's position in the datasets (the model's per-subject index).
    feature_space : SurfaceSpace
        Hemisphere and vertex of each beta column (lh first) and the density; ``hemi``,
        ``vertex`` and ``density`` read from it.
    val_repeats : int
        Median number of trials averaged per validation image (for the noise ceiling).
    """

    subject: int
    index: int
    feature_space: object
    val_repeats: int = 1

    @property
    def hemi(self) -> np.ndarray:
        return self.feature_space.hemi

    @property
    def vertex(self) -> np.ndarray:
        return self.feature_space.vertex

    @property
    def density(self) -> str:
        return self.feature_space.density

    @property
    def n_vertices(self) -> int:
        return self.feature_space.n_features


@dataclass
class PipelineData:
    """Training and validation datasets of all selected subjects, with their vertex layout."""

    train: torch.utils.data.Dataset
    val: torch.utils.data.Dataset
    subjects: list[SubjectInfo]
    stats: dict

    def info(self, subject: int) -> SubjectInfo:
        for s in self.subjects:
            if s.subject == subject:
                return s
        raise KeyError(subject)

    def val_arrays(self, subject: int, n_samples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Stacked validation ``(x, y)`` of one subject (first ``n_samples`` when given)."""
        k = self.info(subject).index
        idx = self.val.indices_by_subject()[k]
        if n_samples is not None:
            idx = idx[:n_samples]
        items = [self.val[int(i)] for i in idx]
        x = torch.stack([it[0] for it in items]).numpy()
        y = torch.stack([it[1] for it in items]).numpy()
        return x, y


def _roi_spec(cfg):
    d = cfg.data
    return d.roi_atlas if not d.roi_labels else (d.roi_atlas, list(d.roi_labels))


def _splits(nsd, subjects, cfg):
    from neuro_igc.data import train_val_split

    d = cfg.data
    train, val = [], []
    for s in subjects:
        exclude = nsd.shared_ids if d.zscore and d.zscore_train_only else None
        b = nsd.betas(s, sessions=d.sessions, space=d.space, version=d.beta_version, roi=_roi_spec(cfg),
                      density=d.density, zscore=d.zscore, zscore_exclude=exclude, **d.params)
        if d.max_trials is not None and b.n_trials > d.max_trials:
            b = b.select_trials(np.arange(d.max_trials))
        tr, va = train_val_split(b, nsd.shared_ids)
        if tr.n_trials < 2 or va.n_trials < 2:
            raise PipelineError(
                f"Subject {s:02d} has {tr.n_trials} training trials and {va.n_trials} shared (validation) "
                "images in the selected sessions; select more sessions (data.sessions)."
            )
        logger.info("subject %02d: %d training trials, %d validation images, %d vertices",
                    s, tr.n_trials, va.n_trials, tr.n_features)
        train.append(tr)
        val.append(va)
    return train, val


def load_data(nsd, subjects: list[int], cfg) -> PipelineData:
    """Datasets (``DecodingDataset`` or ``EncodingDataset``) of the selected subjects."""
    from neuro_igc.data import DecodingDataset, EncodingDataset

    train, val = _splits(nsd, subjects, cfg)
    infos = [SubjectInfo(b.subject, k, b.feature_space, int(np.median(v.n_repeats)) if v.n_trials else 1)
             for k, (b, v) in enumerate(zip(train, val))]
    if cfg.task == "decoding":
        from neuro_igc.data.features import image_statistics

        ids = np.unique(np.concatenate([b.image_ids for b in train + val]))
        table = image_statistics(nsd.stimuli(ids, luminance=True), cfg.data.targets)
        table.index = ids
        train_ids = np.concatenate([b.image_ids for b in train])
        mean = table.loc[train_ids].mean()
        sd = table.loc[train_ids].std(ddof=0).replace(0.0, 1.0)
        table = (table - mean) / sd
        stats = {"target_mean": mean.to_dict(), "target_sd": sd.to_dict()}
        tr = DecodingDataset.from_betas(train, table, cfg.data.targets, with_subject=True)
        va = DecodingDataset.from_betas(val, table, cfg.data.targets, with_subject=True)
    else:
        augment = bool(cfg.data.augment)
        tr = EncodingDataset.from_betas(nsd, train, size=cfg.data.image_size, augment=augment, with_subject=True)
        va = EncodingDataset.from_betas(nsd, val, size=cfg.data.image_size, image_stats=tr.image_stats,
                                        with_subject=True)
        stats = {"pixel_mean": float(tr.image_stats[0]), "pixel_sd": float(tr.image_stats[1])}
    return PipelineData(tr, va, infos, stats)
