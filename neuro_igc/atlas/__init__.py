"""ROI atlases and ROI summaries of attribution maps.

- :class:`Atlas`: labels per vertex (lh/rh) or voxel + lookup table; from NSD label ``.mgz`` +
  ctab (real or synthetic NSD folders), FreeSurfer ``.annot``, GIFTI labels, volume NIfTI;
  merging (V1v + V1d -> V1), labels of the features of a space (:meth:`Atlas.labels_for`),
  hemisphere splitting.
- :func:`nsd_table`: the NSD lookup tables shipped with the package (``NSD_TABLES``).
- :func:`roi_sums` (ROI labels, or an atlas with the features' SurfaceSpace/VolumeSpace) gives the
  one ROI table, columns :data:`ROI_TABLE_COLUMNS`, which :func:`group_summary`,
  :func:`check_additivity` and :func:`plot_roi_sums` read.
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
