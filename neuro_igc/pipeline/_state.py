"""Skip-if-unchanged bookkeeping and all-or-nothing steps.

A step writes its files into a private staging folder (``.staging/<step>/``, laid out like the
derivatives root). Only when it returns are they moved into place (a rename each) and the step
recorded; a step that fails or is killed leaves none of its files and no record, so the next run
redoes it. A step is skipped when a previous run finished it with the same settings hash (which
includes the hashes of the steps it reads from) and every file it wrote still has the size and
SHA-256 recorded when it was written (a file overwritten, truncated or removed since makes the step
run again); ``force=True`` redoes every step. Records are small JSON files in ``logs/steps/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuro_igc._utils import atomic_write_text
from neuro_igc.pipeline._config import settings_hash
from neuro_igc.pipeline._paths import inside, remove_tree

__all__ = ["StepCache", "StepRecord", "file_digest"]

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


def file_digest(path: str | os.PathLike) -> dict[str, Any]:
    """``{"size": bytes, "sha256": hex digest}`` of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return {"size": size, "sha256": h.hexdigest()}


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
        return inside(self.root, self.dir / f"{key.replace('/', '_')}.json", "step record")

    def lookup_hash(self, key: str, verify: bool = False) -> str | None:
        """The settings hash a previous run recorded for ``key`` (None when never finished, or,
        with ``verify``, when one of its files changed since)."""
        data = self._read(key)
        if data is None or (verify and not self._intact(key, data)):
            return None
        return data.get("hash")

    def _read(self, key: str) -> dict | None:
        path = self._record_path(key)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            logger.warning("step %s: unreadable record %s, redoing the step", key, path)
            return None
        return data if isinstance(data, dict) else None

    def _intact(self, key: str, data: dict) -> bool:
        """Every file of the record has its recorded size and SHA-256."""
        files = data.get("files")
        if not isinstance(files, dict) or sorted(files) != sorted(data.get("outputs", [])):
            return False  # a record without file digests cannot vouch for its files
        for rel, expected in files.items():
            target = inside(self.root, self.root / rel, "recorded output")
            try:
                if target.stat().st_size != expected.get("size") or file_digest(target) != expected:
                    logger.info("step %s: %s changed since it was written", key, rel)
                    return False
            except OSError:
                logger.info("step %s: %s is missing", key, rel)
                return False
        return True

    def lookup(self, key: str, digest: str) -> StepRecord | None:
        """The finished record for ``key`` when its hash is ``digest`` and its outputs are intact
        (each file's size and SHA-256 as recorded)."""
        if self.force:
            return None
        data = self._read(key)
        if data is None or data.get("hash") != digest or not self._intact(key, data):
            return None
        return StepRecord(key, digest, data["outputs"], True, 0.0, data.get("info", {}))

    def run(self, key: str, settings: Any, func: Callable[[Path], dict[str, Any] | None]) -> StepRecord:
        """Run ``func`` unless a matching record exists; then move its files into place.

        Parameters
        ----------
        key : str
            Unique step name, e.g. ``"imagestats/sub-01/igc"``.
        settings : JSON-serializable
            Everything the step's result depends on (include upstream hashes).
        func : callable ``func(stage) -> info``
            Does the work, writing every file under ``stage`` (a folder laid out like the
            derivatives root); returns a small JSON-serializable dict kept in the record (scores,
            errors, figure paths for the report) or None.
        """
        digest = settings_hash(key, settings)
        found = self.lookup(key, digest)
        if found is not None:
            logger.info("step %s: unchanged (settings %s), skipped", key, digest)
            self.records.append(found)
            return found
        logger.info("step %s: running", key)
        earlier = self._read(key)  # what the step wrote last time (its files may go stale)
        start = time.perf_counter()
        stage = inside(self.root, self.root / ".staging" / key.replace("/", "_"), "staging folder")
        remove_tree(self.root, stage)  # a killed run's leftovers
        stage.mkdir(parents=True)
        try:
            info = func(stage) or {}
            files = sorted(p for p in stage.rglob("*") if p.is_file() and not p.name.startswith("."))
            outputs, digests = [], {}
            for p in files:
                rel = p.relative_to(stage)
                digests[str(rel)] = file_digest(p)
                final = inside(self.root, self.root / rel, "output")
                final.parent.mkdir(parents=True, exist_ok=True)
                inside(self.root, final, "output")  # nothing linked in since
                os.replace(p, final)
                outputs.append(str(rel))
        finally:
            if not stage.is_symlink() and not stage.parent.is_symlink():
                shutil.rmtree(stage, ignore_errors=True)
            with contextlib.suppress(OSError):
                (self.root / ".staging").rmdir()  # rmdir removes no link and no folder with files
        record = StepRecord(key, digest, outputs, False, time.perf_counter() - start, info)
        atomic_write_text(
            self._record_path(key),
            json.dumps({"key": key, "hash": digest, "outputs": outputs, "files": digests, "info": info,
                        "seconds": record.seconds, "finished": time.strftime("%Y-%m-%dT%H:%M:%S")},
                       indent=2, default=_default),
        )
        if earlier is not None:
            self._remove_stale(key, earlier.get("outputs"), outputs)
        logger.info("step %s: done in %.1f s (%d files)", key, record.seconds, len(outputs))
        self.records.append(record)
        return record

    def _remove_stale(self, key: str, before: Any, now: list[str]) -> None:
        """Delete the files the step's earlier run wrote and this one did not (e.g. the maps of a
        target no longer in the config), unless another step's record lists them; one log line."""
        if not isinstance(before, list):
            return
        stale = set(map(str, before)) - set(now)
        if not stale:
            return
        stale -= self._outputs_of_other_steps(key)
        removed = []
        root = Path(os.path.abspath(self.root))
        for rel in sorted(stale):
            path = inside(self.root, self.root / rel, "stale output")
            if path.is_file():
                path.unlink()
                removed.append(rel)
                for folder in path.parents:  # folders left empty by it, up to the root
                    if folder == root or root not in folder.parents:
                        break
                    try:
                        folder.rmdir()
                    except OSError:
                        break
        if removed:
            shown = ", ".join(removed[:3]) + (f" and {len(removed) - 3} more" if len(removed) > 3 else "")
            logger.warning("step %s: removed %d file(s) that its earlier settings wrote and the current ones do "
                           "not: %s", key, len(removed), shown)

    def _outputs_of_other_steps(self, key: str) -> set[str]:
        mine = self._record_path(key)
        out: set[str] = set()
        for path in self.dir.glob("*.json"):
            if Path(os.path.abspath(path)) == mine:
                continue
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and isinstance(data.get("outputs"), list):
                out.update(map(str, data["outputs"]))
        return out


def _default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)
