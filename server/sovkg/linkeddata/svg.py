"""A bipartite drawing, generated on the server: teams on the left, organisations that take part
in several teams on the right, one line per membership.

Plain SVG 1.1 with presentation attributes (no inline style, no script), every text escaped, so
it can be inlined in a page under a strict Content-Security-Policy or served on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

#: line colours, one per team (colour-blind safe, from Okabe & Ito)
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")

_WIDTH = 760
_BOX_W = 250
_BOX_H = 30
_ROW = 42
_TOP = 16
_LEFT_X = 10
_RIGHT_X = _WIDTH - _BOX_W - 10
_MAX_CHARS = 24


@dataclass(frozen=True)
class Node:
    """One box of the drawing: its key (IRI), text, link and a longer tooltip."""

    key: str
    label: str
    href: str
    tooltip: str = ""


def _short(text: str) -> str:
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 1] + "…"


def _box(node: Node, x: int, y: int, css: str) -> str:
    title = node.tooltip or node.label
    return (
        f'<a href={quoteattr(node.href)} class="{css}">'
        f"<title>{escape(title)}</title>"
        f'<rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="6" '
        f'fill="#ffffff" stroke="#555555"/>'
        f'<text x="{x + 10}" y="{y + 20}" font-size="14" fill="#111111">'
        f"{escape(_short(node.label))}</text></a>"
    )


def bipartite_svg(
    left: list[Node], right: list[Node], edges: list[tuple[str, str]], title: str, desc: str
) -> str:
    """The drawing: ``edges`` are (left key, right key) pairs; ``title``/``desc`` describe it
    for screen readers."""
    rows = max(len(left), len(right), 1)
    height = _TOP * 2 + rows * _ROW
    lpos = {
        n.key: (i, _TOP + i * _ROW + (rows - len(left)) * _ROW // 2) for i, n in enumerate(left)
    }
    rpos = {n.key: _TOP + i * _ROW + (rows - len(right)) * _ROW // 2 for i, n in enumerate(right)}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="overlap" role="img" '
        f'viewBox="0 0 {_WIDTH} {height}" width="{_WIDTH}" height="{height}" '
        f'aria-labelledby="overlap-title overlap-desc">',
        f'<title id="overlap-title">{escape(title)}</title>',
        f'<desc id="overlap-desc">{escape(desc)}</desc>',
        '<g class="edges" fill="none" stroke-width="2.5">',
    ]
    for lkey, rkey in edges:
        if lkey not in lpos or rkey not in rpos:
            continue
        i, ly = lpos[lkey]
        ry = rpos[rkey]
        x1, y1 = _LEFT_X + _BOX_W, ly + _BOX_H // 2
        x2, y2 = _RIGHT_X, ry + _BOX_H // 2
        mid = (x1 + x2) // 2
        parts.append(
            f'<path class="edge" d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}" '
            f'stroke="{PALETTE[i % len(PALETTE)]}"/>'
        )
    parts.append("</g>")
    for n in left:
        parts.append(_box(n, _LEFT_X, lpos[n.key][1], "team"))
    for n in right:
        parts.append(_box(n, _RIGHT_X, rpos[n.key], "org"))
    parts.append("</svg>")
    return "\n".join(parts)
