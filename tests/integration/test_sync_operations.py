"""The outbox operations that change what billing already has — an account's own billing
data (``CustomerWrite``), addresses (``AddressWrite``), the hierarchy
(``CustomerHierarchyWrite``), info fields (``CustomerInfoWrite``), services
(``ContractServicesWrite``) and discount removals (``DiscountRemove``) — each caused by a
request, applied and drained to the billing simulator over real HTTP through the real gateway
and mappings, and checked with the independent CIL client (no zeep, no adapter mapping)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import Engine, select, update

from adapter.domain import Actor
from adapter.domain.model import Account, Money
from adapter.legacy import Gateway
from adapter.mapping import Mappings
from adapter.requests.apply import request_status
from adapter.service.attributes import define_attribute
from adapter.store import tables as t
from adapter.store.uow import UnitOfWork
from adapter.sync import drain_customer
from adapter.testing.billing_sim import RunningSimulator
from adapter.testing.cil_client import NS, CilClient, x
from tests.integration.conftest import SIM_PASSWORD, SIM_USER
from tests.integration.test_sync import FAST, envelope, gateway, mappings, outbox, submit_all

__all__ = ["gateway", "mappings"]  # fixtures shared with test_sync

ADDRESS_A = {"lines": ["Hauptstr. 1"], "postcode": "10115", "city": "Berlin", "country": "DE"}
ADDRESS_B = {"lines": ["Postfach 99"], "postcode": "10001", "city": "Berlin", "country": "DE"}
ADDRESS_C = {"lines": ["Lager 7", "Tor 2"], "postcode": "20095", "city": "Hamburg", "country": "DE"}


@pytest.fixture
def cil(sim: RunningSimulator) -> Iterator[CilClient]:
    with CilClient(sim.soap_url, SIM_USER, SIM_PASSWORD) as client:
        yield client


@pytest.fixture
def attributes(engine: Engine) -> None:
    """Attribute definitions whose values billing keeps as info fields (mappings/enums.yaml
    ``info_fields``), one on customers and one on accounts, and one billing does not keep."""
    with UnitOfWork(engine, Actor("admin.jane", "pytest", "test", "define-attributes")) as uow:
        for name, kind, kind_of_value in (
            ("loyalty_tier", "customer", "string"),
            ("device_model", "account", "string"),
            ("churn_score", "account", "integer"),
        ):
            define_attribute(
                uow, {"name": name, "label": name, "type": kind_of_value, "entity_kind": kind}
            )
        uow.commit("attributes.define")


# ----------------------------------------------------------------------------- set-up


def number(n: int) -> str:
    return f"OP{n:05d}"


def customer_with_two_nodes(n: int) -> list[Any]:
    """A customer with addresses (residence and billing at one place: one BSCS address with
    two roles), a top account ``.1``, a child ``.2`` paid by it, a root ``.3``, an active
    contract on ``.2`` with a DATA service carrying parameters and a limit, and an
    account-level discount on ``.1``."""
    cust = number(n)
    return [
        envelope(
            f"o{n}-customer",
            "customer.create",
            {
                "customer_number": cust,
                "party": {"kind": "individual", "given_name": "Eva", "family_name": "Brandt"},
                "addresses": [
                    {"role": "residence", **ADDRESS_A},
                    {"role": "billing", **ADDRESS_A},
                ],
                "account": {"number": f"{cust}.1", "name": "Eva Brandt", "bill_cycle": "01"},
            },
        ),
        envelope(
            f"o{n}-child",
            "account.create",
            {
                "customer": cust,
                "number": f"{cust}.2",
                "name": "Eva Brandt mobile",
                "parent": f"{cust}.1",
                "payment_responsible": False,
            },
            customer=cust,
        ),
        envelope(
            f"o{n}-root",
            "account.create",
            {"customer": cust, "number": f"{cust}.3", "name": "Eva Brandt second"},
            customer=cust,
        ),
        envelope(
            f"o{n}-contract",
            "contract.create",
            {
                "account": f"{cust}.2",
                "number": f"CP{n:06d}",
                "rate_plan": "RP_M",
                "status": "active",
                "subscriber": {"msisdn": f"+4917066{n:05d}"},
            },
            customer=cust,
        ),
        envelope(
            f"o{n}-service",
            "service.add",
            {
                "contract": f"CP{n:06d}",
                "service_code": "DATA",
                "parameters": {"apn": "internet"},
                "limits": [{"name": "data_cap", "value": "10", "unit": "GB"}],
            },
            customer=cust,
        ),
        envelope(
            f"o{n}-discount",
            "discount.assign",
            {
                "level": "account",
                "account": f"{cust}.1",
                "id": f"disc-{n}",
                "code": "LOYAL10",
                "value": "10",
            },
            customer=cust,
        ),
    ]


def synced_customer(engine: Engine, gateway: Gateway, mappings: Mappings, n: int) -> str:
    customer = submit_all(engine, customer_with_two_nodes(n))
    report = drain_customer(engine, gateway, mappings, customer, policy=FAST)
    assert report.stopped == "done", report.error
    return customer


def change(
    engine: Engine,
    gateway: Gateway,
    mappings: Mappings,
    customer: str,
    envelopes: list[Any],
    operations: list[str],
) -> list[Any]:
    """Apply ``envelopes``, drain, and check that the messages they wrote are exactly
    ``operations``, all sent, and the requests synced; the new outbox rows."""
    before = len(outbox(engine, customer))
    submit_all(engine, envelopes)
    report = drain_customer(engine, gateway, mappings, customer, policy=FAST)
    assert report.stopped == "done", report.error
    rows = outbox(engine, customer)[before:]
    assert [r.operation for r in rows] == operations
    assert {r.status for r in rows} == {"sent"}
    for e in envelopes:
        assert request_status(engine, e["request_id"]).status == "synced"
    return rows


def direct_change(engine: Engine, account_number: str, **values: Any) -> None:
    """A change of an account's data made outside requests (so with no outbox message):
    gives a later ``version.restore`` request something to restore."""
    actor = Actor("ops.kim", "pytest", "test", f"direct-{account_number}-{values}")
    with UnitOfWork(engine, actor) as uow:
        [account] = uow.find_by(Account, number=account_number)
        uow.replace(Account.model_validate({**account.model_dump(), **values}))
        uow.commit("test.account_data")


# ----------------------------------------------------------------------------- reading billing


def node(cil: CilClient, public_id: str) -> Any:
    return cil.ok("CustomerRead", f"<c:csIdPub>{x(public_id)}</c:csIdPub>").payload


def text(element: Any, path: str) -> str | None:
    found = element.findtext(path, namespaces=NS)
    return None if found is None else str(found)


def addresses(cil: CilClient, public_id: str) -> dict[int, tuple[frozenset[str], tuple[Any, ...]]]:
    """adrSeq → (roles, (lines, zip, city, country)) of a node in billing."""
    found = {}
    for adr in node(cil, public_id).iterfind("c:addresses/c:address", NS):
        roles = frozenset(r.text for r in adr.iterfind("c:adrRole", NS))
        lines = tuple(line.text for line in adr.iterfind("c:adrLine", NS))
        where = (lines, text(adr, "c:adrZip"), text(adr, "c:adrCity"), text(adr, "c:adrCountry"))
        found[int(text(adr, "c:adrSeq") or 0)] = (roles, where)
    return found


def place(address: dict[str, Any]) -> tuple[Any, ...]:
    return (tuple(address["lines"]), address["postcode"], address["city"], address["country"])


def info_fields(cil: CilClient, public_id: str) -> dict[str, str | None]:
    fields = node(cil, public_id).iterfind("c:infoFields/c:field", NS)
    return {text(f, "c:name") or "": text(f, "c:value") for f in fields}


def service(cil: CilClient, contract: str, code: str) -> dict[str, Any]:
    reply = cil.ok("ContractServicesRead", f"<c:coIdPub>{x(contract)}</c:coIdPub>")
    for svc in reply.payload.iterfind("c:services/c:service", NS):
        if text(svc, "c:snCodePub") == code:
            return {
                "status": text(svc, "c:status"),
                "parameters": {
                    text(p, "c:prmCode"): text(p, "c:value")
                    for p in svc.iterfind("c:parameters/c:parameter", NS)
                },
                "limits": [
                    (text(lim, "c:name"), Decimal(text(lim, "c:value") or "0"), text(lim, "c:unit"))
                    for lim in svc.iterfind("c:limits/c:limit", NS)
                ],
            }
    raise AssertionError(f"billing has no {code} on {contract}")


def billing_state(cil: CilClient, n: int) -> list[bytes]:
    """Everything billing holds of the test customer, as canonical XML, to compare."""
    cust = number(n)
    nodes = [node(cil, f"{cust}.{i}") for i in (1, 2, 3)]
    services = cil.ok("ContractServicesRead", f"<c:coIdPub>CP{n:06d}</c:coIdPub>").payload
    return [etree.tostring(e, method="c14n") for e in [*nodes, services]]


def discount_assign_id(engine: Engine, discount_id: str) -> str:
    link = t.legacy_link.c
    with engine.connect() as conn:
        found = conn.execute(
            select(link.legacy_id).where(
                link.kind == "discount_assignment", link.entity_id == discount_id
            )
        ).scalar_one()
    return str(found)


# ----------------------------------------------------------------------------- the operations


def test_changed_addresses_reach_every_node_of_the_customer(
    engine: Engine, gateway: Gateway, mappings: Mappings, cil: CilClient
) -> None:
    """AddressWrite: billing ends with the stored addresses on each node — the address whose
    roles changed updated in place, new ones added — one message per node."""
    customer = synced_customer(engine, gateway, mappings, 1)
    cust = number(1)
    assert addresses(cil, f"{cust}.1") == {1: (frozenset({"R", "B"}), place(ADDRESS_A))}
    patch = {
        "addresses": [
            {"role": "residence", **ADDRESS_A},
            {"role": "billing", **ADDRESS_B},
            {"role": "shipment", **ADDRESS_C},
        ]
    }
    change(
        engine,
        gateway,
        mappings,
        customer,
        [envelope("o1-addresses", "customer.update", {"customer": cust, "patch": patch})],
        ["AddressWrite"] * 3,
    )
    expected = {
        1: (frozenset({"R"}), place(ADDRESS_A)),
        2: (frozenset({"B"}), place(ADDRESS_B)),
        3: (frozenset({"S"}), place(ADDRESS_C)),
    }
    for i in (1, 2, 3):
        assert addresses(cil, f"{cust}.{i}") == expected


def test_an_address_removed_in_the_crm_is_deleted_in_billing(
    engine: Engine, gateway: Gateway, mappings: Mappings, cil: CilClient
) -> None:
    """AddressWrite: an address the customer no longer has is deleted from each node, and
    one that is left with fewer roles keeps its number."""
    customer = synced_customer(engine, gateway, mappings, 2)
    cust = number(2)
    patch = {"addresses": [{"role": "residence", **ADDRESS_A}]}
    change(
        engine,
        gateway,
        mappings,
        customer,
        [envelope("o2-addresses", "customer.update", {"customer": cust, "patch": patch})],
        ["AddressWrite"] * 3,
    )
    for i in (1, 2, 3):
        assert addresses(cil, f"{cust}.{i}") == {1: (frozenset({"R"}), place(ADDRESS_A))}
    patch = {"addresses": [{"role": "shipment", **ADDRESS_C}]}
    change(
        engine,
        gateway,
        mappings,
        customer,
        [envelope("o2-replace", "customer.update", {"customer": cust, "patch": patch})],
        ["AddressWrite"] * 3,
    )
    assert addresses(cil, f"{cust}.3") == {1: (frozenset({"S"}), place(ADDRESS_C))}


def test_an_accounts_own_billing_data_reaches_its_node(
    engine: Engine, gateway: Gateway, mappings: Mappings, cil: CilClient
) -> None:
    """CustomerWrite of an account (entity kind ``account``): bill cycle, payment method,
    credit limit and status, brought back by a ``version.restore`` request, are on the node."""
    customer = synced_customer(engine, gateway, mappings, 3)
    cust = number(3)
    direct_change(  # version 2, made outside requests: no message
        engine,
        f"{cust}.1",
        bill_cycle="15",
        payment_method="direct_debit",
        credit_limit=Money(amount=Decimal("250.00"), currency="EUR"),
        status="suspended",
    )
    direct_change(
        engine,
        f"{cust}.1",
        bill_cycle="01",
        payment_method="invoice",
        credit_limit=None,
        status="active",
    )
    restore = envelope(
        "o3-restore",
        "version.restore",
        {"kind": "account", "entity": f"{cust}.1", "version": 2},
        customer=cust,
    )
    change(engine, gateway, mappings, customer, [restore], ["CustomerWrite"])
    read = node(cil, f"{cust}.1")
    assert text(read, "c:customer/c:billCycle") == "15"
    assert text(read, "c:customer/c:paymentMethod") == "D"
    assert Decimal(text(read, "c:customer/c:creditLimit/c:amount") or "0") == Decimal("250")
    assert text(read, "c:customer/c:creditLimit/c:currency") == "EUR"
    assert text(read, "c:customer/c:csStatus") == "s"
    assert text(node(cil, f"{cust}.3"), "c:customer/c:billCycle") is None  # other nodes alone


def test_a_moved_account_is_moved_in_billing(
    engine: Engine, gateway: Gateway, mappings: Mappings, cil: CilClient
) -> None:
    """CustomerHierarchyWrite: ``account.move`` puts the node under its new parent."""
    customer = synced_customer(engine, gateway, mappings, 4)
    cust = number(4)
    assert text(node(cil, f"{cust}.2"), "c:parentCsIdPub") == f"{cust}.1"
    move = envelope(
        "o4-move", "account.move", {"account": f"{cust}.2", "parent": f"{cust}.3"}, customer=cust
    )
    change(engine, gateway, mappings, customer, [move], ["CustomerHierarchyWrite"])
    moved = node(cil, f"{cust}.2")
    assert text(moved, "c:parentCsIdPub") == f"{cust}.3"
    assert text(moved, "c:paymentResp") == "false"


def test_payment_responsibility_set_and_cleared_reaches_billing(
    engine: Engine, gateway: Gateway, mappings: Mappings, cil: CilClient
) -> None:
    """CustomerHierarchyWrite: ``account.set_payment_responsibility`` sets the node's
    paymentResp, and clearing it again clears it."""
    customer = synced_customer(engine, gateway, mappings, 5)
    cust = number(5)
    payload = {"account": f"{cust}.2", "payment_responsible": True}
    pays = envelope("o5-pays", "account.set_payment_responsibility", payload, customer=cust)
    change(engine, gateway, mappings, customer, [pays], ["CustomerHierarchyWrite"])
    assert text(node(cil, f"{cust}.2"), "c:paymentResp") == "true"
    assert text(node(cil, f"{cust}.2"), "c:parentCsIdPub") == f"{cust}.1"
    payload = {"account": f"{cust}.2", "payment_responsible": False}
    clear = envelope("o5-clear", "account.set_payment_responsibility", payload, customer=cust)
    change(engine, gateway, mappings, customer, [clear], ["CustomerHierarchyWrite"])
    assert text(node(cil, f"{cust}.2"), "c:paymentResp") == "false"


@pytest.mark.usefixtures("attributes")
def test_attributes_billing_keeps_become_info_fields_and_a_cleared_one_is_removed(
    engine: Engine, gateway: Gateway, mappings: Mappings, cil: CilClient
) -> None:
    """CustomerInfoWrite: a customer's attribute lands on its top node, an account's on its
    own node; clearing one removes the field; an attribute the info_fields table does not
    list is sent nowhere (its message is sent with no call)."""
    customer = synced_customer(engine, gateway, mappings, 6)
    cust = number(6)
    requests = [
        envelope(
            "o6-tier",
            "attributes.set",
            {"entity_kind": "customer", "entity": cust, "values": {"loyalty_tier": "gold"}},
        ),
        envelope(
            "o6-device",
            "attributes.set",
            {
                "entity_kind": "account",
                "entity": f"{cust}.2",
                "values": {"device_model": "Pixel 8", "churn_score": 7},
            },
            customer=cust,
        ),
    ]
    change(engine, gateway, mappings, customer, requests, ["CustomerInfoWrite"] * 3)
    assert info_fields(cil, f"{cust}.1") == {"LOYALTY_TIER": "gold"}
    assert info_fields(cil, f"{cust}.2") == {"DEVICE_MODEL": "Pixel 8"}
    assert info_fields(cil, f"{cust}.3") == {}
    clear = envelope(
        "o6-clear",
        "attributes.set",
        {"entity_kind": "customer", "entity": cust, "values": {"loyalty_tier": None}},
    )
    change(engine, gateway, mappings, customer, [clear], ["CustomerInfoWrite"])
    assert info_fields(cil, f"{cust}.1") == {}


@pytest.mark.usefixtures("attributes")
def test_attributes_of_a_new_customer_follow_its_new_node(
    engine: Engine, gateway: Gateway, mappings: Mappings, cil: CilClient
) -> None:
    """CustomerInfoWrite in the change that creates the node: ``customer.create`` with
    customer and account attributes sends CustomerNew first, then the info fields to it."""
    cust = number(12)
    create = envelope(
        "o12-customer",
        "customer.create",
        {
            "customer_number": cust,
            "party": {"kind": "organization", "name": "Kunz GmbH"},
            "attributes": {"loyalty_tier": "bronze"},
            "account": {
                "number": f"{cust}.1",
                "name": "Kunz GmbH",
                "attributes": {"device_model": "Fleet"},
            },
        },
    )
    customer = submit_all(engine, [create])
    report = drain_customer(engine, gateway, mappings, customer, policy=FAST)
    assert report.stopped == "done", report.error
    operations = [r.operation for r in outbox(engine, customer)]
    assert operations == ["CustomerNew", "CustomerInfoWrite", "CustomerInfoWrite"]
    assert request_status(engine, "o12-customer").status == "synced"
    assert info_fields(cil, f"{cust}.1") == {"LOYALTY_TIER": "bronze", "DEVICE_MODEL": "Fleet"}


def test_a_changed_service_has_its_status_parameters_and_limits_in_billing(
    engine: Engine, gateway: Gateway, mappings: Mappings, cil: CilClient
) -> None:
    """ContractServicesWrite: ``service.change`` replaces the parameters and limits and
    suspends the service in billing."""
    customer = synced_customer(engine, gateway, mappings, 7)
    cust = number(7)
    payload = {
        "contract": "CP000007",
        "service_code": "DATA",
        "status": "suspended",
        "parameters": {"apn": "corporate", "qos": "gold"},
        "limits": [{"name": "data_cap", "value": "20", "unit": "GB"}],
    }
    changed = envelope("o7-change", "service.change", payload, customer=cust)
    change(engine, gateway, mappings, customer, [changed], ["ContractServicesWrite"])
    assert service(cil, "CP000007", "DATA") == {
        "status": "S",
        "parameters": {"APN": "corporate", "QOS": "gold"},
        "limits": [("DATA_CAP", Decimal("20"), "GB")],
    }


def test_a_removed_service_is_deactivated_in_billing(
    engine: Engine, gateway: Gateway, mappings: Mappings, cil: CilClient
) -> None:
    """ContractServicesWrite: ``service.remove`` deactivates the service in billing."""
    customer = synced_customer(engine, gateway, mappings, 8)
    payload = {"contract": "CP000008", "service_code": "DATA"}
    removed = envelope("o8-remove", "service.remove", payload, customer=number(8))
    change(engine, gateway, mappings, customer, [removed], ["ContractServicesWrite"])
    assert service(cil, "CP000008", "DATA")["status"] == "D"


def test_emptying_a_services_limits_is_a_dead_letter_not_a_silent_skip(
    engine: Engine, gateway: Gateway, mappings: Mappings, cil: CilClient
) -> None:
    """ContractServicesWrite: the mapping cannot send an empty list, so a change that empties
    the limits fails with ``ADAPTER.MAPPING`` (and billing keeps the limit) instead of
    being marked sent."""
    customer = synced_customer(engine, gateway, mappings, 9)
    payload = {"contract": "CP000009", "service_code": "DATA", "limits": []}
    submit_all(engine, [envelope("o9-empty", "service.change", payload, customer=number(9))])
    report = drain_customer(engine, gateway, mappings, customer, policy=FAST)
    assert report.stopped == "fault"
    reason = request_status(engine, "o9-empty").reason
    assert reason is not None and reason["code"] == "ADAPTER.MAPPING"
    assert "limits" in reason["message"]
    assert service(cil, "CP000009", "DATA")["limits"] == [("DATA_CAP", Decimal("10"), "GB")]


def test_a_removed_discount_is_removed_in_billing(
    engine: Engine, gateway: Gateway, mappings: Mappings, cil: CilClient
) -> None:
    """DiscountRemove: ``discount.remove`` ends the assignment billing gave; asking billing
    to remove it again is answered "removed before" (``CMS.RC6752``)."""
    customer = synced_customer(engine, gateway, mappings, 10)
    removed = envelope("o10-remove", "discount.remove", {"discount_id": "disc-10"})
    change(engine, gateway, mappings, customer, [removed], ["DiscountRemove"])
    assign_id = discount_assign_id(engine, "disc-10")
    again = cil.call("DiscountRemove", f"<c:assignId>{assign_id}</c:assignId>")
    assert again.fault is not None and again.fault.code == "CMS.RC6752"


# ----------------------------------------------------------------------------- resending


def every_operation(n: int) -> list[Any]:
    """One request per operation of this module, for customer ``n``."""
    cust = number(n)
    return [
        envelope(
            f"o{n}-addresses",
            "customer.update",
            {
                "customer": cust,
                "patch": {
                    "addresses": [
                        {"role": "residence", **ADDRESS_B},
                        {"role": "shipment", **ADDRESS_C},
                    ]
                },
            },
        ),
        envelope(
            f"o{n}-move",
            "account.move",
            {"account": f"{cust}.2", "parent": f"{cust}.3"},
            customer=cust,
        ),
        envelope(
            f"o{n}-tier",
            "attributes.set",
            {"entity_kind": "customer", "entity": cust, "values": {"loyalty_tier": "silver"}},
        ),
        envelope(
            f"o{n}-change-service",
            "service.change",
            {"contract": f"CP{n:06d}", "service_code": "DATA", "parameters": {"apn": "iot"}},
            customer=cust,
        ),
        envelope(
            f"o{n}-remove-service",
            "service.remove",
            {"contract": f"CP{n:06d}", "service_code": "DATA"},
            customer=cust,
        ),
        envelope(f"o{n}-remove-discount", "discount.remove", {"discount_id": f"disc-{n}"}),
        envelope(
            f"o{n}-restore",
            "version.restore",
            {"kind": "account", "entity": f"{cust}.3", "version": 2},
            customer=cust,
        ),
    ]


@pytest.mark.usefixtures("attributes")
def test_each_operation_sent_twice_changes_nothing_more_in_billing(
    engine: Engine, gateway: Gateway, mappings: Mappings, cil: CilClient
) -> None:
    """A crash after billing answered and before the message was recorded sends that message
    again at the next drain. Each of these operations, sent once and then (its record lost)
    a second time, is accepted — read back, or a refusal that says "already done" — marked
    sent, and leaves billing exactly as the first send did: no address, info field, service
    state or removal twice."""
    n = 11
    customer = synced_customer(engine, gateway, mappings, n)
    cust = number(n)
    direct_change(engine, f"{cust}.3", bill_cycle="22", status="suspended")  # version 2
    direct_change(engine, f"{cust}.3", bill_cycle="08", status="active")
    first = len(outbox(engine, customer))
    submit_all(engine, every_operation(n))
    rows = outbox(engine, customer)[first:]
    assert [r.operation for r in rows] == [
        *["AddressWrite"] * 3,
        "CustomerHierarchyWrite",
        "CustomerInfoWrite",
        "ContractServicesWrite",
        "ContractServicesWrite",
        "DiscountRemove",
        "CustomerWrite",
    ]
    for row in rows:
        once = drain_customer(engine, gateway, mappings, customer, policy=FAST, limit=1)
        assert once.sent == [row.seq], once.error
        after_once = billing_state(cil, n)
        with engine.begin() as conn:  # as if the record of that send had been lost
            conn.execute(
                update(t.outbox)
                .where(t.outbox.c.id == row.id)
                .values(status="pending", sent_at=None)
            )
        twice = drain_customer(engine, gateway, mappings, customer, policy=FAST, limit=1)
        assert twice.sent == [row.seq], f"{row.operation}: {twice.error}"
        assert billing_state(cil, n) == after_once, row.operation
    assert {r.status for r in outbox(engine, customer)} == {"sent"}
    for e in every_operation(n):
        assert request_status(engine, e["request_id"]).status == "synced"
    assert addresses(cil, f"{cust}.1") == {
        1: (frozenset({"R"}), place(ADDRESS_B)),
        2: (frozenset({"S"}), place(ADDRESS_C)),
    }
    assert info_fields(cil, f"{cust}.1") == {"LOYALTY_TIER": "silver"}
    assert service(cil, f"CP{n:06d}", "DATA") == {
        "status": "D",
        "parameters": {"APN": "iot"},
        "limits": [("DATA_CAP", Decimal("10"), "GB")],
    }
    assert text(node(cil, f"{cust}.3"), "c:customer/c:csStatus") == "s"
    assert text(node(cil, f"{cust}.3"), "c:customer/c:billCycle") == "22"
    assert text(node(cil, f"{cust}.2"), "c:parentCsIdPub") == f"{cust}.3"
