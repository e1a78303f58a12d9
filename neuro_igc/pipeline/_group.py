"""Group level: ROI summaries across subjects (mean +/- SD) and the subjects' mean maps.

Reads the participant-level derivatives of the selected subjects (all subjects with outputs when
none are selected), so it never retrains or recomputes attributions.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from neuro_igc.pipeline import _outputs as O
from neuro_igc.pipeline import _sections as S
from neuro_igc.pipeline._errors import PipelineError
from neuro_igc.pipeline._layout import camel, write_tsv
from neuro_igc.pipeline._report import ReportSection

__all__ = ["group_roi", "group_maps", "subjects_with_outputs"]

logger = logging.getLogger(__name__)

GROUP_SIDECAR = {
    "atlas": {"Description": "atlas the ROIs come from"},
    "output": {"Description": "model output the maps belong to"},
    "roi": {"Description": "ROI name"},
    "mean": {"Description": "mean across subjects of the subjects' ROI values"},
    "sd": {"Description": "standard deviation across subjects (ddof 1)"},
    "sem": {"Description": "standard error of the mean"},
    "n_subjects": {"Description": "number of subjects"},
    "n_features": {"Description": "mean number of vertices in the ROI"},
}


def subjects_with_outputs(ctx, what: str = "roi") -> list[str]:
    """Participant labels whose participant-level outputs exist (restricted to the selection)."""
    label = ctx.config.label
    found = []
    for s in ctx.subjects:
        sub = f"{s:02d}"
        if what == "roi":
            ok = all(O.roi_path(ctx.deriv, label, sub, a).exists() for a in ctx.config.outputs.roi.atlases)
        else:
            ok = O._vertices_path(ctx.deriv, label, sub).exists()
        if ok:
            found.append(sub)
    if not found:
        raise PipelineError(
            f"No participant-level outputs of {ctx.config.name} in {ctx.deriv.root} for subjects "
            f"{' '.join(ctx.labels)}: run the participant level first."
        )
    return found


def _upstream_hashes(ctx, subs: list[str], step: str) -> list[str]:
    """The participant-level records the group level reads, each checked against its files."""
    hashes = []
    for s in subs:
        key = f"{ctx.config.label}/sub-{s}/{step}"
        digest = ctx.cache.lookup_hash(key, verify=True)
        if digest is None:
            raise PipelineError(
                f"The participant-level outputs of step {key!r} in {ctx.deriv.root} are missing or changed "
                f"since they were written: rerun the participant level for sub-{s} first."
            )
        hashes.append(digest)
    return hashes


def group_roi(ctx, names: list[str], *, kind: str, mean: bool = False) -> pd.DataFrame | None:
    """Group mean +/- SD of the subjects' ROI tables (ROI sums, or with ``mean`` ROI means), per
    atlas; bar plot with error bars."""
    from neuro_igc.atlas import OTHER, group_summary, plot_roi_sums

    cfg = ctx.config
    if not cfg.outputs.roi.atlases:
        return None
    subs = subjects_with_outputs(ctx, "roi")
    tables = {s: O.read_roi_tables(ctx, s) for s in subs}
    hashes = _upstream_hashes(ctx, subs, "roi")
    settings = {"subjects": subs, "roi_steps": hashes, "figures": cfg.outputs.figures}

    def work(deriv):
        info = {"tables": []}
        full = pd.concat(tables.values(), ignore_index=True)
        for atlas in cfg.outputs.roi.atlases:
            part = full[full["atlas"] == atlas].drop(columns="atlas")
            summary = group_summary(part)
            summary.insert(0, "atlas", atlas)
            path = O.roi_path(deriv, cfg.label, None, atlas, suffix="roisummary")
            write_tsv(path, summary, {**GROUP_SIDECAR, "Subjects": subs})
            info["tables"].append(str(path.relative_to(deriv.root)))
        if cfg.outputs.figures:
            real = full[full["roi"] != OTHER]
            fig = deriv.figure_path(None, "roisummary", desc=cfg.label)
            order = list(dict.fromkeys(real["roi"]))
            plot_roi_sums(real.drop(columns="atlas"), fig, rois=order, outputs=names,
                          title=f"group ({len(subs)} subjects): {kind} per ROI, mean +/- SD across subjects",
                          ylabel=f"ROI {'mean' if mean else 'sum'} of {kind}")
            info["figure"] = str(fig.relative_to(deriv.root))
        return info

    rec = ctx.step("group/roi", settings, work)
    summary = pd.concat([pd.read_csv(ctx.deriv.root / t, sep="\t", na_values="n/a", keep_default_na=False)
                         for t in rec.info["tables"]], ignore_index=True)
    shown = summary[summary["roi"] != OTHER]
    figures = [(ctx.deriv.root / rec.info["figure"], "Group ROI summary: mean +/- SD across subjects, "
                "dots = subjects")] if rec.info.get("figure") else []
    ctx.sections.append(ReportSection(
        "Group ROI summary",
        text=[f"ROI values of {len(subs)} subjects ({' '.join('sub-' + s for s in subs)}): mean, SD and SEM."],
        tables=[("Mean +/- SD across subjects", shown)],
        figures=figures,
    ))
    for out in names:
        part = shown[shown["output"] == out].dropna(subset=["mean"])
        if len(part):
            ctx.scores.setdefault("top_roi", {}).setdefault("group", {})[out] = str(part.loc[part["mean"].idxmax(), "roi"])
    return summary.assign(subject="group", value=summary["mean"], n_features=summary.get("n_features", 1))


def _read_map(path) -> np.ndarray:
    from neuro_igc._read import load_image

    return np.asarray(load_image(path, "subject map").darrays[0].data, dtype=np.float64)


def group_maps(ctx, names: list[str], *, kind: str, prefix: str = "") -> None:
    """Mean across subjects of each map (vertices where any subject has a value)."""
    cfg = ctx.config
    if not cfg.outputs.surface:
        return
    subs = subjects_with_outputs(ctx, "vertices")
    densities = {O.read_vertices(ctx, s).attrs["density"] for s in subs}
    if len(densities) != 1:
        raise PipelineError(f"Subjects' maps have different densities {sorted(densities)}; cannot average them.")
    density = densities.pop()
    hashes = _upstream_hashes(ctx, subs, f"{prefix}surface")
    settings = {"subjects": subs, "surface_steps": hashes, "names": names, "figures": cfg.outputs.figures,
                "views": cfg.outputs.views, "interactive": cfg.outputs.interactive}

    def work(deriv):
        means, hemi, vertex = [], [], []
        for h in ("lh", "rh"):
            stacks = []
            for name in names:
                desc = f"{cfg.label}{camel(name)}"
                files = [ctx.deriv.surface_path(s, h, density, desc) for s in subs]
                stacks.append(np.nanmean(np.stack([_read_map(f) for f in files]), axis=0))
            block = np.stack(stacks)  # (n_maps, n_vertices)
            keep = np.flatnonzero(np.isfinite(block).any(0))
            means.append(block[:, keep])
            hemi += [h] * keep.size
            vertex.append(keep)
        values = np.concatenate(means, axis=1)
        outline = O._outline(ctx, None) if cfg.outputs.figures else None
        maps = O.write_maps(ctx, deriv, None, values, names, np.asarray(hemi), np.concatenate(vertex), density,
                            kind=f"mean {kind}", outline=outline)
        return {"maps": maps}

    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Mean of empty slice")
        rec = ctx.step(f"group/{prefix}maps", settings, work)
    S.maps_section(ctx, f"Group {kind} maps", f"Mean across subjects {' '.join(subs)} of the {kind} maps.",
                   {"": rec})
