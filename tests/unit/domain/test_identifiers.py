"""Validation and normalisation of telco and party identifiers (adapter.domain.identifiers)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapter.domain import identifiers
from adapter.domain.identifiers import luhn_check_digit, luhn_valid

E164_DIGITS = st.from_regex(r"[1-9][0-9]{7,14}", fullmatch=True)
ICCID_BODY = st.from_regex(r"[0-9]{15,19}", fullmatch=True)  # between '89' and the check digit


def make_iccid(body: str) -> str:
    partial = f"89{body}"
    return partial + luhn_check_digit(partial)


# --------------------------------------------------------------------------- MSISDN


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("4917012345678", "+4917012345678"),
        ("+4917012345678", "+4917012345678"),
        ("12345678", "+12345678"),  # 8 digits, the shortest
        ("123456789012345", "+123456789012345"),  # 15 digits, the longest
        ("+123456789012345", "+123456789012345"),
    ],
)
def test_msisdn_accepts_e164_and_normalises_to_leading_plus(raw: str, expected: str) -> None:
    assert identifiers.msisdn(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "+",
        "1234567",  # 7 digits
        "+1234567",
        "1234567890123456",  # 16 digits
        "04917012345678",  # leading 0
        "+04917012345678",
        "++4917012345678",
        "+49 170 12345678",
        "+49-170-12345678",
        "4917012345678a",
        "4917012345678+",
    ],
)
def test_msisdn_refuses_what_is_not_e164(raw: str) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        identifiers.msisdn(raw)


@given(E164_DIGITS)
def test_msisdn_round_trips_any_valid_digit_string(digits: str) -> None:
    """With or without '+', any 8-15 digit string not starting with 0 becomes '+digits'."""
    assert identifiers.msisdn(digits) == f"+{digits}"
    assert identifiers.msisdn(f"+{digits}") == f"+{digits}"


@given(E164_DIGITS)
def test_msisdn_normalisation_is_idempotent(digits: str) -> None:
    once = identifiers.msisdn(digits)
    assert identifiers.msisdn(once) == once


@given(st.from_regex(r"\+?0[0-9]{7,14}", fullmatch=True))
def test_msisdn_refuses_any_number_starting_with_zero(raw: str) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        identifiers.msisdn(raw)


@pytest.mark.parametrize(
    "check",
    [
        lambda: identifiers.msisdn("491701234567\u0666"),
        lambda: identifiers.imsi("26201123456789\u0666"),
        lambda: identifiers.iccid("894900000000000000\u0661"),
    ],
)
def test_non_ascii_digits_are_refused(check: Any) -> None:
    """``\\d`` would match an Arabic-Indic digit; identifiers take ASCII digits only."""
    with pytest.raises(ValueError, match="not"):
        check()


# --------------------------------------------------------------------------- IMSI


@pytest.mark.parametrize("raw", ["26201123456789", "262011234567890", "001010123456789"])
def test_imsi_accepts_14_or_15_digits_unchanged(raw: str) -> None:
    assert identifiers.imsi(raw) == raw


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "2620112345678",
        "2620112345678901",
        "+262011234567890",
        "26201 1234567890",
        "2620A1234567890",
    ],
)
def test_imsi_refuses_wrong_length_or_non_digits(raw: str) -> None:
    with pytest.raises(ValueError, match="IMSI"):
        identifiers.imsi(raw)


@given(st.from_regex(r"[0-9]{14,15}", fullmatch=True))
def test_imsi_accepts_any_14_or_15_digit_string(raw: str) -> None:
    assert identifiers.imsi(raw) == raw


# --------------------------------------------------------------------------- Luhn, ICCID


@pytest.mark.parametrize(
    ("digits", "valid"),
    [("79927398713", True), ("79927398710", False), ("0", True), ("18", True), ("19", False)],
)
def test_luhn_valid_matches_known_vectors(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


def test_luhn_check_digit_matches_known_vector() -> None:
    assert luhn_check_digit("7992739871") == "3"


@given(st.from_regex(r"[0-9]{1,25}", fullmatch=True))
def test_luhn_check_digit_is_the_only_digit_that_completes_the_sum(partial: str) -> None:
    check = luhn_check_digit(partial)
    assert [d for d in "0123456789" if luhn_valid(partial + d)] == [check]


@given(ICCID_BODY)
def test_iccid_accepts_any_luhn_completed_89_number(body: str) -> None:
    value = make_iccid(body)
    assert identifiers.iccid(value) == value


@given(ICCID_BODY, st.integers(min_value=1, max_value=9))
def test_iccid_refuses_a_wrong_check_digit(body: str, shift: int) -> None:
    valid = make_iccid(body)
    wrong = valid[:-1] + str((int(valid[-1]) + shift) % 10)
    with pytest.raises(ValueError, match="Luhn"):
        identifiers.iccid(wrong)


@pytest.mark.parametrize(
    "partial",
    [
        "88" + "1" * 16,  # wrong prefix
        "98" + "1" * 16,
        "89" + "1" * 14,  # 17 digits in all once completed
        "89" + "1" * 21,  # 24 digits in all once completed
    ],
)
def test_iccid_refuses_wrong_prefix_or_length_even_with_a_valid_check_digit(partial: str) -> None:
    value = partial + luhn_check_digit(partial)
    assert luhn_valid(value)
    with pytest.raises(ValueError, match="18 to 22 digits starting with 89"):
        identifiers.iccid(value)


@pytest.mark.parametrize("length", [18, 22])
def test_iccid_accepts_the_shortest_and_longest_lengths(length: int) -> None:
    value = make_iccid("4" * (length - 3))
    assert len(value) == length
    assert identifiers.iccid(value) == value


def test_iccid_refuses_separators() -> None:
    value = make_iccid("4901234567890123")
    with pytest.raises(ValueError, match="ICCID"):
        identifiers.iccid(f"{value[:4]} {value[4:]}")


# --------------------------------------------------------------------------- e-mail


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ana@example.com", "ana@example.com"),
        ("ana@EXAMPLE.COM", "ana@example.com"),
        ("Ana.Muller@Example.Com", "Ana.Muller@example.com"),  # local part keeps its case
        ("first+tag@sub.example.org", "first+tag@sub.example.org"),
    ],
)
def test_email_accepts_valid_syntax_and_lower_cases_the_domain(raw: str, expected: str) -> None:
    assert identifiers.email(raw) == expected


def test_email_checks_syntax_only_without_looking_up_the_domain() -> None:
    """A syntactically valid address on a domain that does not exist is accepted."""
    raw = "someone@no-such-domain-for-crm-adapter-tests.com"
    assert identifiers.email(raw) == raw


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "no-at-sign",
        "ana@",
        "@example.com",
        "ana@@example.com",
        "ana maria@example.com",
        "ana@exa mple.com",
        "Ana <ana@example.com>",
        "ana@example",
    ],
)
def test_email_refuses_invalid_syntax(raw: str) -> None:
    with pytest.raises(ValueError, match="is not an e-mail address"):
        identifiers.email(raw)


# --------------------------------------------------------------------------- codes


@pytest.mark.parametrize("raw", ["EUR", "USD", "CHF"])
def test_currency_accepts_three_capitals(raw: str) -> None:
    assert identifiers.currency(raw) == raw


@pytest.mark.parametrize("raw", ["", "eur", "Eur", "EU", "EURO", "E1R", " EUR"])
def test_currency_refuses_anything_but_three_capitals(raw: str) -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        identifiers.currency(raw)


@pytest.mark.parametrize("raw", ["DE", "AT", "GB"])
def test_country_accepts_two_capitals(raw: str) -> None:
    assert identifiers.country(raw) == raw


@pytest.mark.parametrize("raw", ["", "de", "De", "D", "DEU", "D1", " DE"])
def test_country_refuses_anything_but_two_capitals(raw: str) -> None:
    with pytest.raises(ValueError, match="ISO 3166-1"):
        identifiers.country(raw)


# --------------------------------------------------------------------------- search keys


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Müller", "muller"),
        ("MÜLLER", "muller"),
        ("José", "jose"),
        ("Ångström", "angstrom"),
        ("Straße", "strasse"),
        ("  Ana   María \t López ", "ana maria lopez"),
        ("", ""),
    ],
)
def test_search_text_folds_case_accents_and_whitespace(raw: str, expected: str) -> None:
    assert identifiers.search_text(raw) == expected


@pytest.mark.parametrize(
    ("a", "b"), [("Müller", "muller"), ("ÉLODIE", "elodie"), ("Çelik", "celik"), ("SS", "ß")]
)
def test_search_text_makes_variants_equal(a: str, b: str) -> None:
    assert identifiers.search_text(a) == identifiers.search_text(b)


def test_search_text_keeps_different_names_different() -> None:
    assert identifiers.search_text("Müller") != identifiers.search_text("Miller")


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüéèêáàçñ "))
def test_search_text_ignores_case(text: str) -> None:
    assert identifiers.search_text(text.upper()) == identifiers.search_text(text)


@given(st.text())
def test_search_text_is_idempotent(text: str) -> None:
    once = identifiers.search_text(text)
    assert identifiers.search_text(once) == once


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("DE123456789", "DE123456789"),
        ("de 123.456/789-0", "DE1234567890"),
        ("ab\t12\n34", "AB1234"),
        ("X_Y", "X_Y"),  # only whitespace, '.', '/' and '-' are separators
    ],
)
def test_identifier_key_upper_cases_and_drops_separators(raw: str, expected: str) -> None:
    assert identifiers.identifier_key(raw) == expected


def test_identifier_key_makes_differently_written_numbers_equal() -> None:
    assert identifiers.identifier_key("ab-12.34") == identifiers.identifier_key("AB 12/34")


@pytest.mark.parametrize("serial", [0, 1, 42, 10**13])
def test_complete_iccid_makes_valid_iccids(serial: int) -> None:
    made = identifiers.complete_iccid("49", serial)
    assert len(made) == 19 and identifiers.iccid(made) == made


@pytest.mark.parametrize(
    ("raw", "key"),
    [("Łowicz", "lowicz"), ("Søren", "soren"), ("Đorđe", "dorde"), ("Ærøskøbing", "aeroskobing")],
)
def test_search_text_folds_letters_without_separable_accents(raw: str, key: str) -> None:
    assert identifiers.search_text(raw) == key
