"""The exact list of NSD files a pipeline run reads, each with the format it must have.

:func:`nsd_manifest` turns a pipeline config (subjects, sessions, space, beta version, ROI
atlases) into a :class:`Manifest`: one :class:`FileSpec` per file, relative to the NSD root, with
its expected shape, dtype, HDF5 dataset and chunking, MATLAB variables or table columns.
``neuro-igc nsd check`` compares a folder against it (headers only) and ``neuro-igc nsd fetch``
downloads exactly its files from the public bucket.

Shapes are written with :class:`Dim` axes: a fixed size, a set of allowed sizes (the fsaverage
densities), or a named size that several files must share (a session's trial count for both
hemispheres, a subject's native vertex count for its labels, transform and betas, a volume's grid
for the brain mask, the valid masks and the betas). Everything follows NSD's real layout (the NSD
data manual, and ``_layout.py`` here); the synthetic folders use the same layout with smaller sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from neuro_igc._utils import check_option
from neuro_igc.data import _layout as L

__all__ = [
    "Dim",
    "FileSpec",
    "Manifest",
    "nsd_manifest",
    "GROUP_ATLASES",
    "SUBJECT_ATLASES",
    "NATIVE_ATLASES",
    "MANIFEST_SPACES",
    "subjects_on_disk",
    "sessions_on_disk",
]

HEMIS = ("lh", "rh")
#: atlases NSD has on fsaverage (``nsddata/freesurfer/fsaverage/label``)
GROUP_ATLASES = ("nsdgeneral", "streams", "HCP_MMP1", "Kastner2015", "visualsulc", "corticalsulc")
#: atlases drawn per subject: only on the native surface and in the volumes
SUBJECT_ATLASES = L.SUBJECT_ATLASES
#: atlases NSD has on each subject's native surface (``nsddata/freesurfer/subjAA/label``)
NATIVE_ATLASES = SUBJECT_ATLASES + ("streams", "nsdgeneral", "Kastner2015", "HCP_MMP1")
MANIFEST_SPACES = ("fsaverage", "nativesurface", "func1pt8mm", "func1mm")
VOLUME_SOURCES = ("auto", "hdf5", "nifti")
FSAVERAGE = L.N_VERTICES["fsaverage"]

EXPDESIGN_VARIABLES = (("masterordering", (1, 30000)), ("subjectim", (8, 10000)), ("sharedix", (1, 1000)))
STIM_INFO_COLUMNS = ("cocoId", "nsdId", "shared1000") + tuple(f"subject{i}" for i in range(1, 9)) + tuple(
    f"subject{i}_rep{r}" for i in range(1, 9) for r in range(3))


@dataclass(frozen=True)
class Dim:
    """One axis of an expected shape.

    Parameters
    ----------
    name : str or None
        A size several files share: the first file that has it sets it, the others must match.
    allowed : tuple of int or None
        The sizes accepted (None: any).
    """

    name: str | None = None
    allowed: tuple[int, ...] | None = None

    def __str__(self) -> str:
        if self.allowed is not None:
            return "|".join(str(a) for a in self.allowed)
        return self.name or "any"


def _axes_text(shape) -> str:
    return "(" + ", ".join(str(a) for a in shape) + ("," if len(shape) == 1 else "") + ")"


@dataclass(frozen=True)
class FileSpec:
    """One file of a run and the format it must have.

    Attributes
    ----------
    path : str
        POSIX path relative to the NSD root (also the object key in the bucket).
    format : {"mgh", "hdf5", "nifti", "mat", "csv", "tsv", "ctab"}
    what : str
        What the file is, for messages.
    shape : tuple of int or Dim, or None
        Expected shape as the reader sees it (nibabel for MGH/NIfTI, h5py for HDF5).
    dtype : str or None
        A numpy dtype name, or ``"number"`` for any integer or float type.
    dataset : str or None
        HDF5 dataset name.
    chunks : tuple or None
        HDF5 chunking NSD uses; a different one is reported as a warning (slow reads, not wrong).
    variables : tuple of (name, shape)
        MATLAB ``.mat`` variables.
    columns : tuple of str
        Columns a CSV/TSV table must have.
    index_range : (int, int or Dim) or None
        An index map (NSD's 1-based transforms): every value must be an integer in this range.
        The only files whose values are read, as they are small and an off-by-one is silent.
    required : bool
        False for files read only by helpers outside the run (their absence is not an error).
    """

    path: str
    format: str
    what: str
    shape: tuple | None = None
    dtype: str | None = None
    dataset: str | None = None
    chunks: tuple | None = None
    variables: tuple = ()
    columns: tuple = ()
    index_range: tuple | None = None
    required: bool = True

    def expected(self) -> str:
        """The expected format in a few words."""
        dtype = "" if self.dtype is None else f" {self.dtype}"
        if self.format == "mgh":
            values = "" if self.index_range is None else f", values {self.index_range[0]}..{self.index_range[1]}"
            return f"MGH {_axes_text(self.shape)}{dtype}{values}"
        if self.format == "nifti":
            return f"NIfTI {_axes_text(self.shape)}{dtype}"
        if self.format == "hdf5":
            text = f"HDF5 {self.dataset!r}{dtype} {_axes_text(self.shape)}"
            return text + (f" chunks {_axes_text(self.chunks)}" if self.chunks else "")
        if self.format == "mat":
            return "MATLAB v5: " + ", ".join(f"{n} {_axes_text(s)}" for n, s in self.variables)
        if self.format in ("csv", "tsv"):
            cols = list(self.columns)
            shown = ", ".join(cols[:6]) + (f", ... ({len(cols)} columns)" if len(cols) > 6 else "")
            return f"{self.format.upper()} with columns {shown}"
        return "lookup table ('index name' lines)"


@dataclass
class Manifest:
    """The files one run reads (see :func:`nsd_manifest`).

    Attributes
    ----------
    files : list of FileSpec
        In reading order, without repeats.
    space, version : str
    subjects : list of int
    sessions : dict
        Subject -> its sessions.
    notes : list of str
        How the selection was made (sessions found on disk, task reading no NSD file...).
    """

    files: list[FileSpec]
    space: str
    version: str
    subjects: list[int]
    sessions: dict[int, list[int]]
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self):
        return iter(self.files)

    def paths(self) -> list[str]:
        """Relative paths of every file."""
        return [f.path for f in self.files]

    def to_frame(self):
        """pandas.DataFrame: path, format, what, expected, required."""
        import pandas as pd

        return pd.DataFrame({
            "path": [f.path for f in self.files],
            "format": [f.format for f in self.files],
            "what": [f.what for f in self.files],
            "expected": [f.expected() for f in self.files],
            "required": [f.required for f in self.files],
        })


# ---------------------------------------------------------------------------------------------
# what is on disk (the choices a run makes when the config leaves them open)


def subjects_on_disk(root, space: str = "fsaverage", version: str = L.BETA_VERSIONS[0]) -> list[int]:
    """Subjects with a beta folder for ``space``/``version`` under ``root`` (the run's default)."""
    base = Path(root) / "nsddata_betas" / "ppdata"
    out = []
    for s in range(1, L.N_SUBJECTS + 1):
        if (base / L.subject_name(s) / space / version).is_dir():
            out.append(s)
    return out


def _session_files(s: int, ses: int, space: str, version: str, source: str) -> list[Path]:
    if space == "fsaverage":
        return [L.surface_betas_path(s, "lh", ses, version)]
    if space == "nativesurface":
        return [L.native_betas_path(s, "lh", ses, version)]
    exts = {"auto": (".hdf5", ".nii.gz"), "hdf5": (".hdf5",), "nifti": (".nii.gz",)}[source]
    return [L.volume_betas_path(s, space, ses, version, e) for e in exts]


def sessions_on_disk(root, subject, space: str = "fsaverage", version: str = L.BETA_VERSIONS[0],
                     source: str = "auto") -> list[int]:
    """Sessions of ``subject`` whose (left-hemisphere, or volume) beta file is under ``root``."""
    s = L.subject_id(subject)
    root = Path(root)
    return [ses for ses in range(1, L.SESSIONS_PER_SUBJECT[s - 1] + 1)
            if any((root / p).is_file() for p in _session_files(s, ses, space, version, source))]


# ---------------------------------------------------------------------------------------------
# the manifest


class _Builder:
    def __init__(self):
        self.files: dict[str, FileSpec] = {}

    def add(self, rel: Path, fmt: str, what: str, **kw) -> None:
        key = Path(rel).as_posix()
        if key not in self.files:
            self.files[key] = FileSpec(key, fmt, what, **kw)


def _label_spec(b: _Builder, rel: Path, what: str, n: Dim) -> None:
    b.add(rel, "mgh", what, shape=(n, 1, 1), dtype="number")


def _ctab(b: _Builder, subject: int | None, atlas: str) -> None:
    """The atlas's lookup table; only needed when the package ships none for it."""
    who = "" if subject is None else f" of {L.subject_name(subject)}"
    b.add(L.ctab_path(subject, atlas), "ctab", f"{atlas} lookup table{who}", required=atlas not in L.LABEL_TABLES)


def _group_labels(b: _Builder, atlas: str, sizes: tuple[int, ...]) -> None:
    for h in HEMIS:
        _label_spec(b, L.surface_label_path(None, h, atlas), f"{atlas} labels on fsaverage ({h})",
                    Dim(f"fsaverage labels[{atlas}]", sizes))
    _ctab(b, None, atlas)


def _surface_atlas(b: _Builder, s: int, atlas: str, space: str, density_sizes: tuple[int, ...]) -> None:
    subj = L.subject_name(s)
    if space == "fsaverage" and atlas not in SUBJECT_ATLASES:
        _group_labels(b, atlas, density_sizes)
        return
    if space == "nativesurface" and atlas not in NATIVE_ATLASES:
        # a group atlas NSD has only on fsaverage: mapped to the native surface by fsaverage-to-white
        _group_labels(b, atlas, (FSAVERAGE,))
        return
    # a subject atlas (or one NSD also has on the native surface): the subject's native labels ...
    for h in HEMIS:
        _label_spec(b, L.surface_label_path(s, h, atlas), f"{atlas} labels of {subj} on its native surface ({h})",
                    Dim(f"native vertices[{subj} {h}]"))
    _ctab(b, s, atlas)
    if space == "fsaverage":  # ... reach fsaverage through the subject's index maps
        _fsaverage_to_white(b, s)  # its length is the native vertex count the labels must have
        _white_to_fsaverage(b, s)


def _white_to_fsaverage(b: _Builder, s: int) -> None:
    subj = L.subject_name(s)
    for h in HEMIS:
        b.add(L.transform_path(s, h, "white-to-fsaverage"), "mgh",
              f"native-to-fsaverage index map of {subj} ({h}; 1-based native vertex per fsaverage vertex)",
              shape=(FSAVERAGE, 1, 1), dtype="number", index_range=(1, Dim(f"native vertices[{subj} {h}]")))


def _fsaverage_to_white(b: _Builder, s: int) -> None:
    subj = L.subject_name(s)
    for h in HEMIS:
        b.add(L.transform_path(s, h, "fsaverage-to-white"), "mgh",
              f"fsaverage-to-native index map of {subj} ({h}; 1-based fsaverage vertex per native vertex)",
              shape=(Dim(f"native vertices[{subj} {h}]"), 1, 1), dtype="number", index_range=(1, FSAVERAGE))


def _volume_axes(s: int, space: str) -> tuple[Dim, Dim, Dim]:
    subj = L.subject_name(s)
    return tuple(Dim(f"{ax}[{subj} {space}]") for ax in "XYZ")


def _session_betas(b: _Builder, s: int, ses: int, space: str, version: str, sizes: tuple[int, ...],
                   source: str) -> None:
    subj = L.subject_name(s)
    trials = Dim(f"n_trials[{subj} session {ses:02d}]")
    if space == "fsaverage":
        n = Dim(f"fsaverage vertices[{subj}]", sizes)
        for h in HEMIS:
            b.add(L.surface_betas_path(s, h, ses, version), "mgh", f"fsaverage betas of {subj} session {ses} ({h})",
                  shape=(n, 1, 1, trials), dtype="float32")
    elif space == "nativesurface":
        for h in HEMIS:
            b.add(L.native_betas_path(s, h, ses, version), "hdf5",
                  f"native-surface betas of {subj} session {ses} ({h}; int16 x300)",
                  dataset="betas", dtype="int16", shape=(trials, Dim(f"native vertices[{subj} {h}]")),
                  chunks=(trials, 1))
    else:
        x, y, z = _volume_axes(s, space)
        b.add(L.valid_session_path(s, space, ses), "nifti", f"valid-voxel mask of {subj} session {ses}",
              shape=(x, y, z), dtype="number")
        if source == "nifti":
            b.add(L.volume_betas_path(s, space, ses, version, ".nii.gz"), "nifti",
                  f"{space} betas of {subj} session {ses} (int16 x300)", shape=(x, y, z, trials), dtype="int16")
        else:
            b.add(L.volume_betas_path(s, space, ses, version, ".hdf5"), "hdf5",
                  f"{space} betas of {subj} session {ses} (int16 x300)", dataset="betas", dtype="int16",
                  shape=(trials, z, y, x), chunks=(trials, 1, 1, 1))


def _volume_source(root, s: int, ses: int, space: str, version: str, source: str) -> str:
    """hdf5 or nifti: what the loader reads for ``source="auto"`` (hdf5 when present)."""
    if source != "auto":
        return source
    if root is not None:
        root = Path(root)
        if not (root / L.volume_betas_path(s, space, ses, version, ".hdf5")).is_file() and (
                root / L.volume_betas_path(s, space, ses, version, ".nii.gz")).is_file():
            return "nifti"
    return "hdf5"


def _unique(items) -> list:
    out = []
    for item in items:
        if item and item not in out:
            out.append(item)
    return out


def nsd_manifest(
    config=None,
    *,
    subjects=None,
    sessions=None,
    space: str | None = None,
    version: str | None = None,
    density: str | None = None,
    atlases=None,
    source: str | None = None,
    root=None,
) -> Manifest:
    """The NSD files a pipeline run reads, each with its expected format.

    Parameters
    ----------
    config : PipelineConfig or None
        A pipeline config (``neuro_igc.pipeline.load_config``): its ``data`` section gives the
        space, density, beta version, sessions and the ROI atlas that selects the features, and
        ``outputs.roi.atlases`` the atlases summed over. A benchmark config reads no NSD file.
    subjects : list of int/str or None
        Default: the subjects with betas under ``root`` (what the run uses), else all 8.
    sessions : list of int, str or None
        The same sessions for every subject, or a preset name (``"nsd37"``: every session but the
        last 3). Default: the config's, else the sessions on disk under ``root``, else every
        session NSD has for the subject.
    space : {"fsaverage", "nativesurface", "func1pt8mm", "func1mm"} or None
        Default: the config's.
    version : str or None
        Beta version (default: the config's, else ``betas_fithrf_GLMdenoise_RR``).
    density : {"fsaverage", "fsaverage5"} or None
        fsaverage only: the density the run uses (files at full density serve both).
    atlases : list of str or None
        ROI atlases read, replacing the config's.
    source : {"auto", "hdf5", "nifti"} or None
        Volume betas format (auto: hdf5 unless only the .nii.gz is under ``root``).
    root : path-like or None
        An NSD folder whose content settles the defaults above.

    Returns
    -------
    Manifest

    Examples
    --------
    >>> m = nsd_manifest(subjects=[1], sessions=[1], space="fsaverage", atlases=["prf-visualrois"])
    >>> len(m), sorted(p.rsplit("/", 1)[1] for p in m.paths() if "transforms" in p)[:2]
    (13, ['lh.fsaverage-to-white.mgz', 'lh.white-to-fsaverage.mgz'])
    """
    notes: list[str] = []
    data = getattr(config, "data", None)
    task = getattr(config, "task", None)
    space = space or getattr(data, "space", None) or "fsaverage"
    check_option("space", space, MANIFEST_SPACES)
    version = version or getattr(data, "beta_version", None) or L.BETA_VERSIONS[0]
    check_option("version", version, L.BETA_VERSIONS)
    density = density or getattr(data, "density", None) or "fsaverage5"
    check_option("density", density, L.DENSITIES)
    source = source or (getattr(data, "params", None) or {}).get("source", "auto")
    check_option("source", source, VOLUME_SOURCES)
    if atlases is None:
        roi = getattr(config, "outputs", None)
        roi = getattr(roi, "roi", None)
        atlases = _unique([getattr(data, "roi_atlas", None), *(getattr(roi, "atlases", None) or [])])
    else:
        atlases = _unique(atlases)
    if task == "benchmark":
        return Manifest([], space, version, [], {}, [f"the {task} task reads no NSD file"])

    if subjects is None:
        if root is not None:
            subjects = subjects_on_disk(root, space, version)
            notes.append(f"subjects with {space}/{version} betas under the NSD root: "
                         + (" ".join(f"{s:02d}" for s in subjects) or "none"))
        else:
            subjects = list(range(1, L.N_SUBJECTS + 1))
    subjects = sorted({L.subject_id(s) for s in subjects})
    if sessions is None and getattr(data, "sessions", None):
        sessions = data.sessions
    presets = L.SESSION_PRESETS
    if isinstance(sessions, str):
        check_option("sessions", sessions, presets)
    ses_map: dict[int, list[int]] = {}
    for s in subjects:
        if isinstance(sessions, str):  # a named preset, e.g. "nsd37": the first 37/29/27 sessions
            ses_map[s] = list(range(1, presets[sessions][s - 1] + 1))
        elif sessions is not None:
            ses_map[s] = L.check_sessions(s, list(sessions))
        elif root is not None:
            found = sessions_on_disk(root, s, space, version, source)
            ses_map[s] = found or [1]
            notes.append(f"{L.subject_name(s)}: sessions on disk "
                         + (_ranges(found) if found else "none (session 1 expected)"))
        else:
            ses_map[s] = L.check_sessions(s, None)

    b = _Builder()
    b.add(L.expdesign_path(), "mat", "experiment design", variables=EXPDESIGN_VARIABLES)
    b.add(L.stim_info_path(), "csv", "stimulus information table", columns=STIM_INFO_COLUMNS, required=False)
    b.add(L.stimuli_path(), "hdf5", "stimulus images", dataset="imgBrick", dtype="uint8",
          shape=(L.N_IMAGES_73K, Dim("image height"), Dim("image width"), 3))
    sizes = (FSAVERAGE,) if density == "fsaverage" else (FSAVERAGE, L.N_VERTICES["fsaverage5"])
    for s in subjects:
        subj = L.subject_name(s)
        b.add(L.responses_path(s), "tsv", f"behavioural responses of {subj}", columns=L.RESPONSES_COLUMNS,
              required=False)
        if space in ("func1pt8mm", "func1mm"):
            b.add(L.brainmask_path(s, space), "nifti", f"{space} brain mask of {subj}",
                  shape=_volume_axes(s, space), dtype="number")
            for atlas in atlases:
                b.add(L.volume_roi_path(s, space, atlas), "nifti", f"{atlas} labels of {subj} in {space}",
                      shape=_volume_axes(s, space), dtype="number")
                _ctab(b, s, atlas)
        else:
            if space == "nativesurface":
                _fsaverage_to_white(b, s)
                _white_to_fsaverage(b, s)
            for atlas in atlases:
                _surface_atlas(b, s, atlas, space, sizes)
        for ses in ses_map[s]:
            src = _volume_source(root, s, ses, space, version, source)
            _session_betas(b, s, ses, space, version, sizes, src)
    return Manifest(list(b.files.values()), space, version, subjects, ses_map, notes)


def _ranges(values: list[int]) -> str:
    """``[1, 2, 3, 5] -> '1-3 5'``."""
    out, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = v
        if i + 1 == len(values) or values[i + 1] != v + 1:
            out.append(f"{start}" if start == v else f"{start}-{v}")
            start = None
    return " ".join(out)
