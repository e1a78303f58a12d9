"""Feature vectors (masked vertices or voxels) <-> full hemispheres or 3-D/4-D volumes."""

from __future__ import annotations

import numpy as np

from neuro_igc._utils import POSITIVE_INT, Options, check_param

from neuro_igc._utils import check_feature_arrays, check_unique_vertices

__all__ = [
    "DENSITIES",
    "HEMIS",
    "density_name",
    "n_vertices",
    "to_hemispheres",
    "from_hemispheres",
    "to_volume",
    "from_volume",
]

#: Vertices per hemisphere of the nested icosahedral FreeSurfer templates.
DENSITIES = {
    "fsaverage": 163842,
    "fsaverage6": 40962,
    "fsaverage5": 10242,
    "fsaverage4": 2562,
    "fsaverage3": 642,
}
#: Hemisphere names used throughout (NSD/FreeSurfer file prefixes); features list lh before rh.
HEMIS = ("lh", "rh")


def n_vertices(density: str | int) -> int:
    """Vertices per hemisphere of a template name (``"fsaverage5"``) or a count (returned as is)."""
    check_param("density", density, Options(*DENSITIES), POSITIVE_INT)
    return DENSITIES[density] if isinstance(density, str) else int(density)


def density_name(count: int) -> str | None:
    """Template name of a per-hemisphere vertex count (``10242 -> "fsaverage5"``), else None."""
    for name, n in DENSITIES.items():
        if n == count:
            return name
    return None


def _check_hemi_vertex(hemi, vertex, n_features: int | None = None):
    hemi, vertex = check_feature_arrays(hemi, vertex)
    if n_features is not None and len(hemi) != n_features:
        raise ValueError(
            f"'values' has {n_features} features on its last axis but 'hemi'/'vertex' describe "
            f"{len(hemi)}; pass the hemi/vertex arrays that came with the data."
        )
    if not np.issubdtype(vertex.dtype, np.integer):
        raise ValueError(f"'vertex' must hold integer vertex indices; got dtype {vertex.dtype}.")
    if len(vertex) and vertex.min() < 0:
        raise ValueError("'vertex' has negative indices; vertex indices are 0-based and non-negative.")
    for h in HEMIS:
        check_unique_vertices(h, vertex[hemi == h])
    return hemi, vertex


def _space_args(hemi, vertex, density):
    """Accept a SurfaceSpace in place of the loose (hemi, vertex, density)."""
    if getattr(hemi, "kind", None) == "surface":
        if vertex is not None:
            raise ValueError("Pass either a SurfaceSpace or the 'hemi'/'vertex' arrays, not both.")
        space = hemi
        return space.hemi, space.vertex, (density if density is not None else
                                          (space.n_vertices["lh"] if space.is_native else space.density)), space
    if vertex is None:
        raise ValueError("Missing 'vertex': pass hemi and vertex arrays, or a SurfaceSpace.")
    return hemi, vertex, density, None


def to_hemispheres(
    values,
    hemi,
    vertex=None,
    *,
    density: str | int | None = None,
    fill: float = np.nan,
) -> dict[str, np.ndarray]:
    """Scatter a feature vector onto full left and right hemispheres.

    Parameters
    ----------
    values : (n_features,) or (n_maps, n_features) array-like
        One value per feature (masked vertex), lh features first then rh, as ``hemi`` says.
    hemi : (n_features,) array of {"lh", "rh"}, or a SurfaceSpace
        A :class:`~neuro_igc.data.SurfaceSpace` (e.g. ``betas.feature_space``) gives hemispheres,
        vertices and vertex counts at once (then leave ``vertex`` out).
    vertex : (n_features,) int array
        Vertex index of each feature in its hemisphere; no index may repeat within a hemisphere.
    density : str or int, optional
        Template (``"fsaverage"``, ``"fsaverage5"``, ...) or vertices per hemisphere. Default: the
        smallest template that holds the largest vertex index.
    fill : float, default NaN
        Value of the vertices outside the mask (``0.0`` for viewers that dislike NaN).

    Returns
    -------
    maps : dict {"lh": (n_vertices,) or (n_maps, n_vertices), "rh": ...}
        float64 arrays (float32 if ``values`` is float32).

    Examples
    --------
    >>> m = to_hemispheres([1.0, 2.0, 3.0], ["lh", "lh", "rh"], [0, 5, 7], density="fsaverage3")
    >>> m["lh"].shape, float(m["lh"][5]), float(m["rh"][7]), bool(np.isnan(m["rh"][0]))
    ((642,), 2.0, 3.0, True)
    """
    hemi, vertex, density, space = _space_args(hemi, vertex, density)
    if space is not None and space.is_native:
        return space.to_hemispheres(values, fill=fill)
    values = np.asarray(values)
    if values.ndim not in (1, 2):
        raise ValueError(f"Invalid shape for 'values': expected (n_features,) or (n_maps, n_features); got {values.shape}.")
    hemi, vertex = _check_hemi_vertex(hemi, vertex, values.shape[-1])
    top = int(vertex.max()) + 1 if len(vertex) else 1
    if density is None:
        fits = [n for n in sorted(DENSITIES.values()) if n >= top]
        if not fits:
            raise ValueError(f"'vertex' goes up to {top - 1}, beyond fsaverage ({DENSITIES['fsaverage']}); give 'density'.")
        nv = fits[0]
    else:
        nv = n_vertices(density)
        if top > nv:
            raise ValueError(
                f"'vertex' goes up to {top - 1} but density {density!r} has {nv} vertices per hemisphere; "
                "pass the density the data came in (e.g. 'fsaverage')."
            )
    dtype = values.dtype if values.dtype in (np.float32, np.float64) else np.float64
    out = {}
    for h in HEMIS:
        sel = hemi == h
        arr = np.full(values.shape[:-1] + (nv,), fill, dtype=dtype)
        arr[..., vertex[sel]] = values[..., sel]
        out[h] = arr
    return out


def from_hemispheres(maps: dict[str, np.ndarray], hemi, vertex=None) -> np.ndarray:
    """Gather a feature vector from full hemispheres: the inverse of :func:`to_hemispheres`.

    Parameters
    ----------
    maps : dict {"lh": (..., n_vertices), "rh": (..., n_vertices)}
    hemi, vertex : (n_features,) arrays, or a SurfaceSpace as ``hemi``

    Returns
    -------
    values : (..., n_features) ndarray
    """
    hemi, vertex, _, space = _space_args(hemi, vertex, None)
    if space is not None:
        return space.from_hemispheres(maps)
    hemi, vertex = _check_hemi_vertex(hemi, vertex)
    missing = [h for h in set(hemi.tolist()) if h not in maps]
    if missing:
        raise ValueError(f"'maps' lacks hemisphere(s) {sorted(missing)}; give a dict with keys 'lh' and 'rh'.")
    first = np.asarray(maps[hemi[0]]) if len(hemi) else np.zeros(0)
    out = np.empty(first.shape[:-1] + (len(hemi),), dtype=first.dtype)
    for h in HEMIS:
        sel = hemi == h
        if sel.any():
            arr = np.asarray(maps[h])
            if vertex[sel].max() >= arr.shape[-1]:
                raise ValueError(
                    f"'vertex' goes up to {vertex[sel].max()} but maps[{h!r}] has {arr.shape[-1]} vertices; "
                    "the feature indices and the maps come from different densities."
                )
            out[..., sel] = arr[..., vertex[sel]]
    return out


def _check_ijk(ijk, shape=None):
    ijk = np.asarray(ijk)
    if ijk.ndim != 2 or ijk.shape[1] != 3 or not np.issubdtype(ijk.dtype, np.integer):
        raise ValueError(f"'ijk' must be an integer array (n_features, 3) of voxel indices; got {ijk.shape} {ijk.dtype}.")
    if shape is not None and len(ijk):
        if (ijk < 0).any() or (ijk >= np.asarray(shape[:3])).any():
            raise ValueError(f"'ijk' has voxel indices outside the volume shape {tuple(shape[:3])}.")
    return ijk


def to_volume(values, ijk, affine, shape, *, fill: float = 0.0):
    """Scatter a feature vector into a 3-D (or 4-D, one volume per map) NIfTI image.

    Parameters
    ----------
    values : (n_features,) or (n_maps, n_features) array-like
    ijk : (n_features, 3) int array
        Voxel index of each feature (as loaded, e.g. ``nsd.betas(..., space="func1pt8mm").ijk``).
    affine : (4, 4) array
        Voxel-to-world affine of the volume the indices refer to.
    shape : tuple of 3 ints
        Volume shape (X, Y, Z).
    fill : float, default 0.0
        Value outside the mask (NaN is allowed).

    Returns
    -------
    img : nibabel.Nifti1Image
        float32, shape ``shape`` or ``shape + (n_maps,)``, with ``affine`` as qform and sform.

    Examples
    --------
    >>> img = to_volume([1.0, 2.0], [[0, 0, 0], [1, 2, 3]], np.eye(4), (2, 3, 4))
    >>> img.shape, float(img.get_fdata()[1, 2, 3])
    ((2, 3, 4), 2.0)
    """
    import nibabel as nib

    values = np.asarray(values, dtype=np.float32)
    if values.ndim not in (1, 2):
        raise ValueError(f"Invalid shape for 'values': expected (n_features,) or (n_maps, n_features); got {values.shape}.")
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3:
        raise ValueError(f"Invalid value for 'shape': expected 3 integers (X, Y, Z); got {shape}.")
    ijk = _check_ijk(ijk, shape)
    if len(ijk) != values.shape[-1]:
        raise ValueError(f"'values' has {values.shape[-1]} features but 'ijk' has {len(ijk)} voxels.")
    affine = np.asarray(affine, dtype=float)
    if affine.shape != (4, 4):
        raise ValueError(f"Invalid shape for 'affine': expected (4, 4); got {affine.shape}.")
    n_maps = values.shape[0] if values.ndim == 2 else None
    vol = np.full(shape + ((n_maps,) if n_maps else ()), fill, dtype=np.float32)
    if n_maps:
        vol[ijk[:, 0], ijk[:, 1], ijk[:, 2], :] = values.T
    else:
        vol[ijk[:, 0], ijk[:, 1], ijk[:, 2]] = values
    img = nib.Nifti1Image(vol, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    return img


def from_volume(img, ijk) -> np.ndarray:
    """Gather a feature vector (or (n_maps, n_features) for 4-D images) from a NIfTI image."""
    import nibabel as nib

    from neuro_igc._read import image_data, load_image

    if not isinstance(img, nib.spatialimages.SpatialImage):
        img = load_image(img, "volume image")
    data = image_data(img, what="volume image")
    ijk = _check_ijk(ijk, data.shape)
    vals = data[ijk[:, 0], ijk[:, 1], ijk[:, 2]]
    return vals.T if vals.ndim == 2 else vals
