"""The :class:`Atlas`: integer ROI labels (per hemisphere vertex, or per voxel) and a lookup table."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from neuro_igc._read import check_file, file_error, image_data, load_image, read_annot
from neuro_igc._utils import check_option
from neuro_igc.data import feature_space_of
from neuro_igc.surface import HEMIS, decimate, density_name, write_annot

from ._tables import NSD_TABLES, LookupTable, nsd_table, read_ctab

__all__ = ["Atlas"]

logger = logging.getLogger(__name__)

_UNKNOWN = {"unknown", "???", "medial_wall_unknown"}


def _int_labels(data, what: str) -> np.ndarray:
    arr = np.asarray(data)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.round(arr)):
            raise ValueError(f"{what} holds non-integer values; an ROI label file has one integer per vertex/voxel.")
    arr = arr.astype(np.int64)
    arr[arr < 0] = 0  # NSD volumes: -1 = outside the brain
    return arr


def _need(path) -> Path:
    return check_file(path, "atlas file")


def _check_pair(sizes: dict, paths: dict) -> None:
    """The two hemispheres' label files hold one value per vertex of the same template."""
    if sizes["lh"] != sizes["rh"]:
        def said(h):
            name = density_name(sizes[h]) if sizes[h] else None
            return f"{paths[h]} ({h}) has {sizes[h]} vertices" + (f" ({name})" if name else "")
        raise ValueError(
            f"The hemispheres' label files do not match: {said('lh')}, {said('rh')}; give the lh and rh files "
            "of the same atlas on the same surface."
        )


def _check_table(labels: dict, table, paths: dict, atlas: str) -> None:
    """Every ROI value (> 0) of each file has a name in the lookup table (a value missing from it
    is a damaged or mismatched file, not a new ROI)."""
    from neuro_igc._utils import check_labels_in_table

    table = table if isinstance(table, LookupTable) else LookupTable(table, name=atlas)
    for h, values in labels.items():
        check_labels_in_table(np.asarray(values), table, f"{paths[h]} ({h})")


class Atlas:
    """ROI labels with their lookup table, on a surface (lh/rh) or in a volume.

    Parameters
    ----------
    labels : dict {"lh": (n_vertices,) int, "rh": (n_vertices,) int} or (X, Y, Z) int array
        ROI id per vertex (surface) or voxel (volume); 0 = no ROI (negative values become 0).
    table : dict {int: str}
        ROI names; ids in ``labels`` missing from the table are named ``"roi<id>"``.
    name : str, default "atlas"
    affine : (4, 4) array, optional
        Volume atlases: voxel-to-world affine.
    colors : dict {int: (r, g, b)}, optional

    Attributes
    ----------
    kind : {"surface", "volume"}
    n_vertices : int or None
        Vertices per hemisphere (surface atlases).

    Examples
    --------
    >>> atlas = Atlas({"lh": np.array([0, 1, 2, 2]), "rh": np.array([1, 0, 0, 2])}, {1: "V1v", 2: "V1d"})
    >>> atlas.merge({"V1": ["V1v", "V1d"]}).roi_names
    ['V1']
    >>> from neuro_igc.data import SurfaceSpace
    >>> space = SurfaceSpace("native", ["lh", "rh"], [2, 0], subject=1, n_vertices=4)
    >>> atlas.labels_for(space).tolist()
    [2, 1]
    """

    def __init__(self, labels, table: dict[int, str], *, name: str = "atlas", affine=None, colors=None):
        self.name = str(name)
        if not hasattr(table, "items"):
            raise TypeError(f"Invalid type for 'table': expected a mapping {{index: ROI name}}; got {type(table).__name__}.")
        if isinstance(labels, dict):
            if not labels or any(h not in HEMIS for h in labels):
                raise ValueError(f"Surface 'labels' must be a dict with keys 'lh' and/or 'rh'; got {sorted(labels)}.")
            self.labels = {h: _int_labels(v, f"labels[{h!r}]") for h, v in labels.items()}
            sizes = {v.shape for v in self.labels.values()}
            if len(sizes) != 1 or len(next(iter(sizes))) != 1:
                raise ValueError(f"Surface labels must be 1-D and of equal length in both hemispheres; got {sorted(sizes)}.")
            self.kind = "surface"
            self.n_vertices = int(next(iter(sizes))[0])
            self.affine = None
        else:
            arr = _int_labels(labels, "'labels'")
            if arr.ndim != 3:
                raise ValueError(f"Volume 'labels' must be a 3-D array; got shape {arr.shape}.")
            self.labels = arr
            self.kind = "volume"
            self.n_vertices = None
            self.affine = None if affine is None else np.asarray(affine, dtype=float)
        present = set(np.unique(np.concatenate([np.unique(v) for v in self._arrays()])).tolist()) - {0}
        names = {int(k): str(v) for k, v in table.items() if int(k) != 0}
        for k in sorted(present - set(names)):
            names[k] = f"roi{k}"
        colors = {**getattr(table, "colors", {}), **dict(colors or {})}
        #: the lookup table (one :class:`~neuro_igc.data.LookupTable`, colours included)
        self.table = LookupTable(names, colors, name=self.name)
        self.colors = self.table.colors
        #: where the labels came from (files read, transforms applied), when known
        self.source = ""

    # ------------------------------------------------------------------ basics
    def _arrays(self):
        return list(self.labels.values()) if self.kind == "surface" else [self.labels]

    def __repr__(self) -> str:
        where = f"{self.n_vertices} vertices/hemisphere" if self.kind == "surface" else f"volume {self.labels.shape}"
        return f"Atlas({self.name!r}, {len(self.table)} ROIs, {where})"

    @property
    def roi_names(self) -> list[str]:
        """ROI names in id order (id 0 excluded)."""
        return [self.table[k] for k in sorted(self.table)]

    @property
    def density(self) -> str | None:
        """fsaverage template name of a surface atlas (None for other vertex counts and volumes)."""
        return density_name(self.n_vertices) if self.kind == "surface" else None

    def ids(self, names) -> list[int]:
        """ROI ids of names; a ValueError lists the known names when one is unknown."""
        names = [names] if isinstance(names, str) else list(names)
        lookup = {v: k for k, v in self.table.items()}
        unknown = [n for n in names if n not in lookup]
        if unknown:
            raise ValueError(
                f"Unknown ROI name(s) {unknown} in atlas {self.name!r}; known ROIs are: {', '.join(self.roi_names)}."
            )
        return [lookup[n] for n in names]

    # ------------------------------------------------------------------ alignment with features
    def labels_for(self, space) -> np.ndarray:
        """ROI id of each feature of ``space``, aligned with it.

        Parameters
        ----------
        space : SurfaceSpace or VolumeSpace
            Where the features live (e.g. ``betas.feature_space``): a surface space at the atlas's
            density for a surface atlas, a volume space for a volume atlas.

        Returns
        -------
        labels : (n_features,) int64
        """
        space = feature_space_of(space)
        if self.kind == "volume":
            if space.kind != "volume":
                raise ValueError(f"Atlas {self.name!r} is a volume atlas: pass a VolumeSpace (the features' 'ijk' voxel "
                                 f"indices); got {space!r}.")
            ijk = space.ijk
            if len(ijk) and (ijk >= np.asarray(self.labels.shape)).any():
                raise ValueError(
                    f"'ijk' has voxel indices outside the atlas volume {self.labels.shape}: the atlas and the data "
                    "are not in the same space/resolution."
                )
            if space.shape != self.labels.shape:
                raise ValueError(
                    f"The data's volume {space.shape} is not the atlas volume {self.labels.shape}: the atlas and the "
                    "data are not in the same space/resolution."
                )
            return self.labels[ijk[:, 0], ijk[:, 1], ijk[:, 2]]
        if space.kind != "surface":
            raise ValueError(f"Atlas {self.name!r} is a surface atlas: pass a SurfaceSpace (the features' 'hemi' and "
                             f"'vertex'); got {space!r}.")
        vertex = space.vertex
        self._check_density(space, int(vertex.max()) if len(vertex) else -1)
        out = np.zeros(len(vertex), dtype=np.int64)
        for h in HEMIS:
            sel = space.hemi == h
            if sel.any():
                if h not in self.labels:
                    raise ValueError(f"Atlas {self.name!r} has no {h!r} labels but the data has {h} features.")
                out[sel] = self.labels[h][vertex[sel]]
        return out

    def _check_density(self, space, max_vertex: int) -> None:
        mine = f"{self.n_vertices} vertices per hemisphere" + (f" ({self.density})" if self.density else "")
        if max_vertex >= self.n_vertices:
            raise ValueError(
                f"Label density does not match the data: 'vertex' goes up to {max_vertex} but atlas "
                f"{self.name!r} has {mine}; load the atlas at the data's density."
            )
        theirs = sorted(set(space.n_vertices.values()))
        if theirs != [self.n_vertices]:
            name = density_name(theirs[0]) if len(theirs) == 1 else None
            hint = (
                f"decimate the atlas with atlas.decimate({name!r})"
                if name and self.density and theirs[0] < self.n_vertices
                else "load the atlas at the data's density (or decimate the data)"
            )
            what = (f"{theirs[0]} ({name or 'not an fsaverage density'})" if len(theirs) == 1
                    else f"{space.n_vertices} (a native surface)")
            raise ValueError(
                f"Label density does not match the data: atlas {self.name!r} has {mine}, the data {what}; {hint}."
            )

    def masks(self, space, *, rois=None) -> dict[str, np.ndarray]:
        """Boolean feature mask of ``space`` per ROI name (all ROIs, or ``rois``)."""
        lab = self.labels_for(space)
        names = self.roi_names if rois is None else list(rois)
        return {n: lab == i for n, i in zip(names, self.ids(names))}

    # ------------------------------------------------------------------ transformations
    def _relabel(self, mapping: dict[int, int], table: dict[int, str], name: str, colors=None) -> "Atlas":
        lut = np.zeros(max([0, *mapping.keys(), *[int(a.max(initial=0)) for a in self._arrays()]]) + 1, dtype=np.int64)
        for old, new in mapping.items():
            lut[old] = new
        if self.kind == "surface":
            labels = {h: lut[v] for h, v in self.labels.items()}
        else:
            labels = lut[self.labels]
        return Atlas(labels, table, name=name, affine=self.affine, colors=colors)

    def merge(self, mapping: dict[str, list[str]], *, keep_others: bool = True, name: str | None = None) -> "Atlas":
        """Merge ROIs: ``{"V1": ["V1v", "V1d"], ...}``; new ids follow the mapping order.

        ROIs not named in the mapping are kept after the merged ones (``keep_others=True``) or
        dropped (set to 0).
        """
        if not isinstance(mapping, dict) or not mapping:
            raise ValueError("'mapping' must be a non-empty dict {new_name: [old names]}.")
        used: dict[str, str] = {}
        for new, olds in mapping.items():
            olds = [olds] if isinstance(olds, str) else list(olds)
            self.ids(olds)  # unknown names raise with the list of known ones
            for o in olds:
                if o in used:
                    raise ValueError(f"ROI {o!r} is merged into both {used[o]!r} and {new!r}; each ROI can go to one group.")
                used[o] = new
        table: dict[int, str] = {}
        remap: dict[int, int] = {}
        for i, new in enumerate(mapping, 1):
            table[i] = new
        lookup = {v: k for k, v in table.items()}
        nxt = len(table) + 1
        for old_id in sorted(self.table):
            old = self.table[old_id]
            if old in used:
                remap[old_id] = lookup[used[old]]
            elif keep_others:
                if old in lookup:
                    raise ValueError(f"ROI {old!r} exists already and is not part of the merge; rename the group.")
                table[nxt] = old
                remap[old_id] = nxt
                nxt += 1
        return self._relabel(remap, table, name or f"{self.name}-merged")

    def select(self, rois) -> "Atlas":
        """Keep only these ROIs (others set to 0), ids unchanged."""
        ids = self.ids(rois)
        keep = {i: i for i in ids}
        return self._relabel(keep, {i: self.table[i] for i in ids}, self.name, self.colors)

    def split_hemispheres(self) -> "Atlas":
        """Surface atlas whose ROIs are per hemisphere: ``lh.V1``, ``rh.V1``, ..."""
        if self.kind != "surface":
            raise ValueError("split_hemispheres needs a surface atlas; volume atlases have one file per hemisphere in NSD.")
        table, labels, nxt = {}, {}, 1
        for h in HEMIS:
            if h not in self.labels:
                continue
            lut = np.zeros(int(self.labels[h].max(initial=0)) + 1, dtype=np.int64)
            for old_id in sorted(self.table):
                if old_id < len(lut) and (self.labels[h] == old_id).any():
                    table[nxt] = f"{h}.{self.table[old_id]}"
                    lut[old_id] = nxt
                    nxt += 1
            labels[h] = lut[self.labels[h]]
        return Atlas(labels, table, name=f"{self.name}-hemi")

    def decimate(self, density: str = "fsaverage5") -> "Atlas":
        """The atlas on a coarser nested fsaverage template (first vertices kept)."""
        if self.kind != "surface" or self.density is None:
            raise ValueError(f"Only surface atlases on an fsaverage density can be decimated; atlas {self.name!r} is not one.")
        return Atlas(decimate(self.labels, density), self.table, name=self.name, colors=self.colors)

    def to_annot(self, out_dir: str | os.PathLike, name: str | None = None) -> dict[str, Path]:
        """Write ``{lh,rh}.<name>.annot`` (FreeSurfer) for freeview."""
        if self.kind != "surface":
            raise ValueError("Only surface atlases can be written as .annot.")
        name = name or self.name
        return {
            h: write_annot(v, self.table, Path(out_dir) / f"{h}.{name}.annot", colors=self.colors)
            for h, v in self.labels.items()
        }

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_mgz(cls, lh, rh, ctab=None, *, name: str | None = None) -> "Atlas":
        """From NSD-style label files ``{lh,rh}.<atlas>.mgz`` (one integer per vertex) and a table.

        ``ctab``: a path to ``<atlas>.mgz.ctab``, a dict, or None (the file beside ``lh`` named
        ``<atlas>.mgz.ctab``, else the shipped NSD table of that atlas).
        """
        lh, rh = _need(lh), _need(rh)
        atlas = name or lh.name[3:].removesuffix(".mgz").removesuffix(".mgh")
        labels = {h: image_data(load_image(p, "atlas labels")).reshape(-1) for h, p in (("lh", lh), ("rh", rh))}
        colors = None
        if ctab is None:
            beside = lh.parent / f"{atlas}.mgz.ctab"
            if beside.exists():
                ctab = beside
            elif atlas in NSD_TABLES:
                logger.info("No %s beside %s: using the shipped NSD table", beside.name, lh)
                ctab = nsd_table(atlas)
            else:
                raise FileNotFoundError(f"Lookup table not found: {beside} (and {atlas!r} has no shipped table); pass 'ctab'.")
        if not isinstance(ctab, Mapping):
            ctab = read_ctab(ctab, name=atlas)
        paths = {"lh": lh, "rh": rh}
        _check_pair({h: v.size for h, v in labels.items()}, paths)
        _check_table(labels, ctab, paths, atlas)
        return cls(labels, ctab, name=atlas, colors=colors)

    @classmethod
    def from_nsd(cls, root, atlas: str, subject: str | int = "fsaverage", *, space: str = "surface",
                 density: str | None = None) -> "Atlas":
        """From an NSD folder (real or synthetic NSD-like).

        Parameters
        ----------
        root : path
            NSD root (holding ``nsddata/``).
        atlas : str
            e.g. "prf-visualrois", "streams", "nsdgeneral".
        subject : "fsaverage" or int or "subjAA", default "fsaverage"
            Surface: ``"fsaverage"`` reads the group atlas ``nsddata/freesurfer/fsaverage/label``;
            a subject gives the atlas on fsaverage as :meth:`neuro_igc.data.NSD.roi` does (a
            subject atlas: the subject's native labels mapped through NSD's white-to-fsaverage
            transforms; ``atlas.source`` says so). A subject folder without transforms has its label
            files read as they are.
        space : {"surface", "func1pt8mm", "func1mm"}, default "surface"
            Volume spaces read ``nsddata/ppdata/subjAA/<space>/roi/<atlas>.nii.gz`` (-1/0 outside)
            with the table from the subject's label folder (or the shipped one).
        density : {"fsaverage", "fsaverage5"} or None
            Surface, with a subject: the density of the mapped labels (default: full).
        """
        root = Path(root)
        who = "fsaverage" if subject in (None, "fsaverage") else (
            f"subj{int(subject):02d}" if not str(subject).startswith("subj") else str(subject)
        )
        label_dir = root / "nsddata" / "freesurfer" / who / "label"
        transform = root / "nsddata" / "ppdata" / who / "transforms" / "lh.white-to-fsaverage.mgz"
        if space == "surface" and who != "fsaverage" and transform.exists():
            from neuro_igc.data import NSD

            return cls.from_roi_labels(NSD(root, progress=False).roi(atlas, "fsaverage", subject=who, density=density))
        if space == "surface":
            return cls.from_mgz(label_dir / f"lh.{atlas}.mgz", label_dir / f"rh.{atlas}.mgz", name=atlas)
        check_option("space", space, ("surface", "func1pt8mm", "func1mm"))
        if who == "fsaverage":
            raise ValueError("Volume atlases are per subject: pass subject=1..8.")
        ctab = label_dir / f"{atlas}.mgz.ctab"
        table = read_ctab(ctab) if ctab.exists() else (nsd_table(atlas) if atlas in NSD_TABLES else None)
        if table is None:
            raise FileNotFoundError(f"Lookup table not found: {ctab} (and {atlas!r} has no shipped table).")
        return cls.from_nifti(root / "nsddata" / "ppdata" / who / space / "roi" / f"{atlas}.nii.gz", table, name=atlas)

    @classmethod
    def from_nifti(cls, path, table, *, name: str | None = None) -> "Atlas":
        """Volume ROI NIfTI (integer labels; -1 or 0 outside) and a table (dict or ctab path)."""
        path = _need(path)
        img = load_image(path, "atlas labels")
        data = image_data(img, what="atlas labels")
        if data.ndim == 4 and data.shape[3] == 1:
            data = data[..., 0]
        table = table if isinstance(table, Mapping) else read_ctab(table)
        _check_table({"volume": np.rint(data)}, table, {"volume": path}, name or path.name.split(".")[0])
        return cls(data, table, name=name or path.name.split(".")[0], affine=img.affine)

    @classmethod
    def from_annot(cls, lh, rh, *, name: str | None = None) -> "Atlas":
        """FreeSurfer ``.annot`` pair; ROI names are unified across hemispheres ("unknown" -> 0)."""
        read = {h: read_annot(p, "atlas annotation") for h, p in (("lh", lh), ("rh", rh))}
        _check_pair({h: len(r[0]) for h, r in read.items()}, {"lh": lh, "rh": rh})
        return cls._from_named(
            {h: (lab, [n.decode() if isinstance(n, bytes) else n for n in names], {i: tuple(c[:3]) for i, c in enumerate(ctab)})
             for h, (lab, ctab, names) in read.items()},
            name or Path(lh).name[3:].removesuffix(".annot"),
        )

    @classmethod
    def from_gifti(cls, lh, rh, *, name: str | None = None) -> "Atlas":
        """GIFTI label files (``.label.gii``) with their label tables."""
        parts = {}
        for h, p in (("lh", lh), ("rh", rh)):
            img = load_image(p, "GIFTI label file")
            if not img.darrays or not hasattr(img, "labeltable"):
                raise file_error(p, "it holds no data array (not a GIFTI label file)", "GIFTI label file")
            keys = {lab.key: lab.label for lab in img.labeltable.labels}
            rgb = {lab.key: tuple(int(round(255 * c)) for c in (lab.red or 0, lab.green or 0, lab.blue or 0)) for lab in img.labeltable.labels}
            data = np.asarray(img.darrays[0].data).astype(np.int64)
            order = sorted(keys)
            pos = {k: i for i, k in enumerate(order)}
            idx = np.array([pos.get(int(v), -1) for v in range(int(data.max(initial=0)) + 1)])
            parts[h] = (np.where(data >= 0, idx[np.clip(data, 0, None)], -1), [keys[k] for k in order], {pos[k]: rgb[k] for k in order})
        _check_pair({h: len(parts[h][0]) for h in HEMIS}, {"lh": lh, "rh": rh})
        return cls._from_named(parts, name or Path(lh).name.split(".")[0])

    @classmethod
    def _from_named(cls, parts: dict, name: str) -> "Atlas":
        """Hemispheres given as (row index per vertex, names per row, colour per row)."""
        table: dict[str, int] = {}
        colors: dict[int, tuple] = {}
        labels = {}
        for h in HEMIS:
            rows, names, rgb = parts[h]
            rows = np.asarray(rows)
            ids = np.zeros(len(names) + 1, dtype=np.int64)  # last entry: row -1
            for r, n in enumerate(names):
                if n.lower() in _UNKNOWN:
                    continue
                if n not in table:
                    table[n] = len(table) + 1
                    colors[table[n]] = rgb.get(r)
                ids[r] = table[n]
            labels[h] = ids[np.where(rows < 0, len(names), rows)]
        return cls(labels, {i: n for n, i in table.items()}, name=name, colors={k: v for k, v in colors.items() if v})

    @classmethod
    def from_roi_labels(cls, roi) -> "Atlas":
        """From feature-aligned surface labels (``neuro_igc.data.NSD.roi(...)``: ``labels``,
        ``table`` and their ``feature_space``), scattered onto full hemispheres of that space."""
        space = feature_space_of(roi, what="roi")
        if space.kind != "surface":
            raise ValueError("from_roi_labels needs surface labels (a SurfaceSpace); use from_nifti for volumes.")
        full = space.to_hemispheres(np.asarray(roi.labels), fill=0)
        atlas = cls({h: v.astype(np.int64) for h, v in full.items()}, roi.table, name=getattr(roi, "atlas", "atlas"))
        atlas.source = getattr(roi, "source", "")
        return atlas
