"""Baseline-Shapley correlation (BSC): IGC with Baseline Shapley as the path method.

A slow reference for small inputs (the paper's appendix A.4): each sample's Baseline Shapley
values are estimated by permutation sampling -- walking through a random order of the input
components, switching each from the baseline to the input, and crediting it with the change of
the output. Every walk is exactly complete (its credits sum to ``f(x) - f(b)``), so BSC plus the
baseline term (as in IGC) sums to ``corr(f(x), y)`` up to rounding, and for a linear model every
walk gives ``w_j (x_j - b_j)``: BSC then equals IGC exactly, with the same baselines.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from neuro_igc.attribution._data import check_targets, is_categorical
from neuro_igc.attribution._engine import Engine, prepared_model
from neuro_igc.attribution._run import _corr, _prepare, _reference_correlation, _settings, _std_checks, warn_errors
from neuro_igc.attribution._result import AttributionResult
from neuro_igc.attribution._settings import AttributionSettings

__all__ = ["bsc"]


def bsc(model: nn.Module, x, y=None, *, settings: AttributionSettings | None = None, **options) -> AttributionResult:
    """Baseline-Shapley correlation by permutation sampling (slow; for small inputs).

    ``BSC_j = mean_i[BS_ij (y_i - mean(y))] / (sd(f(x)) sd(y))`` with ``BS_ij`` the Baseline
    Shapley value of component j for sample i, averaged over the sample's baselines and
    ``n_permutations`` random component orders per (sample, baseline).

    Parameters
    ----------
    model : torch.nn.Module
    x : (n_samples, *input_shape) array-like or torch Dataset
    y : (n_samples,) or (n_samples, n_outputs) array-like, or (n_samples,) int labels
    settings : AttributionSettings, optional
    **options
        The settings of :func:`igc` that apply (``baselines``, ``baseline_mode``, ``seed``,
        ``device``, ``output_idx``, ``extra``, ``model_kwargs``, ``progress``,
        ``output_transform``, ``reference``, ``warn``), and ``n_permutations`` (default 16):
        random orders per (sample, baseline), each costing ``m + 1`` forward evaluations for
        ``m`` input components. ``batch_size`` is the number of forward evaluations per model
        call (default: about 4M input elements).

    Returns
    -------
    AttributionResult
        ``attributions`` (n_outputs, *input_shape), ``correlation``, ``igc_error``,
        ``baseline_term`` (``settings["kind"] == "bsc"``).
    """
    from neuro_igc._utils import progress_bar as tqdm

    st = _settings("bsc", settings, options)
    batch_size = st.batch_size
    # the engine serves for the data, the baselines and the model's outputs only (no path integral)
    st = st.replace(batch_size=None, input_linear=False, readout=False, vjp="loop", freeze=True,
                    method="riemann-trapezoid", n_steps=2)
    src, bl, dev, ekw, _ = _prepare(model, x, y, st, need_y=True, desc="BSC")
    if src.n < 2:
        raise ValueError(f"Invalid value for 'x': BSC needs at least 2 samples (it is a correlation); got {src.n}.")
    gen = torch.Generator().manual_seed(int(st.seed))
    with prepared_model(model, dev, True):
        engine = Engine(model, src, bl, **ekw)
        fx = engine.predict().cpu().numpy()
        categorical = is_categorical(src.y)
        yv = check_targets(src.y, engine.n_outputs, engine.output_idx, categorical)
        sdy = _std_checks(yv, "'y'", "'y'", engine.output_idx)
        sdf = _std_checks(fx, "the model", "The model's prediction", engine.output_idx)
        m, K, P, O = engine.n_inputs, engine.n_baselines, int(st.n_permutations), engine.n_attributed
        rows_per_call = batch_size or max(m + 1, 2**22 // m)
        w = yv - yv.mean(0)
        total = np.zeros((O, m))
        cw = np.zeros(O)
        steps = torch.arange(m + 1, device=dev)
        walks_per_call = max(1, rows_per_call // (m + 1))
        with torch.no_grad():
            for i in tqdm(range(src.n), desc="BSC", disable=not st.progress, leave=False):
                xi, kw = engine.batch(np.array([i]))
                xi = xi.reshape(1, m)
                baselines = engine.baselines_for(np.array([i]))
                base_flat = baselines.inputs().reshape(K, m)
                cw += w[i] * engine.baseline_outputs(baselines, kw).mean(1)[0].cpu().numpy()
                perms = torch.argsort(torch.rand(K * P, m, generator=gen), dim=1).to(dev)  # (K P, m)
                ranks = torch.argsort(perms, dim=1)
                phi = torch.zeros(m, O, dtype=torch.float64, device=dev)
                for r0 in range(0, K * P, walks_per_call):
                    r = torch.arange(r0, min(K * P, r0 + walks_per_call), device=dev)
                    b = base_flat[r // P]  # (w, m)
                    mask = (ranks[r][:, None, :] < steps[None, :, None]).to(engine.dtype)  # row t: t switched
                    rows = (b[:, None, :] + mask * (xi - b)[:, None, :]).reshape(-1, *src.input_shape)
                    out = engine.fn(rows, {n: v.expand(rows.shape[0], *v.shape[1:]) for n, v in kw.items()})
                    out = out.double().reshape(r.numel(), m + 1, O)
                    phi.index_add_(0, perms[r].reshape(-1), (out[:, 1:] - out[:, :-1]).reshape(-1, O))
                total += w[i][:, None] * (phi.T / (K * P)).cpu().numpy()
        ref_corr = _reference_correlation(engine, st.reference, categorical, "bsc")
    n = src.n
    scale = 1.0 / (n * sdf * sdy)
    att = (total * scale[:, None]).reshape(O, *src.input_shape)
    corr = _corr(fx, yv)
    target = corr if ref_corr is None else ref_corr
    settings_out = {"kind": "bsc", "n_samples": n, "input_shape": list(src.input_shape), "seed": st.seed,
                    "n_permutations": P, "output_idx": engine.output_idx, **bl.info, "device": str(dev),
                    "igc_error_against": "same samples" if ref_corr is None else "reference"}
    res = AttributionResult(att, correlation=corr, igc_error=np.abs(att.reshape(O, -1).sum(1) - target),
                            settings=settings_out, baseline_term=cw * scale, reference_correlation=ref_corr)
    if st.warn:
        warn_errors(res)
    return res
