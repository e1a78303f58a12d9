"""ROI labels of an NSD folder on every space, and the ROI selection of the betas readers.

Group atlases live on fsaverage (``freesurfer/fsaverage/label``); subject atlases (prf-*,
floc-*) on each subject's native surface and in its volumes. On fsaverage a subject atlas is the
native labels mapped through ``white-to-fsaverage``; on the native surface a group atlas is the
fsaverage labels mapped through ``fsaverage-to-white``. Every :class:`ROILabels` says in ``source``
which files were read and through which transform.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from neuro_igc._read import image_data, load_image
from neuro_igc._utils import check_labels_in_table, check_option
from neuro_igc.data import _layout as L
from neuro_igc.data._native import FSAVERAGE_N, Transforms
from neuro_igc.data._nsd_volume import read_brainmask
from neuro_igc.data._roi import ROILabels
from neuro_igc.data._spaces import HEMIS, NATIVE, SurfaceSpace, VolumeSpace, density_of_count
from neuro_igc.data._tables import LABEL_TABLES, LookupTable, read_ctab

__all__ = ["RoiReader"]

logger = logging.getLogger("neuro_igc.data._nsd")  # the parts of the NSD reader log under its name


def _labels_of(arr, path) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim > 1 and any(d != 1 for d in arr.shape[1:]):
        raise ValueError(f"Wrong shape in {path}: a label file holds one value per vertex, (N, 1, 1); got {arr.shape}.")
    arr = arr.reshape(-1)
    if np.issubdtype(arr.dtype, np.floating) and (not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.rint(arr))):
        raise ValueError(f"Wrong values in {path}: ROI labels must be integers.")
    return np.rint(arr).astype(np.int64)


def _pair(paths) -> str:
    """``dir/{lh,rh}.name`` of a pair of hemisphere files, relative to the NSD root."""
    p = paths["lh"]
    rel = p.relative_to(p.parents[4]) if len(p.parents) > 4 else p
    return f"{rel.parent}/{{lh,rh}}.{rel.name[3:]}"


def _cut(labels, paths, density):
    """Both hemispheres' labels at ``density`` (nested templates: the prefix), and that density."""
    dens = None
    if labels["lh"].size != labels["rh"].size:
        raise ValueError(
            f"The hemispheres' label files do not match: {paths['lh']} (lh) has {labels['lh'].size} vertices, "
            f"{paths['rh']} (rh) has {labels['rh'].size}; give the lh and rh files of the same atlas and template."
        )
    for h in HEMIS:
        have = L.density_of(labels[h].size, paths[h])
        dens = L.check_density("density", have, density, paths[h])
    return {h: v[: L.N_VERTICES[dens]] for h, v in labels.items()}, dens


class RoiReader:
    """Label files and lookup tables of one NSD folder (the ROIs of :class:`~neuro_igc.data.NSD`)."""

    def __init__(self, root: Path, transforms: Transforms):
        self.root = root
        self.transforms = transforms

    def _file(self, rel: Path, what: str) -> Path:
        return L.require_file(self.root, rel, what)

    # ------------------------------------------------------------------------- lookup tables
    def table(self, subject, atlas) -> LookupTable:
        """The subject's ``<atlas>.mgz.ctab``, else fsaverage's, else the table NSD ships."""
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

    def _native_match(self, s, labels) -> bool:
        counts = self.transforms.native_counts(s) if self.transforms.has(s, "fsaverage-to-white") else None
        return counts is not None and all(labels[h].size == counts[h] for h in HEMIS)

    def _fsaverage_labels(self, atlas: str, s: int | None, density: str | None):
        """Full-hemisphere fsaverage labels, their density and a sentence saying where they came from."""
        group = (self.root / L.surface_label_path(None, "lh", atlas)).is_file()
        own = s is not None and (self.root / L.surface_label_path(s, "lh", atlas)).is_file()
        if group and (s is None or atlas not in L.SUBJECT_ATLASES or not own):
            labels, paths = self._read_hemis(None, atlas)
            source = f"group atlas {_pair(paths)} read on fsaverage"
            return _cut(labels, paths, density) + (source,)
        if s is None:
            if atlas in L.SUBJECT_ATLASES:
                raise ValueError(
                    f"Invalid value for 'subject': {atlas!r} is a subject atlas (NSD has it only on each subject's "
                    f"native surface and in the volumes, not on fsaverage); pass subject=1..8 to map that "
                    f"subject's native labels to fsaverage through NSD's white-to-fsaverage transforms."
                )
            self._file(L.surface_label_path(None, "lh", atlas), f"{atlas!r} group labels on fsaverage")
        labels, paths = self._read_hemis(s, atlas)
        n = labels["lh"].size
        if density_of_count(n) in L.DENSITIES and not (self.transforms.has(s, "white-to-fsaverage")
                                                       and self._native_match(s, labels)):
            source = f"subject labels {_pair(paths)} already on fsaverage"
            return _cut(labels, paths, density) + (source,)
        counts = self.transforms.native_counts(s)
        for h in HEMIS:
            if labels[h].size != counts[h]:
                raise ValueError(
                    f"Wrong shape in {paths[h]}: {L.subject_name(s)} {h} has {counts[h]} native vertices "
                    f"(fsaverage-to-white); the label file has {labels[h].size}."
                )
        mapped = {h: labels[h][self.transforms.transform(s, h, "white-to-fsaverage")] for h in HEMIS}
        trs = _pair({"lh": self.root / L.transform_path(s, "lh", "white-to-fsaverage")})
        source = f"native labels {_pair(paths)} mapped to fsaverage through {trs}"
        dens = density or "fsaverage"
        check_option("density", dens, L.DENSITIES)
        return {h: v[: L.N_VERTICES[dens]] for h, v in mapped.items()}, dens, source

    def _native_labels(self, atlas: str, s: int):
        counts = self.transforms.native_counts(s)
        if (self.root / L.surface_label_path(s, "lh", atlas)).is_file():
            labels, paths = self._read_hemis(s, atlas)
            for h in HEMIS:
                if labels[h].size != counts[h]:
                    raise ValueError(
                        f"Wrong shape in {paths[h]}: {L.subject_name(s)} {h} has {counts[h]} native vertices; "
                        f"the label file has {labels[h].size}."
                    )
            return labels, f"native labels {_pair(paths)}"
        if atlas in L.SUBJECT_ATLASES:
            self._file(L.surface_label_path(s, "lh", atlas), f"{atlas!r} native labels of {L.subject_name(s)}")
        labels, paths = self._read_hemis(None, atlas)
        for h in HEMIS:
            if labels[h].size != FSAVERAGE_N:
                raise ValueError(f"Wrong shape in {paths[h]}: group atlases on fsaverage have {FSAVERAGE_N} vertices "
                                 f"per hemisphere; got {labels[h].size}.")
        trs = _pair({"lh": self.root / L.transform_path(s, "lh", "fsaverage-to-white")})
        return ({h: self.transforms.to_native(labels[h], s, h) for h in HEMIS},
                f"group atlas {_pair(paths)} mapped to the native surface through {trs}")

    # ------------------------------------------------------------------------- volume labels
    def _volume_labels(self, atlas: str, space: str, s: int, hemi: str | None, like) -> ROILabels:
        if hemi is not None:
            check_option("hemi", hemi, HEMIS)
        table = self.table(s, atlas)
        path = self._file(L.volume_roi_path(s, space, atlas, hemi), f"{atlas!r} volume labels of {L.subject_name(s)}")
        what = f"{atlas!r} volume labels"
        vol = np.rint(image_data(load_image(path, what), what=what)).astype(np.int64)
        brain, affine = read_brainmask(self.root, s, space)
        if vol.shape != brain.shape:
            raise ValueError(f"Wrong shape in {path}: expected the brain-mask shape {brain.shape}; got {vol.shape}.")
        check_labels_in_table(vol[brain], table, f"the {atlas!r} volume labels {path} of {L.subject_name(s)}")
        fs = like.feature_space if like is not None else VolumeSpace(np.argwhere(brain), affine, brain.shape,
                                                                     name=space, subject=s)
        return ROILabels(atlas, vol[tuple(fs.ijk.T)], table, fs, f"volume labels {path.name} of {L.subject_name(s)}")

    # ------------------------------------------------------------------------- entry points
    def roi(self, atlas: str, space: str = "fsaverage", subject=None, *, like=None,
            density: str | None = None, hemi: str | None = None) -> ROILabels:
        """ROI labels of an atlas (see :meth:`NSD.roi`)."""
        L.check_space(space)
        if subject is None and like is not None:
            subject = like.subject  # as documented; a group atlas on fsaverage is still read from its own files
        s = None if subject is None else L.subject_id(subject)
        if like is not None:
            if like.space != space:
                raise ValueError(f"Invalid value for 'like': betas are in {like.space!r}, labels asked in {space!r}.")
            if space == "fsaverage":
                density = like.density if density is None else density
        if space == "fsaverage":
            table = self.table(s, atlas)
            hemi_labels, dens, source = self._fsaverage_labels(atlas, s, density)
            full = SurfaceSpace.full(dens)
        elif space == "nativesurface":
            if s is None:
                raise ValueError("Invalid value for 'subject': native-surface ROIs belong to a subject; got None.")
            table = self.table(s, atlas)
            hemi_labels, source = self._native_labels(atlas, s)
            full = SurfaceSpace.full(NATIVE, subject=s, n_vertices={h: hemi_labels[h].size for h in HEMIS})
        else:
            if s is None:
                raise ValueError(f"Invalid value for 'subject': volume ROIs ({space!r}) belong to a subject; got None.")
            return self._volume_labels(atlas, space, s, hemi, like)
        for h in HEMIS:
            check_labels_in_table(hemi_labels[h], table, f"the {atlas!r} labels of {h} ({source})")
        if like is not None:
            fs = like.feature_space
            fs.check_hemispheres(hemi_labels, what=f"the {atlas!r} labels")
            return ROILabels(atlas, fs.from_hemispheres(hemi_labels), table, fs, source)
        return ROILabels(atlas, np.concatenate([hemi_labels[h] for h in HEMIS]), table, full, source)

    def selection(self, roi, space: str, s: int, density: str | None):
        """The ``roi=`` argument of the betas readers: its labels and the boolean of the selected features."""
        if isinstance(roi, ROILabels):
            return roi, roi.mask()
        atlas = roi[0] if isinstance(roi, tuple) else roi
        if not isinstance(atlas, str):
            raise ValueError(f"Invalid value for 'roi': expected an atlas name, (atlas, names) or ROILabels; got {roi!r}.")
        labels = self.roi(atlas, space, subject=s, density=density)
        return labels, (labels.mask(roi[1]) if isinstance(roi, tuple) else labels.mask())
