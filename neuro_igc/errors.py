"""The package's error types: one base class for every error a user can act on.

:class:`NeuroIGCError` is the base of :class:`InputFileError` (files), and of the pipeline's
``ConfigError`` (a config that does not match the schema) and ``PipelineError`` (a run that
cannot go on).

The command line prints these as one line and exits non-zero; library callers can catch
:class:`NeuroIGCError` to tell a user mistake (a bad file, a bad argument) from a bug.

Examples
--------
>>> err = InputFileError("betas.mgh", "the file is empty (0 bytes)", "Download it again.")
>>> isinstance(err, NeuroIGCError), isinstance(err, OSError)
(True, True)
>>> str(err)
'Cannot read betas.mgh: the file is empty (0 bytes). Download it again.'
"""

from __future__ import annotations

import os

__all__ = ["NeuroIGCError", "InputFileError", "MissingFileError", "OutputFileError"]


class NeuroIGCError(Exception):
    """Base class of the errors caused by the user's input (files, arguments, configs)."""


class InputFileError(NeuroIGCError, OSError, ValueError):
    """An input file that is missing, unreadable, truncated, corrupt or not what was expected.

    Also an ``OSError`` and a ``ValueError``, so that code catching either keeps working.

    Parameters
    ----------
    path : path-like
        The file (or folder) concerned.
    reason : str
        What is wrong with it, e.g. ``"the file is truncated (expected 40000 bytes, got 19868)"``.
    hint : str, default=""
        What to do about it, e.g. ``"Download it again from s3://natural-scenes-dataset/..."``.
    what : str, default=""
        What the file is, e.g. ``"surface betas of subj01 session 1"``.
    """

    def __init__(self, path, reason: str, hint: str = "", what: str = ""):
        self.path = os.fspath(path)
        self.reason = str(reason)
        self.hint = str(hint)
        self.what = str(what)
        head = f"Cannot read {self.what} {self.path}" if self.what else f"Cannot read {self.path}"
        msg = f"{head}: {self.reason.rstrip('.')}."
        if self.hint:
            msg += f" {self.hint}"
        super().__init__(msg)

    def __reduce__(self):  # picklable across processes (DataLoader workers, torchrun)
        return (type(self), (self.path, self.reason, self.hint, self.what))


class MissingFileError(InputFileError, FileNotFoundError):
    """An input file that does not exist (also a ``FileNotFoundError``)."""


class OutputFileError(NeuroIGCError, OSError):
    """A file that could not be written (disk full, quota, permissions); nothing is left at its
    path. Also an ``OSError``."""

    def __init__(self, path, reason: str, hint: str = "", what: str = ""):
        self.path = os.fspath(path)
        self.reason = str(reason)
        self.hint = str(hint)
        self.what = str(what)
        head = f"Cannot write {self.what} {self.path}" if self.what else f"Cannot write {self.path}"
        msg = f"{head}: {self.reason.rstrip('.')}."
        if self.hint:
            msg += f" {self.hint}"
        super().__init__(msg)

    def __reduce__(self):
        return (type(self), (self.path, self.reason, self.hint, self.what))
