"""Custom attributes: define, retire and reinstate definitions; set values on entities."""

from __future__ import annotations

from typing import Any

from adapter.domain import ENTITY_KINDS
from adapter.domain.attributes import AttributeDefinition, AttributeTarget, AttributeValue
from adapter.domain.errors import Conflict, NotFound, ValidationFailed
from adapter.domain.validation import parse
from adapter.store.uow import UnitOfWork


def define_attribute(uow: UnitOfWork, data: dict[str, Any]) -> AttributeDefinition:
    definition = parse(AttributeDefinition, {**data, "status": "active"})
    uow.add(definition)
    return definition


def _definition(uow: UnitOfWork, name: str) -> AttributeDefinition:
    found = uow.find_by(AttributeDefinition, name=name)
    if not found:
        raise NotFound("attribute definition", name)
    return found[0]


def retire_attribute(uow: UnitOfWork, name: str) -> AttributeDefinition:
    """Retire a definition: its values stay readable and in history, no new value is accepted."""
    definition = _definition(uow, name)
    if not definition.active:
        raise Conflict(f"attribute {name} is already retired")
    definition.status = "retired"
    return definition


def reinstate_attribute(uow: UnitOfWork, name: str) -> AttributeDefinition:
    definition = _definition(uow, name)
    if definition.active:
        raise Conflict(f"attribute {name} is active, not retired")
    definition.status = "active"
    return definition


def check_settable(definition: AttributeDefinition, entity_kind: str) -> None:
    """Refuse a new value under ``definition`` when it is retired or belongs to another kind
    of entity than ``entity_kind``. Shared with the BSCS import, so that a value refused here
    is refused there with the same violation; the value itself is checked by
    :meth:`AttributeDefinition.coerce`."""
    field = f"attributes.{definition.name}"
    if not definition.active:
        raise ValidationFailed.one(field, "active", f"attribute {definition.name} is retired")
    if definition.entity_kind.value != entity_kind:
        raise ValidationFailed.one(
            field,
            "entity_kind",
            f"attribute {definition.name} belongs to {definition.entity_kind.value}s, "
            f"not {entity_kind}s",
        )


def set_attribute(
    uow: UnitOfWork, entity_kind: str, entity_id: str, name: str, raw: Any
) -> AttributeValue | None:
    """Set (or with ``raw`` None, clear) the value of attribute ``name`` on an entity."""
    field = f"attributes.{name}"
    definitions = uow.find_by(AttributeDefinition, name=name)
    if not definitions:
        raise ValidationFailed.one(field, "defined", f"there is no attribute named {name!r}")
    definition = definitions[0]
    check_settable(definition, entity_kind)
    target = uow.get(ENTITY_KINDS[entity_kind], entity_id)
    value = definition.coerce(raw)
    existing = uow.find_by(AttributeValue, entity_kind=entity_kind, entity_id=entity_id, name=name)
    if value is None:
        if existing:
            uow.remove(existing[0])
        return None
    if existing:
        existing[0].value = value
        return existing[0]
    scope = target.scope()
    created = AttributeValue(
        name=name,
        entity_kind=AttributeTarget(entity_kind),
        entity_id=entity_id,
        value=value,
        customer_id=scope.customer_id,
        account_id=scope.account_id,
        contract_id=scope.contract_id,
        subscriber_id=scope.subscriber_id,
    )
    uow.add(created)
    return created
