"""IGC across processes (torch.distributed, Gloo on 127.0.0.1): the single-process results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from attribution_nets import SubjectNet, mish_mlp, tiny_cnn

from neuro_igc import _distributed as D
from neuro_igc.attribution import ig, igac, igc, igc_categorical, naive_ig

REPO = Path(__file__).resolve().parents[2]
# tiny samples: the baseline term puts the IGC error above the paper's 0.01 (warned), the point
# here is only that every process count gives the same numbers
pytestmark = pytest.mark.filterwarnings("ignore::neuro_igc.attribution.AttributionAccuracyWarning")
N = 37  # odd: the ranks get blocks of different sizes


def _data():
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(N, 6)))
    y = torch.tensor(np.stack([np.tanh(x[:, 0]) + x[:, 1], x[:, 2] ** 2 - x[:, 0], x[:, 3]], 1)
                     + 0.3 * rng.normal(size=(N, 3)))
    xs = torch.tensor(rng.normal(size=(N, 7)))
    ys = torch.tensor(rng.normal(size=(N, 10))) + xs[:, :1]
    subject = torch.tensor(rng.integers(0, 3, size=N))
    xi = torch.tensor(rng.normal(size=(N, 1, 8, 8)))
    yi = torch.tensor(rng.normal(size=(N, 12))) + xi.mean((1, 2, 3))[:, None]
    return x, y, xs, ys, subject, xi, yi


def _cases(distributed) -> dict:
    """Every public function on small float64 models; returns name -> dict of arrays/settings."""
    x, y, xs, ys, subject, xi, yi = _data()
    kw = dict(baselines=4, n_steps=6, progress=False, distributed=distributed)
    mlp = mish_mlp()
    out = {}

    def keep(name, res):
        out[name] = {k: getattr(res, k) for k in ("attributions", "correlation", "ig_error", "igc_error",
                                                   "baseline_term") if getattr(res, k) is not None}
        out[name]["settings"] = res.settings

    keep("igc", igc(mlp, x, y, **kw))
    keep("igc-plain", igc(mlp, x, y, input_linear=False, readout=False, vjp="loop", **kw))
    keep("igc-auto", igc(mlp, x, y, **{**kw, "n_steps": "auto"}, probe_size=9))
    keep("igac", igac(mlp, x, **kw))
    keep("igc-categorical", igc_categorical(mlp, x, torch.argmax(y, 1), **kw))
    keep("ig", ig(mlp, x, **kw))
    mean, sd = naive_ig(mlp, x, **kw)
    keep("ig-mean", mean)
    keep("ig-sd", sd)
    keep("igc-subjects", igc(SubjectNet(), xs, ys, extra={"subject": subject}, **kw))
    keep("igc-cnn", igc(tiny_cnn(), xi, yi, **kw))
    keep("igc-explicit", igc(mlp, x, y, **{**kw, "baselines": x[:3] * 0.5}))
    return out


def _worker(folder: str) -> None:
    import pickle

    res = _cases("auto")
    Path(folder, f"rank{D.rank()}.pkl").write_bytes(pickle.dumps(res))


def _compare(ref: dict, got: dict, world: int) -> None:
    for name, r in ref.items():
        g = got[name]
        for key, a in r.items():
            b = g[key]
            if key == "settings":
                a, b = dict(a), dict(b)
                assert b.pop("world_size") == world and a.pop("world_size") == 1, name
                # the probe's IG errors are gaps between O(1) terms: equal to float64 rounding
                ha, hb = np.array(a.pop("auto_history", [])), np.array(b.pop("auto_history", []))
                assert ha.shape == hb.shape and np.allclose(ha, hb, rtol=0, atol=1e-12), name
                assert a == b, name
                continue
            scale = max(float(np.abs(a).max()), 1e-300)
            if key in ("ig_error", "igc_error", "baseline_term"):  # dimensionless gaps between O(1) terms
                scale = 1.0
            err = float(np.abs(np.asarray(a) - np.asarray(b)).max()) / scale
            assert err < 1e-12, f"{name}.{key}: relative difference {err:.3g}"


def test_two_processes_give_the_single_process_results(tmp_path, run_ranks):
    run_ranks(_worker, 2, (str(tmp_path),), timeout=60)
    ref = _cases(False)
    import pickle

    for r in (0, 1):
        got = pickle.loads((tmp_path / f"rank{r}.pkl").read_bytes())
        _compare({k: {kk: (dict(vv) if kk == "settings" else vv) for kk, vv in v.items()} for k, v in ref.items()},
                 got, world=2)


@pytest.mark.slow
def test_three_processes_give_the_single_process_results(tmp_path, run_ranks):
    run_ranks(_worker, 3, (str(tmp_path),), timeout=60)
    ref = _cases(False)
    import pickle

    got = pickle.loads((tmp_path / "rank2.pkl").read_bytes())
    _compare(ref, got, world=3)


class _Poisoned(torch.nn.Module):
    """A model that fails on one sample (the last: rank 1's block)."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 1).double()

    def forward(self, x):
        if bool((x[:, 0] > 50).any()):
            raise ValueError("poisoned sample")
        return self.lin(x)


def _poison_worker(folder: str) -> None:
    x = torch.randn(10, 3, dtype=torch.float64)
    x[-1, 0] = 99.0
    y = torch.randn(10, dtype=torch.float64)
    try:
        igc(_Poisoned(), x, y, baselines=x[:2], n_steps=2, progress=False)
    except D.DistributedError as exc:
        Path(folder, f"rank{D.rank()}.txt").write_text(str(exc))


def test_an_error_on_one_rank_is_raised_on_every_rank(tmp_path, run_ranks):
    run_ranks(_poison_worker, 2, (str(tmp_path),), timeout=60)
    for r in (0, 1):
        msg = (tmp_path / f"rank{r}.txt").read_text()
        assert "failed on 1 of 2 ranks" in msg and "rank 1: ValueError: poisoned sample" in msg


_KILLED = textwrap.dedent("""
    import os, signal, sys, torch
    from neuro_igc import _distributed as D
    from neuro_igc.attribution import igc

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 1).double()
        def forward(self, x):
            if D.rank() == 1 and x.shape[0] > 4:
                os.kill(os.getpid(), signal.SIGKILL)
            return self.lin(x)

    x = torch.randn(40, 3, dtype=torch.float64)
    try:
        igc(Net(), x, x[:, 0], baselines=x[:2], n_steps=2, progress=False, distributed=True)
    except D.DistributedError as exc:
        print("CLEAR ERROR:", exc)
        sys.exit(1)
""")


def test_a_killed_rank_gives_a_clear_error_within_the_timeout():
    port = D.free_port()
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "2",
           "NEURO_IGC_DIST_TIMEOUT": "30", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    start = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-c", _KILLED], env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for r in (0, 1)]
    try:
        out0, _ = procs[0].communicate(timeout=90)
        procs[1].wait(timeout=30)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert procs[1].returncode == -signal.SIGKILL
    assert procs[0].returncode == 1, out0
    assert "CLEAR ERROR:" in out0 and "another rank stopped" in out0, out0
    assert time.monotonic() - start < 90


def test_distributed_true_without_a_launcher_says_how_to_launch(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "SLURM_PROCID"):
        monkeypatch.delenv(var, raising=False)
    x = torch.randn(8, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="torchrun --nproc-per-node"):
        igc(torch.nn.Linear(3, 1).double(), x, x[:, 0], distributed=True, progress=False)


def test_invalid_distributed_switch():
    x = torch.randn(8, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="Invalid value for 'distributed'"):
        igc(torch.nn.Linear(3, 1).double(), x, x[:, 0], distributed="yes", progress=False)


def test_shard_blocks_and_single_process_helpers():
    assert not D.is_active() and D.rank() == 0 and D.world_size() == 1 and D.is_main()
    assert D.shard(np.arange(5)).tolist() == list(range(5))
    out = D.all_reduce_sums({"a": torch.ones(2), "b": None})
    assert out["a"].tolist() == [1.0, 1.0] and out["b"] is None
    with pytest.raises(KeyError):
        D.all_reduce_sums({}, failure=KeyError("x"))
    assert D.gather_objects(3) == [3] and D.broadcast_object("a") == "a"


def _gpu_worker(folder: str) -> None:
    import pickle

    x, y, *_ = _data()
    res = igc(mish_mlp(), x, y, baselines=4, n_steps=6, progress=False, device="cuda")
    if D.is_main():
        Path(folder, "gpu.pkl").write_bytes(pickle.dumps((res.attributions, res.settings["device"])))


@pytest.mark.gpu
def test_two_ranks_on_gpus_give_the_cpu_result(tmp_path, run_ranks):
    """NCCL with one GPU per rank when there are two; else two ranks share the GPU over Gloo."""
    import pickle

    backend = "nccl" if torch.cuda.device_count() >= 2 else "gloo"
    run_ranks(_gpu_worker, 2, (str(tmp_path),), backend=backend, timeout=120)
    att, device = pickle.loads((tmp_path / "gpu.pkl").read_bytes())
    x, y, *_ = _data()
    ref = igc(mish_mlp(), x, y, baselines=4, n_steps=6, progress=False, device="cpu", distributed=False)
    assert device.startswith("cuda")
    np.testing.assert_allclose(att, ref.attributions, rtol=0, atol=1e-10 * np.abs(ref.attributions).max())


class _SlowToFormat(ValueError):
    """Formatting its message takes seconds the first time: a rank that fails first but, on a
    loaded machine, exits after the rank that failed because of it."""

    formatted = False

    def __str__(self):
        if not _SlowToFormat.formatted:
            _SlowToFormat.formatted = True
            time.sleep(6)  # longer than run_local's 5 s grace before the others are stopped
        return "slow boom on rank 1"


def _first_failure_worker() -> None:
    if D.rank() == 1:
        raise _SlowToFormat()
    D.barrier("waiting for rank 1")  # fails once rank 1 leaves the group


@pytest.mark.slow
def test_run_local_names_the_rank_that_failed_first_even_when_it_exits_last(run_ranks):
    with pytest.raises(D.DistributedError) as info:
        run_ranks(_first_failure_worker, 2, (), timeout=60)
    msg = str(info.value)
    assert msg.startswith("rank 1 of the local distributed run failed first"), msg
    assert "slow boom on rank 1" in msg.splitlines()[0]
    assert "another rank stopped" in msg  # rank 0's own error follows
