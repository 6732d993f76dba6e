"""A diagram model drawn as SVG by mbops itself (no Graphviz): a layered left-to-right layout.

Columns are layers: users first, then each node one column right of the furthest node that points to it
(back edges such as push -> users are not used for layering); monitoring and its on-call targets go last.
Within a column, nodes outside the private network come first and nodes inside it in a lower band framed by
the network's dashed box, so the frame never covers a node outside it. Edges are curves with their protocol
label on a white plate. Plain SVG 1.1: no script, no external reference, ids prefixed so several diagrams can
share one HTML page.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from xml.sax.saxutils import escape

from mbops.engine.diagram import DATA, FRONTS, Model

NODE_W, LINE_H, PAD, GAP_X, GAP_Y, MARGIN, WRAP = 190, 14, 9, 80, 22, 24, 27
FONT = "Helvetica, Arial, sans-serif"
STYLE = {
    "users": ("#fff4d6", "#b08a2e"),
    "ops": ("#fde8e6", "#b3261e"),
    "data": ("#eaf6ec", "#3f7d4e"),
    "node": ("#eef3fb", "#4a6fa5"),
}


@dataclass
class Box:
    x: float
    y: float
    w: float
    h: float
    lines: list[str]
    style: str

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def middle(self) -> float:
        return self.y + self.h / 2


def _lines(label: str) -> list[str]:
    out: list[str] = []
    for part in label.split("\n"):
        out += textwrap.wrap(part, WRAP) or [""]
    return out


def _layers(m: Model, names: list[str]) -> dict[str, int]:
    """Longest-path layering from users, ignoring edges back to users, monitoring's edges, and edges into a
    node users reach directly from anything but what fronts it (entry points stay next to the users)."""
    rank = dict.fromkeys(names, 0)
    forward = [
        (a, b)
        for a, b, _, _ in m.links
        if b != "users" and a != "monitoring" and b != "ops" and (b not in m.entry or a in ("users", *FRONTS))
    ]
    for a, b in (("users", k) for k in names if k not in ("users", "monitoring", "ops")):
        forward.append((a, b))
    for _ in range(len(names)):  # Bellman-Ford style relaxation; cycles stop after len(names) rounds
        changed = False
        for a, b in forward:
            if a in rank and b in rank and rank[b] < rank[a] + 1 and a != b:
                rank[b] = rank[a] + 1
                changed = True
        if not changed:
            break
    last = max(rank.values(), default=0)
    if "monitoring" in rank:
        rank["monitoring"] = last + 1
    if "ops" in rank:
        rank["ops"] = rank.get("monitoring", last) + 1
    return rank


def _ordered(m: Model, names: list[str], rank: dict[str, int]) -> dict[int, list[str]]:
    """Nodes per column, each column sorted by the mean position of its nodes' predecessors (fewer crossings)."""
    columns: dict[int, list[str]] = {}
    for name in names:
        columns.setdefault(rank[name], []).append(name)
    position: dict[str, float] = {}
    for c in sorted(columns):
        start = list(columns[c])

        def weight(name: str, c: int = c, start: list[str] = start) -> float:
            before = [position[a] for a, b, _, _ in m.links if b == name and a in position and rank[a] < c]
            return sum(before) / len(before) if before else float(start.index(name))

        columns[c] = sorted(start, key=weight)
        position.update({n: float(i) for i, n in enumerate(columns[c])})
    return columns


def layout(m: Model) -> tuple[dict[str, Box], tuple[float, float, float, float] | None, float, float]:
    """Boxes per node, the network frame (x, y, w, h) or None, and the drawing's width and height."""
    labels = {"users": "Mobile app users", **m.nodes}
    if m.alerts:
        labels["ops"] = f"On call\n{m.alerts}"
    names = list(labels)
    rank = _layers(m, names)
    columns = _ordered(m, names, rank)
    sizes = {n: _lines(labels[n]) for n in names}
    height = {n: len(sizes[n]) * LINE_H + 2 * PAD for n in names}
    top = MARGIN + 26  # under the title
    outside = {c: [n for n in col if n not in m.in_network] for c, col in columns.items()}
    inside = {c: [n for n in col if n in m.in_network] for c, col in columns.items()}
    band = max((sum(height[n] + GAP_Y for n in col) for col in outside.values()), default=0)
    net_top = top + band + 20
    boxes: dict[str, Box] = {}
    for c in sorted(columns):
        x = MARGIN + c * (NODE_W + GAP_X)
        for group, y in ((outside[c], top), (inside[c], net_top + 24)):
            for name in group:
                style = (
                    name if name in ("users", "ops") else "data" if name in DATA else "node"
                )  # fmt: skip
                boxes[name] = Box(x, y, NODE_W, height[name], sizes[name], style)
                y += height[name] + GAP_Y
    frame = None
    members = [boxes[n] for n in m.in_network if n in boxes]
    if members:
        x0 = min(b.x for b in members) - 12
        x1 = max(b.right for b in members) + 12
        y1 = max(b.y + b.h for b in members) + 12
        frame = (x0, net_top, x1 - x0, y1 - net_top)
    width = max(b.right for b in boxes.values()) + MARGIN
    bottom = max([b.y + b.h for b in boxes.values()] + ([frame[1] + frame[3]] if frame else []))
    return boxes, frame, width, bottom + MARGIN


def _text(x: float, y: float, lines: list[str], *, size: int = 11, anchor: str = "middle", bold: bool = False) -> str:
    weight = ' font-weight="bold"' if bold else ""
    spans = "".join(
        f'<tspan x="{x:.0f}" dy="{0 if i == 0 else LINE_H}">{escape(line)}</tspan>' for i, line in enumerate(lines)
    )
    return f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}" text-anchor="{anchor}"{weight}>{spans}</text>'


def _edge(a: Box, b: Box, label: str, dashed: bool, marker: str, plates: list[tuple[float, float, float]]) -> str:
    if b.x > a.x:  # forward: right side to left side
        x1, y1, x2, y2 = a.right, a.middle, b.x, b.middle
        c1, c2 = (x1 + GAP_X / 2, y1), (x2 - GAP_X / 2, y2)
    elif b.x < a.x:  # backward (push -> users): under the boxes, left side to the right side's bottom
        x1, y1, x2, y2 = a.x, a.y + a.h, b.right - 20, b.y + b.h
        dip = max(y1, y2) + 40
        c1, c2 = (x1 - 40, dip), (x2 + 40, dip)
    else:  # same column: down the right side
        x1, y1, x2, y2 = a.right, a.middle, b.right, b.middle
        c1, c2 = (x1 + 40, y1), (x2 + 40, y2)
    dash = ' stroke-dasharray="5,4"' if dashed else ""
    path = (
        f'<path d="M{x1:.0f},{y1:.0f} C{c1[0]:.0f},{c1[1]:.0f} {c2[0]:.0f},{c2[1]:.0f} {x2:.0f},{y2:.0f}" '
        f'fill="none" stroke="#555" stroke-width="1.2"{dash} marker-end="url(#{marker})"/>'
    )
    if not label:
        return path
    # the curve's midpoint (t = 0.5 of the cubic Bezier)
    mx = (x1 + 3 * c1[0] + 3 * c2[0] + x2) / 8
    my = (y1 + 3 * c1[1] + 3 * c2[1] + y2) / 8
    w = 6.2 * len(label) + 8
    while any(abs(my - py) < 16 and abs(mx - px) < (w + pw) / 2 for px, py, pw in plates):
        my += 16  # another label is there: move this one down
    plates.append((mx, my, w))
    plate = (
        f'<rect x="{mx - w / 2:.0f}" y="{my - 8:.0f}" width="{w:.0f}" height="15" rx="3" fill="#fff" opacity="0.9"/>'
    )
    return path + plate + _text(mx, my + 4, [label], size=10)


def svg(m: Model, *, ident: str = "d") -> str:
    """The model as a standalone ``<svg>`` element (no XML prolog)."""
    boxes, frame, width, height = layout(m)
    marker = f"mbops-{ident}-arrow"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" style="max-width:100%;height:auto" '
        f'font-family="{FONT}" role="img" aria-label="{escape(m.title)}">',
        f"<title>{escape(m.title)}</title>",
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
        _text(MARGIN, MARGIN + 4, [m.title], size=13, anchor="start", bold=True),
    ]
    if frame:
        x, y, w, h = frame
        parts.append(
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" rx="10" fill="none" '
            'stroke="#888" stroke-dasharray="6,4"/>'
        )
        label = m.network_label if len(m.network_label) <= 90 else m.network_label[:87] + "..."
        parts.append(_text(x + 10, y + 16, [label], size=10, anchor="start"))
    for name, box in boxes.items():
        fill, stroke = STYLE[box.style]
        rx = box.h / 2 if box.style in ("users", "ops") else 8
        parts.append(
            f'<g class="node" data-node="{escape(name)}"><title>{escape(name)}</title>'
            f'<rect x="{box.x:.0f}" y="{box.y:.0f}" width="{box.w:.0f}" height="{box.h:.0f}" rx="{rx:.0f}" '
            f'fill="{fill}" stroke="{stroke}"/>' + _text(box.x + box.w / 2, box.y + PAD + 10, box.lines) + "</g>"
        )
    plates: list[tuple[float, float, float]] = []
    for a, b, label, dashed in m.links:
        if a in boxes and b in boxes:
            drawn = _edge(boxes[a], boxes[b], label, dashed, marker, plates)
            parts.append(f'<g class="edge" data-edge="{escape(a)}-&gt;{escape(b)}">{drawn}</g>')
    parts.append("</svg>")
    return "\n".join(parts)
