"""Small helpers shared by every subpackage: parameter checks, soft imports, devices, atomic writes."""

from __future__ import annotations

import contextlib
import importlib
import math
import numbers
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from neuro_igc.errors import NeuroIGCError

__all__ = [
    "InvalidParameterError",
    "Interval",
    "Options",
    "POSITIVE_INT",
    "NON_NEGATIVE_INT",
    "FRACTION",
    "SWITCH",
    "check_param",
    "check_params",
    "check_option",
    "check_feature_arrays",
    "check_unique_vertices",
    "den_label",
    "soft_import",
    "resolve_device",
    "atomic_path",
    "atomic_write_text",
    "current_umask",
    "new_figure",
    "USER_ERRORS",
    "error_line",
    "progress_bar",
    "LOG_PROGRESS_INTERVAL_S",
    "write_error",
    "check_not_meta",
    "check_labels_in_table",
]

#: FreeSurfer hemisphere names, in the order features list them (every lh vertex before every rh one)
HEMIS = ("lh", "rh")

#: errors that come from what the user gave (files, values, folders); the command line shows
#: them as one line, without a traceback
USER_ERRORS = (ValueError, TypeError, LookupError, OSError, RuntimeError)


def error_line(exc: BaseException, prog: str = "neuro-igc") -> str:
    """The one-line message of an error for the command line; unexpected ones keep their type.

    Examples
    --------
    >>> error_line(ValueError("Invalid value for 'x'."))
    "neuro-igc: error: Invalid value for 'x'."
    """
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, KeyError) and exc.args:
        text = f"missing key {exc.args[0]!r}"
    if isinstance(exc, USER_ERRORS):
        return f"{prog}: error: {text}"
    return f"{prog}: error: {type(exc).__name__}: {text} (rerun with --debug for the traceback)"


# -- declared parameter checks ---------------------------------------------------------------
# A parameter's constraints are declared as a tuple of alternatives (an ``Interval``, ``Options``,
# a type, or ``None`` for "may be None"); ``check_param`` tests them and writes the one message,
# "Invalid value for 'name': ...; got ...", that every public entry point shows.


class InvalidParameterError(NeuroIGCError, ValueError, TypeError):
    """A parameter that does not meet its declared constraints.

    Both a ``ValueError`` and a ``TypeError``, so that callers catching either keep working
    whether the value had the wrong type or the wrong value. ``param`` is the parameter's name
    and ``reason`` the message after it (a config loader re-words it with the file and key).
    """

    def __init__(self, message: str, param: str = "", reason: str = ""):
        super().__init__(message)
        self.param, self.reason = param, reason

    def __reduce__(self):  # picklable across processes
        return (type(self), (str(self), self.param, self.reason))


class Interval:
    """Numbers of one kind between two bounds.

    Parameters
    ----------
    kind : numbers.Integral or numbers.Real
        Integers only (booleans are refused), or any finite real number.
    left, right : number or None
        Bounds; None for no bound.
    closed : {"both", "left", "right", "neither"}, default="both"
        Which bounds belong to the interval.

    Examples
    --------
    >>> str(Interval(numbers.Integral, 1))
    'an integer >= 1'
    >>> 0.5 in Interval(numbers.Real, 0, 1, closed="neither"), 1 in Interval(numbers.Real, 0, 1, closed="left")
    (True, False)
    """

    def __init__(self, kind, left=None, right=None, closed: str = "both"):
        if kind not in (numbers.Integral, numbers.Real):
            raise ValueError(f"Invalid value for 'kind': allowed are numbers.Integral, numbers.Real; got {kind!r}.")
        if closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"Invalid value for 'closed': allowed are 'both', 'left', 'right', 'neither'; got {closed!r}.")
        self.kind, self.left, self.right, self.closed = kind, left, right, closed

    def has_kind(self, value) -> bool:
        """Whether ``value`` is a number of this kind (booleans never are), whatever its range."""
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        return self.kind is numbers.Integral or math.isfinite(float(value))

    def __contains__(self, value) -> bool:
        if not self.has_kind(value):
            return False
        lo_closed = self.closed in ("both", "left")
        hi_closed = self.closed in ("both", "right")
        if self.left is not None and (value < self.left or (value == self.left and not lo_closed)):
            return False
        if self.right is not None and (value > self.right or (value == self.right and not hi_closed)):
            return False
        return True

    def range_text(self) -> str:
        """The bounds in words: ``">= 1"``, ``"in (0, 1)"``."""
        lo = "[" if self.closed in ("both", "left") else "("
        hi = "]" if self.closed in ("both", "right") else ")"
        if self.left is not None and self.right is not None:
            return f"in {lo}{self.left}, {self.right}{hi}"
        if self.left is not None:
            return f"{'>=' if lo == '[' else '>'} {self.left}"
        if self.right is not None:
            return f"{'<=' if hi == ']' else '<'} {self.right}"
        return "finite" if self.kind is numbers.Real else "any"

    def __str__(self) -> str:
        noun = "an integer" if self.kind is numbers.Integral else "a number"
        text = self.range_text()
        return noun if text == "any" else f"{noun} {text}"

    def __repr__(self) -> str:
        return f"Interval({self.kind.__name__}, {self.left!r}, {self.right!r}, closed={self.closed!r})"


class Options:
    """A fixed set of allowed values; booleans match only booleans (``1`` is not ``True``).

    Examples
    --------
    >>> "auto" in SWITCH, 1 in SWITCH, str(SWITCH)
    (True, False, "one of 'auto', True, False")
    """

    def __init__(self, *values):
        self.values = tuple(values)

    def __contains__(self, value) -> bool:
        for allowed in self.values:
            if isinstance(allowed, bool) or isinstance(value, bool):
                if value is allowed:
                    return True
            elif type(value) is not type(allowed) and not (isinstance(value, str) and isinstance(allowed, str)):
                continue
            elif value == allowed:
                return True
        return False

    def shown(self) -> str:
        return ", ".join(repr(v) for v in self.values)

    def __str__(self) -> str:
        return f"one of {self.shown()}"

    def __repr__(self) -> str:
        return f"Options({self.shown()})"


#: an integer >= 1 (sizes, counts, iterations)
POSITIVE_INT = Interval(numbers.Integral, 1)
#: an integer >= 0 (epochs, workers)
NON_NEGATIVE_INT = Interval(numbers.Integral, 0)
#: a rate in [0, 1) (dropout, drop-path)
FRACTION = Interval(numbers.Real, 0, 1, closed="left")
#: the three-way switch of ``distributed=`` / ``group_by_subject=`` / ``factorize=``
SWITCH = Options("auto", True, False)


def _satisfies(constraint, value) -> bool:
    if constraint is None:
        return value is None
    if isinstance(constraint, (Interval, Options)):
        return value in constraint
    if isinstance(constraint, (type, tuple)):
        return isinstance(value, constraint)
    raise TypeError(f"Unknown parameter constraint {constraint!r}.")  # a programming error, not the user's


def _describe(constraint) -> str:
    if constraint is None:
        return "None"
    if isinstance(constraint, (Interval, Options)):
        return str(constraint)
    types = constraint if isinstance(constraint, tuple) else (constraint,)
    return " or ".join(f"a {t.__name__}" for t in types)


def _invalid_reason(name: str, value, constraints, hint: str = "") -> str:
    """What is wrong, after "Invalid value for 'name': " (see :func:`check_param`)."""
    shown = repr(value)
    if len(shown) > 80:  # arrays, tensors, datasets: their type says enough
        shown = f"a {type(value).__name__}"
    in_kind = [c for c in constraints if isinstance(c, Interval) and c.has_kind(value)]
    if len(in_kind) == 1 and all(c is None or isinstance(c, Interval) for c in constraints):
        text = f"must be {in_kind[0].range_text()}"
    elif all(isinstance(c, Options) for c in constraints):
        text = "allowed are " + ", ".join(c.shown() for c in constraints)
    else:
        text = "expected " + " or ".join(_describe(c) for c in constraints)
    hint = f" {hint.strip()}" if hint else ""
    return f"{text}; got {shown}.{hint}"


def _invalid(name: str, value, constraints, hint: str = "") -> InvalidParameterError:
    reason = _invalid_reason(name, value, constraints, hint)
    return InvalidParameterError(f"Invalid value for {name!r}: {reason}", name, reason)


def check_param(name: str, value, *constraints, hint: str = ""):
    """Return ``value`` when it meets one of ``constraints``; else raise one clear error.

    Parameters
    ----------
    name : str
        The parameter's name, as the user wrote it.
    value : object
    *constraints : Interval, Options, type, tuple of types, or None
        The alternatives (``None``: the value may be None).
    hint : str, default=""
        What to do, appended to the message.

    Raises
    ------
    InvalidParameterError
        ``"Invalid value for 'name': must be >= 1; got 0."`` (a number out of range),
        ``"...: allowed are 'a', 'b'; got 'c'."`` (options), or ``"...: expected ... ; got ..."``.

    Examples
    --------
    >>> check_param("n_steps", 32, POSITIVE_INT)
    32
    >>> check_param("n_steps", 0, POSITIVE_INT)
    Traceback (most recent call last):
    ...
    neuro_igc._utils.InvalidParameterError: Invalid value for 'n_steps': must be >= 1; got 0.
    """
    if not constraints:
        raise TypeError("check_param needs at least one constraint.")
    if any(_satisfies(c, value) for c in constraints):
        return value
    raise _invalid(name, value, constraints, hint)


def check_params(constraints: Mapping[str, tuple], values: Mapping[str, Any] | Any) -> None:
    """Check several parameters against their declared constraints (see :func:`check_param`).

    ``values`` is a mapping or an object whose attributes carry the names (a settings
    dataclass checking itself in ``__post_init__``). Names are checked in declaration order, so
    the first bad one is reported.

    Examples
    --------
    >>> CONSTRAINTS = {"epochs": (NON_NEGATIVE_INT,), "device": (str, None)}
    >>> check_params(CONSTRAINTS, {"epochs": 3, "device": None})
    """
    get = values.__getitem__ if isinstance(values, Mapping) else (lambda k: getattr(values, k))
    for name, alternatives in constraints.items():
        alternatives = alternatives if isinstance(alternatives, tuple) else (alternatives,)
        check_param(name, get(name), *alternatives)


def check_option(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Raise a ValueError naming the parameter, the allowed values and the given one.

    Examples
    --------
    >>> check_option("method", "riemann-left", ["riemann-left", "riemann-right"])
    'riemann-left'
    """
    allowed = list(allowed)
    if value not in allowed:
        raise _invalid(name, value, (Options(*allowed),))
    return value


# -- surface feature arrays (shared by the data layer and the surface writers) ----------------
def den_label(n_vertices: int) -> str:
    """BIDS ``den`` label of a per-hemisphere vertex count: 163842 -> "164k", 10242 -> "10k"."""
    n = int(n_vertices)
    return f"{round(n / 1000)}k" if n >= 1000 else str(n)


def check_feature_arrays(hemi, vertex):
    """``(hemi, vertex)`` as arrays, checked as every list of surface features needs them: 1-D,
    one entry per feature, hemispheres 'lh'/'rh'."""
    hemi = np.asarray(hemi)
    vertex = np.asarray(vertex)
    if hemi.ndim != 1 or vertex.ndim != 1 or hemi.shape != vertex.shape:
        raise ValueError(
            f"'hemi' and 'vertex' must be 1-D arrays of the same length (one entry per feature); "
            f"got shapes {hemi.shape} and {vertex.shape}."
        )
    bad = ~np.isin(hemi, HEMIS)
    if bad.any():
        raise ValueError(f"Invalid value in 'hemi': allowed are 'lh', 'rh'; got {np.unique(hemi[bad])[:5].tolist()}.")
    return hemi, vertex


def check_unique_vertices(hemi: str, vertex: np.ndarray) -> None:
    """Raise when a vertex of one hemisphere holds more than one feature."""
    uniq, counts = np.unique(vertex, return_counts=True)
    if (counts > 1).any():
        raise ValueError(
            f"Duplicate vertex indices in {hemi}: {uniq[counts > 1][:5].tolist()} appear more than once; each "
            "vertex may hold one feature (a later value would silently overwrite an earlier one)."
        )


def soft_import(module: str, purpose: str, package: str | None = None):
    """Import an optional dependency, or raise an ImportError that says what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised only without the package
        pkg = package or module.split(".")[0]
        raise ImportError(
            f"{purpose} needs the optional package {pkg!r}; install it with `pip install {pkg}`."
        ) from exc


def resolve_device(device=None):
    """Return a ``torch.device``: the given one, or CUDA when available, else CPU."""
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"Invalid value for 'device': allowed are 'auto', 'cpu', 'cuda', 'cuda:N' (or None); got {device!r}."
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"Invalid value for 'device': {device!r} was asked for but no CUDA device is available; use 'cpu' or None.")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(
            f"Invalid value for 'device': {device!r} was asked for but only {torch.cuda.device_count()} CUDA "
            "device(s) are visible; use 'cuda:0' .. or 'cuda'."
        )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"Invalid value for 'device': {device!r} was asked for but MPS is not available; use 'cpu' or None.")
    return dev


def current_umask() -> int:
    """The process umask, read without changing it where the system allows.

    Linux reports it in ``/proc/self/status``; elsewhere it is read by setting and restoring it
    (``os.umask`` has no read-only form).
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the destination folder; rename it to ``path`` on success.

    A failure inside the block removes the temporary file, so a killed or failed write never
    leaves a half-written ``path``. The file gets the mode ``open()`` would give it (0666 less
    the process umask), not the private 0600 of a temporary file. The temporary name keeps the destination's suffix (nibabel
    and numpy choose formats by extension).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "a.npy") as tmp:
    ...     np.save(tmp, np.arange(3))
    >>> np.load(d / "a.npy").tolist()
    [0, 1, 2]
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name
    if suffix is None:
        # keep compound suffixes such as .nii.gz or .func.gii
        suffix = "".join(path.suffixes) if path.suffixes else ""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        # mkstemp makes the file private (0600); give it the mode open() would have given
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file, then rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def new_figure(purpose: str = "Figures", **kwargs):
    """A matplotlib ``Figure`` of its own, outside pyplot's state: drawing it neither changes the
    backend nor opens a window, so library figures leave a notebook's matplotlib set-up alone."""
    figure = soft_import("matplotlib.figure", purpose, package="matplotlib")
    return figure.Figure(**kwargs)


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Save a matplotlib figure atomically (format from the suffix, PNG without one) and close it."""
    import sys

    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    finally:
        if "matplotlib.pyplot" in sys.modules:  # a figure made with pyplot is released there
            sys.modules["matplotlib.pyplot"].close(fig)
    return path


#: seconds between two updates of a progress bar that does not write to a terminal (a log file,
#: a pipe): tqdm's default, 0.1 s, would add ten lines a second to a batch job's log
LOG_PROGRESS_INTERVAL_S = 5.0


def progress_bar(iterable=None, **kwargs):
    """``tqdm.auto.tqdm(iterable, **kwargs)``, updated at most every
    :data:`LOG_PROGRESS_INTERVAL_S` seconds when its stream is not a terminal (unless
    ``mininterval`` or the ``TQDM_MININTERVAL`` environment variable says otherwise)."""
    from tqdm.auto import tqdm

    if "mininterval" not in kwargs and not os.environ.get("TQDM_MININTERVAL") and not _is_notebook_bar(tqdm):
        stream = kwargs.get("file") or sys.stderr
        try:
            tty = bool(stream.isatty())
        except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
            tty = False
        if not tty:
            kwargs["mininterval"] = LOG_PROGRESS_INTERVAL_S
    return tqdm(iterable, **kwargs)


def _is_notebook_bar(cls) -> bool:
    """A Jupyter widget bar (tqdm.auto in a notebook) writes no lines: leave its rate alone."""
    mod = sys.modules.get("tqdm.notebook")
    return mod is not None and isinstance(cls, type) and issubclass(cls, mod.tqdm_notebook)


def write_error(path, exc: BaseException, what: str = ""):
    """An :class:`~neuro_igc.errors.OutputFileError` for a failed write of ``path``, saying why in
    words: a full disk (``ENOSPC``, or torch's ``inline_container ... unexpected pos`` when its
    archive writer hits one), a quota, permissions; the free space of the folder is given."""
    import errno
    import shutil

    from neuro_igc.errors import OutputFileError

    folder = Path(path).parent
    try:
        free = f"{shutil.disk_usage(folder).free / 2**20:.1f} MiB free on {folder}"
    except OSError:
        free = f"free space on {folder} unknown"
    text = " ".join(str(exc).split())
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT) or "unexpected pos" in text or "PytorchStreamWriter" in text:
        reason = f"the write stopped part-way, which means the disk is full or a quota is reached ({free})"
        hint = "Free some space (df -h) or write to another folder; nothing was left at that path."
    elif isinstance(exc, PermissionError):
        reason, hint = "permission denied", f"Check the permissions of {folder} (ls -ld)."
    else:
        reason = f"{type(exc).__name__}: {text[:200]}"
        hint = f"Check the disk ({free}) and the folder's permissions; nothing was left at that path."
    return OutputFileError(path, reason, hint, what)


def check_not_meta(value, name: str) -> None:
    """A ValueError naming ``name`` when ``value`` -- a tensor, or a module's parameters and
    buffers -- is on torch's ``meta`` device: shapes without values, nothing to compute with."""
    import torch

    if isinstance(value, torch.nn.Module):
        meta = [n for n, t in (*value.named_parameters(), *value.named_buffers()) if t.is_meta]
        if meta:
            raise ValueError(
                f"Invalid value for {name!r}: {len(meta)} of the model's parameters and buffers (e.g. {meta[0]!r}) are "
                "on the 'meta' device: they have shapes but no values (a model built under torch.device('meta') "
                "or with empty weights). Give it real weights first, e.g. model.to_empty(device='cpu') and then "
                "model.load_state_dict(...)."
            )
    elif isinstance(value, torch.Tensor) and value.is_meta:
        raise ValueError(
            f"Invalid value for {name!r}: the tensor {tuple(value.shape)} is on the 'meta' device: it has a shape but "
            "no values. Give the data on 'cpu' or 'cuda'."
        )


def check_labels_in_table(labels, table, what: str) -> None:
    """Every ROI value (> 0) of ``labels`` has a name in ``table``: a value missing from it is a
    damaged or mismatched file, not a new ROI (its vertices would leave the ROIs they belong to)."""
    labels = np.asarray(labels)
    values, counts = np.unique(labels[labels > 0], return_counts=True)
    known_ids = set(table.ids)
    missing = [(int(v), int(c)) for v, c in zip(values, counts) if int(v) not in known_ids]
    if missing:
        shown = ", ".join(f"{v} ({c} features)" for v, c in missing[:5])
        known = ", ".join(f"{k} {table[k]}" for k in sorted(table)[:12])
        raise ValueError(
            f"Wrong values in {what}: label value(s) {shown} are not in the {table.name or 'atlas'} lookup table "
            f"({known}); the label file and its table do not match (a damaged or mixed-up download?): "
            "download them again or fix the table."
        )
