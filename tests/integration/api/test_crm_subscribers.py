"""A subscriber's listings (suppression enforced, reveal audited), effective discounts with
their origin, and balances with free units, against a real server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from adapter.store import tables as t
from adapter.store.audit import verify

from . import crm_data
from .conftest import ApiCaller, create_customer, unique


def _this_month() -> str:
    now = datetime.now(UTC)
    return f"{now.year:04d}-{now.month:02d}"


def _setup(engine: Engine, *, groups: list[str] | None = None) -> dict[str, Any]:
    """A customer, a child account (not paying) with a subscriber, two usage lines this month
    and one in January 2025."""
    customer = create_customer(engine)
    top = f"{customer['number']}.1"
    child = crm_data.account(engine, customer["id"], f"{top}.7", parent=top, pays=False)
    sim = crm_data.subscriber(engine, child, groups=groups)
    now = datetime.now(UTC).replace(day=1, hour=8, minute=0, second=0, microsecond=0)
    ids = {"customer_id": customer["id"], "account_id": child}
    crm_data.usage(
        engine,
        sim,
        ids,
        [now, now + timedelta(hours=1), datetime(2025, 1, 15, 12, tzinfo=UTC)],
    )
    return {"customer": customer, "top": top, "child": child, "sim": sim, **ids}


def test_listings_default_to_this_month(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    data = _setup(api_engine)
    response = caller("agent").client.get(
        f"/api/v1/subscribers/{data['sim']['subscriber_id']}/listings"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["month"], body["suppressed"], body["total"]) == (_this_month(), False, 2)
    assert [line["type"] for line in body["items"]] == ["voice", "voice"]
    assert response.headers["X-Total-Count"] == "2"


def test_listings_of_another_month_by_msisdn(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    data = _setup(api_engine)
    response = caller("agent").client.get(
        f"/api/v1/subscribers/{data['sim']['msisdn']}/listings", params={"month": "2025-01"}
    )
    assert response.status_code == 200
    assert [line["start_time"][:10] for line in response.json()["items"]] == ["2025-01-15"]


def test_a_malformed_month_is_400(caller: Callable[[str], ApiCaller], api_engine: Engine) -> None:
    data = _setup(api_engine)
    response = caller("agent").client.get(
        f"/api/v1/subscribers/{data['sim']['subscriber_id']}/listings", params={"month": "2025-13"}
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "month"


def test_a_subscriber_suppression_hides_the_lines_from_an_agent(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    data = _setup(api_engine)
    sid = data["sim"]["subscriber_id"]
    crm_data.request(
        api_engine,
        "suppression.set",
        {"scope_type": "subscriber", "subscriber": sid, "reason": "protected person"},
    )
    response = caller("agent").client.get(f"/api/v1/subscribers/{sid}/listings")
    assert response.status_code == 200
    body = response.json()
    assert (body["suppressed"], body["items"], body["total"]) == (True, [], 2)
    assert body["suppressions"][0]["origin"]["kind"] == "own"
    assert body["reveal"] is None  # an agent may not reveal
    assert response.headers["X-Result-Count"] == "0"


def test_an_account_suppression_hides_the_listings_of_the_whole_subtree(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    data = _setup(api_engine)
    crm_data.request(
        api_engine,
        "suppression.set",
        {"scope_type": "account", "account": data["top"], "reason": "board members"},
    )
    body = (
        caller("agent")
        .client.get(f"/api/v1/subscribers/{data['sim']['subscriber_id']}/listings")
        .json()
    )
    assert body["suppressed"] is True
    origin = body["suppressions"][0]["origin"]
    assert (origin["kind"], origin["number"], origin["levels_up"]) == ("inherited", data["top"], 1)


def test_a_group_suppression_hides_the_listings_of_its_members(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    group = unique("VIP").replace("-", "_").upper()
    data = _setup(api_engine, groups=[group])
    crm_data.request(
        api_engine,
        "suppression.set",
        {"scope_type": "group", "group_name": group, "reason": "vip group"},
    )
    body = (
        caller("agent")
        .client.get(f"/api/v1/subscribers/{data['sim']['subscriber_id']}/listings")
        .json()
    )
    assert body["suppressed"] is True
    assert body["suppressions"][0]["origin"]["kind"] == "group"


def test_a_supervisor_reveals_and_the_reveal_is_audited_and_queryable(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    """The supervisor sees the lines after the reveal; a change ``listing.reveal`` in the
    supervisor's name records which subscriber and month, and the audit query finds it by
    user and by the subscriber."""
    data = _setup(api_engine)
    sid = data["sim"]["subscriber_id"]
    crm_data.request(
        api_engine,
        "suppression.set",
        {"scope_type": "subscriber", "subscriber": sid, "reason": "protected person"},
    )
    supervisor = caller("supervisor")
    seen = supervisor.client.get(f"/api/v1/subscribers/{sid}/listings").json()
    assert seen["items"] == []
    assert seen["reveal"]["method"] == "POST"
    response = supervisor.client.post(seen["reveal"]["href"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["revealed"], len(body["items"])) == (True, 2)
    change_id = int(response.headers["X-CRM-Change-Id"])
    with api_engine.connect() as conn:
        change = conn.execute(select(t.change).where(t.change.c.id == change_id)).one()
    assert (change.operation, change.originating_user, change.channel) == (
        "listing.reveal",
        supervisor.name,
        "api",
    )
    assert change.summary["subscriber_id"] == sid
    assert change.summary["month"] == _this_month()
    audit = supervisor.client.get(
        "/api/v1/audit", params={"entity_type": "subscriber", "entity_id": sid}
    ).json()
    assert change_id in [c["id"] for c in audit]
    by_user = supervisor.client.get("/api/v1/audit", params={"user": supervisor.name}).json()
    assert [c["operation"] for c in by_user] == ["listing.reveal"]
    with api_engine.connect() as conn:
        assert verify(conn).ok  # the entity-less change is part of the hash chain


def test_an_agent_cannot_reveal(caller: Callable[[str], ApiCaller], api_engine: Engine) -> None:
    data = _setup(api_engine)
    response = caller("agent").client.post(
        f"/api/v1/subscribers/{data['sim']['subscriber_id']}/listings/reveal"
    )
    assert response.status_code == 403
    assert "listings.suppressed.read" in response.json()["message"]


def test_a_suppression_that_ended_before_the_month_does_not_hide_it(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    data = _setup(api_engine)
    sid = data["sim"]["subscriber_id"]
    crm_data.request(
        api_engine,
        "suppression.set",
        {
            "scope_type": "subscriber",
            "subscriber": sid,
            "reason": "until end of 2024",
            "valid_to": "2024-12-31",
        },
    )
    client = caller("agent").client
    assert client.get(f"/api/v1/subscribers/{sid}/listings").json()["suppressed"] is False
    old = client.get(f"/api/v1/subscribers/{sid}/listings", params={"month": "2024-12"}).json()
    assert old["suppressed"] is True


def test_effective_lists_own_and_inherited_discounts_with_their_origin(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    data = _setup(api_engine)
    sid = data["sim"]["subscriber_id"]
    crm_data.request(
        api_engine,
        "discount.assign",
        {"level": "account", "account": data["top"], "code": "CORP10", "value": "10"},
    )
    crm_data.request(
        api_engine,
        "discount.assign",
        {
            "level": "subscriber",
            "subscriber": sid,
            "code": "WELCOME",
            "value": "5",
            "discount_kind": "promotion",
            "valid_to": "2099-12-31",
        },
    )
    response = caller("agent").client.get(f"/api/v1/subscribers/{sid}/effective")
    assert response.status_code == 200, response.text
    found = {d["item"]["code"]: d["origin"] for d in response.json()["discounts"]}
    assert found["WELCOME"]["kind"] == "own"
    assert (found["CORP10"]["kind"], found["CORP10"]["number"], found["CORP10"]["levels_up"]) == (
        "inherited",
        data["top"],
        1,
    )


def test_effective_at_a_date_before_a_promotion_leaves_it_out(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    data = _setup(api_engine)
    sid = data["sim"]["subscriber_id"]
    crm_data.request(
        api_engine,
        "discount.assign",
        {
            "level": "subscriber",
            "subscriber": sid,
            "code": "SUMMER",
            "value": "5",
            "valid_from": "2030-06-01",
        },
    )
    client = caller("agent").client
    before = client.get(f"/api/v1/subscribers/{sid}/effective", params={"at": "2030-05-31"})
    during = client.get(f"/api/v1/subscribers/{sid}/effective", params={"at": "2030-06-01"})
    assert [d["item"]["code"] for d in before.json()["discounts"]] == []
    assert [d["item"]["code"] for d in during.json()["discounts"]] == ["SUMMER"]
    assert during.json()["on"] == "2030-06-01"


def test_balances_show_granted_used_remaining_and_percentages(
    caller: Callable[[str], ApiCaller], api_engine: Engine
) -> None:
    data = _setup(api_engine)
    ids = {**data["sim"], "customer_id": data["customer_id"], "account_id": data["child"]}
    crm_data.balances(api_engine, ids, granted="5120", used="1280", shared_granted="0")
    response = caller("agent").client.get(
        f"/api/v1/subscribers/{data['sim']['subscriber_id']}/balances"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["balances"][0]["current"] == "-12.50"
    buckets = {b["package"]: b for b in body["free_units"]}
    data_bucket = buckets["DATA_5GB"]
    assert (data_bucket["granted"], data_bucket["used"], data_bucket["remaining"]) == (
        "5120",
        "1280",
        "3840",
    )
    assert (data_bucket["used_percent"], data_bucket["remaining_percent"]) == ("25.00", "75.00")
    assert data_bucket["shared"] is False
    assert data_bucket["period"]["start"] == datetime.now(UTC).date().replace(day=1).isoformat()
    shared = buckets["VOICE_SHARED"]
    assert (shared["shared"], shared["used_percent"]) == (True, None)  # nothing granted


def test_an_unknown_subscriber_is_404(caller: Callable[[str], ApiCaller]) -> None:
    client = caller("agent").client
    for path in ("listings", "effective", "balances"):
        assert client.get(f"/api/v1/subscribers/{unique('x')}/{path}").status_code == 404
