"""Batching: which samples are attributed together, and their baselines.

Samples are grouped by the value of a per-subject keyword when a per-subject layer is factorized
(its weights differ per group), streamed in batches sized by a memory budget, and each batch's
baselines are data indices (drawn per sample) or the shared set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from neuro_igc.attribution._data import groups_by

__all__ = ["BaselineBatch", "baseline_batch", "sample_groups", "POINT_BUDGET", "ACCUMULATOR_BUDGET"]

POINT_BUDGET = 2**21  # input-space elements per chunk of path points (default batch_size)
ACCUMULATOR_BUDGET = 2**25  # float64 elements of a per-batch accumulator


@dataclass
class BaselineBatch:
    """The baselines of a batch of samples.

    ``samples`` ``(nb,)`` the samples' data indices; ``indices`` ``(nb, K)`` data indices of each
    sample's baselines (per-sample draws) or None (one shared set); :meth:`inputs` their inputs
    ``(nb, K, *input_shape)``, read once when first asked for.
    """

    samples: np.ndarray
    indices: np.ndarray | None
    _load: object = None
    _cache: list = field(default_factory=list)

    def inputs(self) -> torch.Tensor:
        if not self._cache:
            self._cache.append(self._load())
        return self._cache[0]


def baseline_batch(baselines, shared: torch.Tensor | None, source, idx: np.ndarray, device, dtype) -> BaselineBatch:
    """The :class:`BaselineBatch` of the samples ``idx`` (``baselines`` a :class:`Baselines`)."""
    nb, K = idx.size, baselines.K
    if not baselines.per_sample:
        return BaselineBatch(idx, None, lambda: shared.unsqueeze(0).expand(nb, *shared.shape))
    bidx = baselines.indices(idx)

    def load():
        bx = source.get_x(bidx.reshape(-1)).to(device=device, dtype=dtype)
        return bx.reshape(nb, K, *source.input_shape)

    return BaselineBatch(idx, bidx, load)


def sample_groups(source, group_key: str | None, subset=None) -> list[tuple[object, np.ndarray]]:
    """``(group, sample indices)`` pairs: by the value of ``group_key`` in the extras, or one group."""
    key = source.extra.get(group_key) if group_key else None
    groups = groups_by(key, source.n)
    if subset is not None:
        keep = np.zeros(source.n, bool)
        keep[np.asarray(subset)] = True
        groups = [(g, idx[keep[idx]]) for g, idx in groups]
    return [(g, idx) for g, idx in groups if idx.size]
