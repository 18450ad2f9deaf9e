"""Rules of the canonical model (adapter.domain.model), checked through
:func:`adapter.domain.validation.parse` so that errors come out as ValidationFailed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pydantic
import pytest

from adapter.domain.attributes import AttributeDefinition, AttributeValue
from adapter.domain.errors import Conflict, ValidationFailed, Violation
from adapter.domain.identifiers import luhn_check_digit
from adapter.domain.model import (
    Account,
    AddressRole,
    Balance,
    ContactMedium,
    Contract,
    ContractStatus,
    Customer,
    DiscountAssignment,
    Entity,
    FreeUnitBucket,
    IdentificationType,
    Individual,
    ListingSuppression,
    Organization,
    Scope,
    ServiceAssignment,
    Subscriber,
    UsageRecord,
    Validity,
)
from adapter.domain.validation import parse, validating

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
VALID_ICCID = "894901234567890123" + luhn_check_digit("894901234567890123")


def failures(model: type[pydantic.BaseModel], data: dict[str, Any]) -> tuple[Violation, ...]:
    with pytest.raises(ValidationFailed) as info:
        parse(model, data)
    return info.value.violations


def only(violations: tuple[Violation, ...]) -> Violation:
    assert len(violations) == 1, violations
    return violations[0]


def located(violations: tuple[Violation, ...]) -> tuple[str, str]:
    """The (field, rule) of the one violation."""
    violation = only(violations)
    return violation.field, violation.rule


# --------------------------------------------------------------------------- data builders


def person(**over: Any) -> dict[str, Any]:
    return {"kind": "individual", "given_name": "Ana", "family_name": "Müller", **over}


def customer_data(**over: Any) -> dict[str, Any]:
    return {"customer_number": "C000001", "party": person(), **over}


def address(**over: Any) -> dict[str, Any]:
    return {
        "role": "billing",
        "lines": ["Hauptstraße 1"],
        "postcode": "10115",
        "city": "Berlin",
        "country": "DE",
        **over,
    }


def account_data(**over: Any) -> dict[str, Any]:
    return {"customer_id": "cust-1", "number": "A000001", "name": "Main", **over}


def contract_data(**over: Any) -> dict[str, Any]:
    return {
        "customer_id": "cust-1",
        "account_id": "acc-1",
        "number": "K000001",
        "rate_plan": "RP_S",
        **over,
    }


def subscriber_data(**over: Any) -> dict[str, Any]:
    return {
        "customer_id": "cust-1",
        "account_id": "acc-1",
        "contract_id": "con-1",
        "msisdn": "+4917012345678",
        **over,
    }


def service_data(**over: Any) -> dict[str, Any]:
    return {
        "customer_id": "cust-1",
        "account_id": "acc-1",
        "contract_id": "con-1",
        "service_code": "DATA",
        **over,
    }


def discount_data(**over: Any) -> dict[str, Any]:
    return {
        "customer_id": "cust-1",
        "account_id": "acc-1",
        "code": "WELCOME10",
        "level": "account",
        "value": "10",
        **over,
    }


def bucket_data(**over: Any) -> dict[str, Any]:
    return {
        "customer_id": "cust-1",
        "account_id": "acc-1",
        "contract_id": "con-1",
        "package": "SMS100",
        "unit": "sms",
        "granted": "100",
        "period_start": "2026-01-01",
        "period_end": "2026-01-31",
        "as_of": "2026-01-15T00:00:00Z",
        **over,
    }


def contract_in(status: ContractStatus) -> Contract:
    return parse(Contract, contract_data(status=status.value))


# --------------------------------------------------------------------------- customer: party


def test_customer_with_individual_party_parses_as_individual() -> None:
    customer = parse(Customer, customer_data(party=person(middle_name="Maria")))
    assert isinstance(customer.party, Individual)
    assert customer.display_name == "Ana Maria Müller"


def test_customer_with_organization_party_parses_as_organization() -> None:
    customer = parse(Customer, customer_data(party={"kind": "organization", "name": "ACME GmbH"}))
    assert isinstance(customer.party, Organization)
    assert customer.display_name == "ACME GmbH"


def test_party_without_kind_is_refused_on_the_party_field() -> None:
    data = customer_data(party={"given_name": "Ana", "family_name": "Müller"})
    assert located(failures(Customer, data)) == ("party", "union_tag_not_found")


def test_party_with_unknown_kind_is_refused_on_the_party_field() -> None:
    data = customer_data(party={"kind": "robot", "name": "R2"})
    assert located(failures(Customer, data)) == ("party", "union_tag_invalid")


def test_individual_without_family_name_names_party_dot_family_name() -> None:
    """The discriminator tag ('individual') is dropped from the dotted path."""
    data = customer_data(party={"kind": "individual", "given_name": "Ana"})
    assert located(failures(Customer, data)) == ("party.family_name", "missing")


def test_organization_refuses_individual_fields() -> None:
    data = customer_data(party={"kind": "organization", "name": "ACME", "given_name": "Ana"})
    assert located(failures(Customer, data)) == ("party.given_name", "extra_forbidden")


def test_customer_refuses_unknown_fields() -> None:
    assert located(failures(Customer, customer_data(nickname="Ani"))) == (
        "nickname",
        "extra_forbidden",
    )


@pytest.mark.parametrize("number", ["", "C 1", "C/1", "C" * 33])
def test_customer_number_outside_its_pattern_or_length_is_refused(number: str) -> None:
    assert only(failures(Customer, customer_data(customer_number=number))).field == (
        "customer_number"
    )


def test_customer_strips_surrounding_whitespace_from_text() -> None:
    customer = parse(Customer, customer_data(customer_number="  C000001  "))
    assert customer.customer_number == "C000001"


# --------------------------------------------------------------------------- identifications


@pytest.mark.parametrize(
    ("first", "second"),
    [("DE123456789", "DE123456789"), ("DE-123.456", "de 123456"), ("DE/123", "de123")],
)
def test_repeated_identification_is_refused(first: str, second: str) -> None:
    """Same type and same value once separators and case are ignored (identifier_key)."""
    data = customer_data(
        identifications=[{"type": "tin", "value": first}, {"type": "tin", "value": second}]
    )
    violation = only(failures(Customer, data))
    assert (violation.field, violation.rule) == ("(entity)", "value_error")
    assert "repeated" in violation.message


def test_same_identification_value_under_different_types_is_accepted() -> None:
    customer = parse(
        Customer,
        customer_data(
            identifications=[
                {"type": "tin", "value": "X123"},
                {"type": "personal_id", "value": "X123"},
            ]
        ),
    )
    assert len(customer.identifications) == 2


def test_identification_lookup_returns_the_one_of_that_type_or_none() -> None:
    customer = parse(
        Customer,
        customer_data(
            identifications=[
                {"type": "tin", "value": "T1"},
                {"type": "passport", "value": "P1"},
            ]
        ),
    )
    found = customer.identification(IdentificationType.PASSPORT)
    assert found is not None
    assert found.value == "P1"
    assert customer.identification(IdentificationType.PERSONAL_ID) is None


def test_identification_with_unknown_type_names_the_type_field() -> None:
    data = customer_data(identifications=[{"type": "driving_licence", "value": "D1"}])
    assert located(failures(Customer, data)) == ("identifications.0.type", "enum")


def test_identification_issuing_country_must_be_two_capitals() -> None:
    data = customer_data(identifications=[{"type": "tin", "value": "T1", "issuing_country": "de"}])
    assert located(failures(Customer, data)) == (
        "identifications.0.issuing_country",
        "value_error",
    )


# --------------------------------------------------------------------------- contact media


def test_email_contact_medium_lower_cases_the_domain() -> None:
    customer = parse(
        Customer, customer_data(contact_media=[{"type": "email", "value": "Ana@EXAMPLE.com"}])
    )
    assert customer.contact_media[0].value == "Ana@example.com"


@pytest.mark.parametrize("kind", ["phone", "mobile", "fax"])
def test_phone_like_contact_medium_is_normalised_to_e164(kind: str) -> None:
    customer = parse(Customer, customer_data(contact_media=[{"type": kind, "value": "4930123456"}]))
    assert customer.contact_media[0].value == "+4930123456"


@pytest.mark.parametrize(
    ("kind", "value", "words"),
    [
        ("email", "ana.example.com", "e-mail"),
        ("email", "+4930123456", "e-mail"),
        ("phone", "ana@example.com", "E.164"),
        ("mobile", "0170 1234567", "E.164"),
        ("fax", "123", "E.164"),
    ],
)
def test_invalid_contact_medium_value_is_refused_at_its_list_position(
    kind: str, value: str, words: str
) -> None:
    data = customer_data(
        contact_media=[
            {"type": "email", "value": "ok@example.com"},
            {"type": kind, "value": value},
        ]
    )
    violation = only(failures(Customer, data))
    assert (violation.field, violation.rule) == ("contact_media.1", "value_error")
    assert words in violation.message


def test_contact_medium_value_is_revalidated_and_normalised_on_assignment() -> None:
    medium = ContactMedium(type="phone", value="+4930123456")
    medium.value = "4940123456"
    assert medium.value == "+4940123456"
    with pytest.raises(ValidationFailed), validating():
        medium.value = "not a number"


# --------------------------------------------------------------------------- addresses


@pytest.mark.parametrize("role", list(AddressRole))
def test_every_address_role_is_accepted(role: AddressRole) -> None:
    customer = parse(Customer, customer_data(addresses=[address(role=role.value)]))
    assert customer.addresses[0].role is role


def test_unknown_address_role_is_refused_on_the_role_field() -> None:
    data = customer_data(addresses=[address(), address(role="office")])
    assert located(failures(Customer, data)) == ("addresses.1.role", "enum")


def test_addresses_by_role_returns_only_that_role() -> None:
    customer = parse(
        Customer,
        customer_data(
            addresses=[
                address(role="billing", city="Berlin"),
                address(role="residence", city="Hamburg"),
                address(role="billing", city="Köln"),
            ]
        ),
    )
    billing = customer.addresses_by_role(AddressRole.BILLING)
    assert [a.city for a in billing] == ["Berlin", "Köln"]
    assert customer.addresses_by_role(AddressRole.SHIPMENT) == []


@pytest.mark.parametrize(
    ("lines", "rule"), [([], "too_short"), (["1", "2", "3", "4", "5"], "too_long")]
)
def test_address_needs_one_to_four_lines(lines: list[str], rule: str) -> None:
    data = customer_data(addresses=[address(lines=lines)])
    assert located(failures(Customer, data)) == ("addresses.0.lines", rule)


def test_address_country_must_be_two_capitals() -> None:
    data = customer_data(addresses=[address(country="Germany")])
    assert located(failures(Customer, data)) == ("addresses.0.country", "value_error")


# --------------------------------------------------------------------------- validity


@pytest.mark.parametrize(
    ("list_name", "item"),
    [
        ("addresses", address()),
        ("identifications", {"type": "tin", "value": "T1"}),
        (
            "contact_persons",
            {"role": "billing_contact", "given_name": "Bo", "family_name": "Li"},
        ),
    ],
)
def test_valid_to_before_valid_from_is_refused_on_the_item(
    list_name: str, item: dict[str, Any]
) -> None:
    dated = {**item, "valid_from": "2026-02-01", "valid_to": "2026-01-31"}
    violation = only(failures(Customer, customer_data(**{list_name: [dated]})))
    assert (violation.field, violation.rule) == (f"{list_name}.0", "value_error")
    assert violation.message == "valid_to is before valid_from"


@pytest.mark.parametrize(
    ("valid_from", "valid_to"),
    [(None, None), (date(2026, 1, 1), None), (None, date(2026, 1, 1)), (date(2026, 1, 1),) * 2],
)
def test_open_or_ordered_validity_is_accepted(
    valid_from: date | None, valid_to: date | None
) -> None:
    validity = Validity(valid_from=valid_from, valid_to=valid_to)
    assert (validity.valid_from, validity.valid_to) == (valid_from, valid_to)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 12, 31), False),
        (date(2026, 1, 1), True),
        (date(2026, 6, 30), True),
        (date(2026, 6, 30) + timedelta(days=1), False),
    ],
)
def test_valid_on_includes_both_ends(day: date, expected: bool) -> None:
    validity = Validity(valid_from=date(2026, 1, 1), valid_to=date(2026, 6, 30))
    assert validity.valid_on(day) is expected


# --------------------------------------------------------------------------- account


def test_account_that_is_its_own_parent_is_refused() -> None:
    violation = only(failures(Account, account_data(id="acc-1", parent_id="acc-1")))
    assert (violation.field, violation.rule) == ("(entity)", "value_error")
    assert "own parent" in violation.message


def test_account_with_another_parent_is_accepted() -> None:
    account = parse(Account, account_data(id="acc-2", parent_id="acc-1"))
    assert account.parent_id == "acc-1"
    assert account.scope() == Scope(customer_id="cust-1", account_id="acc-2")


def test_account_made_its_own_parent_by_assignment_is_refused() -> None:
    account = parse(Account, account_data())
    with pytest.raises(ValidationFailed, match="own parent"), validating():
        account.parent_id = account.id


def test_refused_assignment_leaves_the_entity_as_it_was() -> None:
    account = parse(Account, account_data())
    with pytest.raises(pydantic.ValidationError):
        account.parent_id = account.id
    assert account.parent_id is None


def test_account_credit_limit_currency_must_be_iso_4217() -> None:
    data = account_data(credit_limit={"amount": "100", "currency": "euro"})
    assert located(failures(Account, data)) == ("credit_limit.currency", "value_error")


# --------------------------------------------------------------------------- contract

ALLOWED = {
    (ContractStatus.ON_HOLD, ContractStatus.ACTIVE),
    (ContractStatus.ON_HOLD, ContractStatus.DEACTIVATED),
    (ContractStatus.ACTIVE, ContractStatus.SUSPENDED),
    (ContractStatus.ACTIVE, ContractStatus.DEACTIVATED),
    (ContractStatus.SUSPENDED, ContractStatus.ACTIVE),
    (ContractStatus.SUSPENDED, ContractStatus.DEACTIVATED),
}
ALL_PAIRS = [(a, b) for a in ContractStatus for b in ContractStatus]


def test_new_contract_is_on_hold_with_empty_history() -> None:
    contract = parse(Contract, contract_data())
    assert contract.status is ContractStatus.ON_HOLD
    assert contract.status_history == []


def test_contract_follows_on_hold_active_suspended_active_and_records_each_step() -> None:
    contract = parse(Contract, contract_data())
    steps = [ContractStatus.ACTIVE, ContractStatus.SUSPENDED, ContractStatus.ACTIVE]
    for n, status in enumerate(steps):
        contract.change_status(status, T0 + timedelta(days=n), reason=f"step {n}")
    assert contract.status is ContractStatus.ACTIVE
    assert [(c.status, c.at, c.reason) for c in contract.status_history] == [
        (ContractStatus.ACTIVE, T0, "step 0"),
        (ContractStatus.SUSPENDED, T0 + timedelta(days=1), "step 1"),
        (ContractStatus.ACTIVE, T0 + timedelta(days=2), "step 2"),
    ]


@pytest.mark.parametrize(
    "start", [ContractStatus.ON_HOLD, ContractStatus.ACTIVE, ContractStatus.SUSPENDED]
)
def test_any_live_contract_can_be_deactivated(start: ContractStatus) -> None:
    contract = contract_in(start)
    contract.change_status(ContractStatus.DEACTIVATED, T0)
    assert contract.status is ContractStatus.DEACTIVATED
    assert contract.status_history[-1].status is ContractStatus.DEACTIVATED


@pytest.mark.parametrize("target", list(ContractStatus))
def test_deactivated_contract_is_final(target: ContractStatus) -> None:
    contract = contract_in(ContractStatus.DEACTIVATED)
    with pytest.raises(Conflict):
        contract.change_status(target, T0)
    assert contract.status is ContractStatus.DEACTIVATED


@pytest.mark.parametrize(
    ("start", "target"),
    [pair for pair in ALL_PAIRS if pair not in ALLOWED],
    ids=lambda s: s.value,
)
def test_refused_transition_raises_conflict_and_changes_nothing(
    start: ContractStatus, target: ContractStatus
) -> None:
    contract = contract_in(start)
    with pytest.raises(Conflict, match=f"from {start.value} to {target.value}") as info:
        contract.change_status(target, T0)
    assert info.value.code == "conflict"
    assert contract.status is start
    assert contract.status_history == []


@pytest.mark.parametrize(("start", "target"), sorted(ALLOWED), ids=lambda s: s.value)
def test_allowed_transition_appends_one_dated_entry(
    start: ContractStatus, target: ContractStatus
) -> None:
    contract = contract_in(start)
    contract.change_status(target, T0, reason="because")
    assert contract.status is target
    assert len(contract.status_history) == 1
    entry = contract.status_history[0]
    assert (entry.status, entry.at, entry.reason) == (target, T0, "because")


def test_status_change_without_time_zone_is_refused_and_changes_nothing() -> None:
    contract = parse(Contract, contract_data())
    with pytest.raises(ValidationFailed) as info, validating():
        contract.change_status(ContractStatus.ACTIVE, datetime(2026, 1, 1, 9, 0))
    assert located(info.value.violations) == ("at", "timezone_aware")
    assert contract.status is ContractStatus.ON_HOLD
    assert contract.status_history == []


def test_contract_scope_names_customer_account_and_itself() -> None:
    contract = parse(Contract, contract_data(id="con-9"))
    assert contract.scope() == Scope("cust-1", "acc-1", "con-9", None)


# --------------------------------------------------------------------------- subscriber


def test_subscriber_msisdn_is_normalised_with_leading_plus() -> None:
    subscriber = parse(Subscriber, subscriber_data(msisdn="4917012345678"))
    assert subscriber.msisdn == "+4917012345678"


def test_subscriber_with_valid_imsi_and_iccid_is_accepted() -> None:
    subscriber = parse(Subscriber, subscriber_data(imsi="262011234567890", iccid=VALID_ICCID))
    assert (subscriber.imsi, subscriber.iccid) == ("262011234567890", VALID_ICCID)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("msisdn", "01701234567", "E.164"),
        ("msisdn", "+49 170 1234567", "E.164"),
        ("imsi", "26201", "IMSI"),
        ("imsi", "26201123456789X", "IMSI"),
        ("iccid", "1234567890123456789", "ICCID"),
        ("iccid", VALID_ICCID[:-1] + str((int(VALID_ICCID[-1]) + 1) % 10), "Luhn"),
    ],
)
def test_subscriber_with_invalid_identifier_is_refused_on_that_field(
    field: str, value: str, words: str
) -> None:
    violation = only(failures(Subscriber, subscriber_data(**{field: value})))
    assert (violation.field, violation.rule) == (field, "value_error")
    assert words in violation.message


def test_subscriber_listing_group_must_be_a_code() -> None:
    data = subscriber_data(listing_groups=["VIP", "night shift"])
    assert located(failures(Subscriber, data)) == ("listing_groups.1", "string_pattern_mismatch")


def test_subscriber_scope_names_all_four_levels() -> None:
    subscriber = parse(Subscriber, subscriber_data(id="sub-1"))
    assert subscriber.scope() == Scope("cust-1", "acc-1", "con-1", "sub-1")


# --------------------------------------------------------------------------- service


def test_service_with_distinct_limit_names_is_accepted() -> None:
    limits = [
        {"name": "data_cap", "value": "10", "unit": "GB"},
        {"name": "roaming_cap", "value": "1", "unit": "GB"},
    ]
    service = parse(ServiceAssignment, service_data(limits=limits))
    assert [limit.name for limit in service.limits] == ["data_cap", "roaming_cap"]


def test_service_with_repeated_limit_name_is_refused() -> None:
    limits = [
        {"name": "data_cap", "value": "10", "unit": "GB"},
        {"name": "data_cap", "value": "20", "unit": "GB"},
    ]
    violation = only(failures(ServiceAssignment, service_data(limits=limits)))
    assert (violation.field, violation.rule) == ("(entity)", "value_error")
    assert violation.message == "a limit name is repeated"


def test_service_limit_value_cannot_be_negative() -> None:
    limits = [{"name": "data_cap", "value": "-1", "unit": "GB"}]
    assert located(failures(ServiceAssignment, service_data(limits=limits))) == (
        "limits.0.value",
        "greater_than_equal",
    )


def test_service_validity_out_of_order_is_refused_on_the_entity() -> None:
    data = service_data(valid_from="2026-02-01", valid_to="2026-01-01")
    violation = only(failures(ServiceAssignment, data))
    assert (violation.field, violation.message) == ("(entity)", "valid_to is before valid_from")


# --------------------------------------------------------------------------- discount


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"level": "contract"}, "a contract-level assignment needs contract_id"),
        ({"level": "subscriber"}, "a subscriber-level assignment needs subscriber_id"),
        ({"level": "subscriber", "contract_id": "con-1"}, "needs subscriber_id"),
        ({"value": "100.01"}, "a percentage discount cannot exceed 100"),
        ({"value_type": "amount", "value": "5"}, "an amount discount needs a currency"),
    ],
)
def test_inconsistent_discount_is_refused(over: dict[str, Any], message: str) -> None:
    violation = only(failures(DiscountAssignment, discount_data(**over)))
    assert (violation.field, violation.rule) == ("(entity)", "value_error")
    assert message in violation.message


@pytest.mark.parametrize(
    "over",
    [
        {"level": "contract", "contract_id": "con-1"},
        {"level": "subscriber", "contract_id": "con-1", "subscriber_id": "sub-1"},
        {"value": "100"},
        {"value": "0"},
        {"value_type": "amount", "value": "250", "currency": "EUR"},
    ],
)
def test_consistent_discount_is_accepted(over: dict[str, Any]) -> None:
    discount = parse(DiscountAssignment, discount_data(**over))
    assert discount.value == Decimal(over.get("value", "10"))


def test_discount_currency_must_be_iso_4217() -> None:
    data = discount_data(value_type="amount", currency="eur")
    assert located(failures(DiscountAssignment, data)) == ("currency", "value_error")


def test_discount_value_cannot_be_negative() -> None:
    assert located(failures(DiscountAssignment, discount_data(value="-5"))) == (
        "value",
        "greater_than_equal",
    )


# --------------------------------------------------------------------------- free units


@pytest.mark.parametrize(
    ("granted", "used", "remaining"),
    [("100", "30", Decimal(70)), ("100", "0", Decimal(100)), ("1.5", "0.25", Decimal("1.25"))],
)
def test_bucket_remaining_defaults_to_granted_minus_used(
    granted: str, used: str, remaining: Decimal
) -> None:
    bucket = parse(FreeUnitBucket, bucket_data(granted=granted, used=used))
    assert bucket.remaining == remaining


def test_bucket_remaining_defaults_to_granted_when_used_is_absent() -> None:
    assert parse(FreeUnitBucket, bucket_data(granted="40")).remaining == Decimal(40)


def test_bucket_remaining_never_defaults_below_zero() -> None:
    bucket = parse(FreeUnitBucket, bucket_data(granted="10", used="25"))
    assert bucket.remaining == Decimal(0)


@pytest.mark.parametrize("remaining", ["5", "0"])
def test_bucket_remaining_given_explicitly_is_kept(remaining: str) -> None:
    bucket = parse(FreeUnitBucket, bucket_data(granted="100", used="30", remaining=remaining))
    assert bucket.remaining == Decimal(remaining)


def test_bucket_remaining_given_as_none_is_defaulted() -> None:
    bucket = parse(FreeUnitBucket, bucket_data(granted="100", used="30", remaining=None))
    assert bucket.remaining == Decimal(70)


def test_bucket_period_end_before_start_is_refused() -> None:
    data = bucket_data(period_start="2026-02-01", period_end="2026-01-31")
    violation = only(failures(FreeUnitBucket, data))
    assert (violation.field, violation.message) == ("(entity)", "period_end is before period_start")


def test_bucket_period_of_one_day_is_accepted() -> None:
    bucket = parse(FreeUnitBucket, bucket_data(period_start="2026-01-01", period_end="2026-01-01"))
    assert bucket.period_start == bucket.period_end


@pytest.mark.parametrize(
    ("over", "field"),
    [({"granted": "lots"}, "granted"), ({"granted": None}, "granted"), ({"used": None}, "used")],
)
def test_bucket_with_non_numeric_units_names_the_field(over: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(FreeUnitBucket, bucket_data(**over))
    assert field in {v.field for v in caught.value.violations}


# --------------------------------------------------------------------------- listing suppression


@pytest.mark.parametrize(
    ("scope_type", "target"),
    [("subscriber", "subscriber_id"), ("account", "account_id"), ("group", "group_name")],
)
def test_suppression_without_its_target_is_refused(scope_type: str, target: str) -> None:
    data = {"scope_type": scope_type, "reason": "court order"}
    violation = only(failures(ListingSuppression, data))
    assert violation.field == "(entity)"
    assert violation.message == f"a suppression of scope {scope_type} needs {target}"


@pytest.mark.parametrize(
    ("scope_type", "target", "value"),
    [
        ("subscriber", "subscriber_id", "sub-1"),
        ("account", "account_id", "acc-1"),
        ("group", "group_name", "VIP"),
    ],
)
def test_suppression_with_its_target_is_accepted(scope_type: str, target: str, value: str) -> None:
    suppression = parse(
        ListingSuppression, {"scope_type": scope_type, "reason": "court order", target: value}
    )
    assert getattr(suppression, target) == value


def test_suppression_target_of_another_scope_does_not_count() -> None:
    data = {"scope_type": "subscriber", "reason": "r", "account_id": "acc-1"}
    assert "needs subscriber_id" in only(failures(ListingSuppression, data)).message


# --------------------------------------------------------------------------- parse and prefixes


def test_parse_prefixes_field_paths() -> None:
    data = customer_data(party={"kind": "individual", "given_name": "Ana"})
    with pytest.raises(ValidationFailed) as info:
        parse(Customer, data, prefix="customer.")
    assert only(info.value.violations).field == "customer.party.family_name"


def test_parse_names_entity_level_errors_after_the_prefix() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse(Account, account_data(id="a", parent_id="a"), prefix="account.")
    assert only(info.value.violations).field == "account"


def test_parse_reports_every_violation_at_once() -> None:
    data = {"customer_number": "C 1", "party": person(given_name=""), "status": "gone"}
    fields = {v.field for v in failures(Customer, data)}
    assert fields == {"customer_number", "party.given_name", "status"}


def test_parse_accepts_any_mapping() -> None:
    customer = parse(Customer, MappingProxyType(customer_data()))
    assert customer.customer_number == "C000001"


def test_validation_failed_message_lists_field_message_and_rule() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse(Customer, customer_data(customer_number=""))
    assert str(info.value).startswith("customer_number: ")
    assert str(info.value).endswith("[string_too_short]")
    assert info.value.code == "validation_failed"


# --------------------------------------------------------------------------- snapshots


def _customer() -> Entity:
    return parse(
        Customer,
        customer_data(
            party=person(birth_date="1980-05-17", nationality="DE"),
            identifications=[{"type": "tin", "value": "DE123", "valid_from": "2020-01-01"}],
            contact_media=[{"type": "email", "value": "ana@example.com", "preferred": True}],
            addresses=[address()],
            contact_persons=[
                {
                    "role": "billing_contact",
                    "given_name": "Bo",
                    "family_name": "Li",
                    "contact_media": [{"type": "phone", "value": "+4930123456"}],
                }
            ],
        ),
    )


def _organization() -> Entity:
    return parse(Customer, customer_data(party={"kind": "organization", "name": "ACME"}))


def _account() -> Entity:
    return parse(
        Account,
        account_data(parent_id="acc-0", credit_limit={"amount": "1500.50", "currency": "EUR"}),
    )


def _contract() -> Entity:
    contract = parse(Contract, contract_data())
    contract.change_status(ContractStatus.ACTIVE, T0, reason="signed")
    contract.change_status(ContractStatus.SUSPENDED, T0 + timedelta(hours=3))
    return contract


def _subscriber() -> Entity:
    return parse(
        Subscriber,
        subscriber_data(imsi="262011234567890", iccid=VALID_ICCID, listing_groups=["VIP"]),
    )


def _service() -> Entity:
    return parse(
        ServiceAssignment,
        service_data(
            valid_from="2026-01-01",
            parameters={"apn": "internet"},
            limits=[{"name": "data_cap", "value": "10.5", "unit": "GB"}],
        ),
    )


def _discount() -> Entity:
    return parse(
        DiscountAssignment, discount_data(value_type="amount", value="4.99", currency="EUR")
    )


def _balance() -> Entity:
    return Balance(
        customer_id="c", account_id="a", currency="EUR", current=Decimal("-12.30"), as_of=T0
    )


def _bucket() -> Entity:
    return parse(FreeUnitBucket, bucket_data(used="12"))


def _usage() -> Entity:
    return UsageRecord(
        customer_id="c",
        account_id="a",
        contract_id="k",
        subscriber_id="s",
        start_time=T0,
        type="data",
        volume_bytes=1024,
        charge={"amount": "0.10", "currency": "EUR"},
        roaming_country="AT",
    )


def _suppression() -> Entity:
    return ListingSuppression(scope_type="group", group_name="VIP", reason="privacy")


def _definition() -> Entity:
    return AttributeDefinition(
        name="tier", label="Tier", type="enum", entity_kind="customer", enum_values=["a", "b"]
    )


def _value() -> Entity:
    return AttributeValue(name="tier", entity_kind="customer", entity_id="c", value="a")


SNAPSHOT_BUILDERS: list[Callable[[], Entity]] = [
    _customer,
    _organization,
    _account,
    _contract,
    _subscriber,
    _service,
    _discount,
    _balance,
    _bucket,
    _usage,
    _suppression,
    _definition,
    _value,
]


@pytest.mark.parametrize("build", SNAPSHOT_BUILDERS, ids=lambda b: b.__name__.strip("_"))
def test_snapshot_round_trips_through_model_validate(build: Callable[[], Entity]) -> None:
    entity = build()
    snapshot = entity.snapshot()
    again = type(entity).model_validate(snapshot)
    assert again.snapshot() == snapshot
    assert again == entity


@pytest.mark.parametrize("build", SNAPSHOT_BUILDERS, ids=lambda b: b.__name__.strip("_"))
def test_snapshot_is_plain_json(build: Callable[[], Entity]) -> None:
    snapshot = build().snapshot()
    assert json.loads(json.dumps(snapshot)) == snapshot


def test_snapshot_writes_decimals_dates_and_times_as_strings() -> None:
    snapshot = _contract().snapshot()
    assert snapshot["status_history"][0] == {
        "status": "active",
        "at": "2026-01-01T09:00:00Z",
        "reason": "signed",
    }
    assert _account().snapshot()["credit_limit"] == {"amount": "1500.50", "currency": "EUR"}
