"""The console's session and form rules, over HTTP against a real ``crm-adapter serve``
process (no browser): the cookie's flags, CSRF on POST forms, deny by default, sign-out."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from adapter.api.access import revoke_token
from adapter.console.pages import SEARCH_KEYS
from adapter.console.session import COOKIE
from tests.integration.api.conftest import ApiCaller, RunningApi, create_customer


@contextmanager
def _signed_in(server: RunningApi, user: ApiCaller) -> Iterator[httpx.Client]:
    """A client holding USER's console session (signed in through the form)."""
    with server.client(follow_redirects=False) as client:
        answer = client.post("/console/sign-in", data={"token": user.token, "next": "/console"})
        assert answer.status_code == 303, answer.text
        yield client


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_the_session_cookie_is_httponly_samesite_strict_and_scoped_to_the_console(
    api_server: RunningApi, caller: Callable[[str], ApiCaller]
) -> None:
    user = caller("agent")
    with api_server.client(follow_redirects=False) as client:
        answer = client.post("/console/sign-in", data={"token": user.token})
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie


def test_a_page_without_a_session_redirects_to_the_sign_in_page(anonymous: httpx.Client) -> None:
    answer = anonymous.get("/console/customers/anything", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fcustomers%2Fanything"


def test_the_children_endpoint_needs_a_session(anonymous: httpx.Client) -> None:
    answer = anonymous.get("/console/api/accounts/x/children", follow_redirects=False)
    assert answer.status_code == 303 and "/console/sign-in" in answer.headers["location"]


def test_a_bearer_token_alone_does_not_open_the_console(
    api_server: RunningApi, caller: Callable[[str], ApiCaller]
) -> None:
    """The console reads its cookie only: an API client's header is not a console session."""
    user = caller("agent")
    answer = user.client.get("/console/search", follow_redirects=False)
    assert answer.status_code == 303


def test_a_form_post_without_the_csrf_token_is_refused_and_changes_nothing(
    api_server: RunningApi, caller: Callable[[str], ApiCaller], api_engine: object
) -> None:
    user = caller("admin")
    with _signed_in(api_server, user) as client:
        answer = client.post(
            "/console/attributes",
            data={"name": "csrf_probe", "label": "x", "type": "string", "entity_kind": "customer"},
        )
        assert answer.status_code == 403
        assert "security token" in answer.text
        listed = client.get("/console/attributes")
        assert "csrf_probe" not in listed.text


def test_an_admin_defines_and_retires_an_attribute_from_the_console(
    api_server: RunningApi, caller: Callable[[str], ApiCaller]
) -> None:
    user = caller("admin")
    with _signed_in(api_server, user) as client:
        csrf = _csrf(client.get("/console/attributes").text)
        name = f"console_{user.token_id}"
        form = {"csrf": csrf, "name": name, "label": "Console probe", "type": "string"}
        answer = client.post("/console/attributes", data={**form, "entity_kind": "customer"})
        assert answer.status_code == 303, answer.text
        page = client.get("/console/attributes").text
        assert name in page and "Console probe" in page
        retired = client.post(f"/console/attributes/{name}/retire", data={"csrf": csrf})
        assert retired.status_code == 303
        assert f"retired {name}" in client.get(retired.headers["location"]).text


def test_an_agent_cannot_define_an_attribute(
    api_server: RunningApi, caller: Callable[[str], ApiCaller]
) -> None:
    user = caller("agent")
    with _signed_in(api_server, user) as client:
        csrf = _csrf(client.get("/console/attributes").text)
        answer = client.post(
            "/console/attributes",
            data={
                "csrf": csrf,
                "name": "nope",
                "label": "x",
                "type": "string",
                "entity_kind": "customer",
            },
        )
        assert answer.status_code == 403
        assert "attributes.admin" in answer.text


def test_request_status_and_dead_letters_are_for_auditors_only(
    api_server: RunningApi, caller: Callable[[str], ApiCaller], api_engine: object
) -> None:
    made = create_customer(api_engine)  # type: ignore[arg-type]
    request_id = made["status"].request_id
    with _signed_in(api_server, caller("agent")) as client:
        assert client.get("/console/deadletters").status_code == 403
        assert client.get(f"/console/requests?id={request_id}").status_code == 403
    with _signed_in(api_server, caller("supervisor")) as client:
        page = client.get(f"/console/requests?id={request_id}")
        assert page.status_code == 200 and "customer.create" in page.text
        assert client.get("/console/deadletters").status_code == 200


def test_a_revoked_token_ends_the_session_at_the_next_click(
    api_server: RunningApi, caller: Callable[[str], ApiCaller], api_engine: object
) -> None:
    user = caller("agent")
    with _signed_in(api_server, user) as client:
        assert client.get("/console/search").status_code == 200
        revoke_token(api_engine, user.token_id)  # type: ignore[arg-type]
        answer = client.get("/console/search")
        assert answer.status_code == 303
        assert "revoked" in answer.headers["location"]


def test_signing_out_clears_the_cookie(
    api_server: RunningApi, caller: Callable[[str], ApiCaller]
) -> None:
    with _signed_in(api_server, caller("agent")) as client:
        csrf = _csrf(client.get("/console/search").text)
        answer = client.post("/console/sign-out", data={"csrf": csrf})
        assert answer.status_code == 303
        assert f'{COOKIE}=""' in answer.headers["set-cookie"]
        assert "Max-Age=0" in answer.headers["set-cookie"]
        assert client.get("/console/search").status_code == 303


SEARCH_VALUES = {
    "name": "Zweig",
    "fuzzy_name": "Zwieg",
    "msisdn": "+4917000000001",
    "customer_number": "API-none",
    "contract_number": "CO-none",
    "email": "nobody@example.com",
    "address": "Haupt",
    "postcode": "10115",
    "city": "Berlin",
    "birth_date": "1979-03-14",
    "tin": "DE987654321",
    "personal_id": "T22000129",
    "passport": "C01X00T478",
    "imsi": "262011234500001",
    "iccid": "8949000000000000018",
}


def test_the_search_form_offers_and_accepts_every_search_key(
    api_server: RunningApi, caller: Callable[[str], ApiCaller], api_engine: object
) -> None:
    assert {key for key, _ in SEARCH_KEYS} == set(SEARCH_VALUES)
    made = create_customer(api_engine)  # type: ignore[arg-type]
    with _signed_in(api_server, caller("agent")) as client:
        form = client.get("/console/search").text
        for key, value in SEARCH_VALUES.items():
            assert f'name="{key}"' in form
            answer = client.get("/console/search", params={key: value})
            assert answer.status_code == 200, (key, answer.text[:300])
            assert 'id="results"' in answer.text, key
        found = client.get("/console/search", params={"tin": SEARCH_VALUES["tin"]}).text
        assert made["number"] in found


def test_a_search_the_store_refuses_names_the_key_and_why(
    api_server: RunningApi, caller: Callable[[str], ApiCaller]
) -> None:
    with _signed_in(api_server, caller("agent")) as client:
        answer = client.get("/console/search", params={"msisdn": "not-a-number"})
        assert answer.status_code == 200
        assert 'role="alert">msisdn:' in answer.text
