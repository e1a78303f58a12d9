"""Feature vectors back on the cortex (or in the volume), fsaverage decimation, export, plots.

- :func:`to_hemispheres` / :func:`from_hemispheres`: masked features <-> full lh/rh arrays;
  :func:`to_volume` / :func:`from_volume`: voxel features <-> NIfTI.
- :func:`decimate`, :func:`decimate_features`, :func:`upsample`: nested fsaverage densities.
- :func:`write_mgz`, :func:`write_gifti`, :func:`write_gifti_labels`, :func:`write_annot`, :func:`write_surface_maps`,
  :func:`bids_name`, :func:`freeview_command`: files for freeview and BIDS derivatives.
- :func:`to_surface_image` / :func:`from_surface_image`: nilearn ``SurfaceImage`` objects (mesh +
  data per hemisphere) on the right fsaverage (or native) mesh, for nilearn's plots and maskers.
- :func:`plot_surface_maps`: PNG figures on the bundled fsaverage5 inflated mesh;
  :func:`view_surface_maps`: an interactive offline HTML view of the same maps.
"""

from ._decimate import decimate, decimate_features, load_sphere, upsample
from ._export import (
    ENTITY_ORDER,
    SURFACE_FORMATS,
    bids_name,
    den_label,
    freeview_command,
    label_colors,
    surface_space_of,
    write_annot,
    write_gifti,
    write_gifti_labels,
    write_mgz,
    write_surface_maps,
)
from ._nilearn import MESH_TYPES, from_surface_image, load_template_mesh, to_surface_image
from ._mapping import DENSITIES, HEMIS, density_name, from_hemispheres, from_volume, n_vertices, to_hemispheres, to_volume
from ._plot import SURFACE_VIEWS, plot_surface_maps
from ._view import best_view, view_surface_maps

__all__ = [
    "DENSITIES",
    "HEMIS",
    "SURFACE_FORMATS",
    "SURFACE_VIEWS",
    "n_vertices",
    "density_name",
    "to_hemispheres",
    "from_hemispheres",
    "to_volume",
    "from_volume",
    "decimate",
    "decimate_features",
    "upsample",
    "load_sphere",
    "bids_name",
    "ENTITY_ORDER",
    "den_label",
    "surface_space_of",
    "write_mgz",
    "write_gifti",
    "write_gifti_labels",
    "write_annot",
    "label_colors",
    "freeview_command",
    "write_surface_maps",
    "plot_surface_maps",
    "view_surface_maps",
    "best_view",
    "MESH_TYPES",
    "to_surface_image",
    "from_surface_image",
    "load_template_mesh",
]
