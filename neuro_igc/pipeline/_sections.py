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


#: validation r below which the report flags a model: its IGC maps explain almost nothing
VALIDATION_R_WARN = 0.1


def _flag(values, test, reason: str) -> list[str]:
    """One reason (or "") per value: the report marks the cells whose value fails ``test``."""
    out = []
    for v in values:
        try:
            bad = v is not None and bool(test(float(v)))
        except (TypeError, ValueError):
            bad = False
        out.append(reason if bad else "")
    return out


def _with_flags(table: pd.DataFrame, flags: dict[str, list[str]]) -> pd.DataFrame:
    table.attrs["flags"] = {k: v for k, v in flags.items() if k in table.columns and any(v)}
    return table


def _r_flag(values) -> list[str]:
    return _flag(values, lambda v: not v >= VALIDATION_R_WARN,
                 f"validation r below {VALIDATION_R_WARN}: the model predicts too little for its maps to mean much "
                 "(train longer, use more sessions or a better model)")


def model_section(ctx, train, names: list[str] | None, *, who: str | None = None, model=None) -> None:
    """Validation scores of the model(s), per subject, with the noise ceiling when NSD gives one
    (encoding: per vertex from ``ncsnr``) and the training figures (curves, predicted vs true)
    of the ``model`` step's record."""
    cfg = ctx.config
    val = train.info.get("val", {})
    extra = model.info if model is not None else {}
    ceiling = {k: v for k, v in extra.get("noise_ceiling", {}).items() if k in val}
    rows = []
    for sub, entry in val.items():
        r = entry.get("r", [])
        if names is not None and len(r) == len(names):
            rows += [{"subject": sub, "output": n, "validation r": float(v)} for n, v in zip(names, r)]
        else:
            arr = np.asarray(r, dtype=float)
            row = {"subject": sub, "outputs": int(arr.size),
                   "mean validation r": float(np.nanmean(arr)) if arr.size else float("nan"),
                   "median validation r": float(np.nanmedian(arr)) if arr.size else float("nan")}
            nc = ceiling.get(sub)
            if nc:
                row["median noise ceiling r"] = nc["median_r"]
                row["median r / ceiling"] = nc["median_ratio"]
            rows.append(row)
    if who is None:
        text = [f"Model '{cfg.model.name or 'checkpoint'}' "
                + ("reused from " + str(cfg.model.checkpoint) if train.info.get("reused") else
                   f"trained once for subjects {' '.join(ctx.labels)}")
                + ("" if train.skipped else f" in {train.seconds:.0f} s") + "; validation on the shared images "
                "averaged over their repeats (Pearson r of prediction and truth)."]
    else:
        text = [f"Validation scores of the participant level's model ({who}): Pearson r of prediction and truth "
                "on the shared images averaged over their repeats."]
    if ceiling:
        reps = sorted({v.get("repeats", 1) for v in ceiling.values()})
        text.append("Noise ceiling: from NSD's ncsnr of each vertex for the number of repeats averaged "
                    f"(n = {', '.join(map(str, reps))}), NC = 100 ncsnr^2 / (ncsnr^2 + 1/n) percent of variance; "
                    "shown as the highest r it allows, sqrt(NC/100), and the median of r / that ceiling.")
    elif cfg.task == "decoding":
        text.append("No noise ceiling: NSD's ncsnr measures the noise of each vertex's betas, the inputs of a "
                    "decoding model; it gives no ceiling for a decoded image statistic.")
    if train.info.get("member_scores") and len(train.info["member_scores"]) > 1:
        text.append("Kept ensemble members' validation scores: "
                    + ", ".join(f"{s:.3f}" for s in train.info["member_scores"]))
    table = pd.DataFrame(rows)
    if rows:
        _with_flags(table, {"validation r": _r_flag(table.get("validation r", [])),
                            "median validation r": _r_flag(table.get("median validation r", []))})
    figures = [(ctx.deriv.root / f, caption) for f, caption in extra.get("figures", [])
               if (ctx.deriv.root / f).exists()]
    ctx.sections.append(ReportSection("Model", text=text, tables=[("Validation scores", table)] if rows else [],
                                      figures=figures))
    scores = ctx.scores.setdefault("validation_r", {})
    for row in rows:
        who_ = f"sub-{row['subject']}"
        value = row.get("validation r", row.get("mean validation r"))
        if "output" in row:
            scores.setdefault(who_, {})[row["output"]] = value
        else:
            scores[who_] = value


def _get(summary: dict | None, key: str, i: int | None = None):
    if not summary:
        return None
    if i is not None and "values" in summary:
        return summary["values"][i]
    return summary.get(key)


def attribution_section(ctx, igc_records: dict[str, object], names: list[str] | None, *,
                        title: str = "IGC") -> None:
    """IGC totals and errors per subject (the maps add up to the model's correlation), with the
    baseline term beside the IGC error and the out-of-target values flagged."""
    from neuro_igc.attribution import IG_ERROR_WARN, IGC_ERROR_WARN

    rows = []
    for sub, rec in igc_records.items():
        info = rec.info
        corr, ige, igce = info["correlation"], info["ig_error"], info["igc_error"]
        base, rel = info.get("baseline_term"), info.get("ig_error_relative")
        if "values" in corr and names is not None:
            for i, n in enumerate(names):
                rows.append({"subject": sub, "output": n, "correlation": corr["values"][i],
                             "sum of map": _get(info.get("map_sum"), "", i),
                             "baseline term": _get(base, "", i), "IGC error": igce["values"][i],
                             "IG error": ige["values"][i], "IG error (relative)": _get(rel, "", i),
                             "samples": info["n_samples"], "steps": info["n_steps"]})
        else:
            row = {"subject": sub, "outputs": corr.get("n", "all"), "median correlation": corr.get("median"),
                   "max IGC error": igce.get("max"), "outputs above target": igce.get("n_above_target"),
                   "max |baseline term|": _get(base, "max_abs"), "median IG error": ige.get("median"),
                   "max IG error": ige.get("max"), "samples": info["n_samples"], "steps": info["n_steps"]}
            rows.append({k: v for k, v in row.items() if v is not None})
        worst = max(igce.get("values", [igce.get("max", 0.0)]))
        ctx.scores["max_igc_error"] = max(ctx.scores.get("max_igc_error", 0.0), float(worst))
    table = pd.DataFrame(rows)
    for col in ("baseline term", "sum of map"):
        if col in table and table[col].isna().all():
            table = table.drop(columns=col)
    if "IG error (relative)" in table and table["IG error (relative)"].isna().all():
        table = table.drop(columns="IG error (relative)")

    def igc_reason(row) -> str:
        b = abs(row.get("baseline term", row.get("max |baseline term|", 0.0)) or 0.0)
        why = f"IGC error above {IGC_ERROR_WARN} (the paper's target)"
        if b > IGC_ERROR_WARN / 2:
            return why + ", mostly the baseline term beside it: use more samples or attribution.baselines"
        return why + ": raise attribution.n_steps (or 'auto') or attribution.n_samples"

    flags = {}
    for col in ("IGC error", "max IGC error"):
        if col in table:
            flags[col] = [igc_reason(r) if r[col] is not None and r[col] > IGC_ERROR_WARN else ""
                          for _, r in table.iterrows()]
    for col in ("IG error", "max IG error"):
        if col in table:
            flags[col] = _flag(table[col], lambda v: v > IG_ERROR_WARN,
                               f"IG error above {IG_ERROR_WARN}: raise attribution.n_steps (or 'auto')")
    if "outputs above target" in table:
        flags["outputs above target"] = _flag(table["outputs above target"], lambda v: v > 0,
                                              f"outputs whose IGC error is above {IGC_ERROR_WARN}")
    if rows:
        _with_flags(table, flags)
    a = ctx.config.attribution
    text = [f"Integrated Gradient Correlation on the validation images ({a.method}, {a.baselines} baselines "
            "drawn from the data for every image). Per output, the map sums to the correlation of the model's "
            "prediction with the truth, less the baseline term: the correlation of the baselines' mean "
            "prediction with the truth, which is not part of any input's attribution and shrinks with more "
            "samples and baselines. The IGC error is |sum of the map - correlation| (baseline term included); "
            f"the paper's target is below {IGC_ERROR_WARN}. The IG error is the mean completeness gap of the "
            f"per-image IG (target below {IG_ERROR_WARN})."]
    ctx.sections.append(ReportSection(title, text=text, tables=[("Correlation and errors", table)]))


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
    from neuro_igc.atlas import NSD_MERGES

    groups = NSD_MERGES["prf-visualrois"]
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
