"""The fixed registry of value converters that mapping files name.

A mapping file picks converters by name (``convert: [strip, upper]``); there is no way to put
code in a file. A converter takes one value and returns one, or raises ``ValueError`` with a
sentence; the engine adds which operation, file and rule it was. Each converter may name its
*inverse*: a fragment written in the outbound direction (canonical → legacy) is applied inbound
with the inverse converters in reverse order. Some converters take one argument, written
``name(arg)`` (``stable_id(account)``).

Adding a converter is a code change by design: it is reviewed and tested once, and every
mapping file can then use it.
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# Namespace of the deterministic ids given to entities found in legacy documents: the same
# legacy key always gives the same canonical id, so importing a file twice updates, not copies.
STABLE_ID_NAMESPACE = uuid.UUID("9d3f3c51-0a36-4f39-8a55-52a1d2b6b0e7")
STABLE_ID_KINDS = frozenset(
    {
        "customer",
        "account",
        "contract",
        "subscriber",
        "service",
        "discount",
        "contact_person",
        "attribute",
        "usage",
    }
)

_TRUE = frozenset({"true", "1", "x", "y", "yes"})
_FALSE = frozenset({"false", "0", "-", "n", "no", ""})


@dataclass(frozen=True)
class Converter:
    name: str
    function: Callable[[Any, str | None], Any]
    doc: str
    inverse: str | None = None
    args: frozenset[str] | None = None  # the argument values allowed; None: takes no argument


def _decimal(value: Any, _arg: str | None) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is a boolean, not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _integer(value: Any, _arg: str | None) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is a boolean, not an integer")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?[0-9]{1,19}", text):
        raise ValueError(f"{value!r} is not an integer")
    return int(text)


def _text(value: Any, _arg: str | None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str | int):
        return str(value)
    raise ValueError(f"{value!r} is not a scalar")


def _date(value: Any, _arg: str | None) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD)") from None


def _datetime_utc(value: Any, _arg: str | None) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)  # billing writes UTC when it writes no zone
    return moment.astimezone(UTC)


def _msisdn_e164_to_bscs(value: Any, _arg: str | None) -> str:
    text = str(value).strip()
    digits = text[1:] if text.startswith("+") else text
    if not digits.isdigit():
        raise ValueError(f"{value!r} is not an E.164 number")
    return digits


def _msisdn_bscs_to_e164(value: Any, _arg: str | None) -> str:
    text = str(value).strip()
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("00"):
        text = text[2:]  # international prefix written out
    if not text.isdigit():
        raise ValueError(f"{value!r} is not a directory number")
    return f"+{text}"


def _upper(value: Any, _arg: str | None) -> str:
    return str(value).upper()


def _lower(value: Any, _arg: str | None) -> str:
    return str(value).lower()


def _strip(value: Any, _arg: str | None) -> str:
    return str(value).strip()


def _money(value: Any, _arg: str | None) -> dict[str, Any]:
    if not isinstance(value, Mapping) or "amount" not in value or "currency" not in value:
        raise ValueError(f"{value!r} is not money (amount and currency)")
    return {
        "amount": _decimal(value["amount"], None),
        "currency": str(value["currency"]).strip(),
    }


def _boolean(value: Any, _arg: str | None) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(f"{value!r} is not an xs:boolean (true, false, 1, 0)")


def _bool_flag(value: Any, _arg: str | None) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{value!r} is not a BSCS flag (X or -)")


def _flag(value: Any, _arg: str | None) -> str:
    return "X" if _bool_flag(value, None) else "-"


def _to_code(value: Any, _arg: str | None) -> str:
    code = re.sub(r"[^A-Z0-9]+", "_", str(value).upper()).strip("_")[:32]
    if not code:
        raise ValueError(f"{value!r} has no letter or digit to make a code of")
    return code


def _stable_id(value: Any, arg: str | None) -> str:
    return _uuid5(f"{arg}:{value if value.__class__ is str else _text(value, None)}")


@functools.lru_cache(maxsize=1024)
def _uuid5(name: str) -> str:
    """``str(uuid.uuid5(STABLE_ID_NAMESPACE, name))``, several times faster, and cached: a
    record refers to the same customer and account from many of its entities (the cache is
    bounded, so memory stays flat over a file of any size)."""
    digest = bytearray(
        hashlib.sha1(STABLE_ID_NAMESPACE.bytes + name.encode(), usedforsecurity=False).digest()
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


REGISTRY: dict[str, Converter] = {
    c.name: c
    for c in (
        Converter("decimal", _decimal, "text or number → Decimal", inverse="decimal"),
        Converter("integer", _integer, "text or number → int", inverse="integer"),
        Converter("text", _text, "scalar → its text (booleans as true/false)", inverse="text"),
        Converter("date", _date, "ISO text, date or date-time → date", inverse="date"),
        Converter(
            "datetime_utc",
            _datetime_utc,
            "ISO text or date-time → aware date-time in UTC (no zone given: UTC)",
            inverse="datetime_utc",
        ),
        Converter(
            "msisdn_e164_to_bscs",
            _msisdn_e164_to_bscs,
            "+4915… → 4915… (BSCS directory numbers carry no '+')",
            inverse="msisdn_bscs_to_e164",
        ),
        Converter(
            "msisdn_bscs_to_e164",
            _msisdn_bscs_to_e164,
            "4915… or 004915… → +4915…",
            inverse="msisdn_e164_to_bscs",
        ),
        Converter("upper", _upper, "upper case", inverse="lower"),
        Converter("lower", _lower, "lower case", inverse="upper"),
        Converter("strip", _strip, "surrounding white space removed", inverse="strip"),
        Converter("money", _money, "{amount, currency} with a Decimal amount", inverse="money"),
        Converter("boolean", _boolean, "xs:boolean text or bool → bool", inverse="boolean"),
        Converter(
            "bool_flag", _bool_flag, "BSCS flag (X, Y, 1 / -, N, 0, empty) → bool", inverse="flag"
        ),
        Converter("flag", _flag, "bool → BSCS flag X or -", inverse="bool_flag"),
        Converter("to_code", _to_code, "free text → CODE_LIKE_THIS (at most 32)"),
        Converter(
            "stable_id",
            _stable_id,
            "legacy key → the same UUID every time (uuid5), per entity kind",
            args=STABLE_ID_KINDS,
        ),
    )
}

_CALL = re.compile(r"([a-z_][a-z0-9_]*)(?:\(\s*([A-Za-z0-9_]+)\s*\))?")


@dataclass(frozen=True)
class Step:
    """One converter as a mapping file names it: the converter and its argument."""

    converter: Converter
    arg: str | None = None

    def __call__(self, value: Any) -> Any:
        return self.converter.function(value, self.arg)

    def __str__(self) -> str:
        return self.converter.name + (f"({self.arg})" if self.arg else "")


def parse_step(text: str) -> Step:
    """``name`` or ``name(arg)`` as a :class:`Step`, or ``ValueError`` for an unknown name or
    a bad argument."""
    found = _CALL.fullmatch(text.strip()) if isinstance(text, str) else None
    if not found:
        raise ValueError(f"{text!r} is not a converter name (name or name(arg))")
    name, arg = found.groups()
    converter = REGISTRY.get(name)
    if converter is None:
        raise ValueError(f"unknown converter {name!r} (known: {', '.join(sorted(REGISTRY))})")
    if converter.args is None and arg is not None:
        raise ValueError(f"converter {name!r} takes no argument")
    if converter.args is not None:
        if arg is None:
            raise ValueError(f"converter {name!r} needs an argument: {name}(one of the kinds)")
        if arg not in converter.args:
            allowed = ", ".join(sorted(converter.args))
            raise ValueError(f"{arg!r} is not an argument of {name!r} (one of: {allowed})")
    return Step(converter, arg)


def inverse(step: Step) -> Step:
    """The step that undoes ``step`` (for a fragment used inbound), or ``ValueError``."""
    name = step.converter.inverse
    if name is None:
        raise ValueError(f"converter {step} has no inverse, so it cannot be used inbound")
    return Step(REGISTRY[name], step.arg)
