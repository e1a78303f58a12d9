"""Ensembles: train n seeds, keep the best k by validation score (the paper: 10 and 5)."""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from neuro_igc import _distributed as dist
from neuro_igc._utils import POSITIVE_INT, Interval, check_param, resolve_device
from neuro_igc.models._registry import build_model
from neuro_igc.models._train import fit

__all__ = ["fit_ensemble", "Ensemble", "EnsembleResult"]


class Ensemble(nn.Module):
    """The mean of several models' outputs (extra keyword arguments go to every member).

    Parameters
    ----------
    models : sequence of nn.Module
    """

    def __init__(self, models):
        super().__init__()
        if len(models) == 0:
            raise ValueError("An Ensemble needs at least one model.")
        self.members = nn.ModuleList(models)

    def forward(self, x: torch.Tensor, **extra) -> torch.Tensor:
        return torch.stack([m(x, **extra) for m in self.members]).mean(0)


@dataclass
class EnsembleResult:
    """What :func:`fit_ensemble` returns.

    Attributes
    ----------
    models : list of nn.Module
        The ``keep`` best models, best first.
    selected : list of int
        Their member indices (seed = ``seed + index``).
    scores : np.ndarray (n_models,)
        Every member's validation score.
    histories : list of list of dict
        Every member's training history.
    """

    models: list
    selected: list
    scores: np.ndarray
    histories: list = field(default_factory=list)

    def ensemble(self) -> Ensemble:
        """The kept models as one module averaging their outputs."""
        return Ensemble(self.models).eval()


def fit_ensemble(
    model: str | Mapping | Callable[[int], nn.Module],
    train: Dataset,
    val: Dataset,
    *,
    n_models: int = 10,
    keep: int = 5,
    seed: int = 0,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    distributed="auto",
    **fit_kwargs,
) -> EnsembleResult:
    """Train ``n_models`` seeds of one model and keep the ``keep`` best by validation score.

    Member ``i`` is initialised and trained with seed ``seed + i``. The paper averages the IGC
    attributions of the 5 best of 10 decoding models.

    Parameters
    ----------
    model : str, mapping or callable
        A registry name or config for :func:`build_model` (keyword arguments of the
        architecture go in the config), or ``factory(seed) -> nn.Module``.
    train, val : torch Dataset
        ``val`` is required: it ranks the members.
    n_models : int, default=10
    keep : int, default=5
    seed : int, default=0
    checkpoint_dir : path-like, optional
        Each member checkpoints to ``checkpoint_dir/member_XX.pt``.
    resume : bool, default=False
        Resume members from their checkpoints.
    distributed : {"auto", True, False}, default="auto"
        Inside an initialised ``torch.distributed`` group of several processes (e.g. under
        ``torchrun``), member ``i`` is trained by rank ``i % world_size`` alone (one seed per rank,
        each rank on its own device) and writes its own checkpoint; the scores, histories and the
        kept models' weights are then shared, so every rank returns the same result. ``True``
        also initialises the group from the ``torchrun`` environment.
    **fit_kwargs
        Passed to :func:`fit` (loss, epochs, batch_size, lr, device, progress...).

    Returns
    -------
    EnsembleResult
    """
    if val is None:
        raise ValueError("fit_ensemble needs 'val' data: members are ranked by validation score.")
    check_param("n_models", n_models, POSITIVE_INT)
    check_param("keep", keep, Interval(numbers.Integral, 1, n_models), hint="(at most n_models)")
    factory = model if callable(model) else (lambda s: build_model(model, seed=s))
    spread = dist.resolve(distributed)
    world, me = (dist.world_size(), dist.rank()) if spread else (1, 0)
    if spread:  # each rank on its own device
        fit_kwargs["device"] = dist.rank_device(resolve_device(fit_kwargs.get("device")))
    members, scores, histories = {}, {}, {}
    for i in range(me, int(n_models), world):  # distributed: this rank's members only
        s = int(seed) + i
        ckpt = None if checkpoint_dir is None else Path(checkpoint_dir) / f"member_{i:02d}.pt"
        res = fit(factory(s), train, val, seed=s, checkpoint=ckpt, resume=resume, distributed=False,
                  **{**fit_kwargs, "progress": fit_kwargs.get("progress", True) and dist.is_main()})
        members[i], scores[i], histories[i] = res.model, res.score, res.history
    if spread:
        for part in dist.gather_objects((scores, histories), what="ensemble training"):
            scores.update(part[0])
            histories.update(part[1])
    scores = np.asarray([scores[i] for i in range(int(n_models))], dtype=np.float64)
    order = np.argsort(np.where(np.isfinite(scores), -scores, np.inf), kind="stable")[: int(keep)]
    if spread:
        members = _share_members(members, [int(i) for i in order], factory, int(seed), world, fit_kwargs["device"])
    return EnsembleResult(
        models=[members[i] for i in order], selected=[int(i) for i in order], scores=scores,
        histories=[histories[i] for i in range(int(n_models))],
    )


def _share_members(members: dict, kept: list[int], factory, seed: int, world: int, device) -> dict:
    """The kept members on every rank: each is sent by the rank that trained it."""
    out = {}
    for i in kept:
        owner = i % world
        state = dist.broadcast_object(
            {k: v.cpu() for k, v in members[i].state_dict().items()} if owner == dist.rank() else None,
            src=owner, what="ensemble training")
        if owner == dist.rank():
            out[i] = members[i]
            continue
        model = factory(seed + i)
        model.load_state_dict(state)
        out[i] = model.to(device).eval()
    return out
