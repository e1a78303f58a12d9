"""Surfaces of the synthetic NSD folder: fsaverage at full density, native surfaces, index maps.

fsaverage at 163,842 vertices
-----------------------------
nilearn ships only the fsaverage5 mesh offline (10,242 vertices per hemisphere, an icosahedron
subdivided 5 times). The full-density mesh is built from it the way the icosahedral meshes nest:
two more midpoint subdivisions. Each new vertex sits at the midpoint of an edge of the coarser
mesh (normalised onto the unit sphere; its pial position is the midpoint of the two parents' pial
positions), and the new vertices are numbered after the old ones, edge by edge in ascending order
of their (smaller, larger) parent indices. So vertices 0..10241 are exactly nilearn's fsaverage5
vertices and 0..40961 the fsaverage6 level, as in FreeSurfer's nested meshes; the numbering of
the other vertices is ours, not FreeSurfer's.

Native surfaces
---------------
Each subject and hemisphere gets its own mesh with its own vertex count: a Fibonacci lattice of
``n`` points on the unit sphere (``sphere.reg``: already registered to fsaverage's sphere),
randomly rotated and randomly numbered, triangulated by its convex hull. A native vertex's
``white`` position is the pial position of its nearest full-density fsaverage vertex, moved by
the (sub-millimetre) sphere offset between the two.

Index maps (NSD's ``transforms``)
---------------------------------
``white-to-fsaverage``: for each of the 163,842 fsaverage vertices, the nearest native vertex on
the sphere; ``fsaverage-to-white``: for each native vertex, the nearest fsaverage vertex. Both
are computed exactly with a k-d tree (scipy) and stored 1-based, as in NSD.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["fsaverage5_mesh", "fsaverage_mesh", "NativeSurface", "native_surface", "SPHERE_RADIUS"]

HEMIS = ("lh", "rh")
_PART = {"lh": "left", "rh": "right"}
#: FreeSurfer spheres have radius 100 mm
SPHERE_RADIUS = 100.0


@dataclass(frozen=True)
class Mesh:
    """Unit-sphere positions (n, 3), pial/white positions in mm (n, 3), triangles (m, 3)."""

    unit: np.ndarray
    coords: np.ndarray
    faces: np.ndarray

    @property
    def n_vertices(self) -> int:
        return int(self.unit.shape[0])


def _normalised(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@lru_cache(maxsize=1)
def _fsaverage5_all() -> dict:
    from nilearn import datasets

    fs = datasets.load_fsaverage("fsaverage5")
    out = {}
    for h in HEMIS:
        sphere = fs["sphere"].parts[_PART[h]]
        pial = fs["pial"].parts[_PART[h]]
        out[h] = Mesh(_normalised(np.asarray(sphere.coordinates, dtype=np.float64)),
                      np.asarray(pial.coordinates, dtype=np.float64),
                      np.asarray(sphere.faces, dtype=np.int64))
    return out


def fsaverage5_mesh(hemi: str) -> Mesh:
    """nilearn's fsaverage5 (10,242 vertices): unit sphere, pial, faces."""
    return _fsaverage5_all()[hemi]


def subdivide(mesh: Mesh) -> Mesh:
    """One midpoint subdivision: old vertices first, then one new vertex per edge (sorted edges)."""
    n = mesh.n_vertices
    f = mesh.faces
    pairs = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    pairs.sort(axis=1)
    keys, inverse = np.unique(pairs[:, 0] * n + pairs[:, 1], return_inverse=True)
    edges = np.stack([keys // n, keys % n], axis=1)
    mid = n + inverse.reshape(3, -1).T  # per face: (ab, bc, ca)
    unit = np.concatenate([mesh.unit, _normalised(mesh.unit[edges].mean(axis=1))])
    coords = np.concatenate([mesh.coords, mesh.coords[edges].mean(axis=1)])
    a, b, c = f.T
    ab, bc, ca = mid.T
    faces = np.concatenate([np.stack(t, axis=1) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))])
    return Mesh(unit, coords, faces)


@lru_cache(maxsize=2)
def fsaverage_mesh(hemi: str) -> Mesh:
    """fsaverage at full density (163,842 vertices): fsaverage5 subdivided twice (nested prefix)."""
    return subdivide(subdivide(fsaverage5_mesh(hemi)))


@dataclass(frozen=True)
class NativeSurface:
    """A synthetic subject's native hemisphere and its index maps to fsaverage (0-based here)."""

    mesh: Mesh
    #: (163842,) native vertex nearest to each fsaverage vertex
    white_to_fsaverage: np.ndarray
    #: (n_native,) fsaverage vertex nearest to each native vertex
    fsaverage_to_white: np.ndarray

    @property
    def n_vertices(self) -> int:
        return self.mesh.n_vertices


def _fibonacci_sphere(n: int) -> np.ndarray:
    i = np.arange(n, dtype=np.float64) + 0.5
    z = 1.0 - 2.0 * i / n
    r = np.sqrt(1.0 - z**2)
    phi = np.pi * (1.0 + np.sqrt(5.0)) * i
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def _outward_hull(points: np.ndarray) -> np.ndarray:
    from scipy.spatial import ConvexHull

    faces = ConvexHull(points).simplices.astype(np.int64)
    p0, p1, p2 = (points[faces[:, k]] for k in range(3))
    inward = np.einsum("ij,ij->i", np.cross(p1 - p0, p2 - p0), p0 + p1 + p2) < 0
    faces[inward] = faces[inward][:, [0, 2, 1]]
    return faces


@lru_cache(maxsize=2)
def _fsaverage_tree(hemi: str):
    from scipy.spatial import cKDTree

    return cKDTree(fsaverage_mesh(hemi).unit)


def native_surface(hemi: str, n_vertices: int, rng: np.random.Generator) -> NativeSurface:
    """A native hemisphere of ``n_vertices`` vertices with its nearest-neighbour maps to fsaverage."""
    from scipy.spatial import cKDTree
    from scipy.spatial.transform import Rotation

    rot = Rotation.random(random_state=rng).as_matrix()
    unit = _normalised(_fibonacci_sphere(n_vertices) @ rot.T)
    unit = unit[rng.permutation(n_vertices)]
    faces = _outward_hull(unit)
    fs = fsaverage_mesh(hemi)
    _, w2f = cKDTree(unit).query(fs.unit)
    _, f2w = _fsaverage_tree(hemi).query(unit)
    white = fs.coords[f2w] + SPHERE_RADIUS * 0.5 * (unit - fs.unit[f2w])
    return NativeSurface(Mesh(unit, white, faces), w2f.astype(np.int64), f2w.astype(np.int64))
