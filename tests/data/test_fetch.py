"""``neuro-igc nsd fetch`` against a real S3-compatible server on 127.0.0.1 (moto's standalone
server) holding a synthetic NSD folder in a bucket named like NSD's."""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("moto.server")
pytest.importorskip("boto3")

from neuro_igc.data._fetch import _client, _download, _ObjectChanged, fetch_nsd, part_path  # noqa: E402
from neuro_igc.data._manifest import nsd_manifest  # noqa: E402
from neuro_igc.pipeline import load_config  # noqa: E402
from neuro_igc.pipeline._nsd_cli import main  # noqa: E402

from nsd_s3 import BUCKET, CONFIG, LocalBucket  # noqa: E402

LH1 = "nsddata_betas/ppdata/subj01/fsaverage/betas_fithrf_GLMdenoise_RR/lh.betas_session01.mgh"


@pytest.fixture(scope="module")
def bucket(tiny):
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the server's request log
    b = LocalBucket()
    b.upload_folder(tiny[0])
    yield b
    b.stop()


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "checkfetch.yaml"
    path.write_text(CONFIG)
    return str(path)


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_fetch_gets_exactly_the_manifest_then_skips(bucket, tiny, tmp_path, config_file, capsys):
    dest = tmp_path / "nsd"
    args = ["--config", config_file, "--subjects", "1", "--sessions", "2", "--endpoint-url", bucket.url,
            "--no-progress"]
    code, out = _run(capsys, "fetch", str(dest), *args)
    assert code == 0, out
    from neuro_igc.pipeline._config import load_config as load

    manifest = nsd_manifest(load(config_file), subjects=[1], sessions=[2])
    assert _files(dest) == set(manifest.paths())  # nothing more, nothing less, no .part left
    for key in manifest.paths():
        assert (dest / key).read_bytes() == (tiny[0] / key).read_bytes()
    assert f"{len(manifest)} downloaded" in out
    # the fetched folder is what the run needs
    code, out = _run(capsys, "check", str(dest), "--config", config_file)
    assert code == 0, out
    # a second fetch downloads nothing
    stamps = {k: (dest / k).stat().st_mtime_ns for k in manifest.paths()}
    code, out = _run(capsys, "fetch", str(dest), *args)
    assert code == 0 and f"{len(manifest)} skipped" in out, out
    assert {k: (dest / k).stat().st_mtime_ns for k in manifest.paths()} == stamps


def test_truncated_local_file_is_downloaded_again(bucket, tiny, tmp_path):
    dest = tmp_path / "nsd"
    keys = [LH1, "nsddata/experiments/nsd/nsd_expdesign.mat"]
    assert fetch_nsd(dest, keys, endpoint_url=bucket.url, progress=False).ok
    full = (tiny[0] / LH1).read_bytes()
    (dest / LH1).write_bytes(full[:1000])
    report = fetch_nsd(dest, keys, endpoint_url=bucket.url, progress=False)
    assert [f.status for f in report.files] == ["downloaded", "skipped"]
    assert (dest / LH1).read_bytes() == full


def test_partial_download_is_resumed(bucket, tiny, tmp_path, caplog):
    dest = tmp_path / "nsd"
    full = (tiny[0] / LH1).read_bytes()
    part = part_path(dest / LH1, bucket.etag(LH1))
    part.parent.mkdir(parents=True)
    part.write_bytes(full[:12345])  # what an interrupted fetch leaves
    with caplog.at_level(logging.INFO, logger="neuro_igc.data._fetch"):
        report = fetch_nsd(dest, [LH1], endpoint_url=bucket.url, progress=False, chunk_size=4096)
    assert report.files[0].status == "resumed"
    assert f"resuming {LH1} at byte 12345 of {len(full)}" in caplog.text
    assert (dest / LH1).read_bytes() == full
    assert not part.exists()


def test_changed_object_is_never_stitched(bucket, tmp_path):
    key = "nsddata/changing.bin"
    old, new = os.urandom(300_000), os.urandom(200_000)
    bucket.put(key, old)
    old_etag = bucket.etag(key)
    dest = tmp_path / "nsd"
    stale = part_path(dest / key, old_etag)
    stale.parent.mkdir(parents=True)
    stale.write_bytes(old[:100_000])
    bucket.put(key, new)  # the object changes size on the server
    # a download that started on the old object fails cleanly when the object changes under it
    client = _client(bucket.url, None)
    from tqdm.auto import tqdm

    with tqdm(disable=True) as bar, pytest.raises(_ObjectChanged):
        _download(client, BUCKET, key, len(old), old_etag, dest / key, bar, 4096)
    assert not (dest / key).exists() and not stale.exists()
    # a new fetch drops what belonged to the old object and gets the new one whole
    stale.write_bytes(old[:100_000])
    report = fetch_nsd(dest, [key], endpoint_url=bucket.url, progress=False)
    assert report.files[0].status == "downloaded"
    assert (dest / key).read_bytes() == new
    assert not list((dest / key).parent.glob("*.part"))


def test_killed_fetch_leaves_no_partial_file_and_resumes(bucket, tmp_path):
    key = "nsddata/large.bin"
    body = os.urandom(48 << 20)
    bucket.put(key, body)
    dest = tmp_path / "nsd"
    final = dest / key
    part = part_path(final, bucket.etag(key))
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(repo))
    code = (f"from neuro_igc.data._fetch import fetch_nsd; "
            f"fetch_nsd({str(dest)!r}, [{key!r}], endpoint_url={bucket.url!r}, progress=False, chunk_size=16384)")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if part.exists() and part.stat().st_size > 0:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, "the download ended before it could be interrupted"
    assert not final.exists()  # never a partial file under the final name
    got = part.stat().st_size
    assert 0 < got < len(body)
    report = fetch_nsd(dest, [key], endpoint_url=bucket.url, progress=False)
    assert report.files[0].status == "resumed"
    assert hashlib.sha256(final.read_bytes()).digest() == hashlib.sha256(body).digest()
    assert not part.exists()


def test_missing_object_and_dry_run(bucket, tmp_path, capsys):
    dest = tmp_path / "nsd"
    # subject 3 is not in the bucket: reported per file, the others still fetched; exit status 1
    code, out = _run(capsys, "fetch", str(dest), "--config", "decoding_image_stats", "--subjects", "3",
                     "--sessions", "1", "--endpoint-url", bucket.url, "--no-progress")
    assert code == 1
    assert "FAILED nsddata/ppdata/subj03/transforms/lh.white-to-fsaverage.mgz: not in s3://natural-scenes-dataset/" in out
    assert (dest / "nsddata/experiments/nsd/nsd_expdesign.mat").is_file()
    code, out = _run(capsys, "fetch", str(tmp_path / "dry"), "--config", "decoding_ridge", "--subjects", "1",
                     "--sessions", "1", "--endpoint-url", bucket.url, "--dry-run")
    assert not (tmp_path / "dry").exists()
    assert "planned" in out and LH1 in out and "to download" in out


def test_endpoint_from_environment_and_empty_object(bucket, tmp_path, monkeypatch):
    monkeypatch.setenv("NEURO_IGC_S3_ENDPOINT_URL", bucket.url)
    bucket.put("nsddata/empty.txt", b"")
    report = fetch_nsd(tmp_path / "nsd", ["nsddata/experiments/nsd/nsd_expdesign.mat", "nsddata/empty.txt"],
                       progress=False)
    assert report.ok and [f.status for f in report.files] == ["downloaded", "downloaded"]
    assert (tmp_path / "nsd/nsddata/empty.txt").stat().st_size == 0
    assert _files(tmp_path / "nsd") == {"nsddata/experiments/nsd/nsd_expdesign.mat", "nsddata/empty.txt"}


def test_fetch_errors(tmp_path, capsys):
    with pytest.raises(ValueError, match="is not a path inside the NSD root"):
        fetch_nsd(tmp_path, ["../outside.txt"], endpoint_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="Invalid value for 'downloads': must be an integer >= 1; got 0"):
        fetch_nsd(tmp_path, ["a.txt"], endpoint_url="http://127.0.0.1:9", downloads=0)
    code, out = _run(capsys, "fetch", str(tmp_path), "--config", "decoding_ridge", "--subjects", "1",
                     "--sessions", "1", "--endpoint-url", "http://127.0.0.1:9", "--no-progress")
    assert code == 1 and "Cannot reach http://127.0.0.1:9" in out
    assert load_config("decoding_ridge").data.space == "fsaverage"


@pytest.mark.slow
def test_pipeline_runs_on_exactly_the_fetched_files(bucket, tmp_path):
    """Nothing but the manifest's files is needed: a shipped pipeline, whose ROI sums come from the
    subjects' native labels through the transforms, runs at both levels on a fresh fetch."""
    from neuro_igc.pipeline import load_config, run_pipeline

    cfg = load_config("decoding_ridge", overrides={"outputs.surface": False, "outputs.figures": False,
                                                   "outputs.report": False})
    dest = tmp_path / "nsd"
    manifest = nsd_manifest(cfg, subjects=[1, 2], sessions=[1, 2])
    assert any(p.endswith("lh.white-to-fsaverage.mgz") for p in manifest.paths())
    report = fetch_nsd(dest, manifest, endpoint_url=bucket.url, progress=False)
    assert report.ok and {f.status for f in report.files} == {"downloaded"}
    assert _files(dest) == set(manifest.paths())
    for level in ("participant", "group"):
        result = run_pipeline(dest, tmp_path / "out", level, cfg, progress=False, device="cpu")
        assert result.subjects == ["01", "02"]
    sidecar = tmp_path / "out/neuro-igc/sub-01/func/sub-01_atlas-prfvisualrois_desc-ridge_roisums.json"
    assert "white-to-fsaverage" in sidecar.read_text()  # the ROI sums came through the subject's maps
