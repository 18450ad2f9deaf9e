"""History: timelines, versions, as-of reads and diffs between versions."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, select, union_all

from adapter.domain import ENTITY_KINDS
from adapter.domain.errors import NotFound, ValidationFailed
from adapter.domain.history import diff
from adapter.store import tables as t

SUBJECTS = ("customer", "account", "contract", "subscriber")


@dataclass(frozen=True)
class TimelineEntry:
    """One entity version in a timeline: who, when, which request, what changed."""

    change_id: int
    at: datetime
    originating_user: str
    principal: str
    channel: str
    request_id: str
    operation: str
    entity_type: str
    entity_id: str
    version: int
    op: str
    diff: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


def _timeline_select() -> Select[Any]:
    v, c = t.entity_version.c, t.change.c
    return select(
        v.change_id,
        c.at,
        c.originating_user,
        c.principal,
        c.channel,
        c.request_id,
        c.operation,
        v.entity_type,
        v.entity_id,
        v.version,
        v.op,
        v.diff,
        v.id.label("vid"),
    ).join(t.change, c.id == v.change_id)


def timeline(
    conn: Connection, subject: str, subject_id: str, *, limit: int = 1000, offset: int = 0
) -> list[TimelineEntry]:
    """Every change concerning a customer, account, contract or subscriber, oldest first.

    A subscriber's timeline has its own versions and those of its contract, services,
    discounts, suppressions and attribute values; one of an account or customer has everything
    under it. Each part is one indexed query."""
    v = t.entity_version.c
    if subject not in SUBJECTS:
        raise ValidationFailed.one(
            "subject", "known", f"history is kept for {', '.join(SUBJECTS)}, not {subject!r}"
        )
    if subject == "subscriber":
        contract_id = _subscriber_contract(conn, subject_id)
        parts = union_all(
            _timeline_select().where(v.subscriber_id == subject_id),
            _timeline_select().where(v.contract_id == contract_id, v.subscriber_id.is_(None)),
        ).subquery()
        query = select(parts).order_by(parts.c.change_id, parts.c.vid)
    else:
        column = {"customer": v.customer_id, "account": v.account_id, "contract": v.contract_id}[
            subject
        ]
        if not _has_history(conn, subject, subject_id):
            raise NotFound(subject, subject_id)
        query = _timeline_select().where(column == subject_id).order_by(v.change_id, v.id)
    rows = conn.execute(query.limit(limit).offset(offset)).all()
    return [
        TimelineEntry(
            change_id=r.change_id,
            at=r.at,
            originating_user=r.originating_user,
            principal=r.principal,
            channel=r.channel,
            request_id=r.request_id,
            operation=r.operation,
            entity_type=r.entity_type,
            entity_id=r.entity_id,
            version=r.version,
            op=r.op,
            diff=r.diff,
        )
        for r in rows
    ]


def _has_history(conn: Connection, kind: str, entity_id: str) -> bool:
    v = t.entity_version.c
    return (
        conn.execute(
            select(v.id).where(v.entity_type == kind, v.entity_id == entity_id).limit(1)
        ).first()
        is not None
    )


def _subscriber_contract(conn: Connection, subscriber_id: str) -> str:
    v = t.entity_version.c
    contract_id = conn.execute(
        select(v.contract_id)
        .where(v.entity_type == "subscriber", v.entity_id == subscriber_id)
        .order_by(v.version.desc())
        .limit(1)
    ).scalar_one_or_none()
    if contract_id is None:
        raise NotFound("subscriber", subscriber_id)
    return str(contract_id)


@dataclass(frozen=True)
class VersionInfo:
    version: int
    op: str
    change_id: int
    valid_from: datetime
    valid_to: datetime | None
    originating_user: str
    request_id: str
    operation: str


def versions(conn: Connection, kind: str, entity_id: str) -> list[VersionInfo]:
    v, c = t.entity_version.c, t.change.c
    rows = conn.execute(
        select(
            v.version,
            v.op,
            v.change_id,
            v.valid_from,
            v.valid_to,
            c.originating_user,
            c.request_id,
            c.operation,
        )
        .join(t.change, c.id == v.change_id)
        .where(v.entity_type == kind, v.entity_id == entity_id)
        .order_by(v.version)
    ).all()
    if not rows:
        raise NotFound(kind, entity_id)
    return [VersionInfo(**r._mapping) for r in rows]


def version_snapshot(conn: Connection, kind: str, entity_id: str, version: int) -> dict[str, Any]:
    v = t.entity_version.c
    row = conn.execute(
        select(v.snapshot).where(
            v.entity_type == kind, v.entity_id == entity_id, v.version == version
        )
    ).one_or_none()
    if row is None:
        raise ValidationFailed.one(
            "version", "exists", f"{kind} {entity_id} has no version {version}"
        )
    snapshot: dict[str, Any] = row.snapshot
    return snapshot


def as_of(conn: Connection, kind: str, entity_id: str, at: datetime) -> dict[str, Any] | None:
    """The entity's state at instant ``at``: None if it did not exist then (or was deleted)."""
    if kind not in ENTITY_KINDS:
        raise ValidationFailed.one("kind", "known", f"unknown entity kind {kind!r}")
    if at.tzinfo is None:
        raise ValidationFailed.one("as_of", "timezone", "give the instant with a timezone")
    v = t.entity_version.c
    row = conn.execute(
        select(v.op, v.snapshot)
        .where(v.entity_type == kind, v.entity_id == entity_id, v.valid_from <= at)
        .order_by(v.version.desc())
        .limit(1)
    ).one_or_none()
    if row is None or row.op == "delete":
        return None
    snapshot: dict[str, Any] = row.snapshot
    return snapshot


def diff_versions(
    conn: Connection, kind: str, entity_id: str, old: int, new: int
) -> dict[str, dict[str, Any]]:
    """What changed from version ``old`` to version ``new`` (either order)."""
    return diff(
        version_snapshot(conn, kind, entity_id, old), version_snapshot(conn, kind, entity_id, new)
    )
