"""The derivatives folder is the pipeline's alone: a config's ``name`` cannot lead outside it, and
a symbolic link planted inside it (a shared folder) is refused with a clear error, never followed
for writing, reading or deleting. Every case checks an outside folder byte for byte."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from neuro_igc.pipeline import ConfigError, load_config, run_pipeline
from neuro_igc.pipeline._paths import UnsafePathError, inside, refuse_links, remove_tree
from neuro_igc.pipeline._state import StepCache

TINY_BENCHMARK = {"benchmark.experiments": ["A"], "benchmark.n_samples": 40,
                  "benchmark.params": {"methods": ["IGC", "IG mean"], "n_steps": 4, "baselines": 2, "n_mc": 500}}
STAGE = "benchmark_benchmark"  # the staging folder of step "benchmark/benchmark": a predictable name


def _snapshot(folder: Path) -> dict:
    """Every entry under ``folder``: kind and, for files, their bytes (links are not followed)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.is_symlink():
            out[rel] = ("link", os.readlink(p))
        elif p.is_file():
            out[rel] = ("file", p.read_bytes(), p.stat().st_mtime_ns)
        else:
            out[rel] = ("dir",)
    return out


def _victim(folder: Path) -> Path:
    """A folder outside the derivatives that a link may point to: files a run must not touch,
    named like what the pipeline writes (its step folders' names are predictable)."""
    for rel in ("precious.txt", f"{STAGE}/precious.txt", "benchmark/precious.txt", "steps/precious.json"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(f"do not touch {rel}\n")
    (folder / "description.json").write_text('{"Name": "not ours", "GeneratedBy": []}\n')
    return folder


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A derivatives folder of a finished run (the tree a later run finds)."""
    out = tmp_path_factory.mktemp("finished")
    run_pipeline(out, out / "out", "participant", load_config("synthetic_benchmark", overrides=TINY_BENCHMARK),
                 device="cpu", progress=False)
    return out / "out"


@pytest.mark.parametrize("planted, target", [
    (".staging", "."),                                # the run would rmtree .staging/<step> out there
    ("logs", "."),                                    # the run log and the lock file
    ("logs/steps", "steps"),                          # the step records
    ("benchmark", "benchmark"),                       # a step's output folder
    ("models", "."),                                  # models/<label>/ of a decoding run
    ("dataset_description.json", "description.json"),  # read, and its content copied into ours
    ("benchmark/figures", "."),
])
def test_a_link_inside_the_derivatives_is_refused(finished, tmp_path, planted, target):
    out = tmp_path / "out"
    shutil.copytree(finished, out, symlinks=True)
    victim = _victim(tmp_path / "victim")
    link = out / "neuro-igc" / planted
    if link.is_dir():
        shutil.rmtree(link)
    elif link.exists():
        link.unlink()
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(victim / target)
    before = _snapshot(victim)
    with pytest.raises(UnsafePathError) as info:
        run_pipeline(tmp_path, out, "participant", load_config("synthetic_benchmark", overrides=TINY_BENCHMARK),
                     device="cpu", progress=False, force=True)
    msg = str(info.value)
    assert "is a symbolic link" in msg and planted.split("/")[-1] in msg and "Remove the link" in msg
    assert _snapshot(victim) == before


def test_a_linked_derivatives_folder_is_refused(tmp_path):
    victim = _victim(tmp_path / "victim")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "neuro-igc").symlink_to(victim)
    before = _snapshot(victim)
    with pytest.raises(UnsafePathError, match="is a symbolic link"):
        run_pipeline(tmp_path, tmp_path / "out", "participant",
                     load_config("synthetic_benchmark", overrides=TINY_BENCHMARK), device="cpu", progress=False)
    assert _snapshot(victim) == before


def test_a_link_planted_during_a_run_is_not_followed(tmp_path):
    """The step cache checks every folder it deletes and every file it moves, not only the tree at
    the start of the run: a ``.staging`` or output folder linked while the run goes on."""
    root = tmp_path / "out" / "neuro-igc"
    root.mkdir(parents=True)
    victim = _victim(tmp_path / "victim")
    before = _snapshot(victim)
    cache = StepCache(root)
    (root / ".staging").symlink_to(victim)
    with pytest.raises(UnsafePathError, match=r"\.staging"):
        cache.run("benchmark/benchmark", {"a": 1}, lambda stage: (stage / "benchmark").mkdir())
    (root / ".staging").unlink()

    def work(stage):
        (stage / "benchmark").mkdir()
        (stage / "benchmark" / "precious.txt").write_text("overwritten\n")
        (root / "benchmark").symlink_to(victim / "benchmark")  # linked while the step runs

    with pytest.raises(UnsafePathError, match=r"benchmark"):
        cache.run("benchmark/benchmark", {"a": 2}, work)
    assert _snapshot(victim) == before
    assert not (root / ".staging").exists()  # the staging folder is cleaned up anyway


@pytest.mark.parametrize("name", ["../victim/escaped", "../../victim/escaped", "/tmp/escaped", "a/b", "..", ".hidden",
                                  "x" * 260, ""])
def test_a_name_that_is_not_a_plain_name_is_refused(name):
    with pytest.raises(ConfigError) as info:
        load_config("synthetic_benchmark", overrides={"name": name})
    msg = str(info.value)
    assert "'name'" in msg
    if len(name) > 100:
        assert "260 characters long; give at most 100" in msg
    elif name:
        assert "becomes part of file names" in msg and repr(name) in msg


@pytest.mark.parametrize("key, value", [
    ("label", "x" * 65),
    ("data.beta_version", "../../../etc"),
    ("data.roi_atlas", "../secret"),
    ("outputs.roi.atlases", ["prf-visualrois", "../../x"]),
])
def test_other_config_strings_that_become_path_parts_are_checked(key, value):
    with pytest.raises(ConfigError, match=rf"Invalid value for '{re.escape(key)}(\[1\])?'"):
        load_config("encoding_prf", overrides={key: value})


def test_an_escaping_name_on_the_command_line_writes_nothing_outside(tmp_path, capsys):
    from neuro_igc.cli import main

    victim = _victim(tmp_path / "victim")
    before = _snapshot(tmp_path)
    tiny = [f"--set={k}={json.dumps(v)}" for k, v in TINY_BENCHMARK.items()]  # a quick run, were it to start
    code = main([str(tmp_path / "nsd"), str(tmp_path / "out"), "participant", "--config", "synthetic_benchmark",
                 "--set", "name=../../victim/escaped", "--no-progress", *tiny])
    err = capsys.readouterr().err
    assert code != 0 and "'name'" in err and "no '/'" in err
    assert _snapshot(tmp_path) == before  # the victim folder included


def test_path_helpers(tmp_path):
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    assert inside(root, root / "a" / "new.txt") == root / "a" / "new.txt"
    with pytest.raises(UnsafePathError, match="lies outside the derivatives folder"):
        inside(root, root / "a" / ".." / ".." / "x")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "keep.txt").write_text("keep")
    (root / "a" / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafePathError, match="is a symbolic link"):
        inside(root, root / "a" / "link" / "keep.txt")
    with pytest.raises(UnsafePathError, match="is a symbolic link"):
        refuse_links(root)
    with pytest.raises(UnsafePathError):
        remove_tree(root, root / "a" / "link")
    remove_tree(root, root / "a")  # removes the link inside, not what it points to
    assert not (root / "a").exists() and (tmp_path / "elsewhere" / "keep.txt").read_text() == "keep"
