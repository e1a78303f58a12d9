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

__all__ = ["group_roi", "group_maps", "subjects_with_outputs", "participant_settings", "participants_section"]

logger = logging.getLogger(__name__)

GROUP_SIDECAR = {  # no "atlas" column: the file name's atlas- entity says it
    "output": {"Description": "model output the maps belong to"},
    "roi": {"Description": "ROI name"},
    "mean": {"Description": "mean across subjects of the subjects' ROI values"},
    "sd": {"Description": "standard deviation across subjects (ddof 1)"},
    "sem": {"Description": "standard error of the mean"},
    "n_subjects": {"Description": "number of subjects"},
    "n_features": {"Description": "number of vertices in the ROI, mean across subjects rounded to an integer"},
    "n_features_min": {"Description": "smallest number of vertices in the ROI among the subjects"},
    "n_features_max": {"Description": "largest number of vertices in the ROI among the subjects"},
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


#: participant-level steps whose records keep the config sections they ran with (``info["config"]``)
SETTINGS_STEPS = ("igc", "roi", "prf", "layers")


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v and k != "params" and k != "merge":
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _merge(into: dict, part: dict) -> None:
    for k, v in part.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


def _show(value) -> str:
    import json

    return json.dumps(value, default=str)


def participant_settings(ctx) -> dict | None:
    """The settings the participant level used for the selected subjects (from their step records),
    checked against each other and against this run's config.

    Subjects summarized together must have been processed with the same settings (else
    :class:`PipelineError`). When this run's config (the command line) differs from them, a loud
    warning says which keys, the group report shows the participants' settings, and a flagged
    section lists the differences: the group level only summarizes the participants' outputs, so
    the participants' settings are the ones that made them. Returns the participants' config (a
    dict like ``PipelineConfig.to_dict()``), or None when no record says (outputs of an older
    version).
    """
    cfg = ctx.config
    used: dict[str, dict] = {}
    for s in ctx.subjects:
        sub = f"{s:02d}"
        merged: dict = {}
        for step in SETTINGS_STEPS:
            data = ctx.cache._read(f"{cfg.label}/sub-{sub}/{step}")
            part = ((data or {}).get("info") or {}).get("config")
            if isinstance(part, dict):
                _merge(merged, part)
        if merged:
            used[sub] = _flatten(merged)
    if not used:
        logger.info("group level: no participant-level record says which settings it used")
        return None
    subs = list(used)
    first = used[subs[0]]
    for sub in subs[1:]:
        diff = sorted(k for k in set(first) | set(used[sub]) if first.get(k) != used[sub].get(k))
        if diff:
            shown = "; ".join(f"{k}: sub-{subs[0]} {_show(first.get(k))}, sub-{sub} {_show(used[sub].get(k))}"
                              for k in diff[:4])
            raise PipelineError(
                f"The participant level of {cfg.name} ran with different settings for sub-{subs[0]} and "
                f"sub-{sub} ({shown}); a group summary needs one setting: rerun the participant level of "
                "these subjects with the same config and --set options."
            )
    current = _flatten(cfg.to_dict())
    diff = sorted(k for k in first if k in current and current[k] != first[k])
    participants = cfg.to_dict()
    for k, v in first.items():  # the participants' values in place of this run's
        node = participants
        *path, last = k.split(".")
        for p in path:
            node = node.setdefault(p, {})
        node[last] = v
    ctx.report_config = participants
    ctx.summary.append(("settings", "as used by the participant level (step records)"))
    if diff:
        overrides = " ".join(f"--set {k}={_show(first[k])}" for k in diff)
        lines = [f"{k}: participants {_show(first[k])}, this command {_show(current[k])}" for k in diff]
        logger.warning(
            "group level: the participant outputs of %s were made with other settings than this command's "
            "(%s). The group level summarizes them as they are and reports the participants' settings; "
            "to match, run the group level with %s (or rerun the participant level).",
            cfg.name, "; ".join(lines), overrides)
        ctx.summary.append(("settings differ", "; ".join(lines)))
        ctx.warnings.append(
            f"the participant outputs were made with other settings than this command's ({'; '.join(lines)}); "
            f"the group level summarized them as they are. To match, add: {overrides}")
        from neuro_igc.pipeline._report import ReportSection

        ctx.sections.insert(0, ReportSection(
            "Settings differ",
            text=["This group run was started with settings that differ from those the participant level "
                  "used. The group outputs summarize the participants' outputs as they are; the Settings "
                  "section shows the participants' settings. To match, add: " + overrides],
            tables=[("Participant level vs this command", pd.DataFrame(
                {"setting": diff, "participant level": [_show(first[k]) for k in diff],
                 "this command": [_show(current[k]) for k in diff]}))],
            warn=True,
        ))
    return participants


def _record(ctx, key: str):
    from neuro_igc.pipeline._state import StepRecord

    data = ctx.cache._read(key)
    if not data or not isinstance(data.get("info"), dict):
        return None
    return StepRecord(key, data.get("hash", ""), data.get("outputs", []), True, float(data.get("seconds", 0.0)),
                      data["info"])


def participants_section(ctx, names: list[str] | None) -> None:
    """The participant level's validation scores and IGC errors of the summarized subjects (from
    their step records), flagged like in the participant report: the group maps are only as good
    as these."""
    cfg = ctx.config
    subs = [f"{s:02d}" for s in ctx.subjects]
    igc = {s: r for s in subs if (r := _record(ctx, f"{cfg.label}/sub-{s}/igc")) is not None}
    train = _record(ctx, f"{cfg.label}/train")
    model = _record(ctx, f"{cfg.label}/model")
    if model is not None:
        model.info = dict(model.info, figures=[])  # the participant report shows them
    if train is not None:
        train.info = dict(train.info, val={k: v for k, v in train.info.get("val", {}).items() if k in igc})
        S.model_section(ctx, train, names, who=" ".join(f"sub-{s}" for s in igc), model=model)
        ctx.sections[-1].title = "Participants: validation"
    if igc:
        S.attribution_section(ctx, igc, names, title="Participants: IGC errors")


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
            if "n_features" in part:  # vertex counts are integers: the rounded mean and the range
                counts = part.groupby(["output", "roi"], sort=False)["n_features"].agg(["min", "max"])
                keys = pd.MultiIndex.from_frame(summary[["output", "roi"]])
                summary["n_features"] = summary["n_features"].round().astype(int)
                summary["n_features_min"] = counts["min"].reindex(keys).to_numpy().astype(int)
                summary["n_features_max"] = counts["max"].reindex(keys).to_numpy().astype(int)
            path = O.roi_path(deriv, cfg.label, None, atlas, suffix="roisummary")
            write_tsv(path, summary, {**GROUP_SIDECAR, "Subjects": subs})
            info["tables"].append(str(path.relative_to(deriv.root)))
        if cfg.outputs.figures:
            real = full[full["roi"] != OTHER]
            fig = deriv.figure_path(None, "roisummary", desc=cfg.label)
            order = list(dict.fromkeys(real["roi"]))
            plot_roi_sums(real.drop(columns="atlas"), fig, rois=order, outputs=names,
                          title=(f"group ({len(subs)} subjects): {kind} per ROI, mean +/- SD across subjects"
                                 if len(subs) > 1 else f"group of one subject (sub-{subs[0]}): {kind} per ROI, "
                                 "no spread across subjects"),
                          ylabel=O.roi_ylabel(kind, names, mean))
            info["figure"] = str(fig.relative_to(deriv.root))
        return info

    rec = ctx.step("group/roi", settings, work)
    summary = pd.concat([pd.read_csv(ctx.deriv.root / t, sep="\t", na_values="n/a", keep_default_na=False)
                         .assign(atlas=a) for t, a in zip(rec.info["tables"], cfg.outputs.roi.atlases)],
                        ignore_index=True)
    shown = summary[summary["roi"] != OTHER]
    spread = "mean +/- SD across subjects, dots = subjects" if len(subs) > 1 else "one subject: no error bars"
    figures = [(ctx.deriv.root / rec.info["figure"], f"Group ROI summary: {spread}")] if rec.info.get("figure") else []
    if len(subs) == 1:
        shown = shown.drop(columns=[c for c in ("sd", "sem") if c in shown])
    ctx.sections.append(ReportSection(
        "Group ROI summary",
        text=[f"ROI values of {len(subs)} subjects ({' '.join('sub-' + s for s in subs)}): mean, SD and SEM; "
              "n_features is the ROI's vertex count (rounded mean, smallest and largest across subjects)."
              if len(subs) > 1 else f"ROI values of one subject (sub-{subs[0]}): a group of one has no spread."],
        tables=[("Mean +/- SD across subjects" if len(subs) > 1 else "ROI values", shown)],
        figures=figures,
    ))
    for out in names:
        part = shown[shown["output"] == out].dropna(subset=["mean"])
        if len(part):
            ctx.scores.setdefault("top_roi", {}).setdefault("group", {})[out] = str(part.loc[part["mean"].idxmax(), "roi"])
    return summary.assign(subject="group", value=summary["mean"], n_features=summary.get("n_features", 1))


def _read_map(path, vertices) -> np.ndarray:
    """A subject's map with NaN outside its ``vertices`` (the files hold a fill value there)."""
    from neuro_igc._read import load_image

    data = np.asarray(load_image(path, "subject map").darrays[0].data, dtype=np.float64)
    out = np.full(data.shape, np.nan)
    out[vertices] = data[vertices]
    return out


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

    covered = {}  # each subject's vertices: the maps hold a fill value elsewhere
    for s in subs:
        vert = O.read_vertices(ctx, s)
        covered[s] = {h: vert.loc[vert["hemi"] == h, "vertex"].to_numpy() for h in ("lh", "rh")}

    def work(deriv):
        means, hemi, vertex = [], [], []
        for h in ("lh", "rh"):
            stacks = []
            for name in names:
                desc = f"{cfg.label}{camel(name)}"
                files = [ctx.deriv.surface_path(s, h, density, desc, stat=O.stat_label(kind)) for s in subs]
                stacks.append(np.nanmean(np.stack([_read_map(f, covered[s][h]) for s, f in zip(subs, files)]), axis=0))
            block = np.stack(stacks)  # (n_maps, n_vertices)
            keep = np.flatnonzero(np.isfinite(block).any(0))
            means.append(block[:, keep])
            hemi += [h] * keep.size
            vertex.append(keep)
        values = np.concatenate(means, axis=1)
        outline = O._outline(ctx, None) if cfg.outputs.figures else None
        from neuro_igc.data import SurfaceSpace

        space = SurfaceSpace(density, np.asarray(hemi, dtype=str), np.concatenate(vertex))
        maps = O.write_maps(ctx, deriv, None, values, names, space, kind=f"mean {kind}", outline=outline)
        return {"maps": maps}

    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Mean of empty slice")
        rec = ctx.step(f"group/{prefix}maps", settings, work)
    text = (f"Mean across subjects {' '.join('sub-' + s for s in subs)} of the {kind} maps (vertices where any "
            "subject has a value); outlines: NSD's group 'streams' atlas, the only visual atlas NSD has on "
            "fsaverage (the subject-drawn ROIs are on each subject's figures)."
            if len(subs) > 1 else f"The {kind} maps of sub-{subs[0]} (a group of one subject).")
    S.maps_section(ctx, f"Group {kind} maps", text, {"": rec})
