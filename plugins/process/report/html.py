"""One self-contained HTML page: sections of plots and tables, plotly.js embedded once.

The page opens offline (no network: plotly.js is written into the page) and each plot is a
``<div class="plotly-graph-div">`` that plotly renders into SVG when the page loads.
"""

from __future__ import annotations

import html
import json

import numpy as np


def _jsonable(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    raise TypeError(type(obj).__name__)


class Section:
    """A titled part of the page: text, tables and plotly figures, in order."""

    def __init__(self, title: str, anchor: str):
        self.title, self.anchor = title, anchor
        self.items: list[tuple[str, object]] = []

    def text(self, body: str) -> None:
        self.items.append(("text", body))

    def preformatted(self, body: str) -> None:
        self.items.append(("pre", body))

    def table(self, header: list[str], rows: list[list], caption: str = "") -> None:
        self.items.append(("table", (header, rows, caption)))

    def figure(self, fig) -> None:
        """A plotly figure (plotly.graph_objects.Figure)."""
        self.items.append(("figure", fig))


def _format_cell(v) -> str:
    if isinstance(v, float):
        if not np.isfinite(v):
            return ""
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"
    return html.escape(str(v))


def render_page(title: str, sections: list[Section]) -> str:
    """The whole HTML document."""
    from plotly.offline import get_plotlyjs

    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}"
        "table{border-collapse:collapse;margin:1em 0;font-size:90%}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "th{background:#eef}pre{background:#f7f7f7;padding:1em;overflow-x:auto}"
        "nav a{margin-right:1em}h2{border-bottom:1px solid #ccc;margin-top:2em}</style>",
        f"<script type='text/javascript'>{get_plotlyjs()}</script>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<nav>" + "".join(f"<a href='#{s.anchor}'>{html.escape(s.title)}</a>" for s in sections) + "</nav>",
    ]
    n_fig = 0
    for s in sections:
        parts.append(f"<h2 id='{s.anchor}'>{html.escape(s.title)}</h2>")
        for kind, item in s.items:
            if kind == "text":
                parts.append(f"<p>{html.escape(item)}</p>")
            elif kind == "pre":
                parts.append(f"<pre>{html.escape(item)}</pre>")
            elif kind == "table":
                header, rows, caption = item
                parts.append("<table>" + (f"<caption>{html.escape(caption)}</caption>" if caption else ""))
                parts.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
                for row in rows:
                    parts.append("<tr>" + "".join(f"<td>{_format_cell(v)}</td>" for v in row) + "</tr>")
                parts.append("</table>")
            elif kind == "figure":
                n_fig += 1
                div = f"plot{n_fig}"
                spec = item.to_plotly_json()
                data = json.dumps(spec.get("data", []), default=_jsonable)
                layout = json.dumps(spec.get("layout", {}), default=_jsonable)
                height = int(spec.get("layout", {}).get("height") or 420)
                parts.append(f"<div id='{div}' class='plotly-graph-div' style='height:{height}px;width:100%'></div>")
                parts.append(f"<script>Plotly.newPlot('{div}', {data}, {layout}, {{responsive: true}});</script>")
    parts.append("</body></html>")
    return "\n".join(parts)
