"""History: timelines, versions, as-of reads and diffs between versions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, Text, case, cast, select, union_all

from adapter.domain import ENTITY_KINDS
from adapter.domain.errors import NotFound, ValidationFailed
from adapter.domain.history import diff, stored_diff
from adapter.store import tables as t

SUBJECTS = ("customer", "account", "contract", "subscriber")


class TimelineEntry(NamedTuple):
    """One entity version in a timeline: who, when, which request, what changed.

    A named tuple of plain values, built positionally from result rows, with the diff kept as
    the JSON text the store holds and decoded on access (:attr:`diff`). A timeline of a
    thousand entries is read often: decoding every diff up front would cost as much as the
    query, and thousands of nested dicts per read keep the garbage collector busy, while an
    API can pass the text through as it is."""

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
    diff_json: str
    created_json: str | None  # a creation's snapshot, from which its diff is derived

    @property
    def diff(self) -> dict[str, Any]:
        """What changed, as ``{dotted.path: {"old": …, "new": …}}``."""
        decoded: dict[str, Any] = json.loads(self.diff_json)
        if self.created_json is None:
            return decoded
        return stored_diff(self.op, decoded, json.loads(self.created_json))

    def as_dict(self) -> dict[str, Any]:
        data = self._asdict()
        del data["diff_json"], data["created_json"]
        data["at"] = self.at.isoformat()
        data["diff"] = self.diff
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
        cast(v.diff, Text).label("diff_json"),
        case((v.op == "create", cast(v.snapshot, Text))).label("created_json"),
        v.id.label("vid"),
    ).join(t.change, c.id == v.change_id)


def timeline(
    conn: Connection,
    subject: str,
    subject_id: str,
    *,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = False,
) -> list[TimelineEntry]:
    """Every change concerning a customer, account, contract or subscriber, oldest first
    (or newest first), all of it or the page ``offset``/``limit``.

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
        order = [parts.c.change_id, parts.c.vid]
        query = select(parts).order_by(*(c.desc() if newest_first else c for c in order))
    else:
        column = {"customer": v.customer_id, "account": v.account_id, "contract": v.contract_id}[
            subject
        ]
        if not _has_history(conn, subject, subject_id):
            raise NotFound(subject, subject_id)
        query = (
            _timeline_select()
            .where(column == subject_id)
            .order_by(*(c.desc() if newest_first else c for c in (v.change_id, v.id)))
        )
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    rows = conn.execute(query).tuples().all()
    return [TimelineEntry._make(row[:13]) for row in rows]


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
