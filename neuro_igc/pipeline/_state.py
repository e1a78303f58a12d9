"""Skip-if-unchanged bookkeeping: each pipeline step records its settings hash and its outputs.

A step is skipped when a previous run finished it with the same settings hash (which includes
the hashes of the steps it reads from) and all the files it wrote still exist. ``force=True``
redoes every step. The records are small JSON files in ``logs/steps/`` written atomically after
the step's outputs, so a run killed inside a step leaves that step unrecorded (it is redone).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuro_igc._utils import atomic_write_text
from neuro_igc.pipeline._config import settings_hash

__all__ = ["StepCache", "StepRecord"]

logger = logging.getLogger(__name__)


@dataclass
class StepRecord:
    """What one step did: its key, hash, written files, whether it was skipped, and its info."""

    key: str
    hash: str
    outputs: list[str] = field(default_factory=list)
    skipped: bool = False
    seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)


class StepCache:
    """Run pipeline steps, skipping those already done with the same settings.

    Parameters
    ----------
    root : path-like
        The derivatives root; records go to ``root/logs/steps``.
    force : bool, default False
        Redo every step regardless of its record.
    """

    def __init__(self, root: str | os.PathLike, force: bool = False):
        self.root = Path(root)
        self.dir = self.root / "logs" / "steps"
        self.force = force
        self.records: list[StepRecord] = []

    def _record_path(self, key: str) -> Path:
        return self.dir / f"{key.replace('/', '_')}.json"

    def lookup(self, key: str, digest: str) -> StepRecord | None:
        """The finished record for ``key`` when its hash is ``digest`` and its outputs exist."""
        path = self._record_path(key)
        if self.force or not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError:
            return None
        if data.get("hash") != digest:
            return None
        if not all((self.root / p).exists() for p in data.get("outputs", [])):
            return None
        return StepRecord(key, digest, data["outputs"], True, 0.0, data.get("info", {}))

    def run(
        self,
        key: str,
        settings: Any,
        func: Callable[[], tuple[Iterable[str | os.PathLike], dict[str, Any]] | Iterable[str | os.PathLike]],
    ) -> StepRecord:
        """Run ``func`` unless a matching record exists; record its outputs afterwards.

        Parameters
        ----------
        key : str
            Unique step name, e.g. ``"imagestats/sub-01/igc"``.
        settings : JSON-serializable
            Everything the step's result depends on (include upstream hashes).
        func : callable
            Does the work; returns the written paths, or ``(paths, info)`` where ``info`` is a
            small JSON-serializable dict kept in the record (scores, errors) for the report.
        """
        digest = settings_hash(key, settings)
        found = self.lookup(key, digest)
        if found is not None:
            logger.info("step %s: unchanged (settings %s), skipped", key, digest)
            self.records.append(found)
            return found
        logger.info("step %s: running", key)
        start = time.perf_counter()
        result = func()
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
            paths, info = result
        else:
            paths, info = result, {}
        outputs = []
        for p in paths:
            p = Path(p)
            if not p.exists():
                raise RuntimeError(f"step {key} did not write its output {str(p)!r}")
            outputs.append(os.path.relpath(p, self.root))
        record = StepRecord(key, digest, outputs, False, time.perf_counter() - start, info)
        atomic_write_text(
            self._record_path(key),
            json.dumps({"key": key, "hash": digest, "outputs": outputs, "info": info,
                        "seconds": record.seconds, "finished": time.strftime("%Y-%m-%dT%H:%M:%S")},
                       indent=2, default=_default),
        )
        logger.info("step %s: done in %.1f s", key, record.seconds)
        self.records.append(record)
        return record


def _default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)
