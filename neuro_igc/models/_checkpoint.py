"""Checkpoints: weights, the config that rebuilds the model, training state and metrics."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from neuro_igc._read import file_error, read_torch
from neuro_igc._utils import atomic_path, resolve_device, write_error

__all__ = ["save_checkpoint", "load_checkpoint", "read_checkpoint", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = 1


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, **extra) -> Path:
    """Write a checkpoint atomically (temporary file in the same folder, then rename).

    Parameters
    ----------
    path : path-like
    model : torch.nn.Module
        Its ``state_dict`` is saved, and its ``config`` when it is a zoo model (so that
        :func:`load_checkpoint` can rebuild it).
    **extra
        More entries (optimizer/scheduler/RNG state, epoch, history, metrics...): tensors and
        plain Python containers/numbers/strings only.

    Returns
    -------
    pathlib.Path
    """
    state = {
        "format": CHECKPOINT_FORMAT,
        "model_config": getattr(model, "config", None),
        "model_state": model.state_dict(),
        **extra,
    }
    with atomic_path(path) as tmp:
        try:
            torch.save(state, tmp)
        except (RuntimeError, OSError) as exc:
            raise write_error(path, exc, "checkpoint") from exc
    return Path(path)


def read_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """The raw checkpoint dictionary (tensors on ``map_location``)."""
    path = Path(path)
    state = read_torch(path, "checkpoint", map_location=map_location)
    if not isinstance(state, dict) or "model_state" not in state:
        raise file_error(path, "not a neuro_igc checkpoint (no 'model_state' entry)", "checkpoint",
                         hint="Give a checkpoint written by save_checkpoint or train_model.")
    return state


def load_checkpoint(path: str | os.PathLike, device=None) -> torch.nn.Module:
    """Rebuild a zoo model from a checkpoint and load its weights (returned in eval mode).

    Parameters
    ----------
    path : path-like
    device : str or torch.device, optional
        Default: CPU (``"auto"`` picks CUDA when available).

    Returns
    -------
    torch.nn.Module
        The model; the checkpoint's ``history``/``metrics``/``epoch`` (when present) are
        attached as ``model.checkpoint_info_``.
    """
    from neuro_igc.models._registry import build_model

    state = read_checkpoint(path)
    config = state.get("model_config")
    if not config:
        raise ValueError(
            f"Checkpoint {str(path)!r} has no model config (the model was not built from the zoo): "
            "build the model yourself and call model.load_state_dict(read_checkpoint(path)['model_state'])."
        )
    model = build_model(config)
    model.load_state_dict(state["model_state"])
    model.checkpoint_info_ = {
        k: state[k] for k in ("epoch", "history", "metrics", "fit_args") if k in state
    }
    dev = torch.device("cpu") if device is None else resolve_device(device)
    return model.to(dev).eval()
