"""The comparison of canonical entities with billing's reads (adapter.reconcile.compare), and
the repair each kind of finding gets (adapter.reconcile.repair.plan_repair)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from adapter.domain.model import Account, ContractStatus, Customer, ServiceStatus
from adapter.reconcile.compare import (
    FIELD,
    MISSING,
    STATUS,
    UNKNOWN,
    WHOLE,
    compare_contract,
    compare_node,
    compare_services,
    unique,
)
from adapter.reconcile.repair import NotRepairable, plan_repair
from tests import factories as f


def node_read(customer: Customer, account: Account, **over: Any) -> dict[str, Any]:
    """What CustomerRead maps back for a node billing holds as the CRM does."""
    read: dict[str, Any] = {
        "customer": {
            "party": customer.party.model_dump(mode="json"),
            "status": customer.status.value,
        },
        "account": {"payment_responsible": account.payment_responsible},
        "parent_account": {},
    }
    for path, value in over.items():
        head, _, leaf = path.partition("__")
        read[head][leaf] = value
    return read


def fields(drifts: Any) -> list[tuple[str, str, str]]:
    return [(d.entity_kind, d.field, d.kind) for d in drifts]


def test_a_node_as_the_crm_has_it_has_no_drift() -> None:
    c = f.customer()
    a = f.account(c)
    assert compare_node(c, a, None, node_read(c, a), "17") == []


def test_a_node_billing_lacks_is_missing() -> None:
    c = f.customer()
    a = f.account(c)
    (drift,) = compare_node(c, a, None, None, None)
    assert (drift.entity_kind, drift.entity_id, drift.field, drift.kind) == (
        "account",
        a.id,
        WHOLE,
        MISSING,
    )


def test_a_name_changed_in_billing_is_a_field_mismatch_of_the_customer() -> None:
    c = f.customer()
    a = f.account(c)
    party = {**c.party.model_dump(mode="json"), "family_name": "Other"}
    (drift,) = compare_node(c, a, None, node_read(c, a, customer__party=party), "17")
    assert (drift.entity_kind, drift.entity_id, drift.field, drift.kind) == (
        "customer",
        c.id,
        "party.family_name",
        FIELD,
    )
    assert drift.billing_value == "Other"
    assert drift.legacy_id is None  # the same on every node: one finding per customer


def test_node_status_compares_with_the_stricter_of_customer_and_account() -> None:
    c = f.customer()
    a = f.account(c, status="suspended")
    assert compare_node(c, a, None, node_read(c, a, customer__status="suspended"), "1") == []
    (drift,) = compare_node(c, a, None, node_read(c, a), "1")
    assert (drift.field, drift.kind, drift.crm_value, drift.billing_value) == (
        "status",
        STATUS,
        "suspended",
        "active",
    )


def test_payment_responsibility_and_parent_are_compared() -> None:
    c = f.customer()
    a = f.account(c, payment_responsible=False)
    read = node_read(c, a, account__payment_responsible=True, parent_account__number="X.1")
    assert fields(compare_node(c, a, "P.1", read, "1")) == [
        ("account", "payment_responsible", FIELD),
        ("account", "parent_id", FIELD),
    ]


def test_contract_status_and_rate_plan_are_compared_rate_plan_case_blind() -> None:
    k = f.contract(f.account(f.customer()), status=ContractStatus.ACTIVE, rate_plan="rp_m")
    same = {"contract": {"status": "active", "rate_plan": "RP_M"}}
    assert compare_contract(k, same, "5") == []
    other = {"contract": {"status": "suspended", "rate_plan": "RP_L"}}
    assert fields(compare_contract(k, other, "5")) == [
        ("contract", "status", STATUS),
        ("contract", "rate_plan", FIELD),
    ]
    assert fields(compare_contract(k, None, None)) == [("contract", WHOLE, MISSING)]


def test_services_missing_extra_and_of_another_status() -> None:
    k = f.contract(f.account(f.customer()), status=ContractStatus.ACTIVE)
    s = f.subscriber(k)
    data = f.service(s, service_code="DATA")
    voice = f.service(s, service_code="VOICE", status=ServiceStatus.SUSPENDED)
    gone = f.service(s, service_code="SMS", status=ServiceStatus.DEACTIVATED)
    read = {
        "services": [
            {"service_code": "VOICE", "status": "active"},
            {"service_code": "ROAM", "status": "active"},
            {"service_code": "SMS", "status": "deactivated"},
        ],
        "legacy_ids": {"services": [{"service_code": "ROAM", "sn_code": 9}]},
    }
    drifts = compare_services(k, [data, voice, gone], read, {})
    assert fields(drifts) == [
        ("service_assignment", WHOLE, MISSING),
        ("service_assignment", "status", STATUS),
        ("service_assignment", "service_code", UNKNOWN),
    ]
    assert [d.entity_id for d in drifts] == [data.id, voice.id, None]
    assert drifts[2].legacy_id == "9"


def test_a_deactivated_contracts_services_are_not_compared() -> None:
    k = f.contract(f.account(f.customer()), status=ContractStatus.DEACTIVATED)
    assert compare_services(k, [f.service(f.subscriber(k))], {"services": []}, {}) == []


def test_unique_keeps_one_drift_per_entity_field_and_kind() -> None:
    c = f.customer()
    a1, a2 = f.account(c), f.account(c)
    party = {**c.party.model_dump(mode="json"), "given_name": "Eva"}
    drifts = [
        *compare_node(c, a1, None, node_read(c, a1, customer__party=party), "1"),
        *compare_node(c, a2, None, node_read(c, a2, customer__party=party), "2"),
    ]
    assert fields(unique(drifts)) == [("customer", "party.given_name", FIELD)]


# ------------------------------------------------------------------------------ repairs


def finding(**over: Any) -> Any:
    values = {
        "id": 7,
        "entity_kind": "contract",
        "entity_id": "k-1",
        "field": "rate_plan",
        "kind": FIELD,
        "crm_value": "RP_M",
        "billing_value": "RP_L",
    }
    return SimpleNamespace(**{**values, **over})


def test_a_field_mismatch_is_repaired_by_resending_that_field() -> None:
    assert plan_repair(finding()) == {
        "kind": "contract",
        "entity": "k-1",
        "reason": "reconciliation finding 7",
        "fields": ["rate_plan"],
    }
    customer = finding(entity_kind="customer", field="party.family_name")
    assert plan_repair(customer)["fields"] == ["party"]


def test_something_billing_lacks_is_sent_as_new() -> None:
    payload = plan_repair(finding(field=WHOLE, kind=MISSING))
    assert payload["as_new"] is True and "fields" not in payload


def test_a_contract_status_billing_can_step_back_from_is_resent() -> None:
    status = finding(field="status", kind=STATUS, crm_value="active", billing_value="suspended")
    assert plan_repair(status)["fields"] == ["status"]


@pytest.mark.parametrize(
    "over",
    [
        {"field": "status", "kind": STATUS, "crm_value": "active", "billing_value": "deactivated"},
        {"entity_id": None, "field": "service_code", "kind": UNKNOWN, "crm_value": None},
    ],
    ids=["deactivated-in-billing", "only-in-billing"],
)
def test_what_billing_cannot_be_brought_back_to_is_not_repairable(over: dict[str, Any]) -> None:
    with pytest.raises(NotRepairable):
        plan_repair(finding(**over))
