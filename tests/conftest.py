"""Test configuration shared by the whole suite: seeds, no network, GPU skipping."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TQDM_DISABLE", "1")


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    if _cuda_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device (none on this machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(autouse=True)
def _seed_and_block_network(monkeypatch):
    """Seed numpy and torch, and make any attempt to open a network connection fail loudly."""
    np.random.seed(0)
    try:
        import torch

        torch.manual_seed(0)
    except ImportError:  # pragma: no cover
        pass

    real_connect = socket.socket.connect

    def guarded_connect(self, address, *args, **kwargs):
        if self.family == socket.AF_UNIX:
            return real_connect(self, address, *args, **kwargs)
        host = address[0] if isinstance(address, tuple) else address
        if host in ("127.0.0.1", "localhost", "::1"):
            return real_connect(self, address, *args, **kwargs)
        raise RuntimeError(f"network access attempted in a test: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    yield


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request):
    """Run a test on the CPU, and on CUDA when available (reported as skipped otherwise)."""
    return request.param


@pytest.fixture(scope="session")
def run_ranks():
    """``run(fn, nprocs=2, args=(), **kw)``: a module-level function on local processes joined in a
    Gloo process group (127.0.0.1, a free port), started from a forkserver that has torch and
    neuro_igc preloaded, so that each run starts in a fraction of a second."""
    import torch.multiprocessing as mp

    from neuro_igc import _distributed as D

    # torch._dynamo: imported by the first optimizer (seconds); tqdm: by the first progress bar
    mp.set_forkserver_preload(["torch", "torch._dynamo", "torch.nn.parallel", "tqdm.auto", "neuro_igc.attribution",
                               "neuro_igc.models"])

    def run(fn, nprocs=2, args=(), **kw):
        kw.setdefault("timeout", 60)
        kw.setdefault("join_timeout", 240)
        return D.run_local(fn, nprocs, args, start_method="forkserver", **kw)

    return run
