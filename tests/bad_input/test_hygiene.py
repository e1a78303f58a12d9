"""Library calls leave the caller's global state alone: matplotlib backend and pyplot figures,
torch's thread count; resuming training with other arguments is refused, not mixed."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
import torch


@pytest.fixture
def backend_guard(monkeypatch):
    """Fail if library code switches the matplotlib backend."""
    import matplotlib

    calls = []
    monkeypatch.setattr(matplotlib, "use", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(matplotlib, "get_backend", lambda *a, **k: "QtAgg")  # as in a notebook or a GUI
    return calls


def test_roi_plot_leaves_backend_and_pyplot_alone(tmp_path, backend_guard):
    from neuro_igc.atlas import plot_roi_sums

    before = set(sys.modules["matplotlib.pyplot"].get_fignums()) if "matplotlib.pyplot" in sys.modules else set()
    table = pd.DataFrame({"subject": ["01", "01", "02", "02"], "output": ["a"] * 4, "roi": ["V1", "V2"] * 2,
                          "value": [1.0, 2.0, 1.5, 2.5], "n_features": [3, 3, 3, 3]})
    path = plot_roi_sums(table, tmp_path / "roi.png", ylabel="ROI mean of pRF")
    assert path.stat().st_size > 0
    assert backend_guard == []
    if "matplotlib.pyplot" in sys.modules:
        assert set(sys.modules["matplotlib.pyplot"].get_fignums()) == before


def test_benchmark_plot_leaves_backend_alone(tmp_path, backend_guard):
    from neuro_igc.benchmark._report import plot_benchmark

    maps = {("A", "truth"): np.random.rand(8, 8), ("A", "IGC"): np.random.rand(8, 8)}
    plot_benchmark(maps, tmp_path / "b.png")
    assert backend_guard == []


def test_run_pipeline_restores_torch_threads(tmp_path, monkeypatch):
    import neuro_igc.benchmark as bench  # the pipeline calls the public name
    from neuro_igc.pipeline import load_config, run_pipeline

    cfg = load_config("synthetic_benchmark", overrides={
        "benchmark.experiments": ["A"], "benchmark.n_samples": 40,
        "benchmark.params": {"methods": ["IGC"], "n_steps": 2, "baselines": 2, "n_mc": 200}})
    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2
    seen = []
    real = bench.run_benchmark

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(bench, "run_benchmark", spy)
    run_pipeline(tmp_path, tmp_path / "out", "participant", cfg, device="cpu", progress=False, n_jobs=wanted)
    assert seen == [wanted]  # the run used the threads asked for ...
    assert torch.get_num_threads() == before  # ... and gave the caller's count back


def test_run_pipeline_restores_torch_threads_after_a_failure(tmp_path):
    from neuro_igc.pipeline import PipelineError, load_config, run_pipeline

    before = torch.get_num_threads()
    with pytest.raises(PipelineError, match="NSD_ROOT"):
        run_pipeline(tmp_path / "missing", tmp_path / "out", "participant", load_config("decoding_ridge"),
                     device="cpu", progress=False, n_jobs=1 if before != 1 else 2)
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("change, words", [
    ({"lr": 1e-2}, ["lr=0.001 there, 0.01 now"]),
    ({"batch_size": 8}, ["batch_size=16 there, 8 now"]),
    ({"weight_decay": 0.1}, ["weight_decay=0.0 there, 0.1 now"]),
    ({"seed": 3}, ["seed=0 there, 3 now"]),
    ({"epochs": 1}, ["already run 2 epochs, more than epochs=1"]),
])
def test_resume_with_other_training_arguments_is_refused(tmp_path, change, words):
    from neuro_igc.models import build_model, fit

    x = torch.randn(48, 6)
    ds = torch.utils.data.TensorDataset(x, x[:, :2].clone())
    ckpt = tmp_path / "ckpt.pt"
    args = dict(epochs=2, batch_size=16, lr=1e-3, weight_decay=0.0, seed=0, progress=False, device="cpu")
    fit(build_model("decoding_mlp", n_inputs=6, seed=0), ds, ds, checkpoint=ckpt, **args)
    with pytest.raises(ValueError, match="Cannot resume from") as info:
        fit(build_model("decoding_mlp", n_inputs=6, seed=0), ds, ds, checkpoint=ckpt, resume=True,
            **{**args, **change})
    for w in words:
        assert w in str(info.value)
    # more epochs with the same arguments continues the run
    res = fit(build_model("decoding_mlp", n_inputs=6, seed=0), ds, ds, checkpoint=ckpt, resume=True,
              **{**args, "epochs": 3})
    assert len(res.history) == 3


def test_resume_on_other_data_is_refused(tmp_path):
    from neuro_igc.models import build_model, fit

    x = torch.randn(48, 6)
    ds = torch.utils.data.TensorDataset(x, x[:, :2].clone())
    small = torch.utils.data.TensorDataset(x[:40], x[:40, :2].clone())
    ckpt = tmp_path / "ckpt.pt"
    fit(build_model("decoding_mlp", n_inputs=6, seed=0), ds, ds, epochs=1, checkpoint=ckpt, progress=False, device="cpu")
    with pytest.raises(ValueError, match=r"n_train=48 there, 40 now"):
        fit(build_model("decoding_mlp", n_inputs=6, seed=0), small, ds, epochs=2, checkpoint=ckpt, resume=True,
            progress=False, device="cpu")


def test_progress_bars_in_a_log_update_every_few_seconds(monkeypatch, capsys):
    """stderr redirected to a file (here: captured, not a terminal): a bar writes a line every few
    seconds at most, not ten a second. A fake clock advances 1 s per reading, so 20 batches of
    pRF fits take 20 "seconds": every 5 s is at most 4 updates plus the first and the last."""
    import itertools

    import tqdm.std

    from neuro_igc.prf import fit_prf, gaussian_maps

    clock = itertools.count(1_000_000.0, 1.0)
    monkeypatch.setattr(tqdm.std, "time", lambda: next(clock))
    monkeypatch.delenv("TQDM_MININTERVAL", raising=False)
    maps = gaussian_maps(np.zeros(20), np.zeros(20), np.ones(20), shape=(8, 8), extent_deg=8.4)
    fit_prf(maps, 8.4, batch_size=1, progress=True)
    err = capsys.readouterr().err
    updates = err.count("\r")
    assert "pRF fits" in err and 2 <= updates <= 7, repr(err)


def test_no_module_makes_its_own_tqdm_bar():
    """Every bar goes through neuro_igc._utils.progress_bar (which sets the rate for logs)."""
    from pathlib import Path

    import neuro_igc

    root = Path(neuro_igc.__file__).parent
    offenders = [f"{p.relative_to(root)}: {line.strip()}" for p in root.rglob("*.py") if p.name != "_utils.py"
                 for line in p.read_text().splitlines() if line.strip().startswith(("from tqdm", "import tqdm"))]
    assert not offenders, offenders
