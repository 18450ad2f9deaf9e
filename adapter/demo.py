"""A small demo data set, loaded through the unit of work like any other write."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine

from adapter.domain import Actor
from adapter.domain.identifiers import complete_iccid
from adapter.domain.model import (
    Account,
    Address,
    AssignmentLevel,
    Balance,
    ContactMedium,
    ContactPerson,
    Contract,
    ContractStatus,
    Customer,
    DiscountAssignment,
    FreeUnitBucket,
    Identification,
    Individual,
    ListingSuppression,
    Money,
    Organization,
    ServiceAssignment,
    ServiceLimit,
    Subscriber,
    SuppressionScope,
    UsageRecord,
    UsageType,
)
from adapter.service.attributes import define_attribute, set_attribute
from adapter.store.uow import UnitOfWork

DEMO_CUSTOMER = "DEMO-1001"
DEMO_ORGANISATION = "DEMO-2001"
DEMO_MSISDN = "+4917012340001"


def _actor(step: str, user: str = "demo.loader") -> Actor:
    return Actor(
        originating_user=user,
        principal="crm-adapter-demo",
        channel="cli",
        request_id=f"demo-{step}",
    )


def load_demo(engine: Engine) -> bool:
    """Load the demo customers once; False when they are already there."""
    with UnitOfWork(engine, _actor("probe")) as uow:
        if uow.find_by(Customer, customer_number=DEMO_CUSTOMER):
            return False

    now = datetime.now(UTC)
    month_start = now.date().replace(day=1)
    month_end = (month_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)

    with UnitOfWork(engine, _actor("attributes", "admin.jane")) as uow:
        define_attribute(
            uow,
            {
                "name": "loyalty_tier",
                "label": "Loyalty tier",
                "type": "enum",
                "entity_kind": "customer",
                "enum_values": ["bronze", "silver", "gold"],
            },
        )
        define_attribute(
            uow,
            {
                "name": "device_model",
                "label": "Device model",
                "type": "string",
                "entity_kind": "subscriber",
            },
        )
        uow.commit("attributes.define")

    with UnitOfWork(engine, _actor("customer-1", "agent.mila")) as uow:
        person = Customer(
            customer_number=DEMO_CUSTOMER,
            party=Individual(
                given_name="Ana",
                family_name="Müller",
                birth_date=date(1984, 5, 17),
                nationality="DE",
            ),
            identifications=[
                Identification(type="tin", value="DE123456789", issuing_country="DE"),
                Identification(type="personal_id", value="L01X00T47", issuing_country="DE"),
            ],
            contact_media=[
                ContactMedium(type="email", value="ana.mueller@example.com", preferred=True),
                ContactMedium(type="mobile", value=DEMO_MSISDN),
            ],
            addresses=[
                Address(
                    role="residence",
                    lines=["Hauptstraße 5"],
                    postcode="10115",
                    city="Berlin",
                    country="DE",
                ),
                Address(
                    role="billing",
                    lines=["Postfach 1234"],
                    postcode="10001",
                    city="Berlin",
                    country="DE",
                ),
            ],
        )
        account = Account(
            customer_id=person.id,
            number=f"{DEMO_CUSTOMER}.1",
            name="Ana Müller",
            payment_responsible=True,
            bill_cycle="01",
        )
        contract = Contract(
            customer_id=person.id,
            account_id=account.id,
            number="CO-1001-1",
            sales_application_number="SO-77001",
            rate_plan="RP_SMART_L",
        )
        contract.change_status(ContractStatus.ACTIVE, now, "activated at sale")
        subscriber = Subscriber(
            customer_id=person.id,
            account_id=account.id,
            contract_id=contract.id,
            msisdn=DEMO_MSISDN,
            imsi="262011234500001",
            iccid=complete_iccid("49", 1),
        )
        data = ServiceAssignment(
            customer_id=person.id,
            account_id=account.id,
            contract_id=contract.id,
            subscriber_id=subscriber.id,
            service_code="DATA",
            parameters={"apn": "internet"},
            limits=[
                ServiceLimit(name="data_cap", value=Decimal(20), unit="GB"),
                ServiceLimit(name="roaming_limit", value=Decimal(50), unit="EUR"),
            ],
        )
        voice = ServiceAssignment(
            customer_id=person.id,
            account_id=account.id,
            contract_id=contract.id,
            subscriber_id=subscriber.id,
            service_code="VOICE",
        )
        uow.add_all([person, account, contract, subscriber, data, voice])
        uow.commit("customer.create")

    with UnitOfWork(engine, _actor("products-1", "agent.mila")) as uow:
        uow.add_all(
            [
                DiscountAssignment(
                    customer_id=person.id,
                    account_id=account.id,
                    contract_id=contract.id,
                    code="LOYAL10",
                    level=AssignmentLevel.CONTRACT,
                    value=Decimal(10),
                ),
                DiscountAssignment(
                    customer_id=person.id,
                    account_id=account.id,
                    contract_id=contract.id,
                    subscriber_id=subscriber.id,
                    discount_kind="promotion",
                    code="WELCOME_DATA",
                    level=AssignmentLevel.SUBSCRIBER,
                    value=Decimal(5),
                    value_type="amount",
                    currency="EUR",
                    valid_from=month_start,
                    valid_to=month_end,
                ),
                Balance(
                    customer_id=person.id,
                    account_id=account.id,
                    currency="EUR",
                    current=Decimal("-23.40"),
                    unbilled=Decimal("12.10"),
                    outstanding=Decimal("23.40"),
                    as_of=now,
                ),
                FreeUnitBucket(
                    customer_id=person.id,
                    account_id=account.id,
                    contract_id=contract.id,
                    subscriber_id=subscriber.id,
                    package="SMART_L_DATA",
                    unit="mb",
                    granted=Decimal(20480),
                    used=Decimal(7340),
                    period_start=month_start,
                    period_end=month_end,
                    as_of=now,
                ),
            ]
        )
        set_attribute(uow, "customer", person.id, "loyalty_tier", "silver")
        set_attribute(uow, "subscriber", subscriber.id, "device_model", "Fairphone 5")
        for hour, (kind, other, seconds, volume, charge) in enumerate(
            [
                (UsageType.VOICE, "+4930123456", 185, None, "0.00"),
                (UsageType.SMS, "+4915112345678", None, None, "0.09"),
                (UsageType.DATA, None, None, 52_428_800, "0.00"),
                (UsageType.ROAMING_DATA, None, None, 10_485_760, "1.99"),
            ]
        ):
            uow.add(
                UsageRecord(
                    customer_id=person.id,
                    account_id=account.id,
                    contract_id=contract.id,
                    subscriber_id=subscriber.id,
                    start_time=now - timedelta(hours=hour + 1),
                    type=kind,
                    other_party=other,
                    duration_seconds=seconds,
                    volume_bytes=volume,
                    charge=Money(amount=Decimal(charge), currency="EUR"),
                )
            )
        uow.commit("products.assign")

    # Two later changes by other people, so that history has something to show.
    with UnitOfWork(engine, _actor("address-1", "agent.tomas")) as uow:
        customer = uow.get(Customer, person.id)
        customer.addresses = [
            Address(
                role="residence",
                lines=["Gartenweg 12"],
                postcode="14467",
                city="Potsdam",
                country="DE",
            ),
            *[a for a in customer.addresses if a.role.value != "residence"],
        ]
        uow.commit("customer.update", {"reason": "moved house"})
    with UnitOfWork(engine, _actor("limit-1", "agent.tomas")) as uow:
        service = uow.get(ServiceAssignment, data.id)
        service.limits = [
            ServiceLimit(name="data_cap", value=Decimal(40), unit="GB"),
            *[lim for lim in service.limits if lim.name != "data_cap"],
        ]
        uow.commit("service.change", {"reason": "upgrade to 40 GB"})

    _load_organisation(engine, now)
    return True


def _load_organisation(engine: Engine, now: datetime) -> None:
    with UnitOfWork(engine, _actor("customer-2", "agent.mila")) as uow:
        org = Customer(
            customer_number=DEMO_ORGANISATION,
            segment="corporate",
            party=Organization(name="Nordwind Logistik GmbH", legal_form="GmbH"),
            identifications=[
                Identification(type="company_registration", value="HRB 123456"),
                Identification(type="tin", value="DE987654321"),
            ],
            contact_media=[ContactMedium(type="email", value="billing@nordwind.example")],
            addresses=[
                Address(
                    role="registration",
                    lines=["Hafenstraße 1"],
                    postcode="20457",
                    city="Hamburg",
                    country="DE",
                ),
                Address(
                    role="billing",
                    lines=["Rechnungswesen", "Hafenstraße 1"],
                    postcode="20457",
                    city="Hamburg",
                    country="DE",
                ),
            ],
            contact_persons=[
                ContactPerson(role="authorized_contact", given_name="Lena", family_name="Brandt"),
                ContactPerson(role="billing_contact", given_name="Jonas", family_name="Weber"),
            ],
        )
        head = Account(
            customer_id=org.id,
            number=f"{DEMO_ORGANISATION}.1",
            name="Nordwind head office",
            payment_responsible=True,
        )
        branch = Account(
            customer_id=org.id,
            number=f"{DEMO_ORGANISATION}.1.1",
            name="Nordwind Bremen",
            parent_id=head.id,
            payment_responsible=False,
        )
        fleet = Account(
            customer_id=org.id,
            number=f"{DEMO_ORGANISATION}.1.1.1",
            name="Bremen drivers",
            parent_id=branch.id,
            payment_responsible=False,
        )
        uow.add_all([org, head, branch, fleet])
        uow.add(
            ListingSuppression(
                scope_type=SuppressionScope.ACCOUNT,
                customer_id=org.id,
                account_id=fleet.id,
                reason="works council agreement",
            )
        )
        uow.commit("customer.create")
