"""Lookup tables for atlases: the one :class:`~neuro_igc.data.LookupTable` type and ctab reader of
``neuro_igc.data`` (re-exported here), and the usual ROI merges."""

from __future__ import annotations

from neuro_igc.data import NSD_TABLES, LookupTable, nsd_table, read_ctab, write_ctab

__all__ = ["LookupTable", "read_ctab", "write_ctab", "nsd_table", "NSD_TABLES", "NSD_MERGES"]

#: Usual merges of NSD ROIs (ventral + dorsal quarter-fields into whole visual areas).
NSD_MERGES = {
    "prf-visualrois": {"V1": ["V1v", "V1d"], "V2": ["V2v", "V2d"], "V3": ["V3v", "V3d"], "hV4": ["hV4"]},
}
