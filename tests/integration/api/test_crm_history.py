"""History, as-of reads, versions, restore (of a version and of a field), custom attributes
and the audit query, against a real server."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from adapter.store import tables as t

from . import crm_data
from .conftest import PII, ApiCaller, create_customer, unique


def _changed(engine: Engine) -> dict[str, Any]:
    """A customer at version 3: segment residential → corporate → business."""
    customer = create_customer(engine)
    for segment in ("corporate", "business"):
        crm_data.request(
            engine, "customer.update", {"customer": customer["id"], "patch": {"segment": segment}}
        )
    return customer


def test_history_lists_each_change_with_who_and_the_diff(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = _changed(api_engine)
    response = caller("agent").client.get(f"/api/v1/customers/{customer['number']}/history")
    assert response.status_code == 200, response.text
    entries = [e for e in response.json() if e["entity_type"] == "customer"]
    assert [e["version"] for e in entries] == [1, 2, 3]
    assert entries[1]["diff"] == {"segment": {"old": "residential", "new": "corporate"}}
    assert entries[1]["originating_user"] == "crm.test.setup"
    assert entries[1]["operation"] == "customer.update"
    assert response.headers["X-Total-Count"] == str(len(response.json()))


def test_history_diffs_mask_pii_without_pii_read(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    created = caller("agent").client.get(f"/api/v1/customers/{customer['id']}/history").json()
    text = str(created)
    assert PII["birth_date"] not in text and PII["tin"] not in text
    unmasked = caller("admin").client.get(f"/api/v1/customers/{customer['id']}/history").json()
    assert PII["birth_date"] in str(unmasked)


def test_history_pages_newest_first(caller: Callable[[str], ApiCaller], api_engine: Engine) -> None:
    customer = _changed(api_engine)
    response = caller("agent").client.get(
        f"/api/v1/customers/{customer['id']}/history", params={"newest_first": "true", "limit": 1}
    )
    assert [e["version"] for e in response.json()] == [3]
    assert response.headers["X-Result-Count"] == "1"
    assert int(response.headers["X-Total-Count"]) >= 4  # 3 customer versions and its account


def test_as_of_answers_the_state_at_an_instant(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    time.sleep(0.05)
    between = datetime.now(UTC)
    time.sleep(0.05)
    crm_data.request(
        api_engine, "customer.update", {"customer": customer["id"], "patch": {"segment": "vip"}}
    )
    client = caller("agent").client
    then = client.get(
        f"/api/v1/customers/{customer['id']}/as-of", params={"at": between.isoformat()}
    )
    assert then.status_code == 200, then.text
    assert then.json()["snapshot"]["segment"] == "residential"
    before = client.get(
        f"/api/v1/customers/{customer['id']}/as-of",
        params={"at": (between - timedelta(days=1)).isoformat()},
    )
    assert before.status_code == 404


def test_as_of_without_a_timezone_is_400(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    response = caller("agent").client.get(
        f"/api/v1/customers/{customer['id']}/as-of", params={"at": "2026-01-01T10:00:00"}
    )
    assert response.status_code == 400
    assert "timezone" in response.json()["message"]


def test_versions_and_one_version_with_its_diff(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = _changed(api_engine)
    client = caller("agent").client
    listed = client.get(f"/api/v1/customers/{customer['id']}/versions").json()
    assert [v["version"] for v in listed] == [1, 2, 3]
    one = client.get(listed[2]["href"]).json()
    assert one["snapshot"]["segment"] == "business"
    assert one["diff"] == {"segment": {"old": "corporate", "new": "business"}}
    assert (one["latest_version"], one["change"]["operation"]) == (3, "customer.update")
    missing = client.get(f"/api/v1/customers/{customer['id']}/versions/9")
    assert missing.status_code == 404


def test_restore_of_a_version_is_a_new_change_by_the_caller(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = _changed(api_engine)
    supervisor = caller("supervisor")
    response = supervisor.client.post(
        f"/api/v1/customers/{customer['id']}/restore", json={"version": 1}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["version"], body["entity"]["segment"]) == (4, "residential")
    history = supervisor.client.get(
        f"/api/v1/customers/{customer['id']}/history", params={"newest_first": "true", "limit": 1}
    ).json()
    assert history[0]["version"] == 4
    assert history[0]["originating_user"] == supervisor.name
    assert history[0]["diff"] == {"segment": {"old": "business", "new": "residential"}}
    assert history[0]["request_id"] == response.headers["X-CRM-Request-Id"]


def test_restore_of_one_field_leaves_the_others(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    crm_data.request(
        api_engine,
        "customer.update",
        {"customer": customer["id"], "patch": {"segment": "vip", "status": "suspended"}},
    )
    supervisor = caller("supervisor")
    response = supervisor.client.post(
        f"/api/v1/customers/{customer['id']}/restore", json={"version": 1, "field": "segment"}
    )
    assert response.status_code == 200, response.text
    entity = response.json()["entity"]
    assert (entity["segment"], entity["status"]) == ("residential", "suspended")
    last = supervisor.client.get(
        f"/api/v1/customers/{customer['id']}/history", params={"newest_first": "true", "limit": 1}
    ).json()[0]
    assert last["diff"] == {"segment": {"old": "vip", "new": "residential"}}
    assert last["originating_user"] == supervisor.name


def test_restore_needs_history_restore_and_a_known_version(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    path = f"/api/v1/customers/{customer['id']}/restore"
    assert caller("agent").client.post(path, json={"version": 1}).status_code == 403
    supervisor = caller("supervisor").client
    unknown = supervisor.post(path, json={"version": 7})
    assert unknown.status_code == 422
    assert unknown.json()["details"][0]["field"] == "version"
    extra = supervisor.post(path, json={"version": 1, "what": "x"})
    assert extra.status_code == 422


def test_attribute_define_list_set_and_retire(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    """An admin defines an attribute (201, Location, audited in its name); a back-office user
    sets it on a customer; it shows in the values and the history; retired, it is refused."""
    name = unique("loyalty").replace("-", "_")
    admin = caller("admin")
    created = admin.client.post(
        "/api/v1/attributes",
        json={
            "name": name,
            "label": "Loyalty tier",
            "type": "enum",
            "entity_kind": "customer",
            "enum_values": ["gold", "silver"],
        },
    )
    assert created.status_code == 201, created.text
    assert created.headers["Location"].endswith(f"/api/v1/attributes/{name}")
    with api_engine.connect() as conn:
        change = conn.execute(
            select(t.change).where(t.change.c.id == int(created.headers["X-CRM-Change-Id"]))
        ).one()
    assert (change.operation, change.originating_user) == ("attributes.define", admin.name)
    listed = caller("agent").client.get("/api/v1/attributes").json()
    assert name in [d["name"] for d in listed]

    customer = create_customer(api_engine)
    backoffice = caller("backoffice").client
    put = backoffice.put(f"/api/v1/customers/{customer['id']}/attributes", json={name: "gold"})
    assert put.status_code == 200, put.text
    assert put.json()["values"] == {name: "gold"}
    bad = backoffice.put(f"/api/v1/customers/{customer['id']}/attributes", json={name: "bronze"})
    assert bad.status_code == 422
    assert bad.json()["details"][0]["field"] == f"attributes.{name}"
    values = caller("agent").client.get(f"/api/v1/customers/{customer['id']}/attributes").json()
    assert values["values"] == {name: "gold"}

    retired = admin.client.patch(f"/api/v1/attributes/{name}", json={"status": "retired"})
    assert retired.status_code == 200, retired.text
    assert retired.json()["status"] == "retired"
    refused = backoffice.put(
        f"/api/v1/customers/{customer['id']}/attributes", json={name: "silver"}
    )
    assert refused.status_code == 422
    assert name not in [d["name"] for d in caller("agent").client.get("/api/v1/attributes").json()]
    assert name in [
        d["name"] for d in caller("agent").client.get("/api/v1/attributes?status=retired").json()
    ]


def test_attribute_admin_is_needed_to_define(caller: Callable[[str], ApiCaller]) -> None:
    response = caller("supervisor").client.post(
        "/api/v1/attributes",
        json={"name": "x_y", "label": "X", "type": "string", "entity_kind": "customer"},
    )
    assert response.status_code == 403
    assert "attributes.admin" in response.json()["message"]


def test_an_attribute_patch_of_its_type_is_refused(
    caller: Callable[[str], ApiCaller],
) -> None:
    name = unique("note").replace("-", "_")
    admin = caller("admin").client
    admin.post(
        "/api/v1/attributes",
        json={"name": name, "label": "Note", "type": "string", "entity_kind": "account"},
    )
    response = admin.patch(f"/api/v1/attributes/{name}", json={"type": "integer"})
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "type"


def test_audit_filters_by_user_request_entity_and_time(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    backoffice = caller("backoffice")
    key = unique("audit-key")
    patched = backoffice.client.patch(
        f"/api/v1/customers/{customer['id']}",
        json={"segment": "corporate"},
        headers={"Idempotency-Key": key},
    )
    assert patched.status_code == 200, patched.text
    client = caller("supervisor").client
    by_user = client.get("/api/v1/audit", params={"user": backoffice.name}).json()
    assert [c["request_id"] for c in by_user] == [key]
    assert by_user[0]["entities"][0]["entity_id"] == customer["id"]
    by_request = client.get("/api/v1/audit", params={"request_id": key}).json()
    assert [c["originating_user"] for c in by_request] == [backoffice.name]
    by_entity = client.get(
        "/api/v1/audit", params={"entity_type": "customer", "entity_id": customer["id"]}
    )
    assert [c["operation"] for c in by_entity.json()] == ["customer.update", "customer.create"]
    assert by_entity.headers["X-Total-Count"] == "2"
    at = datetime.fromisoformat(by_user[0]["at"])
    window = client.get(
        "/api/v1/audit",
        params={
            "entity_id": customer["id"],
            "since": at.isoformat(),
            "until": (at + timedelta(seconds=1)).isoformat(),
        },
    ).json()
    assert [c["request_id"] for c in window] == [key]
    empty = client.get(
        "/api/v1/audit",
        params={"entity_id": customer["id"], "until": (at - timedelta(days=1)).isoformat()},
    ).json()
    assert empty == []


def test_audit_needs_audit_read_and_refuses_a_backwards_range(
    caller: Callable[[str], ApiCaller],
) -> None:
    assert caller("agent").client.get("/api/v1/audit").status_code == 403
    response = caller("supervisor").client.get(
        "/api/v1/audit",
        params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "until"
