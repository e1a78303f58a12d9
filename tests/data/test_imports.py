"""The modules of neuro_igc.data import one way: no cycle, at module or function level."""

from __future__ import annotations

import ast
from pathlib import Path

import neuro_igc.data

DATA = Path(neuro_igc.data.__file__).parent


def _graph() -> dict[str, set[str]]:
    graph = {}
    for f in DATA.glob("*.py"):
        if f.stem == "__init__":
            continue
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("neuro_igc.data."):
                deps.add(node.module)
            elif isinstance(node, ast.ImportFrom) and node.module == "neuro_igc.data":
                deps |= {f"neuro_igc.data.{a.name}" for a in node.names if a.name.startswith("_")}
        graph[f"neuro_igc.data.{f.stem}"] = deps - {f"neuro_igc.data.{f.stem}"}
    return graph


def test_no_import_cycle_in_the_data_package():
    graph = _graph()
    assert "neuro_igc.data._synth_writer" in graph and graph["neuro_igc.data._nsd"]
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
    assert cycles == []
