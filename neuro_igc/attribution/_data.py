"""Argument checks and data access for the attribution engine (inputs, targets, baselines, extras)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["DataSource", "Baselines", "make_source", "check_targets", "make_baselines", "check_output_idx"]


def _as_tensor(value, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        from neuro_igc._utils import check_not_meta

        check_not_meta(value, name)
        return value.detach()
    try:
        return torch.as_tensor(np.asarray(value))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"Invalid value for {name!r}: expected an array or tensor; got {type(value).__name__}.") from exc


def _check_finite(t: torch.Tensor, name: str, what: str = "") -> None:
    # a NaN or an infinity makes the sum non-finite: the element-wise check (several times slower on
    # CPU) runs only then, and decides (large finite entries can overflow the sum)
    if t.is_floating_point() and not torch.isfinite(t.sum()) and not torch.isfinite(t).all():
        bad = int((~torch.isfinite(t)).sum())
        raise ValueError(
            f"Invalid value for {name!r}: {bad} NaN or infinite entries{what}; remove or impute them "
            f"before computing attributions."
        )


@dataclass
class DataSource:
    """Inputs (a tensor or a map-style Dataset read lazily), targets and per-sample extras."""

    n: int
    input_shape: tuple[int, ...]
    x: torch.Tensor | None = None
    dataset: object | None = None
    y: torch.Tensor | None = None
    extra: dict[str, torch.Tensor] = field(default_factory=dict)

    def get_x(self, idx) -> torch.Tensor:
        """Inputs of the samples ``idx`` (a sequence or 1-D tensor of indices), on their device."""
        idx = torch.as_tensor(idx, dtype=torch.long).reshape(-1)
        if self.x is not None:
            return self.x[idx.to(self.x.device)]
        items = [_as_tensor(_item_x(self.dataset[int(i)]), "x") for i in idx.tolist()]
        out = torch.stack(items)
        _check_finite(out, "x", f" in dataset samples {idx.tolist()[:10]}")
        return out


def _item_x(item):
    return item[0] if isinstance(item, (tuple, list)) else item


def make_source(x, y=None, extra: Mapping | None = None, need_y: bool = True) -> DataSource:
    """Normalise ``x`` (array, tensor or Dataset), ``y`` and ``extra`` and check their shapes.

    A Dataset may yield ``x``, ``(x, y)`` or ``(x, y, subject)``; its targets are used when
    ``y`` is None, its subjects become ``extra["subject"]`` unless given.
    """
    extra = dict(extra or {})
    if isinstance(x, torch.utils.data.Dataset) and not isinstance(x, torch.Tensor):
        n = len(x)
        if n == 0:
            raise ValueError("Invalid value for 'x': the Dataset is empty.")
        first = x[0]
        input_shape = tuple(_as_tensor(_item_x(first), "x").shape)
        ys, subjects = [], []
        if isinstance(first, (tuple, list)) and len(first) >= 2 and (y is None and need_y or len(first) >= 3):
            for i in range(n):
                item = x[i]
                if y is None and need_y:
                    ys.append(_as_tensor(item[1], "y"))
                if len(item) >= 3 and "subject" not in extra:
                    subjects.append(int(item[2]))
        if ys:
            y = torch.stack(ys)
        if subjects:
            extra["subject"] = torch.tensor(subjects, dtype=torch.long)
        src = DataSource(n=n, input_shape=input_shape, dataset=x)
    else:
        xt = _as_tensor(x, "x")
        if xt.ndim < 2:
            raise ValueError(
                f"Invalid value for 'x': expected shape (n_samples, *input_shape) with at least 2 "
                f"dimensions; got shape {tuple(xt.shape)}. Use x[:, None] for one input component."
            )
        if not xt.is_floating_point():
            xt = xt.to(torch.get_default_dtype())
        _check_finite(xt, "x")
        src = DataSource(n=xt.shape[0], input_shape=tuple(xt.shape[1:]), x=xt)
    if src.n < 1:
        raise ValueError("Invalid value for 'x': no samples.")
    if need_y:
        if y is None:
            raise ValueError("Missing 'y': pass the true outputs (n_samples,) or (n_samples, n_outputs).")
        yt = _as_tensor(y, "y")
        if yt.ndim == 0 or yt.shape[0] != src.n:
            raise ValueError(
                f"Invalid value for 'y': expected {src.n} rows (one per sample of 'x'); got shape {tuple(yt.shape)}."
            )
        if yt.ndim > 2:
            raise ValueError(f"Invalid value for 'y': expected (n_samples,) or (n_samples, n_outputs); got {tuple(yt.shape)}.")
        _check_finite(yt, "y")
        src.y = yt
    for name, value in extra.items():
        t = _as_tensor(value, f"extra[{name!r}]")
        if t.ndim == 0 or t.shape[0] != src.n:
            raise ValueError(
                f"Invalid value for 'extra[{name!r}]': per-sample inputs need {src.n} rows; got shape "
                f"{tuple(t.shape)}. Put constant keyword arguments in 'model_kwargs'."
            )
        src.extra[name] = t
    return src


def check_output_idx(output_idx, n_model_outputs: int) -> list[int]:
    """Resolve ``output_idx`` (None, int or sequence) to a list of valid output indices."""
    if output_idx is None:
        return list(range(n_model_outputs))
    idx = [output_idx] if isinstance(output_idx, (int, np.integer)) else list(np.asarray(output_idx).reshape(-1))
    bad = [int(i) for i in idx if not 0 <= int(i) < n_model_outputs]
    if not idx or bad:
        raise ValueError(
            f"Invalid value for 'output_idx': indices must lie in 0..{n_model_outputs - 1} (the model has "
            f"{n_model_outputs} outputs); got {bad or 'an empty selection'}."
        )
    return [int(i) for i in idx]


def check_targets(y: torch.Tensor, n_model_outputs: int, idx: list[int], categorical: bool) -> np.ndarray:
    """The (n, len(idx)) float64 targets matching the selected outputs (one-hot for labels)."""
    if categorical:
        labels = y.reshape(-1).long().cpu().numpy()
        if labels.min() < 0 or labels.max() >= n_model_outputs:
            raise ValueError(
                f"Invalid value for 'y': integer class labels must lie in 0..{n_model_outputs - 1} "
                f"(the model has {n_model_outputs} outputs); got labels {labels.min()}..{labels.max()}."
            )
        onehot = np.zeros((labels.size, n_model_outputs))
        onehot[np.arange(labels.size), labels] = 1.0
        return onehot[:, idx]
    yy = y.double().cpu().numpy()
    if yy.ndim == 1:
        yy = yy[:, None]
    if yy.shape[1] == n_model_outputs:
        return yy[:, idx]
    if yy.shape[1] == len(idx):
        return yy
    raise ValueError(
        f"Invalid value for 'y': {yy.shape[1]} columns match neither the model's {n_model_outputs} outputs "
        f"nor the {len(idx)} selected by 'output_idx'."
    )


@dataclass
class Baselines:
    """The baselines of a run: one explicit set shared by every sample, or indices drawn per sample.

    ``mode == "per-sample"``: sample ``i`` (its index in the whole data set) gets ``K`` distinct
    samples of ``x`` drawn by a generator seeded from ``(seed, i)``, so a sample's baselines do
    not depend on the batch it is in, the device or how samples are split between processes.
    ``mode == "shared"``: ``tensor`` ``(K, *input_shape)`` serves every sample.
    """

    mode: str
    K: int
    seed: int = 0
    n_pool: int = 0
    tensor: torch.Tensor | None = None
    info: dict = field(default_factory=dict)

    @property
    def per_sample(self) -> bool:
        return self.mode == "per-sample"

    def indices(self, idx) -> np.ndarray:
        """``(len(idx), K)`` indices into ``x`` of the baselines of the samples ``idx``."""
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        out = np.empty((idx.size, self.K), dtype=np.int64)
        for r, i in enumerate(idx.tolist()):
            out[r] = np.random.default_rng([self.seed, i]).choice(self.n_pool, size=self.K, replace=False)
        return out


def make_baselines(baselines, src: DataSource, seed: int, mode: str = "per-sample") -> Baselines:
    """Resolve the ``baselines`` argument (int, array or "zeros") and ``baseline_mode``."""
    from neuro_igc._utils import check_option
    from neuro_igc.attribution._settings import BASELINE_MODES

    check_option("baseline_mode", mode, BASELINE_MODES)
    if isinstance(baselines, str):
        if baselines != "zeros":
            raise ValueError(
                f"Invalid value for 'baselines': allowed are an int (drawn from 'x'), an array "
                f"(n_baselines, *input_shape) or 'zeros'; got {baselines!r}."
            )
        return Baselines("shared", 1, tensor=torch.zeros((1, *src.input_shape)),
                         info={"baselines": "zeros", "n_baselines": 1, "baseline_mode": "shared"})
    if isinstance(baselines, (int, np.integer)) and not isinstance(baselines, bool):
        k = int(baselines)
        if not 1 <= k <= src.n:
            raise ValueError(
                f"Invalid value for 'baselines': the number of baselines drawn from 'x' must lie in "
                f"1..{src.n} (the number of samples); got {k}."
            )
        if mode == "per-sample":
            return Baselines("per-sample", k, seed=int(seed), n_pool=src.n,
                             info={"baselines": "data", "n_baselines": k, "baseline_mode": "per-sample"})
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(src.n, size=k, replace=False))
        return Baselines("shared", k, tensor=src.get_x(idx).cpu(),
                         info={"baselines": "data", "n_baselines": k, "baseline_mode": "shared",
                               "baseline_indices": idx.tolist()})
    if isinstance(baselines, bool) or baselines is None:
        raise ValueError(f"Invalid value for 'baselines': expected an int, an array or 'zeros'; got {baselines!r}.")
    b = _as_tensor(baselines, "baselines")
    if tuple(b.shape) == src.input_shape:
        b = b[None]
    if tuple(b.shape[1:]) != src.input_shape or b.shape[0] < 1:
        raise ValueError(
            f"Invalid value for 'baselines': an explicit set needs shape (n_baselines, "
            f"{', '.join(map(str, src.input_shape))}); got {tuple(b.shape)}."
        )
    b = b.to(torch.get_default_dtype()) if not b.is_floating_point() else b
    _check_finite(b, "baselines")
    return Baselines("shared", int(b.shape[0]), tensor=b.cpu(),
                     info={"baselines": "array", "n_baselines": int(b.shape[0]), "baseline_mode": "shared"})


def is_categorical(y) -> bool:
    """True when ``y`` holds integer class labels (a 1-D integer array or tensor)."""
    if y is None:
        return False
    if isinstance(y, torch.Tensor):
        return y.ndim == 1 and not y.is_floating_point() and not y.is_complex() and y.dtype != torch.bool
    arr = np.asarray(y)
    return arr.ndim == 1 and np.issubdtype(arr.dtype, np.integer)


def groups_by(values: torch.Tensor | None, n: int) -> list[tuple[object, np.ndarray]]:
    """Sample indices grouped by the value of a per-sample key (one group when None)."""
    if values is None:
        return [(None, np.arange(n))]
    v = values.reshape(n, -1)[:, 0].cpu().numpy()
    return [(int(u), np.flatnonzero(v == u)) for u in np.unique(v)]
