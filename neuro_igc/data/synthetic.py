"""A synthetic NSD-like folder with a planted ground truth: ``make_nsd_like`` and ``load_truth``.

The folder has NSD's layout, file names, formats, shapes, dtypes and index conventions (see
``neuro_igc/data/_layout.py`` and the project's NSD_FACTS.md), so the loaders of
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
* **Surface betas** at ``density`` "fsaverage5" (10242 vertices per hemisphere, default) or
  "fsaverage" (163842; the planted cortex lives on the first 10242 vertices, which are the
  fsaverage5 vertices of the nested meshes; the others carry noise only). Big-endian float32
  ``.mgh`` (V, 1, 1, T), percent signal change; ``{lh,rh}.ncsnr.mgh`` hold the planted ncsnr.
* **Volume betas** (``volume_spaces``, default ("func1pt8mm",)): a small grid (``volume_shape``,
  default 20 x 24 x 20 at 1.8 mm; func1mm 1.8 times finer per axis), the brain shrunk into it.
  int16 = round(beta * 300) in ``betas_sessionNN.nii.gz`` and the same values in
  ``betas_sessionNN.hdf5`` (dataset ``betas``, stored (T, Z, Y, X)). Each signal vertex is placed
  in the voxel of its (scaled) fsaverage5 pial position; a voxel takes the first vertex that lands
  in it (lh before rh, vertex order) and carries its noise-free signal plus its own noise.
  ``brainmask.nii.gz`` (an ellipsoid), ``roi/[lh.|rh.]<atlas>.nii.gz`` (-1 outside the brain),
  ``prf_{angle,eccentricity,size,R2}.nii.gz`` and ``ncsnr.nii.gz``.
* **Labels**: ``{lh,rh}.<atlas>.mgz`` + ``<atlas>.mgz.ctab`` for prf-visualrois, prf-eccrois,
  floc-faces/bodies/places/words, streams and nsdgeneral, both in
  ``nsddata/freesurfer/fsaverage/label`` (the template layout) and in
  ``nsddata/freesurfer/subjAA/label`` (the subject's jittered layout; the synthetic subjects'
  "native" surfaces are the fsaverage mesh at the chosen density, so these align with the
  subject's fsaverage betas), plus ``{lh,rh}.prf{angle,eccentricity,size}.mgz`` there.
* **Behaviour**: ``responses.tsv`` with NSD's 19 columns for the run trials.

Planted truth (all deterministic from ``seed``)
-----------------------------------------------
Retinotopic cortex (``_synth_cortex``): V1v/V1d/V2v/V2d/V3v/V3d/hV4 bands on the fsaverage5
sphere around the occipital pole with polar-angle and eccentricity maps; each visual vertex has a
Gaussian pRF (x, y, sigma in degrees; image centre 0, +y up; the image spans 8.4 deg).

Response of visual vertex v to image i (percent signal change), on trial t of session s::

    CE_i    = (L_i - blur(L_i))**2             local contrast energy on the 64 x 64 linear
                                               luminance (2x2 block mean of the stored 128 px
                                               image; blur = Gaussian, SD 1 px)
    d_vi    = sqrt(sum_p G_v(p) CE_i(p))       G_v = pRF Gaussian / its full mass in pixels
    beta    = offset_vs + gain_v * (d_vi - mean_v) / sd_v + noise_sd_v * N(0, 1)

with ``mean_v``/``sd_v`` over the images shown to that subject, ``gain_v = ncsnr_v *
noise_sd_v``, ``noise_sd_v ~ U(1.5, 2.5)`` % for every vertex, ``ncsnr_v = snr * f_roi *
U(0.8, 1.2)`` with ``f_roi`` 1.0 (V1), 0.9 (V2), 0.8 (V3), 0.7 (hV4) and ``snr`` = 1.0 by default
(higher than real single-trial NSD, so that a model trained on ~1000 trials recovers pRFs),
``offset_vs ~ N(0, 0.5)`` per session. Global statistics: the vertices of floc-bodies **EBA**
carry the image's luminance contrast and those of floc-places **PPA** its 1/f spectral slope
(``neuro_igc.data.features`` on the stored 128 px image): ``beta = offset + gain * z(stat) +
noise`` with ``gain = snr * noise_sd``. All other vertices carry noise only.

Truth files (at the top of the folder, beside ``nsddata/``)
-----------------------------------------------------------
``synthetic_truth.json``: ``format`` ("neuro_igc.synthetic_truth"), ``version`` (1), the
arguments, ``statistics`` (``{"luminance_contrast": {"atlas": "floc-bodies", "roi": "EBA"},
"spectral_slope": {"atlas": "floc-places", "roi": "PPA"}}``), the response model constants,
each subject's layout parameters. ``synthetic_truth.npz`` (no pickles):

* ``image_ids`` (n,) rendered 0-based 73k ids; ``luminance_contrast``, ``spectral_slope`` (n,)
  their statistics; ``gen_exponent``, ``gen_contrast``, ``gen_mean_luminance`` (n,) drawn values;
* per subject, prefix ``subjAA_``: ``prf_hemi`` ("lh"/"rh"), ``prf_vertex``, ``prf_roi``
  (prf-visualrois index), ``prf_x``, ``prf_y``, ``prf_sigma``, ``prf_angle``,
  ``prf_eccentricity``, ``prf_gain``, ``prf_ncsnr``, ``prf_drive_mean``, ``prf_drive_sd``
  (one row per visual vertex); ``<stat>_hemi``, ``<stat>_vertex``, ``<stat>_gain``,
  ``<stat>_mean``, ``<stat>_sd`` per planted statistic; ``noise_sd`` (2, V) and
  ``session_offset`` (sessions, 2, V); ``<space>_ijk``, ``<space>_hemi``, ``<space>_vertex``
  (voxels carrying a vertex).

:func:`load_truth` reads both into a :class:`SyntheticTruth`.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuro_igc._utils import atomic_path, atomic_write_text, check_option
from neuro_igc.data import _layout as L

__all__ = ["make_nsd_like", "load_truth", "SyntheticTruth", "TRUTH_JSON", "TRUTH_NPZ", "PLANTED_STATISTICS"]

logger = logging.getLogger(__name__)

TRUTH_JSON = "synthetic_truth.json"
TRUTH_NPZ = "synthetic_truth.npz"
TRUTH_FORMAT = "neuro_igc.synthetic_truth"
#: statistic -> (atlas, ROI) whose vertices carry it
PLANTED_STATISTICS = {
    "luminance_contrast": {"atlas": "floc-bodies", "roi": "EBA"},
    "spectral_slope": {"atlas": "floc-places", "roi": "PPA"},
}
ROI_SNR_FACTOR = {1: 1.0, 2: 1.0, 3: 0.9, 4: 0.9, 5: 0.8, 6: 0.8, 7: 0.7}
NOISE_SD_RANGE = (1.5, 2.5)
OFFSET_SD = 0.5
VOXEL_SIZE = {"func1pt8mm": 1.8, "func1mm": 1.0}


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

    def prf(self, subject):
        """DataFrame of the planted pRFs of a subject, one row per visual vertex."""
        import pandas as pd

        p = f"{L.subject_name(L.subject_id(subject))}_prf_"
        keys = ["hemi", "vertex", "roi", "x", "y", "sigma", "angle", "eccentricity", "gain", "ncsnr",
                "drive_mean", "drive_sd"]
        df = pd.DataFrame({k: self.arrays[p + k] for k in keys})
        df.insert(3, "roi_name", df["roi"].map(L.LABEL_TABLES["prf-visualrois"]))
        return df

    def statistic_vertices(self, statistic: str, subject):
        """DataFrame (hemi, vertex, gain) of the vertices carrying ``statistic``."""
        import pandas as pd

        check_option("statistic", statistic, self.statistics)
        p = f"{L.subject_name(L.subject_id(subject))}_{statistic}_"
        return pd.DataFrame({k: self.arrays[p + k] for k in ("hemi", "vertex", "gain")})


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
        Replace an existing synthetic folder at ``root``.
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
    if root.exists() and any(root.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"{root} exists and is not empty; choose an empty folder or pass overwrite=True "
                "(`--force` on the command line) to replace a synthetic folder."
            )
        if not (root / TRUTH_JSON).is_file():
            raise FileExistsError(f"{root} is not a synthetic NSD folder (no {TRUTH_JSON}); refusing to overwrite it.")
        for child in root.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    root.mkdir(parents=True, exist_ok=True)
    meta, arrays = write_folder(
        root, subjects=subj, sessions=int(sessions), seed=int(seed), trials=int(trials), density=density,
        image_size=int(image_size), volume_spaces=tuple(volume_spaces), volume_shape=tuple(int(v) for v in volume_shape),
        shared_fraction=float(shared_fraction), snr=float(snr), progress=progress,
    )
    meta = {"format": TRUTH_FORMAT, "version": 1, **meta, "statistics": PLANTED_STATISTICS}
    with atomic_path(root / TRUTH_NPZ) as tmp:
        np.savez(tmp, **arrays)
    atomic_write_text(root / TRUTH_JSON, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return SyntheticTruth(root, meta, arrays)
