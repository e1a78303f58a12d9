"""``neuro-igc NSD_ROOT OUTPUT_DIR {participant,group}``: the BIDS-App command line.

Exit status: 0 on success, 1 when the run fails on its input (bad config, missing data file,
unknown participant, a folder another run is writing to: one line says what to fix; ``--debug``
shows the traceback), 2 on a command-line usage error.
"""

from __future__ import annotations

import argparse
import logging
import sys

__all__ = ["main", "build_parser"]

logger = logging.getLogger("neuro_igc.pipeline")

EPILOG = """examples:
  neuro-igc synth /data/nsd_synth                 # a synthetic NSD-like folder
  neuro-igc /data/nsd_synth out participant --participant-label 01 02 \\
      --config decoding_image_stats
  neuro-igc /data/nsd_synth out group --config decoding_image_stats
  neuro-igc pipelines show encoding_prf > my_prf.yaml   # a shipped config to edit
  neuro-igc /data/nsd_synth out participant --config encoding_prf --set training.epochs=2

Outputs go to OUTPUT_DIR/neuro-igc (BIDS derivatives) with a report per pipeline and level.
Finished steps are skipped when their settings are unchanged; --force redoes them."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the BIDS-App form."""
    from neuro_igc.pipeline._config import shipped_pipelines

    p = argparse.ArgumentParser(
        prog="neuro-igc",
        description="Integrated Gradient Correlation pipelines on an NSD folder (BIDS-App style).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("nsd_root", metavar="NSD_ROOT", help="NSD folder (real, or made by `neuro-igc synth`)")
    p.add_argument("output_dir", metavar="OUTPUT_DIR", help="output folder; derivatives go to OUTPUT_DIR/neuro-igc")
    p.add_argument("analysis_level", choices=["participant", "group"], help="participant or group level")
    p.add_argument(
        "--participant-label", "--participant_label", nargs="+", metavar="LABEL", default=None,
        help="subjects to process (01 02, or sub-01); default: every subject in NSD_ROOT",
    )
    shipped = ", ".join(shipped_pipelines())
    p.add_argument(
        "--config", default="decoding_image_stats", metavar="YAML",
        help=f"pipeline config file, or a shipped pipeline name ({shipped}); default: decoding_image_stats",
    )
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config value (YAML syntax), e.g. --set training.epochs=5; repeatable",
    )
    p.add_argument("--device", default="auto", help="torch device: auto (CUDA if available), cpu, cuda, cuda:1")
    p.add_argument("--force", action="store_true", help="redo every step even if its settings are unchanged")
    p.add_argument("--n-jobs", "--nprocs", dest="n_jobs", type=int, default=None, metavar="N",
                   help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--make-synthetic", action="store_true",
                   help="write a synthetic NSD-like folder at NSD_ROOT first if it does not exist")
    p.add_argument("--wait", dest="lock_timeout", type=float, default=0, metavar="SECONDS",
                   help="one run at a time writes to OUTPUT_DIR: wait this long for another run to finish "
                        "(default 0: fail at once; -1: as long as it takes)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the BIDS-App command line; return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on usage errors (2)
        return int(exc.code or 0)
    if args.verbose:
        logging.getLogger("neuro_igc").setLevel(logging.DEBUG)
    from neuro_igc import _distributed as dist
    from neuro_igc._utils import USER_ERRORS, error_line
    from neuro_igc.pipeline._config import load_config, parse_overrides
    from neuro_igc.pipeline._run import run_pipeline

    try:
        overrides = parse_overrides(args.overrides)
        config = load_config(args.config, overrides=overrides)
        result = run_pipeline(
            args.nsd_root,
            args.output_dir,
            args.analysis_level,
            config,
            participants=args.participant_label,
            device=args.device,
            force=args.force,
            n_jobs=args.n_jobs,
            progress=not args.no_progress,
            make_synthetic=args.make_synthetic,
            lock_timeout=args.lock_timeout,
        )
    except (*USER_ERRORS, dist.DistributedError) as exc:
        if args.debug:
            raise
        print(error_line(exc, prog=f"neuro-igc{dist.rank_tag()}"), file=sys.stderr)
        return 1
    if dist.is_main():  # under torchrun: one summary
        print(result.summary_text())
        for warning in result.warnings:  # also on stderr, where a script's user looks for trouble
            print(f"neuro-igc: warning: {warning}", file=sys.stderr)
    return 0
