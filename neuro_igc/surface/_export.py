"""Writing surface maps for viewers: .mgz overlays, BIDS-named .func.gii, .annot, freeview commands.

Every file is written atomically (temporary name in the same folder, then renamed).
"""

from __future__ import annotations

import colorsys
import os
import re
from pathlib import Path

import numpy as np

from neuro_igc._utils import atomic_path, atomic_write_text, check_option

from neuro_igc._utils import den_label

from ._mapping import DENSITIES, HEMIS, density_name

__all__ = [
    "bids_name",
    "den_label",
    "surface_space_of",
    "ENTITY_ORDER",
    "write_mgz",
    "write_gifti",
    "write_annot",
    "label_colors",
    "write_gifti_labels",
    "freeview_command",
    "write_surface_maps",
    "SURFACE_FORMATS",
]

_GIFTI_STRUCTURE = {"lh": "CortexLeft", "rh": "CortexRight"}
SURFACE_FORMATS = {"mgz": "FreeSurfer .mgz overlay (freeview)", "gifti": "BIDS-named .func.gii"}
#: BIDS entities in the specification's order (those the package writes)
ENTITY_ORDER = ("sub", "hemi", "space", "atlas", "seg", "res", "den", "label", "stat", "desc")


def _label(name: str, value) -> str:
    value = str(value)
    if not re.fullmatch(r"[A-Za-z0-9]+", value):
        raise ValueError(
            f"Invalid value for {name!r}: BIDS labels are alphanumeric (no '-', '_', '.', spaces); "
            f"got {value!r}. Try {re.sub(r'[^A-Za-z0-9]', '', value) or 'x'!r}."
        )
    return value


def bids_name(suffix: str, ext: str, *, space=None, hemi: str | None = None, **entities) -> str:
    """BIDS file name: entities in the specification's order, then ``_<suffix><ext>``.

    Parameters
    ----------
    suffix : str
        e.g. ``"stat"``, ``"roisums"``.
    ext : str
        Extension with its dot, e.g. ``".func.gii"``, ``".tsv"``.
    space : SurfaceSpace, VolumeSpace or str, optional
        A space object fills ``space``/``den`` (fsaverage: ``den-164k``/``den-10k``; native
        surfaces: ``space-fsnative``); a string is the ``space`` label.
    hemi : {"lh", "rh", "L", "R"}, optional
    **entities
        ``sub``, ``atlas``, ``seg``, ``res``, ``den``, ``label``, ``stat`` (the statistic of a
        ``statmap``, as the BIDS statistical-model derivatives proposal names it), ``desc`` (letters
        and digits); an int ``sub`` is zero-padded.

    Examples
    --------
    >>> bids_name("stat", ".func.gii", sub=1, hemi="lh", space="fsaverage", den="10k", desc="igc")
    'sub-01_hemi-L_space-fsaverage_den-10k_desc-igc_stat.func.gii'
    >>> from neuro_igc.data import SurfaceSpace
    >>> bids_name("stat", ".func.gii", space=SurfaceSpace.full("fsaverage"), hemi="rh", desc="x")
    'hemi-R_space-fsaverage_den-164k_desc-x_stat.func.gii'
    """
    if not isinstance(ext, str) or not ext.startswith("."):
        raise ValueError(f"Invalid value for 'ext': a file extension starting with '.', e.g. '.func.gii'; got {ext!r}.")
    unknown = set(entities) - set(ENTITY_ORDER)
    if unknown:
        raise ValueError(f"Invalid BIDS entity {sorted(unknown)[0]!r}: allowed are {', '.join(ENTITY_ORDER)}.")
    if hemi is not None:
        h = {"lh": "L", "rh": "R", "L": "L", "R": "R"}.get(hemi)
        if h is None:
            raise ValueError(f"Invalid value for 'hemi': allowed are 'lh', 'rh', 'L', 'R'; got {hemi!r}.")
        entities["hemi"] = h
    if space is not None and not isinstance(space, str):
        kind = getattr(space, "kind", None)
        if kind == "surface":
            if hemi is None:
                raise ValueError("Invalid value for 'hemi': a surface space's file names need 'lh' or 'rh'.")
            got = space.bids_entities({"L": "lh", "R": "rh"}[entities["hemi"]])
        elif kind == "volume":
            got = space.bids_entities()
        else:
            raise ValueError(f"Invalid value for 'space': a SurfaceSpace, VolumeSpace or BIDS label; got {space!r}.")
        entities = {**entities, **got}
    elif space is not None:
        entities["space"] = space
    if "sub" in entities and isinstance(entities["sub"], (int, np.integer)):
        entities["sub"] = f"{int(entities['sub']):02d}"
    parts = []
    for key in ENTITY_ORDER:
        value = entities.get(key)
        if value is None:
            continue
        value = str(value)
        if not re.fullmatch(r"[A-Za-z0-9]+", value):
            raise ValueError(f"Invalid value for BIDS entity {key!r}: letters and digits only; got {value!r}.")
        parts.append(f"{key}-{value}")
    return "_".join(parts + [_label("suffix", suffix)]) + ext


def surface_space_of(maps: dict, space=None):
    """The SurfaceSpace (all vertices) that full-hemisphere ``maps`` live on; a ValueError when the
    hemispheres differ in vertex count or the count is no fsaverage density (and no native
    ``space`` says what it is)."""
    from neuro_igc.data import SurfaceSpace

    sizes = {h: np.asarray(v).shape[-1] for h, v in maps.items()}
    if space is not None:
        if getattr(space, "kind", None) != "surface":
            raise ValueError(f"Invalid value for 'space': expected a SurfaceSpace; got {type(space).__name__}.")
        for h, n in sizes.items():
            if n != space.n_vertices[h]:
                raise ValueError(f"maps[{h!r}] has {n} vertices but the space has {space.n_vertices[h]} in {h}.")
        return SurfaceSpace.full(space.density, subject=space.subject, n_vertices=space.n_vertices)
    if len(set(sizes.values())) > 1:
        raise ValueError(
            f"Hemispheres of different vertex counts ({', '.join(f'{h}: {n}' for h, n in sizes.items())}): "
            "fsaverage hemispheres have the same count; for a subject's native surface pass "
            "space=SurfaceSpace.full('native', subject=..., n_vertices={'lh': ..., 'rh': ...})."
        )
    n = next(iter(sizes.values()))
    name = density_name(n)
    if name is None:
        raise ValueError(
            f"{n} vertices per hemisphere is no fsaverage density ({', '.join(f'{k}: {v}' for k, v in DENSITIES.items())}); "
            "for a subject's native surface pass space=SurfaceSpace.full('native', subject=..., n_vertices=...)."
        )
    return SurfaceSpace.full(name)


def _frames(data) -> np.ndarray:
    arr = np.asarray(data)
    if arr.ndim not in (1, 2):
        raise ValueError(f"Invalid shape for 'data': expected (n_vertices,) or (n_maps, n_vertices); got {arr.shape}.")
    return np.asarray(arr.reshape(-1, arr.shape[-1]), dtype=np.float32)  # (n_maps, n_vertices)


def write_mgz(data, path: str | os.PathLike) -> Path:
    """Write (n_vertices,) or (n_maps, n_vertices) surface data as a float32 ``.mgz``/``.mgh``.

    The volume has shape (n_vertices, 1, 1[, n_maps]) like NSD's surface files; freeview shows
    each map as a frame of the overlay. Same argument order and layout as
    ``neuro_igc.data.write_mgh``, which writes it.
    """
    from neuro_igc.data import write_mgh

    return write_mgh(_frames(data), path)


def write_gifti(data, path: str | os.PathLike, *, hemi: str | None = None, names=None,
                intent: str = "NIFTI_INTENT_ESTIMATE") -> Path:
    """Write (n_vertices,) or (n_maps, n_vertices) surface data as a ``.func.gii`` (one array per map).

    Parameters
    ----------
    names : str or list of str, optional
        Map names (GIFTI ``Name`` metadata, what Connectome Workbench and freeview show);
        default: the file name without extension, numbered when there are several maps.
    intent : str, default "NIFTI_INTENT_ESTIMATE"
        NIfTI intent of every data array (nibabel's names, e.g. ``"NIFTI_INTENT_NONE"``,
        ``"NIFTI_INTENT_CORREL"``); attribution maps and fitted parameters are estimates.
    """
    import nibabel as nib

    frames = _frames(data)
    if names is None:
        stem = Path(path).name.split(".")[0]
        names = [stem] if len(frames) == 1 else [f"{stem}_{i + 1}" for i in range(len(frames))]
    names = [names] if isinstance(names, str) else [str(n) for n in names]
    if len(names) != len(frames):
        raise ValueError(f"Invalid value for 'names': {len(names)} names for {len(frames)} maps.")
    if intent not in nib.nifti1.intent_codes:
        raise ValueError(f"Invalid value for 'intent': a NIfTI intent name such as 'NIFTI_INTENT_ESTIMATE'; got {intent!r}.")
    meta = {}
    if hemi is not None:
        meta["AnatomicalStructurePrimary"] = _GIFTI_STRUCTURE[check_option("hemi", hemi, HEMIS)]
    img = nib.gifti.GiftiImage(meta=nib.gifti.GiftiMetaData(meta))
    for frame, name in zip(frames, names):
        img.add_gifti_data_array(nib.gifti.GiftiDataArray(
            frame, intent=intent, datatype="NIFTI_TYPE_FLOAT32", meta=nib.gifti.GiftiMetaData({"Name": name})))
    with atomic_path(path) as tmp:
        nib.save(img, tmp)
    return Path(path)


def write_gifti_labels(labels, table: dict[int, str], path: str | os.PathLike, *, hemi: str | None = None,
                       colors: dict[int, tuple[int, int, int]] | None = None) -> Path:
    """Write integer labels per vertex as a GIFTI ``.label.gii`` (intent NIFTI_INTENT_LABEL, with
    its label table): the BIDS ``dseg`` of a surface.

    Parameters
    ----------
    labels : (n_vertices,) int array
    table : dict {id: name}
        Every id used in ``labels``.
    colors : dict {id: (r, g, b)}, optional
        Default: :func:`label_colors` (id 0 dark grey).
    """
    import nibabel as nib

    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"'labels' must be a 1-D integer array (one label per vertex); got {labels.shape} {labels.dtype}.")
    missing = sorted(set(np.unique(labels).tolist()) - {int(k) for k in table})
    if missing:
        raise ValueError(f"Invalid value for 'table': labels {missing[:5]} have no name; give every label used.")
    ids = sorted(int(k) for k in table)
    auto = label_colors(len(ids))
    lt = nib.gifti.GiftiLabelTable()
    for i, k in enumerate(ids):
        rgb = np.asarray((colors or {}).get(k, (40, 40, 40) if k == 0 else auto[i]), dtype=float) / 255.0
        lab = nib.gifti.GiftiLabel(key=k, red=rgb[0], green=rgb[1], blue=rgb[2], alpha=1.0)
        lab.label = str(table[k])
        lt.labels.append(lab)
    meta = {}
    if hemi is not None:
        meta["AnatomicalStructurePrimary"] = _GIFTI_STRUCTURE[check_option("hemi", hemi, HEMIS)]
    img = nib.gifti.GiftiImage(meta=nib.gifti.GiftiMetaData(meta), labeltable=lt)
    img.add_gifti_data_array(nib.gifti.GiftiDataArray(labels.astype(np.int32), intent="NIFTI_INTENT_LABEL",
                                                      datatype="NIFTI_TYPE_INT32"))
    with atomic_path(path) as tmp:
        nib.save(img, tmp)
    return Path(path)


def label_colors(n: int, seed: int = 0) -> np.ndarray:
    """``n`` distinct RGB colours (uint8, (n, 3)), golden-ratio hues; deterministic."""
    hues = (seed * 0.1 + np.arange(n) * 0.618033988749895) % 1.0
    rgb = [colorsys.hsv_to_rgb(h, 0.75 if i % 2 else 0.95, 0.95 if i % 3 else 0.8) for i, h in enumerate(hues)]
    return np.round(np.asarray(rgb).reshape(-1, 3) * 255).astype(np.uint8)


def write_annot(
    labels,
    table: dict[int, str],
    path: str | os.PathLike,
    *,
    colors: dict[int, tuple[int, int, int]] | None = None,
) -> Path:
    """Write a FreeSurfer ``.annot`` for one hemisphere.

    Parameters
    ----------
    labels : (n_vertices,) int array
        ROI id per vertex; 0 (or any id missing from ``table``) is "unknown".
    table : dict {id: name}
        ROI names (id 0 is reserved for "unknown").
    colors : dict {id: (r, g, b)}, optional
        Default: :func:`label_colors`.
    """
    import nibabel as nib

    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"'labels' must be a 1-D integer array (one ROI id per vertex); got {labels.shape} {labels.dtype}.")
    ids = [0] + sorted(int(k) for k in table if int(k) != 0)
    names = ["unknown"] + [str(table[k]) for k in ids[1:]]
    for k, c in (colors or {}).items():
        c = np.asarray(c)
        if c.shape != (3,) or not np.issubdtype(c.dtype, np.number) or (c < 0).any() or (c > 255).any():
            raise ValueError(f"Invalid value for 'colors[{k!r}]': an (r, g, b) triple of 0..255; got {c.tolist()!r}.")
    auto = label_colors(len(ids))
    rgb = np.array([(colors or {}).get(k, auto[i]) if k else (25, 5, 25) for i, k in enumerate(ids)], dtype=np.int32)
    ctab = np.column_stack([rgb, np.zeros(len(ids), dtype=np.int32)])
    row = {k: i for i, k in enumerate(ids)}
    index = np.array([row.get(int(v), 0) for v in range(int(labels.max(initial=0)) + 1)])
    rows = np.where(labels >= 0, index[np.clip(labels, 0, None)], 0)
    with atomic_path(path) as tmp:
        nib.freesurfer.write_annot(str(tmp), rows.astype(np.int32), ctab, names, fill_ctab=True)
    return Path(path)


def freeview_command(
    overlays: dict[str, str | os.PathLike],
    *,
    annot: dict[str, str | os.PathLike] | None = None,
    template: str = "fsaverage",
    surface: str = "inflated",
    threshold: tuple[float, float] | None = None,
    subjects_dir: str = "$SUBJECTS_DIR",
) -> str:
    """freeview command line that opens overlays (and ROI outlines) on a template's surfaces.

    Examples
    --------
    >>> freeview_command({"lh": "lh.igc.mgz"}, threshold=(0.001, 0.01))
    'freeview -f $SUBJECTS_DIR/fsaverage/surf/lh.inflated:overlay=lh.igc.mgz:overlay_threshold=0.001,0.01 -viewport 3d'
    """
    parts = ["freeview"]
    for h in HEMIS:
        if h not in overlays and not (annot and h in annot):
            continue
        spec = f"{subjects_dir}/{template}/surf/{h}.{surface}"
        if h in overlays:
            spec += f":overlay={os.fspath(overlays[h])}"
            if threshold is not None:
                spec += f":overlay_threshold={threshold[0]:g},{threshold[1]:g}"
        if annot and h in annot:
            spec += f":annot={os.fspath(annot[h])}:annot_outline=1"
        parts += ["-f", spec]
    return " ".join(parts + ["-viewport", "3d"])


def write_surface_maps(
    maps: dict[str, np.ndarray],
    out_dir: str | os.PathLike,
    name: str,
    *,
    formats=("mgz", "gifti"),
    subject: str | int | None = None,
    annot: dict[str, str | os.PathLike] | None = None,
    threshold: tuple[float, float] | None = None,
    space=None,
    map_names=None,
    fill: float = 0.0,
) -> dict[str, Path]:
    """Write lh/rh maps in the chosen formats plus ``<name>.freeview.txt`` beside them.

    Parameters
    ----------
    maps : dict {"lh": (n_vertices,) or (n_maps, n_vertices), "rh": ...}, or nilearn SurfaceImage
        Full hemispheres (see :func:`to_hemispheres`, :func:`to_surface_image`). NaN (a vertex
        without a value) is written as ``fill`` in every format.
    out_dir : path
    name : str
        Alphanumeric map name: ``lh.<name>.mgz`` and ``..._desc-<name>_stat.func.gii``.
    formats : iterable of {"mgz", "gifti"}, default both
    subject : str or int, optional
        ``sub-`` entity of the GIFTI names.
    annot : dict {"lh": path, "rh": path}, optional
        ``.annot`` files to outline in the freeview command.
    threshold : (low, high), optional
        freeview ``overlay_threshold``.
    space : SurfaceSpace, optional
        The surface the maps live on; needed for a native surface (``space-fsnative``). Without
        it the maps must be whole fsaverage hemispheres of equal vertex count.
    map_names : list of str, optional
        GIFTI map names (default: ``name``, numbered when there are several maps).
    fill : float, default 0.0
        The value of vertices without a value (NaN in ``maps``), the same in GIFTI and ``.mgz`` so
        that both files hold the same numbers (0: Workbench and freeview sums and thresholds
        behave; NaN keeps "no value" apart from a true zero).

    Returns
    -------
    paths : dict
        ``"lh.mgz"``, ``"rh.gifti"``, ..., and ``"freeview"`` -> written paths.
    """
    formats = tuple(formats)
    for f in formats:
        check_option("formats", f, SURFACE_FORMATS)
    _label("name", name)
    if not isinstance(maps, dict):
        from ._nilearn import from_surface_image

        maps = from_surface_image(maps)
    if not maps or any(h not in HEMIS for h in maps):
        raise ValueError(f"'maps' must be a dict with keys among 'lh', 'rh'; got {sorted(maps)}.")
    out_dir = Path(out_dir)
    written: dict[str, Path] = {}
    overlays = {}
    full = surface_space_of(maps, space)
    template = f"subj{full.subject:02d}" if full.is_native else full.density
    for h, data in maps.items():
        arr = np.asarray(data, dtype=np.float64)
        arr = np.where(np.isnan(arr), fill, arr)
        n_maps = 1 if arr.ndim == 1 else arr.shape[0]
        names = map_names or ([name] if n_maps == 1 else [f"{name}_{i + 1}" for i in range(n_maps)])
        if "mgz" in formats:
            p = write_mgz(arr, out_dir / f"{h}.{name}.mgz")
            written[f"{h}.mgz"] = p
            overlays[h] = p.name
        if "gifti" in formats:
            p = write_gifti(arr, out_dir / bids_name("stat", ".func.gii", sub=subject, space=full, hemi=h, desc=name),
                            hemi=h, names=names)
            written[f"{h}.gifti"] = p
            overlays.setdefault(h, p.name)
    cmd = freeview_command(overlays, annot=annot, template=template, threshold=threshold)
    text = f"# open the '{name}' maps in freeview; run from this folder ({out_dir.resolve()})\n{cmd}\n"
    written["freeview"] = atomic_write_text(out_dir / f"{name}.freeview.txt", text)
    return written
