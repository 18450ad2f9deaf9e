"""The unit of work: the only way anything is written.

A unit of work belongs to one actor and one transaction. Entities are loaded through it and
registered with :meth:`UnitOfWork.add` or :meth:`UnitOfWork.remove`; entities it loaded are
compared with their loaded snapshot at commit. :meth:`UnitOfWork.commit` then, under the audit
chain's lock, writes the current rows (optimistic version check), one version row per entity
touched with snapshot and diff, and one change row hashed onto the chain. Versions are written
here, explicitly, and not from ORM flush events, so no path can bypass them. Leaving the
``with`` block without committing rolls everything back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from types import TracebackType
from typing import Any, TypeVar

import orjson
import psycopg
import structlog
from psycopg.types.json import Jsonb
from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from adapter.domain import Actor, Entity
from adapter.domain.actor import require_actor
from adapter.domain.attributes import AttributeDefinition, AttributeTarget, AttributeValue
from adapter.domain.errors import (
    ConcurrencyConflict,
    Conflict,
    DomainError,
    NotFound,
    ValidationFailed,
    Violation,
)
from adapter.domain.history import diff
from adapter.domain.model import Account, Scope
from adapter.domain.validation import parse
from adapter.store import jsontext
from adapter.store import tables as t
from adapter.store.audit import change_hash, usage_digest
from adapter.store.bulk import (
    CREATION_DIFF,
    ROW_COLUMNS,
    ROW_TAIL,
    VERSION_COLUMNS,
    PreparedEntity,
    copy_value,
)
from adapter.store.entities import MAPPINGS, EntityMapping, UniqueKey, mapping_for
from adapter.store.integrity import (
    check_dependents,
    check_hierarchy,
    check_moves_acyclic,
    check_references,
    check_scope_ids,
    moved_owners,
    needs_reference_check,
)
from adapter.store.payers import Placed, TreeChange
from adapter.store.payers import plan as plan_payers
from adapter.store.payers import refresh as refresh_payers

E = TypeVar("E", bound=Entity)
T = TypeVar("T")
Key = tuple[str, str]
log = structlog.get_logger(__name__)


def _touches(write: _Write, unique: UniqueKey) -> bool:
    watched = {unique.column} | ({unique.live_filter[0]} if unique.live_filter else set())
    return any(path.split(".")[0] in watched for path in write.diff)


# Statements are built once per table and executed with parameters, so that SQLAlchemy's
# compiled cache serves every commit (building them per call costs more than the round trip).


@cache
def _row_by_id(table: Table) -> Any:
    return select(table.c.version, table.c.data).where(table.c.id == bindparam("b_id"))


@cache
def _update_row(table: Table) -> Any:
    return update(table).where(
        table.c.id == bindparam("b_id"), table.c.version == bindparam("b_version")
    )


@cache
def _delete_row(table: Table) -> Any:
    return delete(table).where(
        table.c.id == bindparam("b_id"), table.c.version == bindparam("b_version")
    )


@cache
def _delete_children(child: Table) -> Any:
    return delete(child).where(child.c.customer_id == bindparam("b_id"))


_REQUEST_SEEN = select(t.change.c.id).where(t.change.c.request_id == bindparam("b_request"))


@cache
def _lock_head(dialect: str) -> Any:
    h = t.audit_head.c
    query = select(h.seq, h.hash, h.at).where(h.id == 1)
    return query.with_for_update() if dialect == "postgresql" else query


_MOVE_HEAD = update(t.audit_head).where(t.audit_head.c.id == 1)
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit = off")
_SKIP_TRIGGERS = text("SET LOCAL session_replication_role = replica")
_LOADED_TABLES = sorted(
    {m.table.name for m in MAPPINGS.values()}
    | {
        "entity_version",
        "change",
        "audit_head",
        *(c.name for c in (t.customer_identification, t.customer_contact, t.customer_address)),
    }
)
_KNOWN_TRIGGERS = {"change.change_append_only"}
# Per table, its foreign keys as (column, target table, target column), and the columns of it
# that some key points at; this unit's own change row is not among the targets (it is written
# by the unit itself).
_REFERENCES: dict[str, list[tuple[str, Table, str]]] = {
    table.name: [
        (key.parent.name, key.column.table, key.column.name)
        for key in table.foreign_keys
        if key.column.table is not t.change
    ]
    for table in t.metadata.sorted_tables
}
_REFERENCED: dict[str, set[str]] = {
    target.name: {
        column for keys in _REFERENCES.values() for _, other, column in keys if other is target
    }
    for keys in _REFERENCES.values()
    for _, target, _ in keys
}
_TABLE_OF_KIND = {kind: mapping.table.name for kind, mapping in MAPPINGS.items()}
_TRIGGERS = text(
    "SELECT current_setting('is_superuser') = 'on' AS superuser, "
    "array(SELECT c.relname || '.' || g.tgname FROM pg_trigger g "
    "JOIN pg_class c ON c.oid = g.tgrelid WHERE NOT g.tgisinternal AND g.tgenabled <> 'A' "
    "AND pg_table_is_visible(c.oid) AND c.relname = ANY(:names)) AS triggers"
)


@dataclass(frozen=True)
class _AccountRef:
    """What ``check_hierarchy`` reads of a new account, for a prepared one."""

    id: str
    parent_id: str | None
    number: str


def _by_id(record: PreparedEntity) -> str:
    return record.id


_CLOSE_VERSION = (
    update(t.entity_version)
    .where(
        t.entity_version.c.entity_type == bindparam("b_type"),
        t.entity_version.c.entity_id == bindparam("b_id"),
        t.entity_version.c.version == bindparam("b_version"),
    )
    .values(valid_to=bindparam("b_valid_to"))
)


def _accounts(writes: list[_Write]) -> tuple[list[Account], list[Account]]:
    """The accounts a unit creates, and those it moves to another parent."""
    created: list[Account] = []
    moved: list[Account] = []
    for w in writes:
        if isinstance(w.entity, Account):
            if w.op == "create":
                created.append(w.entity)
            elif w.op == "update" and "parent_id" in w.diff:
                moved.append(w.entity)
    return created, moved


def _tree_changes(writes: list[_Write]) -> list[TreeChange]:
    """The accounts whose payer or level may change with this unit: new ones, moved ones,
    and those whose payment responsibility changed."""
    return [
        TreeChange(w.entity.id, w.entity.parent_id, w.entity.payment_responsible)
        for w in writes
        if isinstance(w.entity, Account)
        and (
            w.op == "create"
            or (w.op == "update" and ("parent_id" in w.diff or "payment_responsible" in w.diff))
        )
    ]


COPY_ROWS = 500


def _parents_first(run: list[_Write]) -> list[_Write]:
    """New accounts ordered so that a parent created in the same unit comes before its
    children (an explicit walk, for any depth); other kinds keep their order."""
    if not run or not isinstance(run[0].entity, Account):
        return run
    return parents_first(run, lambda w: w.entity.id, lambda w: getattr(w.entity, "parent_id", None))


def parents_first(
    run: list[T], id_of: Callable[[T], str], parent_of: Callable[[T], str | None]
) -> list[T]:
    """``run`` ordered so that an item's parent, when it is in ``run``, comes before it."""
    by_id = {id_of(item): item for item in run}
    ordered: list[T] = []
    placed: set[str] = set()
    for item in run:
        pending: list[T] = []
        seen: set[str] = set()
        current: T | None = item
        while current is not None and id_of(current) not in placed:
            if id_of(current) in seen:
                break  # a cycle: check_hierarchy has refused it already
            seen.add(id_of(current))
            pending.append(current)
            parent = parent_of(current)
            current = by_id.get(parent) if parent else None
        for found in reversed(pending):
            if id_of(found) not in placed:
                placed.add(id_of(found))
                ordered.append(found)
    return ordered


def _integrity_conflict(exc: IntegrityError, writes: list[_Write]) -> Conflict:
    """A clear sentence for what the store's keys refused."""
    text = str(exc.orig).lower()
    removed = [f"{w.entity.kind} {w.entity.id}" for w in writes if w.op == "delete"]
    if removed and "foreign key" in text:
        return Conflict(f"cannot remove {', '.join(removed)}: other records still refer to it")
    if "entity_version" in text or ".id" in text or "pk_" in text:
        return Conflict(
            "a new entity has the id of one that exists or existed before; a deleted entity "
            "comes back through restore"
        )
    return Conflict(f"the write contradicts stored data: {exc.orig}")


def utcnow() -> datetime:
    return datetime.now(UTC)


class DuplicateRequest(Conflict):
    code = "duplicate_request"

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        super().__init__(f"request {request_id!r} was already applied")


@dataclass(frozen=True)
class CommittedChange:
    id: int
    at: datetime
    hash: str
    operation: str
    request_id: str
    outcome: str
    versions: tuple[tuple[str, str, int, str], ...] = ()  # (kind, id, version, op)

    def version_of(self, entity: Entity) -> int | None:
        return next((v for k, i, v, _ in self.versions if (k, i) == (entity.kind, entity.id)), None)


@dataclass
class _Tracked:
    entity: Entity
    version: int  # as loaded; for a new entity the last version it had before (0 if none)
    snapshot: dict[str, Any] | None  # as loaded; None for a new entity
    stored: bool = True
    removed: bool = False
    recreate: bool = False


@dataclass
class _Write:
    mapping: EntityMapping
    entity: Entity
    op: str
    version: int
    before: dict[str, Any] | None
    after: dict[str, Any]
    diff: dict[str, Any] = field(default_factory=dict)


class UnitOfWork:
    """``with UnitOfWork(engine, actor) as uow: …; uow.commit("customer.create")``"""

    def __init__(
        self,
        engine: Engine,
        actor: Actor | None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.actor = require_actor(actor)
        self._engine = engine
        self._clock = clock
        self._conn: Connection | None = None
        self._tracked: dict[Key, _Tracked] = {}
        self._committed: CommittedChange | None = None
        self._staged: list[Callable[[Connection, CommittedChange], None]] = []
        self._prepared: list[PreparedEntity] = []

    # ------------------------------------------------------------------ context

    def __enter__(self) -> UnitOfWork:
        conn = self._engine.connect()
        if conn.dialect.name == "sqlite":
            # Read without a transaction, so that an open unit of work blocks no other writer;
            # the write transaction starts at commit (optimistic version checks keep it right).
            conn.execution_options(sqlite_begin="NONE")
        self._conn = conn
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._conn
        self._conn = None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                conn.rollback()
        finally:
            conn.close()

    @property
    def connection(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("the unit of work is not open; use it in a with block")
        return self._conn

    @property
    def committed(self) -> CommittedChange | None:
        return self._committed

    # ------------------------------------------------------------------ reading

    def get(self, model: type[E], entity_id: str) -> E:
        found = self.find(model, entity_id)
        if found is None:
            raise NotFound(model.kind, entity_id)
        return found

    def find(self, model: type[E], entity_id: str) -> E | None:
        key = (model.kind, entity_id)
        tracked = self._tracked.get(key)
        if tracked is not None:
            return None if tracked.removed else tracked.entity  # type: ignore[return-value]
        table = mapping_for(model.kind).table
        row = self.connection.execute(_row_by_id(table), {"b_id": entity_id}).one_or_none()
        if row is None:
            return None
        return self._track(model, row.data, row.version)

    def find_by(self, model: type[E], **equals: Any) -> list[E]:
        """Entities whose indexed columns equal the given values (ordered by id)."""
        table = mapping_for(model.kind).table
        query = select(table.c.id, table.c.version, table.c.data).order_by(table.c.id)
        for name, value in equals.items():
            query = query.where(table.c[name] == value)
        rows = self.connection.execute(query).all()
        found: list[E] = []
        for row in rows:
            tracked = self._tracked.get((model.kind, row.id))
            if tracked is None:
                found.append(self._track(model, row.data, row.version))
            elif not tracked.removed:
                found.append(tracked.entity)  # type: ignore[arg-type]
        return found

    def _track(self, model: type[E], data: dict[str, Any], version: int) -> E:
        entity = model.model_validate(data)
        self._tracked[(model.kind, entity.id)] = _Tracked(entity, version, data)
        return entity

    def now(self) -> datetime:
        """The unit's clock, for instants recorded inside entities (a status change)."""
        return self._clock()

    def version_of(self, entity: Entity) -> int:
        """The stored version the entity was loaded at (0 for one added in this unit)."""
        tracked = self._tracked.get((entity.kind, entity.id))
        if tracked is None:
            raise NotFound(entity.kind, entity.id)
        return tracked.version if tracked.stored else 0

    def expect_version(self, entity: Entity, expected: int | None) -> None:
        """Optimistic concurrency for a caller who read ``entity`` at version ``expected``."""
        if expected is None:
            return
        actual = self.version_of(entity)
        if actual != expected:
            raise ConcurrencyConflict(entity.kind, entity.id, expected, actual)

    # ------------------------------------------------------------------ registering

    def add(self, entity: Entity, *, recreate: bool = False) -> None:
        """Register a new entity. A new id is taken as fresh: should it exist already, the
        commit is refused by the store's keys. ``recreate`` brings back an entity deleted
        earlier (as restore does): it is checked to be absent now, and its version numbers
        continue from its history."""
        key = (entity.kind, entity.id)
        existing = self._tracked.get(key)
        if existing is not None and existing.entity is not entity:
            raise Conflict(f"{entity.kind} {entity.id} is already in this unit of work")
        if self._prepared:
            raise Conflict("a unit of work with prepared entities takes no other entity")
        if existing is None:
            self._tracked[key] = _Tracked(entity, 0, None, stored=False, recreate=recreate)

    def add_all(self, entities: Iterable[Entity]) -> None:
        for entity in entities:
            self.add(entity)

    def add_prepared(self, records: Iterable[PreparedEntity]) -> None:
        """Register new entities prepared by :func:`adapter.store.bulk.prepare` (the trusted
        bulk path of loaders such as the seed; see that module). A unit with prepared entities
        takes no other entity, and commits them with the same checks and the same rows as the
        normal path, without re-validating or re-encoding them."""
        if self._tracked:
            raise Conflict("a unit of work with prepared entities takes no other entity")
        self._prepared.extend(records)

    def remove(self, entity: Entity) -> None:
        tracked = self._tracked.get((entity.kind, entity.id))
        if tracked is None or tracked.entity is not entity:
            raise Conflict(f"{entity.kind} {entity.id} must be loaded in this unit to remove it")
        if not mapping_for(entity.kind).versioned:
            raise Conflict(f"{entity.kind} rows are immutable and cannot be removed")
        if not tracked.stored:
            del self._tracked[(entity.kind, entity.id)]
        else:
            tracked.removed = True

    def replace(self, entity: Entity) -> None:
        """Take ``entity`` as the new state of the loaded entity with the same id (used when a
        new state is built whole, as restore does)."""
        key = (entity.kind, entity.id)
        tracked = self._tracked.get(key)
        if tracked is None or tracked.removed:
            raise Conflict(f"{entity.kind} {entity.id} must be loaded in this unit to replace it")
        tracked.entity = entity

    # ------------------------------------------------------------------ committing

    def stage(self, write: Callable[[Connection, CommittedChange], None]) -> None:
        """Run ``write(connection, change)`` inside the commit's transaction, after the change
        and its versions are written and before the transaction commits: rows that must exist
        exactly when the change does (a request's status, outbox messages to billing) without
        being part of the audited data. It sees the change's id; if it raises, nothing of the
        unit is written."""
        self._staged.append(write)

    def commit(self, operation: str, summary: Mapping[str, Any] | None = None) -> CommittedChange:
        """Write everything registered as one audited change and commit the transaction.

        Under the chain lock: refuse a replayed request id, check the rules that span rows,
        write the change row, the current rows, the version rows and the new chain head."""
        if self._committed is not None:
            raise RuntimeError("this unit of work has already committed")
        if self._prepared:
            return self._commit_prepared(operation, summary)
        writes, appended = self._collect()
        head, at, seq = self._open_chain()
        self._check_before_write(writes, appended)
        versions = [self._version_row(w, seq, at) for w in writes]
        counts: dict[str, int] = {}
        for line in appended:
            counts[line.entity.kind] = counts.get(line.entity.kind, 0) + 1
        digest = usage_digest(a.after for a in appended) if appended else None
        change = self._change_row(
            seq, at, head["hash"], operation, summary, bool(writes or appended), counts, digest
        )
        change["hash"] = change_hash(change, versions)
        self._insert_change(change)
        try:
            self._write_rows(writes, appended, at, seq)
            self._check_after_write(writes)
            refresh_payers(
                self.connection,
                _tree_changes(writes),
                new={w.entity.id for w in writes if w.op == "create"},
            )
            if versions:
                self._close_previous_versions(writes, at)
                self._insert_many(t.entity_version, versions)
        except IntegrityError as exc:
            raise _integrity_conflict(exc, writes) from None
        return self._finish(
            change,
            tuple((w.entity.kind, w.entity.id, w.version, w.op) for w in writes),
            len(appended),
        )

    def _open_chain(self) -> tuple[dict[str, Any], datetime, int]:
        """Take the chain lock, refuse a replayed request, and fix the change's instant and
        number (steps 2 to 4 of the commit)."""
        conn = self.connection
        if conn.dialect.name == "sqlite":
            conn.rollback()  # ends the lock-free read phase; the next statement begins IMMEDIATE
            conn.execution_options(sqlite_begin="IMMEDIATE")
        head = self._lock_chain()
        # A replay is acknowledged as such before any rule could refuse it as new data.
        if conn.execute(_REQUEST_SEEN, {"b_request": self.actor.request_id}).first():
            raise DuplicateRequest(self.actor.request_id)
        at = max(self._clock(), head["at"]) if head["at"] else self._clock()
        return head, at, int(head["seq"]) + 1

    def _insert_change(self, change: dict[str, Any]) -> None:
        # The request id was checked under the chain lock, so no other change can have taken
        # it since; the unique index stays as the last guard. (An INSERT … ON CONFLICT would
        # save that round trip, but SQLAlchemy cannot cache its compiled form.)
        try:
            self.connection.execute(insert(t.change), [change])
        except IntegrityError as exc:  # only if something wrote around the chain lock
            raise DuplicateRequest(self.actor.request_id) from exc

    def _finish(
        self,
        change: dict[str, Any],
        written: tuple[tuple[str, str, int, str], ...],
        appended: int,
    ) -> CommittedChange:
        """Move the chain head, run the staged writes, commit, and log."""
        conn = self.connection
        seq, at = change["id"], change["at"]
        conn.execute(_MOVE_HEAD, {"seq": seq, "hash": change["hash"], "at": at})
        committed = CommittedChange(
            id=seq,
            at=at,
            hash=change["hash"],
            operation=change["operation"],
            request_id=self.actor.request_id,
            outcome=change["outcome"],
            versions=written,
        )
        for write in self._staged:
            write(conn, committed)
        conn.commit()
        self._committed = committed
        log.info(
            "change.committed",
            change_id=seq,
            operation=change["operation"],
            outcome=change["outcome"],
            request_id=self.actor.request_id,
            user=self.actor.originating_user,
            channel=self.actor.channel,
            versions=len(written),
            appended=appended,
        )
        return committed

    # ------------------------------------------------------------------ the bulk path

    def _commit_prepared(
        self, operation: str, summary: Mapping[str, Any] | None
    ) -> CommittedChange:
        """Commit the prepared entities: the normal sequence for a unit that only creates,
        with snapshots, diffs and rows taken as prepared (see ``adapter.store.bulk``)."""
        conn = self.connection
        versioned: list[PreparedEntity] = []
        appended: list[PreparedEntity] = []
        for record in self._prepared:
            (versioned if MAPPINGS[record.kind].versioned else appended).append(record)
        head, at, seq = self._open_chain()
        self._check_prepared(versioned, appended)
        if conn.dialect.name == "postgresql":
            # Only this transaction: a crash may lose the last batches of a load, whole (the
            # change and its rows go together), never part of one.
            conn.execute(_ASYNC_COMMIT)
            if not self._staged and self._may_skip_foreign_key_triggers():
                # The foreign keys are checked here instead, once per key and batch rather
                # than by a trigger per row (a third of the server's work in a seed).
                self._check_prepared_foreign_keys()
                conn.execute(_SKIP_TRIGGERS)
        # The instant as the canonical encoder writes a datetime, once rather than per row.
        valid_from = at.isoformat(timespec="microseconds")
        no_diff = orjson.Fragment(CREATION_DIFF)
        hashed = [
            {
                "entity_type": r.kind,
                "entity_id": r.id,
                "version": 1,
                "op": "create",
                "valid_from": valid_from,
                "snapshot": orjson.Fragment(r.snapshot),
                "diff": no_diff,
                "customer_id": r.scope_ids[0],
                "account_id": r.scope_ids[1],
                "contract_id": r.scope_ids[2],
                "subscriber_id": r.scope_ids[3],
            }
            for r in versioned
        ]
        counts: dict[str, int] = {}
        for r in appended:
            counts[r.kind] = counts.get(r.kind, 0) + 1
        digest = (
            hashlib.sha256(
                jsontext.encode([orjson.Fragment(r.snapshot) for r in sorted(appended, key=_by_id)])
            ).hexdigest()
            if appended
            else None
        )
        change = self._change_row(
            seq, at, head["hash"], operation, summary, bool(self._prepared), counts, digest
        )
        change["hash"] = change_hash(change, hashed)
        self._insert_change(change)
        # New accounts are written with their payer and level (nothing stored is below a new
        # account, so nothing else changes): no update of rows just written.
        placed = plan_payers(
            conn,
            [
                TreeChange(r.id, r.columns["parent_id"], r.columns["payment_responsible"])
                for r in versioned
                if r.kind == Account.kind
            ],
        )
        try:
            self._write_prepared(versioned, appended, at, seq, placed)
        except IntegrityError as exc:
            raise _integrity_conflict(exc, []) from None
        except psycopg.errors.IntegrityError as exc:
            raise _integrity_conflict(IntegrityError("COPY", None, exc), []) from None
        return self._finish(
            change, tuple((r.kind, r.id, 1, "create") for r in versioned), len(appended)
        )

    def _check_prepared(
        self, versioned: list[PreparedEntity], appended: list[PreparedEntity]
    ) -> None:
        """What the normal path checks before writing new entities, on prepared records."""
        candidates: list[tuple[str, str, UniqueKey, Any]] = []
        accounts: list[Any] = []
        for r in versioned:
            for unique in MAPPINGS[r.kind].unique:
                if unique.live_filter is not None:
                    live_column, dead = unique.live_filter
                    if r.columns[live_column] == dead:
                        continue
                candidates.append((r.kind, r.id, unique, r.columns[unique.column]))
            if r.kind == Account.kind:
                accounts.append(_AccountRef(r.id, r.columns["parent_id"], r.columns["number"]))
        self._check_unique_values(candidates)
        self._check_prepared_required(versioned)
        check_hierarchy(self.connection, accounts, [])
        here = {(r.kind, r.id): r.scope_ids for r in self._prepared}
        check_scope_ids(
            self.connection,
            ((r.kind, r.id, r.owner_ref, r.scope_ids) for r in [*versioned, *appended]),
            lambda kind, entity_id: here.get((kind, entity_id)),
        )

    def _may_skip_foreign_key_triggers(self) -> bool:
        """On PostgreSQL, as a superuser (``session_replication_role`` needs it), and only if
        the tables a load writes have no triggers but the foreign keys' (and the change log's
        guard against edits, which a load never makes): skipping triggers must not skip any
        other work. Triggers enabled ALWAYS (the name words of revision 0009) run in any
        role, so they do not count. (A unit with staged writes never skips them: those rows
        are not checked here.)"""
        row = self.connection.execute(_TRIGGERS, {"names": _LOADED_TABLES}).one()
        return bool(row.superuser) and set(row.triggers or ()) <= _KNOWN_TRIGGERS

    def _check_prepared_foreign_keys(self) -> None:
        """What the foreign keys of the rows about to be written would check, for a unit that
        writes with their triggers off: every referenced value is written in this unit or
        stored (and held with ``FOR KEY SHARE``, as the key's check would, so that it cannot
        be deleted before this unit commits)."""
        # Rows grouped by table, as (id, columns): an entity's id is not among its columns.
        groups: dict[str, list[tuple[Any, Mapping[str, Any]]]] = {}
        for r in self._prepared:
            groups.setdefault(_TABLE_OF_KIND[r.kind], []).append((r.id, r.columns))
            for name, children in r.children:
                groups.setdefault(name, []).extend((child.get("id"), child) for child in children)

        def values(group: list[tuple[Any, Mapping[str, Any]]], column: str) -> set[Any]:
            if column == "id":
                return {id_ for id_, _ in group}
            return {columns.get(column) for _, columns in group}

        # Only the columns some key points at are collected, a set per table and column
        # rather than per row (per-row bookkeeping cost the writing process 0.5 ms or more
        # per seeded customer).
        written = {
            (name, column): values(group, column)
            for name, group in groups.items()
            for column in _REFERENCED.get(name, ())
        }
        wanted: dict[tuple[Table, str], set[Any]] = {}
        for name, group in groups.items():
            for parent_column, target_table, target_column in _REFERENCES.get(name, ()):
                needed = values(group, parent_column) - {None}
                needed -= written.get((target_table.name, target_column), set())
                if needed:
                    wanted.setdefault((target_table, target_column), set()).update(needed)
        for (table, column), found in wanted.items():
            missing = set(found)
            items = sorted(found)
            for start in range(0, len(items), 500):
                query = (
                    select(table.c[column])
                    .where(table.c[column].in_(items[start : start + 500]))
                    .with_for_update(key_share=True)
                )
                missing -= set(self.connection.execute(query).scalars())
            if missing:
                raise Conflict(
                    f"the write contradicts stored data: there is no {table.name} with "
                    f"{column} {sorted(missing)[0]!r}"
                )

    def _check_prepared_required(self, versioned: list[PreparedEntity]) -> None:
        """As ``_check_required_attributes``: every new customer, account, contract or
        subscriber comes with each required attribute of its kind, none of them empty."""
        targets = {kind.value for kind in AttributeTarget}
        if not any(r.kind in targets or r.kind == AttributeValue.kind for r in versioned):
            return
        d = t.attribute_definition.c
        stored = self.connection.execute(
            select(d.name, d.entity_kind).where(d.required.is_(True), d.status == "active")
        ).all()
        required = {name: kind for name, kind in stored}
        for r in versioned:
            c = r.columns
            if r.kind == AttributeDefinition.kind and c["required"] and c["status"] == "active":
                required[c["name"]] = c["entity_kind"]
        if not required:
            return
        given = {
            (r.columns["entity_kind"], r.columns["entity_id"], r.columns["name"])
            for r in versioned
            if r.kind == AttributeValue.kind and r.columns["value_key"] is not None
        }
        violations: list[Violation] = []
        for r in versioned:
            if r.kind in targets:
                for name, kind in required.items():
                    if kind == r.kind and (r.kind, r.id, name) not in given:
                        violations.append(
                            Violation(
                                f"attributes.{name}",
                                "required",
                                f"a new {r.kind} needs the required attribute {name}",
                            )
                        )
            elif (
                r.kind == AttributeValue.kind
                and r.columns["name"] in required
                and r.columns["value_key"] is None
            ):
                name = r.columns["name"]
                violations.append(
                    Violation(
                        f"attributes.{name}",
                        "required",
                        f"{name} is required and cannot be cleared",
                    )
                )
        if violations:
            raise ValidationFailed(violations)

    def _write_prepared(
        self,
        versioned: list[PreparedEntity],
        appended: list[PreparedEntity],
        at: datetime,
        seq: int,
        placed: Placed,
    ) -> None:
        """The rows, in the normal path's order: per table in foreign-key order (accounts
        parents first) with its search-key rows, the usage lines, then the version rows."""
        by_table: dict[str, list[PreparedEntity]] = {}
        for r in versioned:
            by_table.setdefault(MAPPINGS[r.kind].table.name, []).append(r)
        for table in t.metadata.sorted_tables:
            run = by_table.get(table.name)
            if not run:
                continue
            if table is t.account:
                run = parents_first(run, lambda r: r.id, lambda r: r.columns["parent_id"])
            self._write_prepared_rows(table, run, at, None, placed if table is t.account else None)
            children: dict[str, list[dict[str, Any]]] = {}
            for r in run:
                for name, rows in r.children:
                    children.setdefault(name, []).extend(rows)
            for name, child_rows in children.items():
                if not child_rows:
                    continue
                # COPY however few: a batch's few hundred search-key rows per table went as
                # INSERTs (under COPY_ROWS), a quarter of the writer's statements' cost.
                self._insert_many(t.metadata.tables[name], child_rows, copy_from=1)
        lines: dict[str, list[PreparedEntity]] = {}
        for r in appended:
            lines.setdefault(r.kind, []).append(r)
        for kind, run in lines.items():
            self._write_prepared_rows(MAPPINGS[kind].table, run, at, seq)
        if not versioned:
            return
        if self.connection.dialect.name != "postgresql":
            self._insert_many(
                t.entity_version,
                [
                    {
                        "change_id": seq,
                        "entity_type": r.kind,
                        "entity_id": r.id,
                        "version": 1,
                        "op": "create",
                        "valid_from": at,
                        "valid_to": None,
                        "snapshot": orjson.loads(r.snapshot),
                        "diff": {},
                        "customer_id": r.scope_ids[0],
                        "account_id": r.scope_ids[1],
                        "contract_id": r.scope_ids[2],
                        "subscriber_id": r.scope_ids[3],
                    }
                    for r in versioned
                ],
            )
            return
        tail = b"\t" + copy_value(at) + b"\t" + str(seq).encode() + b"\n"
        self._copy(t.entity_version, VERSION_COLUMNS, [r.version_line + tail for r in versioned])

    def _write_prepared_rows(
        self,
        table: Table,
        run: list[PreparedEntity],
        at: datetime,
        change_id: int | None,
        placed: Placed | None = None,
    ) -> None:
        """``placed``: the payer and level of each account (for the account table only)."""
        if self.connection.dialect.name != "postgresql":
            extra = {} if change_id is None else {"change_id": change_id}
            self._insert_many(
                table,
                [
                    {
                        "id": r.id,
                        "version": 1,
                        "updated_at": at,
                        "data": orjson.loads(r.snapshot),
                        **r.columns,
                        **extra,
                        **(
                            {}
                            if placed is None
                            else {"payer_id": placed[r.id][0], "level": placed[r.id][1]}
                        ),
                    }
                    for r in run
                ],
            )
            return
        tail = b"\t" + copy_value(at)
        names = (*ROW_COLUMNS, *run[0].columns, *ROW_TAIL)
        if change_id is not None:
            tail += b"\t" + str(change_id).encode()
            names = (*names, "change_id")
        tail += b"\n"
        if placed is None:
            self._copy(table, names, [r.row_line + tail for r in run])
            return
        self._copy(
            table,
            (*ROW_COLUMNS, *run[0].columns, "payer_id", "level", *ROW_TAIL),  # no change_id
            [
                b"\t".join([r.row_line, copy_value(placed[r.id][0]), str(placed[r.id][1]).encode()])
                + tail
                for r in run
            ],
        )

    def _copy(self, table: Table, columns: Iterable[str], lines: list[bytes]) -> None:
        """``COPY … FROM STDIN`` of lines already in its text format."""
        cursor = self.connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        names = ", ".join(f'"{name}"' for name in columns)
        # Table and column names come from the schema, never from input.
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for start in range(0, len(lines), 2000):
                copy.write(b"".join(lines[start : start + 2000]))

    def _check_before_write(self, writes: list[_Write], appended: list[_Write]) -> None:
        self._check_unique_keys(writes)
        self._check_required_attributes(writes)
        check_hierarchy(self.connection, *_accounts(writes))
        check_references(
            self.connection,
            [
                *(
                    w.entity
                    for w in writes
                    if w.op != "delete" and needs_reference_check(w.op, w.diff)
                ),
                *(a.entity for a in appended),
            ],
            self._tracked_scope,
        )

    def _check_after_write(self, writes: list[_Write]) -> None:
        """Rules that read the rows as this unit leaves them (its own writes included)."""
        conn = self.connection
        check_dependents(conn, moved_owners((w.entity, w.op, w.diff) for w in writes))
        check_moves_acyclic(conn, _accounts(writes)[1])

    def _change_row(
        self,
        seq: int,
        at: datetime,
        prev_hash: str,
        operation: str,
        summary: Mapping[str, Any] | None,
        applied: bool,
        appended: Mapping[str, int],
        digest: str | None,
    ) -> dict[str, Any]:
        full_summary = dict(summary or {})
        if appended:
            full_summary["appended"] = dict(appended)
            full_summary["usage_digest"] = digest
        return {
            "id": seq,
            "at": at,
            "originating_user": self.actor.originating_user,
            "principal": self.actor.principal,
            "channel": self.actor.channel,
            "request_id": self.actor.request_id,
            "operation": operation,
            "outcome": "applied" if applied else "unchanged",
            "summary": full_summary,
            "prev_hash": prev_hash,
        }

    def _write_rows(
        self, writes: list[_Write], appended: list[_Write], at: datetime, seq: int
    ) -> None:
        """Deletes first (so that a number they free can be taken again), then new rows, one
        executemany per table in foreign-key order (accounts parents first), then updates
        (which may point at the new rows), then usage lines."""
        created: dict[str, list[_Write]] = {}
        for write in writes:
            if write.op == "create":
                created.setdefault(write.mapping.table.name, []).append(write)
        for write in reversed(writes):
            if write.op == "delete":
                self._write_row(write, at)
        for table in t.metadata.sorted_tables:
            if table.name in created:
                self._insert_run(_parents_first(created[table.name]), at)
        for write in writes:
            if write.op == "update":
                self._write_row(write, at)
        lines: dict[str, list[_Write]] = {}
        for line in appended:
            lines.setdefault(line.entity.kind, []).append(line)
        for kind, run in lines.items():
            self._insert_many(
                mapping_for(kind).table,
                [self._row_values(line, at) | {"change_id": seq} for line in run],
            )

    def _insert_run(self, run: list[_Write], at: datetime) -> None:
        mapping = run[0].mapping
        self._insert_many(mapping.table, [self._row_values(w, at) for w in run])
        if mapping.children:
            children: dict[Table, list[dict[str, Any]]] = {}
            for write in run:
                for child, rows in mapping.children(write.entity).items():
                    children.setdefault(child, []).extend(rows)
            for child, rows in children.items():
                if rows:
                    self._insert_many(child, rows)

    def _insert_many(
        self, table: Table, rows: list[dict[str, Any]], copy_from: int = COPY_ROWS
    ) -> None:
        """Insert rows; ``copy_from`` or more of them on PostgreSQL go through COPY, an order
        of magnitude cheaper per row than INSERT (a seed or import unit writes hundreds of
        thousands)."""
        conn = self.connection
        if conn.dialect.name != "postgresql" or len(rows) < copy_from:
            conn.execute(insert(table), rows)
            return
        columns = [c.name for c in table.columns if c.name in rows[0]]
        json_columns = {c.name for c in table.columns if isinstance(c.type, type(t.Json))}
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        names = ", ".join(f'"{name}"' for name in columns)
        # Table and column names come from the schema, never from input.
        statement = f'COPY "{table.name}" ({names}) FROM STDIN'
        try:
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(
                        [
                            Jsonb(row[c], jsontext.dumps) if c in json_columns else row[c]
                            for c in columns
                        ]
                    )
        except psycopg.errors.IntegrityError as exc:  # as SQLAlchemy would have raised it
            raise IntegrityError(statement, None, exc) from exc

    @staticmethod
    def _row_values(write: _Write, at: datetime) -> dict[str, Any]:
        return {
            "id": write.entity.id,
            "version": write.version,
            "updated_at": at,
            "data": write.after,
            **write.mapping.columns(write.entity),
        }

    def _number_new_entities(self) -> None:
        """For entities being re-created: refuse one that exists now, and continue the version
        numbers of one deleted earlier (two queries per kind, in chunks)."""
        new: dict[str, list[_Tracked]] = {}
        for tracked in self._tracked.values():
            if tracked.recreate and not tracked.stored:
                new.setdefault(tracked.entity.kind, []).append(tracked)
        v = t.entity_version.c
        for kind, items in new.items():
            table = mapping_for(kind).table
            for start in range(0, len(items), 500):
                chunk = {tr.entity.id: tr for tr in items[start : start + 500]}
                taken = (
                    self.connection.execute(select(table.c.id).where(table.c.id.in_(list(chunk))))
                    .scalars()
                    .first()
                )
                if taken is not None:
                    raise Conflict(f"{kind} {taken} already exists")
                for entity_id, last in self.connection.execute(
                    select(v.entity_id, func.max(v.version))
                    .where(v.entity_type == kind, v.entity_id.in_(list(chunk)))
                    .group_by(v.entity_id)
                ):
                    chunk[entity_id].version = int(last)

    def _collect(self) -> tuple[list[_Write], list[_Write]]:
        """What to write: versioned entities created, changed or deleted, and new immutable
        lines (usage) to append, each with its snapshot taken once."""
        self._number_new_entities()
        writes: list[_Write] = []
        appended: list[_Write] = []
        for tracked in self._tracked.values():
            entity = tracked.entity
            mapping = MAPPINGS[entity.kind]
            if not mapping.versioned:
                if not tracked.stored:
                    appended.append(_Write(mapping, entity, "append", 1, None, entity.snapshot()))
                elif entity.snapshot() != tracked.snapshot:
                    raise Conflict(f"{entity.kind} {entity.id} is immutable once recorded")
                continue
            version = tracked.version + 1
            if tracked.removed:
                assert tracked.snapshot is not None
                before = tracked.snapshot
                writes.append(
                    _Write(mapping, entity, "delete", version, before, before, diff(before, None))
                )
                continue
            after = entity.snapshot()
            if tracked.stored and after == tracked.snapshot:
                continue
            # Re-validate the whole entity: assignment validation does not see in-place edits
            # of lists, nor rules that span fields changed one at a time.
            parse(type(entity), after)
            if tracked.stored:
                writes.append(
                    _Write(
                        mapping,
                        entity,
                        "update",
                        version,
                        tracked.snapshot,
                        after,
                        diff(tracked.snapshot, after),
                    )
                )
            else:
                writes.append(
                    _Write(mapping, entity, "create", version, None, after, diff(None, after))
                )
        return writes, appended

    def _check_unique_keys(self, writes: list[_Write]) -> None:
        """No two live rows share a unique key: one query per key and up to 500 values, so a
        unit that creates thousands of entities does not pay a query for each."""
        candidates: list[tuple[str, str, UniqueKey, Any]] = []
        for write in writes:
            if write.op == "delete":
                continue
            columns = write.mapping.columns(write.entity)
            for unique in write.mapping.unique:
                if unique.live is not None and not unique.live(write.entity):
                    continue
                if write.op == "update" and not _touches(write, unique):
                    continue  # the stored row already held this value, checked when written
                candidates.append(
                    (write.entity.kind, write.entity.id, unique, columns[unique.column])
                )
        self._check_unique_values(candidates)

    def _check_unique_values(self, candidates: Iterable[tuple[str, str, UniqueKey, Any]]) -> None:
        """``(kind, id, key, value)``: refuse a value given twice here or held by another
        stored row (that this unit does not remove)."""
        violations: list[Violation] = []
        claimed: dict[tuple[str, str, Any], str] = {}
        wanted: dict[tuple[str, UniqueKey], dict[Any, str]] = {}
        for kind, entity_id, unique, value in candidates:
            mine = (kind, unique.column, value)
            if claimed.setdefault(mine, entity_id) != entity_id:
                violations.append(
                    Violation(unique.column, "unique", f"{unique.label} {value!r} is given twice")
                )
                continue
            wanted.setdefault((kind, unique), {})[value] = entity_id
        for (kind, unique), values in wanted.items():
            table = mapping_for(kind).table
            column = table.c[unique.column]
            items = list(values.items())
            for start in range(0, len(items), 500):
                chunk = dict(items[start : start + 500])
                query = select(column, table.c.id).where(column.in_(list(chunk)))
                if unique.live_filter is not None:
                    live_column, dead = unique.live_filter
                    query = query.where(table.c[live_column] != dead)
                for value, other in self.connection.execute(query):
                    if other != chunk[value] and not self._is_removed_here(kind, other):
                        violations.append(
                            Violation(
                                unique.column,
                                "unique",
                                f"{unique.label} {value!r} is already used by {kind} {other}",
                            )
                        )
        if violations:
            raise ValidationFailed(violations)

    def _is_removed_here(self, kind: str, entity_id: str) -> bool:
        tracked = self._tracked.get((kind, entity_id))
        return tracked is not None and tracked.removed

    def _check_required_attributes(self, writes: list[_Write]) -> None:
        """A new customer, account, contract or subscriber must come with every required
        attribute of its kind; a required value cannot be cleared or removed."""
        targets = {kind.value for kind in AttributeTarget}
        if not any(
            (w.op == "create" and w.entity.kind in targets) or isinstance(w.entity, AttributeValue)
            for w in writes
        ):
            return
        added_here = [
            tr.entity
            for tr in self._tracked.values()
            if isinstance(tr.entity, AttributeDefinition) and not tr.stored
        ]
        stored = self.find_by(AttributeDefinition, required=True, status="active")
        definitions = {d.name: d for d in [*stored, *added_here] if d.required and d.active}
        required = list(definitions.values())
        if not required:
            return
        values = {
            (v.entity_kind.value, v.entity_id, v.name): v
            for tr in self._tracked.values()
            if isinstance(v := tr.entity, AttributeValue) and not tr.removed
        }
        violations: list[Violation] = []
        for write in writes:
            entity = write.entity
            if write.op == "create":
                for d in required:
                    if d.entity_kind.value != entity.kind:
                        continue
                    value = values.get((entity.kind, entity.id, d.name))
                    if value is None or value.value is None:
                        violations.append(
                            Violation(
                                f"attributes.{d.name}",
                                "required",
                                f"a new {entity.kind} needs the required attribute {d.name}",
                            )
                        )
            if isinstance(entity, AttributeValue) and entity.name in definitions:
                d = definitions[entity.name]
                if d.required and d.active and (write.op == "delete" or entity.value is None):
                    violations.append(
                        Violation(
                            f"attributes.{d.name}",
                            "required",
                            f"{d.name} is required and cannot be cleared",
                        )
                    )
        if violations:
            raise ValidationFailed(violations)

    def _lock_chain(self) -> dict[str, Any]:
        """Serialise chain appends. On SQLite the write transaction (BEGIN IMMEDIATE) already
        holds the database's write lock; on PostgreSQL the head row is locked."""
        conn = self.connection
        head = conn.execute(_lock_head(conn.dialect.name)).one_or_none()
        if head is None:
            raise DomainError("the store has no audit head; run `crm-adapter db upgrade`")
        last_at = head.at
        return {"seq": head.seq, "hash": head.hash, "at": last_at}

    def _write_row(self, write: _Write, at: datetime) -> None:
        """Update or delete one current row, checking the version it was read at."""
        conn = self.connection
        mapping = write.mapping
        entity = write.entity
        if write.op == "delete":
            if mapping.children:
                for child in mapping.children(entity):
                    conn.execute(_delete_children(child), {"b_id": entity.id})
            result = conn.execute(
                _delete_row(mapping.table), {"b_id": entity.id, "b_version": write.version - 1}
            )
            self._check_rowcount(result.rowcount, write)
            return
        result = conn.execute(
            _update_row(mapping.table),
            {**self._row_values(write, at), "b_id": entity.id, "b_version": write.version - 1},
        )
        self._check_rowcount(result.rowcount, write)
        if mapping.children:
            touched = mapping.children_touched(write.diff)
            for child, rows in mapping.children(entity).items():
                if child.name not in touched:
                    continue
                conn.execute(_delete_children(child), {"b_id": entity.id})
                if rows:
                    conn.execute(insert(child), rows)

    def _tracked_scope(self, kind: str, entity_id: str) -> Scope | None:
        tracked = self._tracked.get((kind, entity_id))
        if tracked is None or tracked.removed:
            return None
        return tracked.entity.scope()

    def _check_rowcount(self, rowcount: int, write: _Write) -> None:
        if rowcount == 1:
            return
        table = write.mapping.table
        actual = self.connection.execute(
            select(table.c.version).where(table.c.id == write.entity.id)
        ).scalar_one_or_none()
        raise ConcurrencyConflict(write.entity.kind, write.entity.id, write.version - 1, actual)

    def _version_row(self, write: _Write, change_id: int, at: datetime) -> dict[str, Any]:
        scope = write.entity.scope()
        return {
            "change_id": change_id,
            "entity_type": write.entity.kind,
            "entity_id": write.entity.id,
            "version": write.version,
            "op": write.op,
            "valid_from": at,
            "valid_to": None,
            "snapshot": write.after,
            # A creation stores no diff: its snapshot says it all (``stored_diff``).
            "diff": {} if write.op == "create" else write.diff,
            "customer_id": scope.customer_id,
            "account_id": scope.account_id,
            "contract_id": scope.contract_id,
            "subscriber_id": scope.subscriber_id,
        }

    def _close_previous_versions(self, writes: list[_Write], at: datetime) -> None:
        previous = [
            {
                "b_type": w.entity.kind,
                "b_id": w.entity.id,
                "b_version": w.version - 1,
                "b_valid_to": at,
            }
            for w in writes
            if w.version > 1
        ]
        if previous:
            self.connection.execute(_CLOSE_VERSION, previous)
