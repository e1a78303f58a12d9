"""What every public attribution function does around the engine.

Resolve the settings, read the data and baselines, choose the device (and the ranks of a
distributed run), check the variances a correlation needs, compute the reference correlation,
and warn when the errors are above the paper's targets. Used by :mod:`._igc` and :mod:`._bsc`.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from neuro_igc import _distributed as dist
from neuro_igc._utils import resolve_device
from neuro_igc.attribution._data import check_targets, make_baselines, make_source
from neuro_igc.attribution._paths import make_path
from neuro_igc.attribution._result import AttributionAccuracyWarning, AttributionResult
from neuro_igc.attribution._settings import AttributionSettings, resolve_settings

__all__ = ["IGC_ERROR_WARN", "IG_ERROR_WARN", "warn_errors"]

#: the paper's advice (Section 3.4): |sum of IGC - correlation| should stay below this
IGC_ERROR_WARN = 0.01
#: the mean absolute completeness gap of IG above which a warning is given (outputs on the
#: scale of standardised targets, as in the paper's Section 3.4)
IG_ERROR_WARN = 0.01


def _settings(fn_name: str, settings, options: dict, **defaults) -> AttributionSettings:
    return resolve_settings(fn_name, options, base=settings, defaults=defaults)


def _transform(st: AttributionSettings, categorical_default: bool):
    if isinstance(st.output_transform, str) and st.output_transform == "auto":
        return "softmax" if categorical_default else None
    return st.output_transform


def _prepare(model, x, y, st: AttributionSettings, *, need_y: bool, desc: str, categorical_default=False):
    """The data, baselines and device of a run, and the engine's arguments (``settings`` the object).

    ``st`` is valid already (checked when it was built); here the data are read and the
    settings that depend on the call are resolved (the output transform's "auto").
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"Invalid value for 'model': expected a torch.nn.Module; got {type(model).__name__}.")
    from neuro_igc._utils import check_not_meta

    check_not_meta(model, "model")
    src = make_source(x, y, st.extra, need_y=need_y)
    # a path with its own start (the blurred input) draws no baselines
    bl = make_baselines(st.baselines if make_path(st.path).uses_baselines else 1, src, st.seed, st.baseline_mode)
    dev = resolve_device(st.device)
    progress = st.progress
    sharded = dist.resolve(st.distributed)  # distributed: each rank on its own device, rank 0 shows progress
    if sharded:
        dev = dist.rank_device(dev)
        progress = progress and dist.is_main()
    transform = _transform(st, categorical_default)
    engine_args = dict(settings=st, output_transform=transform, device=dev, progress=progress, desc=desc,
                       distributed=sharded)
    return src, bl, dev, engine_args, transform


def _std_checks(values: np.ndarray, name: str, what: str, outputs: list[int]) -> np.ndarray:
    sd = values.std(0)
    bad = [outputs[j] for j in np.flatnonzero(sd <= 1e-12 * np.maximum(1.0, np.abs(values).max(0)))]
    if bad:
        raise ValueError(
            f"{what} has zero variance for outputs {bad}: the correlation (and IGC) is undefined there. "
            f"Leave them out with 'output_idx' or check {name}."
        )
    return sd


def _corr(f: np.ndarray, y: np.ndarray) -> np.ndarray:
    fc, yc = f - f.mean(0), y - y.mean(0)
    return (fc * yc).mean(0) / (f.std(0) * y.std(0))


def _reference_correlation(engine: Engine, reference, categorical: bool, kind: str) -> np.ndarray | None:
    if reference is None:
        return None
    if kind == "igac":
        return np.ones(engine.n_attributed)
    if isinstance(reference, torch.utils.data.Dataset) and not isinstance(reference, torch.Tensor):
        rsrc = make_source(reference, None, None, need_y=True)
    elif isinstance(reference, (tuple, list)) and len(reference) in (2, 3):
        rsrc = make_source(reference[0], reference[1], reference[2] if len(reference) == 3 else None, need_y=True)
    else:
        raise ValueError(
            "Invalid value for 'reference': expected (x, y), (x, y, extra) or a Dataset yielding (x, y); "
            f"got {type(reference).__name__}."
        )
    if rsrc.input_shape != engine.source.input_shape:
        raise ValueError(
            f"Invalid value for 'reference': its inputs have shape {rsrc.input_shape}, 'x' has "
            f"{engine.source.input_shape}."
        )
    f = np.empty((rsrc.n, engine.n_attributed))
    step = 4096
    for s in range(0, rsrc.n, step):
        idx = np.arange(s, min(rsrc.n, s + step))
        xs = rsrc.get_x(idx).to(device=engine.device, dtype=engine.dtype)
        kw = {k: v[torch.as_tensor(idx)].to(engine.device) for k, v in rsrc.extra.items()}
        f[idx] = engine.forward_rows(xs, kw).cpu().numpy()
    yv = check_targets(rsrc.y, engine.n_outputs, engine.output_idx, categorical)
    return _corr(f, yv)


def _name(value) -> str | None:
    return None if value is None else (value if isinstance(value, str) else getattr(value, "__name__", repr(value)))


def warn_errors(res: AttributionResult) -> None:
    """Warn when the IG or IGC error is above the paper's targets (``IG_ERROR_WARN``, ``IGC_ERROR_WARN``)."""
    if not dist.is_main():
        return
    if res.ig_error is not None:
        bad = np.flatnonzero(res.ig_error > IG_ERROR_WARN)
        if bad.size:
            rel = "" if res.ig_error_relative is None else f", relative {np.max(res.ig_error_relative[bad]):.3g}"
            warnings.warn(
                f"IG error (mean |sum IG - (f(x) - f(baselines))|) above {IG_ERROR_WARN} for outputs "
                f"{[res.output_idx[j] for j in bad][:20]} (max {res.ig_error.max():.3g}{rel}): raise n_steps "
                "(or use n_steps='auto').", AttributionAccuracyWarning, stacklevel=4)
    if res.igc_error is None:
        return
    bad = np.flatnonzero(res.igc_error > IGC_ERROR_WARN)
    if bad.size:
        outs = [res.output_idx[j] for j in bad][:20]
        hint = ""
        if res.baseline_term is not None and np.abs(res.baseline_term[bad]).max() > IGC_ERROR_WARN / 2:
            target = "f(x)" if res.kind == "igac" else "y"
            hint = (f" It includes the baseline term (max {np.abs(res.baseline_term[bad]).max():.3g}), the "
                    f"covariance of mean f(baselines) with {target}, which shrinks with more samples or baselines.")
        if res.reference_correlation is not None:
            hint += " It is measured against the reference set's correlation, so it includes the sampling error."
        name = "IGaC error (|sum of the map - 1|)" if res.kind == "igac" else "IGC error"
        warnings.warn(
            f"{name} above {IGC_ERROR_WARN} for outputs {outs} (max {res.igc_error.max():.3g}): "
            f"raise n_steps (or use n_steps='auto') or the number of samples.{hint}",
            AttributionAccuracyWarning, stacklevel=4,
        )
