"""pRF parameters on the cortical surface: maps per parameter, written for freeview."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from neuro_igc.data import SurfaceSpace, feature_space_of
from neuro_igc.surface import write_surface_maps

__all__ = ["prf_to_surface", "write_prf_maps", "PRF_COLUMNS"]

#: Parameters mapped by default, and their map names (NSD's ``{lh,rh}.prf<name>.mgz`` style).
PRF_COLUMNS = {"angle": "prfangle", "eccentricity": "prfeccentricity", "size": "prfsize", "r2": "prfR2",
               "x": "prfx", "y": "prfy", "sigma": "prfsigma", "amplitude": "prfamplitude"}


def _check(params: pd.DataFrame, columns, space) -> list[str]:
    if not isinstance(params, pd.DataFrame):
        raise ValueError("'params' must be the DataFrame returned by fit_prf.")
    columns = list(columns)
    missing = [c for c in columns if c not in params.columns]
    if missing:
        raise ValueError(f"'params' lacks column(s) {missing}; available: {', '.join(params.columns)}.")
    if len(params) != space.n_features:
        raise ValueError(f"'params' has {len(params)} rows but 'hemi'/'vertex' describe {space.n_features} features "
                         "(the space); one map per feature.")
    return columns


def prf_to_surface(
    params: pd.DataFrame,
    space,
    *,
    columns=("angle", "eccentricity", "size", "r2"),
    min_r2: float | None = None,
    fill: float = np.nan,
) -> dict[str, dict[str, np.ndarray]]:
    """Put fitted pRF parameters on full hemispheres, one map per parameter.

    Parameters
    ----------
    params : pandas.DataFrame
        :func:`fit_prf` output, one row per feature (vertex), in feature order.
    space : SurfaceSpace
        Where the features the maps came from live (e.g. ``betas.feature_space``); the output
        has its density.
    columns : sequence of str, default ("angle", "eccentricity", "size", "r2")
    min_r2 : float, optional
        Vertices whose fit has ``r2 < min_r2`` get ``fill`` (except in the r2 map).
    fill : float, default NaN

    Returns
    -------
    maps : dict {column: {"lh": (n_vertices,), "rh": (n_vertices,)}}
    """
    space = feature_space_of(space, "surface")
    columns = _check(params, columns, space)
    keep = np.ones(len(params), dtype=bool)
    if min_r2 is not None:
        keep = params["r2"].to_numpy() >= min_r2
    out = {}
    for c in columns:
        vals = params[c].to_numpy(dtype=float).copy()
        if c != "r2":
            vals[~keep] = fill
        out[c] = space.to_hemispheres(vals, fill=fill)
    return out


def write_prf_maps(
    params: pd.DataFrame,
    space,
    out_dir: str | os.PathLike,
    *,
    columns=("angle", "eccentricity", "size", "r2"),
    min_r2: float | None = None,
    subject: str | int | None = None,
    formats=("mgz", "gifti"),
) -> dict[str, dict[str, Path]]:
    """Write pRF parameter maps (``lh.prfangle.mgz``, BIDS ``desc-prfangle`` GIFTI, ...) with
    their freeview commands; returns ``{column: paths}`` (see :func:`write_surface_maps`)."""
    space = feature_space_of(space, "surface")
    maps = prf_to_surface(params, space, columns=columns, min_r2=min_r2)
    full = SurfaceSpace.full(space.density, subject=space.subject, n_vertices=space.n_vertices) if space.is_native else None
    return {
        c: write_surface_maps(m, out_dir, PRF_COLUMNS.get(c, f"prf{c}"), formats=formats, subject=subject, space=full)
        for c, m in maps.items()
    }
