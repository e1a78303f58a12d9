"""Surface maps as nilearn :class:`~nilearn.surface.SurfaceImage` objects (mesh + data per hemisphere).

nilearn (>= 0.11) plots, masks and decodes surface data held as a ``SurfaceImage``: a two-part
mesh (``left``/``right``) and the data of each part, vertices first. :func:`to_surface_image`
builds one from the package's feature vectors (with the :class:`~neuro_igc.data.SurfaceSpace` or
vertex table they came with), from full lh/rh arrays, or from the lh/rh map files a pipeline
wrote; :func:`from_surface_image` goes back.

Meshes: fsaverage5 comes from nilearn's wheel (works offline). Other fsaverage densities and
subjects' native surfaces are read from a FreeSurfer ``surf/`` folder (``surf_dir``, e.g. NSD's
``nsddata/freesurfer/fsaverage/surf`` or ``nsddata/freesurfer/subj01/surf``); without one, nilearn
downloads the template (network needed), or pass ``density="fsaverage5"`` to decimate the maps
exactly onto the bundled mesh (the templates are nested).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from neuro_igc._utils import check_option

from ._mapping import DENSITIES, HEMIS, density_name

__all__ = ["to_surface_image", "from_surface_image", "MESH_TYPES", "load_template_mesh"]

_PART = {"lh": "left", "rh": "right"}
#: nilearn mesh names -> FreeSurfer surface file names (``surf/<hemi>.<name>``)
MESH_TYPES = {"inflated": "inflated", "pial": "pial", "white_matter": "white", "sphere": "sphere"}
_OFFLINE = "fsaverage5"


def _surface_image_types():
    try:
        from nilearn.surface import InMemoryMesh, PolyMesh, SurfaceImage
    except ImportError as exc:  # nilearn < 0.11
        import nilearn

        raise ImportError(
            f"Surface images need nilearn >= 0.11 (SurfaceImage); nilearn {nilearn.__version__} is installed. "
            "Upgrade it: pip install 'nilearn>=0.11'."
        ) from exc
    return InMemoryMesh, PolyMesh, SurfaceImage


def _read_freesurfer_mesh(path: Path):
    import nibabel as nib

    from neuro_igc._read import file_error

    InMemoryMesh, _, _ = _surface_image_types()
    if not path.is_file():
        raise FileNotFoundError(
            f"No FreeSurfer surface at {path}: 'surf_dir' must be a FreeSurfer surf/ folder holding "
            f"lh.{path.name.split('.', 1)[-1]} and rh.{path.name.split('.', 1)[-1]} (e.g. NSD's "
            "nsddata/freesurfer/fsaverage/surf)."
        )
    try:
        coords, faces = nib.freesurfer.read_geometry(str(path))
    except Exception as exc:  # nibabel raises several types on a damaged file
        raise file_error(path, f"not a readable FreeSurfer surface ({exc})", "surface mesh") from exc
    return InMemoryMesh(np.asarray(coords, dtype=np.float64), np.asarray(faces, dtype=np.int64))


def load_template_mesh(density: str = "fsaverage5", mesh: str = "inflated", *, surf_dir=None):
    """The two-hemisphere nilearn ``PolyMesh`` of a template (or, with ``surf_dir``, of any subject).

    Parameters
    ----------
    density : str, default "fsaverage5"
        fsaverage template name; fsaverage5 is bundled with nilearn. Ignored with ``surf_dir``
        (the files say what they are).
    mesh : {"inflated", "pial", "white_matter", "sphere"}, default "inflated"
    surf_dir : path, optional
        FreeSurfer ``surf/`` folder to read ``lh.<mesh>``/``rh.<mesh>`` from (``white`` for
        ``"white_matter"``).
    """
    check_option("mesh", mesh, MESH_TYPES)
    _, PolyMesh, _ = _surface_image_types()
    if surf_dir is not None:
        surf_dir = Path(surf_dir)
        return PolyMesh(**{_PART[h]: _read_freesurfer_mesh(surf_dir / f"{h}.{MESH_TYPES[mesh]}") for h in HEMIS})
    check_option("density", density, DENSITIES)
    from nilearn import datasets

    if density == _OFFLINE:
        return datasets.load_fsaverage(_OFFLINE)[mesh]
    try:
        return datasets.load_fsaverage(density)[mesh]
    except Exception as exc:  # nilearn raises network errors of several kinds
        raise RuntimeError(
            f"Could not load the {density} mesh: nilearn bundles only fsaverage5 and downloads the others "
            f"({type(exc).__name__}: {exc}). Pass surf_dir= a FreeSurfer surf/ folder of {density} (NSD has "
            "nsddata/freesurfer/fsaverage/surf), or density='fsaverage5' to decimate the maps exactly onto the "
            "bundled mesh."
        ) from exc


def _read_map_file(path: Path) -> np.ndarray:
    """(n_maps, n_vertices) from a .func.gii / .gii, or an .mgz/.mgh overlay of shape (V, 1, 1[, n])."""
    from neuro_igc._read import file_error, load_image

    img = load_image(path, "surface map")
    darrays = getattr(img, "darrays", None)
    if darrays is not None:
        if not darrays:
            raise file_error(path, "a GIFTI file without data arrays", "surface map")
        return np.stack([np.asarray(d.data).reshape(-1) for d in darrays])
    data = np.asarray(img.dataobj)
    if data.ndim < 1 or any(s != 1 for s in data.shape[1:3]):
        raise file_error(path, f"shape {data.shape} is not a surface overlay (n_vertices, 1, 1[, n_maps])",
                         "surface map")
    return data.reshape(data.shape[0], -1).T


def _vertex_table(path) -> tuple:
    """(hemi, vertex, density) from a vertex table (TSV with ``hemi``/``vertex`` and a JSON sidecar
    holding ``Density``, as the pipelines write) or a DataFrame (density in ``attrs``)."""
    import pandas as pd

    if isinstance(path, pd.DataFrame):
        table, density = path, path.attrs.get("density")
        where = "the vertex table"
    else:
        from neuro_igc._read import file_error

        path = Path(path)
        where = str(path)
        try:
            table = pd.read_csv(path, sep="\t")
        except (OSError, ValueError) as exc:
            raise file_error(path, f"not a readable vertex table ({exc})", "vertex table") from exc
        sidecar = path.with_suffix(".json")
        density = json.loads(sidecar.read_text()).get("Density") if sidecar.is_file() else None
    missing = [c for c in ("hemi", "vertex") if c not in table.columns]
    if missing:
        raise ValueError(f"{where} lacks the column(s) {missing}: a vertex table has 'hemi' and 'vertex' columns.")
    return table["hemi"].to_numpy().astype(str), table["vertex"].to_numpy(), density


def _feature_space(space, density):
    """A SurfaceSpace from what users hold: a SurfaceSpace, an object with ``feature_space``
    (Betas, ROILabels), a vertex table (path or DataFrame)."""
    from neuro_igc.data import SurfaceSpace

    space = getattr(space, "feature_space", space)
    if isinstance(space, SurfaceSpace):
        return space
    if getattr(space, "kind", None) == "volume":
        raise ValueError("Invalid value for 'space': a volume space has no surface; use space.to_volume(values) "
                         "for a NIfTI image.")
    hemi, vertex, table_density = _vertex_table(space)
    density = table_density or density
    if density is None:
        raise ValueError("The vertex table does not say its density (no 'Density' in its sidecar); pass density=.")
    return SurfaceSpace(density, hemi, vertex)


def _hemisphere_arrays(values, space, density, fill) -> tuple[dict, object]:
    """Full lh/rh arrays (n_maps, V) or (V,) and the SurfaceSpace (all vertices) they live on."""
    from ._export import surface_space_of

    if isinstance(values, dict):
        if sorted(values) != sorted(HEMIS):
            raise ValueError(f"'maps' as a dict needs the keys 'lh' and 'rh'; got {sorted(values)}.")
        maps = {}
        for h in HEMIS:
            v = values[h]
            if isinstance(v, (str, os.PathLike)):
                arr = _read_map_file(Path(v))
                v = arr[0] if arr.shape[0] == 1 else arr
            maps[h] = np.asarray(v)
        if maps["lh"].shape[:-1] != maps["rh"].shape[:-1]:
            raise ValueError(f"lh and rh hold different numbers of maps: {maps['lh'].shape} and {maps['rh'].shape}.")
        full_space = space if getattr(space, "is_native", False) else None
        return maps, surface_space_of(maps, full_space)
    if space is None:
        raise ValueError("Missing 'space': feature vectors need the SurfaceSpace (or vertex table) they came with; "
                         "or give full hemispheres as {'lh': ..., 'rh': ...}.")
    sp = _feature_space(space, density)
    maps = sp.to_hemispheres(np.asarray(values), fill=fill)
    from neuro_igc.data import SurfaceSpace

    return maps, SurfaceSpace.full(sp.density, subject=sp.subject, n_vertices=sp.n_vertices)


def to_surface_image(
    maps,
    space=None,
    *,
    density: str | None = None,
    mesh="inflated",
    surf_dir=None,
    fill: float = np.nan,
):
    """Surface maps as a nilearn ``SurfaceImage`` on the mesh they belong to, in one call.

    Parameters
    ----------
    maps : array-like, dict or SurfaceImage
        - ``(n_features,)`` or ``(n_maps, n_features)`` feature values, with ``space``;
        - ``{"lh": (..., V), "rh": (..., V)}`` full hemispheres (what :func:`to_hemispheres` returns);
        - ``{"lh": path, "rh": path}``: the lh/rh ``.func.gii`` or ``.mgz`` files of one map
          (e.g. those a pipeline wrote).
    space : SurfaceSpace, vertex table or object with ``feature_space``, optional
        Where the features live: a :class:`~neuro_igc.data.SurfaceSpace`, ``Betas``/``ROILabels``,
        the path of a pipeline's ``_vertices.tsv`` (density read from its sidecar) or a DataFrame
        with ``hemi``/``vertex`` columns (and ``density``). Needed for feature values, and for
        full hemispheres of a native surface.
    density : str, optional
        Coarser fsaverage template to decimate to (exact: the templates are nested), e.g.
        ``"fsaverage5"`` to use nilearn's bundled mesh offline. For a vertex table without a
        sidecar it names the table's density.
    mesh : {"inflated", "pial", "white_matter", "sphere"} or nilearn PolyMesh, default "inflated"
    surf_dir : path, optional
        FreeSurfer ``surf/`` folder of the template or subject, for meshes nilearn does not bundle
        (every density but fsaverage5, native surfaces).
    fill : float, default NaN
        Value of the vertices outside the features (NaN: nilearn's plots leave them uncoloured).

    Returns
    -------
    nilearn.surface.SurfaceImage
        Data per part ``(n_vertices,)`` for one map, ``(n_vertices, n_maps)`` for several
        (nilearn's layout: vertices first).

    Examples
    --------
    >>> from neuro_igc.data import SurfaceSpace
    >>> space = SurfaceSpace("fsaverage5", ["lh", "rh"], [0, 7])
    >>> img = to_surface_image([1.0, 2.0], space)
    >>> img.shape, float(img.data.parts["right"][7])
    ((20484,), 2.0)
    """
    _, PolyMesh, SurfaceImage = _surface_image_types()
    if isinstance(maps, SurfaceImage):
        maps = from_surface_image(maps)
    full, sp = _hemisphere_arrays(maps, space, density, fill)
    dens = sp.density
    if density is not None and density != dens:
        check_option("density", density, DENSITIES)
        if sp.is_native:
            raise ValueError("Invalid value for 'density': native-surface maps cannot be decimated to a template; "
                             "map them to fsaverage first (NSD(root).to_fsaverage).")
        if DENSITIES[density] > DENSITIES[dens]:
            raise ValueError(f"Invalid value for 'density': cannot decimate {dens} maps to the denser {density}; "
                             "use neuro_igc.surface.upsample.")
        from ._decimate import decimate

        full, dens = decimate(full, density), density
    if isinstance(mesh, str):
        if sp.is_native and surf_dir is None:
            raise ValueError(
                f"Native-surface maps (subject {sp.subject}) need the subject's mesh: pass "
                f"surf_dir='<NSD>/nsddata/freesurfer/subj{sp.subject:02d}/surf' (mesh='white_matter' reads ?h.white)."
            )
        poly = load_template_mesh(dens, mesh, surf_dir=surf_dir)
    elif isinstance(mesh, PolyMesh):
        poly = mesh
    else:
        raise ValueError(f"Invalid value for 'mesh': one of {', '.join(MESH_TYPES)} or a nilearn PolyMesh; got {mesh!r}.")
    for h in HEMIS:
        part = poly.parts.get(_PART[h])
        n = np.asarray(full[h]).shape[-1]
        if part is None or part.n_vertices != n:
            got = "none" if part is None else part.n_vertices
            raise ValueError(
                f"The {_PART[h]} mesh has {got} vertices but the {h} maps have {n}: give the mesh of the maps' "
                f"surface ({density_name(n) or 'a native surface'})."
            )
    data = {_PART[h]: np.ascontiguousarray(np.asarray(full[h]).T) for h in HEMIS}
    return SurfaceImage(mesh=poly, data=data)


def from_surface_image(img, space=None):
    """The maps of a ``SurfaceImage`` as ``{"lh": (..., V), "rh": (..., V)}`` (maps first, as
    :func:`to_hemispheres` returns them), or, with a ``space``, as feature values
    ``(..., n_features)`` gathered at that space's vertices."""
    _, _, SurfaceImage = _surface_image_types()
    if not isinstance(img, SurfaceImage):
        raise ValueError(f"Invalid value for 'img': expected a nilearn SurfaceImage; got {type(img).__name__}.")
    missing = [p for p in _PART.values() if p not in img.data.parts]
    if missing:
        raise ValueError(f"The SurfaceImage lacks the part(s) {missing}; both hemispheres are needed.")
    maps = {h: np.asarray(img.data.parts[_PART[h]]).T for h in HEMIS}
    if space is None:
        return maps
    return _feature_space(space, None).from_hemispheres(maps)
