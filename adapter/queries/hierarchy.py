"""The organisation hierarchy: payer, ancestors, subtree and counts per level.

Every walk is one recursive SQL query and every reshaping a loop, never Python recursion, so a
tree of any depth works (a chain of 10,000 accounts included). Walks upward use ``UNION``
(which drops repeated rows) so that even a damaged tree with a cycle cannot make them loop.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, func, literal, select
from sqlalchemy.orm import aliased

from adapter.domain.errors import NotFound, ValidationFailed
from adapter.store import tables as t

a = t.account.c
T = TypeVar("T")


class Node(NamedTuple):
    """One account in a walk (a named tuple: a subtree can hold 100,000 of them)."""

    id: str
    number: str
    name: str
    customer_id: str
    parent_id: str | None
    payment_responsible: bool
    depth: int = 0  # below the node a query started from
    payer_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()


@dataclass(frozen=True)
class Payer:
    """Who pays for ``account``: ``payer`` (itself or its nearest payment-responsible
    ancestor), or None with ``reason`` saying why nobody does."""

    account: Node
    payer: Node | None
    levels_up: int | None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "account": self.account.as_dict(),
            "payer": self.payer.as_dict() if self.payer else None,
            "levels_up": self.levels_up,
            "reason": self.reason,
        }


@dataclass
class Subtree:
    root: Node
    nodes: list[Node]  # a page of the subtree, breadth first (depth, then number)
    total: int  # nodes in the subtree within max_depth, the root included
    max_depth: int | None
    per_level: list[tuple[int, int]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "root": self.root.as_dict(),
            "nodes": [n.as_dict() for n in self.nodes],
            "total": self.total,
            "max_depth": self.max_depth,
            "per_level": [{"depth": d, "count": c} for d, c in self.per_level],
        }


_NODE_COLUMNS = (
    a.id,
    a.number,
    a.data["name"].as_string(),
    a.customer_id,
    a.parent_id,
    a.payment_responsible,
)


def _node(row: Any, depth: int = 0, payer_id: str | None = None) -> Node:
    return Node(row[0], row[1], row[2], row[3], row[4], bool(row[5]), depth, payer_id)


def account_node(conn: Connection, account_id: str) -> Node:
    row = conn.execute(select(*_NODE_COLUMNS).where(a.id == account_id)).first()
    if row is None:
        raise NotFound("account", account_id)
    return _node(row)


def _upward(conn: Connection, account_id: str) -> dict[str, Node]:
    """The account and all its ancestors, by id."""
    start = select(*_NODE_COLUMNS).where(a.id == account_id).cte("up", recursive=True)
    parent = aliased(t.account)
    step = select(
        parent.c.id,
        parent.c.number,
        parent.c.data["name"].as_string(),
        parent.c.customer_id,
        parent.c.parent_id,
        parent.c.payment_responsible,
    ).join(start, parent.c.id == start.c.parent_id)
    up = start.union(step)
    return {row[0]: _node(row) for row in conn.execute(select(up))}


def _chain(nodes: dict[str, Node], account_id: str) -> list[Node]:
    """Follow parent links from ``account_id`` through ``nodes`` (a loop, guarded)."""
    chain: list[Node] = []
    seen: set[str] = set()
    current = nodes.get(account_id)
    while current is not None and current.id not in seen:
        seen.add(current.id)
        chain.append(current)
        current = nodes.get(current.parent_id) if current.parent_id else None
    return chain


def payer(conn: Connection, account_id: str) -> Payer:
    """The nearest ancestor-or-self that is payment responsible.

    Read from the payer and level the unit of work keeps on every account
    (``adapter/store/payers.py``): two rows whatever the depth. Only when nobody pays is the
    path walked, to name the root in the answer."""
    row = conn.execute(
        select(*_NODE_COLUMNS, a.payer_id, a.level).where(a.id == account_id)
    ).first()
    if row is None:
        raise NotFound("account", account_id)
    payer_id, level = row[6], int(row[7])
    start_node = _node(row, payer_id=payer_id)
    if payer_id == account_id:
        return Payer(start_node, start_node, 0)
    if payer_id is not None:
        found = conn.execute(select(*_NODE_COLUMNS, a.level).where(a.id == payer_id)).first()
        if found is None:
            raise NotFound("account", payer_id)
        return Payer(start_node, _node(found, payer_id=payer_id), level - int(found[6]))
    root = _chain(_upward(conn, account_id), account_id)[-1]
    return Payer(
        start_node,
        None,
        None,
        f"no account from {start_node.number} up to the root {root.number} is payment "
        "responsible; set payment responsibility on one of them",
    )


def ancestors(conn: Connection, account_id: str) -> list[Node]:
    """The parent, grandparent… up to the root, nearest first (depth counts upward)."""
    chain = _chain(_upward(conn, account_id), account_id)
    if not chain:
        raise NotFound("account", account_id)
    return [
        Node(n.id, n.number, n.name, n.customer_id, n.parent_id, n.payment_responsible, i)
        for i, n in enumerate(chain[1:], start=1)
    ]


_SUBTREE_WORK_MEM = "SELECT set_config('work_mem', '64MB', true)"


@contextmanager
def _no_collection() -> Iterator[None]:
    """The cyclic garbage collector held off while up to 100,000 rows and nodes are made (they
    form no cycles; with it on, it walked the heap again and again, a third of the time).
    Safe beside other threads: it is switched back on only by the caller that found it on."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def subtree(
    conn: Connection,
    account_id: str,
    *,
    max_depth: int | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> Subtree:
    """The account and everything below it (to ``max_depth`` levels), breadth first, one page
    of it, with the payer of every node and the number of nodes per level."""
    if max_depth is not None and max_depth < 0:
        raise ValidationFailed.one("max_depth", "range", "max_depth cannot be negative")
    if not 1 <= limit <= 100_000:
        raise ValidationFailed.one("limit", "range", "limit must be between 1 and 100000")
    if offset < 0:
        raise ValidationFailed.one("offset", "range", "offset cannot be negative")
    root_payer = payer(conn, account_id)
    root = root_payer.account
    root_payer_id = root_payer.payer.id if root_payer.payer else None
    # The walk carries every column a node needs, so the page needs no second join; each
    # node's payer is the one the store keeps on it.
    down = (
        select(*_NODE_COLUMNS, literal(0).label("depth"), a.payer_id)
        .where(a.id == account_id)
        .cte("down", recursive=True)
    )
    child = aliased(t.account)
    step = select(
        child.c.id,
        child.c.number,
        child.c.data["name"].as_string(),
        child.c.customer_id,
        child.c.parent_id,
        child.c.payment_responsible,
        (down.c.depth + 1).label("depth"),
        child.c.payer_id,
    ).join(down, child.c.parent_id == down.c.id)
    if max_depth is not None:
        step = step.where(down.c.depth < max_depth)
    down = down.union_all(step)
    # Byte order for numbers on PostgreSQL: a locale-aware sort of 100,000 strings costs more
    # than the walk, and account numbers are codes, not words.
    number = down.c.number.collate("C") if conn.dialect.name == "postgresql" else down.c.number
    query = select(down).order_by(down.c.depth, number, down.c.id).limit(limit + 1).offset(offset)
    if conn.dialect.name == "postgresql":
        # The driver's rows are already the node's fields in order and types: taking them as
        # they come saves a third of a 100,000-node subtree's time (SQLAlchemy's result
        # rows and their processing).
        compiled = query.compile(dialect=conn.dialect)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor, _no_collection():
            # The walk's working table and the sort of a 100,000-node page take ~25 MB: at the
            # server's default 4 MB both spilled to temporary files (a fifth of the time). For
            # this transaction only.
            cursor.execute(_SUBTREE_WORK_MEM)
            cursor.execute(str(compiled), compiled.params)
            page: Sequence[Any] = cursor.fetchall()
            nodes = list(map(Node._make, page[:limit]))
    else:
        page = conn.execute(query).all()
        nodes = [_node(row, int(row[6]), row[7]) for row in page[:limit]]
    if offset == 0 and len(page) <= limit:
        # The page is the whole subtree: count its levels here rather than walk it again.
        counts: dict[int, int] = {}
        for node in nodes:
            counts[node.depth] = counts.get(node.depth, 0) + 1
        per_level = sorted(counts.items())
    else:
        per_level = [
            (int(d), int(n))
            for d, n in conn.execute(
                select(down.c.depth, func.count()).group_by(down.c.depth).order_by(down.c.depth)
            )
        ]
    return Subtree(
        root._replace(payer_id=root_payer_id),
        nodes,
        sum(n for _, n in per_level),
        max_depth,
        per_level,
    )


def depth_first(
    items: Iterable[T],
    id_of: Callable[[T], str],
    parent_of: Callable[[T], str | None],
    sort_key: Callable[[T], Any],
) -> list[tuple[T, int]]:
    """Items depth first under their parents, each with its depth below its root (an item
    whose parent is not among them is a root); siblings in ``sort_key`` order. An explicit
    stack, so any depth works."""
    items = list(items)
    ids = {id_of(item) for item in items}
    children: dict[str | None, list[T]] = {}
    for item in sorted(items, key=sort_key):
        parent = parent_of(item)
        children.setdefault(parent if parent in ids else None, []).append(item)
    ordered: list[tuple[T, int]] = []
    stack = [(item, 0) for item in reversed(children.get(None, []))]
    while stack:
        item, depth = stack.pop()
        ordered.append((item, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(id_of(item), [])))
    return ordered


def draw_order(nodes: Iterable[Node]) -> list[Node]:
    """Nodes depth first under their parents, for drawing a tree."""
    return [
        node
        for node, _ in depth_first(
            nodes, lambda n: n.id, lambda n: n.parent_id, lambda n: (n.depth, n.number)
        )
    ]
