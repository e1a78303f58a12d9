"""Surface figures with nilearn on the bundled fsaverage5 inflated mesh (no download)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from neuro_igc._utils import check_option, new_figure, save_figure, soft_import

from ._decimate import decimate
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
    rois : dict {"lh": (n_vertices,) int, "rh": ...}, Atlas, or a list of them, optional
        ROI labels whose outlines are drawn (0 = none); an object with ``labels`` (dict) and
        ``table`` ({id: name}) attributes, such as :class:`neuro_igc.atlas.Atlas`, also works, and
        so do feature-aligned :class:`neuro_igc.data.ROILabels` (``nsd.roi(..., like=betas)``).
        Several atlases: each ROI gets its own colour in the legend.
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
    layers = _roi_layers(rois)
    n_colors = max([offset + max([int(np.max(v)) for v in lab.values()] + [0]) for lab, _, offset in layers] + [0]) + 1
    palette = _distinct_colors(n_colors)
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
    shown = _shown_rois(layers)
    legend_rows = int(np.ceil(len(shown) / 6)) if shown else 0
    # panels as large as the brains: nilearn leaves a wide margin around each 3-D axes, zoomed out below
    panel_w, panel_h = 3.3, 2.5
    head, foot = (0.45 if title else 0.1), 0.3 * legend_rows + 0.1
    fig = new_figure("Surface plots", figsize=(panel_w * len(views) + 1.1, panel_h * len(hemis) + head + foot))
    height = fig.get_figheight()
    grid = fig.add_gridspec(len(hemis), len(views), left=0.0, right=1 - 1.1 / fig.get_figwidth(),
                            top=1 - head / height, bottom=foot / height, wspace=0.0, hspace=0.0)
    axes = np.empty((len(hemis), len(views)), dtype=object)
    for r, h in enumerate(hemis):
        part = mesh["inflated"].parts[_PART[h]]
        bg = np.asarray(sulc.data.parts[_PART[h]])
        for c, view in enumerate(views):
            ax = axes[r, c] = fig.add_subplot(grid[r, c], projection="3d")
            plotting.plot_surf(
                part, surf_map=data[h], bg_map=bg, hemi=_PART[h], view=view, cmap=cmap, vmin=vmin, vmax=vmax,
                threshold=threshold, colorbar=False, axes=ax, figure=fig, bg_on_data=False,
            )
            for labels, _table, offset in layers:
                if h not in labels:
                    continue
                ids = [int(i) for i in np.unique(labels[h]) if i != 0]
                if ids:
                    colors = [palette[offset + i] for i in ids]
                    faces = np.asarray(part.faces)
                    # two rings of faces along each border (nilearn colours one): legible at this size
                    for lab in (labels[h], _dilate(labels[h], faces)):
                        plotting.plot_surf_contours(part, lab, levels=ids, colors=colors, axes=ax, figure=fig,
                                                    hemi=_PART[h])
            ax.set_box_aspect(None, zoom=ZOOM.get(view, 1.6))
            ax.set_title(f"{h} {view}", fontsize=9, y=0.97)
    sm = ScalarMappable(cmap=cmap, norm=Normalize(vmin=vmin, vmax=vmax))
    cax = fig.add_axes([1 - 0.95 / fig.get_figwidth(), 0.2 + 0.6 * foot / height, 0.18 / fig.get_figwidth(), 0.55])
    cbar = fig.colorbar(sm, cax=cax)
    cbar.set_label(colorbar_label, fontsize=10)
    if shown:
        handles = [Line2D([], [], color=palette[k], lw=3, label=name) for k, name in shown]
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=9, frameon=False,
                   handlelength=1.5, columnspacing=1.2)
    if title:
        fig.suptitle(title, fontsize=12, y=1 - 0.08 / height)
    return save_figure(fig, output_file, dpi=dpi)


#: zoom of each view's 3-D axes: the brain fills its panel (lateral/medial are wide, posterior narrow)
ZOOM = {"lateral": 1.6, "medial": 1.6, "ventral": 1.55, "dorsal": 1.55, "posterior": 1.5, "anterior": 1.5}


def _dilate(labels: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Each ROI grown by one ring of vertices (unlabelled neighbours take a neighbour's label)."""
    out = labels.copy()
    for a, b in ((0, 1), (1, 2), (2, 0), (1, 0), (2, 1), (0, 2)):
        src, dst = faces[:, a], faces[:, b]
        grow = (labels[src] != 0) & (out[dst] == 0)
        out[dst[grow]] = labels[src[grow]]
    return out


def _shown_rois(layers) -> list[tuple[int, str]]:
    """(palette index, name) of every ROI drawn, in layer order."""
    out = []
    for labels, table, offset in layers:
        ids = sorted({int(i) for h in labels for i in np.unique(labels[h]) if i != 0})
        out += [(offset + i, table.get(i, str(i))) for i in ids]
    return out


def _roi_labels(rois):
    if rois is None:
        return None, {}
    table = {}
    space = getattr(rois, "feature_space", None)
    if space is not None and not isinstance(getattr(rois, "labels", None), dict):  # ROILabels: one per feature
        if getattr(space, "kind", None) != "surface":
            raise ValueError(f"Invalid value for 'rois': surface plots need surface ROI labels; got labels in "
                             f"{getattr(space, 'name', 'a volume')!r}.")
        table = dict(getattr(rois, "table", {}) or {})
        rois = {h: np.rint(v).astype(int) for h, v in space.to_hemispheres(rois.labels, fill=0).items()}
    elif hasattr(rois, "labels") and isinstance(getattr(rois, "labels"), dict):
        table = dict(getattr(rois, "table", {}) or {})
        rois = rois.labels
    if not isinstance(rois, dict) or any(h not in HEMIS for h in rois):
        raise ValueError("'rois' must be a dict {'lh': labels, 'rh': labels}, a surface Atlas, or a list of them.")
    return {h: _as_fsaverage5(v, f"rois[{h!r}]").astype(int) for h, v in rois.items()}, table


def _roi_layers(rois) -> list[tuple[dict, dict, int]]:
    """(labels per hemisphere, {id: name}, palette offset) of each atlas whose outlines are drawn:
    the ROIs of several atlases get distinct colours."""
    if rois is None:
        return []
    items = list(rois) if isinstance(rois, (list, tuple)) else [rois]
    layers, offset = [], 0
    for item in items:
        labels, table = _roi_labels(item)
        layers.append((labels, table, offset))
        offset += max([int(np.max(v)) for v in labels.values()] + [0])
    return layers


def _distinct_colors(n: int) -> list:
    """``n`` colours that stand out on a grey brain and on the red/blue maps, distinct from their
    neighbours (index 0 unused)."""
    from matplotlib import colormaps

    base = [colormaps["tab10"](i) for i in (2, 1, 4, 8, 9, 6, 5, 0, 3, 7)]
    extra = [colormaps["Dark2"](i) for i in range(8)] + [colormaps["Set1"](i) for i in range(9)]
    cols = base + extra
    return [(0, 0, 0, 1)] + [cols[i % len(cols)] for i in range(max(n - 1, 0))]
