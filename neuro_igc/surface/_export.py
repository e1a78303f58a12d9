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

from ._mapping import HEMIS, density_name

__all__ = [
    "bids_name",
    "den_label",
    "write_mgz",
    "write_gifti",
    "write_annot",
    "label_colors",
    "freeview_command",
    "write_surface_maps",
    "SURFACE_FORMATS",
]

_BIDS_HEMI = {"lh": "L", "rh": "R"}
_GIFTI_STRUCTURE = {"lh": "CortexLeft", "rh": "CortexRight"}
SURFACE_FORMATS = {"mgz": "FreeSurfer .mgz overlay (freeview)", "gifti": "BIDS-named .func.gii"}


def den_label(n_vertices: int) -> str:
    """BIDS ``den`` label of a per-hemisphere vertex count: 163842 -> "164k", 10242 -> "10k"."""
    n = int(n_vertices)
    return f"{round(n / 1000)}k" if n >= 1000 else str(n)


def _label(name: str, value) -> str:
    value = str(value)
    if not re.fullmatch(r"[A-Za-z0-9]+", value):
        raise ValueError(
            f"Invalid value for {name!r}: BIDS labels are alphanumeric (no '-', '_', '.', spaces); "
            f"got {value!r}. Try {re.sub(r'[^A-Za-z0-9]', '', value) or 'x'!r}."
        )
    return value


def bids_name(
    desc: str,
    hemi: str,
    *,
    subject: str | int | None = None,
    space: str = "fsaverage",
    n_vertices: int = 163842,
    suffix: str = "stat",
    extension: str = ".func.gii",
) -> str:
    """BIDS-derivative file name of a surface map.

    Examples
    --------
    >>> bids_name("igc", "lh", subject=1, n_vertices=10242)
    'sub-01_hemi-L_space-fsaverage_den-10k_desc-igc_stat.func.gii'
    """
    check_option("hemi", hemi, HEMIS)
    parts = []
    if subject is not None:
        sub = f"{subject:02d}" if isinstance(subject, (int, np.integer)) else str(subject)
        parts.append(f"sub-{_label('subject', sub)}")
    parts += [
        f"hemi-{_BIDS_HEMI[hemi]}",
        f"space-{_label('space', space)}",
        f"den-{den_label(n_vertices)}",
        f"desc-{_label('desc', desc)}",
    ]
    return "_".join(parts) + f"_{_label('suffix', suffix)}{extension}"


def _frames(data) -> np.ndarray:
    arr = np.asarray(data)
    if arr.ndim not in (1, 2):
        raise ValueError(f"Invalid shape for 'data': expected (n_vertices,) or (n_maps, n_vertices); got {arr.shape}.")
    return np.asarray(arr.reshape(-1, arr.shape[-1]), dtype=np.float32)  # (n_maps, n_vertices)


def write_mgz(data, path: str | os.PathLike) -> Path:
    """Write (n_vertices,) or (n_maps, n_vertices) surface data as a float32 ``.mgz``/``.mgh``.

    The volume has shape (n_vertices, 1, 1[, n_maps]) like NSD's surface files; freeview shows
    each map as a frame of the overlay.
    """
    import nibabel as nib

    frames = _frames(data)
    vol = frames.T.reshape(frames.shape[1], 1, 1, frames.shape[0])
    if frames.shape[0] == 1:
        vol = vol[..., 0]
    with atomic_path(path) as tmp:
        nib.save(nib.MGHImage(vol, np.eye(4)), tmp)
    return Path(path)


def write_gifti(data, path: str | os.PathLike, *, hemi: str | None = None) -> Path:
    """Write (n_vertices,) or (n_maps, n_vertices) surface data as a ``.func.gii`` (one array per map)."""
    import nibabel as nib

    frames = _frames(data)
    meta = {}
    if hemi is not None:
        meta["AnatomicalStructurePrimary"] = _GIFTI_STRUCTURE[check_option("hemi", hemi, HEMIS)]
    img = nib.gifti.GiftiImage(meta=nib.gifti.GiftiMetaData(meta))
    for frame in frames:
        img.add_gifti_data_array(nib.gifti.GiftiDataArray(frame, intent="NIFTI_INTENT_NONE", datatype="NIFTI_TYPE_FLOAT32"))
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
) -> dict[str, Path]:
    """Write lh/rh maps in the chosen formats plus ``<name>.freeview.txt`` beside them.

    Parameters
    ----------
    maps : dict {"lh": (n_vertices,) or (n_maps, n_vertices), "rh": ...}
        Full hemispheres (see :func:`to_hemispheres`); NaN is kept in GIFTI and written as 0 in
        ``.mgz`` (freeview shows NaN as 0 anyway, and thresholds behave).
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

    Returns
    -------
    paths : dict
        ``"lh.mgz"``, ``"rh.gifti"``, ..., and ``"freeview"`` -> written paths.
    """
    formats = tuple(formats)
    for f in formats:
        check_option("formats", f, SURFACE_FORMATS)
    _label("name", name)
    if not maps or any(h not in HEMIS for h in maps):
        raise ValueError(f"'maps' must be a dict with keys among 'lh', 'rh'; got {sorted(maps)}.")
    out_dir = Path(out_dir)
    written: dict[str, Path] = {}
    overlays = {}
    template = "fsaverage"
    for h, data in maps.items():
        arr = np.asarray(data)
        template = density_name(arr.shape[-1]) or template
        if "mgz" in formats:
            p = write_mgz(np.nan_to_num(arr, nan=0.0), out_dir / f"{h}.{name}.mgz")
            written[f"{h}.mgz"] = p
            overlays[h] = p.name
        if "gifti" in formats:
            p = write_gifti(arr, out_dir / bids_name(name, h, subject=subject, n_vertices=arr.shape[-1]), hemi=h)
            written[f"{h}.gifti"] = p
            overlays.setdefault(h, p.name)
    cmd = freeview_command(overlays, annot=annot, template=template, threshold=threshold)
    text = f"# open the '{name}' maps in freeview; run from this folder ({out_dir.resolve()})\n{cmd}\n"
    written["freeview"] = atomic_write_text(out_dir / f"{name}.freeview.txt", text)
    return written
