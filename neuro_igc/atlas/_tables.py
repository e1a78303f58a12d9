"""Lookup tables: NSD ``<atlas>.mgz.ctab`` files, the tables shipped with the package, ROI merges."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import numpy as np

from neuro_igc._read import read_text
from neuro_igc._utils import atomic_write_text

__all__ = ["read_ctab", "write_ctab", "nsd_table", "NSD_TABLES", "NSD_MERGES"]

#: NSD atlases whose lookup tables ship with the package (``neuro_igc/atlas/tables``, and a copy in
#: the repository's ``atlases/`` folder), from the NSD data manual.
NSD_TABLES = (
    "prf-visualrois",
    "prf-eccrois",
    "floc-faces",
    "floc-bodies",
    "floc-places",
    "floc-words",
    "streams",
)

#: Usual merges of NSD ROIs (ventral + dorsal quarter-fields into whole visual areas).
NSD_MERGES = {
    "prf-visualrois": {"V1": ["V1v", "V1d"], "V2": ["V2v", "V2d"], "V3": ["V3v", "V3d"], "hV4": ["hV4"]},
}


def read_ctab(path: str | os.PathLike, *, with_colors: bool = False):
    """Read a lookup table: ``index name`` lines (NSD ``.mgz.ctab``) or FreeSurfer LUT lines
    ``index name r g b a``; ``#`` comments and blank lines are skipped, index 0 is left out.

    Returns
    -------
    table : dict {int: str}
    colors : dict {int: (r, g, b)}, only with ``with_colors=True`` (entries that have them)
    """
    path = Path(path)
    table: dict[int, str] = {}
    colors: dict[int, tuple[int, int, int]] = {}
    for no, line in enumerate(read_text(path, "lookup table").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 2 or not parts[0].lstrip("-").isdigit():
            raise ValueError(f"Malformed lookup table {path}, line {no}: expected 'index name [r g b a]'; got {line!r}.")
        idx = int(parts[0])
        if idx <= 0:
            continue
        if idx in table:
            raise ValueError(f"Malformed lookup table {path}, line {no}: index {idx} appears twice.")
        table[idx] = parts[1]
        if len(parts) >= 5 and all(p.isdigit() for p in parts[2:5]):
            colors[idx] = tuple(int(p) for p in parts[2:5])
    return (table, colors) if with_colors else table


def write_ctab(path: str | os.PathLike, table: dict[int, str], colors: dict | None = None) -> Path:
    """Write ``{index: name}`` as a lookup table (``0 Unknown`` first; ``r g b 0`` if colours given)."""
    lines = ["0 Unknown"]
    for k in sorted(table):
        line = f"{int(k)} {table[k]}"
        if colors and k in colors:
            r, g, b = (int(c) for c in np.asarray(colors[k])[:3])
            line += f" {r} {g} {b} 0"
        lines.append(line)
    return atomic_write_text(path, "\n".join(lines) + "\n")


def nsd_table(atlas: str) -> dict[int, str]:
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
    ref = resources.files("neuro_igc.atlas").joinpath("tables", f"{atlas}.mgz.ctab")
    with resources.as_file(ref) as path:
        return read_ctab(path)
