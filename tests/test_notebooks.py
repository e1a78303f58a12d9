"""The notebooks in notebooks/ run from top to bottom (small settings, a small synthetic folder).

They are jupytext percent scripts: read with jupytext, executed with nbclient in a python3
kernel of this environment; nothing is written back to notebooks/.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.py"))


@pytest.fixture(scope="module")
def small_nsd(tmp_path_factory):
    """A small synthetic NSD-like folder shared by the notebooks that need one."""
    from neuro_igc.data import make_nsd_like

    root = tmp_path_factory.mktemp("nsd") / "nsd"
    make_nsd_like(root, subjects=2, sessions=2, trials=150, image_size=64, volume_spaces=(), seed=0,
                  progress=False)
    return root


def _execute(path: Path, workdir: Path, env: dict) -> None:
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    nb = jupytext.read(path)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process' environment
    try:
        client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                         resources={"metadata": {"path": str(workdir)}})
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors[0].get("traceback") if errors else None
    # a notebook teaches without noise: no warning printed (e.g. tqdm's "IProgress not found"),
    # and no stray value shown by a cell's last line (a matplotlib artist, a tuple of limits)
    stderr = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr")
    assert "Warning" not in stderr and "warn" not in stderr.lower(), stderr
    shown = [o["data"].get("text/plain", "") for o in outputs if o.get("output_type") == "execute_result"]
    stray = [t for t in shown if re.match(r"\(|<matplotlib|\[<matplotlib|Text\(", t)]
    assert not stray, stray


def test_notebooks_exist():
    names = {p.stem for p in PATHS}
    assert {"01_quickstart", "02_nsd_decoding", "03_encoding_prf", "04_synthetic_benchmark"} <= names
    for p in PATHS:  # percent scripts without outputs
        text = p.read_text()
        assert "# %%" in text and "outputs" not in text.split("# ---", 2)[1]


#: run in the default suite; the others (20-40 s each on 2 cores) are `slow` and run by
#: `make test-all`, while `test_notebook_code_compiles` checks every notebook's code by default
DEFAULT_RUN = {"01_quickstart"}


def test_notebook_code_compiles():
    jupytext = pytest.importorskip("jupytext")
    for path in PATHS:
        nb = jupytext.read(path)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            lines = [ln for ln in cell.source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
            compile("\n".join(lines), f"{path.name} (cell {i})", "exec")  # a SyntaxError fails the test


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem, marks=() if p.stem in DEFAULT_RUN else pytest.mark.slow)
                                  for p in PATHS])
def test_notebook_runs(path, tmp_path, request):
    # no TQDM_DISABLE: the notebooks must run as a user runs them, without progress-bar warnings
    env = {"NEURO_IGC_NOTEBOOK_SMALL": "1", "NEURO_IGC_WORKDIR": str(tmp_path), "MPLBACKEND": "Agg"}
    if "nsd" in path.stem or "encoding" in path.stem:
        env["NEURO_IGC_NSD_ROOT"] = str(request.getfixturevalue("small_nsd"))
    before = path.read_text()
    _execute(path, tmp_path, env)
    assert path.read_text() == before  # nothing executed is written back


def test_test_extras_execute_notebooks():
    """`make install` installs the test extras: they hold what `jupyter nbconvert --execute` needs
    (nbconvert) and what tqdm's notebook bars need (ipywidgets: no "IProgress not found")."""
    import importlib.util

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    extras = tomllib.loads((NOTEBOOKS.parent / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    names = {re.split(r"[<>=\[ ]", e, maxsplit=1)[0].lower() for e in extras}
    assert {"nbconvert", "ipywidgets", "jupytext", "nbclient", "ipykernel"} <= names
    for module in ("nbconvert", "ipywidgets"):
        assert importlib.util.find_spec(module) is not None, f"{module} is not installed: run make install"


@pytest.mark.slow
def test_nbconvert_executes_a_notebook(tmp_path):
    """The README's commands: jupytext to .ipynb, then `jupyter nbconvert --execute` (quickstart)."""
    import subprocess
    import sys

    nb = tmp_path / "01_quickstart.ipynb"
    env = {**os.environ, "NEURO_IGC_NOTEBOOK_SMALL": "1", "MPLBACKEND": "Agg"}
    subprocess.run([sys.executable, "-m", "jupytext", "--to", "ipynb", "--output", str(nb),
                    str(NOTEBOOKS / "01_quickstart.py")], check=True, capture_output=True, env=env)
    out = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute", "--inplace", str(nb)],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    import nbformat

    cells = nbformat.read(nb, as_version=4).cells
    texts = [o.get("text", "") for c in cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any("validation r" in t for t in texts)
    assert not any("Warning" in t for t in texts)
