"""The change log, queried: who changed what, when, under which request.

Filters combine with AND: the originating user, an entity (type and/or id: the changes that
wrote a version of it, and the reveals of a subscriber's suppressed listings, which change no
entity but name it), a request id, and a time range (``since`` included, ``until``
excluded). Newest first, a page at a time, with the total."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, func, or_, select

from adapter.domain.errors import ValidationFailed
from adapter.store import tables as t

REVEAL_OPERATION = "listing.reveal"  # adapter.service.listings.LISTING_REVEAL


@dataclass(frozen=True)
class AuditFilter:
    user: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    request_id: str | None = None
    operation: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def check(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValidationFailed.one(
                    name, "timezone", f"give {name} with a timezone (…Z or +01:00)"
                )
        if self.since and self.until and self.until <= self.since:
            raise ValidationFailed.one("until", "range", "until must be after since")


@dataclass
class AuditEntry:
    change: dict[str, Any]
    entities: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**self.change, "entities": self.entities}


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditEntry]
    total: int


def _conditions(query: AuditFilter) -> list[Any]:
    c, v = t.change.c, t.entity_version.c
    found: list[Any] = []
    if query.user is not None:
        found.append(c.originating_user == query.user)
    if query.request_id is not None:
        found.append(c.request_id == query.request_id)
    if query.operation is not None:
        found.append(c.operation == query.operation)
    if query.since is not None:
        found.append(c.at >= query.since)
    if query.until is not None:
        found.append(c.at < query.until)
    if query.entity_type is not None or query.entity_id is not None:
        entity = [v.change_id == c.id]
        if query.entity_type is not None:
            entity.append(v.entity_type == query.entity_type)
        if query.entity_id is not None:
            entity.append(v.entity_id == query.entity_id)
        either: list[Any] = [exists().where(and_(*entity))]
        if query.entity_type in (None, "subscriber") and query.entity_id is not None:
            either.append(
                and_(
                    c.operation == REVEAL_OPERATION,
                    c.summary["subscriber_id"].as_string() == query.entity_id,
                )
            )
        found.append(or_(*either))
    return found


def query_changes(
    conn: Connection, query: AuditFilter, *, limit: int = 50, offset: int = 0
) -> AuditPage:
    """A page of the changes matching QUERY, newest first, each with the entities it wrote
    (type, id, version, op)."""
    query.check()
    c, v = t.change.c, t.entity_version.c
    where = and_(*_conditions(query))
    total = conn.execute(select(func.count()).select_from(t.change).where(where)).scalar_one()
    rows = conn.execute(
        select(
            c.id,
            c.at,
            c.originating_user,
            c.principal,
            c.channel,
            c.request_id,
            c.operation,
            c.outcome,
            c.summary,
            c.hash,
        )
        .where(where)
        .order_by(c.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    entries = {row.id: AuditEntry({**row._mapping, "at": row.at.isoformat()}) for row in rows}
    ids: Sequence[int] = list(entries)
    if ids:
        for version in conn.execute(
            select(v.change_id, v.entity_type, v.entity_id, v.version, v.op)
            .where(v.change_id.in_(ids))
            .order_by(v.change_id, v.id)
        ):
            entries[version.change_id].entities.append(
                {
                    "entity_type": version.entity_type,
                    "entity_id": version.entity_id,
                    "version": version.version,
                    "op": version.op,
                }
            )
    return AuditPage(list(entries.values()), int(total))
