"""Volume betas of an NSD folder (``func1pt8mm``, ``func1mm``): .hdf5 or .nii.gz, brain and valid masks.

Betas are int16 percent signal change x300. A session's ``valid_sessionNN.nii.gz`` marks the
voxels whose betas are stored as 0 because they were invalid in that session (``invalid=``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from neuro_igc._read import hdf5_dataset, image_data, load_image, open_hdf5, reading
from neuro_igc.data import _layout as L
from neuro_igc.data._betas import Betas
from neuro_igc.data._io import VOLUME_SCALE
from neuro_igc.data._readers import read_hdf5_voxels
from neuro_igc.data._sanity import constant_value
from neuro_igc.data._spaces import VolumeSpace

__all__ = ["VolumeBetasReader", "read_brainmask", "read_valid_mask", "INVALID_POLICIES", "SOURCES"]

logger = logging.getLogger("neuro_igc.data._nsd")  # the parts of the NSD reader log under its name

#: voxels marked invalid in a session's valid_sessionNN mask: drop them, NaN in that session, keep as stored
INVALID_POLICIES = ("drop", "nan", "keep")
#: which volume files to read
SOURCES = ("auto", "nifti", "hdf5")


def read_brainmask(root: Path, s: int, space: str):
    """Boolean (X, Y, Z) brain mask of subject ``s`` in ``space``, and its affine."""
    path = L.require_file(root, L.brainmask_path(s, space), f"{space} brain mask of {L.subject_name(s)}")
    img = load_image(path, "brain mask")
    return image_data(img, what="brain mask") > 0, img.affine


def read_valid_mask(root: Path, subject, session: int, space: str = "func1pt8mm") -> np.ndarray | None:
    """Boolean (X, Y, Z) valid-voxel mask of a session, or None when the folder has none."""
    s = L.subject_id(subject)
    path = root / L.valid_session_path(s, space, int(session))
    if not path.is_file():
        return None
    return image_data(load_image(path, "valid-voxel mask"), what="valid-voxel mask") > 0


class VolumeBetasReader:
    """Volume betas of one NSD folder (a part of :class:`~neuro_igc.data.NSD`).

    ``design`` gives each session's trial table, ``rois`` the ROI selection (``roi=``).
    """

    def __init__(self, root: Path, design, rois):
        self.root = root
        self.design = design
        self.rois = rois

    def selection(self, s: int, space: str, roi, mask):
        """Voxel indices (n, 3) to read (brain mask AND ``roi`` AND ``mask``), the affine and the grid."""
        brain, affine = read_brainmask(self.root, s, space)
        keep = brain.copy()
        if roi is not None:
            labels, sel = self.rois.selection(roi, space, s, None)
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

    def read(self, s, ses_list, space, version, roi, mask, source, invalid, progress: bool) -> Betas:
        """Betas of the selected voxels over ``ses_list``, with the ``invalid=`` policy applied."""
        from neuro_igc._utils import progress_bar as tqdm

        ijk, affine, shape = self.selection(s, space, roi, mask)
        blocks, metas, valid, flags = [], [], [], []
        for ses in tqdm(ses_list, desc=f"{L.subject_name(s)} {space} betas", disable=not progress):
            raw, path = self._read_session(s, space, ses, version, source, ijk, shape)
            blocks.append(raw.astype(np.float32) / np.float32(VOLUME_SCALE))
            value = constant_value(blocks[-1])
            if value is not None:
                flags.append((ses, None, path, value))
            metas.append(self.design.trial_meta(s, ses, raw.shape[0], path))
            if invalid != "keep":
                vm = read_valid_mask(self.root, s, ses, space)
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
        out = self.design.assemble(s, (data, metas, flags), fs, version)
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

    def _read_session(self, s, space, ses, version, source, ijk, shape):
        """int16 (n_trials, n_voxels) of one session from .hdf5 (by voxel chunks) or .nii.gz."""
        what = f"{space} betas of {L.subject_name(s)} session {ses}"
        h5 = self.root / L.volume_betas_path(s, space, ses, version, ".hdf5")
        use_h5 = source == "hdf5" or (source == "auto" and h5.is_file())
        if use_h5:
            path = L.require_file(self.root, L.volume_betas_path(s, space, ses, version, ".hdf5"), what)
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
        path = L.require_file(self.root, L.volume_betas_path(s, space, ses, version, ".nii.gz"), what)
        img = load_image(path, what)
        if img.get_data_dtype() != np.int16:
            raise ValueError(f"Wrong dtype in {path}: NSD volume betas are int16 (x{VOLUME_SCALE:g}); got {img.get_data_dtype()}.")
        if len(img.shape) != 4 or tuple(img.shape[:3]) != tuple(shape):
            raise ValueError(f"Wrong shape in {path}: expected (X, Y, Z, n_trials) with (X, Y, Z) = {shape}; got {img.shape}.")
        data = image_data(img, unscaled=True, what=what)  # gzip streams: one pass, then keep the voxels
        return np.ascontiguousarray(data[tuple(ijk.T)].T), path
