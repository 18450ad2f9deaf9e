"""A subtree of the organisation hierarchy drawn as SVG, on the server, without a library: a
layered tree (one row per level, parents centred over their children), a box per account with
its number and name, paying accounts marked, an edge from each parent to each child.

Every text is escaped for XML (and characters XML cannot carry are dropped), so a name never
breaks the document or injects markup. The layout is two loops over the nodes in depth-first
order, never recursion, so a deep chain draws as well as a wide fan.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from xml.sax.saxutils import escape

from adapter.queries.hierarchy import Node, draw_order

BOX_W = 168
BOX_H = 46
GAP_X = 16
GAP_Y = 40
MARGIN = 12
NAME_CHARS = 24

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: str | None) -> str:
    """VALUE safe as XML character data or attribute value (quotes escaped too)."""
    return escape(_NOT_XML.sub("", value or ""), {'"': "&quot;", "'": "&apos;"})


def _short(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def layout(nodes: Sequence[Node]) -> dict[str, tuple[float, int]]:
    """Each node's (column, level): leaves take successive columns in depth-first order, a
    parent sits midway between its first and last child; the level is its depth."""
    order = draw_order(nodes)
    ids = {n.id for n in order}
    kids: dict[str, list[str]] = {}
    for node in order:
        if node.parent_id in ids and node.parent_id is not None:
            kids.setdefault(node.parent_id, []).append(node.id)
    column: dict[str, float] = {}
    next_leaf = 0
    for node in order:
        if node.id not in kids:
            column[node.id] = next_leaf
            next_leaf += 1
    for node in reversed(order):  # children come after their parent in depth-first order
        children = kids.get(node.id)
        if children:
            column[node.id] = (column[children[0]] + column[children[-1]]) / 2
    top = min((n.depth for n in order), default=0)
    return {n.id: (column[n.id], n.depth - top) for n in order}


def render_svg(
    nodes: Sequence[Node],
    *,
    title: str,
    total: int | None = None,
    child_counts: dict[str, int] | None = None,
) -> str:
    """The SVG document of NODES (a subtree from :func:`adapter.queries.hierarchy.subtree`).
    TOTAL: nodes in the whole subtree, when more exist than are drawn (a note says so);
    CHILD_COUNTS: children of each node, to mark nodes whose children are not drawn."""
    places = layout(nodes)
    by_id = {n.id: n for n in nodes}
    columns = max((c for c, _ in places.values()), default=0) + 1
    levels = max((lv for _, lv in places.values()), default=0) + 1
    note_h = 22
    width = int(MARGIN * 2 + columns * BOX_W + (columns - 1) * GAP_X)
    height = int(MARGIN * 2 + levels * BOX_H + (levels - 1) * GAP_Y + note_h)

    def x_of(node_id: str) -> float:
        return MARGIN + places[node_id][0] * (BOX_W + GAP_X)

    def y_of(node_id: str) -> float:
        return MARGIN + note_h + places[node_id][1] * (BOX_H + GAP_Y)

    out: list[str] = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{xml_text(title)}</title>",
    ]
    drawn = len(places)
    note = f"{drawn} account{'' if drawn == 1 else 's'}"
    if total is not None and total > drawn:
        note += f" of {total} (the rest not drawn: ask for a smaller depth or a lower node)"
    out.append(
        f'<text x="{MARGIN}" y="{MARGIN + 12}" fill="#555">{xml_text(title)} — {xml_text(note)}'
        "</text>"
    )
    out.append('<g class="edges" stroke="#888" fill="none">')
    for node in nodes:
        if node.parent_id in places and node.id in places and node.parent_id is not None:
            x1 = x_of(node.parent_id) + BOX_W / 2
            y1 = y_of(node.parent_id) + BOX_H
            x2 = x_of(node.id) + BOX_W / 2
            y2 = y_of(node.id)
            out.append(f'<line x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}"/>')
    out.append("</g>")
    drawn_children: dict[str, int] = {}
    for node in nodes:
        if node.parent_id is not None and node.id in places:
            drawn_children[node.parent_id] = drawn_children.get(node.parent_id, 0) + 1
    out.append('<g class="accounts">')
    for node_id in places:
        node = by_id[node_id]
        x, y = x_of(node_id), y_of(node_id)
        pays = node.payment_responsible
        payer = by_id.get(node.payer_id or "")
        pays_for = (
            "pays for itself"
            if pays
            else f"paid by {payer.number}"
            if payer is not None
            else "payer outside the drawing"
            if node.payer_id
            else "nobody pays"
        )
        hidden = (child_counts or {}).get(node_id, 0)
        more = max(0, hidden - drawn_children.get(node_id, 0))
        css = "account payer" if pays else "account"
        out.append(
            f'<g class="{css}" data-id="{xml_text(node.id)}" '
            f'data-number="{xml_text(node.number)}" data-payer="{xml_text(node.payer_id)}">'
        )
        out.append(f"<title>{xml_text(f'{node.number} {node.name}: {pays_for}')}</title>")
        out.append(
            f'<rect x="{x:g}" y="{y:g}" width="{BOX_W}" height="{BOX_H}" rx="4" '
            f'fill="{"#e7f4e4" if pays else "#ffffff"}" '
            f'stroke="{"#2e7d32" if pays else "#666"}" stroke-width="{2 if pays else 1}"/>'
        )
        mark = " €" if pays else ""
        out.append(
            f'<text x="{x + 8:g}" y="{y + 18:g}" font-weight="bold">'
            f"{xml_text(_short(node.number, NAME_CHARS - 2) + mark)}</text>"
        )
        out.append(
            f'<text x="{x + 8:g}" y="{y + 36:g}">{xml_text(_short(node.name or "", NAME_CHARS))}'
            "</text>"
        )
        if more:
            out.append(
                f'<text x="{x + BOX_W - 6:g}" y="{y + BOX_H + 14:g}" text-anchor="end" '
                f'fill="#555">+{more} below</text>'
            )
        out.append("</g>")
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
