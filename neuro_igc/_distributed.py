"""torch.distributed helpers: who am I, which samples are mine, one all-reduce, rank-0 output.

Everything here is a no-op in a single process. Inside an initialised process group (e.g. under
``torchrun``, Gloo on CPUs, NCCL on GPUs) the attribution engine shards samples by their global
index (:func:`shard`), sums its float64 accumulators over the ranks once at the end
(:func:`all_reduce_sums`, which also carries a failure flag, so that an error on one rank is
raised on every rank with that rank's message), and only rank 0 shows progress bars and logs.

Timeouts: :func:`init_from_env` sets the process group's timeout from the ``timeout`` argument,
else the ``NEURO_IGC_DIST_TIMEOUT`` environment variable (seconds), else
:data:`DEFAULT_TIMEOUT_S`. A rank that dies makes the collectives of the others fail (Gloo
notices a closed connection at once; otherwise at the timeout) with a :class:`DistributedError`.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from neuro_igc._utils import POSITIVE_INT, SWITCH, check_param

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "DistributedError",
    "env_world",
    "is_active",
    "rank",
    "world_size",
    "is_main",
    "init_from_env",
    "launched_group",
    "rank_tag",
    "resolve",
    "rank_device",
    "shard",
    "all_reduce_sums",
    "gather_tensors",
    "gather_objects",
    "broadcast_object",
    "broadcast_tensors",
    "barrier",
    "main_rank_only_logging",
    "run_local",
]

logger = logging.getLogger(__name__)

#: process-group timeout (seconds) when neither ``timeout`` nor NEURO_IGC_DIST_TIMEOUT is given
DEFAULT_TIMEOUT_S = 1800.0
TIMEOUT_ENV = "NEURO_IGC_DIST_TIMEOUT"


class DistributedError(RuntimeError):
    """A rank of a distributed run failed, was killed, or did not answer within the timeout."""


def _dist():
    import torch.distributed as dist

    return dist if dist.is_available() else None


# -- who am I ------------------------------------------------------------------------------------
def env_world() -> tuple[int, int, int] | None:
    """``(rank, world_size, local_rank)`` from the launcher's environment (torchrun, or SLURM via
    ``srun`` when MASTER_ADDR is set), or None when not launched as a distributed job."""
    env = os.environ
    if "WORLD_SIZE" in env and "RANK" in env:
        r, w = int(env["RANK"]), int(env["WORLD_SIZE"])
        return r, w, int(env.get("LOCAL_RANK", r))
    if "SLURM_PROCID" in env and "SLURM_NTASKS" in env and "MASTER_ADDR" in env:
        return int(env["SLURM_PROCID"]), int(env["SLURM_NTASKS"]), int(env.get("SLURM_LOCALID", 0))
    return None


def is_active() -> bool:
    """True inside an initialised process group of more than one process."""
    dist = _dist()
    return bool(dist is not None and dist.is_initialized() and dist.get_world_size() > 1)


def rank() -> int:
    """This process's rank (0 without a process group)."""
    dist = _dist()
    return dist.get_rank() if dist is not None and dist.is_initialized() else 0


def world_size() -> int:
    """The number of processes (1 without a process group)."""
    dist = _dist()
    return dist.get_world_size() if dist is not None and dist.is_initialized() else 1


def is_main() -> bool:
    """True on rank 0 (and in a single process)."""
    return rank() == 0


def _timeout(timeout: float | None) -> datetime.timedelta:
    if timeout is None:
        raw = os.environ.get(TIMEOUT_ENV)
        try:
            timeout = float(raw) if raw else DEFAULT_TIMEOUT_S
        except ValueError:
            raise ValueError(f"Invalid value for {TIMEOUT_ENV}: expected seconds; got {raw!r}.") from None
    if not timeout > 0:
        raise ValueError(f"Invalid value for 'timeout': expected a positive number of seconds; got {timeout!r}.")
    return datetime.timedelta(seconds=float(timeout))


def init_from_env(backend: str | None = None, timeout: float | None = None) -> bool:
    """Initialise the default process group from the launcher's environment.

    Parameters
    ----------
    backend : {"nccl", "gloo"}, optional
        Default: NCCL when CUDA is available, else Gloo.
    timeout : float, optional
        Seconds before a collective that a rank never joins fails (see the module docstring).

    Returns
    -------
    bool
        True when this call initialised the group; False when it was already initialised.
    """
    dist = _dist()
    if dist is None:
        raise DistributedError("torch.distributed is not available in this build of torch.")
    if dist.is_initialized():
        return False
    found = env_world()
    if found is None:
        raise ValueError(
            "distributed=True needs a distributed launch: run under `torchrun --nproc-per-node N ...` (or set "
            "RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT), or initialise torch.distributed yourself."
        )
    r, w, local = found
    import torch

    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local % torch.cuda.device_count())
    os.environ.setdefault("RANK", str(r))
    os.environ.setdefault("WORLD_SIZE", str(w))
    os.environ.setdefault("LOCAL_RANK", str(local))
    dist.init_process_group(backend, rank=r, world_size=w, timeout=_timeout(timeout))
    (logger.info if r == 0 else logger.debug)("torch.distributed: %d processes (%s backend)", w, backend)
    return True


@contextlib.contextmanager
def launched_group(backend: str | None = None, timeout: float | None = None) -> Iterator[bool]:
    """Inside the block, the process group of a multi-process launch (``torchrun``, ``srun``) is
    initialised (and destroyed at the end if this opened it); yields whether it is active. A
    single process (no launcher, or a world of one) runs unchanged."""
    found = env_world()
    started = False
    if found is not None and found[1] > 1:
        started = init_from_env(backend=backend, timeout=timeout)
    try:
        yield is_active()
    finally:
        if started:
            with contextlib.suppress(Exception):
                _dist().destroy_process_group()


def rank_tag() -> str:
    """``" (rank R of W)"`` in a process group, ``""`` otherwise (for messages)."""
    return f" (rank {rank()} of {world_size()})" if is_active() else ""


def resolve(distributed) -> bool:
    """Whether a run is distributed: ``"auto"`` -> inside an initialised group of more than one
    process; ``True`` -> initialise from the environment when needed; ``False`` -> never."""
    check_param("distributed", distributed, SWITCH)
    if distributed is False:
        return False
    if distributed is True:
        dist = _dist()
        if dist is None or not dist.is_initialized():
            init_from_env()
    return is_active()


def rank_device(device):
    """The device of this rank: ``cuda`` (no index) becomes ``cuda:LOCAL_RANK`` when distributed."""
    import torch

    device = torch.device(device)
    if device.type == "cuda" and device.index is None and is_active():
        found = env_world()
        local = found[2] if found is not None else rank()
        return torch.device("cuda", local % torch.cuda.device_count())
    return device


def shard(indices: np.ndarray, active: bool = True) -> np.ndarray:
    """This rank's contiguous block of ``indices`` (``np.array_split`` into world-size blocks).

    The blocks follow the global order of the samples, so every rank agrees on the partition and
    their union is ``indices``; sizes differ by at most one.
    """
    indices = np.asarray(indices)
    if not active or not is_active():
        return indices
    return np.array_split(indices, world_size())[rank()]


# -- collectives ---------------------------------------------------------------------------------
def _reduce_device():
    import torch

    dist = _dist()
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _collective_failed(what: str, exc: BaseException) -> DistributedError:
    return DistributedError(
        f"{what}: a collective operation failed on rank {rank()} of {world_size()}, so another rank stopped "
        f"(it failed, was killed, or did not answer within the timeout; see that rank's output): {exc}"
    )


def all_reduce_sums(tensors: Mapping[str, object], *, failure: BaseException | None = None,
                    what: str = "distributed run") -> dict:
    """Sum every tensor of ``tensors`` over the ranks with one all-reduce (float64).

    Parameters
    ----------
    tensors : mapping of str to tensor or None
        This rank's partial sums (None entries are passed through). Returned as float64 tensors
        on their own devices, with their shapes.
    failure : exception, optional
        This rank's error, if its share of the work failed: every rank then raises a
        :class:`DistributedError` naming the failing ranks and their messages (instead of waiting
        for a rank that will never send its sums).
    what : str
        Named in the error messages.

    Returns
    -------
    dict
        The summed tensors (the input unchanged in a single process, or raised ``failure``).
    """
    if not is_active():
        if failure is not None:
            raise failure
        return dict(tensors)
    import torch

    dist = _dist()
    dev = _reduce_device()
    keys = [k for k, v in tensors.items() if v is not None]
    parts = [torch.as_tensor(tensors[k]).detach().to(device=dev, dtype=torch.float64).reshape(-1) for k in keys]
    flag = torch.tensor([0.0 if failure is None else 1.0], dtype=torch.float64, device=dev)
    buf = torch.cat([flag, *parts])
    try:
        dist.all_reduce(buf)
    except Exception as exc:
        raise _collective_failed(what, exc) from (failure or exc)
    if float(buf[0]) > 0:
        messages = gather_objects(None if failure is None else f"{type(failure).__name__}: {failure}", what=what)
        failed = "; ".join(f"rank {r}: {m}" for r, m in enumerate(messages) if m is not None)
        raise DistributedError(f"{what} failed on {sum(m is not None for m in messages)} of "
                               f"{len(messages)} ranks -- {failed}") from failure
    out, pos = dict(tensors), 1
    for k, p in zip(keys, parts):
        src = torch.as_tensor(tensors[k])
        out[k] = buf[pos:pos + p.numel()].reshape(src.shape).to(src.device)
        pos += p.numel()
    return out


def gather_tensors(tensors: Mapping[str, object], what: str = "distributed run") -> dict:
    """Every rank's tensors stacked in rank order, ``(world_size, *shape)`` float64, on every rank
    (one all-reduce of zero-padded stacks; shapes must agree across ranks)."""
    import torch

    w, r = world_size(), rank()
    stacks = {}
    for k, v in tensors.items():
        v = torch.as_tensor(v).detach().double()
        stack = torch.zeros((w, *v.shape), dtype=torch.float64, device=v.device)
        stack[r] = v
        stacks[k] = stack
    return all_reduce_sums(stacks, what=what)


def gather_objects(obj, what: str = "distributed run") -> list:
    """Every rank's ``obj`` (picklable), in rank order, on every rank."""
    if not is_active():
        return [obj]
    dist = _dist()
    out = [None] * world_size()
    try:
        dist.all_gather_object(out, obj)
    except Exception as exc:
        raise _collective_failed(what, exc) from exc
    return out


def broadcast_object(obj, src: int = 0, what: str = "distributed run"):
    """Rank ``src``'s ``obj`` on every rank."""
    if not is_active():
        return obj
    dist = _dist()
    box = [obj if rank() == src else None]
    try:
        dist.broadcast_object_list(box, src=src)
    except Exception as exc:
        raise _collective_failed(what, exc) from exc
    return box[0]


def broadcast_tensors(tensors: Sequence, src: int = 0, what: str = "distributed run") -> None:
    """Overwrite ``tensors`` (in place) with rank ``src``'s values."""
    if not is_active():
        return
    dist = _dist()
    try:
        for t in tensors:
            dist.broadcast(t.data, src=src)
    except Exception as exc:
        raise _collective_failed(what, exc) from exc


def barrier(what: str = "distributed run") -> None:
    """Wait for every rank (a no-op in a single process)."""
    if not is_active():
        return
    try:
        _dist().barrier()
    except Exception as exc:
        raise _collective_failed(what, exc) from exc


@contextlib.contextmanager
def main_rank_only_logging(name: str = "neuro_igc", level: int = logging.ERROR) -> Iterator[None]:
    """On ranks other than 0, show only messages of ``level`` and above from logger ``name``
    (restored afterwards); rank 0 logs as usual."""
    if is_main():
        yield
        return
    log = logging.getLogger(name)
    old = log.level
    log.setLevel(max(level, log.getEffectiveLevel()))
    try:
        yield
    finally:
        log.setLevel(old)


# -- local launch (tests, notebooks) -------------------------------------------------------------
def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _local_entry(index: int, fn: Callable, nprocs: int, port: int, backend: str, timeout: float,
                 threads: int | None, errors: str, args: tuple) -> None:
    import torch

    env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(index), "LOCAL_RANK": str(index),
           "WORLD_SIZE": str(nprocs), "LOCAL_WORLD_SIZE": str(nprocs)}
    os.environ.update(env)
    if threads:
        torch.set_num_threads(int(threads))
    init_from_env(backend=backend, timeout=timeout)
    try:
        fn(*args)
    except BaseException:
        # Recorded before the group is left: the other ranks can only fail *because of* this error
        # once this rank's connections close, so their records are always later than this one.
        _record_failure(errors, index)
        raise
    finally:
        with contextlib.suppress(Exception):
            _dist().destroy_process_group()


def _record_failure(folder: str, index: int) -> None:
    import traceback

    tmp = os.path.join(folder, f".rank{index}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(f"{time.time_ns()}\n{traceback.format_exc()}")
    os.replace(tmp, os.path.join(folder, f"rank{index}.txt"))


def _failures(folder: str, nprocs: int, exc) -> str:
    """Every failed rank's traceback, in the order the ranks failed (by the time each recorded its
    error, not by the order the processes exited: a rank that fails because another one did exits
    earlier at times, under load)."""
    found = []
    for i in range(nprocs):
        try:
            with open(os.path.join(folder, f"rank{i}.txt"), encoding="utf-8") as fh:
                stamp, _, trace = fh.read().partition("\n")
            found.append((int(stamp), i, trace))
        except (OSError, ValueError):
            continue
    found.sort()
    if not found:  # killed, or exited without a Python error
        return f"rank {exc.error_index} of the local distributed run exited first: {exc}"
    _, first, trace = found[0]
    last = trace.strip().splitlines()[-1] if trace.strip() else "(no message)"
    lines = [f"rank {first} of the local distributed run failed first: {last}"]
    lines += [f"-- rank {i}:\n{t}" for _, i, t in found]
    return "\n".join(lines)


def run_local(fn: Callable, nprocs: int = 2, args: Sequence = (), *, backend: str = "gloo",
              timeout: float = 60.0, join_timeout: float | None = None, threads: int | None = 1,
              start_method: str = "spawn") -> None:
    """Run ``fn(*args)`` on ``nprocs`` new local processes joined in a process group.

    For tests and notebooks, where ``torchrun`` is not at hand: each process gets the torchrun
    environment (127.0.0.1, a free port) and an initialised group, runs ``fn`` and leaves the group.
    ``fn`` must be importable (a module-level function).

    Parameters
    ----------
    fn : callable
    nprocs : int, default=2
    args : sequence
    backend : {"gloo", "nccl"}, default="gloo"
    timeout : float, default=60
        The process group's timeout (seconds).
    join_timeout : float, optional
        Wall-clock limit for the whole run (default: ``2 * timeout + 60``); the processes are
        killed and a TimeoutError raised past it.
    threads : int or None, default=1
        torch CPU threads per process (None: torch's default).
    start_method : {"spawn", "forkserver"}, default="spawn"
        How the processes start (``multiprocessing``); "forkserver" starts later runs faster
        when the modules are preloaded (``torch.multiprocessing.set_forkserver_preload``).

    Raises
    ------
    DistributedError
        When a process fails (the first failure's traceback is in the message) or exits.
    """
    import torch.multiprocessing as mp

    nprocs = int(check_param("nprocs", nprocs, POSITIVE_INT))
    limit = 2 * float(timeout) + 60 if join_timeout is None else float(join_timeout)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="neuro-igc-ranks-") as errors:
        ctx = mp.start_processes(
            _local_entry, args=(fn, nprocs, port, backend, float(timeout), threads, errors, tuple(args)),
            nprocs=nprocs, join=False, start_method=start_method,
        )
        deadline = time.monotonic() + limit
        try:
            while not ctx.join(timeout=1.0, grace_period=5.0):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"run_local: the {nprocs} processes did not finish within {limit:.0f} s.")
        except (mp.ProcessRaisedException, mp.ProcessExitedException) as exc:
            raise DistributedError(_failures(errors, nprocs, exc)) from None
        finally:
            for p in ctx.processes:
                if p.is_alive():
                    p.kill()
                    p.join(5)
