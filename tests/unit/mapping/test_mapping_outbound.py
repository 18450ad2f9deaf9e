"""Outbound maps: canonical context → inputAttributes that the CIL schema accepts, with the
Python types zeep needs (Decimal, date, aware datetime, bool, int)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from adapter.domain.model import (
    Account,
    Contract,
    ContractStatus,
    Customer,
    DiscountAssignment,
    ServiceAssignment,
    Subscriber,
)
from adapter.mapping import MappingFailed, Mappings, TranslationError
from adapter.mapping.xsd import XsdElement

from .conftest import account_of


@dataclass
class World:
    person: Customer
    company: Customer
    account: Account
    contract: Contract
    subscriber: Subscriber
    services: list[ServiceAssignment]
    discounts: list[DiscountAssignment]


@pytest.fixture
def world(
    person: Customer,
    company: Customer,
    account: Account,
    contract: Contract,
    subscriber: Subscriber,
    services: list[ServiceAssignment],
    discounts: list[DiscountAssignment],
) -> World:
    return World(person, company, account, contract, subscriber, services, discounts)


CONTEXTS: dict[str, Callable[[World], dict[str, Any]]] = {
    "CustomerNew": lambda w: {"customer": w.person, "account": w.account},
    "CustomerRead": lambda w: {"account": w.account, "legacy_ids": {"cs_id": 17}},
    "CustomerWrite": lambda w: {"customer": w.company, "account": account_of(w.company)},
    "CustomersSearch": lambda w: {
        "search": {"family_name": "Łukasiewicz", "msisdn": "+4915112345678", "max_results": 20}
    },
    "CustomerHierarchyWrite": lambda w: {
        "account": account_of(w.person, number="C00000042.2", payment_responsible=False),
        "parent_account": w.account,
        "legacy_ids": {"cs_id": "18", "parent_cs_id": 17},
    },
    "AddressWrite": lambda w: {
        "account": w.account,
        "address": w.person.addresses[2],
        "params": {"action": "update"},
        "legacy_ids": {"adr_seq": 3},
    },
    "CustomerInfoWrite": lambda w: {
        "account": w.account,
        "attributes": {"loyalty_tier": "gold", "device_model": None, "crm_only": "x"},
    },
    "ContractNew": lambda w: {
        "account": w.account,
        "contract": w.contract,
        "subscriber": w.subscriber,
    },
    "ContractRead": lambda w: {"contract": w.contract},
    "ContractWrite": lambda w: {
        "contract": {"number": w.contract.number, "status": "suspended"},
        "params": {"reason": "unpaid invoice"},
        "legacy_ids": {"co_id": 99},
    },
    "ContractServicesAdd": lambda w: {"contract": w.contract, "services": w.services},
    "ContractServicesRead": lambda w: {"contract": w.contract},
    "ContractServicesWrite": lambda w: {
        "contract": w.contract,
        "service": w.services[1],
        "legacy_ids": {"sn_code": 104},
    },
    "DiscountAssign": lambda w: {
        "account": w.account,
        "contract": w.contract,
        "discount": w.discounts[2],
    },
    "DiscountRemove": lambda w: {"legacy_ids": {"assign_id": 9000001}},
    "BalancesRead": lambda w: {"account": w.account},
    "ContractFreeUnitsRead": lambda w: {"contract": w.contract},
    "UsageDataRecordsRead": lambda w: {
        "contract": w.contract,
        "params": {
            "from": "2025-01-01T00:00:00Z",
            "to": datetime(2025, 2, 1, tzinfo=UTC),
            "max_records": 500,
        },
    },
}


def test_every_wsdl_operation_has_an_outbound_map(mappings: Mappings) -> None:
    """All 18 CIL operations are mapped: each request needs its inputAttributes built."""
    assert set(mappings.wsdl_operations) == set(CONTEXTS)
    assert all(mappings.has_outbound(op) for op in mappings.wsdl_operations)


@pytest.mark.parametrize("operation", sorted(CONTEXTS))
def test_outbound_payload_is_valid_against_the_xsd(
    operation: str,
    world: World,
    mappings: Mappings,
    assert_valid_request: Callable[[str, Any], None],
) -> None:
    inputs = mappings.outbound(operation, CONTEXTS[operation](world))
    assert inputs, f"{operation} produced nothing"
    assert_valid_request(operation, inputs)


_TYPES: dict[str, tuple[type, ...]] = {
    "decimal": (Decimal,),
    "date": (date,),
    "dateTime": (datetime,),
    "boolean": (bool,),
    "long": (int,),
    "int": (int,),
    "string": (str,),
}


def _wrong_types(declaration: XsdElement, value: Any, path: str) -> list[str]:
    problems: list[str] = []
    for one in value if isinstance(value, list) else [value]:
        if declaration.children is not None:
            for name, item in one.items():
                problems += _wrong_types(declaration.children[name], item, f"{path}.{name}")
            continue
        wanted = _TYPES[declaration.builtin or "string"]
        bad = not isinstance(one, wanted)
        bad = bad or (wanted == (date,) and isinstance(one, datetime))
        bad = bad or (wanted == (int,) and isinstance(one, bool))
        bad = bad or (wanted == (datetime,) and one.tzinfo is None)
        if bad:
            problems.append(f"{path}={one!r} is not {declaration.builtin}")
    return problems


@pytest.mark.parametrize("operation", sorted(CONTEXTS))
def test_outbound_values_have_the_python_type_of_their_xsd_type(
    operation: str, world: World, mappings: Mappings
) -> None:
    """zeep renders what it gets: a decimal must be a Decimal, a date a date, and so on."""
    inputs = mappings.outbound(operation, CONTEXTS[operation](world))
    declaration = (mappings.request_element(operation).children or {})["inputAttributes"]
    assert _wrong_types(declaration, inputs, "inputAttributes") == []


def test_customer_new_for_a_person(mappings: Mappings, world: World) -> None:
    inputs = mappings.outbound("CustomerNew", {"customer": world.person, "account": world.account})
    assert inputs["csIdPub"] == "C00000042.1"
    assert inputs["paymentResp"] is True
    assert "parent" not in inputs
    data = inputs["customer"]
    assert data["partyType"] == "I"
    assert (data["firstName"], data["lastName"]) == ("Zoë", "Łukasiewicz")
    assert data["birthDate"] == date(1984, 2, 29)
    assert data["taxNo"] == "PL1234567890"
    assert data["idNo"] == "84022912345"
    assert data["passportNo"] == "EX1234567"
    assert data["email"] == "zoe@example.org"
    assert data["phone"] == "+48601234567"
    assert data["paymentMethod"] == "D"
    assert data["creditLimit"] == {"amount": Decimal("250.50"), "currency": "EUR"}
    assert data["csStatus"] == "a"
    assert "companyName" not in data


def test_customer_new_for_an_organisation_sends_no_person_fields(
    mappings: Mappings, world: World
) -> None:
    company_account = account_of(world.company)
    inputs = mappings.outbound(
        "CustomerNew",
        {"customer": world.company, "account": company_account, "parent_account": world.account},
    )
    data = inputs["customer"]
    assert data["partyType"] == "O"
    assert data["companyName"] == "Acme Telecom & Co"
    assert data["legalForm"] == "GmbH"
    assert data["companyRegNo"] == "HRB 12345"
    assert data["phone"] == "+4930123456"  # no mobile: the landline is sent
    assert not {"firstName", "lastName", "birthDate", "idNo"} & set(data)
    assert inputs["parent"] == {"csIdPub": "C00000042.1"}


def test_a_suspended_customer_is_created_active_and_suspended_by_customer_write(
    mappings: Mappings, world: World
) -> None:
    """BSCS creates a node interested or active only: CustomerNew leaves the status out."""
    context = {"customer": world.company, "account": account_of(world.company)}
    assert "csStatus" not in mappings.outbound("CustomerNew", context)["customer"]
    assert mappings.outbound("CustomerWrite", context)["customer"]["csStatus"] == "s"


def test_addresses_that_differ_only_in_role_become_one_address_with_two_roles(
    mappings: Mappings, world: World
) -> None:
    inputs = mappings.outbound("CustomerNew", {"customer": world.person, "account": world.account})
    addresses = inputs["addresses"]["address"]
    assert [a["adrRole"] for a in addresses] == [["R", "B"], ["S"]]
    assert addresses[0]["adrLine"] == ["ul. Długa 5", "m. 12"]


def test_contract_new_drops_the_plus_of_the_msisdn(mappings: Mappings, world: World) -> None:
    inputs = mappings.outbound(
        "ContractNew",
        {"account": world.account, "contract": world.contract, "subscriber": world.subscriber},
    )
    assert inputs["dnNum"] == "4915112345678"
    assert inputs["coStatus"] == "a"
    assert inputs["customer"] == {"csIdPub": "C00000042.1"}
    assert inputs["smNum"] == world.subscriber.iccid


def test_services_carry_parameters_and_limits_as_codes(mappings: Mappings, world: World) -> None:
    inputs = mappings.outbound(
        "ContractServicesAdd", {"contract": world.contract, "services": world.services}
    )
    data = inputs["services"]["service"][1]
    assert data["snCodePub"] == "DATA"
    assert data["status"] == "A"
    assert data["parameters"]["parameter"] == [
        {"prmCode": "APN", "value": "internet"},
        {"prmCode": "QOS_CLASS", "value": "9"},
    ]
    assert data["limits"]["limit"] == [{"name": "DATA_CAP", "value": Decimal(20), "unit": "GB"}]
    assert inputs["services"]["service"][2]["status"] == "S"


def test_discount_level_picks_the_customer_or_the_contract_reference(
    mappings: Mappings, world: World
) -> None:
    base = {"account": world.account, "contract": world.contract}
    on_node = mappings.outbound("DiscountAssign", {**base, "discount": world.discounts[0]})
    on_contract = mappings.outbound("DiscountAssign", {**base, "discount": world.discounts[1]})
    assert on_node["customer"] == {"csIdPub": "C00000042.1"} and "contract" not in on_node
    assert on_contract["contract"] == {"coIdPub": "CO000000042"} and "customer" not in on_contract
    assert on_contract["inherited"] is False
    assert on_node["kind"] == "D" and on_node["valueType"] == "P"


def test_info_fields_carry_only_listed_attributes_and_none_removes(
    mappings: Mappings, world: World
) -> None:
    inputs = mappings.outbound(
        "CustomerInfoWrite",
        {
            "account": world.account,
            "attributes": {"loyalty_tier": "gold", "device_model": None, "x": 1},
        },
    )
    assert inputs["infoFields"]["field"] == [
        {"name": "LOYALTY_TIER", "value": "gold"},
        {"name": "DEVICE_MODEL"},  # no value: billing removes the field
    ]


def test_contract_write_sends_only_what_the_context_holds(mappings: Mappings) -> None:
    inputs = mappings.outbound(
        "ContractWrite",
        {
            "contract": {"number": "CO1", "status": "deactivated"},
            "params": {"reason": "moved abroad!"},
        },
    )
    assert inputs == {"coIdPub": "CO1", "coStatus": "d", "rsCode": "MOVED_ABROAD"}


def test_models_and_their_snapshots_give_the_same_payload(mappings: Mappings, world: World) -> None:
    as_models = mappings.outbound(
        "CustomerNew", {"customer": world.person, "account": world.account}
    )
    as_dicts = mappings.outbound(
        "CustomerNew",
        {"customer": world.person.snapshot(), "account": world.account.snapshot()},
    )
    assert as_models == as_dicts


def test_a_missing_required_element_is_refused_before_sending(mappings: Mappings) -> None:
    """ContractNew needs a directory number: without a subscriber the map says which element."""
    with pytest.raises(MappingFailed, match=r"inputAttributes\.dnNum is required"):
        mappings.outbound("ContractNew", {"contract": {"number": "CO1", "rate_plan": "RP_S"}})


def test_a_value_without_enum_entry_names_table_value_and_rule(mappings: Mappings) -> None:
    with pytest.raises(TranslationError) as caught:
        mappings.outbound(
            "ContractServicesAdd",
            {"contract": {"number": "CO1"}, "services": [{"service_code": "TELEX"}]},
        )
    error = caught.value
    assert (error.table, error.value) == ("service_codes", "TELEX")
    assert "fragments/service.yaml" in str(error) and "ContractServicesAdd outbound" in str(error)


def test_a_converter_refusal_names_the_converter_and_rule(mappings: Mappings) -> None:
    with pytest.raises(MappingFailed) as caught:
        mappings.outbound(
            "DiscountAssign",
            {
                "discount": {"level": "account", "code": "X", "value": "lots"},
                "account": {"number": "A1"},
            },
        )
    message = str(caught.value)
    assert "converter decimal refused 'lots'" in message
    assert re.search(r"operations/discount_assign.yaml line \d+, outbound\[6\]", message)


def test_unknown_operation_is_refused(mappings: Mappings) -> None:
    with pytest.raises(MappingFailed, match="no outbound map"):
        mappings.outbound("CustomerDelete", {})


def test_a_suspended_contract_is_created_without_status(mappings: Mappings, world: World) -> None:
    """BSCS starts a contract on hold or active: the status follows with ContractWrite."""
    contract = world.contract.model_copy(update={"status": ContractStatus.SUSPENDED})
    context = {"account": world.account, "contract": contract, "subscriber": world.subscriber}
    assert "coStatus" not in mappings.outbound("ContractNew", context)
    assert mappings.outbound("ContractWrite", context)["coStatus"] == "s"
