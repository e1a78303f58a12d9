"""Task "encoding" (the paper's Section 5.2): images -> vertices; IGC per vertex; pRF maps.

Participant level, steps (each skipped when unchanged):

``train``            one encoder for all selected subjects (per-subject readout); checkpoints
``sub-XX/igc``       IGC of every vertex over the image (``_igc.npz``: (n_vertices, 1, H, W))
``sub-XX/prf``       a 2-D Gaussian fitted to each vertex's map (``_prf.tsv`` + ``.json``) and a
                     figure of example vertices with their fitted pRF (the paper's Fig. 4a)
``sub-XX/surface``   angle, eccentricity, size, R2 and the model's correlation per vertex as
                     surface maps (``.func.gii`` + ``.mgz`` + freeview command + figure)
``sub-XX/roi``       ROI means of eccentricity, size, R2 and correlation
``sub-XX/layers``    with ``attribution.layers``: per-ROI layer IGC profiles (``_layerprofile.tsv``,
                     ``_layerroimaps.npz``, a figure; see ``_layers``)

Group level: ROI means across subjects (mean +/- SD), the subjects' mean maps and, when the
participants ran with ``attribution.layers``, their layer profiles (mean +/- SD; ``group_layers``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from neuro_igc.pipeline import _outputs as O
from neuro_igc.pipeline import _sections as S
from neuro_igc.pipeline._layers import group_layers, layer_section, layer_step
from neuro_igc.pipeline._layout import write_tsv
from neuro_igc.pipeline._report import ReportSection

__all__ = ["participant", "group", "MAP_COLUMNS", "ROI_COLUMNS"]

#: pRF parameters (and the model's correlation) shown as surface maps
MAP_COLUMNS = ["angle", "eccentricity", "size", "r2", "correlation"]
#: averaged per ROI (angle, a circular quantity, is not)
ROI_COLUMNS = ["eccentricity", "size", "r2", "correlation"]

PRF_SIDECAR = {
    "hemi": {"Description": "hemisphere"},
    "vertex": {"Description": "vertex index on the fsaverage mesh of the data's density"},
    "x": {"Description": "pRF centre, horizontal (image centre 0, right positive)", "Units": "deg"},
    "y": {"Description": "pRF centre, vertical (image centre 0, up positive)", "Units": "deg"},
    "sigma": {"Description": "pRF Gaussian standard deviation", "Units": "deg"},
    "angle": {"Description": "polar angle, 0 = right horizontal meridian, 90 = upper vertical meridian",
              "Units": "deg"},
    "eccentricity": {"Description": "distance of the pRF centre from the image centre", "Units": "deg"},
    "size": {"Description": "pRF size (sigma of the linear Gaussian)", "Units": "deg"},
    "r2": {"Description": "coefficient of determination of the Gaussian fit of the vertex's IGC map"},
    "correlation": {"Description": "correlation of the model's prediction with the vertex's betas on the "
                                   "IGC samples (the total of its IGC map)"},
}


def _prf_path(deriv, label, sub):
    return deriv.file_path(sub, "prf", ".tsv", desc=label)


def prf_step(ctx, sub: str, igc_rec, res, vert: pd.DataFrame):
    """Fit a pRF to every vertex's image-space IGC map."""
    from neuro_igc.prf import fit_prf

    cfg = ctx.config
    p = cfg.outputs.prf
    settings = {"igc": igc_rec.hash, "prf": cfg.to_dict()["outputs"]["prf"], "figures": cfg.outputs.figures}

    def work(deriv):
        maps = res.attributions
        if maps.ndim == 4:  # (n_vertices, C, H, W): sum over the channels
            maps = maps.sum(axis=1)
        params = fit_prf(maps, extent_deg=p.extent_deg, sign=p.sign, device=ctx.device, progress=ctx.progress,
                         **p.params)
        table = pd.concat([vert[["hemi", "vertex"]].reset_index(drop=True), params.reset_index(drop=True)], axis=1)
        table["correlation"] = np.asarray(res.correlation, dtype=float)
        write_tsv(_prf_path(deriv, cfg.label, sub), table,
                  {**PRF_SIDECAR, "ExtentDeg": p.extent_deg, "Sign": p.sign})
        info = {"n_vertices": int(len(table)), "median_r2": float(table["r2"].median()),
                "config": {"outputs": {"prf": cfg.to_dict()["outputs"]["prf"]}}}
        if cfg.outputs.figures:
            fig = deriv.figure_path(sub, "prfexamples", desc=cfg.label)
            _plot_examples(maps, table, fig, p.extent_deg, f"sub-{sub}")
            info["figure"] = str(fig.relative_to(deriv.root))
        return info

    return ctx.step(f"sub-{sub}/prf", settings, work)


def _plot_examples(maps: np.ndarray, table: pd.DataFrame, path, extent_deg: float, who: str, n: int = 6) -> None:
    """The IGC maps of the ``n`` best-fitted vertices with their pRF circle (radius 1 sigma)."""
    from matplotlib.patches import Circle

    from neuro_igc._utils import new_figure, save_figure
    from neuro_igc.prf import degrees_to_pixels

    order = np.argsort(-table["r2"].to_numpy())[:n]
    fig = new_figure("pRF figures", figsize=(2.2 * len(order), 2.6))
    axes = fig.subplots(1, len(order), squeeze=False)
    h, w = maps.shape[-2:]
    dpp = extent_deg / max(h, w)
    for ax, i in zip(axes[0], order):
        m = maps[i]
        vmax = float(np.abs(m).max()) or 1.0
        ax.imshow(m, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        row = table.iloc[i]
        cx, cy = degrees_to_pixels(row["x"], row["y"], (h, w), extent_deg)
        ax.add_patch(Circle((float(cx), float(cy)), float(row["sigma"]) / dpp, fill=False, color="k", lw=1.2))
        ax.set_title(f"{row['hemi']} {int(row['vertex'])}\nangle {row['angle']:.0f}, ecc {row['eccentricity']:.1f}",
                     fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{who}: IGC maps of the best-fitted vertices, pRF circle = 1 sigma", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


def read_prf(ctx, sub: str) -> pd.DataFrame:
    return pd.read_csv(_prf_path(ctx.deriv, ctx.config.label, sub), sep="\t", na_values="n/a")


def _map_values(ctx, params: pd.DataFrame, columns) -> np.ndarray:
    values = params[list(columns)].to_numpy(dtype=float).T.copy()
    bad = params["r2"].to_numpy() < ctx.config.outputs.prf.min_r2
    for i, c in enumerate(columns):
        if c not in ("r2", "correlation"):
            values[i, bad] = np.nan
    return values


def participant(ctx) -> None:
    cfg = ctx.config
    data = O.LazyData(ctx)
    train = O.train_step(ctx, data)
    from neuro_igc.pipeline._modelfigs import model_step

    model = model_step(ctx, data, train, None)
    igc_recs, prf_recs, surf_recs, roi_recs, prf_tables, layer_recs = {}, {}, {}, {}, {}, {}
    for s in ctx.subjects:
        sub = f"{s:02d}"
        igc_rec, res = O.igc_step(ctx, data, train, s)
        vert = O.read_vertices(ctx, sub)
        igc_recs[sub] = igc_rec
        if cfg.attribution_layers:
            layer_recs[sub] = layer_step(ctx, data, train, s, igc_rec, vert)
        if not cfg.outputs.prf.enabled:
            continue
        prf_recs[sub] = prf_step(ctx, sub, igc_rec, res, vert)
        params = read_prf(ctx, sub)
        prf_tables[sub] = params
        surf_recs[sub] = O.surface_step(ctx, sub, prf_recs[sub], _map_values(ctx, params, MAP_COLUMNS),
                                        MAP_COLUMNS, vert, kind="pRF")
        roi_recs[sub] = O.roi_step(ctx, sub, prf_recs[sub], _map_values(ctx, params, ROI_COLUMNS), ROI_COLUMNS,
                                   vert, mean=True, kind="pRF")
    S.model_section(ctx, train, None, model=model)
    S.attribution_section(ctx, igc_recs, None)
    layer_section(ctx, layer_recs)
    if prf_recs:
        figures = [(ctx.deriv.root / r.info["figure"], f"sub-{sub}: example vertices")
                   for sub, r in prf_recs.items() if r.info.get("figure")]
        rows = [{"subject": sub, "vertices": r.info["n_vertices"], "median fit R2": r.info["median_r2"]}
                for sub, r in prf_recs.items()]
        ctx.sections.append(ReportSection(
            "pRF fits",
            text=["Each vertex's IGC map over the image is its population receptive field; a 2-D Gaussian "
                  f"is fitted to it ({cfg.outputs.prf.sign} part, image = {cfg.outputs.prf.extent_deg} deg)."],
            tables=[("Fits", pd.DataFrame(rows))], figures=figures,
        ))
        S.maps_section(ctx, "pRF maps", "Polar angle (0 = right horizontal meridian, 90 = upper vertical), "
                       "eccentricity and size in degrees, fit R2, and the model's correlation per vertex.", surf_recs)
        S.roi_section(ctx, roi_recs, "Mean pRF eccentricity, size, fit R2 and model correlation per ROI.")
        S.encoding_recovery(ctx, prf_tables)


def group(ctx) -> None:
    from neuro_igc.pipeline._group import group_maps, group_roi, participant_settings, participants_section

    participants = participant_settings(ctx)
    participants_section(ctx, None)
    group_layers(ctx, participants)

    if not ctx.config.outputs.prf.enabled:
        ctx.sections.append(ReportSection("Group", text=["pRF outputs are disabled in this config: no pRF "
                                                         "summary across subjects."]))
        return
    group_roi(ctx, ROI_COLUMNS, kind="pRF", mean=True)
    # angle is circular: averaging it across subjects is not meaningful, the others are
    group_maps(ctx, ["eccentricity", "size", "r2", "correlation"], kind="pRF")
