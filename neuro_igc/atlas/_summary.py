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

from neuro_igc._roi_table import OTHER, ROI_TABLE_COLUMNS, roi_names_of, roi_table
from neuro_igc.data import ROILabels, SurfaceSpace, VolumeSpace, feature_space_of

from ._atlas import Atlas

__all__ = ["roi_sums", "group_summary", "check_additivity", "plot_roi_sums", "OTHER", "ROI_TABLE_COLUMNS"]

_HEMISPHERES = ("both", "separate")


def _split_hemispheres(labels: np.ndarray, space, names: dict[int, str]) -> tuple[np.ndarray, dict[int, str]]:
    """Feature labels whose ROIs are per hemisphere (``lh.V1``, ``rh.V1``, ...; the ROIs each
    hemisphere's features hold, in id order), as :meth:`Atlas.split_hemispheres` does for atlases."""
    if space.kind != "surface":
        raise ValueError("hemispheres='separate' needs surface ROI labels; NSD's volume atlases have one file per "
                         "hemisphere.")
    out = np.zeros_like(labels)
    table: dict[int, str] = {}
    for h in ("lh", "rh"):
        sel = space.hemi == h
        for k, name in names.items():
            hit = sel & (labels == k)
            if hit.any():
                new = len(table) + 1
                table[new] = f"{h}.{name}"
                out[hit] = new
    return out, table


def roi_sums(
    attributions,
    atlas: Atlas | ROILabels,
    *,
    space: SurfaceSpace | VolumeSpace | None = None,
    subject=None,
    outputs=None,
    rois=None,
    hemispheres: str = "both",
    include_other: bool = True,
) -> pd.DataFrame:
    """Sum attributions over each ROI, for each output: a tidy table.

    Parameters
    ----------
    attributions : (n_features,) or (n_outputs, n_features) array-like
        One subject's attribution maps over its features (e.g. ``igc(...).attributions``).
    atlas : ROILabels or Atlas
        ROI labels of the features (``nsd.roi(..., like=betas)``), which carry their space; or an
        :class:`Atlas`, then ``space`` says where the features live.
    space : SurfaceSpace or VolumeSpace
        Where the features live (e.g. ``betas.feature_space``); needed with an :class:`Atlas`
        (a surface space must be at the atlas's density), optional with ROI labels (then it must
        be theirs).
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
        Add a ``"(other)"`` row with the features outside the listed ROIs (label 0 among them),
        so that the rows of each output add up to its total.

    Returns
    -------
    table : pandas.DataFrame
        The ROI table: columns :data:`ROI_TABLE_COLUMNS` (``subject, output, roi, value,
        n_features``); one row per (output, roi).

    Examples
    --------
    >>> from neuro_igc.data import SurfaceSpace
    >>> atlas = Atlas({"lh": np.array([1, 1, 2, 0]), "rh": np.array([2, 0, 0, 0])}, {1: "V1", 2: "V2"})
    >>> space = SurfaceSpace.from_indices({"lh": [0, 1, 2], "rh": [0]}, "native", subject=1, n_vertices=4)
    >>> t = roi_sums([0.1, 0.2, 0.3, 0.4], atlas, space=space)
    >>> t[["roi", "value", "n_features"]].round(3).values.tolist()
    [['V1', 0.3, 2], ['V2', 0.7, 2], ['(other)', 0.0, 0]]
    """
    check_option("hemispheres", hemispheres, _HEMISPHERES)
    if isinstance(atlas, ROILabels):  # one label per feature: the features' space comes with them
        if space is not None and space != atlas.feature_space:
            raise ValueError("Invalid value for 'space': ROI labels carry their own feature space and 'space' is a "
                             "different one; leave 'space' out, or select the labels of the data's features.")
        space = atlas.feature_space
        labels, table = atlas.labels, roi_names_of(atlas.labels, atlas.table)
        if hemispheres == "separate":
            labels, table = _split_hemispheres(labels, space, table)
    elif not isinstance(atlas, Atlas):
        raise TypeError(f"Invalid type for 'atlas': expected ROILabels (nsd.roi(...)) or an Atlas; got {type(atlas).__name__}.")
    elif space is None:
        raise ValueError("Missing 'space': pass where the features live (a SurfaceSpace of their 'hemi'/'vertex', or a "
                         "VolumeSpace of their 'ijk'), e.g. space=betas.feature_space; or pass ROI labels "
                         "(nsd.roi(..., like=betas)) instead of an Atlas.")
    space = feature_space_of(space)
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
    if space.n_features != n_feat:
        raise ValueError(
            f"'attributions' has {n_feat} features but the feature description (the space) has {space.n_features}; "
            "pass the space "
            "(or ROI labels) that came with the data."
        )
    if isinstance(atlas, Atlas):
        use = atlas.split_hemispheres() if hemispheres == "separate" else atlas
        labels, table = use.labels_for(space), {i: use.table[i] for i in sorted(use.table)}
    if rois is not None and hemispheres == "separate":
        rois = [f"{h}.{r}" for r in rois for h in ("lh", "rh") if f"{h}.{r}" in table.values()] or list(rois)
    if rois is not None:
        lookup = {v: k for k, v in table.items()}
        unknown = [r for r in rois if r not in lookup]
        if unknown:
            raise ValueError(f"Unknown ROI name(s) {unknown} in 'rois'; known ROIs are: {', '.join(table.values())}.")
        table = {lookup[r]: r for r in rois}
    return roi_table(att, labels, table, outputs=outputs, subject=subject, include_other=include_other)


def group_summary(table: pd.DataFrame, *, ddof: int = 1) -> pd.DataFrame:
    """Group mean +- SD across subjects of a :func:`roi_sums` table (several subjects concatenated).

    Returns
    -------
    pandas.DataFrame
        Columns ``output, roi, mean, sd, sem, n_subjects, n_features`` (mean feature count), ROI
        order as in the input.
    """
    missing = set(ROI_TABLE_COLUMNS[:4]) - set(table.columns)
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
