"""Writes through the API are provisioning requests: audited with the caller as originating
user, versioned, idempotent on Idempotency-Key, and handed to the sync without losing a
message when the broker cannot be reached."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Engine, select

from adapter.api.access import add_user
from adapter.requests.apply import request_status
from adapter.store import tables as t

from .conftest import ApiCaller, RunningApi, create_customer, unique


def test_a_patch_is_a_change_made_by_the_caller_through_the_api_channel(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    backoffice = caller("backoffice")
    response = backoffice.client.patch(
        f"/api/v1/customers/{customer['number']}", json={"segment": "corporate"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["customer"]["segment"] == "corporate"
    assert response.headers["ETag"] == '"2"'
    request_id = response.headers["X-CRM-Request-Id"]
    with api_engine.connect() as conn:
        change = conn.execute(select(t.change).where(t.change.c.request_id == request_id)).one()
    assert (change.originating_user, change.channel, change.principal) == (
        backoffice.name,
        "api",
        "crm-api",
    )
    assert request_status(api_engine, request_id).operation == "customer.update"


def test_a_retry_with_the_same_idempotency_key_applies_once(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    client = caller("backoffice").client
    key = unique("idem")
    path = f"/api/v1/customers/{customer['number']}"
    first = client.patch(path, json={"segment": "corporate"}, headers={"Idempotency-Key": key})
    again = client.patch(path, json={"segment": "corporate"}, headers={"Idempotency-Key": key})
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers["X-CRM-Request-Id"] == key
    with api_engine.connect() as conn:
        changes = conn.execute(select(t.change.c.id).where(t.change.c.request_id == key)).all()
    assert len(changes) == 1
    assert again.json()["customer"]["_version"] == 2


def test_an_unusable_idempotency_key_is_400(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    response = caller("backoffice").client.patch(
        f"/api/v1/customers/{customer['number']}",
        json={"segment": "corporate"},
        headers={"Idempotency-Key": "two words"},
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["message"]


def test_a_write_whose_drain_cannot_be_sent_still_answers_and_keeps_the_outbox(
    start_api: Callable[..., RunningApi], api_engine: Engine
) -> None:
    """Broker unreachable: the answer is 200, the failed send is logged, and the billing
    message waits in the outbox for the sweep (nothing lost)."""
    server = start_api(
        api_enqueue_sync="true", broker_url="redis://127.0.0.1:9/0", result_backend="rpc://"
    )
    issued = add_user(api_engine, unique("bo"), "backoffice")
    customer = create_customer(api_engine)
    with server.client(issued.token) as client:
        response = client.patch(
            f"/api/v1/customers/{customer['number']}", json={"segment": "corporate"}
        )
    assert response.status_code == 200, response.text
    request_id = response.headers["X-CRM-Request-Id"]
    deadline = time.monotonic() + 60
    while "api.drain_not_sent" not in server.log_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "api.drain_not_sent" in server.log_text()
    status = request_status(api_engine, request_id)
    assert status.status == "applied"
    assert [e.status for e in status.outbox] == ["pending"] * len(status.outbox)
    assert status.outbox
