"""The modules of neuro_igc.data import one way: no cycle, at module or function level."""

from __future__ import annotations

import ast
import sys
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
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("neuro_igc.data.")}
        graph[f"neuro_igc.data.{f.stem}"] = deps - {f"neuro_igc.data.{f.stem}"}
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


def test_no_import_cycle_in_the_data_package():
    graph = _graph()
    assert "neuro_igc.data._synth_writer" in graph and graph["neuro_igc.data._nsd"]
    assert _cycles(graph) == []


def test_the_walk_finds_a_planted_cycle(tmp_path, monkeypatch):
    # the checker itself: a cycle through a function-level import is found, a one-way chain is not
    (tmp_path / "_a.py").write_text("from neuro_igc.data._b import f\n")
    (tmp_path / "_b.py").write_text("def f():\n    import neuro_igc.data._c\n")
    (tmp_path / "_c.py").write_text("from neuro_igc.data import _a\n")
    (tmp_path / "_d.py").write_text("from neuro_igc.data._a import x\n")
    monkeypatch.setattr(sys.modules[__name__], "DATA", tmp_path)
    a, b, c = (f"neuro_igc.data._{n}" for n in "abc")
    assert _cycles(_graph()) == [[a, b, c, a]]


def test_the_parts_of_the_nsd_reader_do_not_reach_back():
    # NSD holds its parts; a part importing the facade (or the package's public names) would tie them back
    graph = _graph()
    parts = [m for m in graph if m.startswith("neuro_igc.data._nsd_")]
    assert len(parts) >= 5
    assert [m for m in graph if "neuro_igc.data._nsd" in graph[m]] == []
    for m in parts:
        text = (DATA / f"{m.rsplit('.', 1)[1]}.py").read_text()
        assert "from neuro_igc.data import NSD" not in text and "import neuro_igc.data\n" not in text
