"""fsaverage <-> fsaverage5 (and the other nested icosahedral densities).

The FreeSurfer templates are nested: the first 642 / 2562 / 10242 / 40962 vertices of each denser
template are the vertices of the coarser ones, at the same positions on the sphere. Decimation is
therefore exact (keep the first ``n`` vertices). Going up needs the denser mesh: every new vertex
is the midpoint of an edge of the coarser mesh, and takes the value of its nearest coarse vertex
(one of the edge's two ends) on the denser template's sphere. nilearn bundles only the fsaverage5
sphere offline, so upsampling to fsaverage5 works out of the box; upsampling to fsaverage6 or
fsaverage needs that template's ``?h.sphere`` (FreeSurfer's ``$SUBJECTS_DIR/fsaverage/surf``).
"""

from __future__ import annotations

import os

import numpy as np

from neuro_igc._utils import check_option

from ._mapping import DENSITIES, HEMIS, density_name, n_vertices

__all__ = ["decimate", "decimate_features", "upsample", "load_sphere"]


def _density_of(arr: np.ndarray, what: str) -> str:
    count = arr.shape[-1]
    name = density_name(count)
    if name is None:
        shown = ", ".join(f"{k} ({v})" for k, v in DENSITIES.items())
        raise ValueError(
            f"{what} has {count} vertices on its last axis, which is not an fsaverage density "
            f"({shown}); give full-hemisphere arrays (see to_hemispheres)."
        )
    return name


def decimate(data, density: str = "fsaverage5"):
    """Keep the vertices of a coarser nested template: ``data[..., :n_vertices(density)]``.

    Parameters
    ----------
    data : (..., n_vertices) array or dict {"lh": array, "rh": array}
        Full-hemisphere data on fsaverage, fsaverage6, ... (vertices on the last axis).
    density : str, default "fsaverage5"
        Target template; must not be denser than the data.

    Returns
    -------
    Same type as ``data``, with ``n_vertices(density)`` vertices.

    Examples
    --------
    >>> decimate(np.arange(163842.0), "fsaverage5").shape
    (10242,)
    """
    if isinstance(data, dict):
        return {h: decimate(v, density) for h, v in data.items()}
    arr = np.asarray(data)
    src = _density_of(arr, "'data'")
    n = n_vertices(density)
    if n > arr.shape[-1]:
        raise ValueError(
            f"Cannot decimate {src} data ({arr.shape[-1]} vertices) to the denser {density!r} "
            f"({n} vertices); use upsample."
        )
    return arr[..., :n]


def decimate_features(space, density: str = "fsaverage5") -> np.ndarray:
    """Boolean mask (n_features,) of the features of a :class:`~neuro_igc.data.SurfaceSpace`
    whose vertex exists on the coarser template ``density``.

    Use it to decimate a feature vector: ``values[..., keep]`` lives on
    ``SurfaceSpace(density, space.hemi[keep], space.vertex[keep])`` (vertex indices are unchanged,
    the meshes being nested).
    """
    from neuro_igc.data import feature_space_of

    return feature_space_of(space, "surface").vertex < n_vertices(density)


def load_sphere(hemi: str, density: str = "fsaverage5", path: str | os.PathLike | None = None) -> np.ndarray:
    """Sphere coordinates (n_vertices, 3) of a template hemisphere.

    ``path`` (a FreeSurfer ``?h.sphere`` or GIFTI surface) is read with nibabel; without it only
    fsaverage5 and coarser are available (nilearn's bundled fsaverage5, no download).
    """
    check_option("hemi", hemi, HEMIS)
    n = n_vertices(density)
    if path is not None:
        from neuro_igc._read import read_geometry

        path = os.fspath(path)
        coords = np.asarray(read_geometry(path, "sphere")[0], dtype=float)
        if len(coords) < n:
            raise ValueError(f"Sphere {path} has {len(coords)} vertices, fewer than {density!r} ({n}).")
        return coords[:n]
    if n > DENSITIES["fsaverage5"]:
        raise ValueError(
            f"The {density!r} sphere is not available offline (nilearn ships fsaverage5 only); pass "
            f"path='$SUBJECTS_DIR/{density}/surf/{hemi}.sphere' from a FreeSurfer installation."
        )
    from nilearn import datasets

    mesh = datasets.load_fsaverage("fsaverage5")["sphere"]
    part = mesh.parts["left" if hemi == "lh" else "right"]
    return np.asarray(part.coordinates, dtype=float)[:n]


def upsample(data, density: str = "fsaverage5", *, sphere: dict | None = None):
    """Nearest-parent upsampling of nested-template data to a denser template.

    Every vertex of the target keeps its own value if it exists in the source (the first
    ``n_source`` vertices) and otherwise takes the value of the nearest source vertex on the
    target's sphere (for an edge midpoint: one of the edge's two ends).

    Parameters
    ----------
    data : dict {"lh": (..., n_source), "rh": (..., n_source)}
    density : str, default "fsaverage5"
        Target template.
    sphere : dict {"lh": path or (n, 3) array, "rh": ...}, optional
        The target template's sphere; needed above fsaverage5 (see :func:`load_sphere`).

    Returns
    -------
    dict {"lh": (..., n_target), "rh": (..., n_target)}
    """
    from scipy.spatial import cKDTree

    if not isinstance(data, dict):
        raise ValueError("'data' must be a dict {'lh': array, 'rh': array}: upsampling needs each hemisphere's sphere.")
    n = n_vertices(density)
    out = {}
    for h, arr in data.items():
        arr = np.asarray(arr)
        _density_of(arr, f"data[{h!r}]")
        n_src = arr.shape[-1]
        if n_src > n:
            raise ValueError(f"data[{h!r}] has {n_src} vertices, more than {density!r} ({n}); use decimate.")
        given = None if sphere is None else sphere.get(h)
        if given is None or isinstance(given, (str, os.PathLike)):
            coords = load_sphere(h, density, given)
        else:
            coords = np.asarray(given, dtype=float)
            if coords.shape != (n, 3):
                raise ValueError(f"sphere[{h!r}] must be ({n}, 3) coordinates of {density!r}; got {coords.shape}.")
        parent = np.arange(n)
        if n > n_src:
            _, parent[n_src:] = cKDTree(coords[:n_src]).query(coords[n_src:], k=1)
        out[h] = arr[..., parent]
    return out
