"""``neuro-igc demo [OUTPUT_DIR]``: the package's main job on the synthetic NSD-like default.

1. A synthetic NSD-like folder is written to ``OUTPUT_DIR/nsd_synthetic`` (reused when present):
   the real NSD layout, with a planted ground truth (which ROI carries each image statistic, and
   a Gaussian pRF for every early visual vertex).
2. ``decoding_image_stats`` (the paper's Section 5.1) runs at the participant and group levels:
   a decoding MLP, IGC maps of luminance contrast and 1/f slope, ROI sums.
3. ``encoding_prf`` (Section 5.2) runs at both levels: a ConvNeXt encoder, IGC per vertex, pRF
   fits, angle / eccentricity / size maps.
4. The recovery of the planted truth is printed next to its targets (median V1 pRF centre error
   <= 0.5 deg, correlation of fitted and planted V1 pRF sizes >= 0.7, planted ROI ranked first by
   the decoding ROI summary), with the paths of the reports; the same numbers and the timings are
   written to ``OUTPUT_DIR/demo_summary.json``.

Derivatives go to ``OUTPUT_DIR/neuro-igc`` exactly as the BIDS-App form writes them, so a second
``make demo`` skips every finished step. ``neuro-igc demo --toy`` runs the small in-memory IGC
example instead (a few seconds).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["main", "run_demo", "DEMO_PIPELINES", "RECOVERY_TARGETS"]

logger = logging.getLogger("neuro_igc.demo")

DEMO_PIPELINES = ("decoding_image_stats", "encoding_prf")
#: recovery figure -> (comparison, target)
RECOVERY_TARGETS = {
    "V1 median pRF centre error (deg)": ("<=", 0.5),
    "V1 pRF size correlation": (">=", 0.7),
    "rank of the planted ROI": ("<=", 1),
}


def _met(value, op: str, target) -> bool:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return False
    return value <= target if op == "<=" else value >= target


def recovery_rows(results: dict) -> list[dict]:
    """The recovery figures of the demo's runs, one row per subject and figure, with their targets.

    ``results`` maps pipeline name -> participant-level :class:`~neuro_igc.pipeline.RunResult`.
    """
    rows = []
    enc = results.get("encoding_prf")
    if enc is not None:
        for who, rois in enc.scores.get("prf_recovery", {}).items():
            if "V1" not in rois:
                continue
            for name, src in (("V1 median pRF centre error (deg)", "median_centre_error_deg"),
                              ("V1 pRF size correlation", "size_correlation")):
                rows.append({"subject": who, "figure": name, "value": float(rois["V1"][src])})
    dec = results.get("decoding_image_stats")
    if dec is not None:
        for who, ranks in dec.scores.get("planted_roi_rank", {}).items():
            for output, rank in ranks.items():
                rows.append({"subject": who, "figure": "rank of the planted ROI", "output": output,
                             "value": None if rank is None else int(rank)})
    for row in rows:
        op, target = RECOVERY_TARGETS[row["figure"]]
        row["target"] = f"{op} {target}"
        row["met"] = _met(row["value"], op, target)
    return rows


def run_demo(output_dir, *, subjects: int | None = None, overrides: dict | None = None,
             pipeline_overrides: dict | None = None, pipelines=DEMO_PIPELINES, device: str = "auto",
             force: bool = False, progress: bool = True) -> dict:
    """Synthetic folder, then each pipeline at the participant and group levels.

    Parameters
    ----------
    output_dir : path-like
        Receives ``nsd_synthetic/``, ``neuro-igc/`` (derivatives) and ``demo_summary.json``.
    subjects : int, optional
        Subjects of the synthetic folder (default: the pipelines' ``synthetic.subjects``).
    overrides : dict, optional
        Config overrides applied to every pipeline (``{"training.epochs": 2}``), for quick checks.
    pipeline_overrides : dict, optional
        ``{pipeline name: overrides}`` applied to that pipeline only, after ``overrides``.
    pipelines : sequence of str
        Shipped pipeline names or config files.
    device, force, progress
        As the BIDS-App options ``--device``, ``--force``, ``--no-progress``.

    Returns
    -------
    dict
        ``{"runs": {name: {level: RunResult}}, "recovery": [...], "timings": {...}, "summary": path}``.
    """
    from neuro_igc._utils import atomic_write_text
    from neuro_igc.data.synthetic import make_nsd_like
    from neuro_igc.pipeline import load_config, run_pipeline

    out = Path(output_dir)
    nsd_root = out / "nsd_synthetic"
    per = pipeline_overrides or {}
    configs = [load_config(p, overrides={**(overrides or {}), **per.get(str(p), {})}) for p in pipelines]
    timings = {}
    t0 = time.perf_counter()
    if not (nsd_root / "synthetic_truth.json").is_file():
        s = configs[0].synthetic
        n_sub = s.subjects if subjects is None else int(subjects)
        print(f"[demo] writing a synthetic NSD-like folder ({n_sub} subjects, {s.sessions} sessions) to {nsd_root}",
              flush=True)
        make_nsd_like(nsd_root, subjects=n_sub, sessions=s.sessions, seed=s.seed, progress=progress, **s.params)
    else:
        print(f"[demo] reusing the synthetic folder {nsd_root}", flush=True)
    timings["synthetic folder"] = time.perf_counter() - t0

    runs: dict = {}
    for cfg in configs:
        runs[cfg.name] = {}
        for level in ("participant", "group"):
            print(f"[demo] {cfg.name}, {level} level", flush=True)
            t = time.perf_counter()
            res = run_pipeline(nsd_root, out, level, cfg, device=device, force=force, progress=progress)
            timings[f"{cfg.name} {level}"] = time.perf_counter() - t
            runs[cfg.name][level] = res
            print(res.summary_text(), flush=True)
    timings["total"] = time.perf_counter() - t0

    recovery = recovery_rows({name: levels["participant"] for name, levels in runs.items()})
    summary = {
        "output_dir": str(out.resolve()),
        "nsd_root": str(nsd_root.resolve()),
        "reports": {f"{name} {level}": str(r.report) for name, levels in runs.items()
                    for level, r in levels.items() if r.report is not None},
        "recovery": recovery,
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
    }
    path = out / "demo_summary.json"
    atomic_write_text(path, json.dumps(summary, indent=2) + "\n")
    return {"runs": runs, "recovery": recovery, "timings": timings, "summary": path, "reports": summary["reports"]}


def _print_summary(result: dict) -> None:
    print("\n=== neuro-igc demo: recovery of the planted truth ===")
    for row in result["recovery"]:
        what = row["figure"] + (f" ({row['output']})" if row.get("output") else "")
        value = "n/a" if row["value"] is None else (f"{row['value']:.3f}" if isinstance(row["value"], float)
                                                    else str(row["value"]))
        print(f"  {row['subject']:>7s}  {what:<52s} {value:>7s}   target {row['target']:<7s} "
              f"{'met' if row['met'] else 'MISSED'}")
    if not result["recovery"]:
        print("  (no planted truth found: is NSD_ROOT a synthetic folder?)")
    print("\nReports (open in a browser):")
    for name, path in result["reports"].items():
        print(f"  {name:<36s} {path}")
    t = result["timings"]
    print("\nTimings: " + ", ".join(f"{k} {v:.0f} s" for k, v in t.items()))
    print(f"Summary: {result['summary']}")


def main(argv: list[str] | None = None) -> int:
    """Run the demonstration; return 0 on success."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--toy" in argv:
        from neuro_igc import _toy_demo

        argv.remove("--toy")
        return _toy_demo.main(argv)
    parser = argparse.ArgumentParser(
        prog="neuro-igc demo", description=__doc__.splitlines()[0],
        epilog="neuro-igc demo --toy [OUTPUT_DIR] runs the small in-memory IGC example instead.",
    )
    parser.add_argument("output_dir", nargs="?", default="demo_output", help="where everything is written")
    parser.add_argument("--subjects", type=int, default=None, help="subjects of the synthetic folder (default 2)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override applied to every pipeline (YAML value), repeatable")
    parser.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda")
    parser.add_argument("--force", action="store_true", help="redo every step")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)

    from neuro_igc.pipeline import ConfigError, PipelineError, parse_overrides

    try:
        result = run_demo(args.output_dir, subjects=args.subjects, overrides=parse_overrides(args.overrides),
                          device=args.device, force=args.force, progress=not args.no_progress)
    except (ConfigError, PipelineError, FileNotFoundError, ValueError) as exc:
        print(f"neuro-igc demo: error: {exc}", file=sys.stderr)
        return 1
    _print_summary(result)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
