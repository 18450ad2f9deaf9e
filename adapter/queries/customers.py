"""The customer view: a customer with everything invoicing and care need, in one read."""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import Connection, Table, or_, select

from adapter.domain.errors import NotFound, ValidationFailed
from adapter.domain.identifiers import msisdn as normal_msisdn
from adapter.store import tables as t

# How a reference given by a person (id, number, MSISDN) is looked up, per kind.
_REF_COLUMNS: dict[str, tuple[Table, tuple[str, ...]]] = {
    "customer": (t.customer, ("id", "customer_number")),
    "account": (t.account, ("id", "number")),
    "contract": (t.contract, ("id", "number")),
    "subscriber": (t.subscriber, ("id", "msisdn")),
}


def resolve(conn: Connection, kind: str, ref: str) -> str:
    """The id of the customer, account, contract or subscriber that ``ref`` names (its id, its
    number, or for a subscriber its MSISDN). A deleted entity is found by id in history."""
    if kind not in _REF_COLUMNS:
        known = ", ".join(_REF_COLUMNS)
        raise ValidationFailed.one("subject", "known", f"{kind!r} is not one of {known}")
    table, columns = _REF_COLUMNS[kind]
    candidates = [ref]
    if kind == "subscriber":
        with contextlib.suppress(ValueError):
            candidates.append(normal_msisdn(ref))
    found = (
        conn.execute(
            select(table.c.id)
            .where(or_(*(table.c[col].in_(candidates) for col in columns)))
            .limit(2)
        )
        .scalars()
        .all()
    )
    if len(found) == 1:
        return str(found[0])
    if len(found) > 1:
        raise ValidationFailed.one("subject", "unambiguous", f"{ref!r} names several {kind}s")
    v = t.entity_version.c
    historic = conn.execute(
        select(v.entity_id).where(v.entity_type == kind, v.entity_id == ref).limit(1)
    ).scalar_one_or_none()
    if historic is not None:
        return str(historic)
    raise NotFound(kind, ref)


def _rows(conn: Connection, table: Table, **equals: Any) -> list[dict[str, Any]]:
    query = select(table.c.data, table.c.version).order_by(table.c.id)
    for column, value in equals.items():
        query = query.where(table.c[column] == value)
    return [{**row.data, "_version": row.version} for row in conn.execute(query)]


def _with_payers(conn: Connection, accounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each account with the number of its payer. Walked in memory through the customer's
    own accounts; only a chain that leaves them (a parent in another customer's tree) asks
    the hierarchy, once per such parent."""
    from adapter.queries.hierarchy import payer

    by_id = {a["id"]: a for a in accounts}
    outside: dict[str, str | None] = {}
    found: dict[str, str | None] = {}
    for account in accounts:
        path: list[str] = []
        current: dict[str, Any] | None = account
        answer: str | None = None
        while current is not None:
            if current["id"] in found:
                answer = found[current["id"]]
                break
            if current["id"] in path:
                break  # a damaged tree: no payer rather than a loop
            path.append(current["id"])
            if current["payment_responsible"]:
                answer = current["number"]
                break
            parent = current["parent_id"]
            if parent is None:
                break
            if parent not in by_id:
                if parent not in outside:
                    result = payer(conn, parent)
                    outside[parent] = result.payer.number if result.payer else None
                answer = outside[parent]
                break
            current = by_id[parent]
        for account_id in path:
            found[account_id] = answer
    return [{**a, "payer": found.get(a["id"])} for a in accounts]


def customer_view(conn: Connection, ref: str) -> dict[str, Any]:
    """The customer named by ``ref`` with its accounts, contracts, subscribers, services,
    discounts, balances, free units, listing suppressions and custom attribute values."""
    customer_id = resolve(conn, "customer", ref)
    found = _rows(conn, t.customer, id=customer_id)
    if not found:
        raise NotFound("customer", ref)
    attributes: dict[str, dict[str, Any]] = {}
    for value in _rows(conn, t.attribute_value, customer_id=customer_id):
        key = f"{value['entity_kind']}:{value['entity_id']}"
        attributes.setdefault(key, {})[value["name"]] = value["value"]
    return {
        "customer": found[0],
        "accounts": _with_payers(conn, _rows(conn, t.account, customer_id=customer_id)),
        "contracts": _rows(conn, t.contract, customer_id=customer_id),
        "subscribers": _rows(conn, t.subscriber, customer_id=customer_id),
        "services": _rows(conn, t.service_assignment, customer_id=customer_id),
        "discounts": _rows(conn, t.discount_assignment, customer_id=customer_id),
        "balances": _rows(conn, t.balance, customer_id=customer_id),
        "free_units": _rows(conn, t.free_unit_bucket, customer_id=customer_id),
        "suppressions": _rows(conn, t.listing_suppression, customer_id=customer_id),
        "attributes": attributes,
    }


def attribute_definitions(conn: Connection, include_retired: bool = False) -> list[dict[str, Any]]:
    query = select(t.attribute_definition.c.data).order_by(t.attribute_definition.c.name)
    if not include_retired:
        query = query.where(t.attribute_definition.c.status == "active")
    return [dict(row.data) for row in conn.execute(query)]
