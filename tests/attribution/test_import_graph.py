"""The modules of neuro_igc.attribution (and its engine package) import one way: no cycle, at module
or function level."""

from __future__ import annotations

import ast
from pathlib import Path

import neuro_igc.attribution

ROOT = Path(neuro_igc.attribution.__file__).parent
PACKAGE = "neuro_igc.attribution"


def _name(f: Path) -> str:
    parts = f.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def _graph() -> dict[str, set[str]]:
    """Module -> the attribution modules it imports (importing ``a.b.c`` also runs ``a.b``)."""
    graph = {}
    for f in ROOT.rglob("*.py"):
        me = _name(f)
        if me == PACKAGE:
            continue
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE + "."):
                deps.add(node.module)
                names = [f"{node.module}.{a.name}" for a in node.names]
                deps |= {n for n in names if (ROOT / Path(*n.split(".")[2:])).with_suffix(".py").exists()}
            elif isinstance(node, ast.ImportFrom) and node.module == PACKAGE:
                deps |= {f"{PACKAGE}.{a.name}" for a in node.names if a.name.startswith("_")}
        parents = set()
        for d in deps:  # a submodule's import runs its package's __init__ first
            parts = d.split(".")
            for k in range(3, len(parts)):
                parents.add(".".join(parts[:k]))
        own = {me} | {".".join(me.split(".")[:k]) for k in range(3, len(me.split(".")))}
        graph[me] = (deps | parents) - own - {PACKAGE}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}
    cycles = []

    def visit(node, path):
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(path[path.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def test_no_import_cycle_in_the_attribution_package():
    graph = _graph()
    assert f"{PACKAGE}._engine._core" in graph and graph[f"{PACKAGE}._engine"] and graph[f"{PACKAGE}._igc"]
    assert _cycles(graph) == []


def test_the_walk_sees_a_cycle():
    """A function-level import back from a low module (as ``_factorize`` once did) is reported."""
    graph = _graph()
    graph[f"{PACKAGE}._model"] = graph[f"{PACKAGE}._model"] | {f"{PACKAGE}._engine._core"}
    assert any(f"{PACKAGE}._model" in c for c in _cycles(graph))
