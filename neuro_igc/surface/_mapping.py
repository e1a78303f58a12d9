"""Feature vectors (masked vertices or voxels) <-> full hemispheres or 3-D/4-D volumes."""

from __future__ import annotations

import numpy as np

from neuro_igc._utils import POSITIVE_INT, Options, check_param

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


def _surface_space(space):
    from neuro_igc.data import feature_space_of

    return feature_space_of(space, "surface")


def _volume_space(space):
    from neuro_igc.data import feature_space_of

    return feature_space_of(space, "volume")


def to_hemispheres(values, space, *, fill: float = np.nan) -> dict[str, np.ndarray]:
    """Scatter a feature vector onto full left and right hemispheres.

    Parameters
    ----------
    values : (n_features,) or (n_maps, n_features) array-like
        One value per feature (masked vertex), in the order of ``space``.
    space : SurfaceSpace
        Where the features live: hemispheres, vertices and vertex counts (e.g.
        ``betas.feature_space``; an object with a ``feature_space`` is taken too). Loose arrays
        become one with ``SurfaceSpace(density, hemi, vertex)``.
    fill : float, default NaN
        Value of the vertices outside the mask (``0.0`` for viewers that dislike NaN).

    Returns
    -------
    maps : dict {"lh": (n_vertices,) or (n_maps, n_vertices), "rh": ...}
        float64 arrays (float32 if ``values`` is float32).

    Examples
    --------
    >>> from neuro_igc.data import SurfaceSpace
    >>> m = to_hemispheres([1.0, 2.0, 3.0], SurfaceSpace("fsaverage3", ["lh", "lh", "rh"], [0, 5, 7]))
    >>> m["lh"].shape, float(m["lh"][5]), float(m["rh"][7]), bool(np.isnan(m["rh"][0]))
    ((642,), 2.0, 3.0, True)
    """
    return _surface_space(space).to_hemispheres(values, fill=fill)


def from_hemispheres(maps: dict[str, np.ndarray], space) -> np.ndarray:
    """Gather a feature vector from full hemispheres: the inverse of :func:`to_hemispheres`.

    Parameters
    ----------
    maps : dict {"lh": (..., n_vertices), "rh": (..., n_vertices)}
    space : SurfaceSpace
        The features to gather, at the maps' vertex counts.

    Returns
    -------
    values : (..., n_features) ndarray
    """
    return _surface_space(space).from_hemispheres(maps)


def to_volume(values, space, *, fill: float = 0.0):
    """Scatter a feature vector into a 3-D (or 4-D, one volume per map) NIfTI image.

    Parameters
    ----------
    values : (n_features,) or (n_maps, n_features) array-like
    space : VolumeSpace
        Voxel index of each feature, affine and shape of the volume (e.g.
        ``nsd.betas(..., space="func1pt8mm").feature_space``; loose arrays become one with
        ``VolumeSpace(ijk, affine, shape)``).
    fill : float, default 0.0
        Value outside the mask (NaN is allowed).

    Returns
    -------
    img : nibabel.Nifti1Image
        float32, shape ``space.shape`` or ``space.shape + (n_maps,)``, with the affine as qform and
        sform.

    Examples
    --------
    >>> from neuro_igc.data import VolumeSpace
    >>> img = to_volume([1.0, 2.0], VolumeSpace([[0, 0, 0], [1, 2, 3]], np.eye(4), (2, 3, 4)))
    >>> img.shape, float(img.get_fdata()[1, 2, 3])
    ((2, 3, 4), 2.0)
    """
    return _volume_space(space).to_volume(values, fill=fill)


def from_volume(img, space) -> np.ndarray:
    """Gather a feature vector (or (n_maps, n_features) for 4-D images) from a NIfTI image at the
    voxels of a :class:`~neuro_igc.data.VolumeSpace`."""
    import nibabel as nib

    from neuro_igc._read import image_data, load_image

    space = _volume_space(space)
    if not isinstance(img, nib.spatialimages.SpatialImage):
        img = load_image(img, "volume image")
    data = image_data(img, what="volume image")
    if tuple(data.shape[:3]) != space.shape:
        raise ValueError(
            f"The image's volume {tuple(data.shape[:3])} is not the space's {space.shape}: the image and the "
            "features are not in the same space/resolution."
        )
    ijk = space.ijk
    vals = data[ijk[:, 0], ijk[:, 1], ijk[:, 2]]
    return vals.T if vals.ndim == 2 else vals
