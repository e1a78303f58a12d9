"""The HTML report: content, escaping, missing figures, and a real browser rendering."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from _browser import assert_not_blank  # noqa: E402

from neuro_igc.pipeline import ReportSection, write_report  # noqa: E402


def _figure(path, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.imshow(rng.standard_normal((20, 20)), cmap="RdBu_r")
    fig.savefig(path, dpi=60)
    plt.close(fig)
    return path


def _sections(tmp_path):
    figs = [_figure(tmp_path / "sub-01" / "figures" / f"f{i}.png", i) for i in range(3)]
    scores = pd.DataFrame({"output": ["luminance_contrast", "<b>slope</b>"], "r": [0.61, 0.42]})
    return [
        ReportSection("Model", text=["Validation scores & <errors>."], tables=[("Scores", scores)]),
        ReportSection(
            "Maps",
            figures=[(f, f"map {i}") for i, f in enumerate(figs)],
            commands=[("map 0", "freeview -f lh.inflated:overlay=a.mgz")],
        ),
    ]


def test_report_content_and_escaping(tmp_path):
    path = write_report(tmp_path / "r.html", title="Run <1>", config={"name": "x", "k": [1, 2]},
                        sections=_sections(tmp_path), summary=[("level", "participant")])
    text = path.read_text()
    assert "Run &lt;1&gt;" in text and "&lt;b&gt;slope&lt;/b&gt;" in text
    assert 'src="sub-01/figures/f0.png"' in text  # relative to the report's folder
    assert "freeview -f lh.inflated:overlay=a.mgz" in text
    assert "<script" not in text
    assert not list(tmp_path.glob(".r.html*"))  # no temporary left behind


def test_report_refuses_missing_figure(tmp_path):
    sec = ReportSection("Maps", figures=[(tmp_path / "nope.png", "missing")])
    with pytest.raises(FileNotFoundError, match=r"report figure .*nope.png.* does not exist"):
        write_report(tmp_path / "r.html", title="t", config={}, sections=[sec])
    assert not (tmp_path / "r.html").exists()


def test_report_renders_in_browser(tmp_path, browser):
    path = write_report(tmp_path / "r.html", title="Run", config={"name": "x"}, sections=_sections(tmp_path))
    ok, total, bad = browser.check_images(path)
    assert (ok, total, bad) == (3, 3, [])
    assert_not_blank(browser.screenshot(path))
    # the check itself can fail: a broken image is reported
    (tmp_path / "sub-01" / "figures" / "f1.png").write_bytes(b"not a png")
    ok, total, bad = browser.check_images(path)
    assert (ok, total) == (2, 3) and bad == ["sub-01/figures/f1.png"]


def test_blank_page_is_detected(tmp_path, browser):
    page = tmp_path / "blank.html"
    page.write_text("<html><body></body></html>")
    with pytest.raises(AssertionError, match="flat colour"):
        assert_not_blank(browser.screenshot(page))
