"""``GET /api/v1/search`` and ``GET /api/v1/customers/{id}`` over a real server: paging
headers, projection, the search's own refusals as TMF errors."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from .conftest import ApiCaller, create_customer, unique


def test_search_pages_with_total_and_result_counts(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    stem = unique("PAGE")
    for n in range(3):
        create_customer(api_engine, f"{stem}{n}")
    client = caller("agent").client
    # The family name is "Zweig" + the last six characters of the number: unique to this test.
    name = f"Zweig{stem[-5:]}"
    first = client.get("/api/v1/search", params={"name": name, "limit": 2})
    assert first.status_code == 200
    assert (first.headers["X-Total-Count"], first.headers["X-Result-Count"]) == ("3", "2")
    rest = client.get("/api/v1/search", params={"name": name, "limit": 2, "offset": 2})
    assert (rest.headers["X-Total-Count"], rest.headers["X-Result-Count"]) == ("3", "1")
    numbers = {i["customer_number"] for i in first.json() + rest.json()}
    assert numbers == {f"{stem}{n}" for n in range(3)}


def test_search_items_carry_id_href_and_type_whatever_fields_asks(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    items = (
        caller("agent")
        .client.get(
            "/api/v1/search",
            params={"customer_number": customer["number"], "fields": "customer_number"},
        )
        .json()
    )
    assert len(items) == 1
    assert set(items[0]) == {"id", "href", "@type", "customer_number"}
    assert items[0]["href"].endswith(f"/api/v1/customers/{items[0]['id']}")


def test_a_search_without_criteria_is_400_saying_why(caller: Callable[[str], ApiCaller]) -> None:
    response = caller("agent").client.get("/api/v1/search")
    assert response.status_code == 400
    body = response.json()
    assert body["@type"] == "Error" and "criteria" in body["message"]


def test_a_too_short_name_fragment_is_400_naming_the_parameter(
    caller: Callable[[str], ApiCaller],
) -> None:
    response = caller("agent").client.get("/api/v1/search", params={"name": "z"})
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "name"


def test_a_limit_over_the_maximum_is_400(caller: Callable[[str], ApiCaller]) -> None:
    response = caller("agent").client.get("/api/v1/search", params={"name": "zw", "limit": 501})
    assert response.status_code == 400
    assert "query.limit" in response.json()["message"]


def test_the_customer_view_by_number_has_everything_and_its_version_as_etag(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    response = caller("agent").client.get(f"/api/v1/customers/{customer['number']}")
    assert response.status_code == 200
    view = response.json()
    assert view["@type"] == "CustomerView" and view["id"] == customer["id"]
    assert view["href"].endswith(f"/api/v1/customers/{customer['id']}")
    assert [a["number"] for a in view["accounts"]] == [f"{customer['number']}.1"]
    assert response.headers["ETag"] == '"1"'


def test_fields_keeps_parts_of_the_customer_view(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    view = (
        caller("agent")
        .client.get(f"/api/v1/customers/{customer['id']}", params={"fields": "accounts"})
        .json()
    )
    assert set(view) == {"id", "href", "@type", "accounts"}
