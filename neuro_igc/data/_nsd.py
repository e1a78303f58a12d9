"""``NSD(root)``: loaders for an NSD folder, real or synthetic (layout in ``_layout.py``)."""

from __future__ import annotations

import logging
import warnings
from functools import cached_property
from pathlib import Path

import numpy as np

from neuro_igc._read import hdf5_dataset, image_data, load_image, open_hdf5, read_table, reading
from neuro_igc._utils import check_option
from neuro_igc.data import _layout as L
from neuro_igc.data._betas import Betas, zscore_per_session
from neuro_igc.data._expdesign import ExpDesign
from neuro_igc.data._images import resize_images, to_luminance
from neuro_igc.data._io import VOLUME_SCALE, mgh_rows, read_ctab, read_mgh
from neuro_igc.data._roi import ROILabels

__all__ = ["NSD"]

logger = logging.getLogger(__name__)

HEMIS = ("lh", "rh")
NAN_POLICIES = ("raise", "drop")
SOURCES = ("auto", "nifti", "hdf5")
_HDF5_TRIAL_BLOCK = 50


def _density_of(n_vertices: int, path) -> str:
    for name, n in L.N_VERTICES.items():
        if n == n_vertices:
            return name
    raise ValueError(
        f"Wrong shape in {path}: {n_vertices} vertices matches no fsaverage density "
        f"({', '.join(f'{k}: {v}' for k, v in L.N_VERTICES.items())})."
    )


def _check_density(name: str, have: str, want: str | None, path) -> str:
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


class NSD:
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
            if space in L.SURFACE_SPACES:
                ok = (self.root / L.surface_betas_path(s, "lh", ses, version)).is_file()
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
                rel = (L.surface_betas_path(s, "lh", 1, version) if space in L.SURFACE_SPACES
                       else L.volume_betas_path(s, space, 1, version, ".nii.gz"))
                self._file(rel, f"{space} betas of {L.subject_name(s)}")
            return found
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
        nan: str = "raise",
        zscore: bool = False,
    ) -> Betas:
        """Single-trial betas of one subject, in percent signal change.

        Parameters
        ----------
        subject : int or str
            1..8 or ``"subj01"``.
        sessions : int, list of int or None, default=None
            1-based sessions; None = every session on disk.
        space : {"fsaverage", "func1pt8mm", "func1mm"}, default="fsaverage"
        version : str, default="betas_fithrf_GLMdenoise_RR"
        roi : str, (atlas, names), ROILabels or None
            Keep the features inside an ROI: an atlas name (every labelled feature), an
            ``(atlas, name or names)`` pair, or labels from :meth:`roi` (label > 0). Surface atlases
            come from the subject's own ``freesurfer/subjAA/label`` files when those are at an
            fsaverage density (synthetic folders), else from ``freesurfer/fsaverage/label``.
        mask : bool array or None
            Surface: (n_lh + n_rh,) at the output density, or ``{"lh": ..., "rh": ...}``; volume:
            (X, Y, Z). Combined with ``roi`` (and, in volumes, with the brain mask) by AND.
        density : {"fsaverage", "fsaverage5"} or None
            Surface only: decimate full-density files to fsaverage5 (first 10242 vertices).
        source : {"auto", "nifti", "hdf5"}, default="auto"
            Volume only: ``betas_sessionNN.nii.gz`` or ``.hdf5`` (auto: hdf5 when present).
        nan : {"raise", "drop"}, default="raise"
            Features holding NaN: raise, or drop them with a warning.
        zscore : bool, default=False
            Z-score each feature within each session.

        Returns
        -------
        Betas
            ``data`` float32 (n_trials, n_features), trials in session then trial order.
        """
        s = L.subject_id(subject)
        L.check_space(space)
        check_option("version", version, L.BETA_VERSIONS)
        check_option("nan", nan, NAN_POLICIES)
        check_option("source", source, SOURCES)
        ses_list = self._resolve_sessions(s, sessions, space, version)
        if space in L.SURFACE_SPACES:
            out = self._surface_betas(s, ses_list, version, roi, mask, density)
        else:
            if density is not None:
                raise ValueError(f"Invalid value for 'density': only surface spaces have one; got {density!r} for {space!r}.")
            out = self._volume_betas(s, ses_list, space, version, roi, mask, source)
        out = self._handle_nan(out, nan)
        return zscore_per_session(out) if zscore else out

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

    def _surface_selection(self, s, n_file, file_density, density, roi, mask, path):
        """Per hemisphere, the vertex indices to read; and the output density."""
        dens = _check_density("density", file_density, density, path)
        n = L.N_VERTICES[dens]
        keep = {h: np.ones(n, dtype=bool) for h in HEMIS}
        if roi is not None:
            labels = roi if isinstance(roi, ROILabels) else self._roi_from_spec(roi, "fsaverage", s, dens)
            sel = labels.mask() if not isinstance(roi, tuple) else labels.mask(roi[1])
            lab_dens = labels.density
            if lab_dens != dens:
                _check_density("roi", lab_dens, dens, f"the {labels.atlas!r} labels")
            for h in HEMIS:
                on = sel & (labels.hemi == h)
                hm = np.zeros(n, dtype=bool)
                v = labels.vertex[on]
                hm[v[v < n]] = True
                keep[h] &= hm
        if mask is not None:
            if isinstance(mask, dict):
                parts = {h: np.asarray(mask[h], dtype=bool) for h in HEMIS}
            else:
                m = np.asarray(mask, dtype=bool)
                if m.shape != (2 * n,):
                    raise ValueError(
                        f"Invalid shape for 'mask': expected ({2 * n},) (lh then rh at {dens}); got {m.shape}."
                    )
                parts = {"lh": m[:n], "rh": m[n:]}
            for h in HEMIS:
                if parts[h].shape != (n,):
                    raise ValueError(f"Invalid shape for 'mask[{h!r}]': expected ({n},) at {dens}; got {parts[h].shape}.")
                keep[h] &= parts[h]
        return {h: np.flatnonzero(keep[h]) for h in HEMIS}, dens

    def _surface_betas(self, s, ses_list, version, roi, mask, density) -> Betas:
        from tqdm.auto import tqdm

        blocks, metas, rows, dens = [], [], None, None
        for ses in tqdm(ses_list, desc=f"{L.subject_name(s)} fsaverage betas", disable=not self.progress):
            per_hemi = []
            for h in HEMIS:
                rel = L.surface_betas_path(s, h, ses, version)
                path = self._file(rel, f"surface betas of {L.subject_name(s)} session {ses}")
                img = read_mgh(path)
                if img.get_data_dtype() != np.dtype(">f4"):
                    raise ValueError(f"Wrong dtype in {path}: NSD surface betas are big-endian float32; got {img.get_data_dtype()}.")
                file_density = _density_of(img.shape[0], path)
                if rows is None:
                    rows, dens = self._surface_selection(s, img.shape[0], file_density, density, roi, mask, path)
                else:
                    _check_density("density", file_density, dens, path)
                per_hemi.append(mgh_rows(img, rows[h]).T.astype(np.float32))
                n_t = per_hemi[-1].shape[0]
                if per_hemi[0].shape[0] != n_t:
                    raise ValueError(f"Wrong shape in {path}: {n_t} trials, but lh has {per_hemi[0].shape[0]}.")
            blocks.append(np.concatenate(per_hemi, axis=1))
            metas.append(self._trial_meta(s, ses, blocks[-1].shape[0], path))
        meta = {k: np.concatenate([m[k] for m in metas]) for k in metas[0]}
        hemi = np.concatenate([np.full(rows[h].size, h) for h in HEMIS])
        vertex = np.concatenate([rows[h] for h in HEMIS]).astype(np.int64)
        return Betas(np.concatenate(blocks, axis=0), subject=s, space="fsaverage", hemi=hemi,
                     vertex=vertex, density=dens, info={"version": version}, **meta)

    def _brainmask(self, s, space):
        path = self._file(L.brainmask_path(s, space), f"{space} brain mask of {L.subject_name(s)}")
        img = load_image(path, "brain mask")
        return image_data(img, what="brain mask") > 0, img.affine

    def _volume_selection(self, s, space, roi, mask):
        brain, affine = self._brainmask(s, space)
        keep = brain.copy()
        if roi is not None:
            if isinstance(roi, ROILabels):
                labels = roi
                sel = labels.mask()
            else:
                labels = self._roi_from_spec(roi, space, s, None)
                sel = labels.mask() if not isinstance(roi, tuple) else labels.mask(roi[1])
            vol = np.zeros(brain.shape, dtype=bool)
            vol[tuple(labels.ijk[sel].T)] = True
            keep &= vol
        if mask is not None:
            m = np.asarray(mask, dtype=bool)
            if m.shape != brain.shape:
                raise ValueError(f"Invalid shape for 'mask': expected the volume shape {brain.shape}; got {m.shape}.")
            keep &= m
        return np.argwhere(keep), affine, brain.shape

    def _volume_betas(self, s, ses_list, space, version, roi, mask, source) -> Betas:
        from tqdm.auto import tqdm

        ijk, affine, shape = self._volume_selection(s, space, roi, mask)
        blocks, metas = [], []
        for ses in tqdm(ses_list, desc=f"{L.subject_name(s)} {space} betas", disable=not self.progress):
            raw, path = self._read_volume_session(s, space, ses, version, source, ijk, shape)
            blocks.append(raw.astype(np.float32) / np.float32(VOLUME_SCALE))
            metas.append(self._trial_meta(s, ses, raw.shape[0], path))
        meta = {k: np.concatenate([m[k] for m in metas]) for k in metas[0]}
        return Betas(np.concatenate(blocks, axis=0), subject=s, space=space, ijk=ijk.astype(np.int64),
                     affine=affine, volume_shape=tuple(shape), info={"version": version}, **meta)

    def _read_volume_session(self, s, space, ses, version, source, ijk, shape):
        """int16 (n_trials, n_voxels) of one session from .hdf5 (chunked) or .nii.gz."""
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
                out = np.empty((d.shape[0], len(ijk)), dtype=np.int16)
                i, j, k = ijk.T
                for t0 in range(0, d.shape[0], _HDF5_TRIAL_BLOCK):
                    block = d[t0:t0 + _HDF5_TRIAL_BLOCK]  # (b, Z, Y, X)
                    out[t0:t0 + block.shape[0]] = block[:, k, j, i]
            return out, path
        path = self._file(L.volume_betas_path(s, space, ses, version, ".nii.gz"), what)
        img = load_image(path, what)
        if img.get_data_dtype() != np.int16:
            raise ValueError(f"Wrong dtype in {path}: NSD volume betas are int16 (x{VOLUME_SCALE:g}); got {img.get_data_dtype()}.")
        if len(img.shape) != 4 or tuple(img.shape[:3]) != tuple(shape):
            raise ValueError(f"Wrong shape in {path}: expected (X, Y, Z, n_trials) with (X, Y, Z) = {shape}; got {img.shape}.")
        data = image_data(img, unscaled=True, what=what)  # gzip streams: one pass, then keep the voxels
        return np.ascontiguousarray(data[tuple(ijk.T)].T), path

    def _handle_nan(self, b: Betas, nan: str) -> Betas:
        bad = np.isnan(b.data).any(axis=0)
        if not bad.any():
            return b
        first = int(np.flatnonzero(bad)[0])
        where = (f"{b.hemi[first]} vertex {b.vertex[first]}" if b.hemi is not None
                 else f"voxel {tuple(b.ijk[first])}")
        msg = (f"NaN betas in {int(bad.sum())} of {b.n_features} features of {L.subject_name(b.subject)} "
               f"({b.space}; first: {where})")
        if nan == "raise":
            raise ValueError(msg + "; pass nan='drop' to drop those features with a warning.")
        warnings.warn(msg + "; dropped them (nan='drop').", RuntimeWarning, stacklevel=3)
        return b.select_features(~bad)

    # -----------------------------------------------------------------------------------------
    # noise ceiling SNR

    def ncsnr(self, subject, space: str = "fsaverage", *, version: str = L.BETA_VERSIONS[0],
              roi=None, mask=None, density: str | None = None) -> np.ndarray:
        """Noise-ceiling SNR per feature, float32 (n_features,), aligned with :meth:`betas` called
        with the same ``space``/``roi``/``mask``/``density``."""
        s = L.subject_id(subject)
        L.check_space(space)
        if space in L.SURFACE_SPACES:
            parts, rows = [], None
            for h in HEMIS:
                path = self._file(L.ncsnr_surface_path(s, h, version), f"ncsnr of {L.subject_name(s)}")
                img = read_mgh(path)
                if rows is None:
                    rows, _ = self._surface_selection(s, img.shape[0], _density_of(img.shape[0], path),
                                                      density, roi, mask, path)
                parts.append(mgh_rows(img, rows[h])[:, 0])
            return np.concatenate(parts).astype(np.float32)
        ijk, _, _ = self._volume_selection(s, space, roi, mask)
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
        from tqdm.auto import tqdm

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

    # -----------------------------------------------------------------------------------------
    # ROIs

    def _roi_from_spec(self, spec, space, s, density) -> ROILabels:
        atlas = spec[0] if isinstance(spec, tuple) else spec
        if not isinstance(atlas, str):
            raise ValueError(f"Invalid value for 'roi': expected an atlas name, (atlas, names) or ROILabels; got {spec!r}.")
        if space in L.SURFACE_SPACES:
            return self.roi(atlas, space, subject=s if self._subject_labels_on_fsaverage(s, atlas) else None,
                            density=density)
        return self.roi(atlas, space, subject=s)

    def _subject_labels_on_fsaverage(self, s: int, atlas: str) -> bool:
        """True when the subject's own label files have an fsaverage vertex count (the synthetic
        folders); real NSD subject labels live on native surfaces and are not used for fsaverage."""
        path = self.root / L.surface_label_path(s, "lh", atlas)
        return path.is_file() and load_image(path, f"{atlas!r} labels").shape[0] in L.N_VERTICES.values()

    def _table(self, subject, atlas) -> dict:
        for who in ([subject, None] if subject is not None else [None]):
            p = self.root / L.ctab_path(who, atlas)
            if p.is_file():
                return read_ctab(p)
        return read_ctab(self._file(L.ctab_path(subject, atlas), f"lookup table of {atlas!r}"))

    def roi(self, atlas: str, space: str = "fsaverage", subject=None, *, like: Betas | None = None,
            density: str | None = None, hemi: str | None = None) -> ROILabels:
        """ROI labels of an atlas, aligned with the features of ``like`` (or of the whole space).

        Parameters
        ----------
        atlas : str
            e.g. ``"prf-visualrois"``, ``"streams"``, ``"nsdgeneral"``, ``"floc-faces"``.
        space : {"fsaverage", "func1pt8mm", "func1mm"}
        subject : int, str or None
            Surface: None reads ``freesurfer/fsaverage/label``, a subject reads its own
            ``freesurfer/subjAA/label`` files. Volume: required.
        like : Betas, optional
            Return one label per feature of these betas (same order).
        density : {"fsaverage", "fsaverage5"} or None
            Surface, without ``like``: decimate labels to this density.
        hemi : {"lh", "rh"} or None
            Volume only: the hemisphere-specific file ``roi/{hemi}.<atlas>.nii.gz``.

        Returns
        -------
        ROILabels
        """
        L.check_space(space)
        s = None if subject is None else L.subject_id(subject)
        if like is not None:
            if like.space != space:
                raise ValueError(f"Invalid value for 'like': betas are in {like.space!r}, labels asked in {space!r}.")
            density = like.density if density is None else density
        if space in L.SURFACE_SPACES:
            table = self._table(s, atlas)
            hemi_labels, dens = {}, None
            for h in HEMIS:
                path = self._file(L.surface_label_path(s, h, atlas), f"{atlas!r} labels")
                lab = image_data(load_image(path, f"{atlas!r} labels"), what=f"{atlas!r} labels").reshape(-1).astype(np.int64)
                file_dens = _density_of(lab.size, path)
                dens = _check_density("density", file_dens, density, path)
                hemi_labels[h] = lab[: L.N_VERTICES[dens]]
            if like is not None:
                labels = np.empty(like.n_features, dtype=np.int64)
                for h in HEMIS:
                    on = like.hemi == h
                    labels[on] = hemi_labels[h][like.vertex[on]]
                return ROILabels(atlas, labels, table, space, hemi=like.hemi, vertex=like.vertex, density=dens)
            n = L.N_VERTICES[dens]
            return ROILabels(atlas, np.concatenate([hemi_labels[h] for h in HEMIS]), table, space,
                             hemi=np.repeat(np.array(HEMIS), n), vertex=np.tile(np.arange(n), 2), density=dens)
        if s is None:
            raise ValueError(f"Invalid value for 'subject': volume ROIs ({space!r}) belong to a subject; got None.")
        if hemi is not None:
            check_option("hemi", hemi, HEMIS)
        table = self._table(s, atlas)
        path = self._file(L.volume_roi_path(s, space, atlas, hemi), f"{atlas!r} volume labels of {L.subject_name(s)}")
        vol = np.rint(image_data(load_image(path, f"{atlas!r} labels"), what=f"{atlas!r} labels")).astype(np.int64)
        brain, _ = self._brainmask(s, space)
        if vol.shape != brain.shape:
            raise ValueError(f"Wrong shape in {path}: expected the brain-mask shape {brain.shape}; got {vol.shape}.")
        ijk = like.ijk if like is not None else np.argwhere(brain)
        return ROILabels(atlas, vol[tuple(ijk.T)], table, space, ijk=ijk)
