"""The HTML report: content, escaping, missing figures, and a real browser rendering."""

from __future__ import annotations

import re

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


def _attribution_report(tmp_path, igc_error, ig_error, baseline, r):
    """The IGC and Model sections of a participant report, from step records as the pipeline writes them."""
    from types import SimpleNamespace

    from neuro_igc.pipeline import load_config
    from neuro_igc.pipeline._sections import attribution_section, model_section
    from neuro_igc.pipeline._state import StepRecord

    corr = [0.5, 0.6]
    info = {"correlation": {"values": corr}, "ig_error": {"values": ig_error},
            "igc_error": {"values": igc_error}, "baseline_term": {"values": baseline},
            "map_sum": {"values": [c - b for c, b in zip(corr, baseline)]}, "n_samples": 100, "n_steps": 16}
    ctx = SimpleNamespace(config=load_config("decoding_image_stats"), sections=[], scores={}, labels=["01"],
                          deriv=SimpleNamespace(root=tmp_path))
    train = StepRecord("t/train", "h", info={"val": {"01": {"r": r, "score": float(np.mean(r))}}})
    model_section(ctx, train, ["a", "b"])
    attribution_section(ctx, {"01": StepRecord("t/sub-01/igc", "h", info=info)}, ["a", "b"])
    page = write_report(tmp_path / "report.html", title="t", config={}, sections=ctx.sections)
    return page.read_text()


def test_out_of_target_figures_are_flagged(tmp_path):
    from neuro_igc.attribution import IG_ERROR_WARN, IGC_ERROR_WARN

    # output "a": IGC error 0.026 (target 0.01), most of it the baseline term; output "b" within target
    page = _attribution_report(tmp_path, igc_error=[0.026, 0.002], ig_error=[0.001, 0.002],
                               baseline=[0.024, 0.001], r=[0.6, 0.7])
    flagged = re.findall(r'<td class="warn" title="([^"]*)">([^<]*)</td>', page)
    assert [cell for _, cell in flagged] == ["0.026 \u26a0"]  # only the IGC error of output "a"
    assert f"IGC error above {IGC_ERROR_WARN}" in flagged[0][0] and "baseline term" in flagged[0][0]
    assert "<th class=\"l\">baseline term</th>" in page and "<td>0.024</td>" in page  # shown beside it
    assert 'class="flag"' in page and "Out of target" in page
    # IG error and a low validation r are flagged too; a report within target has no flag at all
    page = _attribution_report(tmp_path, igc_error=[0.002, 0.002], ig_error=[3 * IG_ERROR_WARN, 0.002],
                               baseline=[0.0, 0.0], r=[0.05, 0.7])
    cells = re.findall(r'<td class="warn" title="([^"]*)">([^<]*)</td>', page)
    assert [c for _, c in cells] == ["0.05 \u26a0", "0.03 \u26a0"]
    assert "validation r below" in cells[0][0] and "IG error above" in cells[1][0]
    page = _attribution_report(tmp_path, igc_error=[0.002, 0.003], ig_error=[0.001, 0.002],
                               baseline=[0.0, 0.001], r=[0.6, 0.7])
    assert 'class="warn"' not in page and "Out of target" not in page
