"""A stored billing notification → canonical changes, in one unit of work.

The actor is billing: principal ``billing``, the originating user the event's ``billingUser``
(else ``billing``), channel ``billing-push``, request id ``event-<eventId>`` (so the audit
trail ties each change to the event, and the unit of work refuses to apply an event twice).

Codes are translated through the enum tables of ``mappings/enums.yaml`` (the same tables the
CIL maps use: coStatus, csStatus, usageType, direction, fuType). The fields themselves are
read in code rather than through ``mappings/notifications/*.yaml``: the mapping engine checks
its maps against ``cil.wsdl`` operations and ``cil.xsd``, and the notification payload is
already schema-checked JSON whose five shapes map one to one onto Balance, FreeUnitBucket,
UsageRecord, Contract.change_status and Account (see docs/legacy-interface.md).

Outcomes, recorded on the event row, never dropped: ``applied`` (with the change), or
``rejected`` with a reason when billing names something the CRM does not hold (unknown
customer, contract or subscriber) or the event is stale (a balance or bucket older than the
stored one, a status transition a contract cannot make), or ``failed`` for a defect. A store
that cannot be reached raises, and the event stays ``received`` for a retry.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

import structlog
from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import SQLAlchemyError

from adapter.domain import Actor
from adapter.domain.errors import ConcurrencyConflict, Conflict, DomainError, NotFound
from adapter.domain.model import (
    Account,
    Balance,
    Contract,
    ContractStatus,
    FreeUnitBucket,
    Subscriber,
    UsageRecord,
    UsageType,
)
from adapter.mapping import load_mappings
from adapter.store import tables as t
from adapter.store.uow import CommittedChange, DuplicateRequest, UnitOfWork, utcnow

log = structlog.get_logger("adapter.notifications")

PRINCIPAL: Final = "billing"
CHANNEL: Final = "billing-push"
UNKNOWN_SUBSCRIBER: Final = "NTF.EVT0404"
STALE_EVENT: Final = "NTF.EVT0409"
INVALID_EVENT: Final = "NTF.EVT0422"
INTERNAL_ERROR: Final = "NTF.SYS0001"
CONFLICT_ATTEMPTS: Final = 3

_EVENT = t.inbound_event.c
Clock = Callable[[], datetime]


class Rejected(Exception):
    """The event cannot be applied, for a reason billing should hear about (recorded)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class EventStatus:
    event_id: str
    operation: str
    status: str
    reason: dict[str, Any] | None
    change_id: int | None


def event_status(engine: Engine, event_id: str) -> EventStatus:
    """Where an event stands (:class:`NotFound` when it was never received)."""
    with engine.connect() as conn:
        row = conn.execute(select(t.inbound_event).where(_EVENT.event_id == event_id)).first()
    if row is None:
        raise NotFound("inbound_event", event_id)
    return EventStatus(row.event_id, row.operation, row.status, row.reason, row.change_id)


def pending_events(engine: Engine, limit: int = 1000) -> list[str]:
    """Ids of events still ``received``, oldest first (for a sweep or a manual apply)."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(_EVENT.event_id)
                .where(_EVENT.status == "received")
                .order_by(_EVENT.received_at, _EVENT.event_id)
                .limit(limit)
            ).scalars()
        )


# ----------------------------------------------------------------------- reading values


def _dec(value: str) -> Decimal:
    return Decimal(value)


def _dt(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _day(value: str) -> date:
    if value.endswith("Z"):
        value = value[:-1]
    return date.fromisoformat(value[:10])


def _inbound(table: str, code: str) -> Any:
    return load_mappings().enum(table, code, "inbound")


# ----------------------------------------------------------------------- resolving ids


def _linked(uow: UnitOfWork, kind: str, legacy_id: str | None, public_id: str | None) -> str | None:
    """The canonical id ``legacy_link`` holds for billing's internal or public id."""
    link = t.legacy_link.c
    for column, value in ((link.legacy_id, legacy_id), (link.public_id, public_id)):
        if value:
            found = uow.connection.execute(
                select(link.entity_id).where(link.kind == kind, column == value)
            ).scalar_one_or_none()
            if found is not None:
                return str(found)
    return None


def _account(uow: UnitOfWork, ref: dict[str, Any]) -> Account:
    """The account billing's CustomerRef names: csIdPub is the account number; csId (or a
    public id the number does not match) is looked up in ``legacy_link``."""
    public, internal = ref.get("csIdPub"), ref.get("csId")
    if public:
        found = uow.find_by(Account, number=public)
        if found:
            return found[0]
    entity_id = _linked(uow, "account", internal, public)
    account = uow.find(Account, entity_id) if entity_id else None
    if account is None:
        raise Rejected(UNKNOWN_SUBSCRIBER, f"billing customer {_ref_text(ref)} is not known here")
    return account


def _contract(uow: UnitOfWork, ref: dict[str, Any]) -> Contract:
    """The contract billing's ContractRef names (coIdPub = contract number, or coId)."""
    public, internal = ref.get("coIdPub"), ref.get("coId")
    if public:
        found = uow.find_by(Contract, number=public)
        if found:
            return found[0]
    entity_id = _linked(uow, "contract", internal, public)
    contract = uow.find(Contract, entity_id) if entity_id else None
    if contract is None:
        raise Rejected(UNKNOWN_SUBSCRIBER, f"billing contract {_ref_text(ref)} is not known here")
    return contract


def _ref_text(ref: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in sorted(ref.items()) if v]
    return ", ".join(parts) or "(no id)"


# ----------------------------------------------------------------------- handlers


def _balance(uow: UnitOfWork, data: dict[str, Any]) -> dict[str, Any]:
    account = _account(uow, data["customer"])
    currency = data["current"]["currency"]
    for part in ("unbilled", "outstanding"):
        if data[part]["currency"] != currency:
            raise Rejected(
                INVALID_EVENT,
                f"{part} is in {data[part]['currency']}, current in {currency}; one balance "
                "has one currency",
            )
    as_of = _dt(data["asOf"])
    values = {
        "current": _dec(data["current"]["amount"]),
        "unbilled": _dec(data["unbilled"]["amount"]),
        "outstanding": _dec(data["outstanding"]["amount"]),
        "as_of": as_of,
    }
    stored = uow.find_by(Balance, account_id=account.id, currency=currency)
    if stored:
        balance = stored[0]
        if balance.as_of > as_of:
            raise Rejected(
                STALE_EVENT,
                f"the balance of account {account.number} in {currency} is as of "
                f"{balance.as_of.isoformat()}, newer than this event's {as_of.isoformat()}",
            )
        for name, value in values.items():
            setattr(balance, name, value)
    else:
        balance = Balance(
            customer_id=account.customer_id, account_id=account.id, currency=currency, **values
        )
        uow.add(balance)
    return {"account_id": account.id, "balance_id": balance.id}


def _free_units(uow: UnitOfWork, data: dict[str, Any]) -> dict[str, Any]:
    contract = _contract(uow, data["contract"])
    as_of = _dt(data["asOf"])
    stored = {
        (b.package, b.period_start): b for b in uow.find_by(FreeUnitBucket, contract_id=contract.id)
    }
    ids: list[str] = []
    for item in data["freeUnit"]:
        values = {
            "unit": _inbound("free_unit_types", item["fuType"]),
            "granted": _dec(item["granted"]),
            "used": _dec(item["used"]),
            "remaining": _dec(item["remaining"]),
            "period_end": _day(item["periodEnd"]),
            "as_of": as_of,
        }
        key = (item["fuPackId"], _day(item["periodStart"]))
        bucket = stored.get(key)
        if bucket is not None:
            if bucket.as_of > as_of:
                raise Rejected(
                    STALE_EVENT,
                    f"free units {key[0]} of contract {contract.number} from {key[1]} are as of "
                    f"{bucket.as_of.isoformat()}, newer than this event's {as_of.isoformat()}",
                )
            for name, value in values.items():
                setattr(bucket, name, value)
        else:
            bucket = FreeUnitBucket(
                customer_id=contract.customer_id,
                account_id=contract.account_id,
                contract_id=contract.id,
                package=key[0],
                period_start=key[1],
                **values,
            )
            uow.add(bucket)
            stored[key] = bucket
        ids.append(bucket.id)
    return {"contract_id": contract.id, "buckets": ids}


def _usage(uow: UnitOfWork, data: dict[str, Any]) -> dict[str, Any]:
    """Usage lines are immutable: a udr id already recorded is skipped (billing resending a
    batch under a new eventId adds nothing twice). A udr naming its number (``dnNum``) is
    charged to that subscriber of the contract, else to the contract's first active one; a
    number the contract does not have rejects the whole batch (nothing half-applied)."""
    contract = _contract(uow, data["contract"])
    subscribers = sorted(
        uow.find_by(Subscriber, contract_id=contract.id), key=lambda s: s.status != "active"
    )
    if not subscribers:
        raise Rejected(
            UNKNOWN_SUBSCRIBER, f"contract {contract.number} has no subscriber to charge usage to"
        )
    by_number = {s.msisdn.lstrip("+"): s for s in subscribers}
    added: list[str] = []
    skipped = 0
    for udr in data["udr"]:
        record_id = f"udr-{contract.id[:40]}-{udr['udrId']}"[:64]
        if uow.find(UsageRecord, record_id) is not None:
            skipped += 1
            continue
        subscriber = by_number.get(udr["dnNum"]) if "dnNum" in udr else subscribers[0]
        if subscriber is None:
            raise Rejected(
                UNKNOWN_SUBSCRIBER,
                f"udr {udr['udrId']}: number {udr['dnNum']} is not a subscriber of contract "
                f"{contract.number}",
            )
        record = UsageRecord(
            id=record_id,
            customer_id=contract.customer_id,
            account_id=contract.account_id,
            contract_id=contract.id,
            subscriber_id=subscriber.id,
            start_time=_dt(udr["startTime"]),
            type=UsageType(_inbound("usage_types", udr["usageType"])),
            direction=_inbound("usage_directions", udr["direction"]),
            other_party=udr.get("otherParty") or None,
            duration_seconds=int(udr["durationSec"]) if "durationSec" in udr else None,
            volume_bytes=int(udr["volumeBytes"]) if "volumeBytes" in udr else None,
            charge={"amount": _dec(udr["charge"]["amount"]), "currency": udr["charge"]["currency"]},
            free_units_consumed=_dec(udr.get("fuConsumed", "0")),
            free_unit_package=udr.get("fuPackId"),
            roaming_country=udr.get("roamingCountry"),
        )
        uow.add(record)
        added.append(record_id)
    return {"contract_id": contract.id, "added": len(added), "skipped": skipped}


def _contract_status(uow: UnitOfWork, data: dict[str, Any]) -> dict[str, Any]:
    contract = _contract(uow, data["contract"])
    new = ContractStatus(_inbound("contract_statuses", data["coStatus"]))
    at = _dt(data["validFrom"])
    if new is contract.status:
        return {"contract_id": contract.id, "status": new.value, "unchanged": True}
    last = contract.status_history[-1].at if contract.status_history else None
    if last is not None and last > at:
        raise Rejected(
            STALE_EVENT,
            f"contract {contract.number} changed status at {last.isoformat()}, after this "
            f"event's {at.isoformat()}",
        )
    try:
        contract.change_status(new, at, data.get("rsCode"))
    except Conflict as exc:
        raise Rejected(STALE_EVENT, str(exc)) from None
    return {"contract_id": contract.id, "status": new.value}


def _customer(uow: UnitOfWork, data: dict[str, Any]) -> dict[str, Any]:
    """A billing customer node is a CRM account: csStatus is the account's status."""
    account = _account(uow, data["customer"])
    changed = data.get("changed") or {}
    if not isinstance(changed, dict) or not changed:
        raise Rejected(INVALID_EVENT, "the notification names no changed field")
    fields: list[str] = []
    if "csStatus" in changed:
        account.status = _inbound("account_statuses", changed["csStatus"])
        fields.append("status")
    unsupported = sorted(set(changed) - {"csStatus"})
    if unsupported:
        # recorded in the result; a price group has no canonical field yet
        return {"account_id": account.id, "fields": fields, "ignored": unsupported}
    return {"account_id": account.id, "fields": fields}


HANDLERS: Final[dict[str, Callable[[UnitOfWork, dict[str, Any]], dict[str, Any]]]] = {
    "BalanceUpdated": _balance,
    "FreeUnitsUpdated": _free_units,
    "UsageRecords": _usage,
    "ContractStatusChanged": _contract_status,
    "CustomerChanged": _customer,
}


# ----------------------------------------------------------------------- applying


class _AlreadyDecided(Exception):
    """Another worker recorded the event's outcome first."""


class _Concurrent(Exception):
    """The commit met a row another writer committed meanwhile; worth a fresh attempt."""


def _record_applied(conn: Connection, change: CommittedChange, *, event_id: str) -> None:
    """Staged in the event's unit of work: the event is applied with its change, or nothing."""
    done = conn.execute(
        update(t.inbound_event)
        .where(_EVENT.event_id == event_id, _EVENT.status == "received")
        .values(status="applied", change_id=change.id, applied_at=change.at, reason=None)
    )
    if done.rowcount != 1:
        raise _AlreadyDecided(event_id)


def _decide(
    engine: Engine, event_id: str, status: str, reason: dict[str, Any] | None, at: datetime
) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(t.inbound_event)
            .where(_EVENT.event_id == event_id, _EVENT.status == "received")
            .values(status=status, reason=reason, applied_at=at)
        )


def _acknowledge_duplicate(engine: Engine, event_id: str) -> None:
    """The store already holds the change of ``event-<id>`` (another path used the request
    id): that change is the event's outcome."""
    with engine.begin() as conn:
        change = conn.execute(
            select(t.change.c.id, t.change.c.at).where(t.change.c.request_id == f"event-{event_id}")
        ).one()
        conn.execute(
            update(t.inbound_event)
            .where(_EVENT.event_id == event_id, _EVENT.status == "received")
            .values(status="applied", change_id=change.id, applied_at=change.at)
        )


def apply_event(
    engine: Engine, event_id: str, *, clock: Clock = utcnow, attempts: int = CONFLICT_ATTEMPTS
) -> EventStatus:
    """Apply one stored event (idempotent: an event already decided is left as it is). A
    concurrent write to the same entity (another event for the same account applied at the
    same moment) is retried from a fresh read, ``attempts`` times in all."""
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            return _apply_once(engine, event_id, clock)
        except (ConcurrencyConflict, _Concurrent) as exc:
            last = str(exc)
            log.info("event.concurrent_write", event_id=event_id, attempt=attempt)
    reason = {
        "code": INTERNAL_ERROR,
        "message": f"concurrent writes kept conflicting after {attempts} attempts: {last}",
    }
    _decide(engine, event_id, "failed", reason, clock())
    return event_status(engine, event_id)


def _apply_once(engine: Engine, event_id: str, clock: Clock) -> EventStatus:
    current = event_status(engine, event_id)
    if current.status != "received":
        return current
    with engine.connect() as conn:
        row = conn.execute(select(t.inbound_event).where(_EVENT.event_id == event_id)).one()
    data: dict[str, Any] = row.payload
    actor = Actor(
        originating_user=row.billing_user or PRINCIPAL,
        principal=PRINCIPAL,
        channel=CHANNEL,
        request_id=f"event-{event_id}",
    )
    bound = structlog.contextvars.bound_contextvars(
        event_id=event_id, operation=row.operation, user=actor.originating_user
    )
    with bound:
        try:
            with UnitOfWork(engine, actor, clock=clock) as uow:
                result = HANDLERS[row.operation](uow, data)
                uow.stage(functools.partial(_record_applied, event_id=event_id))
                try:
                    uow.commit(f"billing.{row.operation}", result)
                except DuplicateRequest:
                    raise
                except Conflict as exc:
                    # At commit, a conflict is another writer's row (a balance or a udr id
                    # written a moment ago by a concurrent event): read again and retry.
                    raise _Concurrent(str(exc)) from exc
        except Rejected as exc:
            reason = {"code": exc.code, "message": exc.message}
            _decide(engine, event_id, "rejected", reason, clock())
            log.warning("event.rejected", code=exc.code, message=exc.message)
        except DuplicateRequest:
            _acknowledge_duplicate(engine, event_id)
        except _AlreadyDecided:
            pass  # another worker decided it a moment ago; its outcome stands
        except (ConcurrencyConflict, _Concurrent):
            raise  # retried by apply_event
        except DomainError as exc:  # a canonical rule broken (ValidationFailed and the like)
            reason = {"code": INVALID_EVENT, "message": str(exc)}
            _decide(engine, event_id, "rejected", reason, clock())
            log.warning("event.rejected", code=INVALID_EVENT, message=str(exc))
        except SQLAlchemyError:
            raise  # the store failed, not the event: it stays received for a retry
        except Exception as exc:
            log.exception("event.internal_error")
            reason = {"code": INTERNAL_ERROR, "message": f"{type(exc).__name__}: {exc}"}
            _decide(engine, event_id, "failed", reason, clock())
    return event_status(engine, event_id)
