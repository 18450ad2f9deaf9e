"""Lazy loading of the organisation tree: the children of one account, a page at a time, each
with the number of its own children, so that a client expands a node only when asked (a tree
of any depth or width is walked one level and one page per call)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import aliased

from adapter.domain.errors import ValidationFailed
from adapter.queries.hierarchy import Node, account_node, payer
from adapter.store import tables as t

a = t.account.c


@dataclass(frozen=True)
class Child:
    node: Node
    child_count: int

    def as_dict(self) -> dict[str, Any]:
        return {**self.node.as_dict(), "child_count": self.child_count}


@dataclass(frozen=True)
class Children:
    parent: Node
    items: list[Child]
    total: int


def child_count(conn: Connection, account_id: str) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(t.account).where(a.parent_id == account_id)
        ).scalar_one()
    )


def children(conn: Connection, account_id: str, *, limit: int = 50, offset: int = 0) -> Children:
    """A page of the direct children of an account (by number), each with its child count
    and its payer (the child itself when it pays, else the parent's payer). NotFound for an
    unknown account."""
    if not 1 <= limit <= 10_000:
        raise ValidationFailed.one("limit", "range", "limit must be between 1 and 10000")
    if offset < 0:
        raise ValidationFailed.one("offset", "range", "offset cannot be negative")
    parent_payer = payer(conn, account_id)
    parent = parent_payer.account._replace(
        payer_id=parent_payer.payer.id if parent_payer.payer else None
    )
    total = child_count(conn, account_id)
    grandchild = aliased(t.account)
    counts = (
        select(func.count())
        .select_from(grandchild)
        .where(grandchild.c.parent_id == a.id)
        .scalar_subquery()
    )
    number = a.number.collate("C") if conn.dialect.name == "postgresql" else a.number
    rows = conn.execute(
        select(
            a.id,
            a.number,
            a.data["name"].as_string(),
            a.customer_id,
            a.parent_id,
            a.payment_responsible,
            counts,
        )
        .where(a.parent_id == account_id)
        .order_by(number, a.id)
        .limit(limit)
        .offset(offset)
    ).all()
    items = [
        Child(
            Node(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                bool(r[5]),
                1,
                r[0] if r[5] else parent.payer_id,
            ),
            int(r[6]),
        )
        for r in rows
    ]
    return Children(parent, items, total)


__all__ = ["Child", "Children", "account_node", "child_count", "child_counts", "children"]


def child_counts(conn: Connection, account_ids: list[str]) -> dict[str, int]:
    """The number of children of each account named (absent: none), in chunks of 500 ids."""
    found: dict[str, int] = {}
    for start in range(0, len(account_ids), 500):
        chunk = account_ids[start : start + 500]
        for parent_id, count in conn.execute(
            select(a.parent_id, func.count()).where(a.parent_id.in_(chunk)).group_by(a.parent_id)
        ):
            found[str(parent_id)] = int(count)
    return found
