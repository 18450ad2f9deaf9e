"""What a customer holds, for the TMF inventory resources (TMF637 product, TMF654 bucket,
TMF635 usage): contracts with subscribers, services, discounts, balances, free-unit buckets
and usage lines, read as stored snapshots (``data``) with their versions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, and_, func, or_, select

from adapter.domain.errors import NotFound
from adapter.queries.customers import resolve
from adapter.store import tables as t


def _rows(conn: Connection, table: Table, **equals: Any) -> list[dict[str, Any]]:
    query = select(table.c.data, table.c.version).order_by(table.c.id)
    for column, value in equals.items():
        query = query.where(table.c[column] == value)
    return [{**row.data, "_version": row.version} for row in conn.execute(query)]


@dataclass(frozen=True)
class Holdings:
    """Everything of one customer the inventory resources show."""

    customer_id: str
    account_numbers: dict[str, str]
    contracts: list[dict[str, Any]]
    subscribers: list[dict[str, Any]]
    services: list[dict[str, Any]]
    discounts: list[dict[str, Any]]
    balances: list[dict[str, Any]] = field(default_factory=list)
    free_units: list[dict[str, Any]] = field(default_factory=list)


def holdings(conn: Connection, customer_id: str, *, buckets: bool = False) -> Holdings:
    """The customer's products (and, with BUCKETS, its balances and free units)."""
    accounts = conn.execute(
        select(t.account.c.id, t.account.c.number).where(t.account.c.customer_id == customer_id)
    ).all()
    return Holdings(
        customer_id=customer_id,
        account_numbers={row.id: row.number for row in accounts},
        contracts=_rows(conn, t.contract, customer_id=customer_id),
        subscribers=_rows(conn, t.subscriber, customer_id=customer_id),
        services=_rows(conn, t.service_assignment, customer_id=customer_id),
        discounts=_rows(conn, t.discount_assignment, customer_id=customer_id),
        balances=_rows(conn, t.balance, customer_id=customer_id) if buckets else [],
        free_units=_rows(conn, t.free_unit_bucket, customer_id=customer_id) if buckets else [],
    )


_TABLES: dict[str, Table] = {
    "contract": t.contract,
    "subscriber": t.subscriber,
    "service": t.service_assignment,
    "discount": t.discount_assignment,
    "balance": t.balance,
    "free_units": t.free_unit_bucket,
    "usage": t.usage_record,
    "account": t.account,
}


def customer_of(conn: Connection, kind: str, entity_id: str) -> str:
    """The customer id of the entity of KIND (a key of the store's tables here)."""
    table = _TABLES[kind]
    found = conn.execute(
        select(table.c.customer_id).where(table.c.id == entity_id)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(kind, entity_id)
    return str(found)


def entity(conn: Connection, kind: str, entity_id: str) -> dict[str, Any]:
    """One stored entity's snapshot with ``_version``; NotFound when there is none."""
    table = _TABLES[kind]
    row = conn.execute(select(table.c.data, table.c.version).where(table.c.id == entity_id)).first()
    if row is None:
        raise NotFound(kind, entity_id)
    return {**row.data, "_version": row.version}


def subscriber_msisdn(conn: Connection, subscriber_id: str) -> str | None:
    found = conn.execute(
        select(t.subscriber.c.msisdn).where(t.subscriber.c.id == subscriber_id)
    ).scalar_one_or_none()
    return None if found is None else str(found)


def usage_position(conn: Connection, record_id: str, since: datetime) -> int:
    """How many of its subscriber's lines from SINCE come before this usage line, in the
    order listings use (start time, then id): its offset in its month's listing."""
    u = t.usage_record.c
    row = conn.execute(select(u.subscriber_id, u.start_time).where(u.id == record_id)).first()
    if row is None:
        raise NotFound("usage", record_id)
    before = or_(
        u.start_time < row.start_time,
        and_(u.start_time == row.start_time, u.id < record_id),
    )
    found = conn.execute(
        select(func.count())
        .select_from(t.usage_record)
        .where(u.subscriber_id == row.subscriber_id, u.start_time >= since, before)
    ).scalar_one()
    return int(found)


def account_number(conn: Connection, account_id: str) -> str | None:
    found = conn.execute(
        select(t.account.c.number).where(t.account.c.id == account_id)
    ).scalar_one_or_none()
    return None if found is None else str(found)


def resolve_known(conn: Connection, kind: str, refs: list[str]) -> list[str]:
    """The ids REFS name (ids, numbers, MSISDNs as ``resolve`` takes them); a reference that
    names nothing is left out, so that a list filtered by it is empty rather than an error."""
    found: list[str] = []
    for each in refs:
        try:
            found.append(resolve(conn, kind, each))
        except NotFound:
            continue
    return found
