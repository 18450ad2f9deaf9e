"""Validation and normalisation of telco and party identifiers.

Each function returns the canonical form or raises ``ValueError`` with a sentence that
names the rule; pydantic turns that into a field-level error.
"""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

_E164 = re.compile(r"\+?[1-9][0-9]{7,14}")
_IMSI = re.compile(r"[0-9]{14,15}")
_ICCID = re.compile(r"89[0-9]{16,20}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_COUNTRY = re.compile(r"[A-Z]{2}")


def msisdn(value: str) -> str:
    """E.164: an optional '+', a non-zero country code digit, 8 to 15 digits in all.

    Returned with a leading '+', the one form the store and its indexes know."""
    if not _E164.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an E.164 MSISDN (8 to 15 digits, optional leading '+', "
            "no spaces, not starting with 0)"
        )
    return value if value.startswith("+") else f"+{value}"


def imsi(value: str) -> str:
    """ITU-T E.212: MCC (3) + MNC (2 or 3) + MSIN, 14 or 15 digits."""
    if not _IMSI.fullmatch(value):
        raise ValueError(f"{value!r} is not an IMSI (14 or 15 digits)")
    return value


def _luhn_sum(digits: str) -> int:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total


def luhn_valid(digits: str) -> bool:
    return _luhn_sum(digits) % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """The digit that makes ``partial + digit`` Luhn-valid (used to make valid ICCIDs): the
    check digit itself is not doubled, so it is what the sum of ``partial + "0"`` lacks to a
    multiple of ten (one pass instead of trying ten digits)."""
    return str(-_luhn_sum(partial + "0") % 10)


def complete_iccid(issuer: str, serial: int) -> str:
    """An ICCID for a SIM: '89', the issuer digits, the serial padded to 18 digits in all, and
    the Luhn check digit (for demo and test data, and for billing simulators)."""
    partial = f"89{issuer}{serial:0{16 - len(issuer)}d}"
    return partial + luhn_check_digit(partial)


def iccid(value: str) -> str:
    """ITU-T E.118: '89' + 16 to 20 digits, the last a Luhn check digit."""
    if not _ICCID.fullmatch(value):
        raise ValueError(f"{value!r} is not an ICCID (18 to 22 digits starting with 89)")
    if not luhn_valid(value):
        raise ValueError(f"{value!r} is not an ICCID (its Luhn check digit is wrong)")
    return value


def email(value: str) -> str:
    """Syntax only (no DNS lookup); the domain part is lower-cased."""
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"{value!r} is not an e-mail address: {exc}") from None
    return str(result.normalized)


def currency(value: str) -> str:
    if not _CURRENCY.fullmatch(value):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code (three capitals)")
    return value


def country(value: str) -> str:
    if not _COUNTRY.fullmatch(value):
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (two capitals)")
    return value


# Letters that carry no separable accent, so NFKD leaves them: folded by hand.
_FOLD = str.maketrans(
    {
        "ł": "l",
        "Ł": "l",
        "ø": "o",
        "Ø": "o",
        "đ": "d",
        "Đ": "d",
        "ħ": "h",
        "Ħ": "h",
        "\u0131": "i",  # dotless i
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "þ": "th",
        "Þ": "th",
        "ð": "d",
        "Ð": "d",
    }
)


def search_text(value: str) -> str:
    """Case- and accent-insensitive form for search keys: NFKD, marks dropped, letters such
    as ł, ø, đ, æ folded, lower-cased, inner whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", value.translate(_FOLD))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def identifier_key(value: str) -> str:
    """Form of an identification number for exact search: upper-case, no separators."""
    return re.sub(r"[\s./-]", "", value).upper()
