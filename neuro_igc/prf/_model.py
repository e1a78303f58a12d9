"""The isotropic 2-D Gaussian pRF model, its pixel <-> degree geometry and its separable pieces.

Pixel geometry
--------------
A map of shape ``(H, W)`` is indexed ``[row, column]`` with row 0 at the *top* of the image. The
fit works in pixel units: ``x_px`` is the column coordinate and ``y_px`` the row coordinate of the
Gaussian centre (pixel centres at 0, 1, ..., W - 1). Degrees of visual angle put the image centre at
0 with +x to the right and **+y up**::

    x_deg = (x_px - (W - 1) / 2) * deg_per_px
    y_deg = ((H - 1) / 2 - y_px) * deg_per_px
    deg_per_px = extent_deg / max(H, W)

so ``extent_deg`` is the visual angle spanned by the image's larger side (NSD: 8.4 deg, square).
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from neuro_igc._utils import Interval, check_param

__all__ = ["deg_per_pixel", "pixels_to_degrees", "degrees_to_pixels", "gaussian_maps"]


def deg_per_pixel(shape: tuple[int, int], extent_deg: float) -> float:
    """Visual angle of one pixel: ``extent_deg / max(H, W)``."""
    check_param("extent_deg", extent_deg, Interval(numbers.Real, 0, None, closed="neither"), hint="(degrees of visual angle)")
    return float(extent_deg) / max(int(shape[0]), int(shape[1]))


def pixels_to_degrees(x_px, y_px, shape: tuple[int, int], extent_deg: float):
    """Convert pixel coordinates (column, row) to degrees (x right, y up, image centre 0)."""
    d = deg_per_pixel(shape, extent_deg)
    h, w = shape
    return (np.asarray(x_px) - (w - 1) / 2.0) * d, ((h - 1) / 2.0 - np.asarray(y_px)) * d


def degrees_to_pixels(x_deg, y_deg, shape: tuple[int, int], extent_deg: float):
    """Inverse of :func:`pixels_to_degrees`: degrees -> (column, row) pixel coordinates."""
    d = deg_per_pixel(shape, extent_deg)
    h, w = shape
    return np.asarray(x_deg) / d + (w - 1) / 2.0, (h - 1) / 2.0 - np.asarray(y_deg) / d


def gaussian_maps(
    x,
    y,
    sigma,
    amplitude=1.0,
    offset=0.0,
    *,
    shape: tuple[int, int] = (32, 32),
    extent_deg: float = 8.4,
) -> np.ndarray:
    """Render isotropic 2-D Gaussians given in degrees as image-space maps.

    Parameters
    ----------
    x, y, sigma : (n_maps,) array-like
        Centre (degrees, image centre 0, +y up) and standard deviation (degrees).
    amplitude, offset : (n_maps,) array-like or float, default 1.0 and 0.0
    shape : (H, W), default (32, 32)
    extent_deg : float, default 8.4
        Visual angle of the image's larger side.

    Returns
    -------
    maps : (n_maps, H, W) float64 ndarray
        ``offset + amplitude * exp(-((X - x)^2 + (Y - y)^2) / (2 sigma^2))`` on the pixel centres.

    Examples
    --------
    >>> m = gaussian_maps([0.0], [2.0], [1.0], shape=(32, 32), extent_deg=8.4)
    >>> int(m[0].argmax() // 32) < 16   # +y is up: the blob sits in the upper half (small rows)
    True
    """
    x, y, sigma = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (x, y, sigma))
    try:
        x, y, sigma = np.broadcast_arrays(x, y, sigma)
    except ValueError:
        raise ValueError(f"Invalid shape for 'x', 'y', 'sigma': one value each per map (or one for all); got "
                         f"lengths {len(x)}, {len(y)}, {len(sigma)}.") from None
    if x.ndim != 1:
        raise ValueError(f"Invalid shape for 'x', 'y', 'sigma': 1-D, one value per map; got shape {x.shape}.")
    if not (np.all(sigma > 0) and np.all(np.isfinite(sigma))):
        raise ValueError(f"Invalid value for 'sigma': every size must be a positive finite number; got {sigma.tolist()}.")
    n = len(x)
    amplitude = np.broadcast_to(np.asarray(amplitude, dtype=float), (n,))
    offset = np.broadcast_to(np.asarray(offset, dtype=float), (n,))
    h, w = int(shape[0]), int(shape[1])
    xs, ys = pixels_to_degrees(np.arange(w), np.arange(h), (h, w), extent_deg)
    gx = np.exp(-((xs[None, :] - x[:, None]) ** 2) / (2 * sigma[:, None] ** 2))
    gy = np.exp(-((ys[None, :] - y[:, None]) ** 2) / (2 * sigma[:, None] ** 2))
    return offset[:, None, None] + amplitude[:, None, None] * gy[:, :, None] * gx[:, None, :]


# ---------------------------------------------------------------------------------------------
# Separable pieces used by the solver (pixel units, torch)
# ---------------------------------------------------------------------------------------------
# The model  M[r, c] = b + a * gy[r] * gx[c]  and every column of its Jacobian are sums of outer
# products v_i (x) u_j of per-axis vectors
#     u = [gx, gx*dx, gx*dx^2, 1]   (W,),   v = [gy, gy*dy, gy*dy^2, 1]   (H,)
# with dx = cols - x0, dy = rows - y0. Inner products of such outer products factor:
# <v_i (x) u_j, v_k (x) u_l> = (v_i . v_k)(u_j . u_l), and <Y, v_i (x) u_j> = (V^T Y U)_ij.
# PAIRS lists the six (i, j) products that the model and its Jacobian use.
PAIRS = ((0, 0), (0, 1), (1, 0), (0, 2), (2, 0), (3, 3))


def flush_tiny(g: torch.Tensor) -> torch.Tensor:
    """Set Gaussian values below ``eps**2`` of the peak to 0.

    They add nothing representable to sums with the peak, and their products would be subnormal
    numbers, which make CPU arithmetic several times slower.
    """
    return torch.where(g < torch.finfo(g.dtype).eps ** 2, torch.zeros((), dtype=g.dtype, device=g.device), g)

