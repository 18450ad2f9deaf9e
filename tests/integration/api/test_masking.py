"""PII in the API's answers and logs: TIN, personal id, passport number and birth date are
masked unless the caller holds pii.read, and never appear raw in the server's log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from .conftest import PII, ApiCaller, RunningApi, create_customer


def _identifications(view: dict[str, Any]) -> dict[str, str]:
    return {i["type"]: i["value"] for i in view["customer"]["identifications"]}


def test_an_agent_sees_identity_documents_and_birth_date_masked(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    view = caller("agent").client.get(f"/api/v1/customers/{customer['number']}").json()
    shown = _identifications(view)
    for kind in ("tin", "personal_id", "passport"):
        assert shown[kind] != PII[kind]
        assert shown[kind].endswith(PII[kind][-2:]) and "*" in shown[kind]
    assert view["customer"]["party"]["birth_date"] != PII["birth_date"]
    # What care works with stays visible.
    assert view["customer"]["party"]["given_name"] == "Ilse"


def test_a_caller_with_pii_read_sees_them_unmasked(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    view = caller("admin").client.get(f"/api/v1/customers/{customer['number']}").json()
    assert _identifications(view) == {k: PII[k] for k in ("tin", "personal_id", "passport")}
    assert view["customer"]["party"]["birth_date"] == PII["birth_date"]


def test_search_results_mask_the_birth_date_without_pii_read(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    params = {"customer_number": customer["number"]}
    masked = caller("agent").client.get("/api/v1/search", params=params).json()
    plain = caller("admin").client.get("/api/v1/search", params=params).json()
    assert masked[0]["birth_date"] != PII["birth_date"] and "*" in masked[0]["birth_date"]
    assert plain[0]["birth_date"] == PII["birth_date"]


def test_the_server_log_holds_neither_pii_nor_tokens(
    caller: Callable[[str], ApiCaller], api_engine: Engine, api_server: RunningApi
) -> None:
    """A search by TIN, a view and a patch of a birth date: the log names the caller and the
    route, never the values, the token or the path (which may hold an MSISDN)."""
    customer = create_customer(api_engine)
    admin = caller("admin")
    admin.client.get("/api/v1/search", params={"tin": PII["tin"]}).raise_for_status()
    admin.client.get(f"/api/v1/customers/{customer['number']}").raise_for_status()
    admin.client.patch(
        f"/api/v1/customers/{customer['number']}", json={"party": {"birth_date": "1979-03-15"}}
    ).raise_for_status()
    log = api_server.log_text()
    assert admin.name in log and "/api/v1/customers/{customer_id}" in log
    for secret in (*PII.values(), "1979-03-15", admin.token, customer["number"]):
        assert secret not in log, secret
