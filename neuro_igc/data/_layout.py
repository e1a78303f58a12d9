"""The NSD folder layout: constants, relative paths, subject/session checks, missing-file errors.

Every path the loaders and the synthetic writer use is built here, so that the two cannot drift
apart. Paths are relative to the NSD root (the folder holding ``nsddata``, ``nsddata_betas`` and
``nsddata_stimuli``), as the NSD data manual describes it.
"""

from __future__ import annotations

from pathlib import Path

from neuro_igc._utils import check_option
from neuro_igc.data._tables import LABEL_TABLES as _LABEL_TABLES

__all__ = [
    "N_SUBJECTS",
    "SESSIONS_PER_SUBJECT",
    "TRIALS_PER_SESSION",
    "N_IMAGES_73K",
    "N_SHARED",
    "EXTENT_DEG",
    "N_VERTICES",
    "DENSITIES",
    "SURFACE_SPACES",
    "VOLUME_SPACES",
    "SPACES",
    "BETA_VERSIONS",
    "LABEL_TABLES",
    "RESPONSES_COLUMNS",
    "subject_id",
    "subject_name",
    "check_sessions",
    "require_file",
    "density_of",
    "check_density",
]

N_SUBJECTS = 8
#: sessions acquired per subject (subj01 .. subj08)
SESSIONS_PER_SUBJECT = (40, 40, 32, 30, 40, 32, 40, 30)
TRIALS_PER_SESSION = 750
N_IMAGES_73K = 73000
N_SHARED = 1000
#: the images span 8.4 degrees of visual angle
EXTENT_DEG = 8.4

#: vertices per hemisphere of each fsaverage density (meshes nested: fsaverage5 = first 10242)
N_VERTICES = {"fsaverage": 163842, "fsaverage5": 10242}
DENSITIES = tuple(N_VERTICES)
SURFACE_SPACES = ("fsaverage", "nativesurface")
VOLUME_SPACES = ("func1pt8mm", "func1mm")
SPACES = SURFACE_SPACES + VOLUME_SPACES
#: subject-drawn atlases: only on each subject's native surface and in its volumes, never on fsaverage
SUBJECT_ATLASES = ("prf-visualrois", "prf-eccrois", "floc-faces", "floc-bodies", "floc-places", "floc-words")
#: sessions per subject of the widely used release without the last 3 sessions (held back until 2023)
SESSION_PRESETS = {"nsd37": (37, 37, 29, 27, 37, 29, 37, 27)}
#: subjects whose images seen in the preset sessions form the usual test set
PRESET_TEST_SUBJECTS = {"nsd37": (1, 2, 5, 7)}
BETA_VERSIONS = ("betas_fithrf_GLMdenoise_RR", "betas_fithrf", "betas_assumehrf")

#: NSD lookup tables (atlas -> LookupTable), read from the one shipped copy
LABEL_TABLES = _LABEL_TABLES

RESPONSES_COLUMNS = (
    "SUBJECT", "SESSION", "RUN", "TRIAL", "73KID", "10KID", "TIME", "ISOLD", "ISCORRECT", "RT",
    "CHANGEMIND", "MEMORYRECENT", "MEMORYFIRST", "ISOLDCURRENT", "ISCORRECTCURRENT", "TOTAL1",
    "TOTAL2", "BUTTON", "MISSINGDATA",
)

# ---------------------------------------------------------------------------------------------
# relative paths


def subject_name(subject: int) -> str:
    """``1 -> 'subj01'``."""
    return f"subj{subject_id(subject):02d}"


def expdesign_path() -> Path:
    return Path("nsddata/experiments/nsd/nsd_expdesign.mat")


def stim_info_path() -> Path:
    return Path("nsddata/experiments/nsd/nsd_stim_info_merged.csv")


def responses_path(subject: int) -> Path:
    return Path("nsddata/ppdata") / subject_name(subject) / "behav" / "responses.tsv"


def stimuli_path() -> Path:
    return Path("nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5")


def surface_betas_dir(subject: int, version: str) -> Path:
    return Path("nsddata_betas/ppdata") / subject_name(subject) / "fsaverage" / version


def surface_betas_path(subject: int, hemi: str, session: int, version: str) -> Path:
    return surface_betas_dir(subject, version) / f"{hemi}.betas_session{session:02d}.mgh"


def ncsnr_surface_path(subject: int, hemi: str, version: str) -> Path:
    return surface_betas_dir(subject, version) / f"{hemi}.ncsnr.mgh"


def volume_betas_dir(subject: int, space: str, version: str) -> Path:
    return Path("nsddata_betas/ppdata") / subject_name(subject) / space / version


def volume_betas_path(subject: int, space: str, session: int, version: str, ext: str) -> Path:
    return volume_betas_dir(subject, space, version) / f"betas_session{session:02d}{ext}"


def ncsnr_volume_path(subject: int, space: str, version: str) -> Path:
    return volume_betas_dir(subject, space, version) / "ncsnr.nii.gz"


def ppdata_space_dir(subject: int, space: str) -> Path:
    return Path("nsddata/ppdata") / subject_name(subject) / space


def brainmask_path(subject: int, space: str) -> Path:
    return ppdata_space_dir(subject, space) / "brainmask.nii.gz"


def volume_roi_path(subject: int, space: str, atlas: str, hemi: str | None = None) -> Path:
    prefix = f"{hemi}." if hemi else ""
    return ppdata_space_dir(subject, space) / "roi" / f"{prefix}{atlas}.nii.gz"


def volume_prf_path(subject: int, space: str, name: str) -> Path:
    return ppdata_space_dir(subject, space) / f"prf_{name}.nii.gz"


def label_dir(subject: int | None) -> Path:
    """``nsddata/freesurfer/fsaverage/label`` (``subject=None``) or ``.../subjAA/label``."""
    who = "fsaverage" if subject is None else subject_name(subject)
    return Path("nsddata/freesurfer") / who / "label"


def surface_label_path(subject: int | None, hemi: str, atlas: str) -> Path:
    return label_dir(subject) / f"{hemi}.{atlas}.mgz"


def ctab_path(subject: int | None, atlas: str) -> Path:
    return label_dir(subject) / f"{atlas}.mgz.ctab"


def native_betas_path(subject: int, hemi: str, session: int, version: str) -> Path:
    """``nsddata_betas/ppdata/subjAA/nativesurface/<version>/{hemi}.betas_sessionNN.hdf5``."""
    return (Path("nsddata_betas/ppdata") / subject_name(subject) / "nativesurface" / version
            / f"{hemi}.betas_session{session:02d}.hdf5")


#: the two nearest-neighbour index maps of ``nsddata/ppdata/subjAA/transforms``, and the volume ->
#: white-surface maps (each native vertex's 1-based decimal voxel coordinates, V x 1 x 1 x 3) that
#: NSD's own code (nsdcode) reads to map volume data onto the surface
TRANSFORMS = ("white-to-fsaverage", "fsaverage-to-white", "func1pt8-to-white", "func1pt0-to-white")
#: NSD volume space -> its name in NSD's transform files and nsdcode
NSDCODE_VOLUME_NAMES = {"func1pt8mm": "func1pt8", "func1mm": "func1pt0"}


def transform_path(subject: int, hemi: str, transform: str) -> Path:
    """``nsddata/ppdata/subjAA/transforms/{hemi}.<transform>.mgz`` (``transform`` in TRANSFORMS)."""
    check_option("transform", transform, TRANSFORMS)
    return Path("nsddata/ppdata") / subject_name(subject) / "transforms" / f"{hemi}.{transform}.mgz"


def valid_session_path(subject: int, space: str, session: int) -> Path:
    """``nsddata/ppdata/subjAA/<space>/valid_sessionNN.nii.gz`` (1 = valid voxel in that session)."""
    return ppdata_space_dir(subject, space) / f"valid_session{session:02d}.nii.gz"


def native_surface_path(subject: int, hemi: str, surface: str) -> Path:
    """``nsddata/freesurfer/subjAA/surf/{hemi}.<surface>`` (e.g. ``white``, ``sphere.reg``)."""
    return Path("nsddata/freesurfer") / subject_name(subject) / "surf" / f"{hemi}.{surface}"


def fsaverage_surface_path(hemi: str, name: str) -> Path:
    """``nsddata/freesurfer/fsaverage/surf/{hemi}.<name>`` (e.g. ``orig.avg.area.mgh``, the
    per-vertex template nsdcode takes its .mgz header from)."""
    return Path("nsddata/freesurfer/fsaverage/surf") / f"{hemi}.{name}"


# ---------------------------------------------------------------------------------------------
# checks


def subject_id(subject) -> int:
    """Return the subject number 1..8 from ``1``, ``"01"``, ``"subj01"`` or ``"sub-01"``.

    Examples
    --------
    >>> subject_id("subj03"), subject_id("sub-02"), subject_id(8)
    (3, 2, 8)
    """
    value = subject
    if isinstance(subject, str):
        text = subject.strip().lower()
        for prefix in ("subj", "sub-", "sub"):
            if text.startswith(prefix):
                text = text[len(prefix):]
                break
        value = int(text) if text.isdigit() else None
    elif hasattr(subject, "__index__") and not isinstance(subject, bool):
        value = int(subject)
    else:
        value = None
    if value is None or not 1 <= value <= N_SUBJECTS:
        raise ValueError(
            f"Invalid value for 'subject': NSD has subjects 1..{N_SUBJECTS} (or 'subj01'..'subj08'); "
            f"got {subject!r}."
        )
    return value


def check_sessions(subject: int, sessions) -> list[int]:
    """Return the sessions as a list of ints within the subject's real range."""
    n_max = SESSIONS_PER_SUBJECT[subject - 1]
    if sessions is None:
        return list(range(1, n_max + 1))
    if isinstance(sessions, (int,)) or hasattr(sessions, "__index__"):
        sessions = [sessions]
    out = []
    for s in sessions:
        if isinstance(s, bool) or not hasattr(s, "__index__") or not 1 <= int(s) <= n_max:
            raise ValueError(
                f"Invalid value for 'sessions': {subject_name(subject)} has sessions 1..{n_max}; got {s!r}."
            )
        out.append(int(s))
    if len(set(out)) != len(out):
        raise ValueError(f"Invalid value for 'sessions': sessions repeat in {list(out)!r}.")
    return out


PART_OF_NSD = {
    "nsddata_betas": "the betas (nsddata_betas/ppdata/...)",
    "nsddata_stimuli": "the stimuli (nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5)",
    "nsddata": "the experiment design, behaviour, masks and labels (nsddata/...)",
}


def require_file(root: Path, rel: Path, what: str) -> Path:
    """Return ``root / rel`` if it is a readable file, else an :class:`~neuro_igc.errors.InputFileError`
    naming the path and the part of NSD (a :class:`~neuro_igc.errors.MissingFileError`, also a
    FileNotFoundError, when it does not exist)."""
    from neuro_igc._read import check_file
    from neuro_igc.errors import MissingFileError

    path = Path(root) / rel
    if not path.exists():
        part = rel.parts[0]
        raise MissingFileError(
            path, f"no such file (part of NSD: {part!r}, {PART_OF_NSD.get(part, part)})",
            f"Download that part of NSD into {root}, or write a synthetic folder with `neuro-igc synth {root}`.",
            what,
        )
    return check_file(path, what)


def check_space(space: str) -> str:
    return check_option("space", space, SPACES)


def density_of(n_vertices: int, path) -> str:
    """The fsaverage density with ``n_vertices`` per hemisphere; a ValueError naming ``path`` if none."""
    for name, n in N_VERTICES.items():
        if n == n_vertices:
            return name
    raise ValueError(
        f"Wrong shape in {path}: {n_vertices} vertices matches no fsaverage density "
        f"({', '.join(f'{k}: {v}' for k, v in N_VERTICES.items())})."
    )


def check_density(name: str, have: str, want: str | None, path) -> str:
    """Density to use: ``want`` if reachable from ``have`` by decimation, else a ValueError."""
    if want is None or want == have:
        return have
    check_option(name, want, DENSITIES)
    if N_VERTICES[want] > N_VERTICES[have]:
        raise ValueError(
            f"Density mismatch: {path} is at {have} ({N_VERTICES[have]} vertices per hemisphere) and "
            f"cannot give {want} ({N_VERTICES[want]}); ask for {name}={have!r} or use data at {want}."
        )
    return want
