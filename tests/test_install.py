"""A wheel installed into a new environment runs `neuro-igc synth` and a shipped pipeline by
name from another directory (the package's files, not the checkout's, are used)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_installed_package_runs_synth_and_a_shipped_pipeline(tmp_path):
    if not (REPO / "pyproject.toml").is_file():
        pytest.skip("not run from a source checkout")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "neuro_igc", src / "neuro_igc", ignore=shutil.ignore_patterns("__pycache__"))
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    # the dependencies come from the running environment (no download); a path line in a .pth
    # file adds that folder only, not the editable install of the checkout it may hold
    purelib = sysconfig.get_paths()["purelib"]
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "deps.pth").write_text(purelib + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # the wheel is built with this environment's build tools, then installed as a user would
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "--no-index", "-w", str(dist), str(src)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("neuro_igc-*.whl")
    install = subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                             capture_output=True, text=True, env=env, timeout=600)
    assert install.returncode == 0, install.stderr
    shutil.rmtree(src)  # nothing left to import from but the installed package

    work = tmp_path / "elsewhere"
    work.mkdir()
    exe = env_dir / "bin" / "neuro-igc"

    def run(*args):
        proc = subprocess.run([str(exe), *args], cwd=work, capture_output=True, text=True, env=env, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc

    where = subprocess.run([py, "-c", "import neuro_igc; print(neuro_igc.__file__)"], cwd=work,
                           capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert Path(where).is_relative_to(env_dir)
    assert "encoding_prf" in run("pipelines").stdout
    run("synth", "nsd", "--subjects", "1", "--sessions", "2", "--trials", "120", "--image-size", "32",
        "--volume-spaces")
    out = run("nsd", "out", "participant", "--config", "decoding_ridge", "--device", "cpu", "--no-progress",
              "--set", "outputs.roi.atlases=[prf-visualrois]", "--set", "outputs.views=[posterior]").stdout
    assert "step(s) run" in out and "decoding_ridge" in out
    root = work / "out" / "neuro-igc"
    assert (root / "decoding_ridge_participant_report.html").is_file()
    assert list((root / "sub-01" / "func").glob("sub-01_hemi-L_space-fsaverage_den-10k_stat-igc_desc-ridge*_statmap.func.gii"))
