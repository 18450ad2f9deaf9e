"""Restore an entity, or one field of it, to an old version, as a new audited change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from adapter.domain import ENTITY_KINDS, Entity
from adapter.domain.attributes import AttributeDefinition, AttributeValue
from adapter.domain.errors import ValidationFailed
from adapter.domain.history import get_path, with_path
from adapter.domain.model import Contract
from adapter.domain.validation import parse
from adapter.store import tables as t
from adapter.store.uow import UnitOfWork


def restore(
    uow: UnitOfWork, kind: str, entity_id: str, version: int, field: str | None = None
) -> Entity:
    """Make version ``version``'s values (all of them, or the one at dotted path ``field``)
    the current state. History is not rewritten: the caller's commit adds a new version."""
    if kind not in ENTITY_KINDS:
        known = ", ".join(sorted(ENTITY_KINDS))
        raise ValidationFailed.one("kind", "known", f"unknown entity kind {kind!r} ({known})")
    model = ENTITY_KINDS[kind]
    old = _snapshot_of(uow, kind, entity_id, version)
    current = uow.find(model, entity_id)
    if field is not None:
        if field in ("id",) or field.startswith("id."):
            raise ValidationFailed.one("field", "immutable", "the id cannot be restored")
        if current is None:
            raise ValidationFailed.one(
                "field",
                "exists",
                f"{kind} {entity_id} does not exist now; restore the whole entity instead",
            )
        try:
            value = get_path(old, field)
        except KeyError:
            raise ValidationFailed.one(
                "field", "exists", f"version {version} of {kind} has no field {field!r}"
            ) from None
        restored = parse(model, with_path(current.snapshot(), field, value))
    else:
        restored = parse(model, old)
    if isinstance(restored, AttributeValue):
        _check_attribute(uow, restored)
    if isinstance(restored, Contract) and isinstance(current, Contract):
        if field is not None and field.split(".")[0] == "status_history":
            raise ValidationFailed.one(
                "field",
                "restorable",
                "a contract's status history records what happened and cannot be restored; "
                "restore its status instead",
            )
        restored = _contract_status_moves_forward(current, restored, version, uow.now())
    if current is None:
        uow.add(restored, recreate=True)
    else:
        uow.replace(restored)
    return restored


def _contract_status_moves_forward(
    current: Contract, restored: Contract, version: int, at: datetime
) -> Contract:
    """A contract's status history is a record of what happened, not a value to put back: the
    restored contract keeps the current history, and a different status is reached through a
    transition a BSCS contract allows, recorded like any other."""
    wanted = restored.status
    result = restored.model_copy(
        update={"status": current.status, "status_history": list(current.status_history)}
    )
    if wanted is not current.status:
        result.change_status(wanted, at, f"restored from version {version}")
    return result


def _snapshot_of(uow: UnitOfWork, kind: str, entity_id: str, version: int) -> dict[str, Any]:
    v = t.entity_version.c
    rows = uow.connection.execute(
        select(v.version, v.snapshot)
        .where(v.entity_type == kind, v.entity_id == entity_id)
        .order_by(v.version)
    ).all()
    if not rows:
        raise ValidationFailed.one("entity", "exists", f"{kind} {entity_id} has no history")
    for row in rows:
        if row.version == version:
            snapshot: dict[str, Any] = row.snapshot
            return snapshot
    raise ValidationFailed.one(
        "version",
        "exists",
        f"{kind} {entity_id} has no version {version} (it has versions 1 to {rows[-1].version})",
    )


def _check_attribute(uow: UnitOfWork, value: AttributeValue) -> None:
    found = uow.find_by(AttributeDefinition, name=value.name)
    if not found:
        raise ValidationFailed.one(
            f"attributes.{value.name}", "defined", f"attribute {value.name} is no longer defined"
        )
    if not found[0].active:
        raise ValidationFailed.one(
            f"attributes.{value.name}",
            "active",
            f"attribute {value.name} is retired; reinstate it first",
        )
    found[0].coerce(value.value)
