"""Drawing a laid-out :class:`~.graph_model.GraphView`: inline SVG in one HTML page, or mermaid.

The page needs nothing at view time: no script, no font or style from the network, the SVG laid
out by :mod:`.graph_layout` when it was generated. Every box is a ``<g data-box="...">`` and every
edge label line a ``<text data-edge-label="...">``, so tests (and users' scripts) can find them.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Iterable

from .graph_layout import LABEL_HEIGHT, LINE_HEIGHT, PAD_X, PAD_Y, TITLE_HEIGHT, Layout, layout
from .graph_model import BoxKind, GraphView, clip

__all__ = ["to_html", "to_mermaid", "to_svg"]

# fill, stroke, caption shown above the title (None: none)
_STYLE: dict[BoxKind, tuple[str, str, str | None]] = {
    "node": ("#eef4ff", "#3b6fd1", None),
    "dynamic": ("#f4f4f4", "#777777", None),
    "ros": ("#e3f1fb", "#22314e", "ROS 2 bridge"),
    "timer": ("#fff6dc", "#b58900", None),
    "topic": ("#e8f6ee", "#2f8a57", "ROS topic"),
    "service": ("#f2ebfb", "#7046b5", "ROS service"),
    "action": ("#fbeaf0", "#b5466f", "ROS action"),
    "launch": ("#fff1e6", "#c15d10", "launch file"),
    "process": ("#f4f4f4", "#555555", "process"),
    "ros_process": ("#e3f1fb", "#22314e", "ROS 2 node"),
    "dora_process": ("#eef4ff", "#3b6fd1", "dora-ros graph"),
}
_ROUNDED: dict[BoxKind, float] = {"timer": 18.0, "topic": 18.0, "service": 10.0, "action": 10.0}
_FONT = "DejaVu Sans Mono, Liberation Mono, Menlo, Consolas, monospace"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _curve(points: Iterable[tuple[float, float]]) -> str:
    """A smooth path through ``points``: cubic pieces with horizontal tangents at each point."""
    pts = list(points)
    parts = [f"M{pts[0][0]:.1f},{pts[0][1]:.1f}"]
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        dx = (x1 - x0) / 2
        if abs(dx) < 1.0:  # vertical piece (a loop's side): straight
            parts.append(f"L{x1:.1f},{y1:.1f}")
        else:
            parts.append(f"C{x0 + dx:.1f},{y0:.1f} {x1 - dx:.1f},{y1:.1f} {x1:.1f},{y1:.1f}")
    return " ".join(parts)


def to_svg(view: GraphView, placed: Layout | None = None) -> str:
    """The view as one ``<svg>`` element."""
    placed = placed or layout(view)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dora-graph" '
        f'width="{placed.width:.0f}" height="{placed.height:.0f}" '
        f'viewBox="0 0 {placed.width:.0f} {placed.height:.0f}" font-family="{_FONT}">',
        "<defs>",
        '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker>',
        "</defs>",
    ]
    for route in placed.routes:
        edge = route.edge
        out.append(
            f'<g class="edge" data-edge="{_esc(edge.source)} -> {_esc(edge.target)}">'
            f'<path d="{_curve(route.points)}" fill="none" stroke="#555" stroke-width="1.4"'
            f"{' stroke-dasharray=' + chr(34) + '5 3' + chr(34) if route.reversed else ''}"
            ' marker-end="url(#arrow)"/>'
        )
        if edge.labels:
            x, y = route.label_at
            top = y - LABEL_HEIGHT * len(edge.labels) / 2
            out.append(
                f'<rect x="{x - route.label_width / 2:.1f}" y="{top:.1f}" '
                f'width="{route.label_width:.1f}" height="{LABEL_HEIGHT * len(edge.labels):.1f}" '
                'rx="3" fill="#ffffff" fill-opacity="0.92"/>'
            )
            for i, label in enumerate(edge.labels):
                baseline = top + LABEL_HEIGHT * (i + 1) - 4
                out.append(
                    f'<text data-edge-label="{_esc(label)}" x="{x:.1f}" y="{baseline:.1f}" '
                    f'font-size="11" text-anchor="middle" fill="#333">{_esc(label)}</text>'
                )
        out.append("</g>")
    for box in view.boxes:
        place = placed.places[box.key]
        fill, stroke, caption = _STYLE[box.kind]
        radius = _ROUNDED.get(box.kind, 5.0)
        out.append(f'<g class="box {box.kind}" data-box="{_esc(box.key)}">')
        # a tooltip with the whole text, which the box may show cut short
        out.append(f"<title>{_esc(chr(10).join((box.title, *box.lines)))}</title>")
        out.append(
            f'<rect x="{place.x:.1f}" y="{place.y:.1f}" width="{place.width:.1f}" '
            f'height="{place.height:.1f}" rx="{radius}" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{2.2 if box.kind in ("ros", "ros_process") else 1.4}"/>'
        )
        if caption:
            out.append(
                f'<text x="{place.x + 6:.1f}" y="{place.y - 4:.1f}" font-size="10" '
                f'fill="{stroke}">{_esc(caption)}</text>'
            )
        baseline = place.y + PAD_Y + TITLE_HEIGHT - 5
        out.append(
            f'<text class="title" x="{place.x + PAD_X:.1f}" y="{baseline:.1f}" font-size="13" '
            f'font-weight="bold" fill="#111">{_esc(clip(box.title))}</text>'
        )
        for i, line in enumerate(box.lines):
            y = baseline + LINE_HEIGHT * (i + 1)
            out.append(
                f'<text x="{place.x + PAD_X:.1f}" y="{y:.1f}" font-size="11" '
                f'fill="#444">{_esc(clip(line))}</text>'
            )
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="dora-ros graph">
<title>{title}</title>
<style>
body {{ margin: 16px; font-family: {font}; color: #111; background: #fff; }}
h1 {{ font-size: 16px; margin: 0 0 4px 0; }}
p.source {{ font-size: 12px; color: #555; margin: 0 0 12px 0; }}
.canvas {{ overflow: auto; border: 1px solid #ddd; }}
table {{ border-collapse: collapse; margin-top: 16px; font-size: 12px; }}
td, th {{ border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p class="source">{source}</p>
<div class="canvas">
{svg}
</div>
<table>
<tr><th>box</th><th>kind</th><th>details</th></tr>
{rows}
</table>
</body>
</html>
"""


def to_html(view: GraphView) -> str:
    """A self-contained page: the SVG and a table of the boxes, nothing loaded at view time."""
    rows = "\n".join(
        f"<tr><td>{_esc(box.title)}</td><td>{_esc(box.kind.replace('_', ' '))}</td>"
        f"<td>{'<br>'.join(_esc(line) for line in box.lines)}</td></tr>"
        for box in view.boxes
    )
    return _PAGE.format(
        title=_esc(view.title),
        font=_FONT,
        source=_esc(str(view.source)),
        svg=to_svg(view),
        rows=rows,
    )


_MERMAID_SHAPE: dict[BoxKind, tuple[str, str]] = {
    "timer": ("([", "])"),
    "topic": ("[/", "/]"),
    "service": ("{{", "}}"),
    "action": ("{{", "}}"),
    "launch": ("[[", "]]"),
    "ros": ("[", "]"),
}


def _mermaid_text(text: str) -> str:
    # mermaid's entity codes for the characters that would end a quoted label
    return text.replace('"', "#quot;")


def to_mermaid(view: GraphView) -> str:
    """The view as a mermaid ``flowchart LR`` (as `dora graph --mermaid` prints)."""
    ids = {box.key: f"n{i}" for i, box in enumerate(view.boxes)}
    lines = ["flowchart LR"]
    for box in view.boxes:
        opening, closing = _MERMAID_SHAPE.get(box.kind, ("[", "]"))
        caption = _STYLE[box.kind][2]
        head = (
            f"{caption}: " if caption and box.kind in ("ros", "topic", "service", "action") else ""
        )
        body = "<br>".join(_mermaid_text(clip(t)) for t in (head + box.title, *box.lines[:2]))
        lines.append(f'  {ids[box.key]}{opening}"{body}"{closing}')
    for edge in view.edges:
        label = ", ".join(_mermaid_text(label) for label in edge.labels)
        arrow = f' -- "{label}" --> ' if label else " --> "
        lines.append(f"  {ids[edge.source]}{arrow}{ids[edge.target]}")
    ros = [ids[b.key] for b in view.boxes if b.kind in ("ros", "topic", "service", "action")]
    if ros:
        lines.append("  classDef ros fill:#e3f1fb,stroke:#22314e")
        lines.append(f"  class {','.join(ros)} ros")
    return "\n".join(lines) + "\n"
