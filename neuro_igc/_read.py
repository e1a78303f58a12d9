"""One reading layer for every input format: errors that name the file and say what to do.

Each reader checks the path first (missing, a folder, unreadable, empty), then opens the file with
the library of its format (nibabel, h5py, scipy.io, pandas, numpy, torch) and turns that
library's exceptions into an :class:`~neuro_igc.errors.InputFileError` naming the file, what is
wrong and what to do (download it again, check the disk or the permissions).

Many formats read lazily (nibabel array proxies, h5py datasets): a truncated file may open and
fail only when its data are read. Wrap those reads in :func:`reading` (or use
:func:`image_data`), not only the open.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "lh.betas_session01.mgh"
>>> _ = p.write_bytes(b"")
>>> try:
...     load_image(p, "surface betas")
... except InputFileError as err:
...     print(err.reason)
the file is empty (0 bytes)
"""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from neuro_igc.errors import InputFileError, MissingFileError, NeuroIGCError

__all__ = [
    "check_file",
    "reading",
    "refetch_hint",
    "load_image",
    "image_data",
    "read_annot",
    "read_geometry",
    "read_text",
    "open_hdf5",
    "hdf5_dataset",
    "read_mat",
    "read_table",
    "read_npz",
    "read_torch",
    "file_error",
]

#: top-level folders of NSD's S3 bucket (a path under one of them can be fetched again)
NSD_BUCKET = "natural-scenes-dataset"
_NSD_PARTS = ("nsddata", "nsddata_betas", "nsddata_stimuli", "nsddata_timeseries", "nsddata_diffusion",
              "nsddata_other", "nsddata_rawdata")

DISK_HINT = "If it keeps failing, check the disk (free space, I/O errors in the system log)."


def _nsd_relpath(path: Path) -> str | None:
    parts = Path(path).parts
    for i, part in enumerate(parts):
        if part in _NSD_PARTS:
            return "/".join(parts[i:])
    return None


def refetch_hint(path, *, missing: bool = False) -> str:
    """What to do about a damaged (or ``missing``) input file: fetch it (again), from NSD's bucket
    when it is one of NSD's files."""
    rel = _nsd_relpath(Path(path))
    if rel is not None:
        root = Path(path).parents[len(Path(rel).parts) - 1]
        head = "Download it" if missing else "Delete it and download it again"
        return (f"{head} (`neuro-igc nsd fetch {root}` with the run's --config and "
                f"--subjects, or `aws s3 cp --no-sign-request s3://{NSD_BUCKET}/{rel} {path}`); a synthetic "
                f"folder: write it{'' if missing else ' again'} with `neuro-igc synth`.")
    if missing:
        return "Copy or download it there, or run the step that writes it."
    return "Copy or download it again, or write it again with the step that made it."


def file_error(path, reason: str, what: str = "", hint: str | None = None) -> InputFileError:
    """An :class:`InputFileError` for a file whose content is wrong (missing dataset, shape, ...)."""
    return InputFileError(path, reason, refetch_hint(path) if hint is None else hint, what)


def check_file(path, what: str = "") -> Path:
    """``path`` as a Path if it is a readable, non-empty file; else an :class:`InputFileError`."""
    path = Path(os.fspath(path))
    if not path.exists():
        where = path.parent
        hint = (f"Check the path: the folder {where} does not exist either." if not where.is_dir()
                else "Check the path. " + refetch_hint(path, missing=True))
        raise MissingFileError(path, "no such file", hint, what)
    if path.is_dir():
        raise InputFileError(path, "it is a folder, not a file", "Give the path of the file itself.", what)
    if not os.access(path, os.R_OK):
        raise InputFileError(path, "permission denied",
                             "Check the file's permissions and owner (`ls -l`), or ask whoever owns it.", what)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputFileError(path, f"cannot stat it ({exc.strerror or exc})", DISK_HINT, what) from exc
    if size == 0 and path.is_file():
        raise InputFileError(path, "the file is empty (0 bytes)",
                             "The copy or download was probably interrupted. " + refetch_hint(path), what)
    return path


def _file_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "this file is damaged" when raised while its data are read."""
    errs: list[type[BaseException]] = [OSError, EOFError, zlib.error, struct.error, zipfile.BadZipFile,
                                       pickle.UnpicklingError, UnicodeDecodeError]
    try:
        from nibabel.filebasedimages import ImageFileError
        from nibabel.spatialimages import HeaderDataError

        errs += [ImageFileError, HeaderDataError]
    except ImportError:  # pragma: no cover
        pass
    return tuple(errs)


#: format libraries: an exception raised inside them while a file is read means a damaged file
_FORMAT_LIBS = ("nibabel", "h5py", "scipy.io", "pandas", "gzip", "zlib", "zipfile", "numpy.lib", "torch.serialization",
                "pickle", "struct", "_io", "io", "codecs")


def _raised_by_format_library(exc: BaseException) -> bool:
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__", "")
    return any(module == lib or module.startswith(lib + ".") for lib in _FORMAT_LIBS)


def _describe(exc: BaseException) -> str:
    """A short reason from a library exception (first line, type name when it says little)."""
    text = " ".join(str(exc).split("\n")[0].split()) or type(exc).__name__
    if isinstance(exc, OSError) and exc.errno in (errno.EIO, errno.ENOSPC, errno.EROFS):
        return f"I/O error ({exc.strerror or text})"
    if isinstance(exc, KeyError) or len(text) < 12:
        text = f"{type(exc).__name__}: {text}"
    if len(text) > 200:
        text = text[:197] + "..."
    return f"the file is truncated or corrupt ({text})"


@contextlib.contextmanager
def reading(path, what: str = "", *, broad: bool = False) -> Iterator[Path]:
    """Turn a damaged-file exception raised inside the block into an :class:`InputFileError`.

    ``broad=True`` (for blocks that only call a format library's open/parse) translates every
    ``Exception``; otherwise only those that mean a damaged or unreadable file: OSError, EOFError,
    zlib/zip/gzip/struct/pickle errors, nibabel's ImageFileError..., and any exception raised from
    inside a format library (nibabel's "not enough data in file" ValueError). Errors raised by this
    package's own code in the block (shape checks, indexing) pass through unchanged.
    """
    path = Path(os.fspath(path)) if path is not None else Path("<unknown file>")
    try:
        yield path
    except NeuroIGCError:
        raise
    except MemoryError:
        raise
    except PermissionError as exc:
        raise InputFileError(path, "permission denied",
                             "Check the file's permissions and owner (`ls -l`).", what) from exc
    except Exception as exc:
        if not (broad or isinstance(exc, _file_errors()) or _raised_by_format_library(exc)):
            raise
        reason = _describe(exc)
        hint = DISK_HINT if reason.startswith("I/O error") else refetch_hint(path) + " " + DISK_HINT
        raise InputFileError(path, reason, hint, what) from exc


# ---------------------------------------------------------------------------------------------
# nibabel: .mgh/.mgz, .nii/.nii.gz, GIFTI, FreeSurfer annot / geometry


def load_image(path, what: str = ""):
    """Open a nibabel image (.mgh, .mgz, .nii, .nii.gz, .gii); data stay proxied.

    A truncated file may open and fail only when its data are read: read them with
    :func:`image_data` (or inside :func:`reading`).
    """
    import nibabel as nib

    path = check_file(path, what)
    with reading(path, what, broad=True):
        return nib.load(str(path))


def image_data(img, index=None, *, unscaled: bool = False, dtype=None, what: str = "") -> np.ndarray:
    """``img.dataobj[index]`` (all when None) as an array, read errors naming the file."""
    path = img.get_filename() if hasattr(img, "get_filename") else None
    with reading(path, what):
        proxy = img.dataobj
        if unscaled and hasattr(proxy, "get_unscaled"):
            arr = np.asarray(proxy.get_unscaled())
            arr = arr if index is None else arr[index]
        else:
            arr = np.asarray(proxy) if index is None else np.asarray(proxy[index])
    return arr if dtype is None else arr.astype(dtype, copy=False)


def read_annot(path, what: str = "FreeSurfer annotation"):
    """``nibabel.freesurfer.read_annot(path)``: (labels, ctab, names)."""
    import nibabel as nib

    path = check_file(path, what)
    with reading(path, what, broad=True):
        return nib.freesurfer.read_annot(str(path))


def read_geometry(path, what: str = "surface mesh"):
    """Vertex coordinates and faces of a FreeSurfer surface or a GIFTI mesh."""
    import nibabel as nib

    path = check_file(path, what)
    with reading(path, what, broad=True):
        if str(path).endswith(".gii"):
            arrays = nib.load(str(path)).darrays
            faces = np.asarray(arrays[1].data) if len(arrays) > 1 else None
            return np.asarray(arrays[0].data), faces
        coords, faces = nib.freesurfer.read_geometry(str(path))[:2]
        return coords, faces


def read_text(path, what: str = "") -> str:
    """A text file's content (UTF-8), e.g. a lookup table."""
    path = check_file(path, what)
    with reading(path, what, broad=True):
        text = path.read_text()
    if "\x00" in text:
        raise file_error(path, "it holds binary data, not text", what)
    return text


# ---------------------------------------------------------------------------------------------
# HDF5


def open_hdf5(path, what: str = ""):
    """``h5py.File(path, "r")``; use as a context manager, and wrap dataset reads in :func:`reading`."""
    import h5py

    path = check_file(path, what)
    with reading(path, what, broad=True):
        return h5py.File(path, "r")


def hdf5_dataset(f, name: str, what: str = ""):
    """Dataset ``name`` of an open HDF5 file, or an :class:`InputFileError` listing what it holds."""
    if name not in f:
        found = ", ".join(repr(k) for k in list(f.keys())[:10]) or "nothing"
        raise file_error(f.filename, f"dataset {name!r} is missing (the file holds {found})", what)
    return f[name]


# ---------------------------------------------------------------------------------------------
# MATLAB, tables, numpy, torch


def read_mat(path, what: str = "", variables: Iterable[str] = ()) -> dict:
    """``scipy.io.loadmat(path)``, checking that ``variables`` are present."""
    from scipy.io import loadmat

    path = check_file(path, what)
    with reading(path, what, broad=True):
        mat = loadmat(str(path))
    missing = [v for v in variables if v not in mat]
    if missing:
        found = ", ".join(repr(k) for k in mat if not k.startswith("__")) or "nothing"
        raise file_error(path, f"variables {missing} are missing (the file holds {found})", what)
    return mat


def read_table(path, what: str = "", *, columns: Iterable[str] = (), **kwargs):
    """``pandas.read_csv(path, **kwargs)``, checking that ``columns`` are present."""
    import pandas as pd

    path = check_file(path, what)
    with reading(path, what, broad=True):
        df = pd.read_csv(path, **kwargs)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        shown = ", ".join(map(repr, list(df.columns)[:12]))
        raise file_error(path, f"columns {missing} are missing (found {shown})", what)
    return df


def read_npz(path, what: str = "", *, keys: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read now (no pickles), checking that ``keys`` are present."""
    path = check_file(path, what)
    with reading(path, what, broad=True):
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise file_error(path, "it is a single .npy array, not an .npz archive", what)
            out = {k: data[k] for k in data.files}
    missing = [k for k in keys if k not in out]
    if missing:
        raise file_error(path, f"arrays {missing} are missing (found {', '.join(map(repr, out))})",
                         what)
    return out


def read_torch(path, what: str = "checkpoint", *, map_location="cpu", weights_only: bool = True):
    """``torch.load(path, weights_only=True)``."""
    import torch

    path = check_file(path, what)
    try:
        with reading(path, what, broad=True):
            return torch.load(path, map_location=map_location, weights_only=weights_only)
    except InputFileError as err:
        cause = err.__cause__
        import re

        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(cause)) if cause is not None else None
        if weights_only and isinstance(cause, pickle.UnpicklingError) and found:
            # a valid file holding Python objects that weights_only refuses: not a damaged file
            # (a damaged one fails on an "Unsupported operand" instead)
            obj = f" (e.g. {found.group(1)})"
            raise InputFileError(
                path,
                f"it holds pickled Python objects{obj}, not only tensors and plain data; they are not loaded "
                "because unpickling them could run arbitrary code",
                "Save the model's weights instead (neuro_igc.models.save_checkpoint, or torch.save of "
                "model.state_dict() and plain numbers/strings); if you wrote the file yourself and trust it, "
                "load it with torch.load(path, weights_only=False) and save its state_dict.",
                what,
            ) from cause
        raise
