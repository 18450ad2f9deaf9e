"""Billing data for a new contract: a month of usage records, the free units they used, a
balance. Deterministic: the same contract id and creation instant give the same data, so a
test can rely on it and two runs of a benchmark see the same thing.

The records lie in the 30 days before the contract was created (as if carried over from the
system it came from); the free-unit period is the calendar month of creation, and only
records inside it consume free units. Charges of records in the period make the balance's
unbilled amount.
"""

from __future__ import annotations

import calendar
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, insert

from .catalog import FREE_UNIT_PACKS
from .state import balance, free_unit, next_id, usage_record, utc_text

CURRENCY = "EUR"
CENT = Decimal("0.01")
MIB = 1024 * 1024
_USAGE_WEIGHTS = {
    "VOICE": 34,
    "SMS": 22,
    "DATA": 26,
    "MMS": 3,
    "ROAM_VOICE": 4,
    "ROAM_SMS": 3,
    "ROAM_DATA": 5,
    "PREMIUM": 3,
}
_PRICE = {  # per minute, message, MiB or event
    "VOICE": Decimal("0.09"),
    "SMS": Decimal("0.09"),
    "MMS": Decimal("0.39"),
    "DATA": Decimal("0.02"),
    "ROAM_VOICE": Decimal("0.29"),
    "ROAM_SMS": Decimal("0.19"),
    "ROAM_DATA": Decimal("0.05"),
    "PREMIUM": Decimal("1.99"),
}
_PACK_FOR = {"VOICE": "VOICE_MONTH", "SMS": "SMS_MONTH", "DATA": "DATA_MONTH"}
_ROAMING = ("AT", "FR", "IT", "ES", "CH", "NL", "US")


@dataclass
class _Record:
    start: datetime
    usage_type: str
    direction: str
    other_party: str | None
    duration: int | None
    volume: int | None
    roaming: str | None
    charge: Decimal = Decimal(0)
    pack: str | None = None
    consumed: Decimal | None = None


def month_bounds(day: date) -> tuple[date, date]:
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


def populate(conn: Connection, co_id: int, created: datetime, records: int) -> None:
    """Write the usage records, free units and balance of contract ``co_id``."""
    rng = random.Random(co_id)  # noqa: S311 - test data, not secrets
    created = created.replace(microsecond=0)
    period_start, period_end = month_bounds(created.date())
    drawn = sorted(
        (
            _draw(rng, created - timedelta(seconds=rng.randrange(60, 30 * 86400)))
            for _ in range(records)
        ),
        key=lambda r: r.start,
    )
    remaining = {pack: Decimal(granted) for pack, (_t, granted) in FREE_UNIT_PACKS.items()}
    unbilled = Decimal(0)
    for record in drawn:
        in_period = record.start.date() >= period_start
        _rate(record, remaining if in_period else None)
        if in_period:
            unbilled += record.charge
    first = next_id(conn, "udr", len(drawn))
    if drawn:
        conn.execute(
            insert(usage_record),
            [
                {
                    "udr_id": first + i,
                    "co_id": co_id,
                    "start_time": utc_text(r.start),
                    "usage_type": r.usage_type,
                    "direction": r.direction,
                    "other_party": r.other_party,
                    "duration_sec": r.duration,
                    "volume_bytes": r.volume,
                    "charge_amount": str(r.charge),
                    "charge_currency": CURRENCY,
                    "fu_pack_id": r.pack,
                    "fu_consumed": None if r.consumed is None else str(r.consumed),
                    "roaming_country": r.roaming,
                }
                for i, r in enumerate(drawn)
            ],
        )
    conn.execute(
        insert(free_unit),
        [
            {
                "co_id": co_id,
                "fu_pack_id": pack,
                "fu_type": fu_type,
                "granted": str(granted),
                "used": str(Decimal(granted) - remaining[pack]),
                "period_start": period_start.isoformat(),
                "period_end": period_end.isoformat(),
            }
            for pack, (fu_type, granted) in FREE_UNIT_PACKS.items()
        ],
    )
    outstanding = Decimal(rng.choice([0, 0, 0, rng.randrange(500, 9000)])) / 100
    fee = Decimal(rng.randrange(999, 4999)) / 100
    conn.execute(
        insert(balance).values(
            co_id=co_id,
            currency=CURRENCY,
            current=str((outstanding + unbilled + fee).quantize(CENT)),
            unbilled=str(unbilled.quantize(CENT)),
            outstanding=str(outstanding.quantize(CENT)),
            as_of=utc_text(created),
        )
    )


def _draw(rng: random.Random, start: datetime) -> _Record:
    kind = rng.choices(list(_USAGE_WEIGHTS), weights=list(_USAGE_WEIGHTS.values()))[0]
    roaming = rng.choice(_ROAMING) if kind.startswith("ROAM_") else None
    party = f"49{rng.choice(['151', '160', '170', '176'])}{rng.randrange(10**7):07d}"
    if kind in {"VOICE", "ROAM_VOICE"}:
        return _Record(
            start,
            kind,
            rng.choice(["MO", "MO", "MT"]),
            party,
            rng.randrange(5, 1800),
            None,
            roaming,
        )
    if kind in {"DATA", "ROAM_DATA"}:
        return _Record(start, kind, "MO", None, None, rng.randrange(10_000, 400 * MIB), roaming)
    if kind == "PREMIUM":
        return _Record(start, kind, "MO", f"8{rng.randrange(10**4):04d}", None, None, None)
    return _Record(start, kind, rng.choice(["MO", "MT"]), party, None, None, roaming)


def _rate(record: _Record, remaining: dict[str, Decimal] | None) -> None:
    """Charge a record, from a free-unit pack while it lasts (only ``remaining`` given)."""
    if record.direction == "MT" and record.usage_type != "ROAM_VOICE":
        return  # incoming is free at home
    if record.duration is not None:
        units = Decimal(math.ceil(record.duration / 60))
    elif record.volume is not None:
        units = Decimal(math.ceil(record.volume / MIB))
    else:
        units = Decimal(1)
    pack = _PACK_FOR.get(record.usage_type)
    if remaining is not None and pack is not None and remaining[pack] >= units:
        remaining[pack] -= units
        record.pack, record.consumed = pack, units
        return
    record.charge = (units * _PRICE[record.usage_type]).quantize(CENT)
