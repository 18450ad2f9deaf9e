"""The hierarchy endpoints against a real server: lazy tree loading (a 200-level chain walked
one level per call), children paging, payer, ancestors, and the subtree as well-formed SVG."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from adapter import xmlsafe

from . import crm_data
from .conftest import ApiCaller, create_customer, unique

SVG = "{http://www.w3.org/2000/svg}"


def _org(engine: Engine) -> dict[str, Any]:
    """A customer whose top account pays, with three children (one pays) and a grandchild."""
    customer = create_customer(engine)
    top = f"{customer['number']}.1"
    kids = [
        crm_data.account(engine, customer["id"], f"{top}.{i}", parent=top, pays=i == 2)
        for i in (1, 2, 3)
    ]
    grandchild = crm_data.account(engine, customer["id"], f"{top}.1.1", parent=kids[0], pays=False)
    return {"customer": customer, "top": top, "kids": kids, "grandchild": grandchild}


def test_tree_answers_the_node_with_children_each_with_child_count(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    org = _org(api_engine)
    response = caller("agent").client.get(f"/api/v1/accounts/{org['top']}/tree")
    assert response.status_code == 200, response.text
    tree = response.json()
    assert (tree["number"], tree["child_count"], tree["depth"]) == (org["top"], 3, 0)
    assert [c["number"] for c in tree["children"]] == [f"{org['top']}.{i}" for i in (1, 2, 3)]
    assert [c["child_count"] for c in tree["children"]] == [1, 0, 0]
    assert all("children" not in c for c in tree["children"])  # depth=1: not expanded
    assert tree["children"][0]["children_href"].endswith(f"/accounts/{org['kids'][0]}/children")
    assert response.headers["X-Total-Count"] == "3"


def test_tree_pages_the_children_with_offset_and_limit(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    org = _org(api_engine)
    response = caller("agent").client.get(
        f"/api/v1/accounts/{org['top']}/tree", params={"offset": 1, "limit": 1}
    )
    assert response.status_code == 200, response.text
    assert [c["number"] for c in response.json()["children"]] == [f"{org['top']}.2"]
    assert (response.headers["X-Total-Count"], response.headers["X-Result-Count"]) == ("3", "1")


def test_tree_with_depth_2_expands_grandchildren(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    org = _org(api_engine)
    tree = caller("agent").client.get(f"/api/v1/accounts/{org['top']}/tree?depth=2").json()
    first = tree["children"][0]
    assert [g["id"] for g in first["children"]] == [org["grandchild"]]
    assert first["children"][0]["depth"] == 2


def test_a_200_level_chain_is_walked_lazily_to_its_bottom(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    """Each call loads one level: the client follows children_href down 200 levels; the
    bottom node has no children and its payer is the nearest paying level (200 pays)."""
    customer = create_customer(api_engine)
    top_id = crm_data.request(
        api_engine,
        "account.create",
        {
            "customer": customer["id"],
            "number": unique("TOP"),
            "name": "Top",
            "payment_responsible": True,
        },
    )["account_id"]
    prefix = unique("deep")
    ids = crm_data.chain(api_engine, customer["id"], top_id, 200, prefix)
    client = caller("agent").client
    node = client.get(f"/api/v1/accounts/{top_id}/tree").json()
    walked = 0
    while node["child_count"]:
        (child,) = node["children"]
        node = client.get(child["href"] + "/tree").json()
        walked += 1
    assert walked == 200
    assert node["id"] == ids[-1]
    assert node["payer_id"] == ids[199]  # level 200 pays for itself
    # A node in the middle is paid by the nearest paying ancestor (level 150 pays).
    middle = client.get(f"/api/v1/accounts/{ids[154]}/payer").json()
    assert (middle["payer"]["id"], middle["levels_up"]) == (ids[149], 5)


def test_children_lists_a_page_of_direct_children(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    org = _org(api_engine)
    response = caller("agent").client.get(
        f"/api/v1/accounts/{org['top']}/children", params={"limit": 2}
    )
    assert response.status_code == 200
    assert [c["id"] for c in response.json()] == org["kids"][:2]
    assert response.headers["X-Total-Count"] == "3"
    assert response.json()[1]["payer_id"] == org["kids"][1]  # .2 pays for itself


def test_payer_names_the_nearest_paying_ancestor(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    org = _org(api_engine)
    found = caller("agent").client.get(f"/api/v1/accounts/{org['grandchild']}/payer").json()
    assert found["payer"]["number"] == org["top"]
    assert found["levels_up"] == 2
    assert found["reason"] is None


def test_ancestors_go_up_to_the_root_nearest_first(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    org = _org(api_engine)
    found = caller("agent").client.get(f"/api/v1/accounts/{org['grandchild']}/ancestors").json()
    assert [a["id"] for a in found[:1]] == [org["kids"][0]]
    assert [a["number"] for a in found] == [f"{org['top']}.1", org["top"]]
    assert [a["levels_up"] for a in found] == [1, 2]


def test_an_unknown_account_is_404(caller: Callable[[str], ApiCaller]) -> None:
    client = caller("agent").client
    for path in ("tree", "children", "payer", "ancestors", "tree.svg"):
        response = client.get(f"/api/v1/accounts/{unique('nope')}/{path}")
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"


def test_a_tree_depth_out_of_range_is_400(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    org = _org(api_engine)
    response = caller("agent").client.get(f"/api/v1/accounts/{org['top']}/tree?depth=9")
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "query.depth"


def test_the_svg_is_well_formed_xml_with_a_box_per_node_and_payers_marked(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    org = _org(api_engine)
    response = caller("agent").client.get(f"/api/v1/accounts/{org['top']}/tree.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = xmlsafe.parse(response.content, what="svg")
    assert root.tag == f"{SVG}svg"
    boxes = root.findall(f".//{SVG}g[@data-number]")
    assert sorted(b.get("data-number") for b in boxes) == sorted(
        [org["top"], *(f"{org['top']}.{i}" for i in (1, 2, 3)), f"{org['top']}.1.1"]
    )
    payers = {b.get("data-number") for b in boxes if "payer" in (b.get("class") or "")}
    assert payers == {org["top"], f"{org['top']}.2"}
    assert len(root.findall(f".//{SVG}line")) == 4  # one edge per child


def test_the_svg_stops_at_the_depth_asked_and_says_what_is_below(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    org = _org(api_engine)
    response = caller("agent").client.get(f"/api/v1/accounts/{org['top']}/tree.svg?depth=1")
    root = xmlsafe.parse(response.content, what="svg")
    assert len(root.findall(f".//{SVG}g[@data-number]")) == 4
    assert "+1 below" in response.text  # the grandchild, not drawn


def test_svg_text_is_escaped(caller: Callable[[str], ApiCaller], api_engine: Engine) -> None:
    """A name with markup characters stays text: the document parses and holds it."""
    customer = create_customer(api_engine)
    top = f"{customer['number']}.1"
    crm_data.request(
        api_engine,
        "account.create",
        {"customer": customer["id"], "number": f"{top}.x", "name": 'R&D <"x">', "parent": top},
    )
    response = caller("agent").client.get(f"/api/v1/accounts/{top}/tree.svg")
    root = xmlsafe.parse(response.content, what="svg")
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert 'R&D <"x">' in texts


def test_hierarchy_needs_customers_read(caller: Callable[[str], ApiCaller]) -> None:
    response = caller("provisioning").client.get("/api/v1/accounts/x/tree")
    assert response.status_code == 403
    assert "customers.read" in response.json()["message"]
