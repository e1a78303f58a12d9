"""Training across processes (torch.distributed, Gloo on 127.0.0.1): DDP, ensembles, resume."""

from __future__ import annotations

import os
import pickle
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from neuro_igc import _distributed as D
from neuro_igc.models import fit, fit_ensemble, read_checkpoint

OPTS = dict(epochs=4, batch_size=12, lr=1e-2, progress=False, device="cpu")


class Net(nn.Module):
    """A float64 MLP without BatchNorm or dropout: a DDP step must equal the whole batch's step.
    ``spare`` is never used (as another subject's layer in a per-subject batch): it must stay as
    initialised. ``kill_at`` SIGKILLs rank 1 at that training forward pass (a rank dying mid-run)."""

    def __init__(self, seed=0, kill_at=None):
        super().__init__()
        torch.manual_seed(seed)
        self.body = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2))
        self.spare = nn.Linear(5, 2)
        self.double()
        self.kill_at, self.calls = kill_at, 0

    def forward(self, x):
        if self.training:
            self.calls += 1
            if self.kill_at is not None and self.calls == self.kill_at and D.rank() == 1:
                os.kill(os.getpid(), signal.SIGKILL)
        return self.body(x)


def _data(n=60):  # 5 batches of 12: none too small to split over two ranks
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 5, dtype=torch.float64, generator=g)
    y = torch.stack([x[:, 0] * 2 - x[:, 1], torch.tanh(x[:, 2])], 1) + 0.1 * torch.randn(n, 2, generator=g,
                                                                                        dtype=torch.float64)
    return TensorDataset(x, y)


def _state(model) -> dict:
    return {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def _fit_worker(folder: str, kill_at, resume: bool) -> None:
    ds = _data()
    ckpt = Path(folder) / "model.pt"
    res = fit(Net(seed=D.rank(), kill_at=kill_at), ds, ds, checkpoint=ckpt, resume=resume, **OPTS)
    Path(folder, f"rank{D.rank()}.pkl").write_bytes(pickle.dumps((_state(res.model), res.history)))
    if kill_at is None and not resume:  # a zoo model with BatchNorm and per-subject layers
        from neuro_igc.models import build_model

        sub = torch.arange(60) % 2
        zoo = TensorDataset(ds.tensors[0].float(), ds.tensors[1].float(), sub)
        res = fit(build_model("decoding_mlp", n_inputs=5, n_outputs=2, n_subjects=2, hidden=8, widths=(4,),
                              seed=D.rank()), zoo, zoo, **{**OPTS, "epochs": 3})
        Path(folder, f"zoo{D.rank()}.pkl").write_bytes(pickle.dumps((_state(res.model), res.history)))


def _ensemble_worker(folder: str) -> None:
    ds = _data()
    res = fit_ensemble(lambda s: Net(seed=s), ds, ds, n_models=3, keep=2, seed=5, checkpoint_dir=folder, **OPTS)
    out = ([_state(m) for m in res.models], res.selected, res.scores, res.histories)
    Path(folder, f"rank{D.rank()}.pkl").write_bytes(pickle.dumps(out))


def _close(a: dict, b: dict, tol: float) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=tol, atol=tol, err_msg=k)


def test_ddp_equals_whole_batch_training_and_rank0_checkpoints(tmp_path, run_ranks):
    run_ranks(_fit_worker, 2, (str(tmp_path), None, False), timeout=60)
    got = [pickle.loads((tmp_path / f"rank{r}.pkl").read_bytes()) for r in (0, 1)]
    # every rank holds the same model (rank 0's initial weights: rank 1 started from seed 1)
    _close(got[0][0], got[1][0], 0)
    ref = fit(Net(seed=0), _data(), _data(), **OPTS)
    _close(_state(ref.model), got[0][0], 1e-9)
    _close(_state(Net(seed=0).spare), {k[6:]: v for k, v in got[0][0].items() if k.startswith("spare.")}, 0)
    assert [h["epoch"] for h in got[0][1]] == [1, 2, 3, 4]
    np.testing.assert_allclose([h["train_loss"] for h in got[0][1]], [h["train_loss"] for h in ref.history],
                               rtol=1e-9)
    # BatchNorm statistics and the learning-rate schedule agree across the ranks
    zoo = [pickle.loads((tmp_path / f"zoo{r}.pkl").read_bytes()) for r in (0, 1)]
    _close(zoo[0][0], zoo[1][0], 0)
    assert zoo[0][1] == zoo[1][1]
    state = read_checkpoint(tmp_path / "model.pt")
    assert state["epoch"] == 4 and len(state["rng_ranks"]) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_resume_after_a_rank_is_killed_equals_the_uninterrupted_run(tmp_path, run_ranks):
    full, broken = tmp_path / "full", tmp_path / "broken"
    full.mkdir(), broken.mkdir()
    run_ranks(_fit_worker, 2, (str(full), None, False), timeout=60)
    # rank 1 dies at its 13th training step: in epoch 3, after the checkpoint of epoch 2
    with pytest.raises(D.DistributedError, match="exited|signal|failed"):
        run_ranks(_fit_worker, 2, (str(broken), 13, False), timeout=30)
    assert read_checkpoint(broken / "model.pt")["epoch"] in (1, 2)
    run_ranks(_fit_worker, 2, (str(broken), None, True), timeout=60)
    a = pickle.loads((full / "rank0.pkl").read_bytes())
    b = pickle.loads((broken / "rank0.pkl").read_bytes())
    _close(a[0], b[0], 0)
    assert a[1] == b[1]


def test_ensemble_members_are_spread_over_the_ranks(tmp_path, run_ranks):
    run_ranks(_ensemble_worker, 2, (str(tmp_path),), timeout=60)
    got = [pickle.loads((tmp_path / f"rank{r}.pkl").read_bytes()) for r in (0, 1)]
    ref = fit_ensemble(lambda s: Net(seed=s), _data(), _data(), n_models=3, keep=2, seed=5, **OPTS)
    for models, selected, scores, histories in got:
        assert selected == ref.selected
        np.testing.assert_allclose(scores, ref.scores, rtol=1e-10)
        assert [len(h) for h in histories] == [4, 4, 4]
        for m_ref, m in zip(ref.models, models):
            _close(_state(m_ref), m, 1e-10)
    for i in range(3):  # each member's checkpoint, written by the rank that trained it
        assert read_checkpoint(tmp_path / f"member_{i:02d}.pt")["epoch"] == 4
