"""Participant-level steps shared by the decoding and encoding tasks.

Each ``*_step`` function runs one step through :meth:`RunContext.step` (skip-if-unchanged,
all-or-nothing) and returns its :class:`StepRecord`; what the report needs later (scores, figure
paths, freeview commands) is kept in the record's ``info`` so that a skipped step still shows in
the report. The numerical work is done by the other subpackages: ``neuro_igc.data`` (loading),
``neuro_igc.models`` (training), ``neuro_igc.attribution`` (IGC), ``neuro_igc.surface`` (maps,
export, figures), ``neuro_igc.atlas`` (ROI sums) and ``neuro_igc.prf`` (pRF fits).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from neuro_igc.attribution import IGC_ERROR_WARN
from neuro_igc.pipeline._errors import PipelineError
from neuro_igc.pipeline._layout import bids_name, camel, write_tsv

__all__ = [
    "LazyData",
    "train_step",
    "igc_step",
    "read_vertices",
    "surface_step",
    "roi_step",
    "load_atlas",
    "write_maps",
]

logger = logging.getLogger(__name__)

#: the config sections an IGC step's result depends on; kept in its record (``info["config"]``) so
#: that the group level can summarize with the settings the participant level actually used
IGC_CONFIG_SECTIONS = ("task", "data", "model", "training", "attribution")

VERTICES_SIDECAR = {
    "index": {"Description": "column of the model's input (decoding) or output (encoding) vector"},
    "hemi": {"Description": "hemisphere", "Levels": {"lh": "left", "rh": "right"}},
    "vertex": {"Description": "vertex index on the fsaverage mesh of the data's density"},
}
#: columns of the ROI tables that the file name holds (``sub-``, ``atlas-`` entities): not written
#: (a sidecar describing a column named like a BIDS entity clashes with that entity in pybids)
ROI_FILE_COLUMNS = ("subject", "atlas")
ROI_SIDECAR = {
    "output": {"Description": "model output the map belongs to"},
    "roi": {"Description": "ROI name; '(other)' = the vertices of the map outside this atlas' ROIs"},
    "value": {"Description": "sum of the IGC attributions over the ROI's vertices (IGC is additive: "
                             "the rows of one output and atlas add up to the model's correlation)"},
    "n_features": {"Description": "number of vertices of the map inside the ROI"},
}


class LazyData:
    """The pipeline's datasets, loaded on first use only (a fully skipped run never reads NSD)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self._data = None

    def get(self):
        if self._data is None:
            from neuro_igc.data import NSD
            from neuro_igc.pipeline._data import load_data

            nsd = NSD(self.ctx.nsd_root, progress=self.ctx.progress)
            self._data = load_data(nsd, self.ctx.subjects, self.ctx.config)
        return self._data


def _rel(deriv, path: Path) -> str:
    return os.path.relpath(path, deriv.root)


# -- training --------------------------------------------------------------------------------
def train_step(ctx, data: LazyData):
    """Train the model(s) once for the selected subjects (or reuse ``model.checkpoint``)."""
    cfg = ctx.config
    if cfg.model.checkpoint:
        path = Path(cfg.model.checkpoint).resolve()
        st = path.stat()
        return ctx.step("train", {"checkpoint": str(path), "size": st.st_size, "mtime": st.st_mtime_ns},
                        lambda deriv: {"checkpoints": [str(path)], "val": {}, "reused": True})
    d = cfg.to_dict()
    settings = {"data_files": ctx.data_hash, "subjects": ctx.subjects,
                **{k: d[k] for k in ("task", "data", "model", "training")}}

    def work(deriv):
        from neuro_igc.pipeline._train import train_models

        paths, info = train_models(ctx, data.get(), deriv.models_dir(cfg.label))
        info["checkpoints"] = [_rel(deriv, p) for p in paths]
        return info

    return ctx.step("train", settings, work, collective=True)


def _checkpoints_for(ctx, train, subject: int) -> list[Path]:
    from neuro_igc.pipeline._train import PER_SUBJECT_MODELS

    paths = [ctx.deriv.root / p for p in train.info["checkpoints"]]
    if ctx.config.model.name in PER_SUBJECT_MODELS:
        paths = [p for p in paths if p.name.startswith(f"sub-{subject:02d}_")]
    return paths


def _model_position(path: Path, subject: int, default: int) -> int:
    """Index of ``subject`` in a checkpoint's per-subject layers (its ``subjects`` entry)."""
    from neuro_igc.models import read_checkpoint

    subjects = read_checkpoint(path).get("subjects")
    if not subjects:
        return default
    if subject not in subjects:
        raise PipelineError(
            f"The model checkpoint {path} was trained for subjects {subjects}; subject {subject:02d} is not one "
            "of them (retrain, or drop it from --participant-label)."
        )
    return list(subjects).index(subject)


# -- IGC -------------------------------------------------------------------------------------
def _igc_path(deriv, label: str, sub: str) -> Path:
    return deriv.file_path(sub, "igc", ".npz", desc=label)


def _vertices_path(deriv, label: str, sub: str) -> Path:
    return deriv.file_path(sub, "vertices", ".tsv", desc=label)


def _summary(values) -> dict:
    v = np.asarray(values, dtype=float)
    if v.size <= 8:
        return {"values": v.tolist()}
    return {"mean": float(np.nanmean(v)), "median": float(np.nanmedian(v)), "max": float(np.nanmax(v)),
            "max_abs": float(np.nanmax(np.abs(v))), "n": int(v.size),
            "n_above_target": int(np.sum(v > IGC_ERROR_WARN))}


def igc_step(ctx, data: LazyData, train, subject: int):
    """IGC of the model's outputs on the subject's validation data; returns (record, result)."""
    from neuro_igc.attribution import AttributionResult

    cfg = ctx.config
    sub = f"{subject:02d}"
    d_cfg = cfg.to_dict()
    settings = {"train": train.hash, "attribution": d_cfg["attribution"], "data_files": ctx.data_hash}

    def work(deriv):
        from neuro_igc.pipeline._train import compute_igc, load_models

        d = data.get()
        info = d.info(subject)
        paths = _checkpoints_for(ctx, train, subject)
        position = _model_position(paths[0], subject, info.index)
        res = compute_igc(ctx, load_models(paths, ctx.device), d, subject, position)
        res.save(_igc_path(deriv, cfg.label, sub))
        table = pd.DataFrame({"index": np.arange(info.n_vertices), "hemi": info.hemi, "vertex": info.vertex})
        write_tsv(_vertices_path(deriv, cfg.label, sub), table,
                  {**VERTICES_SIDECAR, "Density": info.density})
        return {
            "correlation": _summary(res.correlation),
            "ig_error": _summary(res.ig_error),
            "igc_error": _summary(res.igc_error),
            "map_sum": _summary(res.attributions.reshape(res.attributions.shape[0], -1).sum(axis=1)),
            "baseline_term": None if res.baseline_term is None else _summary(res.baseline_term),
            "ig_error_relative": None if res.ig_error_relative is None else _summary(res.ig_error_relative),
            "n_samples": int(len(d.val_arrays(subject, cfg.attribution_samples)[1])),
            "n_steps": res.settings.get("n_steps"),
            "density": info.density,
            "config": {k: d_cfg[k] for k in IGC_CONFIG_SECTIONS},  # what the group level checks
        }

    rec = ctx.step(f"sub-{sub}/igc", settings, work, collective=True)
    return rec, AttributionResult.load(_igc_path(ctx.deriv, cfg.label, sub))


def read_vertices(ctx, sub: str) -> pd.DataFrame:
    """The vertex table written by the IGC step (index, hemi, vertex) and its density."""
    path = _vertices_path(ctx.deriv, ctx.config.label, sub)
    table = pd.read_csv(path, sep="\t")
    import json

    table.attrs["density"] = json.loads(path.with_suffix(".json").read_text())["Density"]
    return table


# -- atlases ---------------------------------------------------------------------------------
def load_atlas(ctx, name: str, subject: int | None, merge: bool = True, density: str | None = None):
    """An NSD atlas on fsaverage, through ``NSD.roi``: group atlases from the fsaverage label
    folder, subject atlases (prf-visualrois, floc-*) from the subject's native labels mapped
    through NSD's ``white-to-fsaverage`` transforms; ROIs merged as ``outputs.roi.merge``.
    ``atlas.source`` says which files were read."""
    from neuro_igc.atlas import Atlas
    from neuro_igc.data import NSD

    labels = NSD(ctx.nsd_root, progress=False).roi(name, "fsaverage", subject=subject, density=density)
    atlas = Atlas.from_roi_labels(labels)
    if merge:
        mapping = {new: olds for new, olds in ctx.config.outputs.roi.merge.items()
                   if all(o in atlas.roi_names for o in olds)}
        if mapping:
            atlas = atlas.merge(mapping)
    atlas.source = labels.source
    return atlas


# -- surface maps ----------------------------------------------------------------------------
FIGURE_STYLE = {
    "angle": {"cmap": "hsv", "signed": False, "vmax": 360.0, "colorbar_label": "polar angle (deg)"},
    "eccentricity": {"cmap": "viridis", "signed": False, "colorbar_label": "eccentricity (deg)"},
    "size": {"cmap": "plasma", "signed": False, "colorbar_label": "pRF size (deg)"},
    "r2": {"cmap": "magma", "signed": False, "colorbar_label": "pRF fit R2 (fraction of the map's variance)"},
    "correlation": {"colorbar_label": "model correlation r (prediction vs betas, validation images)"},
}


#: the unit of each pRF-table column shown per ROI
ROI_UNITS = {"eccentricity": "deg", "size": "deg", "r2": "fit R2", "correlation": "r"}


def roi_ylabel(kind: str, names: list[str], mean: bool):
    """Axis label(s) of an ROI bar plot, with units: IGC sums are in units of r; pRF means per output."""
    what = "mean" if mean else "sum"
    if "IGC" in kind:
        return f"ROI {what} of {kind} (units of r)"
    return {n: f"ROI {what} of {n}" + (f" ({ROI_UNITS[n]})" if n in ROI_UNITS else "") for n in names}


def _colorbar_label(kind: str, name: str) -> str:
    """What a map's colours mean, with the unit."""
    style = FIGURE_STYLE.get(name)
    if style is not None:
        return ("mean " if kind.startswith("mean") else "") + style["colorbar_label"]
    if "IGC" in kind:
        return f"{kind} per vertex (units of r)"
    return kind


def stat_label(kind: str) -> str:
    """BIDS ``stat-`` label of a map kind: "IGC" -> "igc", "mean IGC" -> "meanigc", "pRF" -> "prf"."""
    return camel(kind).lower()


MASK_TABLE = {0: "outside", 1: "covered"}


def vertex_space(vert: pd.DataFrame):
    """The SurfaceSpace of a vertex table (:func:`read_vertices`: ``hemi``/``vertex`` columns, the
    density in its ``attrs``)."""
    from neuro_igc.data import SurfaceSpace

    return SurfaceSpace(vert.attrs["density"], vert["hemi"].to_numpy().astype(str), vert["vertex"].to_numpy())


def write_mask(deriv, sub: str | None, space, label: str) -> dict[str, Path]:
    """The dseg of the vertices of ``space`` (a SurfaceSpace) the maps of ``label`` cover (1) on each
    hemisphere, as ``.label.gii`` plus the BIDS ``_dseg.tsv`` of its labels; returns the ``.label.gii``
    paths."""
    from neuro_igc.surface import write_gifti_labels

    density = space.density
    out = {}
    for h in ("lh", "rh"):
        nv = space.n_vertices[h]
        labels = np.zeros(nv, dtype=np.int32)
        labels[space.indices(h)] = 1
        out[h] = write_gifti_labels(labels, MASK_TABLE, deriv.mask_path(sub, h, density, label), hemi=h)
        write_tsv(deriv.mask_path(sub, h, density, label, ext=".tsv"),
                  pd.DataFrame({"index": list(MASK_TABLE), "name": list(MASK_TABLE.values())}))
        from neuro_igc.pipeline._layout import write_json

        write_json(deriv.mask_path(sub, h, density, label, ext=".json"), {
            "Description": (f"the vertices the '{label}' maps cover: 1 = a vertex of the model's input "
                            "(decoding) or output (encoding), 0 = not part of the model (the maps hold a fill "
                            "value there)"),
            "Density": f"{density} ({nv} vertices per hemisphere)",
            "SpatialReference": f"FreeSurfer {density} template surface, {h}",
        })
    return out


def write_maps(ctx, deriv, sub: str | None, values: np.ndarray, names: list[str], space, *, kind: str,
               outline=None) -> list[dict]:
    """Write each row of ``values`` (n_maps, n_features), on the vertices of ``space`` (a
    SurfaceSpace), as lh/rh ``.func.gii`` + ``.mgz`` with a
    ``.json`` sidecar, the dseg of the vertices they cover, the freeview command
    (``_freeview.txt``) and a figure; returns what the report shows.

    Both formats hold the same numbers: the map at its vertices (NaN where it has no estimate) and
    ``FILL_VALUE`` (0) at every other vertex, which the dseg tells apart."""
    from neuro_igc.pipeline._layout import FILL_VALUE
    from neuro_igc.surface import (
        freeview_command,
        plot_surface_maps,
        view_surface_maps,
        write_gifti,
        write_mgz,
    )

    cfg = ctx.config
    values = np.atleast_2d(values)
    density = space.density
    hemis = space.to_hemispheres(values)  # NaN outside: what the figures show
    inside = {h: ~np.isnan(space.to_hemispheres(np.zeros(values.shape[1]))[h]) for h in ("lh", "rh")}
    masks = write_mask(deriv, sub, space, cfg.label)
    stat = stat_label(kind)
    out = []
    for i, name in enumerate(names):
        desc = f"{cfg.label}{camel(name)}"
        mgz = {}
        for h in ("lh", "rh"):
            data = np.where(inside[h], hemis[h][i], FILL_VALUE).astype(np.float32)
            gii = deriv.surface_path(sub, h, density, desc, stat=stat)
            write_gifti(data, gii, hemi=h, names=[f"{kind} {name}"])
            mgz[h] = write_mgz(data, deriv.surface_path(sub, h, density, desc, ext=".mgz", stat=stat))
            from neuro_igc.pipeline._layout import write_json

            write_json(gii.with_name(gii.name.replace(".func.gii", ".json")), {
                "Description": f"{kind} map '{name}' of the '{cfg.name}' pipeline"
                               + (f", participant {sub}" if sub else ", mean across participants"),
                "Statistic": kind,
                "Output": name,
                "Hemisphere": {"lh": "left", "rh": "right"}[h],
                "Density": density,
                "FillValue": FILL_VALUE,
                "FillDescription": (f"vertices outside the maps' vertices (label 0 of the dseg) hold {FILL_VALUE:g}, "
                                    "in .func.gii and .mgz alike; NaN at a covered vertex means no estimate"),
                "Mask": "bids::" + masks[h].relative_to(deriv.root).as_posix(),
                "Formats": [gii.name, mgz[h].name],
            })
        template = "fsaverage5" if density == "fsaverage5" else "fsaverage"
        cmd = freeview_command({h: p.name for h, p in mgz.items()}, template=template)
        cmd_path = deriv.file_path(sub, "freeview", ".txt", desc=desc)
        from neuro_igc._utils import atomic_write_text

        atomic_write_text(cmd_path, f"# {kind} map '{name}': run from {cmd_path.parent.name}/\n{cmd}\n")
        entry = {"name": name, "desc": desc, "command": cmd, "figure": None, "view": None}
        who = f"sub-{sub}" if sub else "group"
        style = dict(FIGURE_STYLE.get(name, {}), colorbar_label=_colorbar_label(kind, name))
        if name in ("eccentricity", "size") and "vmax" not in style:
            finite = np.asarray(values[i], dtype=float)
            finite = finite[np.isfinite(finite)]
            if finite.size:  # a few wild fits would squash the colour scale: clip at the 98th percentile
                style["vmax"] = float(np.percentile(finite, 98)) or None
        if cfg.outputs.figures:
            fig = deriv.figure_path(sub, "stat", desc=desc)
            plot_surface_maps({h: hemis[h][i] for h in ("lh", "rh")}, fig, rois=outline, views=tuple(cfg.outputs.views),
                              title=f"{who}: {kind} {name}", dpi=130, **style)
            entry["figure"] = _rel(deriv, fig)
        if cfg.outputs.interactive:
            page = deriv.figures_dir(sub) / bids_name("view", ".html", sub=sub, desc=desc)
            view_surface_maps({h: hemis[h][i] for h in ("lh", "rh")}, page,
                              title=f"{who}: {kind} {name}; colours: {style['colorbar_label']}",
                              **{k: v for k, v in style.items() if k in ("cmap", "signed")})
            entry["view"] = _rel(deriv, page)
        out.append(entry)
    return out


def _outline(ctx, subject):
    """ROI outlines for a subject's figures: every atlas the pipeline sums over (``outputs.roi.atlases``,
    merged as configured; subject atlases through the transforms), else the subject's visual ROIs.
    Group figures have no subject: they take the group ``streams`` atlas on fsaverage, since NSD
    has no subject-drawn atlas there."""
    names = (list(ctx.config.outputs.roi.atlases) or ["prf-visualrois"]) if subject is not None else ["streams"]
    out = []
    for name in names:
        try:
            out.append(load_atlas(ctx, name, subject))
        except (FileNotFoundError, ValueError) as exc:  # an NSD folder without these labels
            logger.info("no %s outlines on the figures: %s", name, exc)
    return out or None


def surface_step(ctx, sub: str, upstream, values: np.ndarray, names: list[str], vert: pd.DataFrame, *, kind: str,
                 step: str = "surface"):
    """Surface maps of one subject (see :func:`write_maps`)."""
    cfg = ctx.config
    if not cfg.outputs.surface:
        return None
    settings = {"upstream": upstream.hash, "names": names, "figures": cfg.outputs.figures, "kind": kind,
                "views": cfg.outputs.views, "interactive": cfg.outputs.interactive}

    def work(deriv):
        maps = write_maps(ctx, deriv, sub, values, names, vertex_space(vert), kind=kind,
                          outline=_outline(ctx, int(sub)) if cfg.outputs.figures else None)
        return {"maps": maps}

    return ctx.step(f"sub-{sub}/{step}", settings, work)


# -- ROI sums --------------------------------------------------------------------------------
def roi_path(deriv, label: str, sub: str | None, atlas: str, suffix: str = "roisums") -> Path:
    return deriv.file_path(sub, suffix, ".tsv", atlas=camel(atlas).lower(), desc=label)


def roi_step(ctx, sub: str, igc_rec, maps: np.ndarray, names: list[str], vert: pd.DataFrame, *,
             mean: bool = False, kind: str = "IGC"):
    """ROI sums (or, with ``mean``, ROI means) of each map, per atlas: ``_roisums.tsv`` + ``.json``
    and one bar plot over all atlases' ROIs."""
    from neuro_igc.atlas import OTHER, plot_roi_sums, roi_sums

    cfg = ctx.config
    atlases = list(cfg.outputs.roi.atlases)
    if not atlases:
        return None
    settings = {"upstream": igc_rec.hash, "roi": cfg.to_dict()["outputs"]["roi"], "mean": mean,
                "figures": cfg.outputs.figures, "data_files": ctx.data_hash}
    space = vertex_space(vert)

    def work(deriv):
        tables, files, order, sources = [], [], [], {}
        for name in atlases:
            atlas = load_atlas(ctx, name, int(sub), density=space.density)
            sources[name] = atlas.source
            t = roi_sums(maps, atlas, space=space, subject=sub, outputs=names)
            if mean:
                t["value"] = t["value"] / t["n_features"].where(t["n_features"] > 0)
            t.insert(1, "atlas", name)
            path = roi_path(deriv, cfg.label, sub, name)
            sidecar = dict(ROI_SIDECAR, Sources=[atlas.source])
            if mean:
                sidecar["value"] = {"Description": f"mean of the {kind} map over the ROI's vertices"}
            write_tsv(path, t.drop(columns=[c for c in ROI_FILE_COLUMNS if c in t]), sidecar)
            files.append(_rel(deriv, path))
            tables.append(t)
            order += [r for r in atlas.roi_names if r in set(t["roi"])]
        table = pd.concat(tables, ignore_index=True)
        info = {"tables": files, "top": {}, "sources": sources,
                "config": {"outputs": {"roi": cfg.to_dict()["outputs"]["roi"]}}}
        real = table[table["roi"] != OTHER]
        for out in names:
            part = real[(real["output"] == out) & (real["n_features"] > 0)]
            if len(part):
                best = part.loc[part["value"].idxmax()]
                info["top"][out] = {"roi": str(best["roi"]), "atlas": str(best["atlas"]), "value": float(best["value"])}
        if cfg.outputs.figures:
            fig = deriv.figure_path(sub, "roisums", desc=cfg.label)
            plot_roi_sums(real.drop(columns="atlas"), fig, rois=order, outputs=names,
                          title=f"sub-{sub}: {kind} {'mean' if mean else 'sum'} per ROI",
                          ylabel=roi_ylabel(kind, names, mean))
            info["figure"] = _rel(deriv, fig)
        return info

    return ctx.step(f"sub-{sub}/roi", settings, work)


def read_roi_tables(ctx, sub: str) -> pd.DataFrame:
    """The ROI tables of one subject, all atlases, as one DataFrame (with the ``subject`` and
    ``atlas`` columns that the file names hold)."""
    parts = []
    for a in ctx.config.outputs.roi.atlases:
        t = pd.read_csv(roi_path(ctx.deriv, ctx.config.label, sub, a), sep="\t", na_values="n/a",
                        keep_default_na=False)
        if "atlas" not in t:
            t.insert(0, "atlas", a)
        if "subject" not in t:
            t.insert(0, "subject", sub)
        parts.append(t)
    return pd.concat(parts, ignore_index=True)
