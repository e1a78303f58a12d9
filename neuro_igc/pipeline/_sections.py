"""Report sections and headline scores built from the step records (so skipped steps show too),
and the recovery scores of a synthetic folder's planted truth."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from neuro_igc.pipeline._report import ReportSection

__all__ = ["model_section", "attribution_section", "maps_section", "roi_section", "decoding_recovery",
           "encoding_recovery", "load_truth_or_none"]

logger = logging.getLogger(__name__)


def _fig(ctx, rel: str | None):
    return None if rel is None else ctx.deriv.root / rel


def model_section(ctx, train, names: list[str] | None) -> None:
    """Validation scores of the model(s), per subject."""
    cfg = ctx.config
    val = train.info.get("val", {})
    rows = []
    for sub, entry in val.items():
        r = entry.get("r", [])
        if names is not None and len(r) == len(names):
            rows += [{"subject": sub, "output": n, "validation r": float(v)} for n, v in zip(names, r)]
        else:
            arr = np.asarray(r, dtype=float)
            rows.append({"subject": sub, "outputs": int(arr.size),
                         "mean validation r": float(np.nanmean(arr)) if arr.size else float("nan"),
                         "median validation r": float(np.nanmedian(arr)) if arr.size else float("nan")})
    text = [f"Model '{cfg.model.name or 'checkpoint'}' "
            + ("reused from " + str(cfg.model.checkpoint) if train.info.get("reused") else
               f"trained once for subjects {' '.join(ctx.labels)}")
            + ("" if train.skipped else f" in {train.seconds:.0f} s") + "; validation on the shared images "
            "averaged over their repeats (Pearson r of prediction and truth)."]
    if train.info.get("member_scores") and len(train.info["member_scores"]) > 1:
        text.append("Kept ensemble members' validation scores: "
                    + ", ".join(f"{s:.3f}" for s in train.info["member_scores"]))
    table = pd.DataFrame(rows)
    ctx.sections.append(ReportSection("Model", text=text, tables=[("Validation scores", table)] if rows else []))
    scores = ctx.scores.setdefault("validation_r", {})
    for row in rows:
        who = f"sub-{row['subject']}"
        value = row.get("validation r", row.get("mean validation r"))
        if "output" in row:
            scores.setdefault(who, {})[row["output"]] = value
        else:
            scores[who] = value


def attribution_section(ctx, igc_records: dict[str, object], names: list[str] | None) -> None:
    """IGC totals and errors per subject (the maps add up to the model's correlation)."""
    rows = []
    for sub, rec in igc_records.items():
        info = rec.info
        corr, ige, igce = info["correlation"], info["ig_error"], info["igc_error"]
        if "values" in corr and names is not None:
            for i, n in enumerate(names):
                rows.append({"subject": sub, "output": n, "correlation": corr["values"][i],
                             "IG error": ige["values"][i], "IGC error": igce["values"][i],
                             "samples": info["n_samples"], "steps": info["n_steps"]})
        else:
            rows.append({"subject": sub, "outputs": "all vertices", "median correlation": corr.get("median"),
                         "median IG error": ige.get("median"), "max IGC error": igce.get("max"),
                         "samples": info["n_samples"], "steps": info["n_steps"]})
        worst = max(igce.get("values", [igce.get("max", 0.0)]))
        ctx.scores["max_igc_error"] = max(ctx.scores.get("max_igc_error", 0.0), float(worst))
    a = ctx.config.attribution
    ctx.sections.append(ReportSection(
        "IGC",
        text=[f"Integrated Gradient Correlation on the validation images ({a.method}, {a.baselines} baselines "
              "drawn from the data). Per output, the map sums to the correlation of the model's prediction "
              "with the truth; the IGC error is the gap (the paper's target: below 0.01)."],
        tables=[("Correlation and errors", pd.DataFrame(rows))],
    ))


def maps_section(ctx, title: str, text: str, surface_records: dict[str, object]) -> None:
    """Surface figures and the freeview command of every map."""
    figures, commands, links = [], [], []
    for sub, rec in surface_records.items():
        if rec is None:
            continue
        for m in rec.info["maps"]:
            who = f"sub-{sub}" if sub else "group"
            if m["figure"]:
                figures.append((_fig(ctx, m["figure"]), f"{who}: {m['name']} (desc-{m['desc']})"))
            if m.get("view"):
                links.append((_fig(ctx, m["view"]), f"{who}: {m['name']}"))
            folder = f"sub-{sub}" if sub else "group"
            commands.append((f"{who} {m['name']} (cd {ctx.deriv.root / folder})", m["command"]))
    ctx.sections.append(ReportSection(title, text=[text], figures=figures, commands=commands, links=links))


def roi_section(ctx, roi_records: dict[str, object], text: str) -> None:
    """ROI bar plots and the top ROI of each output."""
    figures, rows = [], []
    for sub, rec in roi_records.items():
        if rec is None:
            continue
        if rec.info.get("figure"):
            figures.append((_fig(ctx, rec.info["figure"]), f"sub-{sub}: ROI summary"))
        for out, top in rec.info.get("top", {}).items():
            rows.append({"subject": sub, "output": out, "top ROI": top["roi"], "atlas": top["atlas"],
                         "value": top["value"]})
    tables = [("Highest ROI per output", pd.DataFrame(rows))] if rows else []
    ctx.sections.append(ReportSection("ROI summary", text=[text], tables=tables, figures=figures))
    for row in rows:
        ctx.scores.setdefault("top_roi", {}).setdefault(f"sub-{row['subject']}", {})[row["output"]] = row["top ROI"]


def load_truth_or_none(ctx):
    """The planted truth when NSD_ROOT is a synthetic folder, else None."""
    from neuro_igc.data import load_truth

    try:
        return load_truth(ctx.nsd_root)
    except (FileNotFoundError, ValueError):
        return None


def decoding_recovery(ctx, roi_tables: dict[str, pd.DataFrame], names: list[str]) -> pd.DataFrame | None:
    """Rank of the ROI that carries each planted statistic among all ROIs (1 = recovered)."""
    truth = load_truth_or_none(ctx)
    if truth is None:
        return None
    from neuro_igc.atlas import OTHER

    rows = []
    for sub, table in roi_tables.items():
        real = table[(table["roi"] != OTHER) & (table["n_features"] > 0)]
        for out in names:
            planted = truth.statistics.get(out)
            if planted is None:
                continue
            part = real[real["output"] == out].sort_values("value", ascending=False).reset_index(drop=True)
            hit = part.index[part["roi"] == planted["roi"]]
            rank = int(hit[0]) + 1 if len(hit) else None
            rows.append({"subject": sub, "output": out, "planted ROI": planted["roi"],
                         "rank of planted ROI": rank, "top ROI": part.loc[0, "roi"] if len(part) else None,
                         "n ROIs": len(part)})
    if not rows:
        return None
    table = pd.DataFrame(rows)
    ctx.sections.append(ReportSection(
        "Recovery of the planted truth",
        text=["NSD_ROOT is a synthetic folder: its truth file says which ROI carries each statistic. "
              "Rank 1 means the ROI summary puts the planted ROI first."],
        tables=[("Planted ROIs", table)],
    ))
    ranks = ctx.scores.setdefault("planted_roi_rank", {})
    for r in rows:
        who = "group" if r["subject"] == "group" else f"sub-{r['subject']}"
        ranks.setdefault(who, {})[r["output"]] = r["rank of planted ROI"]
    return table


def encoding_recovery(ctx, prf_tables: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
    """Fitted pRFs against the planted ones, per ROI: median centre error, size correlation."""
    truth = load_truth_or_none(ctx)
    if truth is None:
        return None
    rows = []
    groups = {"V1": ["V1v", "V1d"], "V2": ["V2v", "V2d"], "V3": ["V3v", "V3d"], "hV4": ["hV4"]}
    for sub, params in prf_tables.items():
        planted = truth.prf(int(sub))
        m = params.merge(planted, on=["hemi", "vertex"], suffixes=("", "_true"))
        for roi, parts in groups.items():
            sel = m[m["roi_name"].isin(parts)]
            if len(sel) < 3:
                continue
            err = np.hypot(sel["x"] - sel["x_true"], sel["y"] - sel["y_true"])
            rows.append({"subject": sub, "ROI": roi, "vertices": len(sel),
                         "median centre error (deg)": float(np.median(err)),
                         "size correlation": float(np.corrcoef(sel["size"], sel["sigma_true"])[0, 1]),
                         "eccentricity correlation": float(np.corrcoef(sel["eccentricity"], sel["eccentricity_true"])[0, 1]),
                         "median fit R2": float(sel["r2"].median())})
    if not rows:
        return None
    table = pd.DataFrame(rows)
    ctx.sections.append(ReportSection(
        "Recovery of the planted truth",
        text=["NSD_ROOT is a synthetic folder: each visual vertex has a planted Gaussian pRF. Fitted centres "
              "and sizes are compared with the planted ones (size: Pearson correlation with the planted sigma)."],
        tables=[("Planted pRFs", table)],
    ))
    recovery = ctx.scores.setdefault("prf_recovery", {})
    for r in rows:
        recovery.setdefault(f"sub-{r['subject']}", {})[r["ROI"]] = {
            "median_centre_error_deg": r["median centre error (deg)"], "size_correlation": r["size correlation"]}
    return table
