"""Figure (the paper's Fig. 1 layout) and score tables (CSV, Markdown) of the benchmark."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from neuro_igc._utils import atomic_path, atomic_write_text, new_figure, save_figure

__all__ = ["table_to_markdown", "write_tables", "plot_benchmark", "TRUTH_KEY"]


#: key of the ground-truth map in the ``maps`` dict returned by ``run_benchmark(return_maps=True)``
TRUTH_KEY = "ground truth"


def _fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return ""
        return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    return str(value)


def table_to_markdown(table: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """A GitHub-flavoured Markdown table (no extra dependency); NaN cells are left empty.

    Examples
    --------
    >>> print(table_to_markdown(pd.DataFrame({"a": [1.0], "b": ["x"]})))
    | a | b |
    | --- | --- |
    | 1 | x |
    """
    cols = list(columns) if columns is not None else list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    for _, row in table[cols].iterrows():
        lines.append("| " + " | ".join(_fmt(row[c]) for c in cols) + " |")
    return "\n".join(lines)


def write_tables(table: pd.DataFrame, out_dir: str | os.PathLike, stem: str = "benchmark_scores",
                 paper: pd.DataFrame | None = None) -> dict[str, Path]:
    """Write the score table as ``<stem>.csv`` and ``<stem>.md`` (atomically).

    Parameters
    ----------
    table : DataFrame
        The score table of ``run_benchmark``.
    out_dir : path-like
    stem : str, default="benchmark_scores"
    paper : DataFrame, optional
        Ours beside the paper's (``paper_comparison(table)``): also written as
        ``benchmark_paper.csv`` / ``.md``.

    Returns
    -------
    dict with keys "csv" and "md" (and "paper_csv", "paper_md") -> written paths
    """
    out_dir = Path(out_dir)
    csv_path, md_path = out_dir / f"{stem}.csv", out_dir / f"{stem}.md"
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    atomic_write_text(md_path, table_to_markdown(table) + "\n")
    paths = {"csv": csv_path, "md": md_path}
    if paper is not None:
        paths["paper_csv"], paths["paper_md"] = out_dir / "benchmark_paper.csv", out_dir / "benchmark_paper.md"
        with atomic_path(paths["paper_csv"]) as tmp:
            paper.to_csv(tmp, index=False)
        atomic_write_text(paths["paper_md"], table_to_markdown(paper) + "\n")
    return paths


def plot_benchmark(
    maps: Mapping,
    path: str | os.PathLike,
    experiments: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    table: pd.DataFrame | None = None,
    dpi: int = 120,
) -> Path:
    """Draw the maps as the paper's Fig. 1: rows = experiments, columns = ground truth then methods.

    Parameters
    ----------
    maps : mapping (experiment, method) -> (H, W) array; method :data:`TRUTH_KEY` for the truth
    path : str or path-like
        Output image (format from the suffix, e.g. ``.png``); written atomically.
    experiments, methods : sequences, optional
        Row and column order (default: as found in ``maps``).
    table : DataFrame, optional
        The score table; each panel then shows its ``truth_corr``.
    dpi : int, default=120

    Returns
    -------
    Path
    """
    if experiments is None:
        experiments = list(dict.fromkeys(e for e, _ in maps))
    if methods is None:
        methods = [m for m in dict.fromkeys(m for _, m in maps) if m != TRUTH_KEY]
    columns = [TRUTH_KEY, *methods]
    scores = {}
    if table is not None and len(table):
        scores = {(r.experiment, r.method): r.truth_corr for r in table.itertuples()}
    fig = new_figure("plot_benchmark", figsize=(1.6 * len(columns), 1.75 * len(experiments)))
    axes = fig.subplots(len(experiments), len(columns), squeeze=False)
    for i, exp in enumerate(experiments):
        for j, col in enumerate(columns):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            img = maps.get((exp, col))
            if img is None:
                ax.set_axis_off()
                continue
            img = np.squeeze(np.asarray(img, dtype=float))
            vmax = float(np.nanmax(np.abs(img))) or 1.0
            ax.imshow(img, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
            if i == 0:
                ax.set_title(col, fontsize=8)
            if j == 0:
                ax.set_ylabel(f"Exp. {exp}", fontsize=9)
            if (exp, col) in scores and np.isfinite(scores[(exp, col)]):
                ax.set_xlabel(f"r = {scores[(exp, col)]:.2f}", fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=dpi)
