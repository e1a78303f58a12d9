"""Interactive 3-D views of surface maps: one self-contained HTML page per map (nilearn's
``view_surf``, plotly embedded, no network), on the bundled fsaverage5 inflated mesh."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from neuro_igc._utils import atomic_write_text, soft_import
from neuro_igc.surface._plot import _as_fsaverage5

__all__ = ["view_surface_maps", "best_view", "VIEW_DIRECTIONS"]

#: nilearn's interactive views (its camera eye directions in mesh coordinates)
VIEW_DIRECTIONS = {"left": (-1, 0, 0), "right": (1, 0, 0), "front": (0, 1, 0), "back": (0, -1, 0),
                   "top": (0, 0, 1), "bottom": (0, 0, -1)}

_PART = {"lh": "left", "rh": "right"}


def view_surface_maps(
    maps: dict[str, np.ndarray],
    output_file: str | os.PathLike,
    *,
    signed: bool | None = None,
    cmap: str | None = None,
    vmax: float | None = None,
    threshold: float | None = None,
    title: str | None = None,
) -> Path:
    """Write an interactive view (rotate, zoom, hover) of lh/rh maps as one offline HTML page.

    Parameters
    ----------
    maps : dict {"lh": (n_vertices,) array, "rh": (n_vertices,) array}
        One map per hemisphere on an fsaverage mesh (fsaverage5 or denser: decimated to
        fsaverage5 for the view). NaN (vertices without a value) are shown as the background.
    output_file : path-like
        The ``.html`` page, written atomically; it embeds everything it needs (plotly), so it
        opens from a copied folder without a network.
    signed : bool or None, default None
        Symmetric colour scale around 0 (None: when the map has both signs).
    cmap : str or None
        Default "RdBu_r" for signed maps, "inferno" otherwise.
    vmax, threshold : float or None
        Colour scale bound; values with ``|value| < threshold`` are not coloured.
    title : str or None

    Returns
    -------
    pathlib.Path
    """
    if not isinstance(maps, dict) or not maps or any(h not in _PART for h in maps):
        raise ValueError(
            f"'maps' must be a dict with keys 'lh' and/or 'rh'; got {sorted(maps) if isinstance(maps, dict) else type(maps).__name__}."
        )
    soft_import("nilearn", "Interactive surface views")
    from nilearn import datasets, plotting
    from nilearn.surface import PolyMesh, SurfaceImage

    data = {h: _as_fsaverage5(m, f"maps[{h!r}]").astype(float) for h, m in maps.items()}
    finite = np.concatenate([d[np.isfinite(d)] for d in data.values()])
    if finite.size == 0:
        finite = np.zeros(1)
    if signed is None:
        signed = bool(finite.min() < 0 < finite.max())
    if vmax is None:
        vmax = float(np.abs(finite).max())
    vmax = vmax if vmax > 0 else 1.0
    mesh = datasets.load_fsaverage("fsaverage5")
    sulc = datasets.load_fsaverage_data("fsaverage5", data_type="sulcal")
    hemis = [h for h in ("lh", "rh") if h in data]
    inflated = PolyMesh(**{_PART[h]: mesh["inflated"].parts[_PART[h]] for h in hemis})
    # no value -> 0 under a threshold: drawn as the sulcal background
    tiny = float(threshold) if threshold else 1e-12 * vmax
    values = {_PART[h]: np.where(np.isfinite(data[h]), data[h], 0.0) for h in hemis}
    img = SurfaceImage(mesh=inflated, data=values)
    bg = SurfaceImage(mesh=inflated, data={_PART[h]: np.asarray(sulc.data.parts[_PART[h]]) for h in hemis})
    hemi = "both" if len(hemis) == 2 else _PART[hemis[0]]
    # open on the view that shows the most of the map (nilearn opens on the left, lateral side)
    best = best_view({h: mesh["inflated"].parts[_PART[h]] for h in hemis},
                     {h: np.where(np.isfinite(data[h]), np.abs(data[h]), 0.0) for h in hemis})
    import inspect

    supports_view = "view" in inspect.signature(plotting.view_surf).parameters
    view = plotting.view_surf(
        **({"view": best} if supports_view else {}),
        surf_map=img, bg_map=bg, hemi=hemi, threshold=tiny, cmap=cmap or ("RdBu_r" if signed else "inferno"),
        vmax=vmax, vmin=-vmax if signed else float(min(finite.min(), 0.0)), symmetric_cmap=bool(signed),
        title=title, title_fontsize=16, colorbar_fontsize=14,
    )
    page = view.get_standalone()
    if not supports_view:  # an older nilearn: its page's settings say which view it opens on
        page = page.replace('"view": "left"', f'"view": "{best}"', 1)
    # the page embeds its scripts; drop its one network resource (a favicon) so it is fully offline
    page = re.sub(r"<link[^>]*rel=\"icon\"[^>]*>", "", page, flags=re.S)
    return atomic_write_text(output_file, page)


def best_view(meshes: dict, weights: dict[str, np.ndarray]) -> str:
    """The view of :data:`VIEW_DIRECTIONS` that faces most of the map: the sum over vertices of
    ``weight * max(0, normal . direction)`` (vertex normals of each hemisphere's mesh); seen from
    the left or right, the far hemisphere is hidden behind the near one and does not count.

    Parameters
    ----------
    meshes : dict {"lh"/"rh": mesh with ``coordinates`` and ``faces``}
    weights : dict {"lh"/"rh": (n_vertices,) array}, e.g. the map's absolute values
    """
    score = dict.fromkeys(VIEW_DIRECTIONS, 0.0)
    for h, mesh in meshes.items():
        coords, faces = np.asarray(mesh.coordinates, dtype=float), np.asarray(mesh.faces)
        tri = np.cross(coords[faces[:, 1]] - coords[faces[:, 0]], coords[faces[:, 2]] - coords[faces[:, 0]])
        normals = np.zeros_like(coords)
        for k in range(3):
            np.add.at(normals, faces[:, k], tri)  # area-weighted vertex normals
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        w = np.asarray(weights[h], dtype=float)
        for view, d in VIEW_DIRECTIONS.items():
            if len(meshes) == 2 and (view, h) in (("left", "rh"), ("right", "lh")):
                continue
            score[view] += float(np.sum(w * np.clip(normals @ np.asarray(d, dtype=float), 0.0, None)))
    return max(score, key=score.get)
