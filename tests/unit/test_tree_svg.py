"""The server-side SVG of a subtree: well-formed whatever the names hold, a box per node,
payers marked, parents centred over their children, and any depth without recursion."""

from __future__ import annotations

from adapter import xmlsafe
from adapter.queries.hierarchy import Node
from adapter.tree_svg import layout, render_svg, xml_text

SVG = "{http://www.w3.org/2000/svg}"


def _node(
    node_id: str, parent: str | None, depth: int, *, pays: bool = False, name: str = "N"
) -> Node:
    return Node(node_id, f"A.{node_id}", name, "c1", parent, pays, depth, node_id if pays else None)


def test_a_parent_is_centred_over_its_first_and_last_child() -> None:
    nodes = [_node("r", None, 0), _node("a", "r", 1), _node("b", "r", 1), _node("c", "r", 1)]
    places = layout(nodes)
    assert [places[k] for k in ("a", "b", "c")] == [(0, 1), (1, 1), (2, 1)]
    assert places["r"] == (1, 0)


def test_markup_in_names_stays_text() -> None:
    nodes = [_node("r", None, 0, pays=True, name='<script>alert("x")</script> & co\x01')]
    svg = render_svg(nodes, title="T <&>")
    root = xmlsafe.parse(svg.encode(), what="svg")
    assert root.find(f"{SVG}script") is None
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert any(t and t.startswith("<script>") for t in texts)  # truncated, but text
    assert "\x01" not in svg


def test_payers_are_marked_and_every_child_has_an_edge() -> None:
    nodes = [_node("r", None, 0, pays=True), _node("a", "r", 1), _node("b", "r", 1, pays=True)]
    root = xmlsafe.parse(render_svg(nodes, title="t").encode(), what="svg")
    groups = root.findall(f".//{SVG}g[@data-number]")
    assert {g.get("data-number") for g in groups if "payer" in g.get("class", "")} == {
        "A.r",
        "A.b",
    }
    assert len(root.findall(f".//{SVG}line")) == 2


def test_a_chain_of_5000_draws_without_recursion() -> None:
    nodes = [_node("0", None, 0)] + [_node(str(i), str(i - 1), i) for i in range(1, 5000)]
    svg = render_svg(nodes, title="deep")
    assert svg.count("<rect") == 5000


def test_nodes_with_undrawn_children_say_how_many() -> None:
    svg = render_svg([_node("r", None, 0)], title="t", total=4, child_counts={"r": 3})
    assert "+3 below" in svg
    assert "1 account of 4" in svg


def test_xml_text_escapes_quotes_for_attributes() -> None:
    assert xml_text("a\"b'c<d>&") == "a&quot;b&apos;c&lt;d&gt;&amp;"
