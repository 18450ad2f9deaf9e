"""Request submission over HTTP (202 + Location, recorded before the answer, applied by a
real worker on the broker), request status, and the dead letters (masked), against a real
server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from adapter.api.access import add_user
from adapter.requests.apply import request_status, submit
from adapter.store import tables as t
from tests.integration.test_workers import Worker

from .conftest import PII, ApiCaller, RunningApi, create_customer, unique

APPLIED_TIMEOUT = 60.0  # seconds for a worker to apply a request (CPU is contended)


def _envelope(customer_id: str, segment: str, **extra: Any) -> dict[str, Any]:
    return {
        "operation": "customer.update",
        "payload": {"customer": customer_id, "patch": {"segment": segment}},
        **extra,
    }


@pytest.fixture(scope="module")
def request_worker(
    api_server: RunningApi, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    """A ``crm-adapter worker`` on the server's own broker (the embedded one in its data
    folder) and store, consuming ``crm.requests``."""
    folder: Path = tmp_path_factory.mktemp("request-worker")
    worker = Worker("requests", dict(api_server.env), folder / "worker.log", 1, "crm.requests")
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


def test_a_submitted_request_is_recorded_answered_202_and_applied_by_a_worker(
    caller: Callable[[str], ApiCaller], api_engine: Engine, request_worker: Worker
) -> None:
    customer = create_customer(api_engine)
    provisioning = caller("provisioning")
    request_id = unique("http-req")
    response = provisioning.client.post(
        "/api/v1/requests", json=_envelope(customer["id"], "corporate", request_id=request_id)
    )
    assert response.status_code == 202, response.text
    assert response.headers["Location"].endswith(f"/api/v1/requests/{request_id}")
    assert response.json()["status"] in ("received", "applied", "synced")
    deadline = time.monotonic() + APPLIED_TIMEOUT
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = provisioning.client.get(response.headers["Location"]).json()
        if status["status"] != "received":
            break
        time.sleep(0.2)
    assert status["status"] in ("applied", "synced"), (
        status,
        request_worker.log.read_text(errors="replace")[-3000:],
    )
    recorded = request_status(api_engine, request_id)
    assert recorded.change_id is not None
    with api_engine.connect() as conn:
        change = conn.execute(select(t.change).where(t.change.c.id == recorded.change_id)).one()
    assert (change.originating_user, change.principal, change.channel) == (
        provisioning.name,
        f"crm-api:{provisioning.name}",
        "api",
    )


def test_a_request_is_durably_received_before_the_answer_even_without_a_worker(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    """No worker consumes the queue here: the answer is 202 and the store already holds the
    request as received (a worker or the sweep applies it later)."""
    customer = create_customer(api_engine)
    key = unique("idem-req")
    client = caller("backoffice").client
    response = client.post(
        "/api/v1/requests",
        json=_envelope(customer["id"], "vip"),
        headers={"Idempotency-Key": key},
    )
    assert response.status_code == 202, response.text
    assert response.json()["request_id"] == key
    assert request_status(api_engine, key).status in ("received", "applied", "synced")
    again = client.post(
        "/api/v1/requests",
        json=_envelope(customer["id"], "vip"),
        headers={"Idempotency-Key": key},
    )
    assert again.status_code == 202
    assert again.json()["received_at"] == response.json()["received_at"]


def test_an_envelope_the_schema_refuses_is_422_naming_the_field_and_its_status_is_failed(
    caller: Callable[[str], ApiCaller],
) -> None:
    client = caller("provisioning").client
    request_id = unique("bad-req")
    response = client.post(
        "/api/v1/requests",
        json={"request_id": request_id, "operation": "customer.teleport", "payload": {}},
    )
    assert response.status_code == 422, response.text
    assert any(d["field"] == "operation" for d in response.json()["details"])
    status = client.get(f"/api/v1/requests/{request_id}").json()
    assert (status["status"], status["reason"]["code"]) == ("failed", "invalid_envelope")


def test_submission_needs_requests_submit_and_an_unknown_status_is_404(
    caller: Callable[[str], ApiCaller],
) -> None:
    assert caller("agent").client.post("/api/v1/requests", json={}).status_code == 403
    assert caller("provisioning").client.get(f"/api/v1/requests/{unique('n')}").status_code == 404


def _dead_letter(engine: Engine) -> str:
    """A customer.create refused (its number is taken), carrying PII in its envelope."""
    taken = create_customer(engine)
    request_id = unique("dlq")
    status = submit(
        engine,
        {
            "request_id": request_id,
            "originating_user": "crm.test.setup",
            "channel": "test",
            "operation": "customer.create",
            "payload": {
                "customer_number": taken["number"],
                "party": {
                    "kind": "individual",
                    "given_name": "Ada",
                    "family_name": "Dup",
                    "birth_date": PII["birth_date"],
                },
                "identifications": [{"type": "tin", "value": PII["tin"]}],
            },
        },
        principal="pytest",
    )
    assert status.failed, status
    return request_id


def test_dead_letters_are_listed_and_shown_with_the_envelope_masked(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    request_id = _dead_letter(api_engine)
    client = caller("supervisor").client
    listed = client.get("/api/v1/deadletters", params={"operation": "customer.create"})
    assert listed.status_code == 200, listed.text
    assert request_id in [d["request_id"] for d in listed.json()]
    assert int(listed.headers["X-Total-Count"]) >= 1
    shown = client.get(f"/api/v1/deadletters/{request_id}")
    assert shown.status_code == 200
    body = shown.json()
    assert body["status"] == "failed"
    assert body["envelope"]["payload"]["party"]["family_name"] == "Dup"
    assert PII["tin"] not in shown.text and PII["birth_date"] not in shown.text
    admin = caller("admin").client.get(f"/api/v1/deadletters/{request_id}")
    assert PII["tin"] in admin.text


def test_dead_letters_need_audit_read(caller: Callable[[str], ApiCaller]) -> None:
    response = caller("agent").client.get("/api/v1/deadletters")
    assert response.status_code == 403
    assert "audit.read" in response.json()["message"]


def test_a_request_whose_message_cannot_be_sent_stays_received_for_the_sweep(
    start_api: Callable[..., RunningApi], api_engine: Engine
) -> None:
    """Broker unreachable: still 202 (the request was recorded first), the failed send is
    logged, and the request waits ``received`` for crm.requests.sweep: nothing is lost."""
    server = start_api(broker_url="redis://127.0.0.1:9/0", result_backend="rpc://")
    issued = add_user(api_engine, unique("prov"), "provisioning")
    customer = create_customer(api_engine)
    request_id = unique("unsent")
    with server.client(issued.token) as client:
        response = client.post(
            "/api/v1/requests", json=_envelope(customer["id"], "corporate", request_id=request_id)
        )
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "api.request_not_sent" not in server.log_text():
        time.sleep(0.2)
    assert "api.request_not_sent" in server.log_text()
    assert request_status(api_engine, request_id).status == "received"
