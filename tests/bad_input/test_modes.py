"""Files are written with the process umask, as ``open()`` would, in every writer: atomic
writes, the synthetic NSD-like folder and a pipeline's derivatives."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from neuro_igc._utils import atomic_path, atomic_write_text, current_umask

TINY_BENCHMARK = {"benchmark.experiments": ["A"], "benchmark.n_samples": 40,
                  "benchmark.params": {"methods": ["IGC", "IG mean"], "n_steps": 4, "baselines": 2, "n_mc": 500}}


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*") if p.is_file()}


def _assert_modes(root: Path, mask: int) -> None:
    modes = _modes(root)
    assert modes, f"nothing written under {root}"
    wrong = {name: oct(m) for name, m in modes.items() if m != 0o666 & ~mask}
    assert not wrong, f"files not of mode {oct(0o666 & ~mask)} under umask {oct(mask)}: {wrong}"


def test_current_umask_reads_without_changing(umask):
    assert current_umask() == umask
    assert current_umask() == umask


def test_atomic_writes_follow_umask(umask, tmp_path):
    atomic_write_text(tmp_path / "a.txt", "x")
    with atomic_path(tmp_path / "b.npy") as tmp:
        np.save(tmp, np.arange(3))
    with atomic_path(tmp_path / "c.nii.gz") as tmp:
        import nibabel as nib

        nib.save(nib.Nifti1Image(np.zeros((2, 2, 2), np.float32), np.eye(4)), tmp)
    _assert_modes(tmp_path, umask)
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_synthetic_folder_follows_umask(umask, tmp_path):
    from neuro_igc.data import make_nsd_like

    make_nsd_like(tmp_path / "nsd", subjects=1, sessions=1, trials=12, image_size=16,
                  volume_spaces=(), seed=0, progress=False)
    _assert_modes(tmp_path / "nsd", umask)


def test_derivatives_follow_umask(umask, tmp_path):
    from neuro_igc.pipeline import load_config, run_pipeline

    cfg = load_config("synthetic_benchmark", overrides=TINY_BENCHMARK)
    res = run_pipeline(tmp_path, tmp_path / "out", "participant", cfg, device="cpu", progress=False)
    assert res.report is not None and res.report.exists()
    _assert_modes(tmp_path / "out" / "neuro-igc", umask)
