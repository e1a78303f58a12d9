"""Surface figures with nilearn on the bundled fsaverage5 inflated mesh (no download)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from neuro_igc._utils import check_option, new_figure, save_figure, soft_import

from ._decimate import decimate
from ._export import label_colors
from ._mapping import DENSITIES, HEMIS, density_name

__all__ = ["plot_surface_maps", "SURFACE_VIEWS"]

SURFACE_VIEWS = ("lateral", "medial", "ventral", "posterior", "dorsal", "anterior")
_PART = {"lh": "left", "rh": "right"}


def _as_fsaverage5(arr, what: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be one map per hemisphere (n_vertices,); got shape {arr.shape}.")
    if density_name(arr.shape[0]) is None or arr.shape[0] < DENSITIES["fsaverage5"]:
        raise ValueError(
            f"{what} has {arr.shape[0]} vertices; plots need fsaverage5 or a denser template "
            f"({DENSITIES['fsaverage5']}, {DENSITIES['fsaverage6']} or {DENSITIES['fsaverage']} vertices)."
        )
    return decimate(arr, "fsaverage5")  # full density is decimated for plotting


def plot_surface_maps(
    maps: dict[str, np.ndarray],
    output_file: str | os.PathLike,
    *,
    rois=None,
    views=("lateral", "medial", "ventral", "posterior"),
    signed: bool | None = None,
    cmap: str | None = None,
    vmax: float | None = None,
    threshold: float | None = None,
    title: str | None = None,
    colorbar_label: str = "",
    dpi: int = 100,
) -> Path:
    """Plot both hemispheres in several views on the fsaverage5 inflated mesh, PNG output.

    Parameters
    ----------
    maps : dict {"lh": (n_vertices,), "rh": (n_vertices,)}
        One map per hemisphere on fsaverage5 or denser (decimated to fsaverage5). NaN = not shown.
    output_file : path
        ``.png`` (any matplotlib format works), written atomically.
    rois : dict {"lh": (n_vertices,) int, "rh": ...} or Atlas, optional
        ROI labels whose outlines are drawn (0 = none); an object with ``labels`` (dict) and
        ``table`` ({id: name}) attributes, such as :class:`neuro_igc.atlas.Atlas`, also works.
    views : sequence of str, default ("lateral", "medial", "ventral", "posterior")
        Among ``SURFACE_VIEWS``.
    signed : bool, optional
        Diverging colormap centred on 0 (``RdBu_r``, limits +-vmax). Default: True when the
        maps have both signs.
    cmap : str, optional
        Overrides the colormap (e.g. ``"hsv"`` for polar angle).
    vmax : float, optional
        Colour limit; default the largest absolute value (signed) or the maximum.
    threshold : float, optional
        Values with ``|value| < threshold`` are not coloured.
    title, colorbar_label : str
    dpi : int, default 100

    Returns
    -------
    path : pathlib.Path
    """
    for v in views:
        check_option("views", v, SURFACE_VIEWS)
    if not maps or any(h not in HEMIS for h in maps):
        raise ValueError(f"'maps' must be a dict with keys 'lh' and/or 'rh'; got {sorted(maps) if isinstance(maps, dict) else type(maps)}.")
    soft_import("matplotlib", "Surface plots")
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D
    from nilearn import datasets, plotting

    data = {h: _as_fsaverage5(m, f"maps[{h!r}]").astype(float) for h, m in maps.items()}
    labels, table = _roi_labels(rois)
    finite = np.concatenate([d[np.isfinite(d)] for d in data.values()]) if data else np.zeros(0)
    if finite.size == 0:
        finite = np.zeros(1)
    if signed is None:
        signed = bool(finite.min() < 0 < finite.max())
    if vmax is None:
        vmax = float(np.abs(finite).max()) if signed else float(finite.max())
    vmax = vmax if vmax > 0 else 1.0
    vmin = -vmax if signed else float(min(finite.min(), 0.0) if finite.min() >= 0 else finite.min())
    cmap = cmap or ("RdBu_r" if signed else "inferno")

    mesh = datasets.load_fsaverage("fsaverage5")
    sulc = datasets.load_fsaverage_data("fsaverage5", data_type="sulcal")
    hemis = [h for h in HEMIS if h in data]
    fig = new_figure("Surface plots", figsize=(2.6 * len(views), 2.4 * len(hemis) + 0.6))
    axes = fig.subplots(len(hemis), len(views), subplot_kw={"projection": "3d"}, squeeze=False)
    for r, h in enumerate(hemis):
        part = mesh["inflated"].parts[_PART[h]]
        bg = np.asarray(sulc.data.parts[_PART[h]])
        for c, view in enumerate(views):
            ax = axes[r, c]
            plotting.plot_surf(
                part, surf_map=data[h], bg_map=bg, hemi=_PART[h], view=view, cmap=cmap, vmin=vmin, vmax=vmax,
                threshold=threshold, colorbar=False, axes=ax, figure=fig, bg_on_data=False,
            )
            if labels is not None and h in labels:
                ids = [int(i) for i in np.unique(labels[h]) if i != 0]
                if ids:
                    palette = label_colors(max(ids) + 1) / 255.0
                    plotting.plot_surf_contours(
                        part, labels[h], levels=ids, colors=[palette[i] for i in ids], axes=ax, figure=fig, hemi=_PART[h],
                    )
            ax.set_title(f"{h} {view}", fontsize=8)
    sm = ScalarMappable(cmap=cmap, norm=Normalize(vmin=vmin, vmax=vmax))
    fig.colorbar(sm, ax=axes.ravel().tolist(), shrink=0.6, label=colorbar_label)
    if labels is not None and table:
        shown = sorted({int(i) for h in labels for i in np.unique(labels[h]) if i != 0})
        if shown:
            palette = label_colors(max(shown) + 1) / 255.0
            handles = [Line2D([], [], color=palette[i], label=table.get(i, str(i))) for i in shown]
            fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 8), fontsize=7, frameon=False)
    if title:
        fig.suptitle(title)
    return save_figure(fig, output_file, dpi=dpi)


def _roi_labels(rois):
    if rois is None:
        return None, {}
    table = {}
    if hasattr(rois, "labels") and isinstance(getattr(rois, "labels"), dict):
        table = dict(getattr(rois, "table", {}) or {})
        rois = rois.labels
    if not isinstance(rois, dict) or any(h not in HEMIS for h in rois):
        raise ValueError("'rois' must be a dict {'lh': labels, 'rh': labels} or a surface Atlas.")
    return {h: _as_fsaverage5(v, f"rois[{h!r}]").astype(int) for h, v in rois.items()}, table
