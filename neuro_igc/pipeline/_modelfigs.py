"""What a scientist checks of a trained model before reading its maps: training curves,
predictions against the truth on the validation images and, where NSD gives one, the noise ceiling
beside the validation r (encoding: per vertex from ``ncsnr``)."""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["model_step", "noise_ceiling_r"]

logger = logging.getLogger(__name__)


def noise_ceiling_r(ctx, info) -> np.ndarray | None:
    """The highest validation r NSD's noise allows for each of the subject's vertices,
    ``sqrt(NC / 100)`` with NC from ``ncsnr`` for the median number of repeats averaged; None
    when the NSD folder has no ``ncsnr`` files."""
    from neuro_igc.data import NSD, noise_ceiling

    d = ctx.config.data
    try:
        full = NSD(ctx.nsd_root, progress=False).ncsnr(info.subject, d.space, version=d.beta_version,
                                                        density=info.density)
    except (FileNotFoundError, ValueError, OSError) as exc:
        logger.info("no noise ceiling for subject %02d: %s", info.subject, exc)
        return None
    n_lh = full.size // 2  # fsaverage: lh then rh, same vertex count
    ncsnr = info.feature_space.from_hemispheres({"lh": full[:n_lh], "rh": full[n_lh:]})
    return np.sqrt(noise_ceiling(ncsnr, n=max(int(info.val_repeats), 1)) / 100.0)


def _predictions(ctx, models, data, info):
    """(prediction, truth) of the first model on the subject's validation data."""
    import torch

    from neuro_igc.pipeline._train import PER_SUBJECT_MODELS, _stack

    x, y = _stack(data.val, info.index)
    per_subject = ctx.config.model.name in PER_SUBJECT_MODELS
    model = models[info.index] if per_subject and len(models) > info.index else models[0]
    model.eval()
    device = next(iter(model.parameters())).device
    with torch.no_grad():
        out = model(x.to(device)) if per_subject else model(x.to(device), subject=int(info.index))
    return out.reshape(len(x), -1).cpu().numpy(), y.reshape(len(y), -1).numpy()


def model_step(ctx, data, train, names: list[str] | None):
    """Training curves, predicted vs true (decoding) or per-vertex validation r against the noise
    ceiling (encoding), and the noise ceiling per subject; a figure in ``figures/``."""
    cfg = ctx.config
    settings = {"train": train.hash, "figures": cfg.outputs.figures, "data_files": ctx.data_hash, "version": 1}

    def work(deriv):
        from neuro_igc.pipeline._outputs import _checkpoints_for
        from neuro_igc.pipeline._train import load_models

        d = data.get()
        info = {"noise_ceiling": {}, "figures": []}
        panels = {}
        for si in d.subjects:
            sub = f"{si.subject:02d}"
            models = load_models(_checkpoints_for(ctx, train, si.subject), ctx.device)
            pred, truth = _predictions(ctx, models, d, si)
            panels[sub] = (pred, truth)
            if cfg.task == "encoding":
                nc = noise_ceiling_r(ctx, si)
                if nc is not None and nc.size == pred.shape[1]:
                    r = np.asarray(train.info.get("val", {}).get(sub, {}).get("r", []), dtype=float)
                    ok = np.isfinite(nc) & (nc > 0)
                    ratio = r[ok] / nc[ok] if r.size == nc.size else np.array([np.nan])
                    info["noise_ceiling"][sub] = {"median_r": float(np.nanmedian(nc)),
                                                  "median_ratio": float(np.nanmedian(ratio)),
                                                  "repeats": int(si.val_repeats)}
                    panels[sub] = (pred, truth, r, nc)
        if cfg.outputs.figures:
            path = deriv.figure_path(None, "model", desc=cfg.label)
            _plot(path, train.info.get("history", []), panels, names, cfg.task)
            info["figures"].append([str(path.relative_to(deriv.root)),
                                    "Training curves (loss per epoch, validation r) and "
                                    + ("predicted vs true statistic on the validation images"
                                       if cfg.task == "decoding" else
                                       "per-vertex validation r against the noise ceiling r")])
        return info

    return ctx.step("model", settings, work)


def _plot(path, histories, panels: dict, names, task: str) -> None:
    from neuro_igc._utils import new_figure, save_figure

    n_right = len(names) if task == "decoding" and names else len(panels)
    fig = new_figure("Model figures", figsize=(4.2 * (n_right + 1), 3.6))
    axes = fig.subplots(1, n_right + 1, squeeze=False)[0]
    ax = axes[0]
    if histories:
        for k, h in enumerate(histories):
            ep = [e.get("epoch", i + 1) for i, e in enumerate(h)]
            ax.plot(ep, [e.get("train_loss", np.nan) for e in h], color="C0", lw=1.2,
                    label="training loss" if k == 0 else None)
            ax.plot(ep, [e.get("val_loss", np.nan) for e in h], color="C1", lw=1.2,
                    label="validation loss" if k == 0 else None)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (MSE, z-scored targets)")
        twin = ax.twinx()
        for k, h in enumerate(histories):
            twin.plot([e.get("epoch", i + 1) for i, e in enumerate(h)], [e.get("val_score", np.nan) for e in h],
                      color="C2", lw=1.2, ls="--", label="validation r (mean)" if k == 0 else None)
        twin.set_ylabel("validation r (mean over outputs)")
        lines = ax.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="best")
        ax.set_title("training", fontsize=10, loc="left")
    else:
        ax.text(0.5, 0.5, "no training history\n(model reused or fitted in closed form)", ha="center",
                va="center", transform=ax.transAxes, fontsize=9)
        ax.set_axis_off()
    if task == "decoding" and names:
        for j, name in enumerate(names):
            ax = axes[j + 1]
            lo, hi = np.inf, -np.inf
            for k, (sub, (pred, truth, *_)) in enumerate(panels.items()):
                r = np.corrcoef(pred[:, j], truth[:, j])[0, 1] if len(pred) > 1 else np.nan
                ax.scatter(truth[:, j], pred[:, j], s=10, alpha=0.7, color=f"C{k}", label=f"sub-{sub} (r = {r:.2f})")
                lo, hi = min(lo, truth[:, j].min(), pred[:, j].min()), max(hi, truth[:, j].max(), pred[:, j].max())
            if np.isfinite(lo):
                ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls=":", label="prediction = truth")
            ax.set_xlabel(f"true {name} (z-scored)")
            ax.set_ylabel(f"predicted {name} (z-scored)")
            ax.set_title(f"{name}: validation images", fontsize=10, loc="left")
            ax.legend(fontsize=7, loc="upper left")
    else:
        for k, (sub, values) in enumerate(panels.items()):
            ax = axes[k + 1]
            if len(values) == 4:
                _, _, r, nc = values
                ax.scatter(nc, r, s=6, alpha=0.5, color="C0")
                ax.plot([0, 1], [0, 1], color="0.5", lw=0.8, ls=":", label="r = noise ceiling")
                ax.set_xlabel("noise ceiling r (NSD ncsnr)")
                ax.legend(fontsize=7, loc="upper left")
            else:
                pred, truth = values[:2]
                r = [np.corrcoef(pred[:, i], truth[:, i])[0, 1] for i in range(pred.shape[1])]
                ax.hist(r, bins=30, color="C0")
                ax.set_xlabel("validation r")
            ax.set_ylabel("validation r per vertex" if len(values) == 4 else "vertices")
            ax.set_title(f"sub-{sub}: vertices", fontsize=10, loc="left")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
