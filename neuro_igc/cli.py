"""Command-line entry point ``neuro-igc``.

Forms
-----
``neuro-igc NSD_ROOT OUTPUT_DIR {participant,group} [options]``
    BIDS-App style run of a pipeline config (see ``neuro_igc.pipeline``).
``neuro-igc synth OUTPUT_DIR [options]``
    Write a synthetic NSD-like folder with a planted ground truth.
``neuro-igc nsd {check,fetch} ... --config PIPELINE``
    Check an NSD folder for the files a pipeline run reads, or download them.
``neuro-igc benchmark [--exp A B C D] [--n-samples N] [options]``
    The paper's synthetic attribution benchmark.
``neuro-igc pipelines [show NAME]``
    List the shipped pipeline configs, or print one to copy and edit.
``neuro-igc demo [OUTPUT_DIR]``
    The end-to-end demonstration run by ``make demo``.

Each form is implemented next to the code it drives; this module only dispatches, importing the
implementation lazily so that ``neuro-igc --help`` stays fast.

Errors: a user mistake (bad config, missing or unreadable file, unknown device, ...) prints one
line ``neuro-igc: error: ...`` and exits with status 1; ``--debug`` (anywhere on the command line)
shows the traceback instead. Usage errors exit with status 2, an interrupt with 130.
"""

from __future__ import annotations

import importlib
import logging
import sys

__all__ = ["main"]

# sub-command -> module exposing ``main(argv) -> int``
SUBCOMMANDS = {
    "synth": "neuro_igc.data._cli",
    "nsd": "neuro_igc.pipeline._nsd_cli",
    "benchmark": "neuro_igc.benchmark._cli",
    "demo": "neuro_igc._demo",
    "pipelines": "neuro_igc.pipeline._pipelines_cli",
}
BIDS_APP = "neuro_igc.pipeline._cli"

USAGE = """usage: neuro-igc NSD_ROOT OUTPUT_DIR {participant,group} [options]
       neuro-igc synth OUTPUT_DIR [options]
       neuro-igc nsd {check,fetch} NSD_ROOT --config PIPELINE [options]
       neuro-igc benchmark [options]
       neuro-igc pipelines [show NAME]
       neuro-igc demo [OUTPUT_DIR]

Integrated Gradient Correlation for fMRI decoding and encoding models.
Run any form with --help for its options; --debug shows tracebacks of errors."""


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if debug:
        argv = [a for a in argv if a != "--debug"]
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _dispatch(argv, debug)
    except KeyboardInterrupt:
        if debug:
            raise
        print("neuro-igc: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for the user; --debug shows the traceback
        if debug:
            raise
        from neuro_igc._utils import error_line

        print(error_line(exc), file=sys.stderr)
        return 1


def _dispatch(argv: list[str], debug: bool) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from neuro_igc import __version__

        print(f"neuro-igc {__version__}")
        return 0
    # "NSD_ROOT OUTPUT_DIR participant|group" is the BIDS-App form even when NSD_ROOT is a folder
    # named like a sub-command (``neuro-igc nsd out participant``)
    bids_form = len(argv) >= 3 and argv[2] in ("participant", "group")
    if argv[0] in SUBCOMMANDS and not bids_form:
        module = importlib.import_module(SUBCOMMANDS[argv[0]])
        return int(module.main(argv[1:]) or 0)
    module = importlib.import_module(BIDS_APP)
    from neuro_igc._distributed import launched_group, main_rank_only_logging

    # under torchrun/srun: the process group of all ranks (Gloo or NCCL); rank 0 logs
    with launched_group(), main_rank_only_logging():
        return int(module.main(argv + (["--debug"] if debug else [])) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
