"""A synthetic NSD-like folder with a planted ground truth: ``make_nsd_like`` and ``load_truth``.

The folder has NSD's layout, file names, formats, shapes, dtypes and index conventions (see
``neuro_igc/data/_layout.py`` and the NSD data manual), so the loaders of
:class:`neuro_igc.data.NSD` read it exactly as they read the real dataset. What differs from the
real NSD, and why:

* **Subjects, sessions, trials**: ``subjects`` (default 2: subj01, subj02) x ``sessions``
  (default 2) x ``trials`` (default 750, the real count) per session. Files with fewer than 750
  trials hold the *first* trials of each session; trial numbering stays NSD's
  (``(session - 1) * 750 + trial``).
* **Experiment design** (``nsd_expdesign.mat``, MATLAB v5): real shapes (masterordering (1, 30000),
  subjectim (8, 10000), sharedix (1, 1000), stimpattern, basiccnt) and 1-based values (see
  ``_synth_design``). Within the run trials, ``shared_fraction`` (default 0.3) of the trials show
  shared images, 3 times each (150 shared images for 2 x 750 trials); every other trial shows a
  non-shared image once (1050 per subject by default).
* **Stimuli** (``nsd_stimuli.hdf5``, dataset ``imgBrick`` uint8 (73000, S, S, 3), chunked one image
  per chunk): ``image_size`` S = 128 by default instead of 425. Only the images shown in the run
  trials of the written subjects are rendered (2250 by default); the other rows are never written
  and read as 0 (HDF5 fill value, no disk space). Images are 1/f colour textures with drawn
  exponent (amplitude 1/f^a, a in [0.8, 2.0]), RMS contrast, mean luminance, a smooth contrast
  envelope and a slight tint (``_synth_images``).
* **Surfaces** (``_synth_surface``): fsaverage at full density is nilearn's fsaverage5 mesh
  subdivided twice at edge midpoints, so its first 10242 vertices are exactly fsaverage5's (the
  nested prefix of the real meshes; the numbering of the other vertices is ours). Each subject has
  its own native surface per hemisphere, with its own vertex count (drawn in 10500..13500; NSD's
  are ~220-270 k): ``nsddata/freesurfer/subjAA/surf/{lh,rh}.white`` and ``.sphere.reg``
  (FreeSurfer geometry). ``nsddata/ppdata/subjAA/transforms/{lh,rh}.white-to-fsaverage.mgz``
  ((163842, 1, 1) int32, the 1-based nearest native vertex of every fsaverage vertex) and
  ``{lh,rh}.fsaverage-to-white.mgz`` ((V_native, 1, 1) int32, the 1-based nearest fsaverage
  vertex of every native vertex), always at 163842 on the fsaverage side. Where NSD's own code
  (nsdcode) needs more of NSD's layout, it is there too: ``{lh,rh}.func1pt8-to-white.mgz``
  (and ``func1pt0`` with the 1 mm volumes), (V_native, 1, 1, 3) float32, each native vertex's
  1-based decimal voxel coordinates (the placement that assigns vertices to voxels, below), the
  templates nsdcode writes .mgz outputs from: ``subjAA/surf/{lh,rh}.w-g.pct.mgh`` (grey/white
  contrast per native vertex, drawn) and ``fsaverage/surf/{lh,rh}.orig.avg.area.mgh`` (vertex
  areas of the full-density mesh).
* **Planted on the native surface, mapped to fsaverage**: every signal and noise value lives on
  the native vertices; the fsaverage betas are the native betas taken through white-to-fsaverage
  (``fsavg = native[:, map - 1]``, NSD's nearest-neighbour mapping), so several fsaverage vertices
  can carry the same native vertex, and subject ROIs mapped the same way line up with the signal.
* **Surface betas**: fsaverage ``{lh,rh}.betas_sessionNN.mgh`` at ``density`` "fsaverage5" (10242
  vertices, the quick default) or "fsaverage" (163842; its first 10242 vertices hold exactly the
  fsaverage5 folder's values for the same seed). Big-endian float32 (V, 1, 1, T), percent signal
  change; ``{lh,rh}.ncsnr.mgh`` the planted ncsnr. Native ``nativesurface/<version>/{lh,rh}.
  betas_sessionNN.hdf5``: dataset ``betas`` int16 = round(beta * 300), h5py (T, V_native),
  chunks (T, 1).
* **Coverage**: native vertices at the top of the head (white z above its 85th percentile) that
  are outside nsdgeneral are outside the functional coverage: their fsaverage betas (and ncsnr)
  are NaN for all trials, their native betas 0. ``synthetic_truth.json`` ``nan_vertices`` counts
  the NaN fsaverage vertices per hemisphere.
* **Volume betas** (``volume_spaces``, default ("func1pt8mm",)): a small grid (``volume_shape``,
  default 20 x 24 x 20 at 1.8 mm; func1mm 1.8 times finer per axis), the brain shrunk into it.
  int16 = round(beta * 300) in ``betas_sessionNN.nii.gz`` and the same values in
  ``betas_sessionNN.hdf5`` (dataset ``betas``, stored (T, Z, Y, X), chunks (T, 1, 1, 1) as NSD's).
  Each native signal vertex, then each other nsdgeneral vertex, is placed in the voxel of its
  (scaled) white position; a voxel takes the first vertex that lands in it and carries its
  noise-free signal plus its own noise. ``valid_sessionNN.nii.gz`` (uint8, 1 = valid) marks about
  3% of the brain voxels that carry no vertex invalid in each session; those are 0 in that
  session's betas. ``brainmask.nii.gz`` (an ellipsoid), ``roi/[lh.|rh.]<atlas>.nii.gz`` (-1
  outside the brain and, in the lh./rh. files, on the other hemisphere's voxels),
  ``prf_{angle,eccentricity,size,R2}.nii.gz`` and ``ncsnr.nii.gz``.
* **Labels** (``<atlas>.mgz.ctab`` beside each): the subject atlases prf-visualrois,
  prf-eccrois, floc-faces/bodies/places/words, streams and nsdgeneral exist only on the native
  surface (``nsddata/freesurfer/subjAA/label/{lh,rh}.<atlas>.mgz``, V_native entries, the
  subject's jittered layout; with ``{lh,rh}.prf{angle,eccentricity,size}.mgz``) and in the
  volumes. Under ``nsddata/freesurfer/fsaverage/label`` only the group atlases nsdgeneral and
  streams (template layout, 163842 entries per hemisphere), as in NSD.
* **Behaviour**: ``responses.tsv`` with NSD's 19 columns for the run trials.

Planted truth (all deterministic from ``seed``)
-----------------------------------------------
Retinotopic cortex (``_synth_cortex``): V1v/V1d/V2v/V2d/V3v/V3d/hV4 bands on each subject's
native sphere (registered to fsaverage) around the occipital pole with polar-angle and eccentricity maps; each visual vertex has a
Gaussian pRF (x, y, sigma in degrees; image centre 0, +y up; the image spans 8.4 deg).

Response of visual vertex v to image i (percent signal change), on trial t of session s::

    CE_i    = (L_i - blur(L_i))**2             local contrast energy on the 64 x 64 linear
                                               luminance (2x2 block mean of the stored 128 px
                                               image; blur = Gaussian, SD 1 px)
    d_vi    = sqrt(sum_p G_v(p) CE_i(p))       G_v = pRF Gaussian / its full mass in pixels
    beta    = offset_vs + gain_v * (d_vi - mean_v) / sd_v + noise_sd_v * N(0, 1)

with ``mean_v``/``sd_v`` over the images shown to that subject, ``gain_v = ncsnr_v *
noise_sd_v``, ``noise_sd_v ~ U(1.5, 2.5)`` % for every native vertex, ``ncsnr_v = snr * f_roi *
U(0.8, 1.2)`` with ``f_roi`` 1.0 (V1), 0.9 (V2), 0.8 (V3), 0.7 (hV4) and ``snr`` = 1.0 by default
(higher than real single-trial NSD, so that a model trained on ~1000 trials recovers pRFs),
``offset_vs ~ N(0, 0.5)`` per session. Global statistics: the vertices of floc-bodies **EBA**
carry the image's luminance contrast and those of floc-places **PPA** its 1/f spectral slope
(``neuro_igc.data.features`` on the stored 128 px image): ``beta = offset + gain * z(stat) +
noise`` with ``gain = snr * noise_sd``. All other vertices carry noise only.

Truth files (at the top of the folder, beside ``nsddata/``)
-----------------------------------------------------------
``synthetic_truth.json``: ``format`` ("neuro_igc.synthetic_truth"), ``version`` (2), the
arguments, ``statistics`` (``{"luminance_contrast": {"atlas": "floc-bodies", "roi": "EBA"},
"spectral_slope": {"atlas": "floc-places", "roi": "PPA"}}``), the response model constants,
each subject's layout parameters, ``native_vertices`` and ``nan_vertices`` per subject and
hemisphere, ``invalid_voxels`` per subject, space and session. ``synthetic_truth.npz`` (no
pickles):

* ``image_ids`` (n,) rendered 0-based 73k ids; ``luminance_contrast``, ``spectral_slope`` (n,)
  their statistics; ``gen_exponent``, ``gen_contrast``, ``gen_mean_luminance`` (n,) drawn values;
* per subject, prefix ``subjAA_``: ``native_prf_*`` one row per visual native vertex (``hemi``,
  ``vertex``, ``roi`` (prf-visualrois index), ``x``, ``y``, ``sigma``, ``angle``,
  ``eccentricity``, ``gain``, ``ncsnr``, ``drive_mean``, ``drive_sd``); ``prf_*`` the same
  columns for every fsaverage vertex (at the betas' density) that takes a visual native vertex,
  with ``native_vertex``; ``native_<stat>_{hemi,vertex,gain}`` and ``<stat>_{hemi,vertex,
  native_vertex,gain}`` per planted statistic, ``<stat>_mean``, ``<stat>_sd``;
  ``{lh,rh}_noise_sd`` (V_native,), ``{lh,rh}_session_offset`` (sessions, V_native),
  ``{lh,rh}_covered`` (V_native,) bool, ``{lh,rh}_fsaverage_parent`` (n_vertices,) the 0-based
  native vertex of each fsaverage vertex (white-to-fsaverage - 1 at the betas' density);
  ``<space>_ijk``, ``<space>_hemi``, ``<space>_native_vertex`` (voxels carrying a vertex).

To score a recovery on fsaverage, compare with ``prf(subject)`` / ``statistic_vertices(...)``
(keyed by fsaverage hemi and vertex); on the native surface, with ``space="nativesurface"``.

:func:`load_truth` reads both into a :class:`SyntheticTruth`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuro_igc._utils import atomic_path, atomic_write_text, check_option
from neuro_igc.data import _layout as L
from neuro_igc.data._synth_params import NOISE_SD_RANGE, OFFSET_SD, PLANTED_STATISTICS, ROI_SNR_FACTOR

__all__ = ["make_nsd_like", "load_truth", "SyntheticTruth", "TRUTH_JSON", "TRUTH_NPZ", "PLANTED_STATISTICS"]

logger = logging.getLogger(__name__)

TRUTH_JSON = "synthetic_truth.json"
TRUTH_NPZ = "synthetic_truth.npz"
TRUTH_FORMAT = "neuro_igc.synthetic_truth"
TRUTH_VERSION = 2
#: spaces the planted truth is given in
TRUTH_SPACES = ("fsaverage", "nativesurface")


@dataclass
class SyntheticTruth:
    """The planted truth of a synthetic NSD folder (see the module docstring for the format).

    Attributes
    ----------
    root : Path
    meta : dict
        Contents of ``synthetic_truth.json``.
    arrays : dict of np.ndarray
        Contents of ``synthetic_truth.npz``.
    """

    root: Path
    meta: dict
    arrays: dict = field(repr=False)

    @property
    def subjects(self) -> list[int]:
        return list(self.meta["subjects"])

    @property
    def statistics(self) -> dict:
        """``{statistic: {"atlas": ..., "roi": ...}}``: which ROI carries which statistic."""
        return self.meta["statistics"]

    def image_stats(self):
        """DataFrame indexed by 0-based 73k id: luminance_contrast, spectral_slope, drawn parameters."""
        import pandas as pd

        a = self.arrays
        cols = ["luminance_contrast", "spectral_slope", "gen_exponent", "gen_contrast", "gen_mean_luminance"]
        return pd.DataFrame({c: a[c] for c in cols}, index=pd.Index(a["image_ids"], name="image_id"))

    def prf(self, subject, space: str = "fsaverage"):
        """DataFrame of the planted pRFs of a subject.

        ``space="fsaverage"``: one row per fsaverage vertex (at the betas' density) that takes a
        visual native vertex through ``white-to-fsaverage`` (``native_vertex`` says which);
        ``space="nativesurface"``: one row per visual native vertex.
        """
        import pandas as pd

        check_option("space", space, TRUTH_SPACES)
        name = L.subject_name(L.subject_id(subject))
        p = f"{name}_prf_" if space == "fsaverage" else f"{name}_native_prf_"
        keys = ["hemi", "vertex"] + (["native_vertex"] if space == "fsaverage" else []) + [
            "roi", "x", "y", "sigma", "angle", "eccentricity", "gain", "ncsnr", "drive_mean", "drive_sd"]
        df = pd.DataFrame({k: self.arrays[p + k] for k in keys})
        df.insert(df.columns.get_loc("roi") + 1, "roi_name", df["roi"].map(L.LABEL_TABLES["prf-visualrois"]))
        return df

    def statistic_vertices(self, statistic: str, subject, space: str = "fsaverage"):
        """DataFrame (hemi, vertex, gain) of the vertices carrying ``statistic``.

        ``space="fsaverage"`` (at the betas' density, with the ``native_vertex`` each takes) or
        ``"nativesurface"``.
        """
        import pandas as pd

        check_option("statistic", statistic, self.statistics)
        check_option("space", space, TRUTH_SPACES)
        name = L.subject_name(L.subject_id(subject))
        if space == "fsaverage":
            return pd.DataFrame({k: self.arrays[f"{name}_{statistic}_{k}"] for k in ("hemi", "vertex", "native_vertex", "gain")})
        return pd.DataFrame({k: self.arrays[f"{name}_native_{statistic}_{k}"] for k in ("hemi", "vertex", "gain")})

    def fsaverage_parent(self, subject, hemi: str) -> np.ndarray:
        """(n_vertices,) 0-based native vertex each fsaverage vertex takes (white-to-fsaverage - 1,
        cut to the betas' density)."""
        check_option("hemi", hemi, ("lh", "rh"))
        return self.arrays[f"{L.subject_name(L.subject_id(subject))}_{hemi}_fsaverage_parent"]


def load_truth(root) -> SyntheticTruth:
    """Read ``synthetic_truth.json`` + ``.npz`` from a folder written by :func:`make_nsd_like`."""
    root = Path(root)
    jp, npzp = root / TRUTH_JSON, root / TRUTH_NPZ
    for p in (jp, npzp):
        if not p.is_file():
            raise FileNotFoundError(
                f"Missing synthetic truth file: expected {p}. Only folders written by make_nsd_like "
                "(or `neuro-igc synth`) have one; real NSD folders do not."
            )
    meta = json.loads(jp.read_text())
    if meta.get("format") != TRUTH_FORMAT:
        raise ValueError(f"{jp} is not a neuro_igc synthetic truth file (format {meta.get('format')!r}).")
    if meta.get("version") != TRUTH_VERSION:
        raise ValueError(
            f"{jp} is version {meta.get('version')!r} of the synthetic truth; this neuro_igc writes and reads "
            f"version {TRUTH_VERSION} (the NSD layout with native surfaces). Rewrite the folder with "
            f"`neuro-igc synth {root} --force`."
        )
    with np.load(npzp, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return SyntheticTruth(root, meta, arrays)


def _subjects_arg(subjects) -> list[int]:
    if isinstance(subjects, (int, np.integer)) and not isinstance(subjects, bool):
        if not 1 <= int(subjects) <= L.N_SUBJECTS:
            raise ValueError(f"Invalid value for 'subjects': a count 1..{L.N_SUBJECTS} or a list of subjects; got {subjects!r}.")
        return list(range(1, int(subjects) + 1))
    out = sorted({L.subject_id(s) for s in subjects})
    if not out:
        raise ValueError("Invalid value for 'subjects': the list is empty.")
    return out


PARTIAL_MARKER = ".neuro_igc_synth_partial"


def _partial_dir(root: Path) -> Path:
    """Sibling folder the synthetic folder is written into before it is renamed to ``root``."""
    return root.parent / f".{root.name}.synth-partial"


def _old_dir(root: Path) -> Path:
    return root.parent / f".{root.name}.synth-old"


def _is_ours(folder: Path) -> bool:
    return (folder / PARTIAL_MARKER).is_file() or (folder / TRUTH_JSON).is_file()


def _check_target(root: Path, overwrite: bool) -> None:
    if root.exists() and not root.is_dir():
        raise FileExistsError(f"{root} exists and is not a folder; choose a folder path for the synthetic NSD folder.")
    if root.exists() and any(root.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"{root} exists and is not empty; choose an empty folder or pass overwrite=True "
                "(`--force` on the command line) to replace a synthetic folder."
            )
        if not (root / TRUTH_JSON).is_file():
            raise FileExistsError(f"{root} is not a synthetic NSD folder (no {TRUTH_JSON}); refusing to overwrite it.")
    for leftover in (_partial_dir(root), _old_dir(root)):
        if leftover.exists() and not _is_ours(leftover):
            raise FileExistsError(
                f"{leftover} exists and was not left by an interrupted make_nsd_like (no {PARTIAL_MARKER} or "
                f"{TRUTH_JSON}); move it away to write {root}."
            )


def _remove_leftovers(root: Path) -> None:
    """Remove what an interrupted (killed) run left beside ``root``: its partial or replaced folder."""
    for leftover in (_partial_dir(root), _old_dir(root)):
        if leftover.exists():
            logger.info("removing %s, left by an interrupted run", leftover)
            shutil.rmtree(leftover)


def _swap_in(partial: Path, root: Path) -> None:
    """Rename the finished folder to ``root`` (an existing, empty or replaced, ``root`` goes first)."""
    old = _old_dir(root)
    if root.exists():
        os.replace(root, old)
    os.replace(partial, root)
    if old.exists():
        shutil.rmtree(old)


def make_nsd_like(
    root,
    subjects=2,
    sessions: int = 2,
    seed: int = 0,
    *,
    trials: int = 750,
    density: str = "fsaverage5",
    image_size: int = 128,
    volume_spaces=("func1pt8mm",),
    volume_shape=(20, 24, 20),
    shared_fraction: float = 0.3,
    snr: float = 1.0,
    overwrite: bool = False,
    progress: bool = True,
) -> SyntheticTruth:
    """Write a synthetic NSD-like folder with a planted ground truth (see the module docstring).

    Parameters
    ----------
    root : str or Path
        Folder to write (created; must be empty unless ``overwrite``).
    subjects : int or list of int, default=2
        A count (subj01..subjNN) or the subject numbers.
    sessions : int, default=2
        Sessions per subject (at most the subject's real count).
    seed : int, default=0
    trials : int, default=750
        Trials per session (1..750); fewer keeps the first trials of each session.
    density : {"fsaverage5", "fsaverage"}, default="fsaverage5"
        Density of the fsaverage betas and ncsnr: 10242 vertices per hemisphere (quick) or NSD's
        163842 (about 1.3 MB per hemisphere and trial). Group atlases and transforms are always
        at 163842; native-surface betas do not depend on it.
    image_size : int, default=128
        Stored image size; a multiple of 64 keeps the planted drive exact (see module docstring).
    volume_spaces : tuple of {"func1pt8mm", "func1mm"}, default=("func1pt8mm",)
    volume_shape : (int, int, int), default=(20, 24, 20)
        func1pt8mm grid; func1mm is 1.8 times finer per axis.
    shared_fraction : float, default=0.3
        Fraction of the run trials that show shared images (3 repeats each).
    snr : float, default=1.0
        ncsnr of V1 (other ROIs scaled down) and of the planted statistic vertices.
    overwrite : bool, default=False
        Replace an existing synthetic folder at ``root`` (kept until the new one is complete).
    progress : bool, default=True

    Returns
    -------
    SyntheticTruth

    Examples
    --------
    >>> truth = make_nsd_like("/tmp/nsd_synth", subjects=1, sessions=1, trials=30)  # doctest: +SKIP
    >>> truth.statistics["luminance_contrast"]                                      # doctest: +SKIP
    {'atlas': 'floc-bodies', 'roi': 'EBA'}
    """
    from neuro_igc.data._synth_writer import write_folder

    root = Path(root)
    subj = _subjects_arg(subjects)
    check_option("density", density, L.DENSITIES)
    for sp in volume_spaces:
        check_option("volume_spaces", sp, L.VOLUME_SPACES)
    if not (isinstance(sessions, (int, np.integer)) and sessions >= 1):
        raise ValueError(f"Invalid value for 'sessions': a positive int; got {sessions!r}.")
    too_many = [s for s in subj if sessions > L.SESSIONS_PER_SUBJECT[s - 1]]
    if too_many:
        raise ValueError(
            f"Invalid value for 'sessions': {L.subject_name(too_many[0])} has "
            f"{L.SESSIONS_PER_SUBJECT[too_many[0] - 1]} sessions in NSD; got {sessions}."
        )
    if not (isinstance(trials, (int, np.integer)) and 1 <= trials <= L.TRIALS_PER_SESSION):
        raise ValueError(f"Invalid value for 'trials': 1..{L.TRIALS_PER_SESSION} per session; got {trials!r}.")
    if not (isinstance(image_size, (int, np.integer)) and image_size >= 16):
        raise ValueError(f"Invalid value for 'image_size': an int >= 16; got {image_size!r}.")
    if len(volume_shape) != 3 or min(volume_shape) < 8:
        raise ValueError(f"Invalid value for 'volume_shape': three ints >= 8; got {volume_shape!r}.")
    if not 0.0 <= shared_fraction <= 1.0:
        raise ValueError(f"Invalid value for 'shared_fraction': in [0, 1]; got {shared_fraction!r}.")
    if not snr > 0:
        raise ValueError(f"Invalid value for 'snr': must be > 0; got {snr!r}.")
    _check_target(root, overwrite)
    partial = _partial_dir(root)
    _remove_leftovers(root)
    try:
        partial.mkdir(parents=True)
    except PermissionError as exc:
        raise PermissionError(
            f"Cannot create {partial}: the synthetic folder is written beside {root} and renamed when "
            f"complete, so {root.parent} must be writable; choose a folder in a writable place."
        ) from exc
    (partial / PARTIAL_MARKER).write_text("a synthetic NSD folder being written by make_nsd_like\n")
    try:
        meta, arrays = write_folder(
            partial, subjects=subj, sessions=int(sessions), seed=int(seed), trials=int(trials), density=density,
            image_size=int(image_size), volume_spaces=tuple(volume_spaces),
            volume_shape=tuple(int(v) for v in volume_shape), shared_fraction=float(shared_fraction),
            snr=float(snr), progress=progress,
        )
        meta = {"format": TRUTH_FORMAT, "version": TRUTH_VERSION, **meta, "statistics": PLANTED_STATISTICS}
        with atomic_path(partial / TRUTH_NPZ) as tmp:
            np.savez(tmp, **arrays)
        atomic_write_text(partial / TRUTH_JSON, json.dumps(meta, indent=2, sort_keys=True) + "\n")
        (partial / PARTIAL_MARKER).unlink()
    except Exception:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _swap_in(partial, root)
    return SyntheticTruth(root, meta, arrays)
