"""The seams between subpackages: each imports the others' public names only, and no two classes
share a public name."""

from __future__ import annotations

import ast
import collections
import importlib
import inspect
import os
import pkgutil
import re
import sys
from pathlib import Path

import neuro_igc

PACKAGE = Path(neuro_igc.__file__).parent

# Exceptions to the two rules below: none; nothing may join.
PENDING_IMPORTS: set[tuple[str, str]] = set()
PENDING_CLASS_NAMES: set[str] = set()
# The console script's table of subcommands (module names imported on demand, so that
# ``neuro-igc --help`` loads no subpackage): the one place that names each subpackage's private
# command-line module.
COMMAND_TABLE = "neuro_igc/cli.py"
_MODULE_NAME = re.compile(r"neuro_igc(\.\w+)+")


def _subpackage(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else None  # None: a top-level module (shared helpers, CLI)


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    """The module a ``from`` import names, relative ones (``from .._x import y``) made absolute."""
    if node.level == 0:
        return node.module
    package = ["neuro_igc", *path.relative_to(PACKAGE).parts[:-1]]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_imports_across_subpackages() -> list[str]:
    """``file:line: module [names]`` of every import of another subpackage's private module or
    private name (module level or inside functions)."""
    subpackages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _subpackage(path)
        rel = path.relative_to(PACKAGE.parent).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or node.level):
                targets = [(_absolute(path, node), [a.name for a in node.names])]
            elif isinstance(node, ast.Import):
                targets = [(a.name, []) for a in node.names]
            elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and rel != COMMAND_TABLE
                  and _MODULE_NAME.fullmatch(node.value)):
                targets = [(node.value, [])]  # a module imported by name (importlib.import_module)
            else:
                continue
            for module, names in targets:
                parts = module.split(".")
                if parts[0] != "neuro_igc" or len(parts) < 2 or parts[1] not in subpackages or parts[1] == own:
                    continue
                private_module = any(p.startswith("_") for p in parts[2:])
                private_names = [n for n in names if n.startswith("_")]
                if (private_module or private_names) and (rel, module) not in PENDING_IMPORTS:
                    found.append((rel, node.lineno, f"{rel}:{node.lineno}: {module} {private_names or names}"))
    return [text for *_, text in sorted(found)]


def test_the_walk_finds_a_private_import(tmp_path, monkeypatch):
    # the checker itself: a planted private import across subpackages is reported, a public one is not
    pkg = tmp_path / "neuro_igc"
    for sub in ("data", "surface"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "surface" / "_a.py").write_text(
        "from neuro_igc.data import SurfaceSpace\n"
        "def f():\n    from neuro_igc.data._spaces import den_label\n"
        "def g():\n    return importlib.import_module('neuro_igc.data._io')\n"
        "from .._utils import check_option\nfrom ._b import h\nfrom ..data._roi import ROILabels\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    assert private_imports_across_subpackages() == ["neuro_igc/surface/_a.py:3: neuro_igc.data._spaces ['den_label']",
                                                    "neuro_igc/surface/_a.py:5: neuro_igc.data._io []",
                                                    "neuro_igc/surface/_a.py:8: neuro_igc.data._roi ['ROILabels']"]


def test_no_module_imports_another_subpackages_private_module():
    assert private_imports_across_subpackages() == []


def test_no_two_classes_share_a_public_name():
    classes = collections.defaultdict(set)
    for info in pkgutil.walk_packages(neuro_igc.__path__, "neuro_igc."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and obj.__module__ == module.__name__ and not name.startswith("_"):
                classes[obj.__name__].add(f"{obj.__module__}.{obj.__qualname__}")
    assert len(classes) > 50  # the walk saw the package
    shared = {name: sorted(where) for name, where in classes.items()
              if len(where) > 1 and name not in PENDING_CLASS_NAMES}
    assert shared == {}


def test_docstrings_name_only_notes_in_the_repository():
    # notes named in capitals (DESIGN.md, NSD_FACTS.md, ...) must be files of this repository
    repo = PACKAGE.parent
    present = set()
    for folder, dirs, files in os.walk(repo):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("venv", "node_modules")]  # not a venv
        present |= {f for f in files if f.endswith(".md")}
    assert "README.md" in present  # the walk saw the repository
    missing = [f"{path.relative_to(repo).as_posix()}: {name}"
               for path in sorted(PACKAGE.rglob("*.py"))
               for name in sorted(set(re.findall(r"\b[A-Z][A-Z0-9_]*\.md\b", path.read_text())))
               if name not in present]
    assert missing == []
