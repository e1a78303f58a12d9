"""The planted visual cortex of the synthetic NSD folder, laid out on the fsaverage sphere.

Geometry
--------
For each hemisphere the occipital pole is the pial vertex with the most posterior y; its sphere
direction, moved a little towards the medial wall, is the centre ``P`` of an azimuthal-equidistant
chart of the sphere: ``u`` runs anteriorly from the pole, ``v`` superiorly (both in radians of
the unit sphere; one fsaverage5 vertex spacing is about 0.035). The maps are functions of the
chart position, so they are evaluated on any mesh registered to the sphere: the subjects' native
surfaces (their jittered layouts) and fsaverage at full density (the template layout of the group
atlases).

Retinotopy (a banded map in the chart)
--------------------------------------
* eccentricity grows with ``u`` on a logarithmic (cortical-magnification) scale,
  ``ecc = e_min + (e_max - e_min) * (exp(u/k) - 1) / (exp(U/k) - 1)`` for ``0 <= u <= U``;
* polar angle is set by ``v``: V1 spans ``|v| < w1`` (horizontal meridian at ``v = 0``; dorsal V1d
  carries the lower field, ventral V1v the upper field), then V2d/V2v (vertical meridian at the
  V1/V2 border, horizontal at the V2/V3 border), V3d/V3v (back to the vertical meridian), and hV4
  beyond V3v (upper vertical -> horizontal -> lower vertical meridian) over ``u < 0.8 U``;
* the left hemisphere maps the right visual field (x > 0), the right hemisphere the left one.
* pRF size: ``sigma = f_roi * (0.18 + 0.15 * ecc) * exp(0.08 * N(0, 1))`` degrees with
  ``f_roi`` 1.0 (V1), 1.35 (V2), 1.7 (V3), 2.4 (hV4).

Other atlases: floc-* ROIs are geodesic discs placed beyond the retinotopic bands (disjoint from
each other and from V1-hV4); ``streams`` splits the chart into early (V1-hV4), mid and high
ventral/lateral/parietal bands; ``prf-eccrois`` bins the planted eccentricity; ``nsdgeneral`` is
the union of all of these.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from neuro_igc.data._layout import EXTENT_DEG, LABEL_TABLES
from neuro_igc.data._synth_surface import fsaverage5_mesh

__all__ = ["Layout", "TEMPLATE", "chart", "cortex_maps", "pial_coordinates"]

HEMIS = ("lh", "rh")
_MEDIAL_SIGN = {"lh": 1.0, "rh": -1.0}  # sphere x of the medial wall

#: template layout parameters (subjects jitter them)
TEMPLATE = {
    "U": 0.8, "k": 0.3, "e_min": 0.15, "e_max": 4.0,
    "w1": 0.22, "w2": 0.12, "w3": 0.10, "w4": 0.12, "hv4_u": 0.64,
    "shift_u": 0.0, "shift_v": 0.0,
}
SIZE_FACTOR = {1: 1.0, 2: 1.0, 3: 1.35, 4: 1.35, 5: 1.7, 6: 1.7, 7: 2.4}

#: floc disc centres (u, v) and radii, in chart radians
FLOC_DISCS = {
    "floc-places": {"OPA": (0.30, 0.62, 0.09), "PPA": (0.95, -0.68, 0.13), "RSC": (1.10, 0.30, 0.08)},
    "floc-bodies": {"EBA": (0.62, 0.64, 0.13), "FBA-1": (1.00, -0.25, 0.08),
                    "FBA-2": (1.20, -0.45, 0.07), "mTL-bodies": (1.15, 0.62, 0.07)},
    "floc-faces": {"OFA": (0.20, -0.75, 0.08), "FFA-1": (0.50, -0.80, 0.08), "FFA-2": (0.75, -0.88, 0.07),
                   "mTL-faces": (1.20, -0.90, 0.06), "aTL-faces": (1.22, 0.05, 0.06)},
    "floc-words": {"OWFA": (0.08, -0.92, 0.06), "VWFA-1": (0.68, -0.62, 0.06), "VWFA-2": (1.05, -0.95, 0.06),
                   "mfs-words": (0.95, 0.05, 0.06), "mTL-words": (1.22, -0.20, 0.06)},
}
#: extent of the streams / nsdgeneral region in the chart
STREAMS_U = (-0.1, 1.25)
STREAMS_V_BEYOND = {"dorsal": 0.3, "ventral": 0.35}
MID_BAND = 0.12


class Layout(dict):
    """Layout parameters (a dict of floats); :meth:`jittered` draws a subject's variant."""

    def jittered(self, rng: np.random.Generator) -> Layout:
        out = Layout(self)
        for key in ("k", "w1", "w2", "w3", "w4"):
            out[key] = self[key] * float(np.exp(0.05 * rng.standard_normal()))
        out["shift_u"] = float(0.02 * rng.standard_normal())
        out["shift_v"] = float(0.02 * rng.standard_normal())
        return out


def pial_coordinates(hemi: str) -> np.ndarray:
    """fsaverage5 pial coordinates (10242, 3) of a hemisphere (mm)."""
    return fsaverage5_mesh(hemi).coords


@lru_cache(maxsize=2)
def _chart_frame(hemi: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre and axes of the chart: the occipital pole of fsaverage5, moved towards the medial wall."""
    mesh = fsaverage5_mesh(hemi)
    pole = mesh.unit[int(np.argmin(mesh.coords[:, 1]))].copy()
    pole += 0.25 * np.array([_MEDIAL_SIGN[hemi], 0.0, 0.0])
    pole /= np.linalg.norm(pole)
    e_ant = np.array([0.0, 1.0, 0.0]) - pole[1] * pole
    e_ant /= np.linalg.norm(e_ant)
    e_sup = np.cross(pole, e_ant)
    if e_sup[2] < 0:
        e_sup = -e_sup
    return pole, e_ant, e_sup


def chart(hemi: str, unit: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Azimuthal-equidistant chart ``(u, v)`` (radians) around the pole of points on the unit sphere.

    ``unit`` (n, 3) are sphere positions registered to fsaverage (fsaverage at any density, or a
    native ``sphere.reg``); default: the fsaverage5 vertices.
    """
    if unit is None:
        unit = fsaverage5_mesh(hemi).unit
    pole, e_ant, e_sup = _chart_frame(hemi)
    cosd = np.clip(unit @ pole, -1.0, 1.0)
    d = np.arccos(cosd)
    tangent = unit - cosd[:, None] * pole
    phi = np.arctan2(tangent @ e_sup, tangent @ e_ant)
    return d * np.cos(phi), d * np.sin(phi)


def cortex_maps(hemi: str, layout: dict, rng: np.random.Generator | None = None,
                unit: np.ndarray | None = None) -> dict:
    """Labels and pRF parameters of every vertex of a hemisphere (sphere positions ``unit``).

    Returns
    -------
    dict with int64 (n,) label arrays per atlas (keys of ``LABEL_TABLES``), and float64
    (n,) ``x``, ``y`` (degrees, image centre 0, +y up), ``sigma``, ``angle`` (0 = right
    horizontal meridian, 90 = upper vertical, 0..360), ``eccentricity`` (NaN outside V1-hV4).
    """
    u, v = chart(hemi, unit)
    u = u - layout["shift_u"]
    v = v - layout["shift_v"]
    w1, w2, w3, w4 = (layout[k] for k in ("w1", "w2", "w3", "w4"))
    b1, b2, b3, b4 = w1, w1 + w2, w1 + w2 + w3, w1 + w2 + w3 + w4
    U = layout["U"]
    inside_u = (u >= 0) & (u <= U)
    av = np.abs(v)
    dorsal = v >= 0
    roi = np.zeros(u.size, dtype=np.int64)
    theta = np.full(u.size, np.nan)  # polar angle in the contralateral field, -90 (lower) .. 90 (upper)
    sel = inside_u & (av < b1)
    roi[sel] = np.where(dorsal[sel], 2, 1)
    theta[sel] = av[sel] / w1 * 90.0
    sel = inside_u & (av >= b1) & (av < b2)
    roi[sel] = np.where(dorsal[sel], 4, 3)
    theta[sel] = (1.0 - (av[sel] - b1) / w2) * 90.0
    sel = inside_u & (av >= b2) & (av < b3)
    roi[sel] = np.where(dorsal[sel], 6, 5)
    theta[sel] = (av[sel] - b2) / w3 * 90.0
    theta = np.where(dorsal, -theta, theta)  # dorsal cortex = lower visual field
    sel = (u >= 0) & (u <= layout["hv4_u"]) & (v <= -b3) & (v > -b4)
    roi[sel] = 7
    theta[sel] = 90.0 - 180.0 * (av[sel] - b3) / w4
    visual = roi > 0
    k, e0, e1 = layout["k"], layout["e_min"], layout["e_max"]
    ecc = np.full(u.size, np.nan)
    ecc[visual] = e0 + (e1 - e0) * np.expm1(u[visual] / k) / np.expm1(U / k)
    side = 1.0 if hemi == "lh" else -1.0
    rad = np.deg2rad(theta)
    x = side * ecc * np.cos(rad)
    y = ecc * np.sin(rad)
    factor = np.array([0.0] + [SIZE_FACTOR[i] for i in range(1, 8)])[roi]
    jitter = np.exp(0.08 * (rng.standard_normal(u.size) if rng is not None else np.zeros(u.size)))
    sigma = np.where(visual, factor * (0.18 + 0.15 * ecc) * jitter, np.nan)
    angle = np.mod(np.rad2deg(np.arctan2(y, x)), 360.0)

    out = {"prf-visualrois": roi, "x": x, "y": y, "sigma": sigma, "angle": angle, "eccentricity": ecc}
    ecc_bins = np.digitize(np.nan_to_num(ecc, nan=-1.0), [0.0, 0.5, 1.0, 2.0, 4.0])
    out["prf-eccrois"] = np.where(visual, ecc_bins, 0).astype(np.int64)
    floc_any = np.zeros(u.size, dtype=bool)
    for atlas, discs in FLOC_DISCS.items():
        lab = np.zeros(u.size, dtype=np.int64)
        names = {name: idx for idx, name in LABEL_TABLES[atlas].items()}
        for name, (cu, cv, r) in discs.items():
            lab[((u - cu) ** 2 + (v - cv) ** 2 < r**2) & ~visual & ~floc_any & (lab == 0)] = names[name]
        out[atlas] = lab
        floc_any |= lab > 0
    top, bottom = b3 + STREAMS_V_BEYOND["dorsal"], -b4 - STREAMS_V_BEYOND["ventral"]
    region = (u >= STREAMS_U[0]) & (u <= STREAMS_U[1]) & (v <= top) & (v >= bottom)
    streams = np.zeros(u.size, dtype=np.int64)
    streams[region & (v < -b3)] = 5  # ventral
    streams[region & (v > b3)] = 7  # parietal
    streams[region & (av <= b3) & ((u > U) | (u < 0))] = 6  # lateral
    streams[region & (v < -b3) & (v > -b4 - MID_BAND) & (u <= U + MID_BAND)] = 2  # midventral
    streams[region & (v > b3) & (v < b3 + MID_BAND) & (u <= U + MID_BAND)] = 4  # midparietal
    streams[region & (av <= b3) & (((u > U) & (u <= U + MID_BAND)) | (u < 0))] = 3  # midlateral
    streams[visual] = 1
    out["streams"] = streams
    out["nsdgeneral"] = ((streams > 0) | floc_any).astype(np.int64)
    return out


def pixel_grid_deg(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (degrees, centre 0, +y up; row 0 at the top) of an n x n image."""
    c = (np.arange(n) + 0.5) / n * EXTENT_DEG - EXTENT_DEG / 2
    return c[None, :].repeat(n, 0), -c[:, None].repeat(n, 1)


def prf_weights(x, y, sigma, n: int) -> np.ndarray:
    """Gaussian pRF weights on the n x n pixel grid, float32 (n_vertices, n*n).

    Each row is ``exp(-r^2 / (2 sigma^2))`` (set to 0 beyond ``r^2 / (2 sigma^2) = 30``) divided by the Gaussian's full mass in pixels
    (``2 pi sigma^2 / pixel^2``), so a pRF partly outside the image gets proportionally less drive.
    """
    gx, gy = pixel_grid_deg(n)
    px = EXTENT_DEG / n
    x, y, sigma = (np.asarray(a, dtype=np.float64)[:, None] for a in (x, y, sigma))
    r2 = (gx.ravel()[None] - x) ** 2 + (gy.ravel()[None] - y) ** 2
    z = r2 / (2 * sigma**2)
    w = np.where(z < 30.0, np.exp(-np.minimum(z, 30.0)), 0.0) / (2 * np.pi * sigma**2 / px**2)
    return w.astype(np.float32)  # weights below exp(-30) are exactly 0 (no float32 denormals)
