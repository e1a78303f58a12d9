"""Train (or reuse) the models of a decoding/encoding pipeline, and compute their IGC maps.

Models with per-subject layers (decoding MLP, encoding ConvNeXt) are trained once for all the
selected participants; models without (ridge) are fitted per subject. With
``training.n_models > 1`` several seeds are trained and the ``keep`` best (validation score)
are kept; their IGC maps are averaged, as the paper does.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

__all__ = ["train_models", "load_models", "compute_igc", "PER_SUBJECT_MODELS"]

logger = logging.getLogger(__name__)

#: registry names of models fitted per subject (no per-subject layers)
PER_SUBJECT_MODELS = {"ridge"}


def _build(cfg, data, seed: int):
    from neuro_igc.models import build_model

    name, params = cfg.model.name, dict(cfg.model.params)
    n_vert = [d.n_vertices for d in data.subjects]
    sizes = n_vert[0] if len(set(n_vert)) == 1 else n_vert
    if cfg.task == "decoding":
        return build_model(name, seed=seed, n_inputs=sizes, n_outputs=len(cfg.data.targets),
                           n_subjects=len(n_vert), **params)
    return build_model(name, seed=seed, n_outputs=sizes, n_subjects=len(n_vert),
                       input_size=cfg.data.image_size, in_channels=1, **params)


def _fit_kwargs(cfg, device, progress) -> dict:
    """``fit``'s arguments: the config's one ``TrainingSettings`` object, and where to run."""
    return dict(settings=cfg.training.settings(), device=device, progress=progress)


def _stack(ds, k: int):
    """All ``(x, y)`` items of subject position ``k`` of a dataset, stacked."""
    import torch

    items = [ds[int(i)] for i in ds.indices_by_subject()[k]]
    return torch.stack([it[0] for it in items]), torch.stack([it[1] for it in items])


def _score_info(metrics: dict, data) -> dict:
    """Per-subject validation r of every output, as plain lists (kept in the step record)."""
    per = metrics.get("subjects") or {0: metrics}
    out = {}
    for k, m in per.items():
        subject = data.subjects[int(k)].subject
        out[f"{subject:02d}"] = {"r": np.asarray(m.get("r", [])).tolist(), "score": float(m.get("score", np.nan))}
    return out


def train_models(ctx, data, folder: Path) -> tuple[list[Path], dict]:
    """Fit the config's model(s) on ``data`` (PipelineData); write checkpoints into ``folder``.
    Returns the checkpoint paths and the validation scores per subject."""
    from torch.utils.data import TensorDataset

    from neuro_igc.models import build_model, evaluate, fit, fit_ensemble, save_checkpoint

    cfg = ctx.config
    t = cfg.training
    paths: list[Path] = []
    if cfg.model.name in PER_SUBJECT_MODELS:
        scores = {}
        for info in data.subjects:
            x, y = _stack(data.train, info.index)
            model = build_model(cfg.model.name, **cfg.model.params).fit(x, y)
            xv, yv = _stack(data.val, info.index)
            metrics = evaluate(model, TensorDataset(xv, yv))
            entry = {"r": np.asarray(metrics["r"]).tolist(), "score": float(metrics["score"])}
            path = folder / f"sub-{info.subject:02d}_model.pt"
            save_checkpoint(path, model, metrics=entry, subject=info.subject)
            paths.append(path)
            scores[f"{info.subject:02d}"] = entry
        return paths, {"val": scores}
    kwargs = _fit_kwargs(cfg, ctx.device, ctx.progress)
    subjects = [d.subject for d in data.subjects]
    if t.n_models == 1:
        res = fit(_build(cfg, data, t.seed), data.train, data.val, **kwargs)
        models, member_scores, histories = [res.model], [res.score], [res.history]
    else:
        ens = fit_ensemble(lambda s: _build(cfg, data, s), data.train, data.val, n_models=t.n_models,
                           keep=t.keep, seed=t.seed, **kwargs)
        models, member_scores = ens.models, [float(ens.scores[i]) for i in ens.selected]
        histories = [ens.histories[i] for i in ens.selected] if ens.histories else []
    scores = {}
    for i, model in enumerate(models):
        metrics = evaluate(model, data.val, device=ctx.device)
        path = folder / f"member-{i:02d}_model.pt"
        save_checkpoint(path, model.cpu(), subjects=subjects, metrics={"score": float(metrics["score"])})
        paths.append(path)
        if i == 0:
            scores = _score_info(metrics, data)
    history = [[{k: float(v) for k, v in e.items() if isinstance(v, (int, float))} for e in h] for h in histories]
    return paths, {"val": scores, "member_scores": member_scores, "history": history}


def load_models(paths: list[Path], device) -> list:
    """Rebuild the checkpointed models (eval mode) on ``device``."""
    from neuro_igc.models import load_checkpoint

    return [load_checkpoint(p, device=device) for p in paths]


def compute_igc(ctx, models: list, data, subject: int, position: int):
    """IGC of each model on the subject's validation data; maps averaged over the models.

    Per-subject layers get the subject's ``position`` in the model as a constant ``subject``
    keyword, so the baselines' predictions use the same subject (no baseline term).
    """
    from neuro_igc.attribution import AttributionResult, igc

    a = ctx.config.attribution
    x, y = data.val_arrays(subject, a.n_samples)
    if len(x) < 2 or a.baselines > len(x):
        from neuro_igc.pipeline._errors import PipelineError

        limit = f" (attribution.n_samples={a.n_samples})" if a.n_samples is not None else ""
        need = ("IGC correlates over samples and needs at least 2" if len(x) < 2 else
                f"attribution.baselines={a.baselines} draws its baselines from them; lower it to {len(x)} or less")
        raise PipelineError(f"subject {subject:02d} has {len(x)} validation sample(s) to attribute{limit}: {need}.")
    kwargs = {} if ctx.config.model.name in PER_SUBJECT_MODELS else {"subject": int(position)}
    params = {"warn": False, **a.params}  # the error is reported below in one line (and in the report)
    results = [
        igc(model, x, y, baselines=a.baselines, n_steps=a.n_steps, method=a.method, seed=a.seed,
            batch_size=a.batch_size, device=ctx.device, model_kwargs=kwargs, progress=ctx.progress, **params)
        for model in models
    ]
    for res in results:
        bad = np.flatnonzero(np.asarray(res.igc_error) > 0.01)
        if bad.size:
            logger.warning(
                "subject %02d: IGC error above 0.01 for %d of %d outputs (max %.3g, IG error %.3g); raise "
                "attribution.n_steps (or use 'auto') or attribution.n_samples.", subject, bad.size,
                len(res.igc_error), float(np.max(res.igc_error)), float(np.max(res.ig_error)))
    if len(results) == 1:
        return results[0]

    def mean(name):
        values = [getattr(r, name) for r in results]
        return None if any(v is None for v in values) else np.mean(values, axis=0)

    settings = dict(results[0].settings)
    settings["n_models_averaged"] = len(results)
    return AttributionResult(mean("attributions"), correlation=mean("correlation"), ig_error=mean("ig_error"),
                             igc_error=mean("igc_error"), settings=settings, baseline_term=mean("baseline_term"))
