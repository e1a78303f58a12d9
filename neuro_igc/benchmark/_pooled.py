"""Dataset-wise maps with a fresh baseline set for every chunk of samples, combined exactly.

``neuro_igc.attribution`` draws *one* set of baselines shared by every sample, which makes the
maps sum exactly to the correlation. With the paper's 8 baselines, that single draw is a large
source of variance in the benchmark: on Exp. C the ratio of pair b to pair a moves between about
0.5 and 1.1 for IGaC from one seed to the next, whatever the number of samples. The expectation
over baselines drawn from the data (the paper's Eq. 2) is better estimated by drawing a new set
for each chunk of ``chunk`` samples (the paper processes 10 inputs per batch).

The engine is called on each chunk with that chunk's baselines, and the chunk results are
combined into a *pooled within-chunk* estimate. With ``A_ij`` the per-sample attribution (IG or
Baseline Shapley) and chunks ``c``::

    map_j = sum_c sum_{i in c} A_ij (y_i - mean_c(y)) / sqrt(SS_f SS_y),
    SS_f = sum_c sum_{i in c} (f_i - mean_c(f))**2    (SS_y likewise)

The engine returns ``sum_{i in c} A_ij (y_i - mean_c y) / (n_c sd_c(f) sd_c(y))`` (population
SDs), so each chunk's sum is recovered exactly. By completeness the maps sum to the pooled
within-chunk correlation of ``f(x)`` and ``y`` (each chunk's baseline term is a constant within
the chunk and drops out), which is what ``igc_error`` is measured against. With one chunk this
is exactly the engine's result. IG mean and SD are combined exactly from the chunks' means and
SDs.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["chunk_plan", "predict", "pooled_correlation_map", "pooled_naive_ig"]


def chunk_plan(n: int, chunk: int, n_baselines: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Contiguous chunks of ``chunk`` samples, each with its own baselines drawn from all samples.

    Returns
    -------
    list of (sample indices, baseline indices)
    """
    n_chunks = max(1, math.ceil(n / max(1, int(chunk))))
    plan = []
    for c, idx in enumerate(np.array_split(np.arange(n), n_chunks)):
        rng = np.random.default_rng([int(seed), c])
        plan.append((idx, np.sort(rng.choice(n, size=min(int(n_baselines), n), replace=False))))
    return plan


def predict(model: nn.Module, x: torch.Tensor, output: int, batch: int = 1024, device=None) -> np.ndarray:
    """``f(x)[:, output]`` in eval mode, float64 ``(n,)`` (as the engine computes it)."""
    from neuro_igc._utils import resolve_device

    dev = resolve_device(device)
    params = [p for p in model.parameters() if p.is_floating_point()]
    dtype = params[0].dtype if params else torch.get_default_dtype()
    home = params[0].device if params else torch.device("cpu")
    was_training = model.training
    model.eval().to(dev)
    out = []
    try:
        with torch.no_grad():
            for s in range(0, x.shape[0], batch):
                out.append(model(x[s:s + batch].to(device=dev, dtype=dtype))[:, output].double().cpu())
    finally:
        model.train(was_training).to(home)
    return torch.cat(out).numpy()


def _centered_ss(values: np.ndarray, plan) -> float:
    return float(sum(((values[idx] - values[idx].mean()) ** 2).sum() for idx, _ in plan))


def pooled_correlation_map(fn, model: nn.Module, x: torch.Tensor, y, target: np.ndarray, fx: np.ndarray,
                           plan, output: int, progress: bool = True, desc: str = "", **kwargs) -> dict:
    """Run a correlation-type engine function (igc, igac, bsc) per chunk and pool the chunks.

    Parameters
    ----------
    fn : callable
        ``fn(model, x_chunk, [y_chunk,] baselines=..., output_idx=output, **kwargs)`` returning an
        AttributionResult (``y`` None: called without it, as ``igac``).
    x : (n, *input_shape) tensor
    y : (n,) tensor or None
        What the engine gets (labels for a categorical experiment).
    target : (n,) float ndarray
        The centred quantity as the engine sees it (``y``, the class indicator, or ``fx``).
    fx : (n,) float ndarray
        ``f(x)`` of the attributed output.
    plan : list from :func:`chunk_plan`

    Returns
    -------
    dict with "map" (flat ``(m,)``), "correlation" (pooled within-chunk), "igc_error", "ig_error"
    (sample-weighted mean over chunks; NaN when the engine gives none)
    """
    from tqdm.auto import tqdm

    total, errs, weights = None, [], []
    for idx, base_idx in tqdm(plan, desc=desc, disable=not progress, leave=False, unit="chunk"):
        t, f = target[idx], fx[idx]
        if t.std() == 0 or f.std() == 0:
            continue  # no within-chunk covariance: the chunk adds exactly nothing
        args = (model, x[idx]) if y is None else (model, x[idx], y[idx])
        res = fn(*args, baselines=x[base_idx], output_idx=output, progress=False, **kwargs)
        part = np.asarray(res.attributions, dtype=np.float64).reshape(-1) * (idx.size * f.std() * t.std())
        total = part if total is None else total + part
        if res.ig_error is not None:
            errs.append(float(np.max(res.ig_error)))
            weights.append(idx.size)
    if total is None:
        raise ValueError(
            "No chunk has varying outputs and targets: the correlation map is undefined. Use more samples "
            "or a larger 'baseline_chunk'."
        )
    ss_f, ss_t = _centered_ss(fx, plan), _centered_ss(target, plan)
    cov = sum(((fx[idx] - fx[idx].mean()) * (target[idx] - target[idx].mean())).sum() for idx, _ in plan)
    amap = total / math.sqrt(ss_f * ss_t)
    corr = float(cov / math.sqrt(ss_f * ss_t))
    return {
        "map": amap,
        "correlation": corr,
        "igc_error": abs(float(amap.sum()) - corr),
        "ig_error": float(np.average(errs, weights=weights)) if errs else math.nan,
    }


def pooled_naive_ig(fn, model: nn.Module, x: torch.Tensor, plan, output: int, progress: bool = True,
                    desc: str = "", **kwargs) -> dict:
    """Mean and population SD over samples of per-sample IG, with per-chunk baselines.

    Returns
    -------
    dict with "mean", "sd" (flat ``(m,)``) and "ig_error"
    """
    from tqdm.auto import tqdm

    sizes, means, sds = [], [], []
    errs, weights = [], []
    for idx, base_idx in tqdm(plan, desc=desc, disable=not progress, leave=False, unit="chunk"):
        res = fn(model, x[idx], baselines=x[base_idx], output_idx=output, progress=False, **kwargs)
        sizes.append(idx.size)
        means.append(np.asarray(res.mean.attributions, dtype=np.float64).reshape(-1))
        sds.append(np.asarray(res.sd.attributions, dtype=np.float64).reshape(-1))
        if res.mean.ig_error is not None:
            errs.append(float(np.max(res.mean.ig_error)))
            weights.append(idx.size)
    n_c = np.asarray(sizes, dtype=np.float64)[:, None]
    means, sds = np.stack(means), np.stack(sds)
    mean = (n_c * means).sum(0) / n_c.sum()
    # total sum of squares = within-chunk + between-chunk parts (exact, no cancellation)
    var = (n_c * (sds**2 + (means - mean) ** 2)).sum(0) / n_c.sum()
    return {"mean": mean, "sd": np.sqrt(var),
            "ig_error": float(np.average(errs, weights=weights)) if errs else math.nan}
