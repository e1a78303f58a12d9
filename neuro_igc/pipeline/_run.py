"""Run a pipeline at the participant or group level: context, logging, dispatch, report.

The work of each task lives in its own module (``_decoding``, ``_encoding``, ``_group``,
``_benchmark``); each step goes through :class:`~neuro_igc.pipeline._state.StepCache` so that
re-runs skip what is unchanged.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuro_igc import _distributed as dist
from neuro_igc.pipeline._config import PipelineConfig, settings_hash
from neuro_igc.pipeline._errors import LockTimeout, PipelineError
from neuro_igc.pipeline._layout import Derivatives
from neuro_igc.pipeline._paths import inside, refuse_links
from neuro_igc.pipeline._ranks import run_step
from neuro_igc.pipeline._report import ReportSection, write_report
from neuro_igc.pipeline._state import StepCache, StepRecord

__all__ = ["run_pipeline", "RunResult", "RunContext", "PipelineError", "LockTimeout", "LEVELS", "TASK_MODULES",
           "LOCK_NAME", "folder_lock"]

logger = logging.getLogger("neuro_igc.pipeline")

LEVELS = ("participant", "group")
#: the lock file (under the derivatives root) that keeps a second run out while one is writing
LOCK_NAME = "logs/neuro-igc.lock"
#: task -> module holding ``participant(ctx)`` and ``group(ctx)``
TASK_MODULES = {
    "decoding": "neuro_igc.pipeline._decoding",
    "encoding": "neuro_igc.pipeline._encoding",
    "benchmark": "neuro_igc.pipeline._benchmark",
}


@dataclass
class RunContext:
    """What every step of one run needs."""

    nsd_root: Path
    deriv: Derivatives
    config: PipelineConfig
    level: str
    subjects: list[int]
    device: Any
    cache: StepCache
    progress: bool = True
    data_hash: str = ""
    sections: list[ReportSection] = field(default_factory=list)
    summary: list[tuple[str, str]] = field(default_factory=list)
    scores: dict[str, Any] = field(default_factory=dict)
    #: the settings the report shows when not this run's config (the group level shows those the
    #: participant level used)
    report_config: dict[str, Any] | None = None
    #: what the user must see at the end of the run (printed by the command line on stderr)
    warnings: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [f"{s:02d}" for s in self.subjects]

    def step(self, name: str, settings: Any, func, collective: bool = False) -> StepRecord:
        """Run a step through the cache; its key is ``<label>/<name>``.

        ``func(deriv)`` writes its files through ``deriv`` (a :class:`Derivatives` rooted at the
        step's staging folder; they are moved into ``self.deriv`` when it returns) and returns
        a small info dict or None.
        """
        key, work = f"{self.config.label}/{name}", lambda stage: func(Derivatives.at(stage))
        if dist.is_active():  # torchrun: rank 0 writes; ``collective`` steps run on every rank
            return run_step(self.cache, key, settings, work, collective)
        return self.cache.run(key, settings, work)


@dataclass
class RunResult:
    """What :func:`run_pipeline` returns.

    Attributes
    ----------
    level : str
    config : PipelineConfig
    root : Path
        The derivatives folder ``OUTPUT_DIR/neuro-igc``.
    subjects : list of str
        Participant labels processed.
    records : list of StepRecord
        One per step, with ``skipped`` telling whether it was reused.
    report : Path or None
    scores : dict
        Headline numbers, keyed by identifiers (see ``SCORE_LABELS``) and nested by who
        (``"sub-01"``, ``"group"``) and output: ``scores["validation_r"]["sub-01"]["spectral_slope"]``,
        ``scores["max_igc_error"]``, ``scores["top_roi"]["group"][output]``,
        ``scores["planted_roi_rank"]["sub-01"][output]``,
        ``scores["prf_recovery"]["sub-01"]["V1"]["median_centre_error_deg"]``,
        ``scores["igc_truth_correlation"]["A"]``.
    log : Path
    warnings : list of str
        What the user must see (e.g. a group run whose command line differs from the settings the
        participant level used); the command line prints them on stderr, ``summary_text`` too.
    """

    level: str
    config: PipelineConfig
    root: Path
    subjects: list[str]
    records: list[StepRecord]
    report: Path | None
    scores: dict[str, Any]
    log: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def summary_text(self) -> str:
        """A few readable lines: steps run or skipped, headline scores, the report's path."""
        ran = sum(not r.skipped for r in self.records)
        lines = [
            f"neuro-igc {self.config.name} ({self.level} level, subjects {' '.join(self.subjects) or '-'}): "
            f"{ran} step(s) run, {len(self.records) - ran} unchanged and skipped",
        ]
        for key, value in self.scores.items():
            label = SCORE_LABELS.get(key, key.replace("_", " "))
            if isinstance(value, dict) and value and all(isinstance(k, str) and k.startswith(("sub-", "group"))
                                                         for k in value):
                lines += [f"  {label} {who}: {_fmt(v)}" for who, v in value.items()]
            else:
                lines.append(f"  {label}: {_fmt(value)}")
        lines += [f"WARNING: {w}" for w in self.warnings]
        lines.append(f"derivatives: {self.root}")
        if self.report is not None:
            lines.append(f"report: {self.report}")
        return "\n".join(lines)


#: score key -> how the summary prints it
SCORE_LABELS = {
    "validation_r": "validation r",
    "max_igc_error": "max IGC error",
    "top_roi": "top ROI",
    "planted_roi_rank": "rank of planted ROI",
    "prf_recovery": "pRF recovery",
    "igc_truth_correlation": "IGC truth correlation",
}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{str(k).replace('_', ' ')} {_fmt(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def parse_participants(labels: list[str] | None, available: list[int]) -> list[int]:
    """Participant labels (``01``, ``1``, ``sub-01``, ``subj01``) -> sorted subject numbers."""
    if not labels:
        if not available:
            raise PipelineError("No subject found in NSD_ROOT (nsddata_betas/ppdata/subjXX).")
        return sorted(available)
    out = []
    for label in labels:
        m = re.fullmatch(r"(?:sub-|subj)?0*(\d+)", str(label).strip())
        if m is None:
            raise PipelineError(
                f"Invalid value for '--participant-label': {label!r} is not a participant label "
                "(use 01, 1 or sub-01)."
            )
        s = int(m.group(1))
        if s not in available:
            shown = " ".join(f"{a:02d}" for a in available) or "none"
            raise PipelineError(
                f"Invalid value for '--participant-label': subject {s:02d} has no data in NSD_ROOT; "
                f"available are {shown}."
            )
        out.append(s)
    return sorted(set(out))


def available_subjects(nsd_root: Path, config: PipelineConfig) -> list[int]:
    """Subjects with a beta folder for the config's space and version."""
    base = nsd_root / "nsddata_betas" / "ppdata"
    out = []
    for d in sorted(base.glob("subj[0-9][0-9]")):
        if (d / config.data.space / config.data.beta_version).is_dir():
            out.append(int(d.name[4:]))
    return out


def data_fingerprint(nsd_root: Path, subjects: list[int], config: PipelineConfig) -> str:
    """Hash of the input files' names, sizes and modification times (cheap: no reading)."""
    files = [nsd_root / "nsddata" / "experiments" / "nsd" / "nsd_expdesign.mat",
             nsd_root / "nsddata_stimuli" / "stimuli" / "nsd" / "nsd_stimuli.hdf5"]
    for s in subjects:
        files.extend(sorted((nsd_root / "nsddata_betas" / "ppdata" / f"subj{s:02d}" / config.data.space
                             / config.data.beta_version).glob("*")))
    for label_dir in (nsd_root / "nsddata" / "freesurfer" / "fsaverage" / "label",
                      *[nsd_root / "nsddata" / "freesurfer" / f"subj{s:02d}" / "label" for s in subjects],
                      *[nsd_root / "nsddata" / "ppdata" / f"subj{s:02d}" / "transforms" for s in subjects]):
        files.extend(sorted(label_dir.glob("*")))
    stats = []
    for f in files:
        try:
            st = f.stat()
            stats.append((str(f.relative_to(nsd_root)), st.st_size, st.st_mtime_ns))
        except FileNotFoundError:
            stats.append((str(f), None, None))
    return settings_hash(str(nsd_root.resolve()), stats)


@contextmanager
def folder_lock(root: Path, timeout: float = 0):
    """Hold the exclusive lock of a derivatives folder for the duration of the block.

    ``timeout`` seconds to wait for another run to finish (0: fail at once, a negative value: wait
    as long as it takes). The lock is an OS file lock (``filelock``): a killed run releases it.
    Under ``torchrun`` rank 0 takes it for the whole process group (the others learn whether it
    could).

    Raises
    ------
    LockTimeout
        Another run holds the lock after ``timeout`` seconds.
    """
    from filelock import FileLock, Timeout

    if dist.is_active() and not dist.is_main():  # the other ranks follow rank 0's lock
        message = dist.broadcast_object(None, what="taking the derivatives folder's lock")
        if message is not None:
            raise LockTimeout(message)
        yield
        return
    path = inside(root, Path(root) / LOCK_NAME, "lock file")
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, thread_local=False)
    try:
        lock.acquire(timeout=timeout if timeout is None or timeout >= 0 else -1)
    except Timeout:
        waited = f"after waiting {timeout:g} s" if timeout and timeout > 0 else "now"
        message = (
            f"Another neuro-igc run is writing to {str(root)!r} {waited} (lock file {str(path)!r}): "
            "wait for it to finish, give another OUTPUT_DIR, or wait for it with --wait SECONDS "
            "(run_pipeline(..., lock_timeout=SECONDS); -1 waits as long as it takes)."
        )
        dist.broadcast_object(message, what="taking the derivatives folder's lock")
        raise LockTimeout(message) from None
    try:
        with open(path, "w") as fh:  # who holds it (and no empty file left in the dataset)
            fh.write(f"neuro-igc run, process {os.getpid()}, started {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
    except OSError:
        pass
    try:
        dist.broadcast_object(None, what="taking the derivatives folder's lock")
        yield
    finally:
        lock.release()


@contextmanager
def _run_log(deriv: Derivatives, name: str, level: str):
    """Log the run to ``logs/<name>_<level>_<time>.log``: written under a temporary name and
    renamed when the run ends, successfully or not (a failed run keeps its whole log)."""
    if not dist.is_main():  # torchrun: rank 0 keeps the log
        yield None
        return
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = deriv.logs_dir / f"{name}_{level}_{stamp}.log"
    n = 1
    while path.exists():  # runs within one second (one at a time: the folder is locked)
        n += 1
        path = deriv.logs_dir / f"{name}_{level}_{stamp}-{n}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path = inside(deriv.root, path, "run log")
    tmp = inside(deriv.root, path.with_name(f".{path.name}.tmp"), "run log")
    root_logger = logging.getLogger("neuro_igc")
    handler = logging.FileHandler(tmp)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG)
    old_level = root_logger.level
    if root_logger.getEffectiveLevel() > logging.INFO:
        root_logger.setLevel(logging.INFO)
    root_logger.addHandler(handler)
    try:
        yield path
    except BaseException as exc:
        logger.error("run failed: %s: %s", type(exc).__name__, exc)
        raise
    finally:
        root_logger.removeHandler(handler)
        root_logger.setLevel(old_level)
        handler.close()
        os.replace(tmp, path)


def run_pipeline(
    nsd_root: str | os.PathLike,
    output_dir: str | os.PathLike,
    level: str,
    config: PipelineConfig,
    participants: list[str] | None = None,
    *,
    device: str | None = "auto",
    force: bool = False,
    n_jobs: int | None = None,
    progress: bool = True,
    make_synthetic: bool = False,
    lock_timeout: float = 0,
) -> RunResult:
    """Run one pipeline into ``OUTPUT_DIR/neuro-igc``.

    Parameters
    ----------
    nsd_root : path-like
        NSD folder (real or synthetic). Not read by the benchmark task.
    output_dir : path-like
    level : {"participant", "group"}
    config : PipelineConfig
        From :func:`~neuro_igc.pipeline.load_config`.
    participants : list of str, optional
        Labels such as ``["01", "02"]``; default every subject found.
    device : str, optional
        "auto" (CUDA if available), "cpu", "cuda"...
    force : bool, default False
        Redo every step even when its settings hash is unchanged.
    n_jobs : int, optional
        torch CPU threads during the run (restored afterwards).
    progress : bool, default True
        tqdm bars.
    make_synthetic : bool, default False
        Write a synthetic NSD-like folder at ``nsd_root`` first when it does not exist
        (``config.synthetic`` settings).
    lock_timeout : float, default 0
        One run at a time writes to a derivatives folder: seconds to wait for another run's lock
        (0: raise :class:`LockTimeout` at once; negative: wait as long as it takes).

    Returns
    -------
    RunResult
    """
    from neuro_igc._utils import POSITIVE_INT, check_option, check_param, resolve_device

    check_option("level", level, LEVELS)
    if not isinstance(config, PipelineConfig):
        raise TypeError(
            f"Invalid value for 'config': expected a PipelineConfig (from load_config); got {type(config).__name__}."
        )
    nsd_root = Path(nsd_root)
    deriv = Derivatives(output_dir)
    check_param("--n-jobs", n_jobs, POSITIVE_INT, None)
    dev = dist.rank_device(resolve_device(device))  # torchrun: cuda -> cuda:LOCAL_RANK
    progress = progress and dist.is_main()
    task = importlib.import_module(TASK_MODULES[config.task])
    _make_output_dir(deriv.root)
    refuse_links(deriv.root)  # no link in the tree: nothing below can lead outside it
    with folder_lock(deriv.root, lock_timeout), _torch_threads(n_jobs):
        return _run_locked(nsd_root, deriv, level, config, participants, task, dev, force=force,
                           progress=progress, make_synthetic=make_synthetic)


def _make_output_dir(root: Path) -> None:
    existing = next((p for p in (root, *root.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise PipelineError(
            f"Invalid OUTPUT_DIR: {str(existing)!r} is a file, not a folder; give a folder path "
            "(it is created when missing)."
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PipelineError(
            f"Cannot create the derivatives folder {str(root)!r}: {exc.strerror or exc}; check OUTPUT_DIR "
            "and its permissions."
        ) from exc


@contextmanager
def _torch_threads(n_jobs: int | None):
    """Use ``n_jobs`` torch CPU threads inside the block and restore the caller's count after."""
    if n_jobs is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(n_jobs))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run_locked(nsd_root, deriv, level, config, participants, task, dev, *, force, progress,
                make_synthetic) -> RunResult:
    with _run_log(deriv, config.name, level) as log_path:
        logger.info("neuro-igc %s, %s level, config %s", config.name, level, config.source)
        if dist.is_main():
            _clean_leftovers(deriv, log_path)
        if config.task == "benchmark":
            subjects: list[int] = []
            data_hash = ""
        else:
            if make_synthetic and dist.broadcast_object(not nsd_root.exists()):  # rank 0 decides and writes
                if dist.is_main():
                    _make_synthetic(nsd_root, config)
                dist.barrier("writing the synthetic NSD folder")
            if not nsd_root.is_dir():
                raise PipelineError(
                    f"NSD_ROOT {str(nsd_root)!r} is not a folder: give an NSD folder, write a synthetic "
                    "one with `neuro-igc synth DIR`, or pass --make-synthetic."
                )
            subjects = parse_participants(participants, available_subjects(nsd_root, config))
            data_hash = data_fingerprint(nsd_root, subjects, config)
        if dist.is_main() and (level == "participant" or not deriv.described(config.name)):
            # the group level only summarizes: the participant level's entry says what made the maps
            deriv.write_description(config.to_dict(), source=config.source, nsd_root=nsd_root)
        ctx = RunContext(
            nsd_root=nsd_root, deriv=deriv, config=config, level=level, subjects=subjects,
            device=dev, cache=StepCache(deriv.root, force=force), progress=progress, data_hash=data_hash,
        )
        getattr(task, level)(ctx)
        report = None
        if config.outputs.report and dist.is_main():
            report = inside(deriv.root, deriv.report_path(config.name, level), "report")
            summary = [("pipeline", config.name), ("task", config.task), ("level", level),
                       ("subjects", " ".join(ctx.labels) or "-"), ("device", str(dev)),
                       ("NSD root", str(nsd_root)), ("config file", config.source)]
            steps = _steps_table(ctx.cache.records)
            sections = ctx.sections + ([ReportSection("Steps", tables=[("", steps)])] if steps is not None else [])
            write_report(report, title=f"neuro-igc: {config.name} ({level})",
                         config=ctx.report_config or config.to_dict(),
                         sections=sections, summary=summary + ctx.summary)
            logger.info("report: %s", report)
    return RunResult(level, config, deriv.root, ctx.labels, ctx.cache.records, report, ctx.scores, log_path,
                     list(ctx.warnings))


def _clean_leftovers(deriv: Derivatives, own_log: Path | None) -> None:
    """What killed runs left (this run holds the folder's lock, so no other run is writing): the
    logs they were writing (``logs/.<name>.log.tmp``) are kept under their final names, their
    staging folders deleted."""
    from neuro_igc.pipeline._paths import remove_tree

    own = Path(os.path.abspath(own_log.with_name(f".{own_log.name}.tmp"))) if own_log is not None else None
    for tmp in sorted(deriv.logs_dir.glob(".*.log.tmp")):
        if Path(os.path.abspath(tmp)) == own or not tmp.is_file():
            continue
        final = tmp.with_name(tmp.name[1:-len(".tmp")])
        n = 1
        while final.exists():
            n += 1
            final = tmp.with_name(f"{tmp.name[1:-len('.log.tmp')]}-{n}.log")
        os.replace(inside(deriv.root, tmp, "run log"), inside(deriv.root, final, "run log"))
        logger.warning("the log of an interrupted run was left as %s: kept as %s", tmp.name, final.name)
    if (deriv.root / ".staging").exists():
        remove_tree(deriv.root, deriv.root / ".staging")
        logger.info("removed the staging folder of an interrupted run")


def _steps_table(records: list[StepRecord]):
    if not records:
        return None
    import pandas as pd

    return pd.DataFrame({
        "step": [r.key for r in records],
        "status": ["unchanged (skipped)" if r.skipped else "run" for r in records],
        "seconds": [round(r.seconds, 2) for r in records],
        "settings hash": [r.hash for r in records],
    })


def _make_synthetic(root: Path, config: PipelineConfig) -> None:
    from neuro_igc.data.synthetic import make_nsd_like

    s = config.synthetic
    logger.info("writing a synthetic NSD-like folder at %s", root)
    make_nsd_like(root, subjects=s.subjects, sessions=s.sessions, seed=s.seed, **s.params)
