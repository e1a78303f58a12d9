"""ROI atlases and ROI summaries of attribution maps.

- :class:`Atlas`: labels per vertex (lh/rh) or voxel + lookup table; from NSD label ``.mgz`` +
  ctab (real or synthetic NSD folders), FreeSurfer ``.annot``, GIFTI labels, volume NIfTI;
  merging (V1v + V1d -> V1), selection aligned with a feature vector, hemisphere splitting.
- :func:`nsd_table`: the NSD lookup tables shipped with the package (``NSD_TABLES``).
- :func:`roi_sums`, :func:`group_summary`, :func:`check_additivity`, :func:`plot_roi_sums`.
"""

from ._atlas import Atlas
from ._summary import OTHER, ROI_TABLE_COLUMNS, check_additivity, group_summary, plot_roi_sums, roi_sums
from ._tables import NSD_MERGES, NSD_TABLES, nsd_table, read_ctab, write_ctab

__all__ = [
    "Atlas",
    "nsd_table",
    "read_ctab",
    "write_ctab",
    "NSD_TABLES",
    "NSD_MERGES",
    "roi_sums",
    "group_summary",
    "check_additivity",
    "plot_roi_sums",
    "OTHER",
    "ROI_TABLE_COLUMNS",
]
