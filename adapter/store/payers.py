"""Who pays for each account, kept beside the tree.

``account.payer_id`` is the nearest payment-responsible ancestor-or-self (NULL when nobody up
to the root pays) and ``account.level`` the number of levels below its root (0 for a root).
Without them the payer of an account 10,000 levels down was a 10,000-step recursive walk
(~55 ms on PostgreSQL, above the 50 ms goal); with them it is one row.

They are derived data, like the search keys: never versioned or hashed, written by the unit of
work in the same transaction as any change to the tree (a new account, a move, payment
responsibility set or cleared), after the rows are written and the moves checked for cycles.
:func:`refresh` recomputes exactly what can change: the accounts named, then, level by level,
the children of every account whose values changed, stopping below any whose values stayed
the same. A move of a subtree touches that subtree; a new leaf touches one row. Loops, never
recursion, so any depth works.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, select, text, update

from adapter.store import tables as t

a = t.account.c
CHUNK = 500  # ids per IN list


class TreeChange(NamedTuple):
    """An account as a unit leaves it: new, moved, or with its payment responsibility set or
    cleared."""

    id: str
    parent_id: str | None
    payment_responsible: bool


_STORE = (
    update(t.account)
    .where(a.id == bindparam("b_id"))
    .values(payer_id=bindparam("b_payer"), level=bindparam("b_level"))
)


Placed = dict[str, tuple[str | None, int]]  # account id -> (payer id, level)


def plan(conn: Connection, changed: Iterable[TreeChange]) -> Placed:
    """The payer and level of each account in ``changed``: from the stored values of the
    accounts above them (read here) and from each other's, parents first. No row of
    ``changed`` needs to be written yet, so a bulk load writes its new accounts with these
    values instead of updating them after."""
    pending = {c.id: c for c in changed}
    values: Placed = {}
    if not pending:
        return values
    outside = sorted({c.parent_id for c in pending.values() if c.parent_id} - pending.keys())
    stored = _stored(conn, outside)
    for change in _parents_first(pending):
        if change.parent_id is None:
            above: tuple[str | None, int] = (None, -1)
        elif change.parent_id in values:
            above = values[change.parent_id]
        else:
            above = stored[change.parent_id]
        values[change.id] = (change.id if change.payment_responsible else above[0], above[1] + 1)
    return values


def refresh(conn: Connection, changed: Iterable[TreeChange], *, new: Collection[str] = ()) -> int:
    """Recompute ``payer_id`` and ``level`` for ``changed`` and every account below them whose
    values follow from theirs; returns the number of rows written. ``new``: the ids among
    ``changed`` that this unit creates (nothing stored can be below them but accounts in
    ``changed``, so the walk down starts from the others only). The tree must be acyclic (the
    unit of work checks moves before calling this)."""
    values = plan(conn, changed)
    written = dict(values)
    frontier = [k for k in values if k not in new]
    while frontier:
        following: list[str] = []
        for start in range(0, len(frontier), CHUNK):
            chunk = frontier[start : start + CHUNK]
            rows = conn.execute(
                select(a.id, a.parent_id, a.payment_responsible, a.payer_id, a.level).where(
                    a.parent_id.in_(chunk)
                )
            )
            for child, parent, pays, payer_id, level in rows:
                above = values[parent]
                placed = (child if pays else above[0], above[1] + 1)
                if values.get(child, (payer_id, level)) != placed:
                    values[child] = written[child] = placed
                    following.append(child)
        frontier = following
    if written:
        conn.execute(
            _STORE,
            [{"b_id": k, "b_payer": p, "b_level": n} for k, (p, n) in written.items()],
        )
    return len(written)


def _stored(conn: Connection, ids: list[str]) -> Placed:
    found: Placed = {}
    for start in range(0, len(ids), CHUNK):
        rows = conn.execute(
            select(a.id, a.payer_id, a.level).where(a.id.in_(ids[start : start + CHUNK]))
        )
        found.update((row[0], (row[1], int(row[2]))) for row in rows)
    return found


def _parents_first(pending: dict[str, TreeChange]) -> list[TreeChange]:
    """The changes ordered so that a parent among them comes before its children."""
    ordered: list[TreeChange] = []
    placed: set[str] = set()
    for change in pending.values():
        path: list[TreeChange] = []
        current: TreeChange | None = change
        while current is not None and current.id not in placed:
            placed.add(current.id)
            path.append(current)
            current = pending.get(current.parent_id) if current.parent_id else None
        ordered.extend(reversed(path))
    return ordered


# The whole forest walked from its roots, compared with what is stored (the migration that
# added the columns filled them with the same walk).
_STALE = text(
    """
    WITH RECURSIVE walk(id, payer, lvl) AS (
        SELECT id, CASE WHEN payment_responsible THEN id END, 0
        FROM account WHERE parent_id IS NULL
        UNION ALL
        SELECT c.id, CASE WHEN c.payment_responsible THEN c.id ELSE w.payer END, w.lvl + 1
        FROM account c JOIN walk w ON c.parent_id = w.id
    )
    SELECT account.id FROM account JOIN walk ON account.id = walk.id
    WHERE account.level <> walk.lvl OR account.payer_id IS DISTINCT FROM walk.payer
    ORDER BY account.id LIMIT :limit
    """
)


def stale(conn: Connection, limit: int = 100) -> list[str]:
    """Accounts whose stored payer or level disagrees with the tree (none, unless something
    wrote around the unit of work)."""
    return list(conn.execute(_STALE, {"limit": limit}).scalars())
