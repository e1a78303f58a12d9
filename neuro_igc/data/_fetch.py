"""Download the files of a :class:`~neuro_igc.data._manifest.Manifest` from NSD's public bucket.

NSD's public copy lives in the S3 bucket ``natural-scenes-dataset`` with the NSD folder layout
under its root, readable without credentials. :func:`fetch_nsd` asks it, anonymously (boto3
with unsigned requests), for exactly the manifest's objects:

- a file already at its final path with the object's size is skipped;
- every download goes to a hidden ``.<name>.<tag>.part`` file beside the final one (``tag``
  follows the object's ETag) and is renamed only once its size matches the object's; the final
  name never holds a partial file;
- an interrupted download (killed process, lost connection) is resumed from the ``.part`` file
  with a ranged request that also requires the same ETag, so a changed object is never
  stitched to an older beginning: its stale ``.part`` is dropped and the download starts again.

The endpoint can be changed (``endpoint_url`` or ``$NEURO_IGC_S3_ENDPOINT_URL``) to use a mirror
or an S3-compatible server.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from neuro_igc._utils import soft_import

__all__ = ["fetch_nsd", "FetchReport", "FetchedFile", "DEFAULT_BUCKET", "ENDPOINT_ENV", "part_path"]

logger = logging.getLogger(__name__)

DEFAULT_BUCKET = "natural-scenes-dataset"
DEFAULT_REGION = "us-east-2"
ENDPOINT_ENV = "NEURO_IGC_S3_ENDPOINT_URL"
CHUNK_SIZE = 8 << 20
_ATTEMPTS = 3


@dataclass
class FetchedFile:
    """One object of a fetch.

    Attributes
    ----------
    path : str
        Relative path (the object key).
    status : {"downloaded", "resumed", "skipped", "failed", "planned"}
        ``planned``: a dry run would download it.
    size : int or None
        The object's size in bytes (None when it could not be asked).
    error : str
    """

    path: str
    status: str
    size: int | None = None
    error: str = ""


@dataclass
class FetchReport:
    """What :func:`fetch_nsd` did."""

    dest: Path
    bucket: str
    files: list[FetchedFile] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.status == "failed" for f in self.files)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            out[f.status] = out.get(f.status, 0) + 1
        return out

    def summary(self) -> str:
        c = self.counts()
        total = sum(f.size or 0 for f in self.files if f.status in ("downloaded", "resumed", "planned"))
        parts = [f"{n} {s}" for s, n in sorted(c.items())]
        lines = [f"{len(self.files)} files from s3://{self.bucket} into {self.dest}: {', '.join(parts) or 'none'}"
                 f" ({_human(total)} {'to download' if 'planned' in c else 'transferred'})"]
        for f in self.files:
            if f.status == "failed":
                lines.append(f"  FAILED {f.path}: {f.error}")
        return "\n".join(lines)


def _human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def part_path(final: Path, etag: str) -> Path:
    """The temporary file a download of ``final`` (object with ``etag``) is written to."""
    tag = hashlib.sha256(etag.encode()).hexdigest()[:12]
    return final.with_name(f".{final.name}.{tag}.part")


def _client(endpoint_url: str | None, region: str | None):
    boto3 = soft_import("boto3", "Downloading NSD files (neuro-igc nsd fetch)")
    from botocore import UNSIGNED
    from botocore.config import Config

    config = Config(signature_version=UNSIGNED, retries={"max_attempts": 5, "mode": "standard"},
                    connect_timeout=30, read_timeout=120)
    session = boto3.session.Session()  # a private session: no change to boto3's default one
    return session.client("s3", endpoint_url=endpoint_url, region_name=region or DEFAULT_REGION, config=config)


def _error_code(exc) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _head(client, bucket: str, key: str):
    from botocore.exceptions import ClientError

    try:
        h = client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        code = _error_code(exc)
        if code in ("404", "NoSuchKey", "NotFound"):
            return None, f"not in s3://{bucket}/ (404)"
        return None, f"cannot be asked for ({code or exc})"
    return (int(h["ContentLength"]), str(h.get("ETag", ""))), ""


class _ObjectChanged(Exception):
    pass


class _Stopped(Exception):
    pass


class _SharedBar:
    """A tqdm bar updated from several download threads."""

    def __init__(self, bar):
        self.bar = bar
        self.lock = threading.Lock()

    def update(self, n: int) -> None:
        with self.lock:
            self.bar.update(n)

    def grow(self, n: int) -> None:
        with self.lock:
            self.bar.total += n
            self.bar.refresh()


def _download(client, bucket: str, key: str, size: int, etag: str, final: Path, bar, chunk_size: int,
              stop: threading.Event | None = None) -> str:
    """Download one object into its ``.part`` file, then rename; return "downloaded"/"resumed".

    ``stop`` set by another thread ends the download at the next chunk (the ``.part`` stays, to
    be resumed)."""
    from botocore.exceptions import BotoCoreError, ClientError

    part = part_path(final, etag)
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{final.name}.*.part"):
        if stale != part:  # a partial download of an older version of the object
            stale.unlink(missing_ok=True)
    status = "downloaded"
    part.touch()  # an empty object is complete as it is
    for attempt in range(1, _ATTEMPTS + 1):
        offset = part.stat().st_size if part.exists() else 0
        if offset > size:  # not a beginning of this object: start over
            open(part, "wb").close()
            offset = 0
        if offset:
            status = "resumed"
            logger.info("resuming %s at byte %d of %d", key, offset, size)
            bar.update(offset)
        if offset < size:
            kwargs = {"Bucket": bucket, "Key": key}
            if etag:
                kwargs["IfMatch"] = etag
            if offset:
                kwargs["Range"] = f"bytes={offset}-"
            try:
                body = client.get_object(**kwargs)["Body"]
                with open(part, "ab") as out:
                    for chunk in body.iter_chunks(chunk_size):
                        out.write(chunk)
                        bar.update(len(chunk))
                        if stop is not None and stop.is_set():
                            raise _Stopped(key)
            except ClientError as exc:
                if _error_code(exc) in ("412", "PreconditionFailed"):
                    part.unlink(missing_ok=True)
                    raise _ObjectChanged(key) from exc
                raise
            except (BotoCoreError, OSError) as exc:
                got = part.stat().st_size if part.exists() else 0
                logger.warning("download of %s interrupted at byte %d (%s); attempt %d of %d",
                               key, got, exc, attempt, _ATTEMPTS)
                bar.update(-got)
                if attempt == _ATTEMPTS:
                    raise
                continue
        got = part.stat().st_size if part.exists() else 0
        if got == size:
            os.replace(part, final)
            return status
        bar.update(-got)
        if got > size:
            part.unlink()
            raise _ObjectChanged(key)
        logger.warning("download of %s ended at byte %d of %d; attempt %d of %d", key, got, size, attempt, _ATTEMPTS)
    raise OSError(f"{key}: the download stopped short of {size} bytes {_ATTEMPTS} times; run the fetch again to resume")


def fetch_nsd(
    dest,
    files,
    *,
    bucket: str = DEFAULT_BUCKET,
    endpoint_url: str | None = None,
    region: str | None = None,
    progress: bool = True,
    dry_run: bool = False,
    chunk_size: int = CHUNK_SIZE,
    downloads: int = 4,
    jobs: int = 8,
) -> FetchReport:
    """Download NSD files from the public bucket into ``dest``, anonymously and resumably.

    Parameters
    ----------
    dest : path-like
        The local NSD root (created if needed); each object lands at ``dest/<key>``.
    files : Manifest or iterable of str
        The manifest of a run (:func:`~neuro_igc.data.nsd_manifest`) or relative paths.
    bucket : str, default "natural-scenes-dataset"
    endpoint_url : str or None
        An S3-compatible endpoint; default ``$NEURO_IGC_S3_ENDPOINT_URL``, else AWS.
    region : str or None
        Default "us-east-2".
    progress : bool, default True
        A tqdm bar over the bytes to download.
    dry_run : bool, default False
        Only ask the sizes: files to download are reported as "planned".
    chunk_size : int, default 8 MiB
        Bytes written per read of the response.
    downloads : int, default 4
        Files downloaded at once.
    jobs : int, default 8
        Parallel size requests.

    Returns
    -------
    FetchReport
        ``report.ok`` is False when a file could not be fetched (the others still are).
    """
    from neuro_igc._utils import progress_bar as tqdm

    dest = Path(dest)
    keys = [PurePosixPath(f.path if hasattr(f, "path") else str(f)).as_posix() for f in files]
    for key in keys:
        if key.startswith("/") or ".." in PurePosixPath(key).parts:
            raise ValueError(f"Invalid value for 'files': {key!r} is not a path inside the NSD root.")
    for name, value in (("chunk_size", chunk_size), ("downloads", downloads), ("jobs", jobs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"Invalid value for {name!r}: must be an integer >= 1; got {value!r}.")
    endpoint_url = endpoint_url or os.environ.get(ENDPOINT_ENV) or None
    client = _client(endpoint_url, region)
    _check_reachable(client, bucket, keys, endpoint_url)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        heads = list(pool.map(lambda k: _head(client, bucket, k), keys))
    report = FetchReport(dest, bucket)
    todo = []
    for key, (info, error) in zip(keys, heads):
        if info is None:
            report.files.append(FetchedFile(key, "failed", None, error))
            continue
        size, etag = info
        final = dest / key
        if final.is_file() and final.stat().st_size == size:
            report.files.append(FetchedFile(key, "skipped", size))
            continue
        if final.is_file():
            logger.info("%s has %d bytes, the object %d: downloading it again", key, final.stat().st_size, size)
        todo.append((key, size, etag))
        report.files.append(FetchedFile(key, "planned", size))
    if dry_run or not todo:
        return report
    by_key = {f.path: f for f in report.files}
    total = sum(size for _, size, _ in todo)
    stop = threading.Event()

    def fetch_one(key: str, size: int, etag: str) -> None:
        item = by_key[key]
        try:
            try:
                item.status = _download(client, bucket, key, size, etag, dest / key, shared, chunk_size, stop)
            except _ObjectChanged:
                logger.warning("%s changed in the bucket during the fetch; downloading it again", key)
                info, error = _head(client, bucket, key)
                if info is None:
                    raise OSError(error) from None
                item.size = info[0]
                shared.grow(info[0] - size)
                item.status = _download(client, bucket, key, info[0], info[1], dest / key, shared, chunk_size, stop)
        except _Stopped:
            item.status, item.error = "failed", "interrupted (run the fetch again to resume)"
        except Exception as exc:  # report it, go on with the other files
            item.status, item.error = "failed", f"{type(exc).__name__}: {exc}"
            logger.error("could not fetch %s: %s", key, item.error)

    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="nsd fetch",
              disable=not progress) as bar:
        shared = _SharedBar(bar)
        with ThreadPoolExecutor(max_workers=max(1, min(downloads, len(todo)))) as pool:
            futures = [pool.submit(fetch_one, *job) for job in todo]
            try:
                for future in as_completed(futures):
                    future.result()
            except BaseException:  # Ctrl-C: stop the other downloads at their next chunk, keep the .part files
                stop.set()
                for future in futures:
                    future.cancel()
                raise
    return report


def _check_reachable(client, bucket: str, keys: list[str], endpoint_url: str | None) -> None:
    """Fail early, with one clear message, when the endpoint cannot be reached at all."""
    from botocore.exceptions import EndpointConnectionError

    if not keys:
        return
    try:
        client.head_object(Bucket=bucket, Key=keys[0])
    except EndpointConnectionError as exc:
        where = endpoint_url or "the public S3 endpoint"
        raise ConnectionError(
            f"Cannot reach {where} for s3://{bucket}: {exc}. Check the network, or give another "
            f"endpoint with --endpoint-url (or ${ENDPOINT_ENV})."
        ) from exc
    except Exception:  # other errors are reported per file
        pass
