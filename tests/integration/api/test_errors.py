"""TMF error bodies for bad input, against a real server: the right status, a message naming
the problem, and nothing written."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
from sqlalchemy import Engine, func, select

from adapter.store import tables as t

from .conftest import ApiCaller, RunningApi, create_customer


def _error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    body: dict[str, object] = response.json()
    assert body["@type"] == "Error" and body["status"] == str(status)
    assert {"code", "reason", "message"} <= set(body)
    return body


def _changes(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.change)).scalar_one())


def test_malformed_json_is_400_and_nothing_is_written(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    before = _changes(api_engine)
    response = caller("backoffice").client.patch(
        f"/api/v1/customers/{customer['number']}",
        content=b'{"segment": ',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    body = _error(response, 400)
    assert body["code"] == "malformed_json"
    assert "not valid JSON" in str(body["message"])
    assert _changes(api_engine) == before


def test_a_body_over_the_cap_is_413_before_it_is_read(
    start_api: Callable[..., RunningApi], api_engine: Engine
) -> None:
    """CRM_API_MAX_BODY=2048: a declared 100 kB body is refused, nothing written."""
    from adapter.api.access import add_user

    server = start_api(api_max_body="2048")
    issued = add_user(api_engine, f"bo-{id(server)}", "backoffice")
    customer = create_customer(api_engine)
    before = _changes(api_engine)
    with server.client(issued.token) as client:
        response = client.patch(
            f"/api/v1/customers/{customer['number']}",
            content=b'{"segment": "' + b"x" * 100_000 + b'"}',
            headers={"Content-Type": "application/json"},
        )
    body = _error(response, 413)
    assert "2048" in str(body["message"]) and "CRM_API_MAX_BODY" in str(body["message"])
    assert _changes(api_engine) == before


def test_a_chunked_body_over_the_cap_is_413(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    """No Content-Length: the body is counted as it streams (default cap 1 MiB)."""
    customer = create_customer(api_engine)

    def chunks() -> Iterator[bytes]:
        for _ in range(30):
            yield b" " * 65_536

    response = caller("backoffice").client.patch(
        f"/api/v1/customers/{customer['number']}",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert _error(response, 413)["code"] == "body_too_large"


def test_an_unknown_customer_is_404(caller: Callable[[str], ApiCaller]) -> None:
    body = _error(caller("agent").client.get("/api/v1/customers/NO-SUCH-CUSTOMER"), 404)
    assert "NO-SUCH-CUSTOMER" in str(body["message"])


def test_patching_an_unknown_customer_is_404_and_nothing_is_written(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    before = _changes(api_engine)
    response = caller("backoffice").client.patch(
        "/api/v1/customers/NO-SUCH-CUSTOMER", json={"segment": "corporate"}
    )
    _error(response, 404)
    assert _changes(api_engine) == before


def test_an_unknown_route_is_a_tmf_404(caller: Callable[[str], ApiCaller]) -> None:
    body = _error(caller("agent").client.get("/api/v1/no-such-thing"), 404)
    assert "/api/v1/no-such-thing" in str(body["message"])


def test_a_wrong_type_is_422_naming_the_field(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    before = _changes(api_engine)
    response = caller("backoffice").client.patch(
        f"/api/v1/customers/{customer['number']}", json={"party": {"birth_date": "yesterday"}}
    )
    body = _error(response, 422)
    assert "party.birth_date" in str(body["message"])
    assert [d["field"] for d in body["details"]] == ["party.birth_date"]  # type: ignore[attr-defined]
    assert _changes(api_engine) == before


def test_an_unknown_field_is_422_naming_it(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    response = caller("backoffice").client.patch(
        f"/api/v1/customers/{customer['number']}", json={"shoe_size": 44}
    )
    body = _error(response, 422)
    assert "shoe_size" in str(body["message"])


def test_an_invalid_msisdn_in_a_query_is_400_naming_it(caller: Callable[[str], ApiCaller]) -> None:
    body = _error(caller("agent").client.get("/api/v1/search", params={"msisdn": "12ab"}), 400)
    assert "msisdn" in str(body["message"]) and "E.164" in str(body["message"])


def test_a_stale_version_is_409_and_nothing_is_written(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    client = caller("backoffice").client
    path = f"/api/v1/customers/{customer['number']}"
    assert (
        client.patch(path, json={"segment": "corporate"}, headers={"If-Match": '"1"'}).status_code
        == 200
    )
    before = _changes(api_engine)
    response = client.patch(path, json={"segment": "residential"}, headers={"If-Match": '"1"'})
    body = _error(response, 409)
    assert body["code"] == "stale_version" and "version 2" in str(body["message"])
    assert _changes(api_engine) == before


def test_a_patch_that_is_not_json_is_415(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    response = caller("backoffice").client.patch(
        f"/api/v1/customers/{customer['number']}",
        content=b"segment=corporate",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert "merge-patch" in str(_error(response, 415)["message"])


def test_an_unknown_query_parameter_is_400_naming_it(caller: Callable[[str], ApiCaller]) -> None:
    response = caller("agent").client.get("/api/v1/search", params={"nmae": "zw"})
    body = _error(response, 400)
    assert "nmae" in str(body["message"])
