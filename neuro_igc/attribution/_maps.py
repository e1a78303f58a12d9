"""Data-only maps (no model): per-component correlation with y, and two-sample t-tests."""

from __future__ import annotations

import numpy as np

from neuro_igc.attribution._data import DataSource, is_categorical, make_source
from neuro_igc.attribution._result import AttributionResult

__all__ = ["correlation_map", "ttest_map"]

_CHUNK = 2**22  # input elements per chunk of samples


def _targets(src: DataSource) -> tuple[np.ndarray, bool]:
    """``(n, n_targets)`` float64 targets: y's columns, or one-hot indicators for labels."""
    categorical = is_categorical(src.y)
    if categorical:
        labels = src.y.long().numpy()
        if labels.min() < 0:
            raise ValueError(f"Invalid value for 'y': class labels must be >= 0; got {labels.min()}.")
        return (labels[:, None] == np.arange(labels.max() + 1)[None]).astype(float), True
    yv = src.y.double().cpu().numpy()
    return (yv[:, None] if yv.ndim == 1 else yv), False


def _chunks(src: DataSource):
    step = max(1, _CHUNK // max(1, int(np.prod(src.input_shape))))
    for s in range(0, src.n, step):
        idx = np.arange(s, min(src.n, s + step))
        yield idx, src.get_x(idx).reshape(idx.size, -1).double().cpu().numpy()


def correlation_map(x, y) -> AttributionResult:
    """Pearson correlation of every input component with every output, across samples.

    Parameters
    ----------
    x : (n_samples, *input_shape) array-like or torch Dataset
    y : (n_samples,) or (n_samples, n_outputs) array-like, or (n_samples,) int labels
        Labels give one map per class (correlation with the class indicator).

    Returns
    -------
    AttributionResult
        ``attributions`` (n_outputs, *input_shape); components with zero variance get 0.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(100, 3))
    >>> res = correlation_map(x, 2 * x[:, 1])
    >>> float(np.round(res.attributions[0, 1], 6))
    1.0
    """
    src = make_source(x, y)
    yv, categorical = _targets(src)
    n, m = src.n, int(np.prod(src.input_shape))
    yc = yv - yv.mean(0)
    sx, sxx, sxy = np.zeros(m), np.zeros(m), np.zeros((yv.shape[1], m))
    for idx, xb in _chunks(src):
        sx += xb.sum(0)
        sxx += (xb**2).sum(0)
        sxy += yc[idx].T @ xb
    var_x = np.maximum(sxx / n - (sx / n) ** 2, 0.0)
    sd_x, sd_y = np.sqrt(var_x), yc.std(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = (sxy / n) / (sd_y[:, None] * sd_x[None])
    corr[~np.isfinite(corr)] = 0.0
    settings = {"kind": "correlation-map", "n_samples": n, "input_shape": list(src.input_shape),
                "categorical": categorical, "output_idx": list(range(yv.shape[1]))}
    return AttributionResult(corr.reshape(yv.shape[1], *src.input_shape), settings=settings)


def ttest_map(x, y, equal_var: bool = False, decile: float = 0.1) -> AttributionResult:
    """Two-sample t statistic per input component: last vs first decile of y, or class vs rest.

    Parameters
    ----------
    x : (n_samples, *input_shape) array-like or torch Dataset
    y : (n_samples,) or (n_samples, n_outputs) array-like, or (n_samples,) int labels
        For continuous outputs the groups are the samples with ``y >= quantile(1 - decile)``
        (high) and ``y <= quantile(decile)`` (low); for labels, each class against all others.
    equal_var : bool, default=False
        Student's pooled-variance test when True, Welch's test otherwise (as
        ``scipy.stats.ttest_ind``).
    decile : float, default=0.1

    Returns
    -------
    AttributionResult
        ``attributions`` (n_outputs or n_classes, *input_shape): t statistics (high minus low,
        class minus rest); ``extras["p_values"]`` two-sided p-values. Components with zero
        variance in both groups get t = 0, p = 1.
    """
    from scipy import stats

    if not 0 < decile < 0.5:
        raise ValueError(f"Invalid value for 'decile': expected a fraction in (0, 0.5); got {decile!r}.")
    src = make_source(x, y)
    yv, categorical = _targets(src)
    if categorical:
        groups = [(yv[:, k] > 0.5, yv[:, k] <= 0.5) for k in range(yv.shape[1])]
    else:
        groups = [(yv[:, o] >= np.quantile(yv[:, o], 1 - decile), yv[:, o] <= np.quantile(yv[:, o], decile))
                  for o in range(yv.shape[1])]
    for o, (a, b) in enumerate(groups):
        if a.sum() < 2 or b.sum() < 2:
            raise ValueError(
                f"Invalid value for 'y': output/class {o} leaves fewer than 2 samples in a group "
                f"({int(a.sum())} vs {int(b.sum())}); a t-test needs at least 2 per group."
            )
    m = int(np.prod(src.input_shape))
    moments = np.zeros((len(groups), 2, 3, m))  # (output, group, [count, sum, sumsq], m)
    for idx, xb in _chunks(src):
        for o, (a, b) in enumerate(groups):
            for g, mask in enumerate((a[idx], b[idx])):
                sel = xb[mask]
                moments[o, g] += [np.full(m, sel.shape[0]), sel.sum(0), (sel**2).sum(0)]
    cnt, s, ss = moments[:, :, 0], moments[:, :, 1], moments[:, :, 2]
    mean = s / cnt
    var = np.maximum(ss - cnt * mean**2, 0.0) / (cnt - 1)
    na, nb = cnt[:, 0], cnt[:, 1]
    if equal_var:
        pooled = ((na - 1) * var[:, 0] + (nb - 1) * var[:, 1]) / (na + nb - 2)
        se2 = pooled * (1 / na + 1 / nb)
        dof = na + nb - 2
    else:
        va, vb = var[:, 0] / na, var[:, 1] / nb
        se2 = va + vb
        with np.errstate(divide="ignore", invalid="ignore"):
            dof = se2**2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (mean[:, 0] - mean[:, 1]) / np.sqrt(se2)
    flat = ~np.isfinite(t)
    t[flat] = 0.0
    dof = np.where(np.isfinite(dof), dof, 1.0)
    p = 2 * stats.t.sf(np.abs(t), dof)
    p[flat] = 1.0
    shape = (len(groups), *src.input_shape)
    settings = {"kind": "t-test", "n_samples": src.n, "input_shape": list(src.input_shape),
                "categorical": categorical, "equal_var": equal_var, "decile": decile,
                "output_idx": list(range(len(groups)))}
    return AttributionResult(t.reshape(shape), settings=settings, extras={"p_values": p.reshape(shape)})
