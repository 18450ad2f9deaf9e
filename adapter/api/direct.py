"""Writes that no provisioning request operation covers, made in the caller's name: defining
and changing custom attribute definitions, and recording a reveal of suppressed listings.

Routes do not open a unit of work (``docs/api.md``): for these few writes they call a function
here, which opens one with the same actor :mod:`adapter.api.writes` gives a request (the
caller as originating user, principal ``crm-api``, channel ``api``, the request id from
``Idempotency-Key`` or a new one), so that each is one audited change of the hash-chained log,
like every other write. Store calls are synchronous: routes run these in the thread pool."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from adapter.domain import Actor
from adapter.domain.attributes import AttributeDefinition
from adapter.domain.errors import NotFound, ValidationFailed
from adapter.domain.validation import validating
from adapter.service import attributes as attribute_svc
from adapter.service.listings import Listing, Month, reveal_listings
from adapter.store.uow import UnitOfWork

from .access import Caller
from .writes import CHANNEL, PRINCIPAL

CHANGEABLE = ("label", "status")
"""What PATCH /attributes/{name} may change: the label, and the status (retire/reinstate).
Type, entity kind and validation stay as defined (stored values were checked against them)."""


def actor_of(caller: Caller, request_id: str) -> Actor:
    return Actor(
        originating_user=caller.name, principal=PRINCIPAL, channel=CHANNEL, request_id=request_id
    )


def _definition(uow: UnitOfWork, name: str) -> AttributeDefinition:
    found = uow.find_by(AttributeDefinition, name=name)
    if not found:
        raise NotFound("attribute definition", name)
    return found[0]


def define_attribute(
    engine: Engine, caller: Caller, data: dict[str, Any], request_id: str
) -> tuple[dict[str, Any], int]:
    """A new active definition; (its data, the change id)."""
    with UnitOfWork(engine, actor_of(caller, request_id)) as uow:
        definition = attribute_svc.define_attribute(uow, data)
        change = uow.commit("attributes.define", {"name": definition.name})
    return definition.snapshot(), change.id


def change_attribute(
    engine: Engine, caller: Caller, name: str, patch: dict[str, Any], request_id: str
) -> tuple[dict[str, Any], int | None]:
    """Apply a merge patch of :data:`CHANGEABLE` members to definition NAME: a new label,
    ``status`` ``retired`` (retire) or ``active`` (reinstate). (Its data, the change id; None
    when nothing differed, in which case nothing is written.)"""
    unknown = sorted(set(patch) - set(CHANGEABLE))
    if unknown:
        raise ValidationFailed.one(
            unknown[0],
            "changeable",
            f"only {', '.join(CHANGEABLE)} of a definition can be changed; define a new "
            "attribute for another type, entity kind or validation",
        )
    with UnitOfWork(engine, actor_of(caller, request_id)) as uow:
        definition = _definition(uow, name)
        before = definition.snapshot()
        operations: list[str] = []
        status = patch.get("status")
        if "status" in patch:
            if status not in ("active", "retired"):
                raise ValidationFailed.one("status", "enum", "status is active or retired")
            if status != definition.status:
                if status == "retired":
                    attribute_svc.retire_attribute(uow, name)
                    operations.append("attributes.retire")
                else:
                    attribute_svc.reinstate_attribute(uow, name)
                    operations.append("attributes.reinstate")
        if "label" in patch and patch["label"] != definition.label:
            with validating():
                definition.label = patch["label"]
            operations.append("attributes.relabel")
        if definition.snapshot() == before:
            return before, None
        change = uow.commit(
            operations[0] if len(operations) == 1 else "attributes.change",
            {"name": name, "changed": sorted(k for k in patch if k in CHANGEABLE)},
        )
        return definition.snapshot(), change.id


def reveal(
    engine: Engine,
    caller: Caller,
    subscriber_id: str,
    month: Month,
    request_id: str,
    *,
    limit: int,
    offset: int,
) -> Listing:
    """The listing with suppressed lines shown, the reveal audited in the caller's name."""
    return reveal_listings(
        engine, actor_of(caller, request_id), subscriber_id, month, limit=limit, offset=offset
    )
