"""Figure and tables: written atomically, readable back; no matplotlib at import."""

import subprocess
import sys

import numpy as np
import pandas as pd

from neuro_igc.benchmark import plot_benchmark, write_tables


def test_tables_round_trip(tmp_path):
    table = pd.DataFrame({"experiment": ["A", "A"], "method": ["IGC", "IG SD"], "truth_corr": [0.97, np.nan]})
    paths = write_tables(table, tmp_path / "out")
    back = pd.read_csv(paths["csv"])
    pd.testing.assert_frame_equal(back, table)
    md = paths["md"].read_text()
    assert "| A | IGC | 0.97 |" in md
    assert not list((tmp_path / "out").glob(".*tmp*"))  # no temporary file left behind
    paper = pd.DataFrame({"experiment": ["B"], "method": ["IGC"], "figure": ["(a+b+c)/d"], "ours": [0.84],
                          "paper": ["0.85"], "reproduced": [True]})
    paths = write_tables(table, tmp_path / "out", paper=paper)
    assert "| B | IGC | (a+b+c)/d | 0.84 | 0.85 | True |" in paths["paper_md"].read_text()
    pd.testing.assert_frame_equal(pd.read_csv(paths["paper_csv"], dtype={"paper": str}), paper)


def test_figure_in_the_fig1_layout(tmp_path):
    rng = np.random.default_rng(0)
    maps = {(e, m): rng.normal(size=(64, 64)) for e in "AB" for m in ("ground truth", "IGC", "IG SD")}
    table = pd.DataFrame({"experiment": ["A"], "method": ["IGC"], "truth_corr": [0.9]})
    path = plot_benchmark(maps, tmp_path / "fig.png", table=table)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    img = matplotlib.image.imread(path)
    assert img.shape[1] > img.shape[0]  # three columns, two rows


def test_no_matplotlib_at_import_and_plotting_leaves_the_backend_alone(tmp_path):
    code = ("import sys, neuro_igc.benchmark as b; print('matplotlib' in sys.modules); "
            "import matplotlib, numpy as np; matplotlib.use('svg'); "
            "b.plot_benchmark({('A', 'IGC'): np.eye(4)}, r'%s'); print(matplotlib.get_backend())" % (tmp_path / "f.png"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "svg"] and (tmp_path / "f.png").exists()
