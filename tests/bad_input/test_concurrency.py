"""Two runs into one derivatives folder, runs killed mid-step, derivatives changed behind the
pipeline's back: one run at a time (a lock), step records that check their files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from neuro_igc.cli import main
from neuro_igc.pipeline import LockTimeout, load_config, run_pipeline
from neuro_igc.pipeline._run import LOCK_NAME
from neuro_igc.pipeline._state import file_digest

TINY = {"benchmark.experiments": ["A"], "benchmark.n_samples": 40,
        "benchmark.params": {"methods": ["IGC", "IG mean"], "n_steps": 4, "baselines": 2, "n_mc": 500}}
REPO = Path(__file__).resolve().parents[2]


def _run(tmp_path, out, **kwargs):
    cfg = load_config("synthetic_benchmark", overrides={**TINY, **kwargs.pop("overrides", {})})
    return run_pipeline(tmp_path, out, "participant", cfg, device="cpu", progress=False, **kwargs)


def _hold_lock_in_other_process(root: Path):
    """A separate process that holds the folder's lock until its stdin closes."""
    root.mkdir(parents=True, exist_ok=True)
    code = ("import sys; from pathlib import Path; from neuro_igc.pipeline._run import folder_lock\n"
            "with folder_lock(Path(sys.argv[1]), timeout=10):\n"
            "    print('held', flush=True); sys.stdin.read()\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", code, str(root)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_run_fails_at_once_with_a_clear_message(tmp_path):
    out = tmp_path / "out"
    holder = _hold_lock_in_other_process(out / "neuro-igc")
    try:
        with pytest.raises(LockTimeout, match=r"Another neuro-igc run is writing to .*neuro-igc.*--wait SECONDS"):
            _run(tmp_path, out)
        with pytest.raises(LockTimeout, match=r"after waiting 0.3 s"):
            _run(tmp_path, out, lock_timeout=0.3)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert not (out / "neuro-igc" / "logs" / "steps").exists()  # the refused runs wrote nothing
    assert _run(tmp_path, out).records  # once released, a run goes through


def test_second_run_on_the_command_line_exits_1(tmp_path, capsys):
    out = tmp_path / "out"
    holder = _hold_lock_in_other_process(out / "neuro-igc")
    try:
        args = [str(tmp_path), str(out), "participant", "--config", "synthetic_benchmark", "--no-progress"]
        assert main(args) == 1
        err = capsys.readouterr().err
        assert "Another neuro-igc run is writing to" in err and "Traceback" not in err
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_second_run_waits_for_the_first(tmp_path):
    out = tmp_path / "out"
    holder = _hold_lock_in_other_process(out / "neuro-igc")
    threading.Timer(1.0, holder.stdin.close).start()
    t0 = time.monotonic()
    res = _run(tmp_path, out, lock_timeout=60)
    assert time.monotonic() - t0 >= 0.9 and not any(r.skipped for r in res.records)
    holder.wait(timeout=30)


def test_two_threads_with_different_settings_do_not_mix(tmp_path):
    """Runs with different settings into one folder, started together: each one's records match
    the files on disk, and the last one's settings are what a re-run finds unchanged."""
    out = tmp_path / "out"
    results, errors, finished = {}, [], []

    def go(seed):
        try:
            results[seed] = _run(tmp_path, out, overrides={"benchmark.seed": seed}, lock_timeout=120)
            finished.append(seed)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors and set(results) == {1, 2}
    assert all(not r.skipped for res in results.values() for r in res.records)
    root = out / "neuro-igc"
    record = json.loads(next((root / "logs" / "steps").glob("*.json")).read_text())
    last = finished[-1]
    assert len({results[s].log for s in results}) == 2  # each run kept its own log
    again = _run(tmp_path, out, overrides={"benchmark.seed": last})
    assert all(r.skipped for r in again.records)
    assert record["hash"] == again.records[0].hash
    other = _run(tmp_path, out, overrides={"benchmark.seed": 3 - last})
    assert not any(r.skipped for r in other.records)  # settings changed: redone, not trusted


# one damage in the default suite, all three (~7 s each) with `make test-all`
@pytest.mark.parametrize("damage", [pytest.param("junk", marks=pytest.mark.slow),
                                    pytest.param("truncate", marks=pytest.mark.slow), "delete"])
def test_changed_derivative_is_not_unchanged(tmp_path, damage):
    out = tmp_path / "out"
    first = _run(tmp_path, out)
    rel = next(p for p in first.records[0].outputs if p.endswith(".tsv"))
    path = out / "neuro-igc" / rel
    original = path.read_bytes()
    if damage == "junk":  # same size, other bytes
        path.write_bytes(bytes((b + 1) % 256 for b in original))
    elif damage == "truncate":
        path.write_bytes(original[: len(original) // 2])
    else:
        path.unlink()
    damaged = path.read_bytes() if path.exists() else None
    again = _run(tmp_path, out)
    assert not again.records[0].skipped
    assert path.exists() and path.read_bytes() != damaged  # written afresh
    record = json.loads(next((out / "neuro-igc" / "logs" / "steps").glob("*.json")).read_text())
    assert record["files"][rel] == file_digest(path)
    assert _run(tmp_path, out).records[0].skipped


def test_corrupt_step_record_redoes_the_step(tmp_path):
    out = tmp_path / "out"
    _run(tmp_path, out)
    record = next((out / "neuro-igc" / "logs" / "steps").glob("*.json"))
    record.write_bytes(b"\x00{not json")
    assert not _run(tmp_path, out).records[0].skipped
    json.loads(record.read_text())  # rewritten


def test_record_without_file_digests_is_not_trusted(tmp_path):
    """Records written before the digests existed (or edited by hand) redo their step."""
    out = tmp_path / "out"
    _run(tmp_path, out)
    record = next((out / "neuro-igc" / "logs" / "steps").glob("*.json"))
    data = json.loads(record.read_text())
    data.pop("files")
    record.write_text(json.dumps(data))
    assert not _run(tmp_path, out).records[0].skipped


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_run_killed_mid_step_releases_the_lock_and_is_redone(tmp_path):
    out = tmp_path / "out"
    root = out / "neuro-igc"
    settings = json.dumps({**TINY, "benchmark.n_samples": 4000})
    code = ("import json, sys; from neuro_igc.pipeline import load_config, run_pipeline\n"
            "cfg = load_config('synthetic_benchmark', overrides=json.loads(sys.argv[2]))\n"
            "run_pipeline(sys.argv[1], sys.argv[1] + '/out', 'participant', cfg, device='cpu', progress=False)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path), settings], env=env)
    try:
        deadline = time.monotonic() + 120
        while not (root / ".staging").exists():  # the step has started
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert (root / LOCK_NAME).exists()
    assert not list((root / "logs" / "steps").glob("*.json")) if (root / "logs" / "steps").exists() else True
    res = _run(tmp_path, out)  # the killed run's lock is gone with it; its step is redone
    assert not any(r.skipped for r in res.records)
    assert not (root / ".staging").exists()
