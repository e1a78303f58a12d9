"""Pipelines across processes: every rank trains and attributes, rank 0 alone writes; a failing
rank stops the run with its error (Gloo on 127.0.0.1; the CLI under torchrun in the slow test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neuro_igc import _distributed as D
from neuro_igc.attribution import AttributionResult
from neuro_igc.pipeline import load_config, run_pipeline

REPO = Path(__file__).resolve().parents[2]
TINY = {"training.epochs": 2, "attribution.n_steps": 4, "attribution.baselines": 4,
        "outputs.roi.atlases": ["prf-visualrois"], "outputs.views": ["posterior"], "outputs.figures": False}


@pytest.fixture(scope="module")
def nsd(tmp_path_factory):
    from neuro_igc.data import make_nsd_like

    root = tmp_path_factory.mktemp("nsd") / "nsd"
    make_nsd_like(root, subjects=2, sessions=2, trials=100, image_size=64, volume_spaces=(), seed=1,
                  progress=False)
    return root


@pytest.fixture(scope="module")
def single(nsd, tmp_path_factory):
    """One process: the reference derivatives and the trained model."""
    out = tmp_path_factory.mktemp("single")
    run_pipeline(nsd, out, "participant", load_config("decoding_image_stats", overrides=TINY), device="cpu",
                 progress=False)
    return out / "neuro-igc"


def _pipeline_worker(nsd: str, out: str, overrides: dict, fail_rank) -> None:
    if fail_rank is not None and D.rank() == fail_rank:  # this rank fails while the others train
        import neuro_igc.models

        def boom(*args, **kwargs):
            raise ValueError(f"boom on rank {D.rank()}")

        neuro_igc.models.fit = boom
    res = run_pipeline(nsd, out, "participant", load_config("decoding_image_stats", overrides=overrides),
                       device="cpu", progress=False)
    Path(out, f"rank{D.rank()}.json").write_text(json.dumps([r.key for r in res.records]))


def _igc(root: Path, sub: str) -> AttributionResult:
    return AttributionResult.load(root / f"sub-{sub}" / "func" / f"sub-{sub}_desc-imagestats_igc.npz")


@pytest.mark.slow
def test_two_ranks_attribute_and_rank0_writes(nsd, single, tmp_path, run_ranks):
    ckpt = single / "models" / "imagestats" / "member-00_model.pt"
    run_ranks(_pipeline_worker, 2, (str(nsd), str(tmp_path), {**TINY, "model.checkpoint": str(ckpt)}, None),
              timeout=120, join_timeout=400)
    root = tmp_path / "neuro-igc"
    keys = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert keys[0] == keys[1] and "imagestats/sub-02/roi" in keys[0]
    for sub in ("01", "02"):
        a, b = _igc(single, sub), _igc(root, sub)
        assert b.settings["world_size"] == 2
        # float32 model: the ranks' smaller batches round differently (as another batch_size would)
        scale = np.abs(a.attributions).max()
        np.testing.assert_allclose(b.attributions, a.attributions, rtol=0, atol=1e-5 * scale)
        np.testing.assert_allclose(b.correlation, a.correlation, atol=1e-5)
    assert len(list((root / "logs").glob("decoding_image_stats_participant_*.log"))) == 1
    assert len(list((root / "logs" / "steps").glob("*.json"))) == len(keys[0])
    assert not list(root.rglob(".*rank*")) and not (root / ".staging").exists()


def test_a_failing_rank_stops_the_run_with_its_error(nsd, tmp_path, run_ranks):
    with pytest.raises(D.DistributedError, match="boom on rank 1"):
        run_ranks(_pipeline_worker, 2, (str(nsd), str(tmp_path), TINY, 1), timeout=60, join_timeout=300)
    assert not list((tmp_path / "neuro-igc" / "logs" / "steps").glob("*.json"))  # no step recorded
    assert not list((tmp_path / "neuro-igc" / "models").rglob("*.pt"))


@pytest.mark.slow
def test_cli_under_torchrun_trains_with_ddp_and_attributes(nsd, tmp_path):
    out = tmp_path / "out"
    sets = [f"--set={k}={json.dumps(v)}" for k, v in TINY.items()]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
           str(D.free_port()), "-m", "neuro_igc.cli", str(nsd), str(out), "participant", "--config",
           "decoding_image_stats", "--device", "cpu", "--no-progress", *sets]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NEURO_IGC_DIST_TIMEOUT": "120",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("neuro-igc decoding_image_stats (participant level") == 1  # rank 0's summary
    root = out / "neuro-igc"
    # the IGC of the DDP-trained model, computed again in one process, gives the same maps
    ckpt = root / "models" / "imagestats" / "member-00_model.pt"
    ref = tmp_path / "ref"
    run_pipeline(nsd, ref, "participant", load_config("decoding_image_stats",
                                                      overrides={**TINY, "model.checkpoint": str(ckpt)}),
                 device="cpu", progress=False)
    for sub in ("01", "02"):
        a, b = _igc(ref / "neuro-igc", sub), _igc(root, sub)
        np.testing.assert_allclose(b.attributions, a.attributions, rtol=0, atol=1e-5 * np.abs(a.attributions).max())


_FAILING_RANK = """
import os, sys
if os.environ["RANK"] == "1":
    import neuro_igc.models

    def boom(*args, **kwargs):
        raise ValueError("boom on rank 1")

    neuro_igc.models.fit = boom
from neuro_igc.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_cli_under_torchrun_stops_every_rank_with_the_failing_ranks_error(nsd, tmp_path):
    script = tmp_path / "failing_rank.py"
    script.write_text(_FAILING_RANK)
    sets = [f"--set={k}={json.dumps(v)}" for k, v in TINY.items()]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
           str(D.free_port()), str(script), str(nsd), str(tmp_path / "out"), "participant", "--config",
           "decoding_image_stats", "--device", "cpu", "--no-progress", *sets]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NEURO_IGC_DIST_TIMEOUT": "60",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "neuro-igc (rank 1 of 2): error: boom on rank 1" in proc.stderr, proc.stderr[-3000:]
    assert "rank      : 1" in proc.stderr  # torchrun's root cause names the failing rank
