"""Small helpers shared by every subpackage: option checks, soft imports, devices, atomic writes."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "check_option",
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
]

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


def check_option(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Raise a ValueError naming the parameter, the allowed values and the given one.

    Examples
    --------
    >>> check_option("method", "riemann-left", ["riemann-left", "riemann-right"])
    'riemann-left'
    """
    allowed = list(allowed)
    if value not in allowed:
        shown = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"Invalid value for {name!r}: allowed are {shown}; got {value!r}.")
    return value


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
