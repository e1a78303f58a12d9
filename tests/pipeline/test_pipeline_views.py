"""Figures at full width in the report, and the interactive surface views it links, rendered in
headless chromium."""

from __future__ import annotations

import re

import numpy as np
import pytest
from _browser import assert_not_blank

from neuro_igc._utils import new_figure, save_figure
from neuro_igc.pipeline import ReportSection, write_report
from neuro_igc.surface import view_surface_maps

WIDTH_CHECK = """<script>
window.addEventListener('load', function () {
  var w = [];
  for (const img of document.images) { w.push(Math.round(img.getBoundingClientRect().width)); }
  document.body.setAttribute('data-img-widths', w.join(','));
  document.body.setAttribute('data-main-width', Math.round(document.querySelector('section').clientWidth));
});
</script>"""


def _png(path, width_in, dpi):
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = new_figure(figsize=(width_in, 3))
    fig.subplots().imshow(np.random.default_rng(0).standard_normal((10, 40)))
    return save_figure(fig, path, dpi=dpi)


def _maps():
    rng = np.random.default_rng(1)
    lh, rh = rng.standard_normal(10242), rng.standard_normal(10242)
    lh[:4000] = np.nan  # vertices without a value
    return {"lh": lh, "rh": rh}


def test_view_page_is_offline_and_self_contained(tmp_path):
    page = view_surface_maps(_maps(), tmp_path / "sub-01_desc-x_view.html", title="sub-01: IGC x")
    text = page.read_text()
    assert text.lstrip().lower().startswith("<!doctype html")
    # no resource fetched from the network (scripts, styles, images are inline)
    assert not re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="https?:', text)
    assert "sub-01: IGC x" in text
    # it opens on the view facing most of the map, not on nilearn's default (the left side)
    from nilearn import datasets

    mesh = datasets.load_fsaverage("fsaverage5")["inflated"]
    low = {}
    for h, part in (("lh", "left"), ("rh", "right")):
        z = np.asarray(mesh.parts[part].coordinates)[:, 2]
        low[h] = np.where(z < z.mean() - 25, 1.0, np.nan)  # values on the underside only
    text = view_surface_maps(low, tmp_path / "low_view.html").read_text()
    assert re.findall(r'"view": "(\w+)"', text) == ["bottom"]


def test_view_refuses_bad_maps(tmp_path):
    with pytest.raises(ValueError, match=r"'maps' must be a dict with keys 'lh' and/or 'rh'"):
        view_surface_maps({"left": np.zeros(10242)}, tmp_path / "v.html")
    with pytest.raises(ValueError, match=r"maps\['lh'\] has 100 vertices"):
        view_surface_maps({"lh": np.zeros(100)}, tmp_path / "v.html")
    assert not list(tmp_path.iterdir())


def test_report_figures_full_width_and_view_links(tmp_path, browser):
    wide = _png(tmp_path / "sub-01" / "figures" / "wide.png", 14, 120)  # 1680 px
    small = _png(tmp_path / "sub-01" / "figures" / "small.png", 3, 100)  # 300 px: not blown up
    view = view_surface_maps(_maps(), tmp_path / "sub-01" / "figures" / "sub-01_desc-x_view.html", title="x")
    sec = ReportSection("Maps", figures=[(wide, "wide"), (small, "small")], links=[(view, "sub-01: x")])
    report = write_report(tmp_path / "r.html", title="t", config={}, sections=[sec])
    text = report.read_text()
    assert 'href="sub-01/figures/sub-01_desc-x_view.html"' in text

    probe = tmp_path / ".probe.html"
    probe.write_text(text.replace("</body>", WIDTH_CHECK + "</body>"))
    out = browser._run(["--window-size=1400,1000", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()])
    widths = [int(w) for w in re.search(r'data-img-widths="([\d,]+)"', out.stdout).group(1).split(",")]
    main = int(re.search(r'data-main-width="(\d+)"', out.stdout).group(1))
    assert main > 1200  # the page uses the window
    assert widths[0] >= 0.9 * main  # a wide figure fills the section
    assert abs(widths[1] - 300) <= 2  # a small one keeps its own size (plus its border)

    shot = browser.screenshot(view, size=(1000, 700))
    assert_not_blank(shot)
    rgb = shot[..., :3]
    coloured = (np.abs(rgb[..., 0] - rgb[..., 2]) > 0.15).mean()  # red/blue map values, not grey
    assert coloured > 0.01
