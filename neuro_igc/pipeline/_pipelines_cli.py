"""``neuro-igc pipelines [show NAME]``: list the shipped pipeline configs, or print one.

The shipped configs are package data (``neuro_igc/pipeline/configs/``), so they are found from any
installation. To run a modified one, copy it and edit the copy::

    neuro-igc pipelines show encoding_prf > my_prf.yaml
    neuro-igc NSD_ROOT OUT participant --config my_prf.yaml
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _description(path) -> str:
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):  # pragma: no cover - shipped files are tested
        return ""
    return str(data.get("description", "")) if isinstance(data, dict) else ""


def main(argv: list[str] | None = None) -> int:
    """List the shipped pipelines (``pipelines``) or print one (``pipelines show NAME``)."""
    from neuro_igc.pipeline._config import PIPELINES_DIR, ConfigError, shipped_config_path, shipped_pipelines

    p = argparse.ArgumentParser(
        prog="neuro-igc pipelines",
        description="The pipeline configs shipped with neuro-igc.",
        epilog="copy one to edit it: neuro-igc pipelines show encoding_prf > my_prf.yaml",
    )
    sub = p.add_subparsers(dest="action", metavar="{list,show}")
    sub.add_parser("list", help="list the shipped pipelines (the default)")
    show = sub.add_parser("show", help="print one shipped pipeline config")
    show.add_argument("name", metavar="NAME", help="a shipped pipeline name")
    sub.add_parser("path", help="print the folder holding the shipped configs")
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.action == "show":
        try:
            path = shipped_config_path(args.name)
        except ConfigError as exc:
            print(f"neuro-igc: error: {exc}", file=sys.stderr)
            return 1
        sys.stdout.write(path.read_text())
        return 0
    names = shipped_pipelines()
    if args.action == "path":
        print(PIPELINES_DIR)
        return 0
    if not names:  # pragma: no cover - a broken installation
        print("neuro-igc: error: no shipped pipeline found; reinstall neuro-igc.", file=sys.stderr)
        return 1
    width = max(len(n) for n in names)
    for name in names:
        print(f"{name:<{width}}  {_description(PIPELINES_DIR / f'{name}.yaml')}")
    return 0
