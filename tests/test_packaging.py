"""The built wheel carries its package data: shipped pipelines and atlas tables load from it,
outside the repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CHECK = r"""
import json, sys
from pathlib import Path
import neuro_igc
from neuro_igc.pipeline import PIPELINES_DIR, load_config, shipped_pipelines
from neuro_igc.atlas import nsd_table
names = shipped_pipelines()
configs = {n: load_config(n).task for n in names}
tables = {a: len(nsd_table(a)) for a in ("prf-visualrois", "floc-faces", "streams")}
print(json.dumps({"file": neuro_igc.__file__, "dir": str(PIPELINES_DIR), "configs": configs,
                  "tables": tables}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the sources (the checkout is left untouched)."""
    if not (REPO / "pyproject.toml").is_file():
        pytest.skip("not run from a source checkout")
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "neuro_igc", src / "neuro_igc",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    if proc.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{proc.stdout}\n{proc.stderr}")
    (whl,) = out.glob("neuro_igc-*.whl")
    return whl


def test_wheel_lists_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    configs = {Path(n).stem for n in names if n.startswith("neuro_igc/pipeline/configs/") and n.endswith(".yaml")}
    shipped = {p.stem for p in (REPO / "neuro_igc" / "pipeline" / "configs").glob("*.yaml")}
    assert shipped and configs == shipped
    tables = sorted(n for n in names if n.endswith(".mgz.ctab"))
    shipped_tables = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "neuro_igc").rglob("*.mgz.ctab"))
    assert shipped_tables and tables == shipped_tables
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "neuro-igc = neuro_igc.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_configs_load_from_the_unpacked_wheel_outside_the_repository(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    proc = subprocess.run([sys.executable, "-c", CHECK], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(got["file"]).is_relative_to(site)  # the wheel's copy, not the checkout
    assert Path(got["dir"]).is_relative_to(site)
    assert got["configs"] == {"decoding_image_stats": "decoding", "decoding_ridge": "decoding",
                              "encoding_prf": "encoding", "synthetic_benchmark": "benchmark"}
    assert all(n > 1 for n in got["tables"].values())

    listed = subprocess.run([sys.executable, "-m", "neuro_igc.cli", "pipelines"], cwd=elsewhere,
                            env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] == sorted(got["configs"])
    shown = subprocess.run([sys.executable, "-m", "neuro_igc.cli", "pipelines", "show", "encoding_prf"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and "name: encoding_prf" in shown.stdout
