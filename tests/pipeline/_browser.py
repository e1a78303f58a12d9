"""A real headless browser (chromium) to render reports in tests."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

# appended to a copy of the page: after load, record which <img> decoded (naturalWidth > 0)
IMG_CHECK = """<script>
window.addEventListener('load', function () {
  var ok = 0, bad = [];
  for (const img of document.images) {
    if (img.complete && img.naturalWidth > 0) { ok++; } else { bad.push(img.getAttribute('src')); }
  }
  document.body.setAttribute('data-img-ok', ok + '/' + document.images.length);
  document.body.setAttribute('data-img-bad', bad.join('|'));
});
</script>"""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


class Browser:
    """Render a local HTML page in headless chromium: DOM after load, and a screenshot."""

    def __init__(self, exe: str, tmp: Path):
        self.exe = exe
        self.tmp = tmp

    def _run(self, args: list[str]) -> subprocess.CompletedProcess:
        profile = self.tmp / "chromium-profile"
        cmd = [self.exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def check_images(self, page: Path) -> tuple[int, int, list[str]]:
        """(loaded, total, broken srcs) for the page's <img> elements, as the browser sees them."""
        page = Path(page)
        probe = page.with_name(f".probe_{page.name}")  # same folder: relative paths still resolve
        probe.write_text(page.read_text().replace("</body>", IMG_CHECK + "</body>"))
        try:
            out = self._run(["--virtual-time-budget=10000", "--dump-dom", probe.resolve().as_uri()])
        finally:
            probe.unlink()
        m = re.search(r'data-img-ok="(\d+)/(\d+)"', out.stdout)
        if m is None:
            raise AssertionError(f"the browser did not run the page's check: {out.stderr[-2000:]}")
        bad = re.search(r'data-img-bad="([^"]*)"', out.stdout).group(1)
        return int(m.group(1)), int(m.group(2)), [b for b in bad.split("|") if b]

    def screenshot(self, page: Path, size=(1280, 2400)) -> np.ndarray:
        """RGB(A) float array of a screenshot of the page."""
        import matplotlib.image as mpimg

        png = self.tmp / "screenshot.png"
        out = self._run([f"--window-size={size[0]},{size[1]}", f"--screenshot={png}", Path(page).resolve().as_uri()])
        if not png.exists():
            raise AssertionError(f"no screenshot written: {out.stderr[-2000:]}")
        return mpimg.imread(png)


def assert_not_blank(img: np.ndarray) -> None:
    """A screenshot with content: not one flat colour, and many non-background pixels."""
    rgb = img[..., :3]
    assert rgb.std() > 0.05, "the screenshot is (almost) one flat colour"
    background = np.median(rgb.reshape(-1, 3), axis=0)
    differs = np.abs(rgb - background).sum(axis=-1) > 0.1
    assert differs.mean() > 0.02, f"only {differs.mean():.1%} of the screenshot differs from the background"
