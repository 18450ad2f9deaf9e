"""Custom attribute definitions: coherence rules and coerce() for every type."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapter.domain.attributes import AttributeDefinition, AttributeType, AttributeValue
from adapter.domain.errors import ValidationFailed, Violation
from adapter.domain.model import Scope
from adapter.domain.validation import parse


def definition(type_: str, **over: Any) -> AttributeDefinition:
    data: dict[str, Any] = {
        "name": "field",
        "label": "Field",
        "type": type_,
        "entity_kind": "customer",
        **over,
    }
    if type_ == "enum" and "enum_values" not in over:
        data["enum_values"] = ["gold", "silver"]
    return parse(AttributeDefinition, data)


def refusal(defn: AttributeDefinition, raw: Any) -> Violation:
    """The one violation coerce() raises for ``raw``."""
    with pytest.raises(ValidationFailed) as info:
        defn.coerce(raw)
    assert len(info.value.violations) == 1
    return info.value.violations[0]


def definition_refusal(**data: Any) -> Violation:
    base = {"name": "field", "label": "Field", "entity_kind": "customer"}
    with pytest.raises(ValidationFailed) as info:
        parse(AttributeDefinition, {**base, **data})
    assert len(info.value.violations) == 1
    return info.value.violations[0]


# --------------------------------------------------------------------------- coherence


def test_enum_definition_without_values_is_refused() -> None:
    violation = definition_refusal(type="enum")
    assert (violation.field, violation.message) == (
        "(entity)",
        "an enum attribute needs enum_values",
    )


def test_enum_definition_with_repeated_value_is_refused() -> None:
    violation = definition_refusal(type="enum", enum_values=["gold", "silver", "gold"])
    assert violation.message == "enum_values has a repeated value"


@pytest.mark.parametrize("type_", ["string", "integer", "decimal", "date", "boolean"])
def test_enum_values_on_a_non_enum_definition_are_refused(type_: str) -> None:
    violation = definition_refusal(type=type_, enum_values=["a"])
    assert violation.message == "enum_values is only for enum attributes"


@pytest.mark.parametrize("type_", ["integer", "decimal", "date", "boolean", "enum"])
def test_pattern_on_a_non_string_definition_is_refused(type_: str) -> None:
    extra = {"enum_values": ["a"]} if type_ == "enum" else {}
    violation = definition_refusal(type=type_, pattern=r"\d+", **extra)
    assert violation.message == "pattern is only for string attributes"


@pytest.mark.parametrize("pattern", ["[a-", "(unclosed", "*x", "a{2,1}"])
def test_pattern_that_does_not_compile_is_refused(pattern: str) -> None:
    violation = definition_refusal(type="string", pattern=pattern)
    assert (violation.field, violation.rule) == ("(entity)", "value_error")
    assert violation.message.startswith("pattern is not a regular expression")


def test_string_definition_with_a_valid_pattern_is_accepted() -> None:
    assert definition("string", pattern=r"[A-Z]{2}\d+").pattern == r"[A-Z]{2}\d+"


@pytest.mark.parametrize("name", ["", "Tier", "1tier", "tier-level", "tier level", "t" * 65])
def test_definition_name_must_be_a_lower_case_identifier(name: str) -> None:
    assert definition_refusal(type="string", name=name).field == "name"


def test_definition_status_is_active_or_retired() -> None:
    assert definition("string").active is True
    assert definition("string", status="retired").active is False
    assert definition_refusal(type="string", status="deleted").field == "status"


# --------------------------------------------------------------------------- string


def test_string_returns_the_text_unchanged() -> None:
    assert definition("string").coerce("  Mixed Case  ") == "  Mixed Case  "


@pytest.mark.parametrize("raw", [5, 1.5, True, ["a"], {"a": 1}])
def test_string_refuses_non_text(raw: Any) -> None:
    violation = refusal(definition("string"), raw)
    assert (violation.field, violation.rule) == ("attributes.field", "type:string")


def test_string_accepts_2000_characters_and_refuses_2001() -> None:
    defn = definition("string")
    assert defn.coerce("x" * 2000) == "x" * 2000
    assert refusal(defn, "x" * 2001).rule == "type:string"


@pytest.mark.parametrize("raw", ["AB1", "XY12345"])
def test_pattern_accepts_a_full_match(raw: str) -> None:
    assert definition("string", pattern=r"[A-Z]{2}\d+").coerce(raw) == raw


@pytest.mark.parametrize("raw", ["AB", "AB12x", "xAB12", "ab12", "AB12\n"])
def test_pattern_refuses_anything_but_a_full_match(raw: str) -> None:
    violation = refusal(definition("string", pattern=r"[A-Z]{2}\d+"), raw)
    assert (violation.field, violation.rule) == ("attributes.field", "pattern")


# --------------------------------------------------------------------------- integer


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(42, 42), (-3, -3), (0, 0), ("42", 42), (" -7 ", -7), ("+5", 5), ("9" * 18, int("9" * 18))],
)
def test_integer_accepts_ints_and_integer_text(raw: Any, expected: int) -> None:
    value = definition("integer").coerce(raw)
    assert value == expected
    assert type(value) is int


@pytest.mark.parametrize(
    "raw", ["4.2", 4.2, 3.0, "1e3", "abc", "4 2", "9" * 19, True, False, Decimal(1), [1]]
)
def test_integer_refuses_fractions_text_bools_and_other_types(raw: Any) -> None:
    violation = refusal(definition("integer"), raw)
    assert (violation.field, violation.rule) == ("attributes.field", "type:integer")


def test_integer_bound_applies_to_text_and_ints_alike() -> None:
    """Beyond 18 digits no 64-bit column or client could hold the value."""
    defn = definition("integer")
    assert refusal(defn, "1" + "0" * 30).rule == "type:integer"
    assert refusal(defn, 10**30).rule == "type:integer"


@given(st.integers(min_value=-(10**18) + 1, max_value=10**18 - 1))
def test_integer_text_round_trips(number: int) -> None:
    assert definition("integer").coerce(str(number)) == number


# --------------------------------------------------------------------------- decimal


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1.50", "1.50"), (2, "2"), (" 3.25 ", "3.25"), ("-0.5", "-0.5"), (Decimal("7.10"), "7.10")],
)
def test_decimal_is_stored_as_text(raw: Any, expected: str) -> None:
    assert definition("decimal").coerce(raw) == expected


@pytest.mark.parametrize(
    "raw", ["NaN", "nan", "sNaN", "Infinity", "-inf", "abc", "1,5", True, False, [1]]
)
def test_decimal_refuses_non_finite_and_non_numbers(raw: Any) -> None:
    violation = refusal(definition("decimal"), raw)
    assert (violation.field, violation.rule) == ("attributes.field", "type:decimal")


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_any_finite_decimal_round_trips_as_text(number: Decimal) -> None:
    stored = definition("decimal").coerce(str(number))
    assert isinstance(stored, str)
    assert Decimal(stored) == number


# --------------------------------------------------------------------------- date


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-02-29", "2024-02-29"),
        (" 2026-01-05 ", "2026-01-05"),
        (date(2026, 3, 1), "2026-03-01"),
    ],
)
def test_date_accepts_iso_and_returns_iso(raw: Any, expected: str) -> None:
    assert definition("date").coerce(raw) == expected


@pytest.mark.parametrize("raw", ["2023-02-29", "05.01.2026", "01/05/2026", "tomorrow", 5, True])
def test_date_refuses_non_iso_and_impossible_dates(raw: Any) -> None:
    violation = refusal(definition("date"), raw)
    assert (violation.field, violation.rule) == ("attributes.field", "type:date")


@given(st.dates())
def test_any_date_round_trips_in_iso_form(day: date) -> None:
    assert definition("date").coerce(day.isoformat()) == day.isoformat()


# --------------------------------------------------------------------------- boolean


@pytest.mark.parametrize("raw", [True, "true", "TRUE", " True ", "yes", "Yes", "y", "1", 1])
def test_boolean_true_spellings(raw: Any) -> None:
    assert definition("boolean").coerce(raw) is True


@pytest.mark.parametrize("raw", [False, "false", "FALSE", "no", "NO", "n", "0", 0])
def test_boolean_false_spellings(raw: Any) -> None:
    assert definition("boolean").coerce(raw) is False


@pytest.mark.parametrize("raw", ["maybe", "on", "off", "2", 2, -1, "truee"])
def test_boolean_refuses_other_values(raw: Any) -> None:
    violation = refusal(definition("boolean"), raw)
    assert (violation.field, violation.rule) == ("attributes.field", "type:boolean")


# --------------------------------------------------------------------------- enum


@pytest.mark.parametrize("raw", ["gold", "silver"])
def test_enum_accepts_a_listed_value(raw: str) -> None:
    assert definition("enum").coerce(raw) == raw


@pytest.mark.parametrize("raw", ["bronze", "GOLD", " gold"])
def test_enum_refuses_an_unlisted_value_and_lists_the_allowed_ones(raw: str) -> None:
    violation = refusal(definition("enum"), raw)
    assert (violation.field, violation.rule) == ("attributes.field", "enum")
    assert violation.message.endswith("is not one of: gold, silver")


def test_enum_refuses_non_text() -> None:
    assert refusal(definition("enum"), 1).rule == "type:enum"


# --------------------------------------------------------------------------- required


@pytest.mark.parametrize("type_", list(AttributeType))
@pytest.mark.parametrize("raw", [None, ""])
def test_required_attribute_refuses_none_and_empty_text(type_: AttributeType, raw: Any) -> None:
    violation = refusal(definition(type_.value, name="tier", required=True), raw)
    assert (violation.field, violation.rule) == ("attributes.tier", "required")


@pytest.mark.parametrize("type_", list(AttributeType))
@pytest.mark.parametrize("raw", [None, ""])
def test_optional_attribute_returns_none_for_none_and_empty_text(
    type_: AttributeType, raw: Any
) -> None:
    assert definition(type_.value).coerce(raw) is None


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [("boolean", False, False), ("boolean", "no", False), ("integer", 0, 0), ("decimal", 0, "0")],
)
def test_required_attribute_takes_falsy_values_as_values(
    type_: str, raw: Any, expected: Any
) -> None:
    """False and zero are values, not missing."""
    value = definition(type_, required=True).coerce(raw)
    assert (value, type(value)) == (expected, type(expected))


def test_errors_name_the_attribute_in_the_field() -> None:
    violation = refusal(definition("integer", name="loyalty_points"), "many")
    assert violation.field == "attributes.loyalty_points"
    assert "'many' is not a valid integer" in violation.message


# --------------------------------------------------------------------------- values


def test_attribute_value_scope_is_the_scope_it_was_given() -> None:
    value = AttributeValue(
        name="tier",
        entity_kind="subscriber",
        entity_id="sub-1",
        value="gold",
        customer_id="c",
        account_id="a",
        contract_id="k",
        subscriber_id="sub-1",
    )
    assert value.scope() == Scope("c", "a", "k", "sub-1")
