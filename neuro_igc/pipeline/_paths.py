"""The derivatives folder is the pipeline's alone: every path it writes, reads or deletes there is
checked to lie inside it, and a symbolic link inside it is refused, never followed.

Config files are shared, and so are folders: a config string that becomes part of a file name
(``name``, ``label``, atlas names, the beta version) must be a plain name, not a path
(:func:`check_name`), and a link planted in the tree (``.staging``, ``sub-01/``, ``logs/``,
``models/<label>/``, ``dataset_description.json``) could otherwise make a run write, read or
delete files elsewhere (:func:`inside`, :func:`refuse_links`, :func:`remove_tree`). OUTPUT_DIR
itself may be a link (the user chose it); from its ``neuro-igc`` folder down, nothing may be.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from neuro_igc.pipeline._errors import ConfigError, PipelineError

__all__ = ["UnsafePathError", "check_name", "inside", "refuse_links", "remove_tree", "NAME_PATTERN",
           "MAX_NAME_LENGTH"]

#: a config string that becomes (part of) a file or folder name: no separators, no leading dot
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
#: longest such string: file names made from it (``.<name>_<level>_<time>-<n>.log.tmp``) stay well
#: under the 255 bytes file systems allow
MAX_NAME_LENGTH = 100


class UnsafePathError(PipelineError):
    """A path of the derivatives folder leads outside it (a symbolic link, or ``..``)."""


def check_name(value, key: str, source: str, pattern: str = NAME_PATTERN, allowed: str | None = None,
               max_length: int = MAX_NAME_LENGTH) -> str:
    """``value`` unchanged when it is a plain name (``pattern``, at most ``max_length``
    characters); a :class:`ConfigError` naming ``key`` and ``source`` otherwise."""
    allowed = allowed or "letters, digits, '_', '-' and '.', starting with a letter or digit"
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise ConfigError(
            f"Invalid value for {key!r} in {source}: it becomes part of file names, so it allows {allowed} "
            f"(no '/', no '..'); got {value!r}."
        )
    if len(value) > max_length:
        raise ConfigError(
            f"Invalid value for {key!r} in {source}: it becomes part of file names and is {len(value)} "
            f"characters long; give at most {max_length}."
        )
    return value


def _link_error(link: Path, root: Path) -> UnsafePathError:
    try:
        target = f" (to {os.readlink(link)!r})"
    except OSError:
        target = ""
    return UnsafePathError(
        f"{str(link)!r} is a symbolic link{target} inside the derivatives folder {str(root)!r}: neuro-igc "
        "never follows links there (they could make it write, read or delete files elsewhere). Remove "
        "the link (copy the files in if they belong there), or give another OUTPUT_DIR."
    )


def inside(root: str | os.PathLike, path: str | os.PathLike, what: str = "path") -> Path:
    """``path`` made absolute, after checking that it lies inside ``root`` (after removing ``..``)
    and that neither ``root`` nor any existing folder or file on the way down to it is a symbolic
    link. Raises :class:`UnsafePathError` otherwise."""
    root_abs = Path(os.path.abspath(root))
    target = Path(os.path.abspath(path))
    try:
        rel = target.relative_to(root_abs)
    except ValueError:
        raise UnsafePathError(
            f"The {what} {str(path)!r} lies outside the derivatives folder {str(root_abs)!r}: neuro-igc writes "
            "only inside it."
        ) from None
    current = root_abs
    for part in ("", *rel.parts):
        current = current / part if part else current
        if current.is_symlink():
            raise _link_error(current, root_abs)
        if not current.exists():
            break
    return target


def refuse_links(root: str | os.PathLike, limit: int = 5) -> None:
    """Raise :class:`UnsafePathError` naming the first symbolic links found in the tree ``root``
    (``root`` included; nothing is followed)."""
    root = Path(os.path.abspath(root))
    if root.is_symlink():
        raise _link_error(root, root)
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):  # does not enter linked folders
        found += [Path(folder, n) for n in (*dirs, *files) if os.path.islink(os.path.join(folder, n))]
        if len(found) >= limit:
            break
    if found:
        err = _link_error(found[0], root)
        if len(found) > 1:
            others = ", ".join(repr(str(p.relative_to(root))) for p in found[1:limit])
            err = UnsafePathError(f"{err} Other links: {others}.")
        raise err


def remove_tree(root: str | os.PathLike, path: str | os.PathLike) -> None:
    """Delete the folder ``path`` (missing: nothing to do) after :func:`inside` checked it; links
    inside it are removed, not followed (``shutil.rmtree``)."""
    target = inside(root, path, "folder to delete")
    if target.exists():
        shutil.rmtree(target)
