"""The HTML report of a pipeline run (one self-contained page; figures by relative path).

Sections hold text, tables (pandas DataFrames), figures (PNG files inside the derivatives
folder, linked by paths relative to the report so the folder can be moved or shared whole) and
shell commands (freeview). Everything is escaped; no scripts, no network resources.
"""

from __future__ import annotations

import html
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import neuro_igc
from neuro_igc._utils import atomic_write_text

__all__ = ["ReportSection", "write_report"]

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0;
       color: #222; background: #fafafa; }
header { background: #23395d; color: white; padding: 1em 2em; }
header h1 { margin: 0 0 .3em 0; font-size: 1.6em; }
nav { padding: .5em 2em; background: #e8edf4; position: sticky; top: 0; }
nav a { margin-right: 1.2em; color: #23395d; text-decoration: none; }
main { padding: 0 2em 2em 2em; }
section { background: white; border: 1px solid #ddd; border-radius: 6px; padding: .5em 1.5em 1em;
          margin-top: 1.2em; }
h2 { color: #23395d; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #f0f3f7; }
td.l, th.l { text-align: left; }
figure { display: block; margin: .8em 0 1.2em 0; }
figure img { display: block; width: 100%; max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: .9em; color: #555; margin-top: .3em; }
ul.views { columns: 3 18em; padding-left: 1.2em; }
pre { background: #f4f4f4; padding: .6em; overflow-x: auto; font-size: .85em; }
code.cmd { display: block; white-space: pre-wrap; background: #f4f4f4; padding: .4em;
           font-size: .8em; margin-bottom: .6em; }
.warn { color: #a4000f; }
td.warn { background: #fde8e8; font-weight: bold; }
section.warn { border: 2px solid #a4000f; }
p.flag { color: #a4000f; font-weight: bold; }
"""


@dataclass
class ReportSection:
    """One section of the report.

    Attributes
    ----------
    title : str
    text : list of str
        Paragraphs (plain text, escaped).
    tables : list of (caption, DataFrame)
    figures : list of (path, caption)
        PNG files; written into the page relative to the report's folder.
    commands : list of (label, command)
        Shell commands shown verbatim (e.g. the freeview command of each map).
    links : list of (path, label)
        Pages inside the derivatives folder linked by relative path (e.g. the interactive 3-D
        view of each surface map).
    warn : bool
        Draw the section as a warning (red frame): something the reader must see first.

    A table's cells are flagged (red, bold, with a tooltip) from ``table.attrs["flags"]``:
    ``{column: [reason or "" per row]}``; flagged tables get a line saying what is out of target.
    """

    title: str
    text: list[str] = field(default_factory=list)
    tables: list[tuple[str, Any]] = field(default_factory=list)
    figures: list[tuple[str | os.PathLike, str]] = field(default_factory=list)
    commands: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str | os.PathLike, str]] = field(default_factory=list)
    warn: bool = False


def _anchor(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")


def _png_width(path: Path) -> int | None:
    """Pixel width of a PNG file (from its header), None for other files."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(24)
    except OSError:
        return None
    if len(head) == 24 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big")
    return None


def _cell(value) -> tuple[str, bool]:
    """(text, numeric) of one table cell: floats to 4 significant digits, integers as integers."""
    if isinstance(value, bool):
        return str(value), False
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a", True
        if value.is_integer() and abs(value) < 1e15:
            return f"{value:.0f}" if abs(value) >= 1e4 else f"{value:.4g}", True
        return f"{value:.4g}", True
    if isinstance(value, int):
        return str(value), True
    if hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0:  # numpy scalars
        return _cell(value.item())
    return str(value), False


def _table_html(table) -> str:
    flags = table.attrs.get("flags", {}) if hasattr(table, "attrs") else {}
    head = "".join(f'<th class="l">{html.escape(str(c))}</th>' for c in table.columns)
    rows, reasons = [], []
    for i, (_, row) in enumerate(table.iterrows()):
        cells = []
        for column, value in zip(table.columns, row):
            text, numeric = _cell(value)
            why = flags.get(column, [])
            why = why[i] if i < len(why) else ""
            cls = ["warn"] if why else []
            if not numeric:
                cls.append("l")
            attrs = f' class="{" ".join(cls)}"' if cls else ""
            if why:
                attrs += f' title="{html.escape(why)}"'
                text += " \u26a0"
                reasons.append(why)
            cells.append(f"<td{attrs}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    out = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    if reasons:
        unique = list(dict.fromkeys(reasons))
        out += ('<p class="flag">\u26a0 Out of target: ' + html.escape("; ".join(unique)) + "</p>")
    return out


def write_report(
    path: str | os.PathLike,
    *,
    title: str,
    config: dict[str, Any],
    sections: list[ReportSection],
    summary: list[tuple[str, str]] | None = None,
) -> Path:
    """Write the run report as one HTML page, atomically.

    Parameters
    ----------
    path : path-like
        Destination ``.html``; figure paths are written relative to its folder.
    title : str
        Page title.
    config : dict
        The pipeline settings as run (shown as YAML at the end).
    sections : list of ReportSection
    summary : list of (key, value) or None
        Short facts shown at the top (level, subjects, device, ...).

    Raises
    ------
    FileNotFoundError
        A figure named in a section does not exist (a report never links a missing image).
    """
    path = Path(path)
    folder = path.parent
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<header><h1>{html.escape(title)}</h1>",
        f"<div>neuro-igc {html.escape(neuro_igc.__version__)} &middot; "
        f"{html.escape(time.strftime('%Y-%m-%d %H:%M:%S'))}</div></header>",
        "<nav>" + "".join(
            f'<a href="#{_anchor(s.title)}">{html.escape(s.title)}</a>' for s in sections
        ) + '<a href="#settings">Settings</a></nav>',
        "<main>",
    ]
    if summary:
        rows = "".join(
            f'<tr><th class="l">{html.escape(k)}</th><td class="l">{html.escape(str(v))}</td></tr>'
            for k, v in summary
        )
        parts.append(f'<section id="summary"><h2>Summary</h2><table>{rows}</table></section>')
    for sec in sections:
        cls = ' class="warn"' if sec.warn else ""
        title = ("\u26a0 " if sec.warn else "") + sec.title
        parts.append(f'<section id="{_anchor(sec.title)}"{cls}><h2>{html.escape(title)}</h2>')
        for para in sec.text:
            parts.append(f"<p>{html.escape(para)}</p>")
        for caption, table in sec.tables:
            if caption:
                parts.append(f"<h3>{html.escape(caption)}</h3>")
            parts.append(_table_html(table))
        for fig, caption in sec.figures:
            fig = Path(fig)
            if not fig.exists():
                raise FileNotFoundError(f"report figure {str(fig)!r} does not exist")
            rel = os.path.relpath(fig, folder).replace(os.sep, "/")
            width = _png_width(fig)
            # full width of the page, never blown up past the figure's own pixels
            style = f' style="max-width: min(100%, {width}px)"' if width else ""
            parts.append(
                f'<figure><a href="{html.escape(rel)}"><img src="{html.escape(rel)}"{style} '
                f'alt="{html.escape(caption)}"></a><figcaption>{html.escape(caption)}</figcaption></figure>'
            )
        if sec.links:
            parts.append("<h3>Interactive 3-D views (open in a browser, no network needed)</h3><ul class=\"views\">")
            for page, label in sec.links:
                page = Path(page)
                if not page.exists():
                    raise FileNotFoundError(f"report link {str(page)!r} does not exist")
                rel = os.path.relpath(page, folder).replace(os.sep, "/")
                parts.append(f'<li><a href="{html.escape(rel)}">{html.escape(label)}</a></li>')
            parts.append("</ul>")
        if sec.commands:
            parts.append("<h3>Open in freeview</h3>")
            for label, cmd in sec.commands:
                parts.append(f"<div>{html.escape(label)}</div><code class=\"cmd\">{html.escape(cmd)}</code>")
        parts.append("</section>")
    parts.append(
        '<section id="settings"><h2>Settings</h2><pre>'
        + html.escape(yaml.safe_dump(config, sort_keys=False))
        + "</pre></section>"
    )
    parts.append("</main></body></html>")
    return atomic_write_text(path, "\n".join(parts) + "\n")
