"""Rules the store keeps across rows: an entity agrees with what it belongs to, and the account
hierarchy has no cycles. Both run inside the commit, on the rows as this unit of work leaves
them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, func, literal, or_, select
from sqlalchemy.orm import aliased

from adapter.domain import Entity
from adapter.domain.errors import ValidationFailed, Violation
from adapter.domain.model import Account, Scope
from adapter.store import tables as t

# The scope of a row of each kind that others belong to, read from its own columns.
_SCOPE_COLUMNS: dict[str, tuple[Any, tuple[str | None, ...]]] = {
    "customer": (t.customer, ("id", None, None, None)),
    "account": (t.account, ("customer_id", "id", None, None)),
    "contract": (t.contract, ("customer_id", "account_id", "id", None)),
    "subscriber": (t.subscriber, ("customer_id", "account_id", "contract_id", "id")),
}
_FIELDS = ("customer_id", "account_id", "contract_id", "subscriber_id")
_REFERENCE_FIELDS = frozenset({*_FIELDS, "entity_id", "entity_kind", "scope_type", "level"})


def needs_reference_check(op: str, changed_paths: Iterable[str]) -> bool:
    return op == "create" or any(p.split(".")[0] in _REFERENCE_FIELDS for p in changed_paths)


# What an entity concerns as a tuple: customer, account, contract and subscriber id.
ScopeIds = tuple[str | None, str | None, str | None, str | None]


def _ids(scope: Scope | None) -> ScopeIds | None:
    if scope is None:
        return None
    return (scope.customer_id, scope.account_id, scope.contract_id, scope.subscriber_id)


def check_references(
    conn: Connection,
    entities: Iterable[Entity],
    tracked_scope: Callable[[str, str], Scope | None],
) -> None:
    """Each entity's owner exists and its customer, account, contract and subscriber are the
    owner's. ``tracked_scope`` answers for owners written in the same unit of work."""
    check_scope_ids(
        conn,
        ((e.kind, e.id, e.owner(), _ids(e.scope())) for e in entities),
        lambda kind, entity_id: _ids(tracked_scope(kind, entity_id)),
    )


def check_scope_ids(
    conn: Connection,
    entities: Iterable[tuple[str, str, tuple[str, str, str] | None, ScopeIds | None]],
    tracked_scope: Callable[[str, str], ScopeIds | None],
) -> None:
    """:func:`check_references` on (kind, id, owner, scope ids) of each entity: what the bulk
    path has at hand, without building entities or scopes (tens of thousands per load)."""
    violations: list[Violation] = []
    stored: dict[tuple[str, str], ScopeIds | None] = {}  # one query per stored owner
    for entity_kind, entity_id, owner, mine in entities:
        if owner is None or mine is None:
            continue
        kind, owner_id, field = owner
        scope = tracked_scope(kind, owner_id)
        if scope is None:
            if (kind, owner_id) not in stored:
                stored[(kind, owner_id)] = _ids(_stored_scope(conn, kind, owner_id))
            scope = stored[(kind, owner_id)]
        if scope is None:
            violations.append(Violation(field, "exists", f"there is no {kind} {owner_id!r}"))
            continue
        for position, name in enumerate(_FIELDS):
            theirs = scope[position]
            if theirs is not None and mine[position] != theirs:
                violations.append(
                    Violation(
                        name,
                        "consistent",
                        f"{entity_kind} {entity_id} says {name} {mine[position]!r} but its "
                        f"{kind} {owner_id} has {theirs!r}",
                    )
                )
    if violations:
        raise ValidationFailed(violations)


def _stored_scope(conn: Connection, kind: str, entity_id: str) -> Scope | None:
    if kind not in _SCOPE_COLUMNS:
        return None
    table, columns = _SCOPE_COLUMNS[kind]
    selected = [table.c[c] if c else literal(None) for c in columns]
    row = conn.execute(select(*selected).where(table.c.id == entity_id)).first()
    return None if row is None else Scope(*row)


def check_hierarchy(conn: Connection, created: list[Account], moved: list[Account]) -> None:
    """Before the rows are written: every new parent exists, and new accounts make no cycle.

    New accounts are checked in memory: before this unit the tree had no cycle and no stored
    account can point at a new id, so a cycle could only run through new accounts. Moves are
    checked after the write (:func:`check_moves_acyclic`)."""
    violations: list[Violation] = []
    new = {acc.id: acc for acc in created}
    outside = {
        acc.parent_id for acc in [*created, *moved] if acc.parent_id and acc.parent_id not in new
    }
    found: set[str] = set()
    if outside:
        found = set(
            conn.execute(select(t.account.c.id).where(t.account.c.id.in_(outside))).scalars()
        )
    missing = outside - found
    for acc in [*created, *moved]:
        if acc.parent_id in missing:
            violations.append(
                Violation("parent_id", "exists", f"there is no account {acc.parent_id!r}")
            )
    safe: set[str] = set()  # new accounts whose way up leaves the new ones without a loop
    for acc in created:
        path: list[str] = []
        on_path: set[str] = set()
        current: Account | None = acc
        while current is not None and current.id not in safe:
            if current.id in on_path:
                parent = new.get(acc.parent_id or "")
                violations.append(_cycle(acc, parent.number if parent else None))
                break
            path.append(current.id)
            on_path.add(current.id)
            current = new.get(current.parent_id or "")
        else:
            safe.update(path)
    if violations:
        raise ValidationFailed(violations)


def check_moves_acyclic(conn: Connection, moved: list[Account]) -> None:
    """After the rows are written: no moved account is now its own ancestor. A recursive query
    up from its new parent (``UNION``, so that even a damaged tree cannot make it loop)."""
    violations: list[Violation] = []
    for acc in moved:
        if acc.parent_id is None:
            continue
        up = (
            select(t.account.c.id, t.account.c.parent_id)
            .where(t.account.c.id == acc.parent_id)
            .cte("up", recursive=True)
        )
        parent = aliased(t.account)
        up = up.union(
            select(parent.c.id, parent.c.parent_id).join(up, parent.c.id == up.c.parent_id)
        )
        if conn.execute(select(up.c.id).where(up.c.id == acc.id).limit(1)).first():
            number = conn.execute(
                select(t.account.c.number).where(t.account.c.id == acc.parent_id)
            ).scalar_one_or_none()
            violations.append(_cycle(acc, number or acc.parent_id))
    if violations:
        raise ValidationFailed(violations)


def _cycle(account: Account, parent: str | None) -> Violation:
    """``parent``: the new parent's number where it is known (an agent reads numbers, not
    ids), else its id."""
    return Violation(
        "parent_id",
        "acyclic",
        f"account {account.number} cannot go under {parent or account.parent_id}: that account "
        "is below it, so the hierarchy would become a cycle",
    )


# Tables whose rows copy the scope of what they belong to. Usage lines are left out: they are
# immutable records of where the traffic was billed at the time.
_DEPENDENT_TABLES = (
    t.account,
    t.contract,
    t.subscriber,
    t.service_assignment,
    t.discount_assignment,
    t.balance,
    t.free_unit_bucket,
    t.listing_suppression,
    t.attribute_value,
)


def moved_owners(writes: Iterable[tuple[Entity, str, Iterable[str]]]) -> list[Entity]:
    """Entities whose own scope changed in an update (a contract moved to another account)."""
    moved = []
    for entity, op, changed in writes:
        fields = {path.split(".")[0] for path in changed}
        if op == "update" and fields & set(_FIELDS) and entity.kind in _SCOPE_COLUMNS:
            moved.append(entity)
    return moved


def check_dependents(conn: Connection, owners: Iterable[Entity]) -> None:
    """After a move, nothing below the moved entity may still name its old place: the caller
    moves the subscribers, services… with it, in the same unit of work."""
    violations: list[Violation] = []
    for owner in owners:
        key = f"{owner.kind}_id"
        scope = owner.scope()
        for table in _DEPENDENT_TABLES:
            if key not in table.c:
                continue
            differs = [
                table.c[name] != getattr(scope, name)
                for name in _FIELDS
                if name != key and name in table.c and getattr(scope, name) is not None
            ]
            if not differs:
                continue
            stale = conn.execute(
                select(func.count()).where(table.c[key] == owner.id, or_(*differs))
            ).scalar_one()
            if stale:
                violations.append(
                    Violation(
                        key,
                        "consistent",
                        f"{stale} {table.name} row(s) of {owner.kind} {owner.id} still name its "
                        "old customer, account or contract; move them in the same change",
                    )
                )
    if violations:
        raise ValidationFailed(violations)
