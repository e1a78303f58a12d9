"""Label names: the :class:`LookupTable` type, the one ctab reader/writer, the shipped NSD tables.

The NSD tables of the data manual have one copy, ``neuro_igc/data/tables/<atlas>.mgz.ctab``
(package data); :data:`LABEL_TABLES` and :func:`nsd_table` read them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path

import numpy as np

from neuro_igc._utils import atomic_write_text

__all__ = ["LookupTable", "read_ctab", "write_ctab", "nsd_table", "NSD_TABLES", "LABEL_TABLES"]

#: NSD atlases whose lookup tables ship with the package (from the NSD data manual).
NSD_TABLES = (
    "prf-visualrois",
    "prf-eccrois",
    "floc-faces",
    "floc-bodies",
    "floc-places",
    "floc-words",
    "streams",
    "nsdgeneral",
)


class LookupTable(Mapping):
    """ROI names by integer label (0 = unlabelled, never in the table), with optional colours.

    A read-only mapping ``{index: name}`` (iterated in index order), so it can be used wherever a
    plain dict of names was used before.

    Parameters
    ----------
    names : mapping {int: str} or iterable of (int, str)
        Label index -> ROI name; index 0 (and negative indices) are dropped.
    colors : mapping {int: (r, g, b)}, optional
        0-255 colours of some or all labels.
    name : str, optional
        Atlas name, shown in errors.

    Examples
    --------
    >>> t = LookupTable({1: "V1v", 2: "V1d"}, name="prf-visualrois")
    >>> t[2], t.index("V1v"), t.names
    ('V1d', 1, ['V1v', 'V1d'])
    """

    def __init__(self, names, colors=None, *, name: str | None = None):
        items = names.items() if isinstance(names, Mapping) else names
        table: dict[int, str] = {}
        for k, v in items:
            k = int(k)
            if k <= 0:
                continue
            table[k] = str(v)
        self._table = dict(sorted(table.items()))
        dup = sorted({n for n in self._table.values() if list(self._table.values()).count(n) > 1})
        if dup:
            raise ValueError(f"ROI names must be unique in a lookup table; repeated: {dup}.")
        self.colors: dict[int, tuple[int, int, int]] = {
            int(k): tuple(int(c) for c in np.asarray(v)[:3]) for k, v in (colors or {}).items() if int(k) in self._table
        }
        self.name = name

    def __getitem__(self, index) -> str:
        return self._table[int(index)]

    def __iter__(self) -> Iterator[int]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        head = ", ".join(f"{k}: {v!r}" for k, v in list(self._table.items())[:8])
        more = ", ..." if len(self) > 8 else ""
        return f"LookupTable({{{head}{more}}}" + (f", name={self.name!r})" if self.name else ")")

    @property
    def names(self) -> list[str]:
        """ROI names in index order."""
        return list(self._table.values())

    @property
    def ids(self) -> list[int]:
        """Label indices in order."""
        return list(self._table)

    def index(self, name: str) -> int:
        """Label index of ROI ``name``; a ValueError lists the table when it is not there."""
        for k, v in self._table.items():
            if v == name:
                return k
        raise ValueError(
            f"Invalid ROI name {name!r}: not in the lookup table{f' of {self.name!r}' if self.name else ''}; "
            f"allowed are {', '.join(repr(n) for n in self.names)}."
        )

    def to_dict(self) -> dict[int, str]:
        return dict(self._table)

    @classmethod
    def read(cls, path: str | os.PathLike, *, name: str | None = None) -> LookupTable:
        """Read a ctab / FreeSurfer LUT file (see :func:`read_ctab`)."""
        return read_ctab(path, name=name)

    def write(self, path: str | os.PathLike) -> Path:
        """Write as an NSD ctab (``0 Unknown`` first; ``r g b 0`` where colours are known)."""
        return write_ctab(path, self)


def read_ctab(path: str | os.PathLike, *, with_colors: bool = False, name: str | None = None):
    """Read a lookup table: NSD ``<atlas>.mgz.ctab`` (``index name`` lines) or a FreeSurfer colour
    LUT (``index name r g b a``); ``#`` comments and blank lines are skipped, index 0 is left out.

    Returns
    -------
    LookupTable
        With ``colors`` filled from LUT lines. ``with_colors=True`` returns
        ``(table, table.colors)`` instead (kept for older callers).
    """
    from neuro_igc._read import file_error, read_text

    path = Path(path)
    text = read_text(path, "lookup table")
    names: dict[int, str] = {}
    colors: dict[int, tuple[int, int, int]] = {}
    for no, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 2 or not parts[0].lstrip("-").isdigit():
            raise file_error(path, f"malformed lookup table, line {no}: expected 'index name [r g b a]'; got {line!r}",
                             "lookup table")
        idx = int(parts[0])
        if idx <= 0:
            continue
        if idx in names:
            raise file_error(path, f"malformed lookup table, line {no}: index {idx} appears twice", "lookup table")
        names[idx] = parts[1]
        if len(parts) >= 5 and all(p.isdigit() for p in parts[2:5]):
            colors[idx] = tuple(int(p) for p in parts[2:5])
    if name is None:
        name = path.name.removesuffix(".ctab").removesuffix(".mgz") if path.name.endswith(".mgz.ctab") else None
    table = LookupTable(names, colors, name=name)
    return (table, table.colors) if with_colors else table


def write_ctab(path: str | os.PathLike, table, colors: dict | None = None) -> Path:
    """Write ``{index: name}`` (or a :class:`LookupTable`) as a ctab: ``0 Unknown`` first, then
    ``index name`` lines, with ``r g b 0`` where colours are given (or known to the table)."""
    colors = {**{int(k): v for k, v in getattr(table, "colors", {}).items()},
              **{int(k): v for k, v in (colors or {}).items()}}
    lines = ["0 Unknown"]
    for k in sorted(int(i) for i in table):
        line = f"{k} {table[k]}"
        if k in colors:
            r, g, b = (int(c) for c in np.asarray(colors[k])[:3])
            line += f" {r} {g} {b} 0"
        lines.append(line)
    return atomic_write_text(path, "\n".join(lines) + "\n")


def nsd_table(atlas: str) -> LookupTable:
    """The lookup table of an NSD atlas shipped with the package.

    Examples
    --------
    >>> nsd_table("prf-visualrois")[7]
    'hV4'
    """
    if atlas not in NSD_TABLES:
        shown = ", ".join(repr(a) for a in NSD_TABLES)
        raise ValueError(
            f"Invalid value for 'atlas': shipped tables are {shown}; got {atlas!r}. For other atlases "
            "read the '<atlas>.mgz.ctab' beside the label files with read_ctab."
        )
    ref = resources.files("neuro_igc.data").joinpath("tables", f"{atlas}.mgz.ctab")
    with resources.as_file(ref) as path:
        return read_ctab(path, name=atlas)


class _ShippedTables(Mapping):
    """``{atlas: LookupTable}`` of the shipped tables, read on first use."""

    def __init__(self):
        self._cache: dict[str, LookupTable] = {}

    def __getitem__(self, atlas: str) -> LookupTable:
        if atlas not in NSD_TABLES:
            raise KeyError(atlas)
        if atlas not in self._cache:
            self._cache[atlas] = nsd_table(atlas)
        return self._cache[atlas]

    def __iter__(self):
        return iter(NSD_TABLES)

    def __len__(self) -> int:
        return len(NSD_TABLES)

    def __repr__(self) -> str:
        return f"LABEL_TABLES({', '.join(NSD_TABLES)})"


#: Every shipped NSD lookup table by atlas name (read lazily from the package data).
LABEL_TABLES: Mapping[str, LookupTable] = _ShippedTables()
