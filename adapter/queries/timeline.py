"""Counts and single versions for paging through history (``adapter.queries.history`` reads
the timelines and snapshots themselves)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Text, cast, func, select

from adapter.domain.errors import NotFound
from adapter.domain.history import stored_diff
from adapter.store import tables as t

v = t.entity_version.c


def timeline_count(conn: Connection, subject: str, subject_id: str) -> int:
    """How many entries ``history.timeline`` has for the subject (the same parts)."""
    if subject == "subscriber":
        contract_id = conn.execute(
            select(v.contract_id)
            .where(v.entity_type == "subscriber", v.entity_id == subject_id)
            .order_by(v.version.desc())
            .limit(1)
        ).scalar_one_or_none()
        if contract_id is None:
            raise NotFound("subscriber", subject_id)
        own = conn.execute(
            select(func.count()).select_from(t.entity_version).where(v.subscriber_id == subject_id)
        ).scalar_one()
        shared = conn.execute(
            select(func.count())
            .select_from(t.entity_version)
            .where(v.contract_id == contract_id, v.subscriber_id.is_(None))
        ).scalar_one()
        return int(own) + int(shared)
    column = {"customer": v.customer_id, "account": v.account_id, "contract": v.contract_id}[
        subject
    ]
    return int(
        conn.execute(
            select(func.count()).select_from(t.entity_version).where(column == subject_id)
        ).scalar_one()
    )


def version_detail(conn: Connection, kind: str, entity_id: str, version: int) -> dict[str, Any]:
    """One version of an entity: its number, op, validity, the change that wrote it (who,
    when, which request and operation), its full snapshot and its diff from the version
    before. NotFound when the entity has no such version."""
    c = t.change.c
    row = conn.execute(
        select(
            v.version,
            v.op,
            v.valid_from,
            v.valid_to,
            v.snapshot,
            cast(v.diff, Text).label("diff_json"),
            v.change_id,
            c.at,
            c.originating_user,
            c.principal,
            c.channel,
            c.request_id,
            c.operation,
        )
        .join(t.change, c.id == v.change_id)
        .where(v.entity_type == kind, v.entity_id == entity_id, v.version == version)
    ).one_or_none()
    if row is None:
        raise NotFound(f"version {version} of {kind}", entity_id)
    latest = conn.execute(
        select(func.max(v.version)).where(v.entity_type == kind, v.entity_id == entity_id)
    ).scalar_one()
    return {
        "kind": kind,
        "entity_id": entity_id,
        "version": row.version,
        "latest_version": int(latest),
        "op": row.op,
        "valid_from": row.valid_from.isoformat(),
        "valid_to": row.valid_to.isoformat() if row.valid_to else None,
        "change": {
            "id": row.change_id,
            "at": row.at.isoformat(),
            "originating_user": row.originating_user,
            "principal": row.principal,
            "channel": row.channel,
            "request_id": row.request_id,
            "operation": row.operation,
        },
        "snapshot": row.snapshot,
        "diff": stored_diff(row.op, json.loads(row.diff_json), row.snapshot),
    }
