"""TMF637 product, TMF635 usage and usageSpecification, TMF654 bucket against a real server
process (``crm-adapter serve``), on SQLite and (with ``CRM_TEST_DATABASE_URL``) PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from adapter.domain import Actor
from adapter.domain.model import Balance, FreeUnitBucket, UsageRecord
from adapter.requests.apply import submit
from adapter.store import tables as t
from adapter.store.uow import UnitOfWork
from tests.integration.api.conftest import ApiCaller, create_customer, unique

PRODUCT = "/tmf-api/productInventory/v4/product"
USAGE = "/tmf-api/usageManagement/v4/usage"
SPEC = "/tmf-api/usageManagement/v4/usageSpecification"
BUCKET = "/tmf-api/prepayBalanceManagement/v4/bucket"
MONTH = "2026-03"
MERGE = {"Content-Type": "application/merge-patch+json"}

Caller = Callable[[str], ApiCaller]


def _msisdn() -> str:
    return f"+49170{random.randint(1_000_000, 9_999_999)}"


def _apply(engine: Engine, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
    status = submit(
        engine,
        {
            "request_id": unique("tmf-setup"),
            "originating_user": "api.test.setup",
            "channel": "test",
            "operation": operation,
            "payload": payload,
        },
        principal="pytest",
    )
    assert status.status in ("applied", "synced"), status
    return dict(status.result or {})


def subscription(engine: Engine, *, usage: int = 0, suppressed: bool = False) -> dict[str, Any]:
    """A customer with an active contract (and subscriber), a DATA service with a limit, a
    contract-level promotion, USAGE voice/data lines in March 2026, a free-unit bucket and a
    balance; its listings suppressed when SUPPRESSED."""
    customer = create_customer(engine)
    number = customer["number"]
    msisdn = _msisdn()
    contract = _apply(
        engine,
        "contract.create",
        {
            "account": f"{number}.1",
            "number": f"K{number}",
            "rate_plan": "RP_M",
            "status": "active",
            "subscriber": {"msisdn": msisdn},
        },
    )
    service = _apply(
        engine,
        "service.add",
        {
            "contract": contract["contract_id"],
            "service_code": "DATA",
            "parameters": {"apn": "internet"},
            "limits": [{"name": "data_cap", "value": "10", "unit": "GB"}],
        },
    )
    discount = _apply(
        engine,
        "discount.assign",
        {
            "level": "contract",
            "contract": contract["contract_id"],
            "discount_kind": "promotion",
            "code": "WELCOME10",
            "value": "10",
        },
    )
    account_id = _account_id(engine, f"{number}.1")
    actor = Actor("billing.test", "pytest", "test", unique("tmf-billing"))
    today = datetime.now(UTC).date()
    with UnitOfWork(engine, actor) as uow:
        scope = {
            "customer_id": customer["id"],
            "account_id": account_id,
            "contract_id": contract["contract_id"],
        }
        for i in range(usage):
            uow.add(
                UsageRecord(
                    id=unique("udr"),
                    subscriber_id=contract["subscriber_id"],
                    start_time=datetime(2026, 3, 1, 8, 0, tzinfo=UTC) + timedelta(hours=i),
                    type="voice" if i % 2 == 0 else "data",
                    duration_seconds=60 if i % 2 == 0 else None,
                    volume_bytes=None if i % 2 == 0 else 1_000_000,
                    other_party="+4930123456",
                    charge={"amount": Decimal("0.19"), "currency": "EUR"},
                    **scope,
                )
            )
        uow.add(
            FreeUnitBucket(
                package="DATA_10GB",
                unit="gb",
                granted=Decimal("10"),
                used=Decimal("2.5"),
                period_start=today.replace(day=1),
                period_end=(today.replace(day=1) + timedelta(days=32)).replace(day=1)
                - timedelta(days=1),
                as_of=datetime.now(UTC),
                **scope,
            )
        )
        uow.add(
            Balance(
                customer_id=customer["id"],
                account_id=account_id,
                currency="EUR",
                current=Decimal("12.5"),
                unbilled=Decimal("3.25"),
                outstanding=Decimal("0"),
                as_of=datetime.now(UTC),
            )
        )
        uow.commit("billing.test_data")
    if suppressed:
        _apply(
            engine,
            "suppression.set",
            {"scope_type": "subscriber", "subscriber": msisdn, "reason": "board member"},
        )
    return {
        "customer_id": customer["id"],
        "customer_number": number,
        "account_id": account_id,
        "contract_id": contract["contract_id"],
        "subscriber_id": contract["subscriber_id"],
        "msisdn": msisdn,
        "service_id": service["service_id"],
        "discount_id": discount["discount_id"],
    }


def _account_id(engine: Engine, number: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(select(t.account.c.id).where(t.account.c.number == number)).scalar_one()
        )


def _change(engine: Engine, request_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(t.change).where(t.change.c.request_id == request_id)).one()


def _characteristics(product: dict[str, Any]) -> dict[str, Any]:
    return {c["name"]: c["value"] for c in product["productCharacteristic"]}


@pytest.fixture(scope="module")
def held(api_engine: Engine) -> dict[str, Any]:
    """One subscription with four usage lines, read by the tests that change nothing."""
    return subscription(api_engine, usage=4)


# ----------------------------------------------------------------------------- TMF637


def test_products_of_a_customer_are_its_subscription_service_and_discount(
    caller: Caller, held: dict[str, Any]
) -> None:
    agent = caller("agent")
    answer = agent.client.get(PRODUCT, params={"relatedParty.id": held["customer_number"]})
    assert answer.status_code == 200, answer.text
    products = {p["@type"]: p for p in answer.json()}
    assert set(products) == {"SubscriptionProduct", "ServiceProduct", "DiscountProduct"}
    assert answer.headers["X-Total-Count"] == "3"
    assert answer.headers["X-Result-Count"] == "3"
    sub = products["SubscriptionProduct"]
    assert sub["id"] == f"contract:{held['contract_id']}"
    assert sub["href"].endswith(f"{PRODUCT}/contract:{held['contract_id']}")
    assert sub["isBundle"] is True and sub["status"] == "active"
    assert _characteristics(sub)["msisdn"] == held["msisdn"]
    assert sub["billingAccount"]["id"] == held["account_id"]
    assert {p["id"] for p in sub["product"]} == {
        f"service:{held['service_id']}",
        f"discount:{held['discount_id']}",
    }
    service = products["ServiceProduct"]
    assert service["productRelationship"][0]["product"]["id"] == sub["id"]
    limits = [c for c in service["productCharacteristic"] if c["valueType"] == "quantity"]
    assert limits == [
        {"name": "data_cap", "valueType": "quantity", "value": {"amount": 10, "units": "GB"}}
    ]
    alteration = products["DiscountProduct"]["productPrice"][0]["productPriceAlteration"][0]
    assert alteration["priceType"] == "promotion"
    assert alteration["price"] == {"percentage": 10}


def test_a_product_list_without_a_customer_or_account_is_refused(caller: Caller) -> None:
    answer = caller("agent").client.get(PRODUCT)
    assert answer.status_code == 400
    assert "relatedParty.id" in answer.json()["message"]


def test_product_filters_by_type_and_status_and_refuses_unknown_ones(
    caller: Caller, held: dict[str, Any]
) -> None:
    client = caller("agent").client
    scope = {"billingAccount.id": held["account_id"]}
    services = client.get(PRODUCT, params={**scope, "@type": "ServiceProduct"}).json()
    assert [p["id"] for p in services] == [f"service:{held['service_id']}"]
    none = client.get(PRODUCT, params={**scope, "status": "terminated"})
    assert none.json() == [] and none.headers["X-Total-Count"] == "0"
    unknown = client.get(PRODUCT, params={**scope, "colour": "red"})
    assert unknown.status_code == 400 and "colour" in unknown.json()["message"]


def test_product_paging_headers_count_all_and_this_page(
    caller: Caller, held: dict[str, Any]
) -> None:
    answer = caller("agent").client.get(
        PRODUCT, params={"relatedParty.id": held["customer_id"], "offset": 1, "limit": 1}
    )
    assert answer.status_code == 200
    assert len(answer.json()) == 1
    assert answer.headers["X-Total-Count"] == "3"
    assert answer.headers["X-Result-Count"] == "1"


def test_product_projection_keeps_only_the_fields_asked_and_id_href_type(
    caller: Caller, held: dict[str, Any]
) -> None:
    answer = caller("agent").client.get(
        f"{PRODUCT}/service:{held['service_id']}", params={"fields": "status,name"}
    )
    assert answer.status_code == 200
    assert set(answer.json()) == {"id", "href", "@type", "status", "name"}
    assert answer.headers["ETag"] == '"1"'


def test_an_unknown_product_is_404(caller: Caller) -> None:
    client = caller("agent").client
    assert client.get(f"{PRODUCT}/service:nope").status_code == 404
    malformed = client.get(f"{PRODUCT}/nope")
    assert malformed.status_code == 404
    assert "contract:<id>" in malformed.json()["message"]


def test_post_subscription_answers_201_with_location_and_writes_in_the_callers_name(
    caller: Caller, api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    office = caller("backoffice")
    msisdn = _msisdn()
    answer = office.client.post(
        PRODUCT,
        json={
            "@type": "SubscriptionProduct",
            "status": "active",
            "billingAccount": {"id": f"{customer['number']}.1"},
            "productSpecification": {"id": "RP_L"},
            "productCharacteristic": [
                {"name": "contractNumber", "value": f"K{customer['number']}"},
                {"name": "msisdn", "value": msisdn},
            ],
        },
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert answer.headers["Location"] == body["href"]
    assert body["id"].startswith("contract:") and body["status"] == "active"
    assert _characteristics(body)["msisdn"] == msisdn
    assert office.client.get(answer.headers["Location"]).status_code == 200
    change = _change(api_engine, answer.headers["X-CRM-Request-Id"])
    assert (change.originating_user, change.operation) == (office.name, "contract.create")


def test_a_product_post_retried_with_its_idempotency_key_creates_one_product(
    caller: Caller, api_engine: Engine
) -> None:
    held = subscription(api_engine)
    client = caller("backoffice").client
    body = {
        "@type": "ServiceProduct",
        "productSpecification": {"id": "VOICEMAIL"},
        "productRelationship": [
            {"relationshipType": "bundledIn", "product": {"id": f"contract:{held['contract_id']}"}}
        ],
    }
    key = {"Idempotency-Key": unique("tmf-post")}
    first = client.post(PRODUCT, json=body, headers=key)
    again = client.post(PRODUCT, json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert first.json()["id"] == again.json()["id"]
    services = client.get(
        PRODUCT, params={"relatedParty.id": held["customer_id"], "name": "VOICEMAIL"}
    )
    assert services.headers["X-Total-Count"] == "1"


def test_a_product_patch_on_a_stale_version_is_409_and_changes_nothing(
    caller: Caller, api_engine: Engine
) -> None:
    held = subscription(api_engine)
    client = caller("backoffice").client
    path = f"{PRODUCT}/service:{held['service_id']}"
    answer = client.patch(path, json={"status": "suspended"}, headers={**MERGE, "If-Match": '"7"'})
    assert answer.status_code == 409
    assert answer.json()["code"] == "stale_version"
    assert client.get(path).json()["status"] == "active"


def test_post_service_and_discount_products_add_them_to_the_subscription(
    caller: Caller, api_engine: Engine
) -> None:
    held = subscription(api_engine)
    client = caller("backoffice").client
    contract = f"contract:{held['contract_id']}"
    service = client.post(
        PRODUCT,
        json={
            "@type": "ServiceProduct",
            "productSpecification": {"id": "ROAM"},
            "productRelationship": [{"relationshipType": "bundledIn", "product": {"id": contract}}],
            "productCharacteristic": [
                {"name": "zone", "value": "EU"},
                {
                    "name": "roaming_limit",
                    "valueType": "quantity",
                    "value": {"amount": 50, "units": "EUR"},
                },
            ],
        },
    )
    assert service.status_code == 201, service.text
    assert _characteristics(service.json())["roaming_limit"] == {"amount": 50, "units": "EUR"}
    discount = client.post(
        PRODUCT,
        json={
            "@type": "DiscountProduct",
            "productSpecification": {"id": "LOYAL5"},
            "productRelationship": [{"relationshipType": "appliesTo", "product": {"id": contract}}],
            "productPrice": [
                {
                    "priceType": "recurring",
                    "productPriceAlteration": [
                        {
                            "priceType": "discount",
                            "price": {"taxIncludedAmount": {"unit": "EUR", "value": 5}},
                        }
                    ],
                }
            ],
        },
    )
    assert discount.status_code == 201, discount.text
    bundle = client.get(f"{PRODUCT}/{contract}").json()
    assert {service.json()["id"], discount.json()["id"]} <= {p["id"] for p in bundle["product"]}


def test_a_product_post_breaking_the_mapping_is_422_naming_the_field(
    caller: Caller, held: dict[str, Any]
) -> None:
    answer = caller("backoffice").client.post(
        PRODUCT,
        json={
            "@type": "ServiceProduct",
            "productSpecification": {"id": "VOICE"},
            "productRelationship": [
                {
                    "relationshipType": "bundledIn",
                    "product": {"id": f"contract:{held['contract_id']}"},
                }
            ],
            "productCharacteristic": [{"name": "cap", "valueType": "quantity", "value": 5}],
        },
    )
    assert answer.status_code == 422
    assert answer.json()["details"][0]["field"] == "productCharacteristic.cap"


def test_an_agent_cannot_create_a_product(caller: Caller, held: dict[str, Any]) -> None:
    answer = caller("agent").client.post(PRODUCT, json={"@type": "ServiceProduct"})
    assert answer.status_code == 403
    assert "customers.write" in answer.json()["message"]


def test_patch_subscription_status_suspends_the_contract_audited_as_the_caller(
    caller: Caller, api_engine: Engine
) -> None:
    held = subscription(api_engine)
    office = caller("backoffice")
    path = f"{PRODUCT}/contract:{held['contract_id']}"
    etag = office.client.get(path).headers["ETag"]
    answer = office.client.patch(
        path, json={"status": "suspended"}, headers={**MERGE, "If-Match": etag}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "suspended"
    change = _change(api_engine, answer.headers["X-CRM-Request-Id"])
    assert change.originating_user == office.name
    assert change.operation == "contract.change_status"
    with api_engine.connect() as conn:
        stored = conn.execute(
            select(t.contract.c.status).where(t.contract.c.id == held["contract_id"])
        ).scalar_one()
    assert stored == "suspended"


def test_patch_service_characteristics_replace_parameters_and_limits(
    caller: Caller, api_engine: Engine
) -> None:
    held = subscription(api_engine)
    client = caller("backoffice").client
    answer = client.patch(
        f"{PRODUCT}/service:{held['service_id']}",
        json={
            "productCharacteristic": [
                {"name": "apn", "value": "corporate"},
                {
                    "name": "data_cap",
                    "valueType": "quantity",
                    "value": {"amount": 20, "units": "GB"},
                },
            ]
        },
        headers=MERGE,
    )
    assert answer.status_code == 200, answer.text
    assert _characteristics(answer.json()) == {
        "apn": "corporate",
        "data_cap": {"amount": 20, "units": "GB"},
    }


def test_patch_of_a_read_only_attribute_is_422_naming_it(
    caller: Caller, held: dict[str, Any]
) -> None:
    answer = caller("backoffice").client.patch(
        f"{PRODUCT}/contract:{held['contract_id']}", json={"name": "other"}, headers=MERGE
    )
    assert answer.status_code == 422
    assert answer.json()["details"][0]["field"] == "name"


def test_delete_service_answers_204_and_leaves_it_terminated(
    caller: Caller, api_engine: Engine
) -> None:
    held = subscription(api_engine)
    client = caller("backoffice").client
    answer = client.delete(f"{PRODUCT}/service:{held['service_id']}")
    assert answer.status_code == 204, answer.text
    assert answer.content == b""
    after = client.get(f"{PRODUCT}/service:{held['service_id']}").json()
    assert after["status"] == "terminated"
    assert client.delete(f"{PRODUCT}/discount:{held['discount_id']}").status_code == 204


def test_a_subscription_is_not_deleted_but_terminated_by_patch(
    caller: Caller, held: dict[str, Any]
) -> None:
    answer = caller("backoffice").client.delete(f"{PRODUCT}/contract:{held['contract_id']}")
    assert answer.status_code == 405
    assert "PATCH" in answer.json()["message"]


# ----------------------------------------------------------------------------- TMF635


def test_usage_lists_a_subscribers_month_with_paging_filters_and_projection(
    caller: Caller, held: dict[str, Any]
) -> None:
    client = caller("agent").client
    params = {"subscriber": held["msisdn"], "month": MONTH}
    answer = client.get(USAGE, params=params)
    assert answer.status_code == 200, answer.text
    lines = answer.json()
    assert len(lines) == 4 and answer.headers["X-Total-Count"] == "4"
    first = lines[0]
    assert first["usageDate"] == "2026-03-01T08:00:00Z"
    assert first["usageType"] == "voice"
    assert first["ratedProductUsage"][0]["taxIncludedRatingAmount"] == {
        "unit": "EUR",
        "value": 0.19,
    }
    assert first["usageSpecification"]["id"] == "voice"
    assert "X-Listing-Suppressed" not in answer.headers
    page = client.get(USAGE, params={**params, "offset": 3, "limit": 2})
    assert (page.headers["X-Total-Count"], page.headers["X-Result-Count"]) == ("4", "1")
    data = client.get(USAGE, params={**params, "usageType": "data", "fields": "usageDate"})
    assert data.headers["X-Total-Count"] == "2"
    assert all(set(d) == {"id", "href", "@type", "usageDate"} for d in data.json())


def test_usage_without_a_subscriber_is_400(caller: Caller) -> None:
    answer = caller("agent").client.get(USAGE, params={"month": MONTH})
    assert answer.status_code == 400
    assert "subscriber" in answer.json()["message"]


def test_usage_of_an_unknown_subscriber_is_404(caller: Caller) -> None:
    answer = caller("agent").client.get(USAGE, params={"subscriber": "+4917000000001"})
    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"


def test_suppressed_usage_is_hidden_from_an_agent(caller: Caller, api_engine: Engine) -> None:
    held = subscription(api_engine, usage=2, suppressed=True)
    client = caller("agent").client
    answer = client.get(USAGE, params={"subscriber": held["subscriber_id"], "month": MONTH})
    assert answer.status_code == 200
    assert answer.json() == []
    assert answer.headers["X-Listing-Suppressed"] == "true"
    assert answer.headers["X-Total-Count"] == "0"


def test_suppressed_usage_is_shown_to_a_supervisor_and_the_reveal_audited(
    caller: Caller, api_engine: Engine
) -> None:
    held = subscription(api_engine, usage=2, suppressed=True)
    supervisor = caller("supervisor")
    answer = supervisor.client.get(USAGE, params={"subscriber": held["msisdn"], "month": MONTH})
    assert answer.status_code == 200
    assert len(answer.json()) == 2
    change_id = int(answer.headers["X-CRM-Reveal-Change-Id"])
    with api_engine.connect() as conn:
        change = conn.execute(select(t.change).where(t.change.c.id == change_id)).one()
    assert change.originating_user == supervisor.name
    assert change.operation == "listing.reveal"
    assert change.summary["subscriber_id"] == held["subscriber_id"]
    assert change.summary["month"] == MONTH


def test_one_suppressed_usage_line_is_403_for_an_agent_and_revealed_to_a_supervisor(
    caller: Caller, api_engine: Engine
) -> None:
    held = subscription(api_engine, usage=3, suppressed=True)
    supervisor = caller("supervisor")
    lines = supervisor.client.get(USAGE, params={"subscriber": held["msisdn"], "month": MONTH})
    line = lines.json()[1]
    denied = caller("agent").client.get(line["href"])
    assert denied.status_code == 403
    assert "listings.suppressed.read" in denied.json()["message"]
    shown = supervisor.client.get(line["href"])
    assert shown.status_code == 200 and shown.json() == line
    with api_engine.connect() as conn:
        change = conn.execute(
            select(t.change).where(t.change.c.id == int(shown.headers["X-CRM-Reveal-Change-Id"]))
        ).one()
    assert change.originating_user == supervisor.name
    assert (change.summary["offset"], change.summary["lines_shown"]) == (1, 1)


def test_usage_and_its_specifications_are_read_only(caller: Caller, held: dict[str, Any]) -> None:
    client = caller("admin").client
    line = client.get(USAGE, params={"subscriber": held["msisdn"], "month": MONTH}).json()[0]
    for method, path in (
        ("POST", USAGE),
        ("PATCH", line["href"]),
        ("DELETE", line["href"]),
        ("POST", SPEC),
        ("DELETE", f"{SPEC}/voice"),
    ):
        answer = client.request(method, path, json={})
        assert answer.status_code == 405, (method, path)
        assert answer.json()["code"] == "method_not_allowed"
        assert answer.headers["Allow"] == "GET"


def test_usage_specifications_are_the_usage_types(caller: Caller) -> None:
    client = caller("agent").client
    answer = client.get(SPEC)
    names = [s["name"] for s in answer.json()]
    assert {"voice", "sms", "data", "roaming_data"} <= set(names)
    assert answer.headers["X-Total-Count"] == str(len(names))
    voice = client.get(f"{SPEC}/voice").json()
    assert "durationSeconds" in {c["name"] for c in voice["specCharacteristic"]}
    assert client.get(f"{SPEC}/telepathy").status_code == 404


# ----------------------------------------------------------------------------- TMF654


def test_buckets_show_free_units_granted_used_remaining_and_the_balance(
    caller: Caller, held: dict[str, Any]
) -> None:
    answer = caller("agent").client.get(BUCKET, params={"relatedParty.id": held["customer_id"]})
    assert answer.status_code == 200, answer.text
    buckets = {b["@type"]: b for b in answer.json()}
    free = buckets["FreeUnitBucket"]
    assert free["remainingValue"] == {"amount": 7.5, "units": "gb"}
    assert free["grantedValue"] == {"amount": 10, "units": "gb"}
    assert free["usedValue"] == {"amount": 2.5, "units": "gb"}
    assert free["usedPercentage"] == 25.0
    assert free["usageType"] == "data" and free["status"] == "active"
    assert free["product"]["id"] == f"contract:{held['contract_id']}"
    today = datetime.now(UTC).date()
    assert free["validFor"]["startDateTime"] == f"{today.replace(day=1).isoformat()}T00:00:00Z"
    money = buckets["MonetaryBalanceBucket"]
    assert money["remainingValue"] == {"amount": 12.5, "units": "EUR"}
    assert money["unbilledAmount"] == {"unit": "EUR", "value": 3.25}
    assert money["partyAccount"]["id"] == held["account_id"]


def test_buckets_filter_by_product_and_usage_type_and_read_one(
    caller: Caller, held: dict[str, Any]
) -> None:
    client = caller("agent").client
    answer = client.get(
        BUCKET, params={"product.id": f"contract:{held['contract_id']}", "usageType": "data"}
    )
    assert [b["@type"] for b in answer.json()] == ["FreeUnitBucket"]
    assert answer.headers["X-Total-Count"] == "1"
    one = client.get(answer.json()[0]["href"], params={"fields": "remainingValue"})
    assert one.status_code == 200
    assert set(one.json()) == {"id", "href", "@type", "remainingValue"}
    assert client.get(BUCKET).status_code == 400
    assert client.get(f"{BUCKET}/freeUnits:nope").status_code == 404


def test_buckets_are_read_only(caller: Caller, held: dict[str, Any]) -> None:
    client = caller("admin").client
    bucket = client.get(BUCKET, params={"partyAccount.id": held["account_id"]}).json()[0]
    for method, path in (("POST", BUCKET), ("PATCH", bucket["href"]), ("DELETE", bucket["href"])):
        answer = client.request(method, path, json={})
        assert answer.status_code == 405, (method, path)
        assert "read-only" in answer.json()["message"]
