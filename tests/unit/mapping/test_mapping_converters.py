"""The converter registry: each converter, its inverse, and names with arguments."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from adapter.mapping.converters import REGISTRY, STABLE_ID_NAMESPACE, inverse, parse_step


def convert(name: str, value: object) -> object:
    return parse_step(name)(value)


@pytest.mark.parametrize(
    ("name", "value", "result"),
    [
        ("decimal", "12.50", Decimal("12.50")),
        ("decimal", 3, Decimal(3)),
        ("integer", " 42 ", 42),
        ("text", True, "true"),
        ("text", Decimal("1.50"), "1.50"),
        ("date", "2025-01-31", date(2025, 1, 31)),
        ("date", datetime(2025, 1, 31, 23, 0, tzinfo=UTC), date(2025, 1, 31)),
        ("datetime_utc", "2025-01-31T10:00:00Z", datetime(2025, 1, 31, 10, tzinfo=UTC)),
        ("datetime_utc", "2025-01-31T10:00:00", datetime(2025, 1, 31, 10, tzinfo=UTC)),
        (
            "datetime_utc",
            datetime(2025, 1, 31, 12, tzinfo=timezone(timedelta(hours=2))),
            datetime(2025, 1, 31, 10, tzinfo=UTC),
        ),
        ("msisdn_e164_to_bscs", "+4915112345678", "4915112345678"),
        ("msisdn_bscs_to_e164", "4915112345678", "+4915112345678"),
        ("msisdn_bscs_to_e164", "004915112345678", "+4915112345678"),
        ("upper", "data_cap", "DATA_CAP"),
        ("lower", "DATA_CAP", "data_cap"),
        ("strip", "  x ", "x"),
        (
            "money",
            {"amount": "9.99", "currency": "EUR"},
            {"amount": Decimal("9.99"), "currency": "EUR"},
        ),
        ("boolean", "1", True),
        ("boolean", "false", False),
        ("bool_flag", "X", True),
        ("bool_flag", "-", False),
        ("flag", True, "X"),
        ("flag", False, "-"),
        ("to_code", "unpaid invoice (2nd)", "UNPAID_INVOICE_2ND"),
    ],
)
def test_converter(name: str, value: object, result: object) -> None:
    assert convert(name, value) == result


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("decimal", "lots"),
        ("decimal", "NaN"),
        ("decimal", True),
        ("integer", "4.2"),
        ("date", "31.01.2025"),
        ("datetime_utc", "yesterday"),
        ("msisdn_e164_to_bscs", "+49 151"),
        ("money", {"amount": 1}),
        ("boolean", "maybe"),
        ("bool_flag", "?"),
        ("to_code", "!!!"),
    ],
)
def test_converter_refuses_with_a_value_error(name: str, value: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each converter words its own message
        convert(name, value)


def test_stable_id_is_uuid5_of_kind_and_key() -> None:
    assert convert("stable_id(account)", "C1.1") == str(
        uuid.uuid5(STABLE_ID_NAMESPACE, "account:C1.1")
    )
    assert convert("stable_id(contract)", "C1.1") != convert("stable_id(account)", "C1.1")
    assert convert("stable_id(usage)", 123) == convert("stable_id(usage)", "123")


@pytest.mark.parametrize("name", sorted(n for n, c in REGISTRY.items() if c.inverse))
def test_inverse_undoes_the_converter(name: str) -> None:
    samples = {
        "decimal": "1.5",
        "integer": "7",
        "text": "x",
        "date": "2025-01-31",
        "datetime_utc": "2025-01-31T10:00:00Z",
        "msisdn_e164_to_bscs": "+4915112345678",
        "msisdn_bscs_to_e164": "4915112345678",
        "upper": "abc",
        "lower": "ABC",
        "strip": "x",
        "money": {"amount": "1", "currency": "EUR"},
        "boolean": "true",
        "bool_flag": "X",
        "flag": True,
    }
    step = parse_step(name)
    once = step(samples[name])
    assert step(inverse(step)(once)) == once


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("eval", "unknown converter 'eval'"),
        ("upper(x)", "takes no argument"),
        ("stable_id", "needs an argument"),
        ("stable_id(invoice)", "'invoice' is not an argument"),
        ("upper()", "is not a converter name"),
    ],
)
def test_bad_converter_names_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_step(text)


def test_a_converter_without_inverse_cannot_be_inverted() -> None:
    with pytest.raises(ValueError, match="has no inverse"):
        inverse(parse_step("to_code"))
