"""Recovery scores of an attribution map against an experiment's ground truth.

* ``truth_corr``: Pearson correlation over all pixels between the map and the ground truth.
* ``magnitude``: the map's Euclidean norm relative to the IG SD map's (:func:`magnitude`).
  ``run_benchmark`` fills it for IG mean (whose correlation with the truth can take any sign
  and size, while its magnitude tends to zero: the paper's footnote 8), IG SD (1) and the
  correlation maps times ``sd(f)`` (IGC, IGaC, BSC: ``IGC_j sd(f) = corr(IG_j, y) sd(IG_j)``,
  so at most 1).
* ``sign_agreement``: for signed ground truths (Exp. A), the fraction of the truth's absolute mass
  (``sum |truth|``) on pixels where the map has the truth's sign; pixels with a zero map count as
  disagreeing.
* ``overlap_ratio`` (Exp. B, the paper's "sum of individual densities (a, b, c) relative to the
  central area (d)"): ``(mean_a + mean_b + mean_c) / mean_d`` of the map over the pixels in exactly
  one disc (a, b, c) and in all three (d). 1 for the ideal density; the paper reports 0.85 for IGC
  and 0.57 for "IG SD", which is the variance of per-sample IG in the authors' code (our row
  "IG variance").
* ``unreliable_ratio``: Exp. C, mean map over the unreliable pair ``b`` relative to the reliable
  pair ``a`` (paper: about 0.56 for IGC, 1.0 for IGaC, 0.23 for IGC (model)); Exp. D, mean map over
  the permuted square of class 0 and the centre square relative to their rings.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "truth_correlation",
    "sign_agreement",
    "overlap_ratio",
    "unreliable_ratio",
    "magnitude",
    "score_map",
    "paper_comparison",
    "PAPER_VALUES",
    "PAPER_RECOVERY",
    "PAPER_VANISHING",
    "SCORE_COLUMNS",
    "PAPER_COLUMNS",
]

#: the paper's own numbers (Section 4): (experiment, method) -> value of that experiment's ratio
PAPER_VALUES: dict[tuple[str, str], float] = {
    ("B", "IGC"): 0.85,
    ("B", "IG variance"): 0.57,
    ("C", "IGC"): 0.56,
    ("C", "IGaC"): 1.0,
    ("C", "IGC (model)"): 0.23,
}

#: the paper's recovery claim (Fig. 1, Exp. A and B): these maps correlate at least this much
#: with the ground truth
PAPER_RECOVERY: dict[tuple[str, str], float] = {
    ("A", "IGC"): 0.9,
    ("A", "IGaC"): 0.9,
    ("B", "IGC"): 0.9,
    ("B", "IGaC"): 0.9,
}

#: the paper's footnote 8: IG mean tends to zero; counted as vanishing below this magnitude
PAPER_VANISHING: dict[tuple[str, str], float] = {("A", "IG mean"): 0.1}

#: how far from the paper's ratio ours may be and still count as reproduced
RATIO_TOLERANCE = 0.1

#: score columns (NaN where a score does not apply); :func:`score_map` fills all but magnitude
SCORE_COLUMNS = ("truth_corr", "magnitude", "sign_agreement", "overlap_ratio", "unreliable_ratio")

_RATIO_NAMES = {"B": ("overlap_ratio", "(a+b+c)/d"), "C": ("unreliable_ratio", "b/a (unreliable/reliable)")}


def _as_map(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    while arr.ndim > 2 and arr.shape[0] == 1:  # (1, H, W): one channel; a 1-pixel-high map stays 2-D
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"Invalid value for {name!r}: a 2-D map (H, W) is needed; got shape {np.shape(values)}.")
    return arr


def _check_pair(attribution, truth) -> tuple[np.ndarray, np.ndarray]:
    a = _as_map(attribution, "attribution")
    t = _as_map(truth, "truth")
    if a.shape != t.shape:
        raise ValueError(
            f"Invalid shapes: 'attribution' {a.shape} and 'truth' {t.shape} must be the same (H, W)."
        )
    return a, t


def truth_correlation(attribution, truth) -> float:
    """Pearson correlation over pixels between a map and the ground truth (NaN for a flat map).

    Parameters
    ----------
    attribution, truth : (H, W) array-like

    Returns
    -------
    float

    Examples
    --------
    >>> t = np.arange(16.0).reshape(4, 4)
    >>> round(truth_correlation(2 * t + 1, t), 6)
    1.0
    """
    a, t = _check_pair(attribution, truth)
    a = a.ravel() - a.mean()
    t = t.ravel() - t.mean()
    den = math.sqrt(float(a @ a) * float(t @ t))
    return float(a @ t / den) if den > 0 else float("nan")


def sign_agreement(attribution, truth) -> float:
    """Share of ``sum |truth|`` on pixels where the map has the sign of the truth.

    Parameters
    ----------
    attribution, truth : (H, W) array-like

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> sign_agreement([[1.0, -2.0]], [[3.0, 1.0]])
    0.75
    """
    a, t = _check_pair(attribution, truth)
    weight = np.abs(t)
    total = weight.sum()
    if total == 0:
        return float("nan")
    return float(weight[np.sign(a) == np.sign(t)].sum() / total)


def _region_mean(a: np.ndarray, mask, name: str) -> float:
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != a.shape or not mask.any():
        raise ValueError(f"Invalid region {name!r}: a non-empty boolean mask of shape {a.shape} is needed.")
    return float(a[mask].mean())


def overlap_ratio(attribution, regions: dict) -> float:
    """Exp. B: ``(mean_a + mean_b + mean_c) / mean_d`` of the map over the regions.

    Parameters
    ----------
    attribution : (H, W) array-like
    regions : dict with boolean (H, W) masks "a", "b", "c" (single-disc parts) and "d" (triple overlap)

    Returns
    -------
    float
    """
    a = _as_map(attribution, "attribution")
    singles = sum(_region_mean(a, regions[k], k) for k in ("a", "b", "c"))
    central = _region_mean(a, regions["d"], "d")
    return singles / central if central != 0 else float("nan")


def unreliable_ratio(attribution, regions: dict) -> float:
    """Mean map over the unreliable region relative to the reliable one.

    Exp. C: regions "b" over "a"; Exp. D: regions "square" over "reliable".

    Parameters
    ----------
    attribution : (H, W) array-like
    regions : dict of boolean (H, W) masks

    Returns
    -------
    float
    """
    a = _as_map(attribution, "attribution")
    if "square" in regions:
        num, den = _region_mean(a, regions["square"], "square"), _region_mean(a, regions["reliable"], "reliable")
    else:
        num, den = _region_mean(a, regions["b"], "b"), _region_mean(a, regions["a"], "a")
    return num / den if den != 0 else float("nan")


def magnitude(attribution, reference) -> float:
    """``||attribution|| / ||reference||`` (Euclidean norms over pixels; NaN for a zero reference).

    Examples
    --------
    >>> magnitude([[3.0, 4.0]], [[0.0, 10.0]])
    0.5
    """
    a, r = _check_pair(attribution, reference)
    den = float(np.linalg.norm(r))
    return float(np.linalg.norm(a) / den) if den > 0 else float("nan")


#: columns of the paper-comparison table (:func:`paper_comparison`)
PAPER_COLUMNS = ("experiment", "method", "figure", "ours", "paper", "reproduced")


def paper_comparison(table, tolerance: float = RATIO_TOLERANCE):
    """Our figures beside the paper's: ratios (Exp. B, C), recovery (Exp. A, B), IG mean vanishing.

    Parameters
    ----------
    table : pandas.DataFrame
        From ``run_benchmark``.
    tolerance : float, default=0.1
        A ratio within this of the paper's counts as reproduced.

    Returns
    -------
    pandas.DataFrame
        Columns experiment, method, figure, ours, paper (text, e.g. "0.85" or ">= 0.9"),
        reproduced (bool); one row per paper figure whose method and experiment are in ``table``.
    """
    import pandas as pd

    rows = []
    index = {(r.experiment, r.method): r for r in table.itertuples()}
    for (exp, method), value in PAPER_VALUES.items():
        if (exp, method) in index:
            column, label = _RATIO_NAMES[exp]
            ours = float(getattr(index[(exp, method)], column))
            rows.append({"experiment": exp, "method": method, "figure": label, "ours": ours,
                         "paper": f"{value:.2f}", "reproduced": bool(abs(ours - value) <= tolerance)})
    for (exp, method), value in PAPER_RECOVERY.items():
        if (exp, method) in index:
            ours = float(index[(exp, method)].truth_corr)
            rows.append({"experiment": exp, "method": method, "figure": "truth_corr", "ours": ours,
                         "paper": f">= {value:.1f}", "reproduced": bool(ours >= value)})
    for (exp, method), value in PAPER_VANISHING.items():
        if (exp, method) in index:
            ours = float(index[(exp, method)].magnitude)
            rows.append({"experiment": exp, "method": method, "figure": "magnitude", "ours": ours,
                         "paper": "-> 0", "reproduced": bool(ours < value)})
    out = pd.DataFrame(rows, columns=list(PAPER_COLUMNS))
    return out.sort_values(["experiment", "figure"], kind="stable").reset_index(drop=True)


def score_map(experiment: str, attribution, truth, regions: dict, signed: bool = False) -> dict[str, float]:
    """Every score that applies to ``experiment`` ("A".."D"); NaN for the others.

    Returns
    -------
    dict with the keys of :data:`SCORE_COLUMNS`
    """
    out = {k: float("nan") for k in SCORE_COLUMNS}
    out["truth_corr"] = truth_correlation(attribution, truth)
    if signed:
        out["sign_agreement"] = sign_agreement(attribution, truth)
    if experiment == "B":
        out["overlap_ratio"] = overlap_ratio(attribution, regions)
    if experiment in ("C", "D"):
        out["unreliable_ratio"] = unreliable_ratio(attribution, regions)
    return out
