"""Which billing operations a change needs, and in which order (adapter.requests.outbox.plan)."""

from __future__ import annotations

from typing import Any

from adapter.requests.outbox import Message, Written, plan


def written(
    kind: str, entity_id: str, op: str = "create", *fields: str, **snapshot: Any
) -> Written:
    return Written(
        kind=kind,
        id=entity_id,
        version=1 if op == "create" else 2,
        op=op,
        snapshot={"id": entity_id, "customer_id": "cus-1", **snapshot},
        fields=frozenset(fields or snapshot),
        customer_id="cus-1",
    )


def operations(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.operation, m.payload["entity"]["id"]) for m in messages]


def no_nodes(_customer: str) -> list[str]:
    return []


def test_new_accounts_go_to_billing_parents_first() -> None:
    child = written("account", "acc-2", parent_id="acc-1")
    parent = written("account", "acc-1", parent_id=None)
    assert operations(plan([child, parent], no_nodes)) == [
        ("CustomerNew", "acc-1"),
        ("CustomerNew", "acc-2"),
    ]


def test_customer_data_goes_to_each_node_that_billing_already_has() -> None:
    customer = Written("customer", "cus-1", 2, "update", {}, frozenset({"party"}), "cus-1")
    new_node = written("account", "acc-new", parent_id=None)
    messages = plan([customer, new_node], lambda _c: ["acc-1", "acc-new"])
    assert [(m.operation, m.payload.get("node", {}).get("id")) for m in messages] == [
        ("CustomerNew", None),
        ("CustomerWrite", "acc-1"),
    ]
    assert messages[1].payload["fields"] == ["party"]


def test_contact_persons_and_suppressions_need_no_message() -> None:
    customer = Written(
        "customer", "cus-1", 2, "update", {}, frozenset({"contact_persons"}), "cus-1"
    )
    suppression = written("listing_suppression", "sup-1", reason="board")
    assert plan([customer, suppression], lambda _c: ["acc-1"]) == []


def test_a_contract_goes_with_its_new_subscriber() -> None:
    contract = written("contract", "k-1", status="active")
    sim = written("subscriber", "s-1", contract_id="k-1")
    (message,) = plan([contract, sim], no_nodes)
    assert message.operation == "ContractNew"
    assert message.payload["subscriber"]["id"] == "s-1"


def test_a_deactivation_goes_last_and_billing_deactivates_the_services_itself() -> None:
    contract = written("contract", "k-1", "update", "status", status="deactivated")
    service = written("service_assignment", "svc-1", "update", "status", contract_id="k-1")
    discount = written("discount_assignment", "dsc-1", "update", "status", status="removed")
    assert operations(plan([contract, service, discount], no_nodes)) == [
        ("DiscountRemove", "dsc-1"),
        ("ContractWrite", "k-1"),
    ]


def test_every_message_names_the_version_the_change_wrote() -> None:
    (message,) = plan([written("discount_assignment", "dsc-1", status="active")], no_nodes)
    assert message.payload["entity"] == {
        "kind": "discount_assignment",
        "id": "dsc-1",
        "version": 1,
        "op": "create",
    }
    assert message.customer_id == "cus-1"
