"""Prediction scores: per-output Pearson r and R^2, and accuracy for classifiers."""

from __future__ import annotations

import numpy as np

__all__ = ["pearson_r", "r2_score", "accuracy", "METRICS"]


def _as_2d(pred, target):
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.ndim == 1:
        pred = pred[:, None]
    if target.ndim == 1:
        target = target[:, None]
    if pred.shape != target.shape:
        raise ValueError(
            f"'pred' and 'target' must have the same shape (n_samples, n_outputs); got "
            f"{pred.shape} and {target.shape}."
        )
    return pred, target


def pearson_r(pred, target) -> np.ndarray:
    """Pearson correlation between prediction and target, per output.

    Parameters
    ----------
    pred, target : (n_samples, n_outputs) or (n_samples,) array-like

    Returns
    -------
    r : np.ndarray (n_outputs,)
        NaN where either column is constant.

    Examples
    --------
    >>> pearson_r([1.0, 2.0, 3.0], [2.0, 4.0, 7.0]).round(3).tolist()
    [0.993]
    """
    pred, target = _as_2d(pred, target)
    pc = pred - pred.mean(0)
    tc = target - target.mean(0)
    denom = np.sqrt((pc**2).sum(0) * (tc**2).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (pc * tc).sum(0) / np.where(denom > 0, denom, 1.0), np.nan)


def r2_score(pred, target) -> np.ndarray:
    """Coefficient of determination ``1 - SS_res / SS_tot`` per output (as scikit-learn's).

    Parameters
    ----------
    pred, target : (n_samples, n_outputs) or (n_samples,) array-like

    Returns
    -------
    r2 : np.ndarray (n_outputs,)
        NaN where the target is constant.
    """
    pred, target = _as_2d(pred, target)
    ss_res = ((target - pred) ** 2).sum(0)
    ss_tot = ((target - target.mean(0)) ** 2).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.nan)


def accuracy(scores, labels) -> float:
    """Fraction of samples whose highest score is the label.

    Parameters
    ----------
    scores : (n_samples, n_classes) array-like
        Log-probabilities, probabilities or logits.
    labels : (n_samples,) int array-like
    """
    scores = np.asarray(scores)
    labels = np.asarray(labels).reshape(-1)
    if scores.ndim != 2 or scores.shape[0] != labels.shape[0]:
        raise ValueError(
            f"'scores' must be (n_samples, n_classes) and 'labels' (n_samples,); got "
            f"{scores.shape} and {labels.shape}."
        )
    return float((scores.argmax(1) == labels).mean())


#: metric name -> function, for loops in checks and tests
METRICS = {"pearson_r": pearson_r, "r2": r2_score, "accuracy": accuracy}
