"""``neuro-igc synth OUTPUT_DIR``: write a synthetic NSD-like folder with a planted ground truth."""

from __future__ import annotations

import argparse
import logging
import sys
import time

__all__ = ["main", "build_parser"]

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="neuro-igc synth",
        description="Write a synthetic NSD-like folder (NSD layout, names, formats, chunking and index conventions: "
        "native surfaces with their transforms to fsaverage, subject atlases on the native surface, "
        "fsaverage, native-surface and volume betas) with a planted retinotopic visual cortex and planted "
        "image-statistic ROIs; the truth is written to OUTPUT_DIR/synthetic_truth.json and .npz. The folder "
        "is written beside OUTPUT_DIR under a temporary name and renamed when complete: after an interrupted "
        "run, run the same command again.",
    )
    p.add_argument("output_dir", metavar="OUTPUT_DIR", help="folder to write (must be empty unless --force)")
    p.add_argument("--subjects", type=int, default=2, help="number of subjects, subj01..subjNN (default 2)")
    p.add_argument("--sessions", type=int, default=2, help="sessions per subject (default 2)")
    p.add_argument("--trials", type=int, default=750, help="trials per session, 1..750 (default 750)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--density", choices=("fsaverage5", "fsaverage"), default="fsaverage5",
                   help="density of the fsaverage betas: fsaverage5 (10,242 vertices, quick; default) or "
                   "fsaverage (163,842); group atlases and transforms are always at 163,842")
    p.add_argument("--image-size", type=int, default=128, help="stored image size in pixels (default 128)")
    p.add_argument("--volume-spaces", nargs="*", choices=("func1pt8mm", "func1mm"), default=["func1pt8mm"],
                   help="volume spaces to write (default func1pt8mm; none with an empty list)")
    p.add_argument("--snr", type=float, default=1.0, help="ncsnr of V1 and of the planted ROIs (default 1.0)")
    p.add_argument("--force", action="store_true", help="replace an existing synthetic folder")
    p.add_argument("--no-progress", action="store_true", help="disable progress bars")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``neuro-igc synth``; return the exit status (0 on success, 1 on a refused input)."""
    from neuro_igc.data.synthetic import make_nsd_like

    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    start = time.perf_counter()
    try:
        truth = make_nsd_like(
            args.output_dir, subjects=args.subjects, sessions=args.sessions, seed=args.seed, trials=args.trials,
            density=args.density, image_size=args.image_size, volume_spaces=tuple(args.volume_spaces),
            snr=args.snr, overwrite=args.force, progress=not args.no_progress,
        )
    except (ValueError, FileExistsError, PermissionError) as exc:
        print(f"neuro-igc synth: error: {exc}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    m = truth.meta
    print(
        f"wrote {args.output_dir} in {seconds:.1f} s: subjects {m['subjects']}, {m['sessions']} sessions x "
        f"{m['trials_per_session']} trials, {m['density']}, {m['n_rendered']} images of {m['image_size']} px; "
        f"truth in synthetic_truth.json/.npz"
    )
    return 0
