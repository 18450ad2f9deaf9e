"""The tamper-evident change log: how a change's hash is computed, and its verification.

Each change row carries ``hash = sha256(canonical JSON of the change, its version rows and the
digest of the usage lines it recorded, with the previous row's hash)``. Change ids run 1, 2, 3…
without gaps and ``audit_head`` holds the last id and hash, so editing, inserting or deleting any
change or version row breaks the chain at that point.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from adapter.store import jsontext
from adapter.store import tables as t
from adapter.store.entities import MAPPINGS

VERSION_FIELDS = (
    "entity_type",
    "entity_id",
    "version",
    "op",
    "valid_from",
    "snapshot",
    "diff",
    "customer_id",
    "account_id",
    "contract_id",
    "subscriber_id",
)
CHANGE_FIELDS = (
    "id",
    "at",
    "originating_user",
    "principal",
    "channel",
    "request_id",
    "operation",
    "outcome",
    "summary",
    "prev_hash",
)


def canonical(value: Any) -> bytes:
    return jsontext.encode(value)


def usage_digest(snapshots: Iterable[dict[str, Any]]) -> str:
    """Digest of the usage lines one change recorded, in id order."""
    ordered = sorted(snapshots, key=lambda s: str(s["id"]))
    return hashlib.sha256(canonical(ordered)).hexdigest()


def change_hash(change: dict[str, Any], versions: Iterable[dict[str, Any]]) -> str:
    body = {
        "change": {k: change[k] for k in CHANGE_FIELDS},
        "versions": sorted(
            ({k: v[k] for k in VERSION_FIELDS} for v in versions),
            key=lambda v: (v["entity_type"], v["entity_id"], v["version"]),
        ),
    }
    return hashlib.sha256(canonical(body)).hexdigest()


@dataclass
class VerifyReport:
    changes: int = 0
    versions: int = 0
    usage_records: int = 0
    entities: int = 0
    head_seq: int = 0
    head_hash: str = t.GENESIS_HASH
    problems: list[str] = field(default_factory=list)
    max_problems: int = 100

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        if len(self.problems) < self.max_problems:
            self.problems.append(text)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "changes": self.changes,
            "versions": self.versions,
            "usage_records": self.usage_records,
            "entities": self.entities,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "problems": self.problems,
        }


def _grouped(rows: Iterable[Any], key: str) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Consecutive rows with the same ``key`` column, as dicts (rows come ordered by it)."""
    current: int | None = None
    batch: list[dict[str, Any]] = []
    for row in rows:
        mapping = dict(row._mapping)
        if mapping[key] != current and batch:
            assert current is not None
            yield current, batch
            batch = []
        current = mapping[key]
        batch.append(mapping)
    if batch:
        assert current is not None
        yield current, batch


def read_head(conn: Connection) -> tuple[int, str]:
    head = conn.execute(select(t.audit_head.c.seq, t.audit_head.c.hash)).one()
    return int(head.seq), str(head.hash)


def verify(conn: Connection, expect_head: tuple[int, str] | None = None) -> VerifyReport:
    """Walk the whole change log and say what does not add up.

    Checks: ids without gaps, each prev_hash equal to the previous hash, each hash equal to the
    recomputed one (so a version row or usage line edited, added or removed shows), no version
    row pointing past the log, versions of each entity numbered without gaps with valid_to
    equal to the next version's valid_from, each current row equal to its last version, the
    head row equal to the last change, and optionally that head equal to a value kept outside.
    """
    report = VerifyReport()
    versions = _grouped(
        conn.execution_options(yield_per=2000).execute(
            select(t.entity_version).order_by(t.entity_version.c.change_id, t.entity_version.c.id)
        ),
        "change_id",
    )
    usage = _grouped(
        conn.execution_options(yield_per=2000).execute(
            select(t.usage_record.c.change_id, t.usage_record.c.data).order_by(
                t.usage_record.c.change_id
            )
        ),
        "change_id",
    )
    pending_versions = next(versions, None)
    pending_usage = next(usage, None)
    expected_id = 1
    prev_hash = t.GENESIS_HASH
    last_at = None
    for row in conn.execution_options(yield_per=2000).execute(
        select(t.change).order_by(t.change.c.id)
    ):
        ch = dict(row._mapping)
        report.changes += 1
        if ch["id"] != expected_id:
            report.problem(f"change {expected_id}: missing (next change found is {ch['id']})")
        if ch["prev_hash"] != prev_hash:
            report.problem(f"change {ch['id']}: prev_hash does not match the previous change")
        own: list[dict[str, Any]] = []
        while pending_versions is not None and pending_versions[0] <= ch["id"]:
            if pending_versions[0] < ch["id"]:
                report.problem(
                    f"version rows point at change {pending_versions[0]}, which is not in the log"
                )
            else:
                own = pending_versions[1]
            pending_versions = next(versions, None)
        report.versions += len(own)
        lines: list[dict[str, Any]] = []
        while pending_usage is not None and pending_usage[0] <= ch["id"]:
            if pending_usage[0] < ch["id"]:
                report.problem(
                    f"usage lines point at change {pending_usage[0]}, which is not in the log"
                )
            else:
                lines = pending_usage[1]
            pending_usage = next(usage, None)
        report.usage_records += len(lines)
        digest = ch["summary"].get("usage_digest") if isinstance(ch["summary"], dict) else None
        if (lines or digest) and digest != usage_digest(line["data"] for line in lines):
            report.problem(f"change {ch['id']}: its usage lines were edited, added or removed")
        if change_hash(ch, own) != ch["hash"]:
            report.problem(
                f"change {ch['id']}: content does not match its hash "
                "(the change or one of its version rows was edited)"
            )
        prev_hash = ch["hash"]
        last_at = ch["at"]
        expected_id = ch["id"] + 1
    if pending_versions is not None:
        report.problem(f"version rows point at change {pending_versions[0]}, past the log's end")
    if pending_usage is not None:
        report.problem(f"usage lines point at change {pending_usage[0]}, past the log's end")

    head = conn.execute(
        select(t.audit_head.c.seq, t.audit_head.c.hash, t.audit_head.c.at)
    ).one_or_none()
    last_seq = expected_id - 1
    if head is None:
        report.problem("the audit head row is missing")
    else:
        report.head_seq, report.head_hash = int(head.seq), str(head.hash)
        if head.seq == last_seq and head.at != last_at:
            report.problem("audit head's instant differs from the last change's")
        if head.seq != last_seq or head.hash != prev_hash:
            report.problem(
                f"audit head says change {head.seq} but the log ends at {last_seq} "
                "(changes were deleted from or added to the end)"
            )
    if expect_head is not None and (report.head_seq, report.head_hash) != expect_head:
        report.problem(
            f"head is {report.head_seq}:{report.head_hash[:12]}…, expected "
            f"{expect_head[0]}:{expect_head[1][:12]}… (kept outside the database)"
        )
    _verify_version_sequences(conn, report)
    _verify_current_rows(conn, report)
    return report


def _verify_version_sequences(conn: Connection, report: VerifyReport) -> None:
    v = t.entity_version.c
    previous: dict[str, Any] | None = None
    for row in conn.execution_options(yield_per=5000).execute(
        select(v.entity_type, v.entity_id, v.version, v.valid_from, v.valid_to).order_by(
            v.entity_type, v.entity_id, v.version
        )
    ):
        cur = dict(row._mapping)
        name = f"{cur['entity_type']} {cur['entity_id']}"
        same = previous is not None and (previous["entity_type"], previous["entity_id"]) == (
            cur["entity_type"],
            cur["entity_id"],
        )
        if same:
            assert previous is not None
            if cur["version"] != previous["version"] + 1:
                report.problem(f"{name}: version {previous['version'] + 1} is missing")
            if previous["valid_to"] != cur["valid_from"]:
                report.problem(f"{name}: version {previous['version']} valid_to was altered")
        else:
            if previous is not None and previous["valid_to"] is not None:
                report.problem(
                    f"{previous['entity_type']} {previous['entity_id']}: last version "
                    "has a valid_to"
                )
            if cur["version"] != 1:
                report.problem(f"{name}: versions before {cur['version']} are missing")
        previous = cur
    if previous is not None and previous["valid_to"] is not None:
        report.problem(
            f"{previous['entity_type']} {previous['entity_id']}: last version has a valid_to"
        )


def _verify_current_rows(conn: Connection, report: VerifyReport) -> None:
    """Each current row equals its last version, and so do the columns and search-key rows
    derived from it (a lookup column edited by hand would otherwise find the wrong entity)."""
    v = t.entity_version
    for kind, mapping in MAPPINGS.items():
        if not mapping.versioned:
            continue
        table = mapping.table
        query = select(table, v.c.snapshot).outerjoin(
            v,
            (v.c.entity_type == kind)
            & (v.c.entity_id == table.c.id)
            & (v.c.version == table.c.version),
        )
        batch: list[tuple[str, Any]] = []
        for row in conn.execution_options(yield_per=BATCH).execute(query):
            report.entities += 1
            if row.snapshot is None:
                report.problem(f"{kind} {row.id}: current row has no version {row.version}")
                continue
            if canonical(row.data) != canonical(row.snapshot):
                report.problem(f"{kind} {row.id}: current row differs from its last version")
                continue
            entity = mapping.model.model_validate(row.data)
            for column, expected in mapping.columns(entity).items():
                if row._mapping[column] != expected:
                    report.problem(f"{kind} {row.id}: column {column} does not match its data")
            if mapping.children:
                batch.append((row.id, entity))
                if len(batch) >= BATCH:
                    _verify_children(conn, mapping, batch, report)
                    batch = []
        if batch:
            _verify_children(conn, mapping, batch, report)


BATCH = 1000


def _verify_children(
    conn: Connection, mapping: Any, batch: list[tuple[str, Any]], report: VerifyReport
) -> None:
    ids = [entity_id for entity_id, _ in batch]
    expected: dict[str, dict[str, list[str]]] = {}
    for entity_id, entity in batch:
        for child, rows in mapping.children(entity).items():
            expected.setdefault(child.name, {})[entity_id] = sorted(
                canonical(r).decode() for r in rows
            )
    for child in {c for _, e in batch[:1] for c in mapping.children(e)}:
        stored: dict[str, list[str]] = {}
        columns = [c for c in child.c]
        for row in conn.execute(select(*columns).where(child.c.customer_id.in_(ids))):
            stored.setdefault(row.customer_id, []).append(
                canonical({str(k): v for k, v in row._mapping.items()}).decode()
            )
        for entity_id in ids:
            if sorted(stored.get(entity_id, [])) != expected[child.name].get(entity_id, []):
                report.problem(
                    f"{mapping.model.kind} {entity_id}: its {child.name} rows do not match its data"
                )
