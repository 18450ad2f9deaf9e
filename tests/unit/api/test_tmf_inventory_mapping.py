"""The TMF637 product, TMF635 usage and TMF654 bucket mappings (pure functions)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from adapter.api.tmf_models import bucket as tb
from adapter.api.tmf_models import product as tp
from adapter.api.tmf_models import usage as tu
from adapter.domain.errors import ValidationFailed
from adapter.domain.model import UsageType

BASE = "http://crm.test"
CTX = tp.Context(
    BASE,
    {"a1": "A-1"},
    {"s1": {"id": "s1", "msisdn": "+4917012340001", "status": "active", "contract_id": "c1"}},
    {},
)

CONTRACT: dict[str, Any] = {
    "id": "c1",
    "customer_id": "cu1",
    "account_id": "a1",
    "number": "K-1",
    "rate_plan": "RP_M",
    "status": "on_hold",
    "status_history": [],
}
SERVICE: dict[str, Any] = {
    "id": "sv1",
    "customer_id": "cu1",
    "account_id": "a1",
    "contract_id": "c1",
    "subscriber_id": None,
    "service_code": "DATA",
    "status": "active",
    "parameters": {"apn": "internet"},
    "limits": [{"name": "data_cap", "value": "10.500000", "unit": "GB"}],
    "valid_from": "2026-03-01",
    "valid_to": None,
}
DISCOUNT: dict[str, Any] = {
    "id": "d1",
    "customer_id": "cu1",
    "account_id": "a1",
    "contract_id": None,
    "subscriber_id": None,
    "discount_kind": "discount",
    "code": "FIVE",
    "level": "account",
    "value": "5",
    "value_type": "amount",
    "currency": "EUR",
    "inherited": True,
    "status": "removed",
}


def _violation_field(call: Any, *args: Any) -> str:
    with pytest.raises(ValidationFailed) as caught:
        call(*args)
    return caught.value.violations[0].field


# ------------------------------------------------------------------------------ to TMF


def test_a_contract_on_hold_is_a_created_bundle_without_start_date() -> None:
    product = tp.contract_product(CONTRACT, CTX.subscribers["s1"], CTX)
    assert product["id"] == "contract:c1"
    assert product["href"] == f"{BASE}{tp.PRODUCT_PATH}/contract:c1"
    assert (product["status"], product["isBundle"], product["startDate"]) == (
        "created",
        True,
        None,
    )
    assert product["productSpecification"]["id"] == "RP_M"
    assert product["billingAccount"]["name"] == "A-1"


def test_a_contract_starts_when_it_first_became_active() -> None:
    history = [
        {"status": "active", "at": "2026-03-01T10:00:00+00:00", "reason": None},
        {"status": "suspended", "at": "2026-03-05T10:00:00+00:00", "reason": None},
    ]
    product = tp.contract_product(
        {**CONTRACT, "status": "suspended", "status_history": history}, None, CTX
    )
    assert product["startDate"] == "2026-03-01T10:00:00Z"
    assert product["status"] == "suspended"


def test_a_service_shows_parameters_as_strings_and_limits_as_quantities() -> None:
    product = tp.service_product(SERVICE, CTX)
    assert product["productCharacteristic"] == [
        {"name": "apn", "valueType": "string", "value": "internet"},
        {"name": "data_cap", "valueType": "quantity", "value": {"amount": 10.5, "units": "GB"}},
    ]
    assert product["startDate"] == "2026-03-01T00:00:00Z"
    assert product["productRelationship"][0]["product"]["id"] == "contract:c1"


def test_a_removed_amount_discount_is_a_terminated_money_alteration() -> None:
    product = tp.discount_product(DISCOUNT, CTX)
    assert product["status"] == "terminated"
    alteration = product["productPrice"][0]["productPriceAlteration"][0]
    assert alteration["price"] == {"taxIncludedAmount": {"unit": "EUR", "value": 5}}
    assert product["productRelationship"] == []  # account level: billingAccount says where


def test_a_product_id_names_its_kind() -> None:
    assert tp.parse_product_id("service:x:y") == ("service", "x:y")
    for bad in ("x", "order:1", "service:"):
        assert _violation_field(tp.parse_product_id, bad) == "id"


# ---------------------------------------------------------------------------- from TMF


def test_a_posted_subscription_becomes_contract_create() -> None:
    payload = tp.contract_request(
        {
            "billingAccount": {"id": "A-1"},
            "productSpecification": {"id": "RP_L"},
            "status": "active",
            "productCharacteristic": [
                {"name": "contractNumber", "value": "K-9"},
                {"name": "msisdn", "value": "+4917012340009"},
                {"name": "iccid", "value": "8949000000000010017"},
            ],
        }
    )
    assert payload == {
        "account": "A-1",
        "number": "K-9",
        "rate_plan": "RP_L",
        "status": "active",
        "subscriber": {"msisdn": "+4917012340009", "iccid": "8949000000000010017"},
    }


def test_a_subscription_without_msisdn_is_refused_naming_the_characteristic() -> None:
    body = {
        "billingAccount": {"id": "A-1"},
        "productSpecification": {"id": "RP_L"},
        "productCharacteristic": [{"name": "contractNumber", "value": "K-9"}],
    }
    assert _violation_field(tp.contract_request, body) == "productCharacteristic.msisdn"


def test_an_unknown_subscription_characteristic_is_refused_by_name() -> None:
    body = {
        "billingAccount": {"id": "A-1"},
        "productSpecification": {"id": "RP_L"},
        "productCharacteristic": [{"name": "colour", "value": "red"}],
    }
    assert _violation_field(tp.contract_request, body) == "productCharacteristic.colour"


def test_a_posted_service_becomes_service_add_and_maps_back() -> None:
    body = {
        "productSpecification": {"id": "DATA"},
        "productRelationship": [
            {"relationshipType": "bundledIn", "product": {"id": "contract:c1"}}
        ],
        "productCharacteristic": tp.service_product(SERVICE, CTX)["productCharacteristic"],
        "startDate": "2026-03-01T00:00:00Z",
    }
    payload = tp.service_request(body)
    assert payload == {
        "contract": "c1",
        "service_code": "DATA",
        "status": "active",
        "parameters": {"apn": "internet"},
        "limits": [{"name": "data_cap", "value": "10.5", "unit": "GB"}],
        "valid_from": "2026-03-01",
    }


def test_a_service_needs_a_bundled_in_subscription() -> None:
    body = {"productSpecification": {"id": "DATA"}, "productRelationship": []}
    assert _violation_field(tp.service_request, body) == "productRelationship"


def test_a_discount_level_follows_from_its_target() -> None:
    alteration = [
        {"productPriceAlteration": [{"priceType": "promotion", "price": {"percentage": 10}}]}
    ]
    on_contract = tp.discount_request(
        {
            "productSpecification": {"id": "P10"},
            "productPrice": alteration,
            "productRelationship": [
                {"relationshipType": "appliesTo", "product": {"id": "contract:c1"}}
            ],
        }
    )
    assert on_contract == {
        "code": "P10",
        "discount_kind": "promotion",
        "value": "10",
        "value_type": "percent",
        "level": "contract",
        "contract": "c1",
    }
    on_account = tp.discount_request(
        {
            "name": "P10",
            "productPrice": alteration,
            "billingAccount": {"id": "A-1"},
            "productCharacteristic": [
                {"name": "inherited", "valueType": "boolean", "value": False}
            ],
        }
    )
    assert (on_account["level"], on_account["account"], on_account["inherited"]) == (
        "account",
        "A-1",
        False,
    )


def test_a_discount_without_a_price_is_refused() -> None:
    body = {"productSpecification": {"id": "P10"}, "billingAccount": {"id": "A-1"}}
    assert _violation_field(tp.discount_request, body) == "productPrice"


# ----------------------------------------------------------------------------- PATCH


@pytest.mark.parametrize(
    ("old", "new", "action"),
    [
        ("created", "active", "activate"),
        ("active", "suspended", "suspend"),
        ("suspended", "active", "reactivate"),
        ("active", "terminated", "deactivate"),
    ],
)
def test_a_subscription_status_patch_is_a_contract_action(old: str, new: str, action: str) -> None:
    write = tp.contract_patch("c1", {"status": old}, {"status": new})
    assert write == tp.Write("contract.change_status", {"contract": "c1", "action": action})


def test_a_status_a_contract_cannot_reach_is_refused() -> None:
    assert _violation_field(
        tp.contract_patch, "c1", {"status": "created"}, {"status": "suspended"}
    ) == ("status")


def test_an_unchanged_patch_writes_nothing_and_a_read_only_change_is_refused() -> None:
    current = tp.contract_product(CONTRACT, None, CTX)
    assert tp.contract_patch("c1", current, dict(current)) is None
    assert _violation_field(tp.contract_patch, "c1", current, {**current, "name": "x"}) == "name"


def test_a_service_patch_changes_characteristics_or_removes_it() -> None:
    current = tp.service_product(SERVICE, CTX)
    limits = [{"name": "data_cap", "valueType": "quantity", "value": {"amount": 20, "units": "GB"}}]
    changed = tp.service_patch("sv1", current, {**current, "productCharacteristic": limits})
    assert changed == tp.Write(
        "service.change",
        {
            "service_id": "sv1",
            "parameters": {},
            "limits": [{"name": "data_cap", "value": "20", "unit": "GB"}],
        },
    )
    removed = tp.service_patch("sv1", current, {**current, "status": "terminated"})
    assert removed == tp.Write("service.remove", {"service_id": "sv1"})


def test_a_service_does_not_move_to_another_subscriber() -> None:
    current = tp.service_product({**SERVICE, "subscriber_id": "s1"}, CTX)
    moved = [
        c if c["name"] != "subscriber" else {**c, "value": "+4917099999999"}
        for c in current["productCharacteristic"]
    ]
    field = _violation_field(
        tp.service_patch, "sv1", current, {**current, "productCharacteristic": moved}
    )
    assert field == "productCharacteristic.subscriber"


def test_a_discount_only_ends() -> None:
    current = tp.discount_product({**DISCOUNT, "status": "active"}, CTX)
    assert tp.discount_patch("d1", current, {**current, "status": "terminated"}) == tp.Write(
        "discount.remove", {"discount_id": "d1"}
    )
    assert (
        _violation_field(tp.discount_patch, "d1", current, {**current, "status": "suspended"})
        == "status"
    )


# ------------------------------------------------------------------------------ usage


def test_a_usage_line_is_a_rated_usage_with_its_charge_and_characteristics() -> None:
    record = {
        "id": "u1",
        "customer_id": "cu1",
        "contract_id": "c1",
        "start_time": "2026-03-01T08:00:00Z",
        "type": "data",
        "direction": "outgoing",
        "volume_bytes": 2048,
        "duration_seconds": None,
        "charge": {"amount": "0.190000", "currency": "EUR"},
        "free_units_consumed": "0.000000",
    }
    usage = tu.usage(record, "+4917012340001", BASE)
    assert usage["status"] == "rated" and usage["usageDate"] == "2026-03-01T08:00:00Z"
    assert usage["ratedProductUsage"][0]["taxIncludedRatingAmount"] == {
        "unit": "EUR",
        "value": 0.19,
    }
    names = {c["name"] for c in usage["usageCharacteristic"]}
    assert "volumeBytes" in names and "durationSeconds" not in names
    assert usage["usageSpecification"]["id"] == "data"


def test_there_is_a_usage_specification_per_usage_type() -> None:
    assert [s["id"] for s in tu.usage_specifications(BASE)] == [u.value for u in UsageType]


# ----------------------------------------------------------------------------- bucket


def test_a_free_unit_bucket_carries_granted_used_remaining_and_percentage() -> None:
    bucket = {
        "id": "f1",
        "customer_id": "cu1",
        "account_id": "a1",
        "contract_id": "c1",
        "subscriber_id": None,
        "package": "VOICE_100",
        "unit": "minutes",
        "granted": "100",
        "used": "33",
        "remaining": "67",
        "period_start": "2026-03-01",
        "period_end": "2026-03-31",
        "as_of": "2026-03-10T00:00:00Z",
    }
    found = tb.free_unit_bucket(bucket, "A-1", BASE, date(2026, 3, 10))
    assert found["remainingValue"] == {"amount": 67, "units": "minutes"}
    assert (found["usedPercentage"], found["usageType"], found["status"]) == (
        33.0,
        "voice",
        "active",
    )
    assert found["validFor"]["endDateTime"] == "2026-03-31T23:59:59Z"
    assert tb.free_unit_bucket(bucket, "A-1", BASE, date(2026, 4, 1))["status"] == "expired"


def test_nothing_granted_has_no_percentage() -> None:
    assert tb.used_percentage("0", "0") is None
    assert tb.used_percentage("3", "1") == 33.3


def test_a_bucket_id_names_its_kind() -> None:
    assert tb.parse_bucket_id("balance:b1") == ("balance", "b1")
    assert _violation_field(tb.parse_bucket_id, "b1") == "id"
