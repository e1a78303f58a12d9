"""Where features live: :class:`SurfaceSpace` (vertices of lh/rh on an fsaverage density or a
subject's native surface) and :class:`VolumeSpace` (voxels of a volume with its affine).

One object says where every column of a data matrix lives; betas, ROI labels, surface writers, ROI
sums and BIDS names all take it instead of loose ``hemi``/``vertex``/density arguments.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from neuro_igc._utils import HEMIS, check_feature_arrays, check_unique_vertices, den_label

__all__ = ["SurfaceSpace", "VolumeSpace", "feature_space_of", "HEMIS", "TEMPLATE_DENSITIES", "density_of_count", "den_label"]

#: Vertices per hemisphere of the nested icosahedral fsaverage templates.
TEMPLATE_DENSITIES = {
    "fsaverage": 163842,
    "fsaverage6": 40962,
    "fsaverage5": 10242,
    "fsaverage4": 2562,
    "fsaverage3": 642,
}
NATIVE = "native"
_BIDS_HEMI = {"lh": "L", "rh": "R"}


def density_of_count(n: int) -> str | None:
    """Template name of a per-hemisphere vertex count (``10242 -> "fsaverage5"``), else None."""
    for name, count in TEMPLATE_DENSITIES.items():
        if count == int(n):
            return name
    return None


def _check_density(density) -> str:
    if density != NATIVE and density not in TEMPLATE_DENSITIES:
        shown = ", ".join(repr(k) for k in (*TEMPLATE_DENSITIES, NATIVE))
        raise ValueError(f"Invalid value for 'density': allowed are {shown}; got {density!r}.")
    return density


def feature_space_of(space, kind: str | None = None, what: str = "space"):
    """The :class:`SurfaceSpace` / :class:`VolumeSpace` of ``space``: the space itself or the
    ``feature_space`` of an object that carries one (betas, ROI labels).

    ``kind`` ("surface" or "volume") requires that kind. Anything else raises a ValueError that says
    how to build a space from loose ``hemi``/``vertex`` or ``ijk`` arrays.
    """
    found = getattr(space, "feature_space", space)
    if not isinstance(found, (SurfaceSpace, VolumeSpace)):
        raise ValueError(
            f"Invalid value for {what!r}: expected a SurfaceSpace or VolumeSpace (e.g. betas.feature_space); got "
            f"{type(space).__name__}. Loose arrays become one with SurfaceSpace(density, hemi, vertex) or "
            "VolumeSpace(ijk, affine, shape)."
        )
    if kind is not None and found.kind != kind:
        other = "SurfaceSpace(density, hemi, vertex)" if kind == "surface" else "VolumeSpace(ijk, affine, shape)"
        raise ValueError(
            f"Invalid value for {what!r}: expected a {kind} space ({other}); got a {found.kind} space {found!r}."
        )
    return found


class InFeatureSpace:
    """Where the features of an object with a ``feature_space`` live, read from that space:
    ``space`` (its name), ``hemi``/``vertex``/``density`` on a surface, ``ijk``/``affine``/
    ``volume_shape`` in a volume (None where the space has no such attribute)."""

    @property
    def space(self) -> str:
        return self.feature_space.name

    @property
    def hemi(self):
        return getattr(self.feature_space, "hemi", None)

    @property
    def vertex(self):
        return getattr(self.feature_space, "vertex", None)

    @property
    def density(self):
        return getattr(self.feature_space, "density", None)

    @property
    def ijk(self):
        return getattr(self.feature_space, "ijk", None)

    @property
    def affine(self):
        return getattr(self.feature_space, "affine", None)

    @property
    def volume_shape(self):
        return getattr(self.feature_space, "shape", None)


class SurfaceSpace:
    """Features that are vertices of the left and right hemispheres (lh first, then rh).

    Parameters
    ----------
    density : {"fsaverage", "fsaverage6", "fsaverage5", "fsaverage4", "fsaverage3", "native"}
        fsaverage template, or ``"native"`` for a subject's own surface.
    hemi : (n_features,) array of {"lh", "rh"}
        Hemisphere of each feature; every lh feature comes before every rh one.
    vertex : (n_features,) int array
        0-based vertex index of each feature in its hemisphere; no index repeats in a hemisphere.
    subject : int, optional
        NSD subject number; required for ``"native"``.
    n_vertices : dict {"lh": int, "rh": int}, optional
        Vertices per hemisphere of the whole surface; for templates it follows from ``density``,
        for ``"native"`` it is required (each subject and hemisphere has its own count).

    Examples
    --------
    >>> sp = SurfaceSpace("fsaverage3", ["lh", "lh", "rh"], [0, 5, 7])
    >>> sp.n_features, sp.n_vertices, sp.bids_entities("rh")
    (3, {'lh': 642, 'rh': 642}, {'hemi': 'R', 'space': 'fsaverage', 'den': '642'})
    >>> float(sp.to_hemispheres([1.0, 2.0, 3.0])["rh"][7])
    3.0
    """

    kind = "surface"

    def __init__(self, density: str, hemi, vertex, *, subject: int | None = None, n_vertices=None):
        self.density = _check_density(density)
        self.subject = None if subject is None else int(subject)
        hemi, vertex = check_feature_arrays(hemi, vertex)
        if vertex.size and not np.issubdtype(vertex.dtype, np.integer):
            raise ValueError(f"'vertex' must hold integer vertex indices; got dtype {vertex.dtype}.")
        vertex = vertex.astype(np.int64)
        is_rh = hemi == "rh"
        if is_rh.any() and (~is_rh[np.argmax(is_rh):]).any():
            raise ValueError("Surface features must list every lh vertex before every rh vertex; sort them (lh first).")
        if density == NATIVE:
            if self.subject is None or n_vertices is None:
                raise ValueError("A native surface space needs 'subject' and 'n_vertices' ({'lh': V_lh, 'rh': V_rh}).")
        if n_vertices is None:
            n_vertices = {h: TEMPLATE_DENSITIES[density] for h in HEMIS}
        elif not isinstance(n_vertices, Mapping):
            n_vertices = {h: int(n_vertices) for h in HEMIS}
        self.n_vertices = {h: int(n_vertices[h]) for h in HEMIS}
        if density != NATIVE and any(v != TEMPLATE_DENSITIES[density] for v in self.n_vertices.values()):
            raise ValueError(
                f"Invalid value for 'n_vertices': {density} has {TEMPLATE_DENSITIES[density]} vertices per "
                f"hemisphere; got {self.n_vertices}."
            )
        for h in HEMIS:
            v = vertex[hemi == h]
            if v.size and (v.min() < 0 or v.max() >= self.n_vertices[h]):
                has = (f"density {density!r} has" if density != NATIVE else f"the {self._where()} has")
                raise ValueError(
                    f"'vertex' of {h} goes from {int(v.min())} to {int(v.max())}, outside 0..{self.n_vertices[h] - 1}: "
                    f"{has} {self.n_vertices[h]} vertices in {h}; the vertex indices and the density do not match."
                )
            check_unique_vertices(h, v)
        self.hemi = hemi.astype("<U2")
        self.vertex = vertex
        for arr in (self.hemi, self.vertex):
            arr.setflags(write=False)

    # ---------------------------------------------------------------------------------- basics
    def _where(self) -> str:
        return f"subject {self.subject} native surface" if self.density == NATIVE else self.density

    @classmethod
    def full(cls, density: str, *, subject: int | None = None, n_vertices=None) -> SurfaceSpace:
        """Every vertex of both hemispheres."""
        nv = n_vertices if n_vertices is not None else {h: TEMPLATE_DENSITIES[_check_density(density)] for h in HEMIS}
        if not isinstance(nv, Mapping):
            nv = {h: int(nv) for h in HEMIS}
        return cls.from_indices({h: np.arange(nv[h]) for h in HEMIS}, density, subject=subject, n_vertices=nv)

    @classmethod
    def from_indices(cls, indices: Mapping, density: str, *, subject=None, n_vertices=None) -> SurfaceSpace:
        """From ``{"lh": vertex indices, "rh": vertex indices}``."""
        parts = {h: np.asarray(indices.get(h, np.zeros(0, dtype=np.int64)), dtype=np.int64).reshape(-1) for h in HEMIS}
        hemi = np.concatenate([np.full(parts[h].size, h) for h in HEMIS]) if any(p.size for p in parts.values()) \
            else np.zeros(0, dtype="<U2")
        return cls(density, hemi, np.concatenate([parts[h] for h in HEMIS]), subject=subject, n_vertices=n_vertices)

    @property
    def name(self) -> str:
        """NSD space name: ``"fsaverage"`` (any template density) or ``"nativesurface"``."""
        return "nativesurface" if self.density == NATIVE else "fsaverage"

    @property
    def is_native(self) -> bool:
        return self.density == NATIVE

    @property
    def n_features(self) -> int:
        return int(self.vertex.size)

    def __len__(self) -> int:
        return self.n_features

    def __repr__(self) -> str:
        counts = {h: int(np.sum(self.hemi == h)) for h in HEMIS}
        who = f", subject={self.subject}" if self.subject is not None else ""
        return f"SurfaceSpace({self.density!r}{who}, lh={counts['lh']}, rh={counts['rh']} of {self.n_vertices})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, SurfaceSpace):
            return NotImplemented
        return (self.density == other.density and self.n_vertices == other.n_vertices
                and (self.subject == other.subject or self.density != NATIVE)
                and np.array_equal(self.hemi, other.hemi) and np.array_equal(self.vertex, other.vertex))

    __hash__ = None

    def indices(self, hemi: str) -> np.ndarray:
        """Vertex indices of the features of one hemisphere (feature order)."""
        return self.vertex[self.hemi == hemi]

    def select(self, index) -> SurfaceSpace:
        """The features ``index`` (bool mask or increasing integer array)."""
        index = np.asarray(index)
        return SurfaceSpace(self.density, self.hemi[index], self.vertex[index], subject=self.subject,
                            n_vertices=self.n_vertices)

    def bids_entities(self, hemi: str) -> dict[str, str]:
        """BIDS entities of one hemisphere's file: ``hemi``, ``space`` (fsaverage / fsnative), ``den``."""
        if hemi not in HEMIS:
            raise ValueError(f"Invalid value for 'hemi': allowed are 'lh', 'rh'; got {hemi!r}.")
        if self.is_native:
            return {"hemi": _BIDS_HEMI[hemi], "space": "fsnative"}
        return {"hemi": _BIDS_HEMI[hemi], "space": "fsaverage", "den": den_label(self.n_vertices[hemi])}

    # --------------------------------------------------------------------------- mapping
    def _values(self, values) -> np.ndarray:
        values = np.asarray(values)
        if values.ndim not in (1, 2):
            raise ValueError(f"Invalid shape for 'values': expected (n_features,) or (n_maps, n_features); got {values.shape}.")
        if values.shape[-1] != self.n_features:
            raise ValueError(
                f"'values' has {values.shape[-1]} features on its last axis but the space describes "
                f"{self.n_features}; pass the space that came with the data."
            )
        return values

    def to_hemispheres(self, values, *, fill: float = np.nan) -> dict[str, np.ndarray]:
        """Scatter (n_features,) or (n_maps, n_features) values onto full hemispheres."""
        values = self._values(values)
        dtype = values.dtype if values.dtype in (np.float32, np.float64) else np.float64
        out = {}
        for h in HEMIS:
            sel = self.hemi == h
            arr = np.full(values.shape[:-1] + (self.n_vertices[h],), fill, dtype=dtype)
            arr[..., self.vertex[sel]] = values[..., sel]
            out[h] = arr
        return out

    def from_hemispheres(self, maps: Mapping) -> np.ndarray:
        """Gather (..., n_features) values from full hemispheres ``{"lh": (..., V), "rh": ...}``."""
        self.check_hemispheres(maps, what="'maps'")
        first = np.asarray(maps[HEMIS[0]])
        out = np.empty(first.shape[:-1] + (self.n_features,), dtype=first.dtype)
        for h in HEMIS:
            sel = self.hemi == h
            out[..., sel] = np.asarray(maps[h])[..., self.vertex[sel]]
        return out

    def check_hemispheres(self, maps: Mapping, what: str = "'maps'") -> None:
        """Raise unless ``maps`` holds both hemispheres at this space's vertex counts."""
        missing = [h for h in HEMIS if h not in maps]
        if missing:
            raise ValueError(f"{what} lacks hemisphere(s) {missing}; give a dict with keys 'lh' and 'rh'.")
        for h in HEMIS:
            n = np.asarray(maps[h]).shape[-1]
            if n != self.n_vertices[h]:
                raise ValueError(
                    f"{what}[{h!r}] has {n} vertices but the {self._where()} space has {self.n_vertices[h]} in {h}."
                )


class VolumeSpace:
    """Features that are voxels of a volume.

    Parameters
    ----------
    ijk : (n_features, 3) int array
        Voxel index of each feature.
    affine : (4, 4) array
        Voxel -> scanner mm.
    shape : 3 ints
        Volume shape (X, Y, Z).
    name : str, default "func1pt8mm"
        NSD space name.
    subject : int, optional

    Examples
    --------
    >>> sp = VolumeSpace([[0, 0, 0], [1, 2, 3]], np.eye(4), (2, 3, 4))
    >>> sp.n_features, float(sp.to_volume([1.0, 2.0]).get_fdata()[1, 2, 3])
    (2, 2.0)
    """

    kind = "volume"

    def __init__(self, ijk, affine, shape, *, name: str = "func1pt8mm", subject: int | None = None):
        ijk = np.asarray(ijk)
        if ijk.size == 0:
            ijk = ijk.reshape(0, 3).astype(np.int64)
        if ijk.ndim != 2 or ijk.shape[1] != 3 or not np.issubdtype(ijk.dtype, np.integer):
            raise ValueError(f"'ijk' must be an integer array (n_features, 3) of voxel indices; got {ijk.shape} {ijk.dtype}.")
        shape = tuple(int(s) for s in shape)
        if len(shape) != 3:
            raise ValueError(f"Invalid value for 'shape': expected 3 integers (X, Y, Z); got {shape}.")
        if len(ijk) and ((ijk < 0).any() or (ijk >= np.asarray(shape)).any()):
            raise ValueError(f"'ijk' has voxel indices outside the volume shape {shape}.")
        flat = np.ravel_multi_index(tuple(ijk.T), shape) if len(ijk) else np.zeros(0, dtype=np.int64)
        if flat.size != np.unique(flat).size:
            raise ValueError("Duplicate voxel indices in 'ijk': each voxel may hold one feature.")
        affine = np.asarray(affine, dtype=np.float64)
        if affine.shape != (4, 4):
            raise ValueError(f"Invalid shape for 'affine': expected (4, 4); got {affine.shape}.")
        self.ijk = ijk.astype(np.int64)
        self.affine = affine
        self.shape = shape
        self.name = str(name)
        self.subject = None if subject is None else int(subject)
        self.ijk.setflags(write=False)

    @property
    def n_features(self) -> int:
        return int(len(self.ijk))

    def __len__(self) -> int:
        return self.n_features

    def __repr__(self) -> str:
        return f"VolumeSpace({self.name!r}, {self.n_features} voxels of {self.shape})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, VolumeSpace):
            return NotImplemented
        return (self.shape == other.shape and self.name == other.name and np.allclose(self.affine, other.affine)
                and np.array_equal(self.ijk, other.ijk))

    __hash__ = None

    def select(self, index) -> VolumeSpace:
        return VolumeSpace(self.ijk[np.asarray(index)], self.affine, self.shape, name=self.name, subject=self.subject)

    def bids_entities(self) -> dict[str, str]:
        return {"space": self.name}

    def to_volume(self, values, *, fill: float = 0.0):
        """NIfTI image of (n_features,) or (n_maps, n_features) values."""
        import nibabel as nib

        values = np.asarray(values, dtype=np.float32)
        if values.ndim not in (1, 2):
            raise ValueError(
                f"Invalid shape for 'values': expected (n_features,) or (n_maps, n_features); got {values.shape}."
            )
        if values.shape[-1] != self.n_features:
            raise ValueError(
                f"'values' has {values.shape[-1]} features on its last axis but the space describes "
                f"{self.n_features} voxels ('ijk'); pass the space that came with the data."
            )
        n_maps = values.shape[0] if values.ndim == 2 else None
        vol = np.full(self.shape + ((n_maps,) if n_maps else ()), fill, dtype=np.float32)
        i, j, k = self.ijk.T
        if n_maps:
            vol[i, j, k, :] = values.T
        else:
            vol[i, j, k] = values
        img = nib.Nifti1Image(vol, self.affine)
        img.set_qform(self.affine, code=1)
        img.set_sform(self.affine, code=1)
        return img
