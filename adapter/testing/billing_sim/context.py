"""What every operation handler gets, and the look-ups they share (id pairs, ancestry)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, literal, select

from .codes import CmsError
from .config import SimConfig
from .soap import Node
from .state import contract, customer

CONTRACT_TRANSITIONS: dict[str, frozenset[str]] = {
    "o": frozenset({"a", "d"}),
    "a": frozenset({"s", "d"}),
    "s": frozenset({"a", "d"}),
    "d": frozenset(),
}
CUSTOMER_TRANSITIONS: dict[str, frozenset[str]] = {
    "i": frozenset({"a", "d"}),
    "a": frozenset({"s", "d"}),
    "s": frozenset({"a", "d"}),
    "d": frozenset(),
}
MAX_DEPTH = 10_000

SERVICE_TRANSITIONS: dict[str, frozenset[str]] = {
    "A": frozenset({"S", "D"}),
    "S": frozenset({"A", "D"}),
    "D": frozenset(),
}


@dataclass(frozen=True)
class Context:
    """One request's transaction and session; ``now`` is the instant of the whole request."""

    conn: Connection
    business_unit: str
    now: datetime
    config: SimConfig


def resolve_customer(ctx: Context, ref: Node | None, what: str = "customer") -> Row[Any]:
    """The customer a ``CustomerRef``-like element names by ``csId`` and/or ``csIdPub``."""
    cs_id = ref.long("csId") if ref else None
    pub = ref.token("csIdPub") if ref else None
    if cs_id is None and pub is None:
        raise CmsError("CMS.RC6700", f"{what}: give csId or csIdPub")
    return _by_pair(ctx, customer, ("cs_id", "csId"), cs_id, ("cs_id_pub", "csIdPub"), pub, what)


def resolve_contract(ctx: Context, ref: Node | None, what: str = "contract") -> Row[Any]:
    co_id = ref.long("coId") if ref else None
    pub = ref.token("coIdPub") if ref else None
    if co_id is None and pub is None:
        raise CmsError("CMS.RC6700", f"{what}: give coId or coIdPub")
    return _by_pair(ctx, contract, ("co_id", "coId"), co_id, ("co_id_pub", "coIdPub"), pub, what)


_UNKNOWN = {"customer": "CMS.RC6701", "contract": "CMS.RC6702"}


def _by_pair(
    ctx: Context,
    table: Any,
    id_names: tuple[str, str],
    internal: int | None,
    pub_names: tuple[str, str],
    public: str | None,
    what: str,
) -> Row[Any]:
    """The row named by an id pair; the internal id wins, and must agree with the public one
    when both are given. ``*_names`` are (column, element name)."""
    (id_col, id_name), (pub_col, pub_name) = id_names, pub_names
    column = table.c[id_col] if internal is not None else table.c[pub_col]
    key: int | str = internal if internal is not None else str(public)
    row = ctx.conn.execute(select(table).where(column == key)).first()
    label = f"{id_name} {internal}" if internal is not None else f"{pub_name} {public}"
    if row is None:
        raise CmsError(_UNKNOWN[table.name], f"{what}: no {table.name} with {label}", str(key))
    if internal is not None and public is not None and row._mapping[pub_col] != public:
        raise CmsError(
            "CMS.RC6703",
            f"{what}: {id_name} {internal} is {pub_name} {row._mapping[pub_col]}, not {public}",
            str(internal),
            public,
        )
    return row


def ancestors(conn: Connection, cs_id: int) -> list[int]:
    """``cs_id`` and every node above it, nearest first (one recursive query)."""
    up = (
        select(customer.c.cs_id, customer.c.parent_cs_id, literal(0).label("depth"))
        .where(customer.c.cs_id == cs_id)
        .cte("up", recursive=True)
    )
    up = up.union_all(
        select(customer.c.cs_id, customer.c.parent_cs_id, (up.c.depth + 1).label("depth")).where(
            customer.c.cs_id == up.c.parent_cs_id,
            up.c.depth < MAX_DEPTH,  # a guard only: the handlers never let a cycle in
        )
    )
    return [int(v) for v in conn.execute(select(up.c.cs_id).order_by(up.c.depth)).scalars()]
