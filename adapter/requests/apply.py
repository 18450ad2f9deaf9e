"""Receiving and applying provisioning requests.

:func:`receive` records an envelope (``received``, or ``failed`` when it breaks the schema) in
the ``request`` table, once per ``request_id``, with its place in the order of receipt and the
customer it concerns. :func:`apply_request` applies a received request in one unit of work
whose actor is the envelope's originating user and channel, the principal that carried it and
its request id; the request's status, its result and the outbox messages for billing are
written in the same transaction as the change (``UnitOfWork.stage``). :func:`submit` does both,
as ``crm-adapter submit`` and the Celery task ``crm.requests.apply`` do.

Idempotency: a request id is recorded once; applying a request that is no longer ``received``
returns its recorded outcome; two workers applying the same request at once produce one change
(the unit of work refuses the second as :class:`DuplicateRequest`, under the chain lock) and
both return the first outcome.

Order: one customer's requests apply in the order they were received. Applying a request first
applies every request of the same customer received before it and still waiting, each in its
own unit of work; a failed predecessor is recorded and does not hold the others up. A worker
that picks up a later request therefore never overtakes an earlier one, and nothing waits on a
message that was lost.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import structlog
from sqlalchemy import Connection, Engine, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from adapter.domain import Actor
from adapter.domain.errors import DomainError, NotFound, ValidationFailed, Violation
from adapter.queries.customers import resolve
from adapter.requests import outbox
from adapter.requests.commands import CreateCustomer, Target
from adapter.requests.envelope import REQUEST_ID_MAX, RequestEnvelope, parse_envelope
from adapter.requests.handlers import HANDLERS, Result
from adapter.store import jsontext
from adapter.store import tables as t
from adapter.store.reading import read_connection
from adapter.store.uow import CommittedChange, DuplicateRequest, UnitOfWork, utcnow

log = structlog.get_logger(__name__)

DEFAULT_PRINCIPAL = "crm-adapter"
"""The principal recorded when the caller names none. Each entry point names itself: the CLI
``crm-adapter-cli``, the Celery task its worker, the HTTP API the authenticated client."""

INVALID_ENVELOPE = "invalid_envelope"
INTERNAL_ERROR = "internal_error"

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class OutboxEntry:
    seq: int
    operation: str
    status: str


@dataclass(frozen=True)
class RequestStatus:
    """Where a request stands: ``received``, ``applied`` (in the store; billing still to be
    told), ``synced`` (billing told, or nothing to tell it) or ``failed`` with the reason."""

    request_id: str
    status: str
    operation: str
    customer_id: str | None
    change_id: int | None
    reason: dict[str, Any] | None
    result: dict[str, Any] | None
    legacy_ids: dict[str, Any] | None
    attempts: int
    received_at: datetime
    applied_at: datetime | None = None
    synced_at: datetime | None = None
    failed_at: datetime | None = None
    outbox: tuple[OutboxEntry, ...] = field(default=())

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def as_dict(self) -> dict[str, Any]:
        def instant(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "request_id": self.request_id,
            "status": self.status,
            "operation": self.operation,
            "customer_id": self.customer_id,
            "change_id": self.change_id,
            "reason": self.reason,
            "result": self.result,
            "legacy_ids": self.legacy_ids,
            "attempts": self.attempts,
            "received_at": instant(self.received_at),
            "applied_at": instant(self.applied_at),
            "synced_at": instant(self.synced_at),
            "failed_at": instant(self.failed_at),
            "outbox": [e.__dict__ for e in self.outbox],
        }


class _AlreadyDecided(Exception):
    """Another worker recorded this request's outcome first; this unit must not commit."""


def reason_of(error: DomainError, code: str | None = None) -> dict[str, Any]:
    """A failure as it is recorded and shown: a stable code, a sentence, and for broken
    rules each field, rule and message."""
    violations = error.violations if isinstance(error, ValidationFailed) else ()
    return {
        "code": code or error.code,
        "message": str(error),
        "violations": [
            {"field": v.field, "rule": v.rule, "message": v.message} for v in violations
        ],
    }


# ----------------------------------------------------------------------------- reading


_REQUEST = t.request.c


def _row(conn: Connection, request_id: str) -> Row[Any] | None:
    return conn.execute(select(t.request).where(_REQUEST.request_id == request_id)).first()


def _status(conn: Connection, row: Row[Any]) -> RequestStatus:
    o = t.outbox.c
    entries = conn.execute(
        select(o.seq, o.operation, o.status).where(o.request_id == row.request_id).order_by(o.seq)
    )
    return RequestStatus(
        request_id=row.request_id,
        status=row.status,
        operation=row.operation,
        customer_id=row.customer_id,
        change_id=row.change_id,
        reason=row.reason,
        result=row.result,
        legacy_ids=row.legacy_ids,
        attempts=row.attempts,
        received_at=row.received_at,
        applied_at=row.applied_at,
        synced_at=row.synced_at,
        failed_at=row.failed_at,
        outbox=tuple(OutboxEntry(e.seq, e.operation, e.status) for e in entries),
    )


def request_status(engine: Engine, request_id: str) -> RequestStatus:
    """The status of a request; :class:`NotFound` for an id never received."""
    with read_connection(engine) as conn:
        row = _row(conn, request_id)
        if row is None:
            raise NotFound("request", request_id)
        return _status(conn, row)


# ----------------------------------------------------------------------------- receiving


def _decode(envelope: str | bytes | Mapping[str, Any]) -> Any:
    if isinstance(envelope, Mapping):
        data: Any = dict(envelope)
    else:
        try:
            data = orjson.loads(envelope)
        except orjson.JSONDecodeError as exc:
            raise ValidationFailed.one("(envelope)", "json", f"not JSON: {exc}") from None
    try:
        jsontext.encode(data)  # kept as received: it must be plain JSON data
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise ValidationFailed.one("(envelope)", "json", f"not JSON data: {exc}") from None
    return data


def _usable_request_id(data: Any) -> str | None:
    """The request id of a decoded envelope if it can key a record, even when the rest of
    the envelope is bad (so that the failure is recorded where the sender will look)."""
    if not isinstance(data, Mapping):
        return None
    value = data.get("request_id")
    if not isinstance(value, str) or not 0 < len(value) <= REQUEST_ID_MAX:
        return None
    return None if any(ch.isspace() for ch in value) else value


_NO_REQUEST_ID = Violation(
    "request_id",
    "required",
    f"a request_id of 1 to {REQUEST_ID_MAX} characters without whitespace is required; without "
    "one the request cannot be recorded",
)


def _customer_of(conn: Connection, target: Target) -> str | None:
    """The customer a stored entity belongs to (its latest version says so, which also finds
    an entity deleted since); None for one that does not exist."""
    try:
        entity_id = (
            resolve(conn, target.kind, target.ref)
            if target.kind in ("customer", "account", "contract", "subscriber")
            else target.ref
        )
    except DomainError:
        return None
    if target.kind == "customer":
        return entity_id
    v = t.entity_version.c
    found = conn.execute(
        select(v.customer_id)
        .where(v.entity_type == target.kind, v.entity_id == entity_id)
        .order_by(v.version.desc())
        .limit(1)
    ).scalar_one_or_none()
    return str(found) if found is not None else None


def _pending_customer(conn: Connection, ref: str) -> str | None:
    """The customer a received, not yet applied ``customer.create`` will create under the id
    or customer number ``ref`` (so a later request naming it queues behind the create)."""
    rows = conn.execute(
        select(_REQUEST.customer_id, _REQUEST.envelope)
        .where(_REQUEST.operation == "customer.create", _REQUEST.status == "received")
        .order_by(_REQUEST.seq)
    )
    for customer_id, envelope in rows:
        payload = envelope.get("payload", {}) if isinstance(envelope, dict) else {}
        if ref in (customer_id, payload.get("customer_number")):
            return str(customer_id)
    return None


def ordering_key(conn: Connection, envelope: RequestEnvelope) -> str | None:
    """The customer whose queue the request joins: a ``customer.create`` its new customer;
    else the envelope's ``customer`` (id or number, also of a customer a waiting request
    will create); else the customer of the entity the payload names. None when there is no
    such customer yet: the request then waits on nothing and, applied, fails if it still
    names nothing."""
    payload = envelope.payload
    if isinstance(payload, CreateCustomer):
        return payload.customer_id(envelope.request_id)
    if envelope.customer is not None:
        found = _customer_of(conn, Target("customer", envelope.customer))
        return found or _pending_customer(conn, envelope.customer)
    target = payload.target()
    return _customer_of(conn, target) if target is not None else None


def _insert(conn: Connection, values: dict[str, Any]) -> None:
    if conn.dialect.name != "postgresql":
        # No identity column on SQLite: the next number, under the write lock BEGIN IMMEDIATE
        # took for this transaction.
        values["seq"] = select(func.coalesce(func.max(_REQUEST.seq), 0) + 1).scalar_subquery()
    conn.execute(insert(t.request).values(**values))


def receive(
    engine: Engine,
    envelope: str | bytes | Mapping[str, Any],
    *,
    principal: str = DEFAULT_PRINCIPAL,
    clock: Clock = utcnow,
) -> RequestStatus:
    """Record an envelope (JSON text, or decoded JSON) as ``received``, in the order of
    receipt and keyed by its customer; return its status.

    A request id recorded before returns that record, whatever this envelope holds. An
    envelope that breaks the schema is recorded ``failed`` (reason ``invalid_envelope`` with
    each field and rule) when its request id is usable; without one nothing can be recorded,
    and :class:`ValidationFailed` is raised."""
    data = _decode(envelope)
    request_id = _usable_request_id(data)
    failure: dict[str, Any] | None = None
    try:
        parsed = parse_envelope(data)
    except ValidationFailed as exc:
        if request_id is None:
            others = [v for v in exc.violations if v.field != "request_id"]
            raise ValidationFailed([_NO_REQUEST_ID, *others]) from None
        failure = reason_of(exc, INVALID_ENVELOPE)
    assert request_id is not None
    now = clock()
    values: dict[str, Any] = {
        "request_id": request_id,
        "principal": principal,
        "envelope": data,
        "received_at": now,
        "attempts": 0,
    }
    try:
        with engine.begin() as conn:
            row = _row(conn, request_id)
            if row is not None:
                if row.envelope != data:
                    log.warning("request.id_reused", request_id=request_id)
                return _status(conn, row)
            if failure is None:
                values |= {
                    "operation": parsed.operation,
                    "customer_id": ordering_key(conn, parsed),
                    "status": "received",
                }
            else:
                operation = data.get("operation")
                values |= {
                    "operation": operation[:100] if isinstance(operation, str) else "(none)",
                    "status": "failed",
                    "reason": failure,
                    "failed_at": now,
                }
            _insert(conn, values)
    except IntegrityError:
        # Received at the same moment by another worker (PostgreSQL): theirs is the record.
        with read_connection(engine) as conn:
            row = _row(conn, request_id)
            if row is None:
                raise
            return _status(conn, row)
    log.info(
        "request.received" if failure is None else "request.refused",
        request_id=request_id,
        operation=values["operation"],
        customer_id=values.get("customer_id"),
    )
    return request_status(engine, request_id)


# ------------------------------------------------------------------------------ applying


def apply_request(engine: Engine, request_id: str, *, clock: Clock = utcnow) -> RequestStatus:
    """Apply a received request, after every earlier waiting request of its customer; return
    its status. A request no longer waiting is not applied again: its recorded outcome is
    returned. A failure of the store itself (the database unreachable) propagates, leaving
    the request ``received`` for a retry."""
    with read_connection(engine) as conn:
        row = _row(conn, request_id)
        if row is None:
            raise NotFound("request", request_id)
        if row.status != "received":
            return _status(conn, row)
        earlier: list[str] = []
        if row.customer_id is not None:
            earlier = list(
                conn.execute(
                    select(_REQUEST.request_id)
                    .where(
                        _REQUEST.customer_id == row.customer_id,
                        _REQUEST.status == "received",
                        _REQUEST.seq < row.seq,
                    )
                    .order_by(_REQUEST.seq)
                ).scalars()
            )
    for predecessor in earlier:
        _apply_one(engine, predecessor, clock)
    return _apply_one(engine, request_id, clock)


def submit(
    engine: Engine,
    envelope: str | bytes | Mapping[str, Any],
    *,
    principal: str = DEFAULT_PRINCIPAL,
    clock: Clock = utcnow,
) -> RequestStatus:
    """Receive an envelope and, if it is waiting, apply it."""
    status = receive(engine, envelope, principal=principal, clock=clock)
    if status.status != "received":
        return status
    return apply_request(engine, status.request_id, clock=clock)


def _apply_one(engine: Engine, request_id: str, clock: Clock) -> RequestStatus:
    with read_connection(engine) as conn:
        row = _row(conn, request_id)
    if row is None:
        raise NotFound("request", request_id)
    if row.status != "received":
        return request_status(engine, request_id)
    try:
        envelope = parse_envelope(row.envelope)
    except ValidationFailed as exc:  # received under an older schema
        return _fail(engine, request_id, reason_of(exc, INVALID_ENVELOPE), clock)
    actor = Actor(
        originating_user=envelope.originating_user,
        principal=row.principal,
        channel=envelope.channel,
        request_id=request_id,
    )
    # Every log line of the unit (the store's "change.committed" included) says which request,
    # customer and actor it belongs to.
    bound = structlog.contextvars.bound_contextvars(
        request_id=request_id,
        operation=envelope.operation,
        customer_id=row.customer_id,
        user=actor.originating_user,
        principal=actor.principal,
        channel=actor.channel,
    )
    with bound:
        try:
            with UnitOfWork(engine, actor, clock=clock) as uow:
                result = HANDLERS[envelope.operation](uow, envelope.payload)
                uow.stage(functools.partial(_record_applied, request_id=request_id, result=result))
                uow.commit(envelope.operation, result)
        except DuplicateRequest:
            return _acknowledge_duplicate(engine, request_id)
        except _AlreadyDecided:
            return request_status(engine, request_id)
        except DomainError as exc:
            return _fail(engine, request_id, reason_of(exc), clock)
        except SQLAlchemyError:
            raise  # the store failed, not the request: it stays received for a retry
        except Exception as exc:
            # A defect this request runs into (a poison message): recorded as failed with the
            # original envelope, so that the customer's later requests are not held up.
            log.exception("request.internal_error", request_id=request_id)
            reason = {
                "code": INTERNAL_ERROR,
                "message": f"{type(exc).__name__}: {exc}",
                "violations": [],
            }
            return _fail(engine, request_id, reason, clock)
    return request_status(engine, request_id)


def _record_applied(
    conn: Connection, change: CommittedChange, *, request_id: str, result: Result
) -> None:
    """Staged in the request's unit of work: the request becomes applied (synced when billing
    needs no message) with the change, and the outbox messages are written — all or nothing
    with the change itself."""
    written = [*outbox.read_written(conn, change.id), *outbox.resent(conn, result)]
    messages = outbox.plan(written, outbox.nodes_reader(conn))
    done = conn.execute(
        update(t.request)
        .where(_REQUEST.request_id == request_id, _REQUEST.status == "received")
        .values(
            status="applied" if messages else "synced",
            change_id=change.id,
            result=result,
            reason=None,
            applied_at=change.at,
            synced_at=None if messages else change.at,
            attempts=_REQUEST.attempts + 1,
        )
    )
    if done.rowcount != 1:
        raise _AlreadyDecided(request_id)
    outbox.write_messages(conn, messages, change_id=change.id, request_id=request_id, at=change.at)


def _fail(engine: Engine, request_id: str, reason: dict[str, Any], clock: Clock) -> RequestStatus:
    """Record a failure in a transaction of its own: nothing of the request was written. Only
    a waiting request is marked, so a failure cannot overwrite an outcome another worker
    recorded first."""
    with engine.begin() as conn:
        conn.execute(
            update(t.request)
            .where(_REQUEST.request_id == request_id, _REQUEST.status == "received")
            .values(
                status="failed",
                reason=reason,
                failed_at=clock(),
                attempts=_REQUEST.attempts + 1,
            )
        )
    fields = [v["field"] for v in reason.get("violations", [])]
    log.warning("request.failed", request_id=request_id, code=reason["code"], fields=fields)
    return request_status(engine, request_id)


def _acknowledge_duplicate(engine: Engine, request_id: str) -> RequestStatus:
    """The store already holds a change with this request id (another worker applied it a
    moment ago, or another path used the id): that change is the request's outcome."""
    with engine.begin() as conn:
        change = conn.execute(
            select(t.change.c.id, t.change.c.at).where(t.change.c.request_id == request_id)
        ).one()
        conn.execute(
            update(t.request)
            .where(_REQUEST.request_id == request_id, _REQUEST.status == "received")
            .values(status="applied", change_id=change.id, applied_at=change.at)
        )
    log.info("request.duplicate", request_id=request_id, change_id=change.id)
    return request_status(engine, request_id)
