"""Training loop, evaluation and prediction for the zoo (and any ``nn.Module``)."""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import logging
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset, default_collate

from neuro_igc import _distributed as dist
from neuro_igc._utils import (
    NON_NEGATIVE_INT,
    POSITIVE_INT,
    SWITCH,
    Interval,
    Options,
    check_param,
    check_params,
    resolve_device,
)
from neuro_igc.models._checkpoint import read_checkpoint, save_checkpoint
from neuro_igc.models._layers import PerSubjectBatchNorm1d, PerSubjectLinear
from neuro_igc.models._metrics import accuracy, pearson_r, r2_score

__all__ = ["fit", "evaluate", "predict", "FitResult", "TrainingSettings", "LOSSES", "GROUPINGS"]

logger = logging.getLogger(__name__)

#: loss name -> function ``(output, target) -> scalar``; "nll" expects log-probabilities
LOSSES = {
    "mse": nn.functional.mse_loss,
    "nll": nn.functional.nll_loss,
    "cross_entropy": nn.functional.cross_entropy,
}
_CLASSIFICATION = {"nll", "cross_entropy"}
#: how batches are drawn: "auto" (per subject when the model has per-subject layers), or forced
GROUPINGS = SWITCH.values


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    model : nn.Module
        The trained model (eval mode).
    history : list of dict
        One entry per epoch: ``epoch``, ``train_loss``, ``val_loss``, ``val_score``, ``lr``.
    score : float
        Validation score after the last epoch (mean Pearson r over outputs, or accuracy); NaN
        without validation data.
    metrics : dict
        The last :func:`evaluate` result on the validation data (empty without).
    """

    model: nn.Module
    history: list = field(default_factory=list)
    score: float = float("nan")
    metrics: dict = field(default_factory=dict)


# -- datasets and batches --------------------------------------------------------------------
def _subject_index(dataset: Dataset) -> np.ndarray | None:
    """Each sample's subject, from ``.subject_index``, a 3-tensor TensorDataset, or the items."""
    if hasattr(dataset, "subject_index"):
        return np.asarray(dataset.subject_index).reshape(-1).astype(np.int64)
    if isinstance(dataset, TensorDataset):
        return dataset.tensors[2].reshape(-1).cpu().numpy().astype(np.int64) if len(dataset.tensors) > 2 else None
    if isinstance(dataset, Subset):
        parent = _subject_index(dataset.dataset)
        return None if parent is None else parent[np.asarray(dataset.indices)]
    first = dataset[0]
    if len(first) < 3:
        return None
    return np.array([int(dataset[i][2]) for i in range(len(dataset))], dtype=np.int64)


def _has_subject_layers(model: nn.Module) -> bool:
    return any(
        isinstance(m, (PerSubjectLinear, PerSubjectBatchNorm1d)) and m.n_subjects > 1 for m in model.modules()
    )


def _grouping(model, group_by_subject, subjects) -> bool:
    check_param("group_by_subject", group_by_subject, SWITCH)
    if subjects is None:
        if group_by_subject is True:
            raise ValueError(
                "group_by_subject=True needs subjects: a dataset with a 'subject_index' attribute or "
                "items (x, y, subject)."
            )
        return False
    if group_by_subject == "auto":
        return _has_subject_layers(model)
    return bool(group_by_subject)


def _batches(n, batch_size, subjects, group, rng=None, drop_single=False) -> list[np.ndarray]:
    """Index batches; one subject per batch when ``group``; shuffled when ``rng`` is given."""
    def chunk(idx):
        out = [idx[i : i + batch_size] for i in range(0, len(idx), batch_size)]
        return [b for b in out if not (drop_single and len(b) < 2)]

    if not group:
        idx = rng.permutation(n) if rng is not None else np.arange(n)
        return chunk(idx)
    out = []
    for s in np.unique(subjects):
        idx = np.flatnonzero(subjects == s)
        out += chunk(rng.permutation(idx) if rng is not None else idx)
    if rng is not None:
        out = [out[i] for i in rng.permutation(len(out))]
    return out


def _loader(dataset, batches, num_workers):
    if isinstance(dataset, TensorDataset) and num_workers == 0:
        for idx in batches:
            t = torch.from_numpy(np.asarray(idx))
            yield tuple(x[t] for x in dataset.tensors)
        return
    yield from DataLoader(dataset, batch_sampler=[list(map(int, b)) for b in batches],
                          num_workers=num_workers, collate_fn=default_collate)


def _unpack(batch, device):
    if not isinstance(batch, (list, tuple)) or len(batch) not in (2, 3):
        raise ValueError(
            "Dataset items must be (x, y) or (x, y, subject); got "
            f"{type(batch).__name__} of length {len(batch) if hasattr(batch, '__len__') else '?'}."
        )
    x, y = batch[0].to(device), batch[1].to(device)
    s = batch[2].to(device).reshape(-1).long() if len(batch) == 3 else None
    return x, y, s


def _accepts_subject(model) -> bool:
    params = inspect.signature(model.forward).parameters
    return "subject" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _call(model, x, subject, takes_subject):
    if subject is None:
        return model(x)
    if takes_subject:
        return model(x, subject=subject)
    if bool((subject != 0).any()):
        raise ValueError(
            f"The dataset gives subject indices but {type(model).__name__}.forward takes no 'subject': "
            "use a model with per-subject layers, or one subject's data."
        )
    return model(x)


def _loss(loss_fn, out, y, loss):
    if loss in _CLASSIFICATION:
        return loss_fn(out, y.reshape(-1).long())
    y = y.to(out.dtype)
    if y.ndim == 1 and out.ndim == 2 and out.shape[1] == 1:
        y = y[:, None]
    if out.shape != y.shape:
        raise ValueError(
            f"Model output has shape {tuple(out.shape)} but the targets have {tuple(y.shape)}: check "
            "'n_outputs' against the dataset."
        )
    return loss_fn(out, y)


def _model_device(model) -> torch.device:
    for t in list(model.parameters()) + list(model.buffers()):
        return t.device
    return torch.device("cpu")


# -- prediction and evaluation ---------------------------------------------------------------
def _collect(model, dataset, batch_size, device, group_by_subject, num_workers):
    """Predictions and targets per group key (a subject when grouped, else None)."""
    subjects = _subject_index(dataset)
    group = _grouping(model, group_by_subject, subjects)
    batches = _batches(len(dataset), batch_size, subjects, group)
    takes = _accepts_subject(model)
    out: dict = {}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for idx, batch in zip(batches, _loader(dataset, batches, num_workers)):
                x, y, s = _unpack(batch, device)
                pred = _call(model, x, s, takes)
                key = int(subjects[idx[0]]) if group else None
                entry = out.setdefault(key, {"pred": [], "target": [], "index": []})
                entry["pred"].append(pred.detach().double().cpu())
                entry["target"].append(y.cpu())
                entry["index"].append(np.asarray(idx))
    finally:
        model.train(was_training)
    return {
        k: {"pred": torch.cat(v["pred"]), "target": torch.cat(v["target"]), "index": np.concatenate(v["index"])}
        for k, v in out.items()
    }


def predict(model: nn.Module, dataset: Dataset, batch_size: int = 256, device=None,
            group_by_subject="auto", num_workers: int = 0):
    """Model outputs for every sample of ``dataset``, in dataset order (eval mode, no gradients).

    Parameters
    ----------
    model : nn.Module
    dataset : torch Dataset
        Items ``(x, y)`` or ``(x, y, subject)``.
    batch_size : int, default=256
    device : optional
        Default: where the model is.
    group_by_subject : {"auto", True, False}, default="auto"

    Returns
    -------
    np.ndarray (n_samples, n_outputs), or a dict subject -> (indices, outputs) when the outputs
    differ in size between subjects.
    """
    _check_model_and_data(model, {"dataset": dataset})
    if len(dataset):
        _check_items(dataset, "dataset")
    device = _model_device(model) if device is None else resolve_device(device)
    groups = _collect(model, dataset, batch_size, device, group_by_subject, num_workers)
    sizes = {tuple(g["pred"].shape[1:]) for g in groups.values()}
    if len(sizes) > 1:
        return {k: (g["index"], g["pred"].numpy()) for k, g in groups.items()}
    first = next(iter(groups.values()))
    out = np.empty((len(dataset), *first["pred"].shape[1:]))
    for g in groups.values():
        out[g["index"]] = g["pred"].numpy()
    return out


def _scores(pred, target, loss) -> dict:
    fn = LOSSES[loss]
    if loss in _CLASSIFICATION:
        lval = float(fn(pred, target.reshape(-1).long()))
        acc = accuracy(pred.numpy(), target.numpy())
        return {"loss": lval, "score": acc, "accuracy": acc, "n_samples": int(pred.shape[0])}
    target = target.double().reshape(pred.shape)
    r = pearson_r(pred.numpy(), target.numpy())
    r2 = r2_score(pred.numpy(), target.numpy())
    score = float(np.nanmean(r)) if np.isfinite(r).any() else float("nan")
    return {"loss": float(fn(pred, target)), "score": score, "r": r, "r2": r2, "n_samples": int(pred.shape[0])}


def evaluate(model: nn.Module, dataset: Dataset, loss: str = "mse", batch_size: int = 256, device=None,
             group_by_subject="auto", num_workers: int = 0) -> dict:
    """Score a model on a dataset (eval mode, no gradients).

    Parameters
    ----------
    model : nn.Module
    dataset : torch Dataset
        Items ``(x, y)`` or ``(x, y, subject)``.
    loss : {"mse", "nll", "cross_entropy"}, default="mse"
        Regression ("mse") or classification.
    batch_size : int, default=256
    device : optional
        Default: where the model is.
    group_by_subject : {"auto", True, False}, default="auto"

    Returns
    -------
    dict
        ``loss``, ``score`` (mean Pearson r over outputs, or accuracy), ``n_samples``; for
        regression ``r`` and ``r2`` (np.ndarray (n_outputs,)); for classification ``accuracy``.
        When batches are drawn per subject, ``subjects`` maps each subject to its own scores. If
        every subject has the same outputs, the top-level scores pool all samples; if the outputs
        differ (per-subject vertices), ``r``/``r2`` concatenate the subjects' outputs in subject
        order (``score`` is their mean; ``loss`` is sample-weighted).
    """
    check_param("loss", loss, Options(*LOSSES))
    _check_model_and_data(model, {"dataset": dataset})
    if len(dataset):
        _check_items(dataset, "dataset")
    device = _model_device(model) if device is None else resolve_device(device)
    groups = _collect(model, dataset, batch_size, device, group_by_subject, num_workers)
    if list(groups) == [None]:
        return _scores(groups[None]["pred"], groups[None]["target"], loss)
    per = {k: _scores(g["pred"], g["target"], loss) for k, g in sorted(groups.items())}
    if len({tuple(g["pred"].shape[1:]) for g in groups.values()}) == 1:
        # same outputs for every subject: score the pooled samples, keep the per-subject breakdown
        pred = torch.cat([g["pred"] for g in groups.values()])
        target = torch.cat([g["target"] for g in groups.values()])
        res = _scores(pred, target, loss)
        res["subjects"] = per
        return res
    n = sum(p["n_samples"] for p in per.values())
    res = {"loss": sum(p["loss"] * p["n_samples"] for p in per.values()) / n, "n_samples": n, "subjects": per}
    if loss in _CLASSIFICATION:
        res["accuracy"] = res["score"] = sum(p["accuracy"] * p["n_samples"] for p in per.values()) / n
    else:
        res["r"] = np.concatenate([p["r"] for p in per.values()])
        res["r2"] = np.concatenate([p["r2"] for p in per.values()])
        res["score"] = float(np.nanmean(res["r"])) if np.isfinite(res["r"]).any() else float("nan")
    return res


# -- training --------------------------------------------------------------------------------
def _rng_state(device) -> dict:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state, device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


_POSITIVE = Interval(numbers.Real, 0, None, closed="neither")

#: the declared constraints of every :class:`TrainingSettings` field
TRAINING_CONSTRAINTS = {
    "loss": (Options(*LOSSES),),
    "epochs": (NON_NEGATIVE_INT,),
    "batch_size": (POSITIVE_INT,),
    "lr": (_POSITIVE,),
    "weight_decay": (Interval(numbers.Real, 0),),
    "min_lr": (_POSITIVE,),
    "factor": (Interval(numbers.Real, 0, 1, closed="neither"),),
    "patience": (NON_NEGATIVE_INT,),
    "seed": (NON_NEGATIVE_INT,),
    "group_by_subject": (SWITCH,),
    "eval_batch_size": (POSITIVE_INT,),
    "num_workers": (NON_NEGATIVE_INT,),
    "distributed": (SWITCH,),
}


@dataclass(frozen=True)
class TrainingSettings:
    """How :func:`fit` trains a model, checked once when built (see :func:`fit` for each one).

    The same object carries the training settings of a pipeline config to :func:`fit`; build one
    to reuse the same settings, and override some with keywords::

        settings = TrainingSettings(epochs=30, lr=3e-4)
        fit(model, train, val, settings=settings, batch_size=32)

    Examples
    --------
    >>> TrainingSettings(epochs=3).replace(lr=0.01).lr
    0.01
    >>> TrainingSettings(epochs=-1)
    Traceback (most recent call last):
    ...
    neuro_igc._utils.InvalidParameterError: Invalid value for 'epochs': must be >= 0; got -1.
    """

    loss: str = "mse"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    min_lr: float = 1e-6
    factor: float = 0.9
    patience: int = 4
    seed: int = 0
    group_by_subject: Any = "auto"
    eval_batch_size: int = 256
    num_workers: int = 0
    distributed: Any = "auto"

    def __post_init__(self):
        check_params(TRAINING_CONSTRAINTS, self)

    def replace(self, **changes) -> TrainingSettings:
        """A copy with some settings changed (an unknown name raises a TypeError)."""
        return resolve_training("TrainingSettings.replace", changes, base=self)


TRAINING_FIELDS = tuple(f.name for f in dataclasses.fields(TrainingSettings))


def resolve_training(fn_name: str, options: Mapping[str, Any], base: TrainingSettings | None = None) -> TrainingSettings:
    """``base`` (or the defaults) with ``options`` on top, as one checked :class:`TrainingSettings`."""
    unknown = [k for k in options if k not in TRAINING_FIELDS]
    if unknown:
        close = difflib.get_close_matches(unknown[0], TRAINING_FIELDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; valid settings are {', '.join(TRAINING_FIELDS)}."
        raise TypeError(f"{fn_name}() got an unexpected keyword argument {unknown[0]!r}{hint}")
    if base is None:
        return TrainingSettings(**options)
    check_param("settings", base, TrainingSettings)
    return dataclasses.replace(base, **options) if options else base


def _check_model_and_data(model, datasets: dict) -> None:
    """Types first: a module, and datasets with items (not bare arrays)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"Invalid type for 'model': expected a torch.nn.Module (e.g. build_model('decoding_mlp', "
                        f"n_inputs=...)); got {type(model).__name__}.")
    from neuro_igc._utils import check_not_meta

    check_not_meta(model, "model")
    for name, ds in datasets.items():
        if ds is not None and not (hasattr(ds, "__getitem__") and hasattr(ds, "__len__")):
            raise TypeError(f"Invalid type for {name!r}: expected a torch Dataset of (x, y) items; got {type(ds).__name__}.")
        tensors = ds.tensors if isinstance(ds, torch.utils.data.TensorDataset) else ()
        for i, t in enumerate(tensors):
            check_not_meta(t, f"{name}.tensors[{i}]")


def _check_items(dataset, name: str, idx=(0,)) -> list:
    """Items ``idx`` of ``dataset``, checked to be ``(x, y)`` or ``(x, y, subject)``."""
    items = [dataset[int(i)] for i in idx]
    if not all(isinstance(it, (list, tuple)) and len(it) in (2, 3) for it in items):
        it = items[0]
        raise ValueError(
            f"Invalid value for {name!r}: items must be (x, y) or (x, y, subject); got {type(it).__name__}"
            + (f" of length {len(it)}" if hasattr(it, "__len__") else "")
            + ". Wrap arrays in torch.utils.data.TensorDataset(x, y) or a neuro_igc.data DecodingDataset."
        )
    return items


def _probe(model, dataset, name: str, device, takes, subjects, group, loss_fn, loss) -> None:
    """Run the model on the first two items of ``dataset`` (no gradients, no RNG use), so that data
    that do not fit the model fail now with a message naming ``name``, not mid-epoch in torch."""
    idx = _batches(len(dataset), 2, subjects, group)[0]
    items = _check_items(dataset, name, idx)
    x, y, s = _unpack(default_collate(items), device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            try:
                out = _call(model, x, s, takes)
            except ValueError as exc:  # the model's own input check
                raise ValueError(f"Invalid value for {name!r}: {exc}") from exc
            except (RuntimeError, IndexError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                expected = getattr(model, "n_inputs_per_subject", None)
                hint = f" (the model takes n_inputs={expected})" if expected is not None else ""
                raise ValueError(
                    f"Invalid value for {name!r}: its samples x of shape {tuple(x.shape[1:])} do not fit "
                    f"{type(model).__name__}{hint}: {first}"
                ) from exc
            try:
                _loss(loss_fn, out, y, loss)
            except ValueError as exc:
                raise ValueError(f"Invalid value for {name!r}: {exc}") from exc
    finally:
        model.train(was_training)


def fit(
    model: nn.Module,
    train: Dataset,
    val: Dataset | None = None,
    *,
    settings: TrainingSettings | None = None,
    device=None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    **options,
) -> FitResult:
    """Train a model with Adam and ReduceLROnPlateau, as the paper (appendices A.5/A.6).

    Parameters
    ----------
    model : nn.Module
        A zoo model (see :func:`build_model`) or any module ``model(x[, subject=...])``.
    train, val : torch Dataset
        Items ``(x, y)`` or ``(x, y, subject)`` (``subject`` a 0-d LongTensor); a
        ``subject_index`` attribute ``(n,)`` gives the subjects without reading the items.
        ``val`` drives the scheduler and the reported score (the training loss does without).
    settings : TrainingSettings, optional
        The training settings (``loss`` ... ``distributed`` below) in one object; keywords
        override it.
    device : str or torch.device, optional
        Default: CUDA when available, else CPU. The model is moved there.
    checkpoint : path-like, optional
        Written atomically after every epoch: weights, model config, optimizer, scheduler and RNG
        state, epoch, history and metrics (:func:`load_checkpoint` rebuilds the model).
    resume : bool, default=False
        Continue from ``checkpoint`` when it exists; the result equals an uninterrupted run.
    progress : bool, default=True
        A tqdm bar over epochs showing the validation score.
    **options
        Any field of :class:`TrainingSettings` (overriding ``settings``), as follows.

    loss : {"mse", "nll", "cross_entropy"}, default="mse"
        "nll" expects log-probabilities (``DigitsClassifier``'s default output).
    epochs : int, default=10
    batch_size : int, default=64
    lr : float, default=1e-3
    weight_decay : float, default=0.0
        Adam's L2 penalty.
    min_lr, factor, patience : default=1e-6, 0.9, 4
        ReduceLROnPlateau on the validation loss.
    seed : int, default=0
        Seeds batch order, dropout and drop-path (the global torch RNG is restored afterwards).
    group_by_subject : {"auto", True, False}, default="auto"
        Draw each batch from one subject. "auto": when the model has per-subject layers and the
        data give subjects (needed when subjects' input or output sizes differ). Otherwise
        batches mix subjects and per-subject layers route each sample.
    eval_batch_size : int, default=256
    num_workers : int, default=0
        DataLoader workers (0: load in the main process).
    distributed : {"auto", True, False}, default="auto"
        Inside an initialised ``torch.distributed`` group of several processes (e.g. under
        ``torchrun``): DistributedDataParallel, each rank on its own device (``cuda`` becomes
        ``cuda:LOCAL_RANK``). Every batch of ``batch_size`` is split across the ranks and the
        gradients are weighted so that the step is that of the whole batch (BatchNorm statistics
        are each rank's); rank 0's initial weights are used; rank 0 writes the checkpoints (with
        every rank's RNG state) and shows the progress bar. ``True`` also initialises the group
        from the ``torchrun`` environment.

    Returns
    -------
    FitResult

    Notes
    -----
    Training batches of a single sample are skipped (BatchNorm needs two).

    Examples
    --------
    >>> from neuro_igc.models import build_model
    >>> x = torch.randn(64, 10); y = x[:, :2].clone()
    >>> ds = torch.utils.data.TensorDataset(x, y)
    >>> res = fit(build_model("decoding_mlp", n_inputs=10), ds, ds, epochs=2, progress=False)
    >>> len(res.history)
    2
    """
    from neuro_igc._utils import progress_bar as tqdm

    st = resolve_training("fit", options, base=settings)
    _check_model_and_data(model, {"train": train, "val": val})
    if resume and checkpoint is None:
        raise ValueError("resume=True needs a 'checkpoint' path to resume from.")
    if len(train) < 2:
        raise ValueError(f"The training dataset needs at least 2 samples; got {len(train)}.")
    run = _Run.start(model, train, val, st, device)
    progress = progress and dist.is_main()
    fork_devices = ([run.device.index if run.device.index is not None else torch.cuda.current_device()]
                    if run.device.type == "cuda" else [])
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(_rank_seed(st.seed) if run.ddp else st.seed)
        net = _wrap_ddp(model, run.device) if run.ddp else model  # distributed: gradients averaged over the ranks
        if resume and os.path.exists(checkpoint):
            run.resume(checkpoint)
        bar = tqdm(range(run.start_epoch, st.epochs), desc=f"fit {type(model).__name__}", disable=not progress,
                   initial=run.start_epoch, total=st.epochs)
        for epoch in bar:
            entry = run.epoch(net, epoch)
            bar.set_postfix({k: round(v, 4) for k, v in entry.items() if k in ("train_loss", "val_score")})
            if checkpoint is not None:
                run.save(checkpoint, epoch)
        bar.close()
    model.eval()
    history = run.history
    score = float(history[-1].get("val_score", float("nan"))) if history else float("nan")
    return FitResult(model=model, history=history, score=score, metrics=run.metrics)


@dataclass
class _Run:
    """The state of one :func:`fit` run: model, data, optimizer, scheduler, history."""

    model: nn.Module
    train: Dataset
    val: Dataset | None
    settings: TrainingSettings
    device: torch.device
    ddp: bool
    subjects: np.ndarray | None
    group: bool
    takes_subject: bool
    optimizer: torch.optim.Optimizer
    scheduler: Any
    history: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    start_epoch: int = 0

    @classmethod
    def start(cls, model, train, val, st: TrainingSettings, device) -> _Run:
        """Place the model, check that the data fit it, and set up Adam and the LR schedule."""
        ddp = dist.resolve(st.distributed)
        device = dist.rank_device(resolve_device(device)) if ddp else resolve_device(device)
        model.to(device)
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ValueError(f"{type(model).__name__} has no trainable parameters (a Ridge is fitted with .fit(X, Y)).")
        subjects = _subject_index(train)
        group = _grouping(model, st.group_by_subject, subjects)
        takes = _accepts_subject(model)
        loss_fn = LOSSES[st.loss]
        _probe(model, train, "train", device, takes, subjects, group, loss_fn, st.loss)
        if val is not None and len(val):
            _probe(model, val, "val", device, takes, _subject_index(val), group, loss_fn, st.loss)
        optimizer = torch.optim.Adam(params, lr=st.lr, weight_decay=st.weight_decay)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=st.factor,
                                                               patience=st.patience, min_lr=st.min_lr)
        return cls(model, train, val, st, device, ddp, subjects, group, takes, optimizer, scheduler)

    @property
    def fit_args(self) -> dict:
        """The arguments a checkpoint records (a resumed run must match them)."""
        st = self.settings
        return {"loss": st.loss, "epochs": int(st.epochs), "batch_size": int(st.batch_size), "lr": float(st.lr),
                "weight_decay": float(st.weight_decay), "min_lr": float(st.min_lr), "factor": float(st.factor),
                "patience": int(st.patience), "seed": int(st.seed), "group_by_subject": self.group,
                "n_train": len(self.train), "n_val": None if self.val is None else len(self.val)}

    def resume(self, checkpoint) -> None:
        """Load weights, optimizer, scheduler, RNG and history from ``checkpoint``."""
        state = read_checkpoint(checkpoint, map_location=self.device)
        config = getattr(self.model, "config", None)
        if state.get("model_config") != config:
            raise ValueError(
                f"Cannot resume from {str(checkpoint)!r}: it was written for model config "
                f"{state.get('model_config')}, not {config}."
            )
        _check_resume(checkpoint, state, self.fit_args)
        self.model.load_state_dict(state["model_state"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        _set_rng_state({k: v.cpu() for k, v in _own_rng(state, self.ddp, self.settings.seed).items()}, self.device)
        self.history = list(state.get("history", []))
        self.metrics = dict(state.get("metrics", {}))
        self.start_epoch = int(state["epoch"])
        logger.info("Resuming from %s at epoch %d.", checkpoint, self.start_epoch)

    def epoch(self, net, epoch: int) -> dict:
        """One pass over the training data, then validation and a scheduler step; the history entry."""
        st, model, device = self.settings, self.model, self.device
        loss_fn = LOSSES[st.loss]
        rng = np.random.default_rng([st.seed, epoch])
        batches = _batches(len(self.train), st.batch_size, self.subjects, self.group, rng=rng, drop_single=True)
        weights = [1.0] * len(batches)
        if self.ddp:  # this rank's part of every batch, and its share of the batch's mean loss
            batches, weights = _rank_parts(batches)
        model.train()
        total, count = 0.0, 0
        for batch, weight in zip(_loader(self.train, batches, st.num_workers), weights):
            x, y, s = _unpack(batch, device)
            self.optimizer.zero_grad(set_to_none=True)
            value = _loss(loss_fn, _call(net, x, s, self.takes_subject), y, st.loss)
            if not torch.isfinite(value):
                raise FloatingPointError(
                    f"The training loss became {value.item()} at epoch {epoch + 1}: lower 'lr' or "
                    "check the data for NaN/inf."
                )
            (value * weight if self.ddp else value).backward()
            self.optimizer.step()
            total += float(value.detach()) * x.shape[0]
            count += x.shape[0]
        if self.ddp:  # rank 0's BatchNorm statistics everywhere: the same validation and checkpoint
            dist.broadcast_tensors(list(model.buffers()), what="training")
            sums = dist.all_reduce_sums({"t": torch.tensor([total, float(count)], dtype=torch.float64)},
                                        what="training loss")["t"]
            total, count = float(sums[0]), int(sums[1])
        entry = {"epoch": epoch + 1, "train_loss": total / max(count, 1),
                 "lr": float(self.optimizer.param_groups[0]["lr"])}
        if self.val is not None:
            self.metrics = evaluate(model, self.val, loss=st.loss, batch_size=st.eval_batch_size, device=device,
                                    group_by_subject=self.group, num_workers=st.num_workers)
            entry.update(val_loss=self.metrics["loss"], val_score=self.metrics["score"])
        self.scheduler.step(entry.get("val_loss", entry["train_loss"]))
        self.history.append(entry)
        return entry

    def save(self, checkpoint, epoch: int) -> None:
        """Write the checkpoint after ``epoch`` (distributed: rank 0 writes, with every rank's RNG)."""
        rng_ranks = dist.gather_objects(_rng_state(self.device), what="checkpoint") if self.ddp else None
        if dist.is_main() or not self.ddp:
            extra = {"rng_ranks": rng_ranks} if self.ddp else {}
            save_checkpoint(
                checkpoint, self.model, optimizer=self.optimizer.state_dict(),
                scheduler=self.scheduler.state_dict(), rng=_rng_state(self.device), epoch=epoch + 1,
                history=self.history, fit_args=self.fit_args, metrics=_plain_metrics(self.metrics), **extra,
            )


def _check_resume(checkpoint, state: dict, fit_args: dict) -> None:
    """Resuming continues the same run: every training argument (bar a larger ``epochs``) and the
    dataset sizes must be those the checkpoint was written with."""
    saved = state.get("fit_args")
    where = f"Cannot resume from {str(checkpoint)!r}"
    fresh = "delete the checkpoint or pass resume=False to train afresh"
    if not isinstance(saved, dict):
        raise ValueError(f"{where}: it does not record its training arguments; {fresh}.")
    changed = [f"{k}={saved.get(k)!r} there, {v!r} now" for k, v in fit_args.items()
               if k != "epochs" and saved.get(k) != v]
    if changed:
        raise ValueError(f"{where}: it was trained with other arguments ({'; '.join(changed)}); "
                         f"give the same ones, or {fresh}.")
    if int(state.get("epoch", 0)) > fit_args["epochs"]:
        raise ValueError(f"{where}: it has already run {state['epoch']} epochs, more than epochs="
                         f"{fit_args['epochs']}; {fresh}.")


def _rank_seed(seed) -> int:
    """Rank 0 keeps ``seed``; the other ranks get their own stream (dropout differs per rank)."""
    r = dist.rank()
    return int(seed) if r == 0 else int(np.random.SeedSequence([int(seed), r]).generate_state(1)[0])


def _wrap_ddp(model, device):
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    # unused parameters: the other subjects' layers of a per-subject batch (left without gradient,
    # as in one process, so that Adam leaves them alone)
    return DistributedDataParallel(model, device_ids=ids, output_device=None if ids is None else ids[0],
                                   find_unused_parameters=True)


def _rank_parts(batches: list[np.ndarray]) -> tuple[list[np.ndarray], list[float]]:
    """This rank's block of each batch and the weight ``world * n_rank / n_batch`` of its mean loss
    (DDP averages gradients over the ranks: the weighted average is the whole batch's gradient).
    Batches too small to give every rank two samples are left out on every rank."""
    w, r = dist.world_size(), dist.rank()
    parts, weights = [], []
    for b in batches:
        if len(b) < 2 * w:
            continue
        part = np.array_split(b, w)[r]
        parts.append(part)
        weights.append(w * len(part) / len(b))
    return parts, weights


def _own_rng(state: dict, ddp: bool, seed) -> dict:
    """This rank's RNG state from a checkpoint (rank 0's when the world size changed)."""
    ranks = state.get("rng_ranks")
    if ddp and ranks and len(ranks) == dist.world_size():
        return ranks[dist.rank()]
    if ddp and dist.rank() > 0:
        logger.warning("checkpoint written by %s process(es): rank %d's RNG state is reseeded.",
                       len(ranks) if ranks else 1, dist.rank())
        torch.manual_seed(_rank_seed(seed))
        return _rng_state(torch.device("cpu"))
    return state["rng"]


def _plain_metrics(metrics: dict) -> dict:
    """Metrics with arrays turned into lists (checkpoints are loaded with weights_only=True)."""
    out = {}
    for k, v in metrics.items():
        if isinstance(v, dict):
            out[k] = _plain_metrics(v)
        elif isinstance(v, np.ndarray):
            out[k] = v.tolist()
        else:
            out[k] = v
    return out
