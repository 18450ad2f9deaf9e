"""Authentication and privileges of the CRM API, against a real server process."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlalchemy import Engine

from adapter.api.access import revoke_token, revoke_user

from .conftest import ApiCaller, create_customer


def _is_tmf_error(response: httpx.Response, status: int) -> dict[str, object]:
    body: dict[str, object] = response.json()
    assert response.status_code == status, response.text
    assert body["@type"] == "Error"
    assert body["status"] == str(status)
    assert {"code", "reason", "message"} <= set(body)
    return body


def test_a_call_without_a_token_is_401_with_a_bearer_challenge(anonymous: httpx.Client) -> None:
    response = anonymous.get("/api/v1/whoami")
    body = _is_tmf_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in str(body["message"])


def test_an_unknown_token_is_401(anonymous: httpx.Client) -> None:
    response = anonymous.get(
        "/api/v1/whoami", headers={"Authorization": "Bearer crm_not-a-token-anyone-holds"}
    )
    body = _is_tmf_error(response, 401)
    assert "unknown or revoked" in str(body["message"])
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_is_401_and_the_users_other_tokens_still_work(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    agent = caller("agent")
    assert agent.client.get("/api/v1/whoami").status_code == 200
    revoke_token(api_engine, agent.token_id)
    _is_tmf_error(agent.client.get("/api/v1/whoami"), 401)


def test_a_disabled_users_tokens_are_all_refused(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    agent = caller("agent")
    revoke_user(api_engine, agent.name)
    _is_tmf_error(agent.client.get("/api/v1/whoami"), 401)


def test_whoami_names_the_caller_its_role_and_privileges(
    caller: Callable[[str], ApiCaller],
) -> None:
    supervisor = caller("supervisor")
    body = supervisor.client.get("/api/v1/whoami").json()
    assert body["name"] == supervisor.name
    assert body["role"] == "supervisor"
    assert "audit.read" in body["privileges"] and "pii.read" not in body["privileges"]
    assert body["token_id"] == supervisor.token_id


def test_a_missing_privilege_is_403_naming_it_and_nothing_is_written(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    agent = caller("agent")
    response = agent.client.patch(
        f"/api/v1/customers/{customer['number']}", json={"segment": "corporate"}
    )
    body = _is_tmf_error(response, 403)
    assert "customers.write" in str(body["message"])
    admin = caller("admin")
    shown = admin.client.get(f"/api/v1/customers/{customer['number']}").json()
    assert shown["customer"]["segment"] == "residential"
    assert shown["customer"]["_version"] == 1


def test_a_system_role_without_read_privilege_cannot_search(
    caller: Callable[[str], ApiCaller],
) -> None:
    """Deny by default: provisioning may write but holds no customers.read."""
    system = caller("provisioning")
    body = _is_tmf_error(system.client.get("/api/v1/search", params={"name": "zw"}), 403)
    assert "customers.read" in str(body["message"])


def test_health_and_the_documentation_need_no_token(anonymous: httpx.Client) -> None:
    assert anonymous.get("/health").text == "ok\n"
    spec = anonymous.get("/openapi.json").json()
    assert "/api/v1/search" in spec["paths"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    docs = anonymous.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
