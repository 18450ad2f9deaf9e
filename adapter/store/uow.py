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

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from types import TracebackType
from typing import Any, TypeVar

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
from adapter.store.entities import MAPPINGS, EntityMapping, UniqueKey, mapping_for
from adapter.store.integrity import (
    check_dependents,
    check_hierarchy,
    check_moves_acyclic,
    check_references,
    moved_owners,
    needs_reference_check,
)

E = TypeVar("E", bound=Entity)
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


COPY_ROWS = 500


def _parents_first(run: list[_Write]) -> list[_Write]:
    """New accounts ordered so that a parent created in the same unit comes before its
    children (an explicit walk, for any depth); other kinds keep their order."""
    if not run or not isinstance(run[0].entity, Account):
        return run
    by_id = {w.entity.id: w for w in run}
    ordered: list[_Write] = []
    placed: set[str] = set()
    for write in run:
        pending: list[_Write] = []
        seen: set[str] = set()
        current: _Write | None = write
        while current is not None and current.entity.id not in placed:
            if current.entity.id in seen:
                break  # a cycle: check_hierarchy has refused it already
            seen.add(current.entity.id)
            pending.append(current)
            parent = getattr(current.entity, "parent_id", None)
            current = by_id.get(parent) if parent else None
        for item in reversed(pending):
            if item.entity.id not in placed:
                placed.add(item.entity.id)
                ordered.append(item)
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
        if existing is None:
            self._tracked[key] = _Tracked(entity, 0, None, stored=False, recreate=recreate)

    def add_all(self, entities: Iterable[Entity]) -> None:
        for entity in entities:
            self.add(entity)

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
        conn = self.connection
        writes, appended = self._collect()
        if conn.dialect.name == "sqlite":
            conn.rollback()  # ends the lock-free read phase; the next statement begins IMMEDIATE
            conn.execution_options(sqlite_begin="IMMEDIATE")
        head = self._lock_chain()
        # A replay is acknowledged as such before any rule could refuse it as new data.
        if conn.execute(_REQUEST_SEEN, {"b_request": self.actor.request_id}).first():
            raise DuplicateRequest(self.actor.request_id)
        at = max(self._clock(), head["at"]) if head["at"] else self._clock()
        seq = int(head["seq"]) + 1
        self._check_before_write(writes, appended)
        versions = [self._version_row(w, seq, at) for w in writes]
        change = self._change_row(seq, at, head["hash"], operation, summary, writes, appended)
        change["hash"] = change_hash(change, versions)
        # The request id was checked under the chain lock above, so no other change can have
        # taken it since; the unique index stays as the last guard. (An INSERT … ON CONFLICT
        # would save that round trip, but SQLAlchemy cannot cache its compiled form.)
        try:
            conn.execute(insert(t.change), [change])
        except IntegrityError as exc:  # only if something wrote around the chain lock
            raise DuplicateRequest(self.actor.request_id) from exc
        try:
            self._write_rows(writes, appended, at, seq)
            self._check_after_write(writes)
            if versions:
                self._close_previous_versions(writes, at)
                self._insert_many(t.entity_version, versions)
        except IntegrityError as exc:
            raise _integrity_conflict(exc, writes) from None
        conn.execute(_MOVE_HEAD, {"seq": seq, "hash": change["hash"], "at": at})
        committed = CommittedChange(
            id=seq,
            at=at,
            hash=change["hash"],
            operation=operation,
            request_id=self.actor.request_id,
            outcome=change["outcome"],
            versions=tuple((w.entity.kind, w.entity.id, w.version, w.op) for w in writes),
        )
        for write in self._staged:
            write(conn, committed)
        conn.commit()
        self._committed = committed
        log.info(
            "change.committed",
            change_id=seq,
            operation=operation,
            outcome=change["outcome"],
            request_id=self.actor.request_id,
            user=self.actor.originating_user,
            channel=self.actor.channel,
            versions=len(versions),
            appended=len(appended),
        )
        return self._committed

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
        writes: list[_Write],
        appended: list[_Write],
    ) -> dict[str, Any]:
        full_summary = dict(summary or {})
        if appended:
            counts: dict[str, int] = {}
            for line in appended:
                counts[line.entity.kind] = counts.get(line.entity.kind, 0) + 1
            full_summary["appended"] = counts
            full_summary["usage_digest"] = usage_digest(a.after for a in appended)
        return {
            "id": seq,
            "at": at,
            "originating_user": self.actor.originating_user,
            "principal": self.actor.principal,
            "channel": self.actor.channel,
            "request_id": self.actor.request_id,
            "operation": operation,
            "outcome": "applied" if (writes or appended) else "unchanged",
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

    def _insert_many(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Insert rows; many of them on PostgreSQL go through COPY, an order of magnitude
        cheaper per row than INSERT (a seed or import unit writes hundreds of thousands)."""
        conn = self.connection
        if conn.dialect.name != "postgresql" or len(rows) < COPY_ROWS:
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
        violations: list[Violation] = []
        claimed: dict[tuple[str, str, Any], str] = {}
        wanted: dict[tuple[str, UniqueKey], dict[Any, str]] = {}
        for write in writes:
            if write.op == "delete":
                continue
            columns = write.mapping.columns(write.entity)
            for unique in write.mapping.unique:
                if unique.live is not None and not unique.live(write.entity):
                    continue
                if write.op == "update" and not _touches(write, unique):
                    continue  # the stored row already held this value, checked when written
                value = columns[unique.column]
                mine = (write.entity.kind, unique.column, value)
                if claimed.setdefault(mine, write.entity.id) != write.entity.id:
                    violations.append(
                        Violation(
                            unique.column, "unique", f"{unique.label} {value!r} is given twice"
                        )
                    )
                    continue
                wanted.setdefault((write.entity.kind, unique), {})[value] = write.entity.id
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
            "diff": write.diff,
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
