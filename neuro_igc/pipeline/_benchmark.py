"""Task "benchmark": the paper's synthetic benchmark (Section 4) as a pipeline.

Participant level runs :func:`neuro_igc.benchmark.run_benchmark` once (it has no subjects) and
writes ``benchmark/desc-<label>_scores.tsv`` (+ .json sidecar, and the Markdown table), the
maps (``.npz``) and the Fig. 1-style figure. The group level has nothing to add: it only
re-reads the table into its report.
"""

from __future__ import annotations

import logging

import numpy as np

from neuro_igc._utils import atomic_path, atomic_write_text
from neuro_igc.pipeline._errors import PipelineError
from neuro_igc.pipeline._layout import bids_name, write_tsv
from neuro_igc.pipeline._report import ReportSection

__all__ = ["participant", "group"]

logger = logging.getLogger(__name__)

SIDECAR = {
    "experiment": {"Description": "Exp. A-D of the paper's Section 4"},
    "method": {"Description": "attribution method"},
    "truth_corr": {"Description": "Pearson correlation of the method's map with the ground-truth mask or density"},
    "magnitude": {"Description": "norm of the map relative to the IG SD map's (correlation maps times sd(f))"},
    "paper_value": {"Description": "the paper's value of the experiment's ratio, where it gives one"},
    "seconds": {"Description": "computation time", "Units": "s"},
}


PAPER_SIDECAR = {
    "figure": {"Description": "the paper's figure: a ratio of region means, or the correlation with the truth"},
    "ours": {"Description": "this run's value"},
    "paper": {"Description": "the paper's value (Section 4, Fig. 1)"},
    "reproduced": {"Description": "ratio within 0.1 of the paper's, or truth correlation >= 0.9, or magnitude < 0.1"},
}


def _paths(deriv, label):
    folder = deriv.root / "benchmark"
    return {
        "tsv": folder / bids_name("scores", ".tsv", desc=label),
        "paper": folder / bids_name("paper", ".tsv", desc=label),
        "md": folder / bids_name("scores", ".md", desc=label),
        "npz": folder / bids_name("maps", ".npz", desc=label),
        "png": folder / "figures" / bids_name("maps", ".png", desc=label),
    }


def participant(ctx) -> None:
    from neuro_igc.benchmark import paper_comparison, plot_benchmark, run_benchmark, table_to_markdown

    cfg = ctx.config.benchmark
    settings = ctx.config.to_dict()["benchmark"]

    def work(deriv):
        paths = _paths(deriv, ctx.config.label)
        table, maps = run_benchmark(
            experiments=cfg.experiments, n_samples=cfg.n_samples, seed=cfg.seed, device=ctx.device,
            progress=ctx.progress, return_maps=True, **cfg.params,
        )
        write_tsv(paths["tsv"], table, SIDECAR)
        paper = paper_comparison(table)
        write_tsv(paths["paper"], paper, PAPER_SIDECAR)
        atomic_write_text(paths["md"], table_to_markdown(table) + "\n\n" + table_to_markdown(paper) + "\n")
        with atomic_path(paths["npz"]) as tmp:
            np.savez_compressed(tmp, **{f"{e}|{m}": v for (e, m), v in maps.items()})
        methods = list(dict.fromkeys(table["method"]))
        plot_benchmark(maps, paths["png"], experiments=list(cfg.experiments), methods=methods, table=table)
        return {"rows": len(table)}

    ctx.step("benchmark", settings, work)
    _report(ctx, _paths(ctx.deriv, ctx.config.label))


def group(ctx) -> None:
    paths = _paths(ctx.deriv, ctx.config.label)
    if not paths["tsv"].exists():
        raise PipelineError(
            f"No benchmark table at {paths['tsv']}: run the participant level of {ctx.config.name} first."
        )
    _report(ctx, paths)


def _report(ctx, paths) -> None:
    import pandas as pd

    table = pd.read_csv(paths["tsv"], sep="\t", na_values="n/a")
    cols = [c for c in ("experiment", "method", "truth_corr", "magnitude", "sign_agreement", "overlap_ratio",
                        "unreliable_ratio", "paper_value", "ig_error", "igc_error", "seconds") if c in table]
    tables = [("Scores", table[cols])]
    if paths["paper"].exists():
        tables.insert(0, ("Ours beside the paper's figures", pd.read_csv(paths["paper"], sep="\t", na_values="n/a")))
    ctx.sections.append(ReportSection(
        "Synthetic benchmark",
        text=["Each method's map is scored by its correlation with the ground-truth mask or density "
              "(truth_corr) and by its magnitude relative to IG SD; the paper's own ratios are in "
              "paper_value, and the first table puts ours beside them. The paper's \"IG SD\" is the "
              "variance of per-sample IG (row \"IG variance\")."],
        tables=tables,
        figures=[(paths["png"], "Rows: experiments; columns: ground truth, then each method (paper's Fig. 1 layout).")],
    ))
    igc = table[table["method"] == "IGC"]
    ctx.scores["igc_truth_correlation"] = {r.experiment: float(r.truth_corr) for r in igc.itertuples()}
