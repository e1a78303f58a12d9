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
Run any form with --help for its options."""


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from neuro_igc import __version__

        print(f"neuro-igc {__version__}")
        return 0
    if argv[0] in SUBCOMMANDS:
        module = importlib.import_module(SUBCOMMANDS[argv[0]])
        return int(module.main(argv[1:]) or 0)
    module = importlib.import_module(BIDS_APP)
    from neuro_igc._distributed import launched_group, main_rank_only_logging

    # under torchrun/srun: the process group of all ranks (Gloo or NCCL); rank 0 logs
    with launched_group(), main_rank_only_logging():
        return int(module.main(argv) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
