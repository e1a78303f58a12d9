"""ROI summaries of attribution maps: per-subject ROI sums, group mean +- SD, additivity, bar plots.

IGC attributions add up over any set of features, so an ROI's attribution is the plain sum over
its features, and the ROI sums of a partition add up to the map's total (the model's correlation
for IGC).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from neuro_igc._utils import check_option, new_figure, save_figure, soft_import

from neuro_igc.data import ROILabels

from ._atlas import Atlas

__all__ = ["roi_sums", "group_summary", "check_additivity", "plot_roi_sums", "OTHER"]

#: ROI name of the features outside every listed ROI (so the rows partition the features).
OTHER = "(other)"
_HEMISPHERES = ("both", "separate")


def feature_arrays(space, hemi=None, vertex=None, ijk=None, density=None):
    """``(hemi, vertex, ijk, density)`` of a SurfaceSpace/VolumeSpace; loose arrays given as well
    must not be."""
    if any(a is not None for a in (hemi, vertex, ijk)):
        raise ValueError("Pass either 'space' or the loose 'hemi'/'vertex'/'ijk' arrays, not both.")
    if getattr(space, "kind", None) == "surface":
        dens = None if space.is_native else space.density
        return space.hemi, space.vertex, None, (density if density is not None else dens)
    if getattr(space, "kind", None) == "volume":
        return None, None, space.ijk, density
    raise ValueError(f"Invalid value for 'space': expected a SurfaceSpace or VolumeSpace; got {type(space).__name__}.")


def _atlas_of(roi: ROILabels) -> Atlas:
    """An Atlas holding feature-aligned ROI labels (surface: on full hemispheres; volume: on the
    features' voxels)."""
    space = roi.feature_space
    if space.kind == "surface":
        return Atlas.from_roi_labels(roi)
    vol = np.zeros(space.shape, dtype=np.int64)
    vol[tuple(np.asarray(space.ijk).T)] = roi.labels
    atlas = Atlas(vol, roi.table, name=roi.atlas, affine=space.affine)
    atlas.source = roi.source
    return atlas


def roi_sums(
    attributions,
    atlas: Atlas | ROILabels,
    *,
    hemi=None,
    vertex=None,
    ijk=None,
    subject=None,
    outputs=None,
    rois=None,
    hemispheres: str = "both",
    include_other: bool = True,
    density: str | int | None = None,
    space=None,
) -> pd.DataFrame:
    """Sum attributions over each ROI, for each output: a tidy table.

    Parameters
    ----------
    attributions : (n_features,) or (n_outputs, n_features) array-like
        One subject's attribution maps over its features (e.g. ``igc(...).attributions``).
    atlas : Atlas
    hemi, vertex : (n_features,) arrays
        Surface features (lh first, then rh). Volume atlases take ``ijk`` (n_features, 3) instead.
    subject : label, optional
        Stored in the ``subject`` column (concatenate several subjects' tables for
        :func:`group_summary`).
    outputs : sequence of str, optional
        Output names (default ``0..n_outputs-1``).
    rois : sequence of str, optional
        ROI names to report (default: all of the atlas, in id order).
    hemispheres : {"both", "separate"}, default "both"
        "separate" reports ``lh.<roi>`` and ``rh.<roi>`` rows.
    include_other : bool, default True
        Add a ``"(other)"`` row with the features outside the listed ROIs, so that the rows of
        each output add up to its total.
    density : str or int, optional
        Density of the data, checked against the atlas (see :meth:`Atlas.labels_for`).
    space : SurfaceSpace or VolumeSpace, optional
        Where the features live (e.g. ``betas.feature_space``), instead of ``hemi``/``vertex``/
        ``density`` or ``ijk``.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``subject, output, roi, value, n_features``; one row per (output, roi).

    Examples
    --------
    >>> atlas = Atlas({"lh": np.array([1, 1, 2, 0]), "rh": np.array([2, 0, 0, 0])}, {1: "V1", 2: "V2"})
    >>> t = roi_sums([0.1, 0.2, 0.3, 0.4], atlas, hemi=["lh", "lh", "lh", "rh"], vertex=[0, 1, 2, 0])
    >>> t[["roi", "value", "n_features"]].round(3).values.tolist()
    [['V1', 0.3, 2], ['V2', 0.7, 2], ['(other)', 0.0, 0]]
    """
    check_option("hemispheres", hemispheres, _HEMISPHERES)
    if isinstance(atlas, ROILabels):  # one label per feature: the features' space comes with them
        if space is None and hemi is None and ijk is None:
            space = atlas.feature_space
        atlas = _atlas_of(atlas)
    if space is not None:
        hemi, vertex, ijk, density = feature_arrays(space, hemi, vertex, ijk, density)
    att = np.asarray(attributions, dtype=np.float64)
    if att.ndim == 1:
        att = att[None]
    if att.ndim != 2:
        raise ValueError(f"Invalid shape for 'attributions': expected (n_features,) or (n_outputs, n_features); got {att.shape}.")
    n_out, n_feat = att.shape
    if outputs is None:
        outputs = list(range(n_out))
    outputs = list(outputs)
    if len(outputs) != n_out:
        raise ValueError(f"'outputs' has {len(outputs)} names for {n_out} outputs.")
    use = atlas
    if hemispheres == "separate":
        use = atlas.split_hemispheres()
        if rois is not None:
            rois = [f"{h}.{r}" for r in rois for h in ("lh", "rh") if f"{h}.{r}" in use.roi_names] or list(rois)
    n_given = len(ijk) if ijk is not None else (len(hemi) if hemi is not None else None)
    if n_given is not None and n_given != n_feat:
        raise ValueError(
            f"'attributions' has {n_feat} features but the feature description ({'ijk' if ijk is not None else 'hemi/vertex'}) "
            f"has {n_given}; pass the arrays that came with the data."
        )
    labels = use.labels_for(hemi, vertex, ijk=ijk, density=density)
    names = use.roi_names if rois is None else list(rois)
    ids = use.ids(names)
    # one matrix product: (n_outputs, n_features) @ (n_features, n_rois) indicator
    onehot = labels[:, None] == np.asarray(ids)[None, :]
    if include_other:
        onehot = np.column_stack([onehot, ~onehot.any(1)])
        names = names + [OTHER]
    sums = att @ onehot.astype(np.float64)
    counts = onehot.sum(0)
    return pd.DataFrame(
        {
            "subject": [subject] * (n_out * len(names)),
            "output": np.repeat(np.asarray(outputs, dtype=object), len(names)),
            "roi": names * n_out,
            "value": sums.ravel(),
            "n_features": np.tile(counts, n_out),
        }
    )


def group_summary(table: pd.DataFrame, *, ddof: int = 1) -> pd.DataFrame:
    """Group mean +- SD across subjects of a :func:`roi_sums` table (several subjects concatenated).

    Returns
    -------
    pandas.DataFrame
        Columns ``output, roi, mean, sd, sem, n_subjects, n_features`` (mean feature count), ROI
        order as in the input.
    """
    missing = {"subject", "output", "roi", "value"} - set(table.columns)
    if missing:
        raise ValueError(f"'table' lacks column(s) {sorted(missing)}; pass the output of roi_sums (concatenated over subjects).")
    dup = table.duplicated(["subject", "output", "roi"])
    if dup.any():
        raise ValueError(
            "'table' has several rows for the same (subject, output, roi); give each subject's table a distinct "
            "'subject' label before concatenating."
        )
    g = table.groupby(["output", "roi"], sort=False)
    out = g["value"].agg(mean="mean", sd=lambda v: v.std(ddof=ddof) if len(v) > ddof else np.nan, n_subjects="count")
    out["sem"] = out["sd"] / np.sqrt(out["n_subjects"])
    if "n_features" in table:
        out["n_features"] = g["n_features"].mean()
    return out.reset_index()[["output", "roi", "mean", "sd", "sem", "n_subjects"] + (["n_features"] if "n_features" in table else [])]


def check_additivity(table: pd.DataFrame, totals, *, rtol: float = 1e-6, atol: float = 1e-9) -> pd.DataFrame:
    """Compare the ROI sums of each (subject, output) with the map's total.

    Parameters
    ----------
    table : :func:`roi_sums` output whose ROIs partition the features (``include_other=True``).
    totals : dict {(subject, output): total}, pandas.Series indexed like that,
        (n_outputs,) array (single-subject table, outputs in table order), or the attribution
        result the table was made from (``igc(...)``: each map's sum over its features)
        The sum of each map over all its features (for IGC: the correlation, up to the result's
        ``igc_error``).

    Returns
    -------
    pandas.DataFrame
        ``subject, output, sum_rois, total, difference, ok``.
    """
    sums = table.groupby(["subject", "output"], sort=False, dropna=False)["value"].sum()
    if hasattr(totals, "attributions"):  # an attribution result: its maps' own totals
        maps = np.asarray(totals.attributions, dtype=float)
        totals = maps.reshape(maps.shape[0], -1).sum(1) if maps.ndim > 1 else np.array([maps.sum()])
    if isinstance(totals, (pd.Series, dict)):
        tot = pd.Series(totals)
        tot = tot.reindex(sums.index) if isinstance(tot.index, pd.MultiIndex) else tot.reindex(sums.index.get_level_values("output")).set_axis(sums.index)
    else:
        arr = np.atleast_1d(np.asarray(totals, dtype=float))
        if len(arr) != len(sums):
            raise ValueError(f"'totals' has {len(arr)} values for {len(sums)} (subject, output) pairs in 'table'.")
        tot = pd.Series(arr, index=sums.index)
    if tot.isna().any():
        raise ValueError("'totals' lacks some (subject, output) pairs of 'table'.")
    diff = sums - tot
    out = pd.DataFrame({"sum_rois": sums, "total": tot, "difference": diff})
    out["ok"] = np.abs(diff) <= atol + rtol * np.abs(tot)
    return out.reset_index()


def plot_roi_sums(
    table: pd.DataFrame,
    output_file: str | os.PathLike,
    *,
    rois=None,
    outputs=None,
    title: str | None = None,
    ylabel: str | dict = "ROI sum of attributions",
    dpi: int = 160,
) -> Path:
    """Bar plot of ROI sums: group mean per ROI, error bars +- SD across subjects, subject dots
    (a single subject's table: its bars only).

    One panel per output (like the paper's Fig. 3c). ``table`` is a :func:`roi_sums` table of one
    or more subjects; the ``"(other)"`` row is left out unless listed in ``rois``. ``ylabel``: one
    axis label, or ``{output: label}`` (outputs in different units).
    """
    summary = group_summary(table)
    outputs = list(dict.fromkeys(table["output"])) if outputs is None else list(outputs)
    known = list(dict.fromkeys(table["roi"]))
    rois = [r for r in known if r != OTHER] if rois is None else list(rois)
    unknown = [r for r in rois if r not in known]
    if unknown:
        raise ValueError(f"Unknown ROI name(s) {unknown} in 'rois'; the table has: {', '.join(map(str, known))}.")
    # one row per output, as wide as the ROIs need (a report shows it at full width)
    width = float(np.clip(0.42 * len(rois) + 2.0, 8.0, 16.0))
    fig = new_figure("ROI bar plots", figsize=(width, 2.9 * len(outputs) + (0.5 if title else 0.0)))
    axes = fig.subplots(len(outputs), 1, squeeze=False, sharex=True).T
    x = np.arange(len(rois))
    for ax, out in zip(axes[0], outputs):
        s = summary[summary["output"] == out].set_index("roi").reindex(rois)
        colors = np.where(s["mean"].to_numpy() >= 0, "#c0392b", "#2e6da4")
        several = bool((s["n_subjects"].fillna(0) > 1).any())  # one subject: no spread to draw
        ax.bar(x, s["mean"], yerr=s["sd"].fillna(0) if several else None, color=colors, alpha=0.8, capsize=3,
               error_kw={"lw": 1})
        sub = table[(table["output"] == out) & table["roi"].isin(rois)]
        for _, grp in sub.groupby("subject", sort=False, dropna=False) if several else ():
            pos = [rois.index(r) for r in grp["roi"]]
            ax.scatter(pos, grp["value"], s=8, color="k", zorder=3)
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set_xticks(x)
        ax.set_xticklabels(rois, rotation=45, ha="right", fontsize=9)
        ax.set_xlim(-0.6, len(rois) - 0.4)
        ax.set_title(str(out), fontsize=10, loc="left")
        ax.set_ylabel(ylabel.get(out, "") if isinstance(ylabel, dict) else ylabel, fontsize=9)
        ax.grid(axis="y", color="0.9", lw=0.6)
        ax.set_axisbelow(True)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, output_file, dpi=dpi)
