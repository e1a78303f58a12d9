"""Pipelines under ``torchrun``: every rank follows the same steps, rank 0 alone writes.

- Rank 0 decides whether a step runs (its record in ``logs/steps``) and tells the others.
- *Collective* steps (training, IGC) run on every rank: the model training and the attribution
  share the work over the ranks (``torch.distributed``); ranks other than 0 write into a private
  scratch folder that is deleted afterwards.
- Other steps (maps, ROI sums, pRF fits, figures, report) run on rank 0 only.
- Rank 0 moves the files into place, writes the record and sends it to the others, which then read
  what it wrote: OUTPUT_DIR must be on a file system that every rank sees (as on a cluster).
- A step that fails on rank 0 fails on every rank with rank 0's message. A rank that fails inside
  a collective step exits; the others' collectives then fail (``torchrun`` stops them at once;
  otherwise Gloo notices the closed connection, NCCL the timeout).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from neuro_igc import _distributed as dist
from neuro_igc.pipeline._errors import PipelineError

__all__ = ["run_step"]


def run_step(cache, key: str, settings: Any, func: Callable[[Path], Any], collective: bool):
    """:meth:`StepCache.run` for a process group (see the module docstring)."""
    from neuro_igc.pipeline._config import settings_hash

    what = f"pipeline step {key}"
    main = dist.is_main()
    found = cache.lookup(key, settings_hash(key, settings)) if main else None
    if not dist.broadcast_object(found is None, what=what):
        record = dist.broadcast_object(found, what=what)
        if not main:
            cache.records.append(record)
        return record
    if main:
        try:
            record = cache.run(key, settings, func)
        except Exception as exc:
            if not collective:  # the others wait for this record (in a collective step they may be
                # inside a collective of their own: this rank exits and theirs fail)
                dist.broadcast_object((None, f"{type(exc).__name__}: {exc}"), what=what)
            raise
        dist.broadcast_object((record, None), what=what)
        return record
    if collective:
        with tempfile.TemporaryDirectory(prefix=f".neuro-igc-rank{dist.rank()}-") as scratch:
            func(Path(scratch))
    record, error = dist.broadcast_object(None, what=what)
    if error is not None:
        raise PipelineError(f"{what} failed on rank 0: {error}")
    cache.records.append(record)
    return record
