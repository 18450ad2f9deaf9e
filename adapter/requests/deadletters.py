"""The dead-letter store: failed requests, kept with their original envelope, to inspect,
replay once the cause is fixed, or discard.

A dead letter is a request whose status is ``failed``: refused at receipt (an envelope that
breaks the schema, a poison message with a usable ``request_id``), refused when applied (an
unknown customer, a stale expected version, a broken rule, a defect) or, once the change was
applied, refused by billing (the outbox sync marks the outbox row and the request ``failed``).
Nothing here adds a column or a table: what a replay or a discard needs to remember lives in
the request's ``reason`` JSON.

- ``reason["history"]``: the earlier reasons of a replayed request, oldest first, so that a
  request that fails again shows every failure and one that succeeds shows what it overcame
  (its reason then has the code ``replayed``).
- ``reason["discarded"]``: ``{by, at, reason}`` once an operator gave up on it. The status
  stays ``failed`` (the ``request`` and ``outbox`` status columns know no ``discarded``, and a
  new value would need a migration), so the request still reads as failed everywhere, but
  :func:`list_dead_letters` leaves it out unless asked for all. Its failed outbox rows stay
  ``failed``; the marker names them (``outbox_seqs``).

Every replay and discard is logged with the acting user and no PII (ids and codes only).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, Row, and_, func, or_, select, update

from adapter.domain.errors import DomainError, NotFound, ValidationFailed, Violation
from adapter.queries.customers import resolve
from adapter.requests.apply import (
    Clock,
    RequestStatus,
    apply_request,
    ordering_key,
    request_status,
)
from adapter.requests.envelope import parse_envelope
from adapter.store import tables as t
from adapter.store.reading import read_connection
from adapter.store.uow import utcnow

log = structlog.get_logger(__name__)

_REQUEST = t.request.c
_OUTBOX = t.outbox.c

REPLAYED = "replayed"
"""The code of the reason a replayed request keeps once it succeeds: its history."""

_STASH = "dead_letter_history"
"""Key in ``result`` holding the history between a replay's reset and its outcome: ``_fail``
rewrites ``reason`` but not ``result``, so the history survives a worker that picks the reset
request up first, or a crash before the replay records its outcome."""


class NotADeadLetter(ValidationFailed):
    """The request exists but is not failed (or was discarded): there is nothing to replay
    or discard. Bad input for the caller, not a state the store refused."""

    def __init__(self, request_id: str, why: str) -> None:
        super().__init__([_violation(request_id, why)])
        self.request_id = request_id


def _violation(request_id: str, why: str) -> Violation:
    return Violation("request_id", "dead_letter", f"request {request_id!r} {why}")


@dataclass(frozen=True)
class DeadLetter:
    """One line of the listing: enough to choose what to look at, nothing personal (the
    envelope is not part of it)."""

    request_id: str
    operation: str
    customer_id: str | None
    code: str
    message: str
    received_at: datetime
    failed_at: datetime | None
    attempts: int
    discarded: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "operation": self.operation,
            "customer_id": self.customer_id,
            "code": self.code,
            "message": self.message,
            "received_at": self.received_at.isoformat(),
            "failed_at": self.failed_at.isoformat() if self.failed_at else None,
            "attempts": self.attempts,
            "discarded": self.discarded,
        }


@dataclass(frozen=True)
class Page:
    items: tuple[DeadLetter, ...]
    total: int
    limit: int
    offset: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
            "items": [i.as_dict() for i in self.items],
        }


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    operation: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class DeadLetterDetail:
    """A dead letter in full: the envelope exactly as received (callers mask it for
    display), the reason with its history and discard marker, and its outbox rows."""

    status: RequestStatus
    principal: str
    envelope: Any
    outbox: tuple[OutboxRow, ...]

    def as_dict(self) -> dict[str, Any]:
        data = self.status.as_dict()
        data["principal"] = self.principal
        data["envelope"] = self.envelope
        data["outbox"] = [
            {
                "seq": o.seq,
                "operation": o.operation,
                "status": o.status,
                "attempts": o.attempts,
                "last_error": o.last_error,
                "created_at": o.created_at.isoformat(),
                "sent_at": o.sent_at.isoformat() if o.sent_at else None,
            }
            for o in self.outbox
        ]
        return data


# ------------------------------------------------------------------------------- reading


def _not_discarded() -> Any:
    return _REQUEST.reason["discarded"].as_string().is_(None)


def _customer_ids(conn: Connection, ref: str) -> list[str]:
    """A customer named by id or number; the raw text too, as a request may name a customer
    that does not exist (yet)."""
    ids = [ref]
    with contextlib.suppress(DomainError):
        ids.append(resolve(conn, "customer", ref))
    return ids


def list_dead_letters(
    engine: Engine,
    *,
    limit: int = 50,
    offset: int = 0,
    operation: str | None = None,
    customer: str | None = None,
    code: str | None = None,
    include_discarded: bool = False,
) -> Page:
    """A page of dead letters, newest failure first (ties by newest receipt, then request
    id, so that pages do not overlap), with the total matching. Discarded ones only when
    ``include_discarded``."""
    with read_connection(engine) as conn:
        conditions: list[Any] = [_REQUEST.status == "failed"]
        if not include_discarded:
            conditions.append(_not_discarded())
        if operation is not None:
            conditions.append(_REQUEST.operation == operation)
        if customer is not None:
            conditions.append(_REQUEST.customer_id.in_(_customer_ids(conn, customer)))
        if code is not None:
            conditions.append(_REQUEST.reason["code"].as_string() == code)
        where = and_(*conditions)
        total = conn.execute(select(func.count()).select_from(t.request).where(where)).scalar_one()
        rows = conn.execute(
            select(t.request)
            .where(where)
            .order_by(
                func.coalesce(_REQUEST.failed_at, _REQUEST.received_at).desc(),
                _REQUEST.seq.desc(),
            )
            .limit(limit)
            .offset(offset)
        ).all()
    return Page(tuple(_letter(r) for r in rows), int(total), limit, offset)


def _letter(row: Row[Any]) -> DeadLetter:
    reason = row.reason if isinstance(row.reason, dict) else {}
    return DeadLetter(
        request_id=row.request_id,
        operation=row.operation,
        customer_id=row.customer_id,
        code=str(reason.get("code", "")),
        message=str(reason.get("message", "")),
        received_at=row.received_at,
        failed_at=row.failed_at,
        attempts=row.attempts,
        discarded=reason.get("discarded"),
    )


def show(engine: Engine, request_id: str) -> DeadLetterDetail:
    """A request in full (any status, so that a replayed one can still be looked at);
    :class:`NotFound` for an id never received."""
    status = request_status(engine, request_id)
    with read_connection(engine) as conn:
        row = conn.execute(
            select(_REQUEST.principal, _REQUEST.envelope).where(_REQUEST.request_id == request_id)
        ).one()
        outbox = conn.execute(
            select(t.outbox).where(_OUTBOX.request_id == request_id).order_by(_OUTBOX.seq)
        ).all()
    return DeadLetterDetail(
        status=status,
        principal=row.principal,
        envelope=row.envelope,
        outbox=tuple(
            OutboxRow(
                o.seq, o.operation, o.status, o.attempts, o.last_error, o.created_at, o.sent_at
            )
            for o in outbox
        ),
    )


# ------------------------------------------------------------------------------- writing


def _dead_letter(conn: Connection, request_id: str) -> Row[Any]:
    row = conn.execute(select(t.request).where(_REQUEST.request_id == request_id)).first()
    if row is None:
        raise NotFound("request", request_id)
    if row.status != "failed":
        raise NotADeadLetter(request_id, f"is {row.status}, not failed: not a dead letter")
    if isinstance(row.reason, dict) and row.reason.get("discarded"):
        raise NotADeadLetter(request_id, "was discarded")
    return row


def _earlier(reason: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The history a reason carries and the reason itself without it."""
    if not isinstance(reason, dict):
        return [], {}
    history = list(reason.get("history") or [])
    return history, {k: v for k, v in reason.items() if k != "history"}


def replay(engine: Engine, request_id: str, *, user: str, clock: Clock = utcnow) -> RequestStatus:
    """Try a dead letter again; return its new status.

    A request refused before it changed anything (no ``change_id``) is reset to
    ``received`` and applied again (:func:`apply_request`, in order behind any of its
    customer's waiting requests); should it fail again its new reason carries the earlier
    ones in ``history``. A request whose change was applied but refused by billing (failed
    outbox rows) is not applied again: its failed outbox rows go back to ``pending`` and the
    request to ``applied``, so that the customer's next drain sends them in order.

    The reset is conditional on the status still being ``failed``: of two replays at once,
    one wins and the other gets :class:`NotADeadLetter`."""
    now = clock()
    with engine.begin() as conn:
        row = _dead_letter(conn, request_id)
        history, earlier = _earlier(row.reason)
        history.append({**earlier, "failed_at": _iso(row.failed_at), "replayed_by": user})
        failed_outbox = list(
            conn.execute(
                select(_OUTBOX.id).where(
                    _OUTBOX.request_id == request_id, _OUTBOX.status == "failed"
                )
            ).scalars()
        )
        if row.change_id is not None:
            _reset_outbox(conn, row, failed_outbox, history, user, now)
        else:
            _reset_request(conn, row, history)
    log.info(
        "deadletter.replay",
        request_id=request_id,
        user=user,
        earlier_code=earlier.get("code"),
        outbox_rows=len(failed_outbox),
    )
    if row.change_id is not None:
        return request_status(engine, request_id)
    apply_request(engine, request_id, clock=clock)
    return _record_history(engine, request_id, history, user, clock)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _reset_request(conn: Connection, row: Row[Any], history: list[dict[str, Any]]) -> None:
    values: dict[str, Any] = {
        "status": "received",
        "reason": None,
        "failed_at": None,
        "result": {_STASH: history},
    }
    if row.customer_id is None:
        # Refused for a customer that did not exist: the one since created is its queue now.
        # Still broken: it keeps no customer and fails again when applied.
        with contextlib.suppress(ValidationFailed):
            values["customer_id"] = ordering_key(conn, parse_envelope(row.envelope))
    _claim(conn, row.request_id, values)


def _reset_outbox(
    conn: Connection,
    row: Row[Any],
    failed_outbox: list[int],
    history: list[dict[str, Any]],
    user: str,
    now: datetime,
) -> None:
    _claim(
        conn,
        row.request_id,
        {
            "status": "applied",
            "failed_at": None,
            "synced_at": None,
            "reason": _replayed_reason(history, user, now, "sent to billing again"),
        },
    )
    if failed_outbox:
        conn.execute(
            update(t.outbox)
            .where(_OUTBOX.id.in_(failed_outbox))
            .values(status="pending", next_attempt_at=None)
        )


def _claim(conn: Connection, request_id: str, values: dict[str, Any]) -> None:
    done = conn.execute(
        update(t.request)
        .where(_REQUEST.request_id == request_id, _REQUEST.status == "failed")
        .values(**values)
    )
    if done.rowcount != 1:
        raise NotADeadLetter(request_id, "was replayed or changed by someone else just now")


def _replayed_reason(
    history: list[dict[str, Any]], user: str, now: datetime, what: str
) -> dict[str, Any]:
    return {
        "code": REPLAYED,
        "message": f"{what} on replay by {user} at {now.isoformat()}",
        "violations": [],
        "history": history,
    }


def _record_history(
    engine: Engine, request_id: str, history: list[dict[str, Any]], user: str, clock: Clock
) -> RequestStatus:
    """After the replay's apply, the history goes into the reason whatever the outcome: a
    request that failed again shows every failure, one that succeeded what it overcame."""
    with engine.begin() as conn:
        row = conn.execute(
            select(_REQUEST.status, _REQUEST.reason).where(_REQUEST.request_id == request_id)
        ).one()
        if row.status == "failed":
            _, reason = _earlier(row.reason)
            conn.execute(
                update(t.request)
                .where(_REQUEST.request_id == request_id, _REQUEST.status == "failed")
                .values(reason={**reason, "history": history}, result=None)
            )
        elif row.status in ("applied", "synced") and row.reason is None:
            conn.execute(
                update(t.request)
                .where(
                    _REQUEST.request_id == request_id,
                    or_(_REQUEST.status == "applied", _REQUEST.status == "synced"),
                )
                .values(reason=_replayed_reason(history, user, clock(), "applied"))
            )
    outcome = request_status(engine, request_id)
    log.info(
        "deadletter.replayed",
        request_id=request_id,
        user=user,
        status=outcome.status,
        code=(outcome.reason or {}).get("code"),
    )
    return outcome


def discard(
    engine: Engine, request_id: str, *, user: str, reason: str, clock: Clock = utcnow
) -> RequestStatus:
    """Give up on a dead letter: it stays ``failed`` with a ``discarded`` marker ``{by, at,
    reason, outbox_seqs}`` in its reason and leaves the default listing. Its failed outbox
    rows stay ``failed`` (the outbox knows no ``discarded`` status; the marker names them)."""
    if not reason.strip():
        raise ValidationFailed.one("reason", "required", "say why the dead letter is discarded")
    now = clock()
    with engine.begin() as conn:
        row = _dead_letter(conn, request_id)
        seqs = list(
            conn.execute(
                select(_OUTBOX.seq)
                .where(_OUTBOX.request_id == request_id, _OUTBOX.status == "failed")
                .order_by(_OUTBOX.seq)
            ).scalars()
        )
        marker = {"by": user, "at": now.isoformat(), "reason": reason, "outbox_seqs": seqs}
        current = row.reason if isinstance(row.reason, dict) else {}
        done = conn.execute(
            update(t.request)
            .where(_REQUEST.request_id == request_id, _REQUEST.status == "failed")
            .values(reason={**current, "discarded": marker})
        )
        if done.rowcount != 1:
            raise NotADeadLetter(request_id, "was replayed or changed by someone else just now")
    log.info(
        "deadletter.discarded",
        request_id=request_id,
        user=user,
        code=current.get("code"),
        outbox_rows=len(seqs),
    )
    return request_status(engine, request_id)
