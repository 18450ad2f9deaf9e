"""Fixtures of the mapping tests: the project's mappings, the CIL schema, and canonical
customers (a person and an organisation) with everything the write operations send."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from adapter.domain.identifiers import complete_iccid
from adapter.domain.model import (
    Account,
    Address,
    ContactMedium,
    Contract,
    ContractStatusChange,
    Customer,
    DiscountAssignment,
    Identification,
    Individual,
    Money,
    Organization,
    ServiceAssignment,
    ServiceLimit,
    Subscriber,
)
from adapter.mapping import Mappings, load_mappings
from adapter.mapping.xsd import to_element
from adapter.paths import CIL_NS, CIL_XSD

SESSION = {"values": {"item": [{"key": "BU_ID", "value": "1"}]}}


@pytest.fixture(scope="session")
def mappings() -> Mappings:
    return load_mappings()


@pytest.fixture(scope="session")
def cil_schema() -> Any:
    return etree.XMLSchema(etree.parse(str(CIL_XSD)))


def request_element(mappings: Mappings, operation: str, inputs: dict[str, Any]) -> Any:
    """The SOAP body element of ``operation`` as zeep would send it (with a session part)."""
    declaration = mappings.request_element(operation)
    body = {"inputAttributes": inputs, "sessionChangeRequest": SESSION}
    return to_element(declaration, body, CIL_NS)


@pytest.fixture
def assert_valid_request(mappings: Mappings, cil_schema: Any) -> Callable[[str, Any], None]:
    def check(operation: str, inputs: dict[str, Any]) -> None:
        element = request_element(mappings, operation, inputs)
        if not cil_schema.validate(element):
            raise AssertionError(
                f"{operation} request is not valid: {cil_schema.error_log}\n"
                + etree.tostring(element, pretty_print=True).decode()
            )

    return check


@pytest.fixture
def person() -> Customer:
    return Customer(
        customer_number="C00000042",
        status="active",
        segment="residential",
        party=Individual(
            given_name="Zoë",
            family_name="Łukasiewicz",
            birth_date=date(1984, 2, 29),
            nationality="PL",
        ),
        identifications=[
            Identification(type="tin", value="PL1234567890"),
            Identification(type="personal_id", value="84022912345"),
            Identification(type="passport", value="EX1234567"),
        ],
        contact_media=[
            ContactMedium(type="email", value="zoe@example.org"),
            ContactMedium(type="mobile", value="+48601234567"),
        ],
        addresses=[
            Address(
                role="residence",
                lines=["ul. Długa 5", "m. 12"],
                postcode="00-238",
                city="Warszawa",
                region="Mazowieckie",
                country="PL",
            ),
            Address(
                role="billing",
                lines=["ul. Długa 5", "m. 12"],
                postcode="00-238",
                city="Warszawa",
                region="Mazowieckie",
                country="PL",
            ),
            Address(
                role="shipment",
                lines=["Paczkomat WAW01"],
                postcode="00-001",
                city="Warszawa",
                country="PL",
            ),
        ],
    )


@pytest.fixture
def company() -> Customer:
    return Customer(
        customer_number="C00000077",
        status="suspended",
        segment="corporate",
        party=Organization(name="Acme Telecom & Co", legal_form="GmbH"),
        identifications=[
            Identification(type="tin", value="DE811907980"),
            Identification(type="company_registration", value="HRB 12345"),
        ],
        contact_media=[
            ContactMedium(type="email", value="billing@acme.example"),
            ContactMedium(type="phone", value="+4930123456"),
        ],
        addresses=[
            Address(
                role="registration",
                lines=["Friedrichstraße 1"],
                postcode="10117",
                city="Berlin",
                country="DE",
            ),
            Address(
                role="billing",
                lines=["Postfach 100"],
                postcode="10001",
                city="Berlin",
                country="DE",
            ),
        ],
    )


def account_of(customer: Customer, **over: Any) -> Account:
    data: dict[str, Any] = {
        "customer_id": customer.id,
        "number": f"{customer.customer_number}.1",
        "name": customer.display_name,
        "bill_cycle": "15",
        "payment_method": "direct_debit",
        "credit_limit": Money(amount=Decimal("250.50"), currency="EUR"),
        **over,
    }
    return Account(**data)


@pytest.fixture
def account(person: Customer) -> Account:
    return account_of(person)


@pytest.fixture
def contract(account: Account) -> Contract:
    return Contract(
        customer_id=account.customer_id,
        account_id=account.id,
        number="CO000000042",
        sales_application_number="SO000000042",
        rate_plan="RP_M",
        status="active",
        status_history=[
            ContractStatusChange(
                status="active", at=datetime(2024, 5, 1, 9, 30, tzinfo=UTC), reason="ACTIVATED"
            )
        ],
    )


@pytest.fixture
def subscriber(contract: Contract) -> Subscriber:
    return Subscriber(
        customer_id=contract.customer_id,
        account_id=contract.account_id,
        contract_id=contract.id,
        msisdn="+4915112345678",
        imsi="262011234567890",
        iccid=complete_iccid("49", 42),
    )


@pytest.fixture
def services(subscriber: Subscriber) -> list[ServiceAssignment]:
    scope = {
        "customer_id": subscriber.customer_id,
        "account_id": subscriber.account_id,
        "contract_id": subscriber.contract_id,
        "subscriber_id": subscriber.id,
    }
    return [
        ServiceAssignment(**scope, service_code="VOICE"),
        ServiceAssignment(
            **scope,
            service_code="DATA",
            parameters={"apn": "internet", "qos_class": "9"},
            limits=[ServiceLimit(name="data_cap", value=Decimal("20"), unit="GB")],
        ),
        ServiceAssignment(
            **scope,
            service_code="ROAMING",
            status="suspended",
            limits=[
                ServiceLimit(name="roaming_limit", value=Decimal("50.00"), unit="EUR"),
                ServiceLimit(name="spending_limit", value=Decimal("150"), unit="EUR"),
            ],
        ),
    ]


@pytest.fixture
def discounts(contract: Contract, subscriber: Subscriber) -> list[DiscountAssignment]:
    return [
        DiscountAssignment(
            customer_id=contract.customer_id,
            account_id=contract.account_id,
            code="CORP_FRAME",
            level="account",
            value=Decimal("15"),
        ),
        DiscountAssignment(
            customer_id=contract.customer_id,
            account_id=contract.account_id,
            contract_id=contract.id,
            code="LOYAL10",
            level="contract",
            value=Decimal("10"),
            inherited=False,
        ),
        DiscountAssignment(
            customer_id=contract.customer_id,
            account_id=contract.account_id,
            contract_id=contract.id,
            subscriber_id=subscriber.id,
            discount_kind="promotion",
            code="WELCOME_DATA",
            level="subscriber",
            value=Decimal("5.00"),
            value_type="amount",
            currency="EUR",
            valid_from=date(2025, 1, 1),
            valid_to=date(2025, 1, 31),
        ),
    ]
