"""Baseline-Shapley correlation (BSC): IGC with Baseline Shapley as the path method.

A slow reference for small inputs (the paper's appendix A.4): each sample's Baseline Shapley
values are estimated by permutation sampling -- walking through a random order of the input
components, switching each from the baseline to the input, and crediting it with the change of
the output. Every walk is exactly complete (its credits sum to ``f(x) - f(b)``), so BSC sums to
``corr(f(x), y)`` up to rounding, and for a linear model every walk gives ``w_j (x_j - b_j)``:
BSC then equals IGC exactly.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from neuro_igc.attribution._data import check_targets, is_categorical
from neuro_igc.attribution._engine import Engine, prepared_model
from neuro_igc.attribution._igc import _prepare, _std_checks, _warn
from neuro_igc.attribution._result import AttributionResult

__all__ = ["bsc"]


def bsc(model: nn.Module, x, y=None, baselines=8, n_permutations: int = 16, seed: int = 0,
        batch_size: int | None = None, device=None, output_idx=None, extra: Mapping | None = None,
        model_kwargs: Mapping | None = None, progress: bool = True, *, output_transform=None,
        warn: bool = True) -> AttributionResult:
    """Baseline-Shapley correlation by permutation sampling (slow; for small inputs).

    ``BSC_j = mean_i[BS_ij (y_i - mean(y))] / (sd(f(x)) sd(y))`` with ``BS_ij`` the Baseline
    Shapley value of component j for sample i, averaged over the shared baseline set and
    ``n_permutations`` random component orders per (sample, baseline).

    Parameters
    ----------
    model : torch.nn.Module
    x : (n_samples, *input_shape) array-like or torch Dataset
    y : (n_samples,) or (n_samples, n_outputs) array-like, or (n_samples,) int labels
    baselines : int, array-like or "zeros", default=8
        As in :func:`igc`.
    n_permutations : int, default=16
        Random orders per (sample, baseline); each costs ``m + 1`` forward evaluations for ``m``
        input components.
    seed : int, default=0
        Seeds the baseline draw and the permutations.
    batch_size : int, optional
        Forward evaluations per model call (default: about 4M input elements).
    device, output_idx, extra, model_kwargs, progress, output_transform, warn
        As in :func:`igc`.

    Returns
    -------
    AttributionResult
        ``attributions`` (n_outputs, *input_shape), ``correlation``, ``igc_error``
        (``settings["kind"] == "bsc"``).
    """
    from tqdm.auto import tqdm

    if isinstance(n_permutations, bool) or not isinstance(n_permutations, (int, np.integer)) or n_permutations < 1:
        raise ValueError(f"Invalid value for 'n_permutations': expected an int >= 1; got {n_permutations!r}.")
    src, base, base_info, dev, ekw = _prepare(
        model, x, y, need_y=True, baselines=baselines, n_steps=2, method="riemann-trapezoid", seed=seed,
        batch_size=None, device=device, output_idx=output_idx, extra=extra, model_kwargs=model_kwargs,
        progress=progress, output_transform=output_transform, input_linear=False, readout=False, vjp="loop",
        freeze=True, desc="BSC")
    if src.n < 2:
        raise ValueError(f"Invalid value for 'x': BSC needs at least 2 samples (it is a correlation); got {src.n}.")
    gen = torch.Generator().manual_seed(int(seed))
    with prepared_model(model, dev, True):
        engine = Engine(model, src, base, **ekw)
        fx = engine.predict().cpu().numpy()
        categorical = is_categorical(src.y)
        yv = check_targets(src.y, engine.n_outputs, engine.idx, categorical)
        sdy = _std_checks(yv, "'y'", "'y'", engine.idx)
        sdf = _std_checks(fx, "the model", "The model's prediction", engine.idx)
        m, K, P, O = engine.m, engine.K, int(n_permutations), engine.O
        rows_per_call = batch_size or max(m + 1, 2**22 // m)
        w = yv - yv.mean(0)
        total = np.zeros((O, m))
        base_flat = engine.base.reshape(K, m)
        steps = torch.arange(m + 1, device=dev)
        walks_per_call = max(1, rows_per_call // (m + 1))
        with torch.no_grad():
            for i in tqdm(range(src.n), desc="BSC", disable=not progress, leave=False):
                xi, kw = engine._batch_inputs(np.array([i]))
                xi = xi.reshape(1, m)
                perms = torch.argsort(torch.rand(K * P, m, generator=gen), dim=1).to(dev)  # (K P, m)
                ranks = torch.argsort(perms, dim=1)
                phi = torch.zeros(m, O, dtype=torch.float64, device=dev)
                for r0 in range(0, K * P, walks_per_call):
                    r = torch.arange(r0, min(K * P, r0 + walks_per_call), device=dev)
                    b = base_flat[r // P]  # (w, m)
                    mask = (ranks[r][:, None, :] < steps[None, :, None]).to(engine.dtype)  # row t: t switched
                    rows = (b[:, None, :] + mask * (xi - b)[:, None, :]).reshape(-1, *src.input_shape)
                    kws = engine._kwargs({n: v.expand(rows.shape[0], *v.shape[1:]) for n, v in kw.items()})
                    out = engine.outputs(model(rows, **kws)).double().reshape(r.numel(), m + 1, O)
                    phi.index_add_(0, perms[r].reshape(-1), (out[:, 1:] - out[:, :-1]).reshape(-1, O))
                total += w[i][:, None] * (phi.T / (K * P)).cpu().numpy()
    n = src.n
    scale = 1.0 / (n * sdf * sdy)
    att = (total * scale[:, None]).reshape(O, *src.input_shape)
    corr = ((fx - fx.mean(0)) * w).mean(0) / (sdf * sdy)
    settings = {"kind": "bsc", "n_samples": n, "input_shape": list(src.input_shape), "seed": seed,
                "n_permutations": P, "output_idx": engine.idx, **base_info, "device": str(dev)}
    res = AttributionResult(att, correlation=corr, igc_error=np.abs(att.reshape(O, -1).sum(1) - corr),
                            settings=settings)
    if warn:
        _warn(res)
    return res
