"""Surface betas of an NSD folder: fsaverage ``.mgh`` and native-surface ``.hdf5``, lh then rh.

fsaverage betas are big-endian float32 (a full-density file may be decimated to fsaverage5 by
the nested prefix); native-surface betas are int16 x300, one chunk per vertex. Only the selected
vertices (``roi``/``mask``) are kept in memory while reading.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuro_igc._read import hdf5_dataset, open_hdf5, reading
from neuro_igc.data import _layout as L
from neuro_igc.data._betas import Betas
from neuro_igc.data._io import VOLUME_SCALE, read_mgh
from neuro_igc.data._native import Transforms
from neuro_igc.data._readers import read_hdf5_columns, read_surface_rows
from neuro_igc.data._sanity import constant_value
from neuro_igc.data._spaces import HEMIS, NATIVE, SurfaceSpace

__all__ = ["SurfaceBetasReader"]


class SurfaceBetasReader:
    """fsaverage and native-surface betas of one NSD folder (a part of :class:`~neuro_igc.data.NSD`).

    ``design`` gives each session's trial table, ``transforms`` the native vertex counts and
    ``rois`` the ROI selection (``roi=``).
    """

    def __init__(self, root: Path, design, transforms: Transforms, rois):
        self.root = root
        self.design = design
        self.transforms = transforms
        self.rois = rois

    def _file(self, rel: Path, what: str) -> Path:
        return L.require_file(self.root, rel, what)

    def keep(self, s, space: SurfaceSpace, roi, mask) -> dict[str, np.ndarray]:
        """Per hemisphere, the sorted vertex indices of ``space`` (a full surface) to read."""
        keep = {h: np.ones(space.n_vertices[h], dtype=bool) for h in HEMIS}
        if roi is not None:
            labels, sel = self.rois.selection(roi, space.name, s, None if space.is_native else space.density)
            lsp = labels.feature_space
            if not isinstance(lsp, SurfaceSpace) or lsp.is_native != space.is_native:
                raise ValueError(f"Invalid value for 'roi': labels in {labels.space!r} cannot select {space.name!r} betas.")
            if space.is_native and (lsp.subject != s or lsp.n_vertices != space.n_vertices):
                raise ValueError(f"Invalid value for 'roi': native labels of subject {lsp.subject} {lsp.n_vertices} "
                                 f"do not match the native surface of {L.subject_name(s)} {space.n_vertices}.")
            if not space.is_native and lsp.n_vertices["lh"] < space.n_vertices["lh"]:
                L.check_density("roi", lsp.density, space.density, f"the {labels.atlas!r} labels")
            for h in HEMIS:
                v = lsp.vertex[sel & (lsp.hemi == h)]
                hm = np.zeros(space.n_vertices[h], dtype=bool)
                hm[v[v < space.n_vertices[h]]] = True  # nested templates: cut to the prefix
                keep[h] &= hm
        if mask is not None:
            if isinstance(mask, dict):
                parts = {h: np.asarray(mask[h], dtype=bool) for h in HEMIS}
            else:
                m = np.asarray(mask, dtype=bool)
                n_all = space.n_vertices["lh"] + space.n_vertices["rh"]
                if m.shape != (n_all,):
                    raise ValueError(f"Invalid shape for 'mask': expected ({n_all},) (lh then rh, {space.density}); got {m.shape}.")
                parts = {"lh": m[: space.n_vertices["lh"]], "rh": m[space.n_vertices["lh"]:]}
            for h in HEMIS:
                if parts[h].shape != (space.n_vertices[h],):
                    raise ValueError(f"Invalid shape for 'mask[{h!r}]': expected ({space.n_vertices[h]},); got {parts[h].shape}.")
                keep[h] &= parts[h]
        return {h: np.flatnonzero(keep[h]) for h in HEMIS}

    # -----------------------------------------------------------------------------------------
    # fsaverage .mgh

    def fsaverage(self, s, ses_list, version, roi, mask, density, progress: bool) -> Betas:
        """fsaverage betas of the selected vertices over ``ses_list`` (at ``density``, or the files')."""
        opened, dens, rows = [], None, None
        for ses in ses_list:  # headers only: shapes, dtypes, densities, trial counts
            imgs = {}
            for h in HEMIS:
                path = self._file(L.surface_betas_path(s, h, ses, version), f"fsaverage betas of {L.subject_name(s)} session {ses}")
                img = read_mgh(path)
                if img.get_data_dtype() != np.dtype(">f4"):
                    raise ValueError(f"Wrong dtype in {path}: NSD surface betas are big-endian float32; got {img.get_data_dtype()}.")
                file_dens = L.density_of(img.shape[0], path)
                if dens is None:
                    dens = L.check_density("density", file_dens, density, path)
                else:
                    L.check_density("density", file_dens, dens, path)
                imgs[h] = (img, path)
            n_t = {h: (imgs[h][0].shape[3] if len(imgs[h][0].shape) == 4 else 1) for h in HEMIS}
            if n_t["lh"] != n_t["rh"]:
                raise ValueError(f"Wrong shape in {imgs['rh'][1]}: {n_t['rh']} trials, but lh has {n_t['lh']}.")
            opened.append((ses, imgs, n_t["lh"]))
        space = SurfaceSpace.full(dens)
        rows = self.keep(s, space, roi, mask)
        opened = [(ses, imgs, n_t, imgs["lh"][1]) for ses, imgs, n_t in opened]
        data = self._read_selected_rows(s, opened, rows, "fsaverage betas",
                                        lambda h, imgs: read_surface_rows(imgs[h][0], rows[h]), progress)
        fs = SurfaceSpace.from_indices(rows, dens)
        return self.design.assemble(s, data, fs, version)

    def _read_selected_rows(self, s, opened, rows, what, read, progress: bool):
        """Fill (n_trials, n_selected) float32 betas session by session, lh columns then rh:
        ``opened`` holds (session, per-hemisphere handles, n_trials, path for the trial table) and
        ``read(hemi, handles)`` returns one session's selected columns of one hemisphere."""
        from neuro_igc._utils import progress_bar as tqdm

        n_sel = {h: rows[h].size for h in HEMIS}
        data = np.empty((sum(o[2] for o in opened), n_sel["lh"] + n_sel["rh"]), dtype=np.float32)
        metas, flags, t0 = [], [], 0
        for ses, handles, n_t, meta_path in tqdm(opened, desc=f"{L.subject_name(s)} {what}", disable=not progress):
            c0 = 0
            for h in HEMIS:
                data[t0:t0 + n_t, c0:c0 + n_sel[h]] = read(h, handles)
                value = constant_value(data[t0:t0 + n_t, c0:c0 + n_sel[h]])
                if value is not None:  # a session of this hemisphere without responses
                    path = handles[h][1] if isinstance(handles[h], tuple) else handles[h]
                    flags.append((ses, h, path, value))
                c0 += n_sel[h]
            metas.append(self.design.trial_meta(s, ses, n_t, meta_path))
            t0 += n_t
        return data, metas, flags

    # -----------------------------------------------------------------------------------------
    # native surface .hdf5

    def native(self, s, ses_list, version, roi, mask, progress: bool) -> Betas:
        """Native-surface betas of the selected vertices over ``ses_list``."""
        counts = None
        have_tr = self.transforms.has(s, "fsaverage-to-white")
        opened = []
        for ses in ses_list:
            shapes = {}
            for h in HEMIS:
                what = f"native-surface betas of {L.subject_name(s)} session {ses}"
                path = self._file(L.native_betas_path(s, h, ses, version), what)
                with open_hdf5(path, what) as f:
                    d = hdf5_dataset(f, "betas", what)
                    if d.dtype != np.int16 or d.ndim != 2:
                        raise ValueError(f"Wrong shape/dtype in {path}: NSD native-surface betas are int16 (n_trials, "
                                         f"n_vertices) (x{VOLUME_SCALE:g}); got {d.dtype} {d.shape}.")
                    shapes[h] = (d.shape, path)
            if shapes["lh"][0][0] != shapes["rh"][0][0]:
                raise ValueError(f"Wrong shape in {shapes['rh'][1]}: {shapes['rh'][0][0]} trials, but lh has {shapes['lh'][0][0]}.")
            here = {h: int(shapes[h][0][1]) for h in HEMIS}
            if counts is None:
                counts = self.transforms.native_counts(s) if have_tr else here
            for h in HEMIS:
                if here[h] != counts[h]:
                    raise ValueError(f"Wrong shape in {shapes[h][1]}: {L.subject_name(s)} {h} has {counts[h]} native "
                                     f"vertices; the betas have {here[h]}.")
            opened.append((ses, {h: shapes[h][1] for h in HEMIS}, shapes["lh"][0][0]))
        space = SurfaceSpace.full(NATIVE, subject=s, n_vertices=counts)
        rows = self.keep(s, space, roi, mask)

        def read(h, paths):
            with open_hdf5(paths[h], "native-surface betas") as f, reading(paths[h], "native-surface betas"):
                raw = read_hdf5_columns(hdf5_dataset(f, "betas", "native-surface betas"), rows[h])
            return raw.astype(np.float32) / np.float32(VOLUME_SCALE)

        opened = [(ses, paths, n_t, paths["lh"]) for ses, paths, n_t in opened]
        data = self._read_selected_rows(s, opened, rows, "native-surface betas", read, progress)
        fs = SurfaceSpace.from_indices(rows, NATIVE, subject=s, n_vertices=counts)
        return self.design.assemble(s, data, fs, version)
