"""``NSD(root)``: the reader of an NSD folder, real or synthetic (layout in ``_layout.py``).

A facade over one part per concern, each in its own module:

- ``_nsd_design``: the experiment design, behavioural responses, stimulus table, the trial table of
  each session of betas (and ``_splits``: named image splits and session presets);
- ``_nsd_surface`` / ``_nsd_volume``: the betas readers per space (fsaverage and native surface;
  the volumes with their brain and valid masks);
- ``_nsd_rois``: ROI labels on every space and the ``roi=`` selection of the readers
  (``_native``: the native <-> fsaverage transforms they map through);
- ``_nsd_ncsnr``: ncsnr aligned with the betas, and the noise ceiling;
- ``_nsd_stimuli``: the stimulus images;
- ``_sanity``: load-time checks of beta values (constant sessions, the ``nan=`` policy).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np

from neuro_igc._utils import check_option
from neuro_igc.data import _layout as L
from neuro_igc.data._betas import Betas, zscore_per_session
from neuro_igc.data._expdesign import ExpDesign
from neuro_igc.data._native import Transforms
from neuro_igc.data._nsd_design import DesignReader
from neuro_igc.data._nsd_ncsnr import read_ncsnr
from neuro_igc.data._nsd_rois import RoiReader
from neuro_igc.data._nsd_stimuli import read_stimuli
from neuro_igc.data._nsd_surface import SurfaceBetasReader
from neuro_igc.data._nsd_volume import INVALID_POLICIES, SOURCES, VolumeBetasReader, read_valid_mask
from neuro_igc.data._roi import ROILabels
from neuro_igc.data._sanity import NAN_POLICIES, apply_nan_policy
from neuro_igc.data._spaces import NATIVE
from neuro_igc.data._splits import preset_sessions, split_ids

__all__ = ["NSD"]


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
        self._design = DesignReader(self.root)
        self._transforms = Transforms(self.root)
        self._rois = RoiReader(self.root, self._transforms)
        self._surface = SurfaceBetasReader(self.root, self._design, self._transforms, self._rois)
        self._volume = VolumeBetasReader(self.root, self._design, self._rois)

    def __repr__(self) -> str:
        return f"NSD({str(self.root)!r})"

    # -----------------------------------------------------------------------------------------
    # design, behaviour, stimulus table, sessions and splits

    @cached_property
    def expdesign(self) -> ExpDesign:
        """The experiment design (``nsd_expdesign.mat``), 0-based (see :class:`ExpDesign`)."""
        return self._design.expdesign

    @property
    def shared_ids(self) -> np.ndarray:
        """0-based 73k ids of the 1000 shared images."""
        return self.expdesign.shared_ids

    def responses(self, subject):
        """``responses.tsv`` of a subject as a DataFrame, columns as on disk (73KID, 10KID 1-based),
        plus ``image_id`` (0-based 73k id) and ``image_10k`` (0-based 10k index)."""
        return self._design.responses(subject)

    def stim_info(self):
        """``nsd_stim_info_merged.csv`` as a DataFrame (nsdId 0-based; repK trial numbers 1-based)."""
        return self._design.stim_info()

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
                L.require_file(self.root, rel, f"{space} betas of {L.subject_name(s)}")
            return found
        if isinstance(sessions, str):
            return self.preset_sessions(s, sessions)
        return L.check_sessions(s, sessions)

    def preset_sessions(self, subject, preset: str = "nsd37") -> list[int]:
        """Sessions of a named preset: ``"nsd37"`` = every session but the last 3 (37 37 29 27 37
        29 37 27 for subjects 1-8), the release most published pipelines use."""
        return preset_sessions(subject, preset)

    def split_ids(self, name: str) -> np.ndarray:
        """0-based 73k ids of a named split (sorted).

        ``"shared1000"``, ``"special515"`` (shared images seen 3 times by every subject) or
        ``"nsd37-test"`` (images seen by all of subjects 1, 2, 5, 7 in their first 37 sessions);
        computed from ``nsd_expdesign.mat`` (see ``SPLITS``).
        """
        return split_ids(self.expdesign, name)

    # -----------------------------------------------------------------------------------------
    # betas, their masks and ncsnr

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
            out = self._surface.fsaverage(s, ses_list, version, roi, mask, density, self.progress)
        elif space == "nativesurface":
            out = self._surface.native(s, ses_list, version, roi, mask, self.progress)
        else:
            out = self._volume.read(s, ses_list, space, version, roi, mask, source, invalid, self.progress)
        out = apply_nan_policy(out, nan)
        return zscore_per_session(out, exclude_ids=zscore_exclude) if zscore else out

    def valid_mask(self, subject, session: int, space: str = "func1pt8mm") -> np.ndarray | None:
        """Boolean (X, Y, Z) ``valid_sessionNN.nii.gz`` of a session (True = valid), or None when
        the folder has no such file."""
        return read_valid_mask(self.root, subject, session, space)

    def ncsnr(self, subject, space: str = "fsaverage", *, version: str = L.BETA_VERSIONS[0],
              roi=None, mask=None, density: str | None = None, like: Betas | None = None) -> np.ndarray:
        """Noise-ceiling SNR per feature, float32 (n_features,).

        Aligned with ``like`` (betas of the same subject: their exact features, after NaN
        features were dropped), else with :meth:`betas` called with the same
        ``space``/``roi``/``mask``/``density`` and ``nan="keep"``. See :func:`noise_ceiling`.
        """
        return read_ncsnr(self.root, self._surface, self._volume, subject, space, version, roi, mask, density, like)

    # -----------------------------------------------------------------------------------------
    # ROIs and the native <-> fsaverage transforms

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
        return self._rois.roi(atlas, space, subject, like=like, density=density, hemi=hemi)

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
        return self._transforms.transform(subject, hemi, kind)

    def native_vertices(self, subject, hemi: str) -> int:
        """Vertex count of a subject's native hemisphere (length of ``fsaverage-to-white``)."""
        return self._transforms.native_vertices(subject, hemi)

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
        return self._transforms.to_fsaverage(values, subject, hemi, density=density)

    def to_native(self, values, subject, hemi: str | None = None):
        """fsaverage values (163,842 per hemisphere) on a subject's native surface through
        ``fsaverage-to-white`` (nearest neighbour): ``values[..., map - 1]``.

        ``values``: (..., 163842) array, or a dict of both hemispheres with ``hemi=None``.
        """
        return self._transforms.to_native(values, subject, hemi)

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
        return read_stimuli(self.root, ids, size, luminance, chunk=chunk, progress=self.progress)
