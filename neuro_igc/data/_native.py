"""Native surfaces, NSD's native <-> fsaverage index maps, and ROI labels on every space.

NSD's ``transforms/{lh,rh}.white-to-fsaverage.mgz`` holds, for each of the 163,842 fsaverage
vertices, the **1-based** native vertex to take (``fsavg = native[map - 1]``);
``{lh,rh}.fsaverage-to-white.mgz`` holds, for each native vertex, the 1-based fsaverage vertex.
Subject-drawn atlases (prf-visualrois, floc-*, ...) exist only on the native surface and in the
volumes: on fsaverage they are the native labels mapped through ``white-to-fsaverage``.
"""

from __future__ import annotations

import logging

import numpy as np

from neuro_igc._read import image_data, load_image
from neuro_igc._utils import check_labels_in_table, check_option
from neuro_igc.data import _layout as L
from neuro_igc.data._roi import ROILabels
from neuro_igc.data._spaces import HEMIS, NATIVE, SurfaceSpace, VolumeSpace, density_of_count
from neuro_igc.data._tables import LABEL_TABLES, LookupTable, read_ctab

__all__ = ["SurfaceMixin"]

logger = logging.getLogger(__name__)

FSAVERAGE_N = L.N_VERTICES["fsaverage"]


def _labels_of(arr, path) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim > 1 and any(d != 1 for d in arr.shape[1:]):
        raise ValueError(f"Wrong shape in {path}: a label file holds one value per vertex, (N, 1, 1); got {arr.shape}.")
    arr = arr.reshape(-1)
    if np.issubdtype(arr.dtype, np.floating) and (not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.rint(arr))):
        raise ValueError(f"Wrong values in {path}: ROI labels must be integers.")
    return np.rint(arr).astype(np.int64)


def density_of(n_vertices: int, path) -> str:
    for name, n in L.N_VERTICES.items():
        if n == n_vertices:
            return name
    raise ValueError(
        f"Wrong shape in {path}: {n_vertices} vertices matches no fsaverage density "
        f"({', '.join(f'{k}: {v}' for k, v in L.N_VERTICES.items())})."
    )


def check_density(name: str, have: str, want: str | None, path) -> str:
    """Density to use: ``want`` if reachable from ``have`` by decimation, else a ValueError."""
    if want is None or want == have:
        return have
    check_option(name, want, L.DENSITIES)
    if L.N_VERTICES[want] > L.N_VERTICES[have]:
        raise ValueError(
            f"Density mismatch: {path} is at {have} ({L.N_VERTICES[have]} vertices per hemisphere) and "
            f"cannot give {want} ({L.N_VERTICES[want]}); ask for {name}={have!r} or use data at {want}."
        )
    return want


class SurfaceMixin:
    """Part of :class:`~neuro_igc.data.NSD`: transforms, native surfaces and ROI labels."""

    # ------------------------------------------------------------------------- transforms
    def transform(self, subject, hemi: str, kind: str = "white-to-fsaverage") -> np.ndarray:
        """NSD's nearest-neighbour index map of one hemisphere, **0-based**.

        Parameters
        ----------
        subject : int or str
        hemi : {"lh", "rh"}
        kind : {"white-to-fsaverage", "fsaverage-to-white"}
            ``white-to-fsaverage``: (163842,) native vertex of each fsaverage vertex;
            ``fsaverage-to-white``: (V_native,) fsaverage vertex of each native vertex.

        Returns
        -------
        int64 array, the file's 1-based values minus 1.
        """
        s = L.subject_id(subject)
        check_option("hemi", hemi, HEMIS)
        check_option("kind", kind, L.TRANSFORMS)
        cache = self.__dict__.setdefault("_transforms", {})
        key = (s, hemi, kind)
        if key in cache:
            return cache[key]
        path = self._file(L.transform_path(s, hemi, kind), f"{kind} transform of {L.subject_name(s)} {hemi}")
        what = f"{kind} transform"
        arr = image_data(load_image(path, what), what=what)
        if arr.ndim > 1 and any(d != 1 for d in arr.shape[1:]):
            raise ValueError(f"Wrong shape in {path}: NSD transforms are (N, 1, 1); got {arr.shape}.")
        arr = arr.reshape(-1)
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.rint(arr)):
            raise ValueError(f"Wrong values in {path}: a transform holds integer vertex indices (1-based).")
        idx = np.rint(arr).astype(np.int64)
        if kind == "white-to-fsaverage":
            if idx.size != FSAVERAGE_N:
                raise ValueError(f"Wrong shape in {path}: white-to-fsaverage has one entry per fsaverage vertex "
                                 f"({FSAVERAGE_N}); got {idx.size}.")
            top = None
        else:
            top = FSAVERAGE_N
        if idx.size and idx.min() < 1:
            raise ValueError(
                f"Wrong values in {path}: NSD transforms are 1-based (smallest index 1); got {int(idx.min())}. "
                "A 0-based file would shift every vertex by one."
            )
        if top is not None and idx.max() > top:
            raise ValueError(f"Wrong values in {path}: indices go up to {int(idx.max())}, beyond fsaverage's {top}.")
        out = idx - 1
        out.setflags(write=False)
        cache[key] = out
        return out

    def native_vertices(self, subject, hemi: str) -> int:
        """Vertex count of a subject's native hemisphere (length of ``fsaverage-to-white``)."""
        return int(self.transform(subject, hemi, "fsaverage-to-white").size)

    def _native_counts(self, s: int) -> dict[str, int]:
        return {h: self.native_vertices(s, h) for h in HEMIS}

    def to_fsaverage(self, values, subject, hemi: str | None = None, *, density: str = "fsaverage"):
        """Native-surface values on fsaverage through ``white-to-fsaverage`` (nearest neighbour).

        Parameters
        ----------
        values : (..., V_native) array, or dict {"lh": ..., "rh": ...} with ``hemi=None``
        subject : int or str
        hemi : {"lh", "rh"} or None
        density : str, default "fsaverage"
            Cut the result to a nested template (``"fsaverage5"``: the first 10242 vertices).

        Returns
        -------
        (..., n_vertices) array (or dict of both hemispheres): ``values[..., map - 1]``.
        """
        if hemi is None:
            if not isinstance(values, dict):
                raise ValueError("Invalid value for 'hemi': give 'lh' or 'rh', or pass values as {'lh': ..., 'rh': ...}.")
            return {h: self.to_fsaverage(values[h], subject, h, density=density) for h in HEMIS}
        n = L.N_VERTICES[check_option("density", density, L.DENSITIES)]
        values = np.asarray(values)
        fmap = self.transform(subject, hemi, "white-to-fsaverage")
        p = self.root / L.transform_path(L.subject_id(subject), hemi, "fsaverage-to-white")
        n_native = self.native_vertices(subject, hemi) if p.is_file() else None
        if values.ndim == 0 or (n_native is not None and values.shape[-1] != n_native):
            raise ValueError(
                f"Invalid shape for 'values': {L.subject_name(L.subject_id(subject))} {hemi} has {n_native} native "
                f"vertices; got {values.shape} (last axis = vertices)."
            )
        if fmap.max() >= values.shape[-1]:
            raise ValueError(f"Invalid shape for 'values': the {hemi} transform indexes native vertex {int(fmap.max())}; "
                             f"values have {values.shape[-1]}.")
        return values[..., fmap[:n]]

    def to_native(self, values, subject, hemi: str | None = None):
        """fsaverage values (163,842 per hemisphere) on a subject's native surface through
        ``fsaverage-to-white`` (nearest neighbour): ``values[..., map - 1]``.

        ``values``: (..., 163842) array, or a dict of both hemispheres with ``hemi=None``.
        """
        if hemi is None:
            if not isinstance(values, dict):
                raise ValueError("Invalid value for 'hemi': give 'lh' or 'rh', or pass values as {'lh': ..., 'rh': ...}.")
            return {h: self.to_native(values[h], subject, h) for h in HEMIS}
        values = np.asarray(values)
        if values.ndim == 0 or values.shape[-1] != FSAVERAGE_N:
            got = values.shape[-1] if values.ndim else None
            hint = (" (fsaverage5 values cannot reach native vertices mapped beyond its 10242; "
                    "use full-density data)" if got == L.N_VERTICES["fsaverage5"] else "")
            raise ValueError(f"Invalid shape for 'values': to_native needs full fsaverage hemispheres "
                             f"({FSAVERAGE_N} vertices on the last axis); got {values.shape}{hint}.")
        return values[..., self.transform(subject, hemi, "fsaverage-to-white")]

    # ------------------------------------------------------------------------- lookup tables
    def _table(self, subject, atlas) -> LookupTable:
        for who in ([subject, None] if subject is not None else [None]):
            p = self.root / L.ctab_path(who, atlas)
            if p.exists():  # a folder or a damaged file there is an error, not a fallback
                return read_ctab(p, name=atlas)
        if atlas in LABEL_TABLES:
            logger.info("no %s.mgz.ctab in %s: using the shipped NSD table", atlas, self.root)
            return LABEL_TABLES[atlas]
        return read_ctab(self._file(L.ctab_path(subject, atlas), f"lookup table of {atlas!r}"), name=atlas)

    # ------------------------------------------------------------------------- surface labels
    def _read_hemis(self, who, atlas):
        out, paths = {}, {}
        for h in HEMIS:
            what = f"{atlas!r} labels"
            path = self._file(L.surface_label_path(who, h, atlas), what)
            out[h] = _labels_of(image_data(load_image(path, what), what=what), path)
            paths[h] = path
        return out, paths

    @staticmethod
    def _pair(paths) -> str:
        p = paths["lh"]
        rel = p.relative_to(p.parents[4]) if len(p.parents) > 4 else p
        return f"{rel.parent}/{{lh,rh}}.{rel.name[3:]}"

    def _fsaverage_labels(self, atlas: str, s: int | None, density: str | None):
        """Full-hemisphere fsaverage labels, their density and a sentence saying where they came from."""
        group = (self.root / L.surface_label_path(None, "lh", atlas)).is_file()
        own = s is not None and (self.root / L.surface_label_path(s, "lh", atlas)).is_file()
        if group and (s is None or atlas not in L.SUBJECT_ATLASES or not own):
            labels, paths = self._read_hemis(None, atlas)
            source = f"group atlas {self._pair(paths)} read on fsaverage"
            return self._cut(labels, paths, density) + (source,)
        if s is None:
            if atlas in L.SUBJECT_ATLASES:
                raise ValueError(
                    f"Invalid value for 'subject': {atlas!r} is a subject atlas (NSD has it only on each subject's "
                    f"native surface and in the volumes, not on fsaverage); pass subject=1..8 to map that "
                    f"subject's native labels to fsaverage through NSD's white-to-fsaverage transforms."
                )
            self._file(L.surface_label_path(None, "lh", atlas), f"{atlas!r} group labels on fsaverage")
        labels, paths = self._read_hemis(s, atlas)
        tr = self.root / L.transform_path(s, "lh", "white-to-fsaverage")
        n = labels["lh"].size
        if density_of_count(n) in L.DENSITIES and not (tr.is_file() and self._native_match(s, labels)):
            source = f"subject labels {self._pair(paths)} already on fsaverage"
            return self._cut(labels, paths, density) + (source,)
        counts = self._native_counts(s)
        for h in HEMIS:
            if labels[h].size != counts[h]:
                raise ValueError(
                    f"Wrong shape in {paths[h]}: {L.subject_name(s)} {h} has {counts[h]} native vertices "
                    f"(fsaverage-to-white); the label file has {labels[h].size}."
                )
        mapped = {h: labels[h][self.transform(s, h, "white-to-fsaverage")] for h in HEMIS}
        trs = self._pair({"lh": self.root / L.transform_path(s, "lh", "white-to-fsaverage")})
        source = f"native labels {self._pair(paths)} mapped to fsaverage through {trs}"
        dens = density or "fsaverage"
        check_option("density", dens, L.DENSITIES)
        return {h: v[: L.N_VERTICES[dens]] for h, v in mapped.items()}, dens, source

    def _native_match(self, s, labels) -> bool:
        counts = self._native_counts(s) if (self.root / L.transform_path(s, "lh", "fsaverage-to-white")).is_file() else None
        return counts is not None and all(labels[h].size == counts[h] for h in HEMIS)

    def _cut(self, labels, paths, density):
        dens = None
        if labels["lh"].size != labels["rh"].size:
            raise ValueError(
                f"The hemispheres' label files do not match: {paths['lh']} (lh) has {labels['lh'].size} vertices, "
                f"{paths['rh']} (rh) has {labels['rh'].size}; give the lh and rh files of the same atlas and template."
            )
        for h in HEMIS:
            have = density_of(labels[h].size, paths[h])
            dens = check_density("density", have, density, paths[h])
        return {h: v[: L.N_VERTICES[dens]] for h, v in labels.items()}, dens

    def _native_labels(self, atlas: str, s: int):
        counts = self._native_counts(s)
        if (self.root / L.surface_label_path(s, "lh", atlas)).is_file():
            labels, paths = self._read_hemis(s, atlas)
            for h in HEMIS:
                if labels[h].size != counts[h]:
                    raise ValueError(
                        f"Wrong shape in {paths[h]}: {L.subject_name(s)} {h} has {counts[h]} native vertices; "
                        f"the label file has {labels[h].size}."
                    )
            return labels, f"native labels {self._pair(paths)}"
        if atlas in L.SUBJECT_ATLASES:
            self._file(L.surface_label_path(s, "lh", atlas), f"{atlas!r} native labels of {L.subject_name(s)}")
        labels, paths = self._read_hemis(None, atlas)
        for h in HEMIS:
            if labels[h].size != FSAVERAGE_N:
                raise ValueError(f"Wrong shape in {paths[h]}: group atlases on fsaverage have {FSAVERAGE_N} vertices "
                                 f"per hemisphere; got {labels[h].size}.")
        trs = self._pair({"lh": self.root / L.transform_path(s, "lh", "fsaverage-to-white")})
        return ({h: self.to_native(labels[h], s, h) for h in HEMIS},
                f"group atlas {self._pair(paths)} mapped to the native surface through {trs}")

    def roi(self, atlas: str, space: str = "fsaverage", subject=None, *, like=None,
            density: str | None = None, hemi: str | None = None) -> ROILabels:
        """ROI labels of an atlas, aligned with the features of ``like`` (or of the whole space).

        Parameters
        ----------
        atlas : str
            e.g. ``"prf-visualrois"``, ``"streams"``, ``"nsdgeneral"``, ``"floc-faces"``.
        space : {"fsaverage", "nativesurface", "func1pt8mm", "func1mm"}
        subject : int, str or None
            fsaverage: group atlases (``freesurfer/fsaverage/label``) are read directly; a subject
            atlas (prf-*, floc-*) needs a subject, whose native labels are mapped to fsaverage
            through ``white-to-fsaverage`` (cut to ``density`` by the nested prefix). Native
            surface and volumes: required. Default: ``like.subject``.
        like : Betas, optional
            Return one label per feature of these betas (same order and space).
        density : {"fsaverage", "fsaverage5"} or None
            fsaverage, without ``like``: the labels' density (default: the file's, or full
            density for mapped labels).
        hemi : {"lh", "rh"} or None
            Volume only: the hemisphere-specific file ``roi/{hemi}.<atlas>.nii.gz``.

        Returns
        -------
        ROILabels
            With ``source`` saying which files were read and through which transform.
        """
        L.check_space(space)
        if subject is None and like is not None and (space != "fsaverage" or atlas in L.SUBJECT_ATLASES):
            subject = like.subject  # a group atlas on fsaverage needs no subject
        s = None if subject is None else L.subject_id(subject)
        if like is not None:
            if like.space != space:
                raise ValueError(f"Invalid value for 'like': betas are in {like.space!r}, labels asked in {space!r}.")
            if space == "fsaverage":
                density = like.density if density is None else density
        if space == "fsaverage":
            table = self._table(s, atlas)
            hemi_labels, dens, source = self._fsaverage_labels(atlas, s, density)
            full = SurfaceSpace.full(dens)
        elif space == "nativesurface":
            if s is None:
                raise ValueError("Invalid value for 'subject': native-surface ROIs belong to a subject; got None.")
            table = self._table(s, atlas)
            hemi_labels, source = self._native_labels(atlas, s)
            full = SurfaceSpace.full(NATIVE, subject=s, n_vertices={h: hemi_labels[h].size for h in HEMIS})
        else:
            if s is None:
                raise ValueError(f"Invalid value for 'subject': volume ROIs ({space!r}) belong to a subject; got None.")
            if hemi is not None:
                check_option("hemi", hemi, HEMIS)
            table = self._table(s, atlas)
            path = self._file(L.volume_roi_path(s, space, atlas, hemi), f"{atlas!r} volume labels of {L.subject_name(s)}")
            what = f"{atlas!r} volume labels"
            vol = np.rint(image_data(load_image(path, what), what=what)).astype(np.int64)
            brain, affine = self._brainmask(s, space)
            if vol.shape != brain.shape:
                raise ValueError(f"Wrong shape in {path}: expected the brain-mask shape {brain.shape}; got {vol.shape}.")
            check_labels_in_table(vol[brain], table, f"the {atlas!r} volume labels {path} of {L.subject_name(s)}")
            fs = like.feature_space if like is not None else VolumeSpace(np.argwhere(brain), affine, brain.shape,
                                                                         name=space, subject=s)
            return ROILabels(atlas, vol[tuple(fs.ijk.T)], table, fs, f"volume labels {path.name} of {L.subject_name(s)}")
        for h in HEMIS:
            check_labels_in_table(hemi_labels[h], table, f"the {atlas!r} labels of {h} ({source})")
        if like is not None:
            fs = like.feature_space
            fs.check_hemispheres(hemi_labels, what=f"the {atlas!r} labels")
            return ROILabels(atlas, fs.from_hemispheres(hemi_labels), table, fs, source)
        return ROILabels(atlas, np.concatenate([hemi_labels[h] for h in HEMIS]), table, full, source)
