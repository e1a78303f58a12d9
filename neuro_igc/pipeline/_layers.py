"""The encoding pipeline's layer block: per-ROI layer profiles from ``layer_igc``.

With ``attribution.layers: [stem, stages.0, stages.1]`` (module names of the model), each subject
gets, per layer, :func:`neuro_igc.attribution.layer_igc` of every vertex over the layer's units
(same samples, baselines and steps as the input IGC), summed over each ROI's vertices:

- ``_layerprofile.tsv``: one row per (atlas, ROI, layer): ``total`` (the ROI's summed
  correlation, the same at every layer that all of the computation passes through: a check),
  ``effective_units`` (participation ratio of the ROI's map over the units, ``(sum |c|)^2 /
  sum c^2``, as a fraction of the layer's units: how widely the prediction is spread over the
  layer), ``top_share`` (share of ``sum |c|`` in the top 1 % of units), ``area50`` (for a layer
  with spatial axes: the fraction of the layer's positions holding half of the ROI's ``|c|``
  summed over channels: how local the ROI's information is at that depth);
- ``_layerroimaps.npz``: the ROI-summed maps themselves (``<atlas>|<roi>|<layer>``);
- a figure of the profiles across the layers and a report section.

Group level (:func:`group_layers`): per atlas, ``group/atlas-<atlas>_desc-<label>_layersummary.tsv``
with one row per (ROI, layer): mean and SD across subjects of ``total``, ``effective_units``,
``top_share`` and ``area50``, ``n_subjects``; a figure of the profiles with error bars across
subjects and a report section. Subjects run with other layers (or ROI settings) are refused by the
group level's settings check (the layer step records the settings it ran with).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from neuro_igc.pipeline._report import ReportSection

__all__ = ["layer_step", "layer_section", "layer_profile", "group_layers", "PROFILE_COLUMNS", "GROUP_COLUMNS"]

logger = logging.getLogger(__name__)

#: columns of the per-ROI layer profile table
PROFILE_COLUMNS = ["atlas", "roi", "layer", "n_vertices", "n_units", "total", "effective_units", "top_share",
                   "area50"]

PROFILE_SIDECAR = {
    "atlas": {"Description": "atlas of the ROI"},
    "roi": {"Description": "ROI name"},
    "layer": {"Description": "module of the model (its name in model.named_modules())"},
    "n_vertices": {"Description": "vertices of the ROI among the model's outputs"},
    "n_units": {"Description": "units of the layer (its output shape without the sample axis)"},
    "total": {"Description": "sum of the ROI's layer IGC map: the sum of its vertices' correlations "
                             "(equal across layers that every route passes through)"},
    "effective_units": {"Description": "participation ratio (sum |c|)^2 / sum c^2 of the ROI's map over the "
                                       "units, divided by the number of units"},
    "top_share": {"Description": "share of sum |c| carried by the top 1 % of units"},
    "area50": {"Description": "fraction of the layer's spatial positions holding half of sum |c| over "
                              "channels (n/a for layers without spatial axes)"},
}

#: the profile's numbers summarized across subjects at the group level
SUMMARY_VALUES = ["total", "effective_units", "top_share", "area50"]
#: columns of the group table (no "atlas" column: the file name's atlas- entity says it)
GROUP_COLUMNS = ["roi", "layer", "n_subjects", "n_vertices", "n_units"] + [
    f"{c}_{stat}" for c in SUMMARY_VALUES for stat in ("mean", "sd")]

GROUP_SIDECAR = {
    "roi": PROFILE_SIDECAR["roi"],
    "layer": PROFILE_SIDECAR["layer"],
    "n_subjects": {"Description": "number of subjects with a profile of this ROI and layer"},
    "n_vertices": {"Description": "vertices of the ROI among the model's outputs, mean across subjects rounded "
                                  "to an integer"},
    "n_units": PROFILE_SIDECAR["n_units"],
    **{f"{c}_{stat}": {"Description": f"{what} across subjects of the subjects' '{c}' ({PROFILE_SIDECAR[c]['Description']})"}
       for c in SUMMARY_VALUES for stat, what in (("mean", "mean"), ("sd", "standard deviation (ddof 1)"))},
}


def profile_path(deriv, label: str, sub: str):
    """A subject's ``_layerprofile.tsv``."""
    return deriv.file_path(sub, "layerprofile", ".tsv", desc=label)


def layer_profile(roi_map: np.ndarray) -> dict:
    """Summary numbers of one ROI's map over a layer's units (see the module docstring).

    Examples
    --------
    >>> m = np.zeros((2, 4, 4)); m[0, 1, 1] = 1.0
    >>> p = layer_profile(m)
    >>> p["effective_units"], p["area50"]
    (0.03125, 0.0625)
    """
    c = np.asarray(roi_map, dtype=float)
    a = np.abs(c).ravel()
    total_abs = float(a.sum())
    n = a.size
    out = {"n_units": int(n), "total": float(c.sum()), "effective_units": float("nan"), "top_share": float("nan"),
           "area50": float("nan")}
    if total_abs <= 0:
        return out
    out["effective_units"] = float(total_abs**2 / float((a**2).sum()) / n)
    k = max(1, int(np.ceil(0.01 * n)))
    out["top_share"] = float(np.sort(a)[::-1][:k].sum() / total_abs)
    if c.ndim >= 3:  # (C, H, W): positions ranked by their |c| summed over channels
        spatial = np.sort(np.abs(c).reshape(c.shape[0], -1).sum(0))[::-1]
        need = np.searchsorted(np.cumsum(spatial), 0.5 * spatial.sum()) + 1
        out["area50"] = float(need / spatial.size)
    return out


def _layer_igc_models(ctx, models, d, subject: int, position: int, layer: str):
    """``layer_igc`` of each model (the input IGC's settings); maps averaged over the models."""
    from neuro_igc.attribution import layer_igc
    from neuro_igc.pipeline._train import PER_SUBJECT_MODELS

    x, y = d.val_arrays(subject, ctx.config.attribution_samples)
    kwargs = {} if ctx.config.model.name in PER_SUBJECT_MODELS else {"subject": int(position)}
    maps = [layer_igc(m, layer, x, y, settings=ctx.config.attribution, device=ctx.device, model_kwargs=kwargs,
                      progress=ctx.progress).attributions for m in models]
    return np.mean(maps, axis=0)


def layer_step(ctx, data, train, subject: int, igc_rec, vert: pd.DataFrame):
    """Per-ROI layer profiles of one subject (``attribution.layers``)."""
    from neuro_igc._utils import atomic_path
    from neuro_igc.pipeline import _outputs as O
    from neuro_igc.pipeline._layout import write_tsv

    cfg = ctx.config
    sub = f"{subject:02d}"
    layers = list(cfg.attribution_layers)
    roi_settings = cfg.to_dict()["outputs"]["roi"]
    settings = {"upstream": igc_rec.hash, "layers": layers, "roi": roi_settings,
                "figures": cfg.outputs.figures, "data_files": ctx.data_hash}
    space = O.vertex_space(vert)

    def work(deriv):
        from neuro_igc.pipeline._train import load_models

        d = data.get()
        info = d.info(subject)
        paths = O._checkpoints_for(ctx, train, subject)
        position = O._model_position(paths[0], subject, info.index)
        models = load_models(paths, ctx.device)
        masks = {}
        for name in cfg.outputs.roi.atlases:
            atlas = O.load_atlas(ctx, name, subject, density=space.density)
            for roi, mask in atlas.masks(space).items():
                if mask.any():
                    masks[(name, roi)] = mask
        rows, arrays = [], {}
        for layer in layers:
            maps = _layer_igc_models(ctx, models, d, subject, position, layer)  # (n_vertices, *units)
            for (atlas_name, roi), mask in masks.items():
                roi_map = maps[mask].sum(0)
                arrays[f"{atlas_name}|{roi}|{layer}"] = roi_map.astype(np.float32)
                rows.append({"atlas": atlas_name, "roi": roi, "layer": layer, "n_vertices": int(mask.sum()),
                             **layer_profile(roi_map)})
        table = pd.DataFrame(rows, columns=PROFILE_COLUMNS)
        path = profile_path(deriv, cfg.label, sub)
        write_tsv(path, table, PROFILE_SIDECAR)
        npz = deriv.file_path(sub, "layerroimaps", ".npz", desc=cfg.label)
        with atomic_path(npz) as tmp:
            np.savez_compressed(tmp, **arrays)
        out = {"table": O._rel(deriv, path), "maps": O._rel(deriv, npz), "layers": layers,
               # what the group level checks across subjects (see _group.participant_settings)
               "config": {"attribution": {"layers": layers}, "outputs": {"roi": roi_settings}}}
        if cfg.outputs.figures and len(table):
            fig = deriv.figure_path(sub, "layerprofile", desc=cfg.label)
            plot_layer_profiles(table, fig, f"sub-{sub}")
            out["figure"] = O._rel(deriv, fig)
        return out

    return ctx.step(f"sub-{sub}/layers", settings, work)


def plot_layer_profiles(table: pd.DataFrame, path, who: str = "", *, spread: bool = False) -> None:
    """Effective units, top-1 % share and area50 of every ROI across the layers; with ``spread``,
    ``table`` is a group table (``<value>_mean``, ``<value>_sd``) drawn with +/- SD error bars
    (none where the SD is n/a: a group of one subject)."""
    from neuro_igc._utils import new_figure, save_figure

    layers = list(dict.fromkeys(table["layer"]))
    cols = [("effective_units", "effective units (fraction)"), ("top_share", "share of top 1 % units"),
            ("area50", "area holding 50 % (fraction)")]
    fig = new_figure("Layer profile figures", figsize=(12, 3.6))
    axes = fig.subplots(1, len(cols), squeeze=False)[0]
    xs = np.arange(len(layers))
    for ax, (col, label) in zip(axes, cols):
        for (atlas, roi), g in table.groupby(["atlas", "roi"], sort=False):
            g = g.set_index("layer").reindex(layers)
            name = f"{roi}" if table["atlas"].nunique() == 1 else f"{atlas}: {roi}"
            if spread:  # a group table; one subject has no SD: no error bars
                sd = g[f"{col}_sd"].to_numpy(dtype=float)
                ax.errorbar(xs, g[f"{col}_mean"].to_numpy(dtype=float), yerr=sd if np.isfinite(sd).any() else None,
                            marker="o", capsize=3, label=name)
            else:
                ax.plot(xs, g[col].to_numpy(dtype=float), marker="o", label=name)
        ax.set_xticks(xs)
        ax.set_xticklabels(layers, rotation=30, fontsize=8)
        ax.set_ylabel(label)
    axes[-1].legend(fontsize=7, loc="best")
    several = spread and bool((table["n_subjects"] > 1).any())
    fig.suptitle(f"{who}: how each ROI's IGC is spread over the units of each layer"
                 + (", mean +/- SD across subjects" if several else ""), fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


def layer_section(ctx, records: dict) -> None:
    """The per-ROI layer profile tables and figures of the subjects."""
    if not records:
        return
    tables, figures = [], []
    for sub, rec in records.items():
        t = pd.read_csv(ctx.deriv.root / rec.info["table"], sep="\t", na_values="n/a")
        tables.append((f"sub-{sub}: layer profile per ROI", t))
        if rec.info.get("figure"):
            figures.append((ctx.deriv.root / rec.info["figure"], f"sub-{sub}: layer profiles"))
    layers = ", ".join(records[next(iter(records))].info.get("layers", []))
    ctx.sections.append(ReportSection(
        "Layer profiles",
        text=[f"IGC over the units of each layer ({layers}) by layer_igc (the conductance decomposition of IG), "
              "summed over each ROI's vertices. Every route from the image to the prediction passes through each of "
              "these layers, so an ROI's total is the same at every layer (its summed correlation); the profile "
              "says how that total is spread: over how many units (effective units, share of the top 1 %) and "
              "over how much of the layer's spatial grid (area holding half of it)."],
        tables=tables, figures=figures,
    ))


def summarize_profiles(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and SD (ddof 1; n/a for one subject) across subjects of the profiles of one atlas:
    ``table`` is the subjects' ``_layerprofile.tsv`` rows with a ``subject`` column; one row per
    (ROI, layer) in the input's order, columns :data:`GROUP_COLUMNS`."""
    g = table.groupby(["roi", "layer"], sort=False)
    out = pd.DataFrame({"n_subjects": g["subject"].nunique(),
                        "n_vertices": g["n_vertices"].mean().round().astype(int),
                        "n_units": g["n_units"].max()})
    for c in SUMMARY_VALUES:
        out[f"{c}_mean"] = g[c].mean()
        out[f"{c}_sd"] = g[c].std(ddof=1)  # NaN for one value
    return out.reset_index()[GROUP_COLUMNS]


def group_layers(ctx, participants: dict | None) -> pd.DataFrame | None:
    """Group layer profiles: mean +/- SD across subjects of their ``_layerprofile.tsv`` per (atlas,
    ROI, layer), when the participant level ran with ``attribution.layers`` (``participants``: the
    settings it used, from :func:`~neuro_igc.pipeline._group.participant_settings`, which has
    already refused subjects run with different layers); a table per atlas, a figure, a section."""
    from neuro_igc.pipeline import _outputs as O
    from neuro_igc.pipeline._errors import PipelineError
    from neuro_igc.pipeline._group import _upstream_hashes, subjects_with_outputs
    from neuro_igc.pipeline._layout import write_tsv

    cfg = ctx.config
    layers = (list(participants.get("attribution", {}).get("layers") or []) if participants is not None
              else list(cfg.attribution_layers))
    if not layers:
        return None
    subs = subjects_with_outputs(ctx, "vertices")
    hashes = _upstream_hashes(ctx, subs, "layers")
    tables = {}
    for s in subs:
        t = pd.read_csv(profile_path(ctx.deriv, cfg.label, s), sep="\t", na_values="n/a", keep_default_na=False)
        if list(dict.fromkeys(t["layer"])) != layers:  # the records agreed: only a table edited by hand differs
            raise PipelineError(
                f"The layer profile of sub-{s} ({profile_path(ctx.deriv, cfg.label, s)}) has layers "
                f"{list(dict.fromkeys(t['layer']))}, not the participant level's {layers}: rerun the participant "
                f"level for sub-{s}.")
        tables[s] = t.assign(subject=s)
    atlases = list(dict.fromkeys(a for t in tables.values() for a in t["atlas"]))
    settings = {"subjects": subs, "layer_steps": hashes, "layers": layers, "figures": cfg.outputs.figures}

    def work(deriv):
        full = pd.concat(tables.values(), ignore_index=True)
        info = {"tables": [], "atlases": atlases, "layers": layers}
        parts = []
        for atlas in atlases:
            summary = summarize_profiles(full[full["atlas"] == atlas])
            path = O.roi_path(deriv, cfg.label, None, atlas, suffix="layersummary")
            write_tsv(path, summary, {**GROUP_SIDECAR, "Subjects": subs, "Layers": layers})
            info["tables"].append(str(path.relative_to(deriv.root)))
            parts.append(summary.assign(atlas=atlas))
        if cfg.outputs.figures and parts:
            fig = deriv.figure_path(None, "layersummary", desc=cfg.label)
            who = (f"group ({len(subs)} subjects)" if len(subs) > 1
                   else f"group of one subject (sub-{subs[0]}), no spread across subjects")
            plot_layer_profiles(pd.concat(parts, ignore_index=True), fig, who, spread=True)
            info["figure"] = str(fig.relative_to(deriv.root))
        return info

    rec = ctx.step("group/layers", settings, work)
    summary = pd.concat([pd.read_csv(ctx.deriv.root / t, sep="\t", na_values="n/a", keep_default_na=False)
                         .assign(atlas=a) for t, a in zip(rec.info["tables"], rec.info["atlases"])],
                        ignore_index=True)
    shown = summary[["atlas"] + GROUP_COLUMNS]
    if len(subs) == 1:
        shown = shown.drop(columns=[c for c in shown if c.endswith("_sd")])
    spread = "mean +/- SD across subjects" if len(subs) > 1 else "one subject: no error bars"
    figures = ([(ctx.deriv.root / rec.info["figure"], f"Group layer profiles: {spread}")]
               if rec.info.get("figure") else [])
    who = " ".join("sub-" + s for s in subs)
    ctx.sections.append(ReportSection(
        "Group layer profiles",
        text=[(f"The layer profiles ({', '.join(layers)}) of {len(subs)} subjects ({who}): mean and SD across "
               "subjects of each ROI's total, effective units, share of the top 1 % of units and area holding "
               "half of it (see the participants' Layer profiles)."
               if len(subs) > 1 else f"The layer profiles ({', '.join(layers)}) of one subject ({who}): a group "
               "of one has no spread.")],
        tables=[("Mean +/- SD across subjects" if len(subs) > 1 else "Layer profile", shown)],
        figures=figures,
    ))
    return summary
