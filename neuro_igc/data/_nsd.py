"""``NSD(root)``: loaders for an NSD folder, real or synthetic (layout in ``_layout.py``)."""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path

import numpy as np

from neuro_igc._read import hdf5_dataset, image_data, load_image, open_hdf5, read_table, reading
from neuro_igc._utils import check_option
from neuro_igc.data import _layout as L
from neuro_igc.data._betas import Betas, zscore_per_session
from neuro_igc.data._expdesign import ExpDesign
from neuro_igc.data._images import resize_images, to_luminance
from neuro_igc.data._io import VOLUME_SCALE, read_mgh
from neuro_igc.data._native import SurfaceMixin, check_density, density_of
from neuro_igc.data._readers import read_hdf5_columns, read_hdf5_voxels, read_surface_rows
from neuro_igc.data._roi import ROILabels
from neuro_igc.data._sanity import constant_value, drop_flagged_sessions
from neuro_igc.data._spaces import HEMIS, NATIVE, SurfaceSpace, VolumeSpace
from neuro_igc.data._splits import SplitsMixin

__all__ = ["NSD"]

logger = logging.getLogger(__name__)

#: what to do with NaN betas: drop the features NaN in every trial (and raise on partial NaN),
#: drop every feature holding a NaN, keep them, or raise on any NaN
NAN_POLICIES = ("drop", "drop-any", "keep", "raise")
#: voxels marked invalid in a session's valid_sessionNN mask: drop them, NaN in that session, keep as stored
INVALID_POLICIES = ("drop", "nan", "keep")
SOURCES = ("auto", "nifti", "hdf5")


class NSD(SurfaceMixin, SplitsMixin):
    """An NSD folder (real, or synthetic from :func:`neuro_igc.data.synthetic.make_nsd_like`).

    Parameters
    ----------
    root : str or Path
        Folder holding ``nsddata``, ``nsddata_betas`` and ``nsddata_stimuli``.
    progress : bool, default=True
        tqdm bars on slow reads.

    Examples
    --------
    >>> nsd = NSD("/data/nsd")                                      # doctest: +SKIP
    >>> b = nsd.betas(1, sessions=[1, 2], roi=("prf-visualrois", None))  # doctest: +SKIP
    >>> b.data.shape, b.image_ids[:3]                               # doctest: +SKIP
    """

    def __init__(self, root, progress: bool = True):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"NSD root {self.root} is not a folder; give the folder that holds nsddata/, "
                "nsddata_betas/ and nsddata_stimuli/ (or write one with `neuro-igc synth DIR`)."
            )
        self.progress = progress

    def __repr__(self) -> str:
        return f"NSD({str(self.root)!r})"

    def _file(self, rel: Path, what: str) -> Path:
        return L.require_file(self.root, rel, what)

    # -----------------------------------------------------------------------------------------
    # design, behaviour, stimulus table

    @cached_property
    def expdesign(self) -> ExpDesign:
        """The experiment design (``nsd_expdesign.mat``), 0-based (see :class:`ExpDesign`)."""
        return ExpDesign.from_mat(self._file(L.expdesign_path(), "experiment design"))

    @property
    def shared_ids(self) -> np.ndarray:
        """0-based 73k ids of the 1000 shared images."""
        return self.expdesign.shared_ids

    def responses(self, subject):
        """``responses.tsv`` of a subject as a DataFrame, columns as on disk (73KID, 10KID 1-based),
        plus ``image_id`` (0-based 73k id) and ``image_10k`` (0-based 10k index)."""
        s = L.subject_id(subject)
        path = self._file(L.responses_path(s), f"behavioural responses of {L.subject_name(s)}")
        df = read_table(path, "behavioural responses", sep="\t", columns=L.RESPONSES_COLUMNS)
        df["image_id"] = df["73KID"].astype(np.int64) - 1
        df["image_10k"] = df["10KID"].astype(np.int64) - 1
        return df

    def stim_info(self):
        """``nsd_stim_info_merged.csv`` as a DataFrame (nsdId 0-based; repK trial numbers 1-based)."""
        return read_table(self._file(L.stim_info_path(), "stimulus information table"), "stimulus information table",
                          index_col=0)

    def sessions(self, subject, space: str = "fsaverage", version: str = L.BETA_VERSIONS[0]) -> list[int]:
        """Sessions of ``subject`` whose beta files are on disk."""
        s = L.subject_id(subject)
        L.check_space(space)
        out = []
        for ses in range(1, L.SESSIONS_PER_SUBJECT[s - 1] + 1):
            if space == "fsaverage":
                ok = (self.root / L.surface_betas_path(s, "lh", ses, version)).is_file()
            elif space == "nativesurface":
                ok = (self.root / L.native_betas_path(s, "lh", ses, version)).is_file()
            else:
                ok = any((self.root / L.volume_betas_path(s, space, ses, version, e)).is_file()
                         for e in (".nii.gz", ".hdf5"))
            if ok:
                out.append(ses)
        return out

    def _resolve_sessions(self, s: int, sessions, space: str, version: str) -> list[int]:
        if sessions is None:
            found = self.sessions(s, space, version)
            if not found:  # name the first expected file
                rel = (L.surface_betas_path(s, "lh", 1, version) if space == "fsaverage"
                       else L.native_betas_path(s, "lh", 1, version) if space == "nativesurface"
                       else L.volume_betas_path(s, space, 1, version, ".nii.gz"))
                self._file(rel, f"{space} betas of {L.subject_name(s)}")
            return found
        if isinstance(sessions, str):
            return self.preset_sessions(s, sessions)
        return L.check_sessions(s, sessions)

    # -----------------------------------------------------------------------------------------
    # betas

    def betas(
        self,
        subject,
        sessions=None,
        space: str = "fsaverage",
        *,
        version: str = L.BETA_VERSIONS[0],
        roi=None,
        mask=None,
        density: str | None = None,
        source: str = "auto",
        nan: str = "drop",
        invalid: str = "drop",
        zscore: bool = False,
        zscore_exclude=None,
    ) -> Betas:
        """Single-trial betas of one subject, in percent signal change.

        Only the selected features are kept in memory while reading (``roi``/``mask``): a
        full-density fsaverage hemisphere is read in blocks of trials, HDF5 files by blocks of
        their own chunks (one chunk per voxel or vertex in NSD).

        Parameters
        ----------
        subject : int or str
            1..8 or ``"subj01"``.
        sessions : int, list of int, str or None, default=None
            1-based sessions; a preset name (``"nsd37"``: every session but the last 3, see
            :meth:`preset_sessions`); None = every session on disk.
        space : {"fsaverage", "nativesurface", "func1pt8mm", "func1mm"}, default="fsaverage"
        version : str, default="betas_fithrf_GLMdenoise_RR"
        roi : str, (atlas, names), ROILabels or None
            Keep the features inside an ROI: an atlas name (every labelled feature), an
            ``(atlas, name or names)`` pair, or labels from :meth:`roi` (label > 0). On fsaverage,
            group atlases are read from ``freesurfer/fsaverage/label`` and subject atlases are the
            subject's native labels mapped through NSD's ``white-to-fsaverage`` transforms.
        mask : bool array or None
            Surface: (n_lh + n_rh,) at the output density, or ``{"lh": ..., "rh": ...}``; volume:
            (X, Y, Z). Combined with ``roi`` (and, in volumes, with the brain mask) by AND.
        density : {"fsaverage", "fsaverage5"} or None
            fsaverage only: decimate full-density files to fsaverage5 (first 10242 vertices).
        source : {"auto", "nifti", "hdf5"}, default="auto"
            Volume only: ``betas_sessionNN.nii.gz`` or ``.hdf5`` (auto: hdf5 when present).
        nan : {"drop", "drop-any", "keep", "raise"}, default="drop"
            Non-finite betas, NaN and +-inf alike, counted as read (before ``zscore``).
            ``"drop"``: drop the features that are NaN in every trial (outside the subject's
            coverage in NSD's fsaverage files), logging how many; a feature NaN in only some
            trials raises. ``"drop-any"`` drops those too, ``"keep"`` keeps every NaN, ``"raise"``
            raises on any NaN. A session whose betas are constant (e.g. all zero) in a hemisphere
            or volume is dropped with a warning naming its file (an error when no session is left).
        invalid : {"drop", "nan", "keep"}, default="drop"
            Volumes: voxels marked invalid in a session's ``valid_sessionNN.nii.gz`` (stored as 0
            in the betas): drop the voxels invalid in any loaded session, make them NaN in those
            sessions (use with ``nan="keep"``), or keep the stored zeros.
        zscore : bool, default=False
            Z-score each feature within each session.
        zscore_exclude : int array-like or None
            With ``zscore``: 0-based 73k ids (e.g. the validation/test images) left out of the
            z-scoring statistics (their trials are still z-scored, with the others' mean and SD).

        Returns
        -------
        Betas
            ``data`` float32 (n_trials, n_features), trials in session then trial order, and
            ``feature_space`` saying where each column lives.
        """
        s = L.subject_id(subject)
        L.check_space(space)
        check_option("version", version, L.BETA_VERSIONS)
        check_option("nan", nan, NAN_POLICIES)
        check_option("invalid", invalid, INVALID_POLICIES)
        check_option("source", source, SOURCES)
        if zscore_exclude is not None and not zscore:
            raise ValueError("Invalid value for 'zscore_exclude': it sets what the z-scoring leaves out; pass zscore=True too.")
        ses_list = self._resolve_sessions(s, sessions, space, version)
        if space != "fsaverage" and density is not None and not (space == "nativesurface" and density == NATIVE):
            raise ValueError(f"Invalid value for 'density': only fsaverage surface betas have one; got {density!r} for {space!r}.")
        if space == "fsaverage":
            out = self._fsaverage_betas(s, ses_list, version, roi, mask, density)
        elif space == "nativesurface":
            out = self._native_betas(s, ses_list, version, roi, mask)
        else:
            out = self._volume_betas(s, ses_list, space, version, roi, mask, source, invalid)
        out = self._handle_nan(out, nan)
        return zscore_per_session(out, exclude_ids=zscore_exclude) if zscore else out

    def _trial_meta(self, s: int, session: int, n_trials: int, path) -> dict:
        if n_trials > L.TRIALS_PER_SESSION:
            raise ValueError(f"Wrong shape in {path}: at most {L.TRIALS_PER_SESSION} trials per session; got {n_trials}.")
        g = self.expdesign.session_trials(session, n_trials)
        return {
            "image_ids": self.expdesign.image_ids(s, g),
            "session": np.full(n_trials, session, dtype=np.int64),
            "trial": np.arange(1, n_trials + 1, dtype=np.int64),
            "global_trial": g + 1,
        }

    # -----------------------------------------------------------------------------------------
    # feature selection

    def _roi_selection(self, roi, space, s, density):
        """ROI labels (any surface/volume space) and the boolean of their selected features."""
        if isinstance(roi, ROILabels):
            return roi, roi.mask()
        atlas = roi[0] if isinstance(roi, tuple) else roi
        if not isinstance(atlas, str):
            raise ValueError(f"Invalid value for 'roi': expected an atlas name, (atlas, names) or ROILabels; got {roi!r}.")
        labels = self.roi(atlas, space, subject=s, density=density)
        return labels, (labels.mask(roi[1]) if isinstance(roi, tuple) else labels.mask())

    def _surface_keep(self, s, space: SurfaceSpace, roi, mask) -> dict[str, np.ndarray]:
        """Per hemisphere, the sorted vertex indices of ``space`` (a full surface) to read."""
        keep = {h: np.ones(space.n_vertices[h], dtype=bool) for h in HEMIS}
        if roi is not None:
            labels, sel = self._roi_selection(roi, space.name, s, None if space.is_native else space.density)
            lsp = labels.feature_space
            if not isinstance(lsp, SurfaceSpace) or lsp.is_native != space.is_native:
                raise ValueError(f"Invalid value for 'roi': labels in {labels.space!r} cannot select {space.name!r} betas.")
            if space.is_native and (lsp.subject != s or lsp.n_vertices != space.n_vertices):
                raise ValueError(f"Invalid value for 'roi': native labels of subject {lsp.subject} {lsp.n_vertices} "
                                 f"do not match the native surface of {L.subject_name(s)} {space.n_vertices}.")
            if not space.is_native and lsp.n_vertices["lh"] < space.n_vertices["lh"]:
                check_density("roi", lsp.density, space.density, f"the {labels.atlas!r} labels")
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

    def _assemble(self, s, parts, feature_space, version) -> Betas:
        """Stack per-session (n_trials, n_features) blocks (already in ``out``) with their trial metadata."""
        data, metas, flags = parts
        meta = {k: np.concatenate([m[k] for m in metas]) for k in metas[0]}
        out = Betas(data, subject=s, feature_space=feature_space, info={"version": version}, **meta)
        return drop_flagged_sessions(out, flags, f"{L.subject_name(s)} ({feature_space.name})")

    # -----------------------------------------------------------------------------------------
    # fsaverage .mgh

    def _fsaverage_betas(self, s, ses_list, version, roi, mask, density) -> Betas:
        opened, dens, rows = [], None, None
        for ses in ses_list:  # headers only: shapes, dtypes, densities, trial counts
            imgs = {}
            for h in HEMIS:
                path = self._file(L.surface_betas_path(s, h, ses, version), f"fsaverage betas of {L.subject_name(s)} session {ses}")
                img = read_mgh(path)
                if img.get_data_dtype() != np.dtype(">f4"):
                    raise ValueError(f"Wrong dtype in {path}: NSD surface betas are big-endian float32; got {img.get_data_dtype()}.")
                file_dens = density_of(img.shape[0], path)
                if dens is None:
                    dens = check_density("density", file_dens, density, path)
                else:
                    check_density("density", file_dens, dens, path)
                imgs[h] = (img, path)
            n_t = {h: (imgs[h][0].shape[3] if len(imgs[h][0].shape) == 4 else 1) for h in HEMIS}
            if n_t["lh"] != n_t["rh"]:
                raise ValueError(f"Wrong shape in {imgs['rh'][1]}: {n_t['rh']} trials, but lh has {n_t['lh']}.")
            opened.append((ses, imgs, n_t["lh"]))
        space = SurfaceSpace.full(dens)
        rows = self._surface_keep(s, space, roi, mask)
        opened = [(ses, imgs, n_t, imgs["lh"][1]) for ses, imgs, n_t in opened]
        data = self._read_selected_rows(s, opened, rows, "fsaverage betas",
                                        lambda h, imgs: read_surface_rows(imgs[h][0], rows[h]))
        fs = SurfaceSpace.from_indices(rows, dens)
        return self._assemble(s, data, fs, version)

    def _read_selected_rows(self, s, opened, rows, what, read):
        """Fill (n_trials, n_selected) float32 betas session by session, lh columns then rh:
        ``opened`` holds (session, per-hemisphere handles, n_trials, path for the trial table) and
        ``read(hemi, handles)`` returns one session's selected columns of one hemisphere."""
        from neuro_igc._utils import progress_bar as tqdm

        n_sel = {h: rows[h].size for h in HEMIS}
        data = np.empty((sum(o[2] for o in opened), n_sel["lh"] + n_sel["rh"]), dtype=np.float32)
        metas, flags, t0 = [], [], 0
        for ses, handles, n_t, meta_path in tqdm(opened, desc=f"{L.subject_name(s)} {what}",
                                                 disable=not self.progress):
            c0 = 0
            for h in HEMIS:
                data[t0:t0 + n_t, c0:c0 + n_sel[h]] = read(h, handles)
                value = constant_value(data[t0:t0 + n_t, c0:c0 + n_sel[h]])
                if value is not None:  # a session of this hemisphere without responses
                    path = handles[h][1] if isinstance(handles[h], tuple) else handles[h]
                    flags.append((ses, h, path, value))
                c0 += n_sel[h]
            metas.append(self._trial_meta(s, ses, n_t, meta_path))
            t0 += n_t
        return data, metas, flags

    # -----------------------------------------------------------------------------------------
    # native surface .hdf5

    def _native_betas(self, s, ses_list, version, roi, mask) -> Betas:
        counts = None
        have_tr = (self.root / L.transform_path(s, "lh", "fsaverage-to-white")).is_file()
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
                counts = self._native_counts(s) if have_tr else here
            for h in HEMIS:
                if here[h] != counts[h]:
                    raise ValueError(f"Wrong shape in {shapes[h][1]}: {L.subject_name(s)} {h} has {counts[h]} native "
                                     f"vertices; the betas have {here[h]}.")
            opened.append((ses, {h: shapes[h][1] for h in HEMIS}, shapes["lh"][0][0]))
        space = SurfaceSpace.full(NATIVE, subject=s, n_vertices=counts)
        rows = self._surface_keep(s, space, roi, mask)

        def read(h, paths):
            with open_hdf5(paths[h], "native-surface betas") as f, reading(paths[h], "native-surface betas"):
                raw = read_hdf5_columns(hdf5_dataset(f, "betas", "native-surface betas"), rows[h])
            return raw.astype(np.float32) / np.float32(VOLUME_SCALE)

        opened = [(ses, paths, n_t, paths["lh"]) for ses, paths, n_t in opened]
        data = self._read_selected_rows(s, opened, rows, "native-surface betas", read)
        fs = SurfaceSpace.from_indices(rows, NATIVE, subject=s, n_vertices=counts)
        return self._assemble(s, data, fs, version)

    # -----------------------------------------------------------------------------------------
    # volumes

    def _brainmask(self, s, space):
        path = self._file(L.brainmask_path(s, space), f"{space} brain mask of {L.subject_name(s)}")
        img = load_image(path, "brain mask")
        return image_data(img, what="brain mask") > 0, img.affine

    def _volume_selection(self, s, space, roi, mask):
        brain, affine = self._brainmask(s, space)
        keep = brain.copy()
        if roi is not None:
            labels, sel = self._roi_selection(roi, space, s, None)
            if not isinstance(labels.feature_space, VolumeSpace) or labels.feature_space.shape != brain.shape:
                raise ValueError(f"Invalid value for 'roi': labels in {labels.space!r} cannot select {space!r} voxels.")
            vol = np.zeros(brain.shape, dtype=bool)
            vol[tuple(labels.ijk[sel].T)] = True
            keep &= vol
        if mask is not None:
            m = np.asarray(mask, dtype=bool)
            if m.shape != brain.shape:
                raise ValueError(f"Invalid shape for 'mask': expected the volume shape {brain.shape}; got {m.shape}.")
            keep &= m
        return np.argwhere(keep), affine, brain.shape

    def valid_mask(self, subject, session: int, space: str = "func1pt8mm") -> np.ndarray | None:
        """Boolean (X, Y, Z) ``valid_sessionNN.nii.gz`` of a session (True = valid), or None when
        the folder has no such file."""
        s = L.subject_id(subject)
        path = self.root / L.valid_session_path(s, space, int(session))
        if not path.is_file():
            return None
        return image_data(load_image(path, "valid-voxel mask"), what="valid-voxel mask") > 0

    def _volume_betas(self, s, ses_list, space, version, roi, mask, source, invalid) -> Betas:
        from neuro_igc._utils import progress_bar as tqdm

        ijk, affine, shape = self._volume_selection(s, space, roi, mask)
        blocks, metas, valid, flags = [], [], [], []
        for ses in tqdm(ses_list, desc=f"{L.subject_name(s)} {space} betas", disable=not self.progress):
            raw, path = self._read_volume_session(s, space, ses, version, source, ijk, shape)
            blocks.append(raw.astype(np.float32) / np.float32(VOLUME_SCALE))
            value = constant_value(blocks[-1])
            if value is not None:
                flags.append((ses, None, path, value))
            metas.append(self._trial_meta(s, ses, raw.shape[0], path))
            if invalid != "keep":
                vm = self.valid_mask(s, ses, space)
                if vm is None:
                    logger.warning("%s: no %s; every voxel of session %d is treated as valid",
                                   L.subject_name(s), L.valid_session_path(s, space, ses), ses)
                    valid.append(np.ones(len(ijk), dtype=bool))
                else:
                    if vm.shape != tuple(shape):
                        raise ValueError(f"Wrong shape in {self.root / L.valid_session_path(s, space, ses)}: expected "
                                         f"{tuple(shape)}; got {vm.shape}.")
                    valid.append(vm[tuple(ijk.T)])
        data = np.concatenate(blocks, axis=0)
        fs = VolumeSpace(ijk, affine, shape, name=space, subject=s)
        out = self._assemble(s, (data, metas, flags), fs, version)
        if valid:
            ok = np.stack(valid)  # (n_sessions, n_voxels)
            n_bad = int((~ok.all(axis=0)).sum())
            if invalid == "nan":
                for k, ses in enumerate(ses_list):
                    out.data[np.ix_(out.session == ses, ~ok[k])] = np.nan
                logger.info("%s %s: %d voxels invalid in some sessions set to NaN there", L.subject_name(s), space, n_bad)
            elif n_bad:
                logger.info("%s %s: dropped %d of %d voxels invalid in at least one loaded session",
                            L.subject_name(s), space, n_bad, len(ijk))
                out = out.select_features(ok.all(axis=0))
            out.info["invalid_voxels"] = n_bad
        return out

    def _read_volume_session(self, s, space, ses, version, source, ijk, shape):
        """int16 (n_trials, n_voxels) of one session from .hdf5 (by voxel chunks) or .nii.gz."""
        what = f"{space} betas of {L.subject_name(s)} session {ses}"
        h5 = self.root / L.volume_betas_path(s, space, ses, version, ".hdf5")
        use_h5 = source == "hdf5" or (source == "auto" and h5.is_file())
        if use_h5:
            path = self._file(L.volume_betas_path(s, space, ses, version, ".hdf5"), what)
            with open_hdf5(path, what) as f, reading(path, what):
                d = hdf5_dataset(f, "betas", what)
                if d.dtype != np.int16:
                    raise ValueError(f"Wrong dtype in {path}: NSD volume betas are int16 (x{VOLUME_SCALE:g}); got {d.dtype}.")
                if d.ndim != 4 or tuple(d.shape[1:]) != tuple(shape[::-1]):
                    raise ValueError(
                        f"Wrong shape in {path}: h5py gives (n_trials, Z, Y, X) = (n, {shape[2]}, {shape[1]}, "
                        f"{shape[0]}) for a {shape} brain mask; got {d.shape}."
                    )
                out = read_hdf5_voxels(d, ijk)
            return out, path
        path = self._file(L.volume_betas_path(s, space, ses, version, ".nii.gz"), what)
        img = load_image(path, what)
        if img.get_data_dtype() != np.int16:
            raise ValueError(f"Wrong dtype in {path}: NSD volume betas are int16 (x{VOLUME_SCALE:g}); got {img.get_data_dtype()}.")
        if len(img.shape) != 4 or tuple(img.shape[:3]) != tuple(shape):
            raise ValueError(f"Wrong shape in {path}: expected (X, Y, Z, n_trials) with (X, Y, Z) = {shape}; got {img.shape}.")
        data = image_data(img, unscaled=True, what=what)  # gzip streams: one pass, then keep the voxels
        return np.ascontiguousarray(data[tuple(ijk.T)].T), path

    # -----------------------------------------------------------------------------------------
    # NaN features

    @staticmethod
    def _nan_columns(data: np.ndarray, block: int = 8192):
        """(any non-finite, all non-finite) per column -- NaN and +-inf alike -- a block of
        columns at a time (no full-size temporary)."""
        n = data.shape[1]
        any_, all_ = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        for c0 in range(0, n, block):
            m = ~np.isfinite(data[:, c0:c0 + block])
            any_[c0:c0 + block] = m.any(axis=0)
            all_[c0:c0 + block] = m.all(axis=0) if data.shape[0] else False
        return any_, all_

    def _handle_nan(self, b: Betas, nan: str) -> Betas:
        """The ``nan=`` policy, applied to NaN and infinite betas alike, before any z-scoring (which
        would spread one infinite beta over its whole session)."""
        if nan == "keep" or b.n_features == 0:
            return b
        any_nan, all_nan = self._nan_columns(b.data)
        if not any_nan.any():
            return b

        def where(idx):
            col = b.data[:, idx]
            kinds = "/".join(k for k, m in (("NaN", np.isnan(col)), ("inf", np.isinf(col))) if m.any())
            rows = np.flatnonzero(~np.isfinite(col))
            ses = sorted(set(b.session[rows].tolist()))
            loc = f"{b.hemi[idx]} vertex {b.vertex[idx]}" if b.hemi is not None else f"voxel {tuple(b.ijk[idx])}"
            return f"{loc}, {kinds} in {rows.size} of {b.n_trials} trials, session(s) {ses[:5]}"

        who = f"{L.subject_name(b.subject)} ({b.space})"
        partial = any_nan & ~all_nan
        n_inf = int(np.isinf(b.data[:, any_nan]).any(axis=0).sum())
        kind = "NaN or infinite" if n_inf else "NaN"
        if nan == "raise":
            first = int(np.flatnonzero(any_nan)[0])
            raise ValueError(f"{kind} betas in {int(any_nan.sum())} of {b.n_features} features of {who} (first: "
                             f"{where(first)}); pass nan='drop' to drop the features NaN in every trial.")
        if nan == "drop" and partial.any():
            first = int(np.flatnonzero(partial)[0])
            raise ValueError(
                f"{kind} betas in only some trials of {int(partial.sum())} features of {who} (first: {where(first)}); "
                "pass nan='drop-any' to drop them as well, or nan='keep'."
            )
        drop = all_nan if nan == "drop" else any_nan
        logger.info("%s: dropped %d of %d features with %s betas (%s; %d with infinite values)", who, int(drop.sum()),
                    b.n_features, kind, "in every trial" if nan == "drop" else "in any trial",
                    int(np.isinf(b.data[:, drop]).any(axis=0).sum()) if drop.any() else 0)
        out = b.select_features(~drop)
        out.info = {**b.info, "nan_dropped": int(drop.sum())}
        return out

    # -----------------------------------------------------------------------------------------
    # noise ceiling SNR

    def ncsnr(self, subject, space: str = "fsaverage", *, version: str = L.BETA_VERSIONS[0],
              roi=None, mask=None, density: str | None = None, like: Betas | None = None) -> np.ndarray:
        """Noise-ceiling SNR per feature, float32 (n_features,).

        Aligned with ``like`` (betas of the same subject: their exact features, after NaN
        features were dropped), else with :meth:`betas` called with the same
        ``space``/``roi``/``mask``/``density`` and ``nan="keep"``. See :func:`noise_ceiling`.
        """
        s = L.subject_id(subject)
        if like is not None:
            if like.subject != s:
                raise ValueError(f"Invalid value for 'like': betas of subject {like.subject}, ncsnr asked for {s}.")
            space = like.space
        L.check_space(space)
        if space == "nativesurface":
            raise ValueError("Invalid value for 'space': NSD ships ncsnr on fsaverage and in the volumes, not on the "
                             "native surface; map the fsaverage ncsnr with NSD.to_native.")
        if space == "fsaverage":
            imgs = {}
            for h in HEMIS:
                path = self._file(L.ncsnr_surface_path(s, h, version), f"ncsnr of {L.subject_name(s)}")
                imgs[h] = (read_mgh(path), path)
            file_dens = density_of(imgs["lh"][0].shape[0], imgs["lh"][1])
            if like is not None:
                check_density("density", file_dens, like.density, imgs["lh"][1])
                rows = {h: like.feature_space.indices(h) for h in HEMIS}
            else:
                rows = self._surface_keep(s, SurfaceSpace.full(check_density("density", file_dens, density, imgs["lh"][1])),
                                          roi, mask)
            return np.concatenate([read_surface_rows(imgs[h][0], rows[h])[0] for h in HEMIS]).astype(np.float32)
        ijk = like.ijk if like is not None else self._volume_selection(s, space, roi, mask)[0]
        path = self._file(L.ncsnr_volume_path(s, space, version), f"ncsnr of {L.subject_name(s)}")
        return image_data(load_image(path, "ncsnr"), dtype=np.float32, what="ncsnr")[tuple(ijk.T)]

    # -----------------------------------------------------------------------------------------
    # stimuli

    def stimuli(self, ids, size=None, luminance: bool = False, *, chunk: int = 256) -> np.ndarray:
        """Images by 0-based 73k id, read lazily from ``nsd_stimuli.hdf5`` (``imgBrick``).

        Parameters
        ----------
        ids : int array-like (n,)
            0-based 73k ids, any order, repeats allowed.
        size : int, (H, W) or None
            Resize (block mean for integer factors); None keeps the stored size.
        luminance : bool, default=False
            Return linear CIE Y luminance float32 (n, H, W) in [0, 1] (sRGB linearized, then
            resized) instead of uint8 sRGB (n, H, W, 3).
        chunk : int, default=256
            Images read from disk at once.
        """
        from neuro_igc._utils import progress_bar as tqdm

        ids = np.asarray(ids)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"Invalid value for 'ids': expected a 1-D integer array of 0-based 73k ids; got {ids.dtype} {ids.shape}.")
        if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
            raise ValueError(f"Invalid value for 'chunk': images read at once, a positive integer; got {chunk!r}.")
        path = self._file(L.stimuli_path(), "stimulus images")
        with open_hdf5(path, "stimulus images") as f, reading(path, "stimulus images"):
            d = hdf5_dataset(f, "imgBrick", "stimulus images")
            if d.dtype != np.uint8 or d.ndim != 4 or d.shape[3] != 3:
                raise ValueError(f"Wrong shape/dtype in {path}: 'imgBrick' must be uint8 (n, H, W, 3); got {d.dtype} {d.shape}.")
            if ids.size and (ids.min() < 0 or ids.max() >= d.shape[0]):
                raise ValueError(
                    f"Invalid value for 'ids': 73k ids are 0-based, 0..{d.shape[0] - 1}; got values "
                    f"{int(ids.min())}..{int(ids.max())} (1-based ids from .mat/.tsv files need -1)."
                )
            uniq, inverse = np.unique(ids, return_inverse=True)
            out_size = None if size is None else (size, size) if np.isscalar(size) else tuple(size)
            shape = (out_size or d.shape[1:3])
            out = np.empty((uniq.size, *shape) + (() if luminance else (3,)),
                           dtype=np.float32 if luminance else np.uint8)
            for start in tqdm(range(0, uniq.size, chunk), desc="stimuli",
                              disable=not self.progress or uniq.size <= chunk):
                block = d[uniq[start:start + chunk]]
                if luminance:
                    block = to_luminance(block)
                if out_size is not None:
                    block = resize_images(block, out_size)
                out[start:start + chunk] = block
        return out[inverse]
