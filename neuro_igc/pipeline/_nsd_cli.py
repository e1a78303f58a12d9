"""``neuro-igc nsd check|fetch``: the NSD files a pipeline run needs, checked or downloaded.

``neuro-igc nsd check NSD_ROOT --config PIPELINE`` lists every file the run will read and what is
missing or malformed (headers only), exit status 1 when the run cannot succeed.
``neuro-igc nsd fetch DEST --config PIPELINE`` downloads exactly those files from NSD's public
bucket, anonymously, resumably, skipping complete files. Both take ``--subjects``, ``--sessions``
and ``--space`` to change the config's selection.

Exit status: 0 on success, 1 when files are missing/malformed or could not be fetched (or the
input is refused), 2 on a command-line usage error.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys

__all__ = ["main", "build_parser"]

logger = logging.getLogger(__name__)

EPILOG = """examples:
  neuro-igc nsd check /data/nsd --config decoding_image_stats
  neuro-igc nsd check /data/nsd --config encoding_prf --subjects 1 2 --sessions 1 2 3 --json
  neuro-igc nsd fetch /data/nsd --config decoding_image_stats --subjects 1 --sessions 1 2 --dry-run
  neuro-igc nsd fetch /data/nsd --config encoding_prf --subjects 1 2"""


def _session(text: str):
    return int(text) if text.strip().isdigit() else text.strip()


def _sessions(values):
    """``[1, 2]`` stays a list; a single preset name (``["nsd37"]``) becomes the name."""
    if values is None:
        return None
    names = [v for v in values if isinstance(v, str)]
    if not names:
        return values
    if len(values) > 1:
        raise ValueError(f"Invalid value for '--sessions': give session numbers or one preset name; got {values}.")
    return names[0]


def _selection(p: argparse.ArgumentParser) -> None:
    from neuro_igc.data import MANIFEST_SPACES
    from neuro_igc.pipeline._config import shipped_pipelines

    shipped = ", ".join(shipped_pipelines())
    p.add_argument("--config", default="decoding_image_stats", metavar="YAML",
                   help=f"pipeline config file, or a shipped pipeline name ({shipped}); default: decoding_image_stats")
    p.add_argument("--subjects", nargs="+", metavar="S", default=None,
                   help="subjects (1 2, 01, subj01, sub-01); default: check: those with betas in NSD_ROOT, fetch: all 8")
    p.add_argument("--sessions", nargs="+", type=_session, metavar="N", default=None,
                   help="sessions of every subject (or a preset: nsd37); default: the config's, else check: "
                   "those on disk, fetch: all")
    p.add_argument("--space", choices=MANIFEST_SPACES, default=None, help="beta space; default: the config's")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (YAML syntax), e.g. --set data.density=fsaverage; repeatable")


def build_parser() -> argparse.ArgumentParser:
    from neuro_igc.data import DEFAULT_BUCKET, ENDPOINT_ENV

    p = argparse.ArgumentParser(
        prog="neuro-igc nsd", description="The NSD files a pipeline run reads: check a folder, or fetch them.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="{check,fetch}")
    c = sub.add_parser("check", help="list the files a run reads and what is missing or malformed",
                       description="List every NSD file the run will read, with what is missing or malformed "
                       "(headers only: nothing is loaded). Exit status 1 when the run cannot succeed.")
    c.add_argument("nsd_root", metavar="NSD_ROOT", help="the NSD folder (holding nsddata/, nsddata_betas/, ...)")
    _selection(c)
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.add_argument("--problems-only", action="store_true", help="list only files that are not ok")
    f = sub.add_parser("fetch", help="download exactly the files a run reads from NSD's public bucket",
                       description="Download the NSD files a run reads from the public bucket, without "
                       "credentials. Complete files are skipped; interrupted downloads resume; every file is "
                       "written under a temporary name and renamed once its size matches the object's.")
    f.add_argument("dest", metavar="DEST", help="local NSD root to download into (created if needed)")
    _selection(f)
    f.add_argument("--endpoint-url", default=None, metavar="URL",
                   help=f"S3-compatible endpoint (a mirror); default ${ENDPOINT_ENV}, else AWS")
    f.add_argument("--bucket", default=DEFAULT_BUCKET, help=f"bucket holding NSD (default {DEFAULT_BUCKET})")
    f.add_argument("--region", default=None, help="the bucket's region (default us-east-2)")
    f.add_argument("--downloads", type=int, default=4, metavar="N", help="files downloaded at once (default 4)")
    f.add_argument("--dry-run", action="store_true", help="list what would be downloaded, and its size")
    f.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _manifest(args, root=None):
    from neuro_igc.data import nsd_manifest
    from neuro_igc.pipeline._config import parse_overrides
    from neuro_igc.pipeline._config import load_config

    config = load_config(args.config, overrides=parse_overrides(args.overrides))
    return nsd_manifest(config, subjects=args.subjects, sessions=_sessions(args.sessions), space=args.space,
                        root=root)


def _check(args) -> int:
    from neuro_igc.data import check_nsd

    report = check_nsd(args.nsd_root, _manifest(args, root=args.nsd_root))
    print(report.to_json() if args.json else report.format_table(problems_only=args.problems_only))
    if not args.json and any(r.fatal for r in report.results):
        selection = " ".join(_selection_args(args, report.manifest))
        print(f"to download what is missing or malformed: neuro-igc nsd fetch {shlex.quote(args.nsd_root)} "
              f"{selection}")
    return 0 if report.ok else 1


def _selection_args(args, manifest) -> list[str]:
    """The options that make ``fetch`` select the files ``check`` listed."""
    out = ["--config", shlex.quote(args.config)]
    out += ["--subjects", *[str(s) for s in manifest.subjects]] if manifest.subjects else []
    sessions = {tuple(v) for v in manifest.sessions.values()}
    if len(sessions) == 1:
        out += ["--sessions", *[str(s) for s in sessions.pop()]]
    if args.space:
        out += ["--space", args.space]
    out += [f"--set {shlex.quote(o)}" for o in args.overrides]
    return out


def _fetch(args) -> int:
    from neuro_igc.data import fetch_nsd

    manifest = _manifest(args)
    report = fetch_nsd(args.dest, manifest, bucket=args.bucket, endpoint_url=args.endpoint_url,
                       region=args.region, progress=not args.no_progress, dry_run=args.dry_run,
                       downloads=args.downloads)
    if args.dry_run:
        for item in report.files:
            size = "?" if item.size is None else str(item.size)
            print(f"{item.status:<9} {size:>12}  {item.path}")
    print(report.summary())
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    """Run ``neuro-igc nsd``; return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return int(exc.code or 0)
    from neuro_igc.pipeline._config import ConfigError

    try:
        return _check(args) if args.command == "check" else _fetch(args)
    except (ConfigError, ValueError, FileNotFoundError, ConnectionError, ImportError) as exc:
        print(f"neuro-igc nsd {args.command}: error: {exc}", file=sys.stderr)
        return 1
