"""Check an NSD folder against a :class:`~neuro_igc.data._manifest.Manifest`, reading headers only.

(The one exception: the values of the small native <-> fsaverage index maps, which must be
1-based vertex numbers within the surface they index; an off-by-one there would pass silently.)

Each file is opened with the library of its format and only its header is read: nibabel for
MGH/NIfTI (shape, dtype; an uncompressed ``.mgh`` shorter than its header says is reported as
truncated), h5py for HDF5 (dataset shape, dtype, chunks), ``scipy.io.whosmat`` for ``.mat``
files, pandas for the header row of CSV/TSV tables. Sizes several files must share (a session's
trial count, a subject's native vertex count, a volume grid) are compared across files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuro_igc.data._manifest import Dim, FileSpec, Manifest

__all__ = ["FileCheck", "CheckReport", "check_nsd", "STATUSES"]

#: file status -> whether it stops the run (for required files)
STATUSES = {"ok": False, "warning": False, "missing": True, "malformed": True}


@dataclass
class FileCheck:
    """The outcome for one file.

    Attributes
    ----------
    spec : FileSpec
    status : {"ok", "warning", "missing", "malformed"}
    found : str
        What the header says (shape, dtype, chunks...), or "" when missing.
    problems : list of str
        Why the file is malformed, or the warnings.
    """

    spec: FileSpec
    status: str
    found: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def fatal(self) -> bool:
        """True when this file stops the run (required and missing or malformed)."""
        return self.spec.required and STATUSES[self.status]

    def to_dict(self) -> dict:
        return {"path": self.spec.path, "what": self.spec.what, "status": self.status,
                "required": self.spec.required, "expected": self.spec.expected(), "found": self.found,
                "problems": list(self.problems)}


@dataclass
class CheckReport:
    """What :func:`check_nsd` found.

    Attributes
    ----------
    root : Path
    manifest : Manifest
    results : list of FileCheck
        One per manifest file, in the same order.
    """

    root: Path
    manifest: Manifest
    results: list[FileCheck]

    @property
    def ok(self) -> bool:
        """True when the run can read everything it needs (warnings allowed)."""
        return bool(self.manifest.subjects or not self.manifest.files) and not any(r.fatal for r in self.results)

    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in STATUSES}
        for r in self.results:
            out[r.status] += 1
        return out

    def to_frame(self):
        """pandas.DataFrame, one row per file: path, what, status, required, expected, found, problems."""
        import pandas as pd

        rows = [r.to_dict() for r in self.results]
        for row in rows:
            row["problems"] = "; ".join(row["problems"])
        return pd.DataFrame(rows, columns=["path", "what", "status", "required", "expected", "found", "problems"])

    def to_json(self) -> str:
        return json.dumps({
            "root": str(self.root), "ok": self.ok, "space": self.manifest.space, "version": self.manifest.version,
            "subjects": self.manifest.subjects,
            "sessions": {str(k): v for k, v in self.manifest.sessions.items()},
            "notes": self.manifest.notes, "counts": self.counts(),
            "files": [r.to_dict() for r in self.results],
        }, indent=2)

    def format_table(self, problems_only: bool = False) -> str:
        """A readable table: status, path and expected format; found and problems below a bad file."""
        shown = [r for r in self.results if not problems_only or r.status != "ok"]
        width = max([len(r.spec.path) for r in shown] + [4])
        lines = [f"{'status':<10} {'file':<{width}}  expected"]
        for r in shown:
            label = r.status if r.status == "ok" else r.status.upper()
            if r.status in ("missing", "malformed") and not r.spec.required:
                label += "*"
            lines.append(f"{label:<10} {r.spec.path:<{width}}  {r.spec.expected()}")
            if r.status != "ok":
                if r.found:
                    lines.append(f"{'':<10}   found: {r.found}")
                for p in r.problems:
                    lines.append(f"{'':<10}   {p}")
        c = self.counts()
        m = self.manifest
        lines.append("")
        for note in m.notes:
            lines.append(f"note: {note}")
        if any(not r.spec.required and r.status in ("missing", "malformed") for r in self.results):
            lines.append("* not needed by the run itself (read by other NSD helpers)")
        lines.append(
            f"{len(self.results)} files for subjects {' '.join(f'{s:02d}' for s in m.subjects) or '-'} "
            f"({m.space}, {m.version}): {c['ok']} ok, {c['warning']} with warnings, {c['missing']} missing, "
            f"{c['malformed']} malformed"
        )
        if not m.subjects and m.files:
            lines.append("no subject to run: none has betas in this folder (give --subjects)")
        lines.append("the run can read everything it needs" if self.ok else "the run cannot succeed: fix the files above")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# header readers: (found text, shape, dtype, extra problems)


def _dtype_ok(want: str | None, have: np.dtype) -> bool:
    if want is None:
        return True
    if want == "number":
        return np.issubdtype(have, np.number)
    return np.dtype(have).newbyteorder("=") == np.dtype(want).newbyteorder("=")


class _Shapes:
    """Named sizes bound across files: the first file that has a name sets its value."""

    def __init__(self):
        self.bound: dict[str, tuple[int, str]] = {}

    def check(self, spec_shape, have, path: str, label: str = "shape") -> list[str]:
        have = tuple(int(v) for v in have)
        if len(have) != len(spec_shape):
            shown = "(" + ", ".join(str(a) for a in spec_shape) + ")"
            return [f"{label} has {len(have)} axes {have}, expected {len(spec_shape)}: {shown}"]
        problems, binds = [], []
        for axis, (want, got) in enumerate(zip(spec_shape, have)):
            if isinstance(want, Dim):
                if want.allowed is not None and got not in want.allowed:
                    problems.append(f"{label} axis {axis} is {got}, expected {' or '.join(map(str, want.allowed))}")
                    continue
                if want.name is not None:
                    if want.name in self.bound:
                        value, where = self.bound[want.name]
                        if value != got:
                            problems.append(f"{label} axis {axis} is {got}, but {want.name} is {value} in {where}")
                    else:
                        binds.append((want.name, got))
            elif got != want:
                problems.append(f"{label} axis {axis} is {got}, expected {want}")
        if not problems:
            for name, value in binds:
                self.bound.setdefault(name, (value, path))
        return problems


def _check_mgh_or_nifti(spec: FileSpec, path: Path, shapes: _Shapes):
    import nibabel as nib

    img = nib.load(str(path))
    shape, dtype = tuple(int(v) for v in img.shape), img.get_data_dtype()
    found = f"{shape} {dtype.name}"
    problems = shapes.check(spec.shape, shape, spec.path) if spec.shape is not None else []
    if not _dtype_ok(spec.dtype, dtype):
        problems.append(f"dtype is {dtype.name}, expected {spec.dtype}")
    header = img.header
    if path.suffix == ".mgh" and hasattr(header, "get_data_offset"):  # uncompressed: sizes are known
        need = header.get_data_offset() + int(np.prod(shape)) * dtype.itemsize
        size = path.stat().st_size
        if size < need:
            problems.append(f"truncated: {size} bytes on disk, the header needs {need}")
    if spec.index_range is not None and not problems:
        found, more = _check_index_values(spec, np.asanyarray(img.dataobj), found, shapes)
        problems += more
    return found, problems, []


def _check_index_values(spec: FileSpec, values: np.ndarray, found: str, shapes: "_Shapes"):
    """An index map's values: integers within ``spec.index_range`` (NSD's maps are 1-based)."""
    low, high = spec.index_range
    where = ""
    if isinstance(high, Dim):
        bound = shapes.bound.get(high.name)
        where = f" ({high.name} in {bound[1]})" if bound else ""
        high = bound[0] if bound else None
    values = values.reshape(-1)
    if not np.all(np.isfinite(values)) or not np.array_equal(values, np.round(values)):
        return found, ["values are not all integers: an index map holds vertex numbers"]
    vmin, vmax = int(values.min()), int(values.max())
    found = f"{found}, values {vmin}..{vmax}"
    problems = []
    if vmin < low:
        hint = ": NSD's maps are 1-based (a 0 means a 0-based map)" if vmin == low - 1 else ""
        problems.append(f"values start at {vmin}, expected >= {low}{hint}")
    if high is not None and vmax > high:
        problems.append(f"values reach {vmax}, beyond the {high} vertices they index{where}")
    return found, problems


def _check_hdf5(spec: FileSpec, path: Path, shapes: _Shapes):
    import h5py

    with h5py.File(path, "r") as f:
        if spec.dataset not in f or not isinstance(f[spec.dataset], h5py.Dataset):
            names = ", ".join(sorted(f.keys())) or "none"
            return f"datasets: {names}", [f"dataset {spec.dataset!r} is missing"], []
        d = f[spec.dataset]
        shape, dtype, chunks = tuple(int(v) for v in d.shape), d.dtype, d.chunks
    found = f"{spec.dataset!r} {dtype.name} {shape} chunks {chunks}"
    problems = shapes.check(spec.shape, shape, spec.path) if spec.shape is not None else []
    if not _dtype_ok(spec.dtype, dtype):
        problems.append(f"dtype is {dtype.name}, expected {spec.dtype}")
    warnings = []
    if spec.chunks is not None and not problems:
        want = tuple(shapes.bound[a.name][0] if isinstance(a, Dim) and a.name in shapes.bound else a
                     for a in spec.chunks)
        if chunks is None or tuple(chunks) != want:
            warnings.append(f"chunks are {chunks}, NSD's are {want}: reads will be slower than on NSD's files")
    return found, problems, warnings


def _check_mat(spec: FileSpec, path: Path, shapes: _Shapes):
    import scipy.io

    info = {name: tuple(int(v) for v in shape) for name, shape, _cls in scipy.io.whosmat(str(path))}
    found = ", ".join(f"{n} {s}" for n, s in info.items()) or "no variables"
    problems = []
    for name, shape in spec.variables:
        if name not in info:
            problems.append(f"variable {name!r} is missing")
        elif info[name] != tuple(shape):
            problems.append(f"variable {name!r} has shape {info[name]}, expected {tuple(shape)}")
    return found, problems, []


def _check_table(spec: FileSpec, path: Path, shapes: _Shapes):
    import pandas as pd

    cols = list(pd.read_csv(path, sep="\t" if spec.format == "tsv" else ",", nrows=0).columns)
    missing = [c for c in spec.columns if c not in cols]
    found = f"{len(cols)} columns"
    return found, ([f"columns missing: {', '.join(missing)}"] if missing else []), []


def _check_ctab(spec: FileSpec, path: Path, shapes: _Shapes):
    from neuro_igc.data._io import read_ctab

    table = read_ctab(path)
    problems = [] if table else ["no label lines (index > 0)"]
    return f"{len(table)} labels", problems, []


CHECKERS = {
    "mgh": _check_mgh_or_nifti,
    "nifti": _check_mgh_or_nifti,
    "hdf5": _check_hdf5,
    "mat": _check_mat,
    "csv": _check_table,
    "tsv": _check_table,
    "ctab": _check_ctab,
}


def check_file(root: Path, spec: FileSpec, shapes: _Shapes | None = None) -> FileCheck:
    """Check one file of the manifest (headers only)."""
    shapes = _Shapes() if shapes is None else shapes
    path = Path(root) / spec.path
    if not path.is_file():
        return FileCheck(spec, "missing")
    if path.stat().st_size == 0:
        return FileCheck(spec, "malformed", "0 bytes", ["empty file"])
    try:
        found, problems, warnings = CHECKERS[spec.format](spec, path, shapes)
    except Exception as exc:  # any reader failure means the run cannot read the file either
        return FileCheck(spec, "malformed", "", [f"cannot be read as {spec.format}: {type(exc).__name__}: {exc}"])
    if problems:
        return FileCheck(spec, "malformed", found, problems + warnings)
    return FileCheck(spec, "warning" if warnings else "ok", found, warnings)


def check_nsd(root, manifest: Manifest) -> CheckReport:
    """Check every file of ``manifest`` under ``root`` (headers only; nothing is loaded).

    Parameters
    ----------
    root : path-like
        The NSD folder.
    manifest : Manifest
        From :func:`~neuro_igc.data.nsd_manifest` (give it the same ``root`` so that defaults
        such as the sessions on disk follow the folder).

    Returns
    -------
    CheckReport
        ``report.ok`` is False when a required file is missing or malformed.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"NSD root {root} is not a folder; give the folder that holds nsddata/, nsddata_betas/ and "
            "nsddata_stimuli/ (or download the files a pipeline needs with `neuro-igc nsd fetch`)."
        )
    shapes = _Shapes()
    return CheckReport(root, manifest, [check_file(root, spec, shapes) for spec in manifest.files])
