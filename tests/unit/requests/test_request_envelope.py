"""The request envelope: one model per operation, its errors, and the schema derived from it."""

from __future__ import annotations

from typing import Any

import pytest

from adapter.domain.errors import ValidationFailed
from adapter.requests.commands import CreateCustomer, derived_id
from adapter.requests.envelope import OPERATIONS, envelope_schema, parse_envelope
from adapter.requests.handlers import HANDLERS


def envelope(operation: str, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "request_id": "req-1",
        "originating_user": "agent.mila",
        "channel": "shop",
        "operation": operation,
        "payload": payload,
        **extra,
    }


PERSON = {"kind": "individual", "given_name": "Ana", "family_name": "Müller"}


def refusal(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        parse_envelope(data)
    return [(v.field, v.rule) for v in caught.value.violations]


def test_every_operation_has_a_handler_and_every_handler_an_operation() -> None:
    assert list(HANDLERS) == list(OPERATIONS)


def test_the_schema_is_one_of_the_operations_discriminated_by_operation() -> None:
    schema = envelope_schema()
    assert schema["discriminator"]["propertyName"] == "operation"
    assert sorted(schema["discriminator"]["mapping"]) == sorted(OPERATIONS)
    assert len(schema["oneOf"]) == len(OPERATIONS)
    create = schema["$defs"]["CreateCustomerRequest"]
    assert create["properties"]["operation"]["const"] == "customer.create"
    assert set(create["required"]) >= {"request_id", "originating_user", "channel", "payload"}


def test_the_payload_is_validated_by_the_model_of_its_operation() -> None:
    parsed = parse_envelope(
        envelope("customer.create", {"customer_number": "C-1", "party": PERSON})
    )
    assert isinstance(parsed.payload, CreateCustomer)


def test_a_bad_payload_is_refused_naming_each_field_from_the_envelope_root() -> None:
    bad = {"customer_number": "C-1", "party": {"kind": "individual", "given_name": "Ana"}}
    assert refusal(envelope("customer.create", bad)) == [("payload.party.family_name", "missing")]


def test_an_unknown_field_in_a_payload_is_refused() -> None:
    bad = {"customer_number": "C-1", "party": PERSON, "shoe_size": 42}
    assert refusal(envelope("customer.create", bad)) == [("payload.shoe_size", "extra_forbidden")]


def test_an_unknown_operation_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValidationFailed, match=r"unknown operation 'contract\.frobnicate'") as e:
        parse_envelope(envelope("contract.frobnicate", {}))
    assert [(v.field, v.rule) for v in e.value.violations] == [("operation", "known")]
    assert "contract.change_status" in str(e.value)


def test_a_missing_operation_is_refused() -> None:
    data = envelope("customer.create", {})
    del data["operation"]
    assert refusal(data) == [("operation", "missing")]


def test_a_request_id_with_whitespace_is_refused() -> None:
    data = envelope("customer.create", {"customer_number": "C-1", "party": PERSON})
    data["request_id"] = "req 1"
    assert refusal(data) == [("request_id", "value_error")]


def test_an_envelope_that_is_not_an_object_is_refused() -> None:
    assert refusal([]) == [("(envelope)", "type")]


def test_expected_version_is_refused_on_an_operation_that_creates() -> None:
    data = envelope(
        "customer.create", {"customer_number": "C-1", "party": PERSON}, expected_version=2
    )
    assert refusal(data) == [("expected_version", "value_error")]


def test_expected_version_is_handed_to_the_command_not_read_from_the_payload() -> None:
    data = envelope(
        "customer.update",
        {"customer": "C-1", "patch": {"segment": "premium"}},
        expected_version=3,
    )
    assert parse_envelope(data).payload.expected_version == 3


def test_an_empty_merge_patch_is_refused() -> None:
    assert refusal(envelope("customer.update", {"customer": "C-1", "patch": {}})) == [
        ("payload.patch", "value_error")
    ]


def test_a_discount_names_the_target_of_its_level_and_no_other() -> None:
    payload = {"level": "account", "contract": "K-1", "code": "WELCOME", "value": "5"}
    assert refusal(envelope("discount.assign", payload)) == [("payload", "value_error")]


def test_a_move_must_say_where_to_even_to_the_root() -> None:
    assert refusal(envelope("account.move", {"account": "A-1"})) == [("payload.parent", "missing")]


def test_a_new_customer_without_id_gets_one_derived_from_its_request() -> None:
    """The same on every attempt of one request (so its queue is known at receipt), another
    for another request."""
    command = CreateCustomer.model_validate({"customer_number": "C-1", "party": PERSON})
    assert command.customer_id("req-1") == command.customer_id("req-1")
    assert command.customer_id("req-1") != command.customer_id("req-2")
    assert command.customer_id("req-1") == derived_id("req-1", "customer")
    given = CreateCustomer.model_validate(
        {"id": "cus-1", "customer_number": "C-1", "party": PERSON}
    )
    assert given.customer_id("req-1") == "cus-1"
