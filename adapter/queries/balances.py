"""A subscriber's balances and free units: the monetary balances of its account (as billing
last reported them) and the free-unit buckets of the subscriber and of its contract, each with
granted, used, remaining and the percentage used and left."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from adapter.domain.errors import NotFound
from adapter.store import tables as t

_PLACES = Decimal("0.01")


def percent(part: Decimal, whole: Decimal) -> str | None:
    """PART of WHOLE in percent, two decimals, as text (None when WHOLE is zero)."""
    if whole == 0:
        return None
    return str((part * 100 / whole).quantize(_PLACES, rounding=ROUND_HALF_UP))


def subscriber_balances(conn: Connection, subscriber_id: str) -> dict[str, Any]:
    sub = conn.execute(
        select(
            t.subscriber.c.id,
            t.subscriber.c.msisdn,
            t.subscriber.c.contract_id,
            t.subscriber.c.account_id,
        ).where(t.subscriber.c.id == subscriber_id)
    ).first()
    if sub is None:
        raise NotFound("subscriber", subscriber_id)
    b = t.balance.c
    balances = [
        dict(data)
        for data in conn.execute(
            select(b.data).where(b.account_id == sub.account_id).order_by(b.currency)
        ).scalars()
    ]
    f = t.free_unit_bucket.c
    buckets: list[dict[str, Any]] = []
    for data in conn.execute(
        select(f.data)
        .where(
            or_(
                f.subscriber_id == sub.id,
                and_(f.contract_id == sub.contract_id, f.subscriber_id.is_(None)),
            )
        )
        .order_by(f.period_start.desc(), f.package, f.id)
    ).scalars():
        granted, used = Decimal(str(data["granted"])), Decimal(str(data.get("used", 0)))
        remaining = Decimal(str(data.get("remaining", 0)))
        buckets.append(
            {
                **data,
                "shared": data.get("subscriber_id") is None,
                "used_percent": percent(used, granted),
                "remaining_percent": percent(remaining, granted),
                "period": {"start": data["period_start"], "end": data["period_end"]},
            }
        )
    return {
        "subscriber_id": sub.id,
        "msisdn": sub.msisdn,
        "account_id": sub.account_id,
        "contract_id": sub.contract_id,
        "balances": balances,
        "free_units": buckets,
    }
