"""Vectorized 2-D Gaussian pRF fits of image-space maps, and pRF maps on the surface.

``fit_prf(maps, extent_deg=8.4)`` -> one row per map: x, y, sigma (degrees, image centre 0,
+y up), angle (0 = right horizontal meridian, 90 = upper vertical meridian), eccentricity, size, r2.
"""

from ._fit import PRF_INITS, PRF_SIGNS, PRF_SOLVERS, fit_prf
from ._model import degrees_to_pixels, gaussian_maps, pixels_to_degrees
from ._surface import PRF_COLUMNS, prf_to_surface, write_prf_maps

__all__ = [
    "fit_prf",
    "gaussian_maps",
    "pixels_to_degrees",
    "degrees_to_pixels",
    "PRF_SOLVERS",
    "PRF_INITS",
    "PRF_SIGNS",
    "PRF_COLUMNS",
    "prf_to_surface",
    "write_prf_maps",
]
