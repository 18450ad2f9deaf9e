"""Draining one customer's outbox to billing, strictly in order.

Why one message at a time, in ``seq`` order: billing needs a node before its contracts, a
contract before its services, and a later change of an entity must not overtake an earlier
one. A message that cannot be sent therefore stops the customer's drain:

- billing unreachable (``TransientFailure``, ``CircuitOpen``): the message stays ``pending``
  with ``attempts + 1``, ``next_attempt_at`` (exponential backoff with jitter) and
  ``last_error``; nothing is lost, and a later drain (the task's retry, or the sweep) sends it
  and the rest;
- billing refuses it (``BusinessFault``, or stored data the mappings cannot express): the
  message becomes ``failed`` and its request ``failed`` with the code and message (a dead
  letter: the request keeps its original envelope). The customer's later messages wait
  behind it until an operator replays the dead letter (its message pending again) or
  discards it (its message no longer blocking); nothing is sent out of order meanwhile.

No store transaction stays open across a billing call: each message is read in a read-only
connection, sent, then recorded (sent, legacy ids, request ``synced``) in a short transaction
of its own. A crash between billing's answer and that record leaves the message pending: the
next drain sends it again, and the push steps read back what billing already has
(``CMS.RC6720``/``CMS.RC6721``) instead of creating it twice; the steps that change what billing
has compare with a read-back (addresses, hierarchy, node status) or take billing's "already
done" (a service deactivated, a discount removed before), so a resend changes nothing more.
Every operation :func:`adapter.requests.outbox.plan` writes has a step; only a message naming
another operation fails as ``ADAPTER.UNSUPPORTED``.

One drain per customer at a time: a *lease* row in ``sync_lease`` (customer → holder,
``expires_at``), taken and renewed before every message in short transactions and released at
the end. It works the same on SQLite and PostgreSQL, holds no lock during a billing call, and a
drain that dies leaves a lease that simply expires (``sync_lease`` seconds). A drain that finds
the lease held returns ``busy``: the holder sends whatever is pending when it gets there, and
the periodic sweep picks up anything committed after the holder finished.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel
from sqlalchemy import Connection, Engine, Row, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from adapter.domain.attributes import AttributeValue
from adapter.domain.model import (
    Account,
    AssignmentLevel,
    Contract,
    Customer,
    DiscountAssignment,
    ServiceAssignment,
    Subscriber,
)
from adapter.legacy import Gateway
from adapter.legacy.push import MISMATCH, PushFailed, Slice, StepPusher, Subject
from adapter.mapping import Mappings
from adapter.queries.hierarchy import depth_first
from adapter.queries.history import version_snapshot
from adapter.requests.outbox import CUSTOMER_DATA_FIELDS, NODE_DATA_FIELDS
from adapter.settings import Settings
from adapter.store import tables as t
from adapter.store.reading import read_connection
from adapter.store.uow import utcnow

log = structlog.get_logger(__name__)

M = TypeVar("M", bound=BaseModel)
Clock = Callable[[], datetime]

UNSUPPORTED = "ADAPTER.UNSUPPORTED"  # an outbox operation the sync does not know

#: PushReport's groups of ids → the canonical kind and billing's (internal, public) id keys.
LINK_KINDS: dict[str, tuple[str, str, str | None]] = {
    "accounts": ("account", "cs_id", "cs_id_pub"),
    "contracts": ("contract", "co_id", "co_id_pub"),
    "services": ("service_assignment", "sn_code", "sn_code_pub"),
    "discounts": ("discount_assignment", "assign_id", None),
}
GROUP_OF_KIND = {kind: group for group, (kind, _, _) in LINK_KINDS.items()}


@dataclass(frozen=True)
class SyncPolicy:
    """How long to wait before billing is tried again, and how long a lease lasts."""

    backoff: float = 5.0
    backoff_cap: float = 600.0
    lease: float = 600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SyncPolicy:
        return cls(settings.sync_backoff, settings.sync_backoff_cap, settings.sync_lease)


@dataclass
class DrainReport:
    """What one drain did: the ``seq`` numbers sent, in order, and why it stopped —
    ``done`` (nothing pending), ``busy`` (another drain holds the customer), ``transient``
    (billing unreachable; ``retry_at`` says when the message is due), ``fault`` (a dead
    letter), ``blocked`` (an earlier dead letter waits for replay or discard), ``not_due``
    (the next message's backoff has not passed; ``retry_at``) or ``limit``."""

    customer_id: str
    sent: list[int] = field(default_factory=list)
    stopped: str = "done"
    retry_at: datetime | None = None
    error: str | None = None
    failed_request: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "sent": self.sent,
            "stopped": self.stopped,
            "retry_at": self.retry_at.isoformat() if self.retry_at else None,
            "error": self.error,
            "failed_request": self.failed_request,
        }


def backoff_delay(attempts: int, policy: SyncPolicy) -> float:
    """Seconds before try ``attempts + 1``: the base doubled per failed attempt, capped, and
    scaled by a random 50 to 100 % so that customers that failed together do not retry in step."""
    base = min(policy.backoff * 2.0 ** max(attempts - 1, 0), policy.backoff_cap)
    return base * (0.5 + secrets.randbelow(501) / 1000)


# ----------------------------------------------------------------------------- the lease


def _take_lease(
    engine: Engine, customer_id: str, holder: str, now: datetime, seconds: float
) -> bool:
    """Take or renew the customer's lease; False when another live drain holds it."""
    lease = t.sync_lease.c
    expires = now + timedelta(seconds=seconds)
    try:
        with engine.begin() as conn:
            renewed = conn.execute(
                update(t.sync_lease)
                .where(
                    lease.customer_id == customer_id,
                    or_(lease.holder == holder, lease.expires_at < now),
                )
                .values(holder=holder, expires_at=expires)
            )
            if renewed.rowcount == 1:
                return True
            held = conn.execute(
                select(lease.holder).where(lease.customer_id == customer_id)
            ).first()
            if held is not None:
                return False
            conn.execute(
                insert(t.sync_lease).values(
                    customer_id=customer_id, holder=holder, expires_at=expires
                )
            )
            return True
    except IntegrityError:  # another drain inserted the lease at the same moment (PostgreSQL)
        return False


def _release_lease(engine: Engine, customer_id: str, holder: str) -> None:
    lease = t.sync_lease.c
    with engine.begin() as conn:
        conn.execute(
            delete(t.sync_lease).where(lease.customer_id == customer_id, lease.holder == holder)
        )


# ----------------------------------------------------------------------------- draining


_OUTBOX = t.outbox.c


def _discarded(conn: Connection, request_id: str | None) -> bool:
    """True for a dead letter an operator gave up on (``dlq discard``): its outbox rows stay
    ``failed`` but no longer hold the customer's later messages."""
    if request_id is None:
        return False
    reason = conn.execute(
        select(t.request.c.reason).where(t.request.c.request_id == request_id)
    ).scalar_one_or_none()
    return isinstance(reason, dict) and bool(reason.get("discarded"))


def _first_unsent(conn: Connection, customer_id: str) -> Row[Any] | None:
    """The customer's first message not yet sent: pending, or a dead letter that blocks
    (a discarded one is passed over)."""
    rows = conn.execute(
        select(t.outbox)
        .where(_OUTBOX.customer_id == customer_id, _OUTBOX.status != "sent")
        .order_by(_OUTBOX.seq)
    )
    for row in rows:
        if row.status == "failed" and _discarded(conn, row.request_id):
            continue
        return row
    return None


def _next_row(engine: Engine, customer_id: str) -> Row[Any] | None:
    with read_connection(engine) as conn:
        return _first_unsent(conn, customer_id)


def drain_customer(
    engine: Engine,
    gateway: Gateway,
    mappings: Mappings,
    customer_id: str,
    *,
    limit: int = 500,
    policy: SyncPolicy | None = None,
    force: bool = False,
    clock: Clock = utcnow,
) -> DrainReport:
    """Send ``customer_id``'s pending outbox messages to billing, in ``seq`` order, until
    none is left, one cannot be sent, or ``limit`` were sent. ``force`` sends a message whose
    backoff has not passed yet (an operator's ``sync drain``)."""
    policy = policy or SyncPolicy()
    holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    report = DrainReport(customer_id)
    if not _take_lease(engine, customer_id, holder, clock(), policy.lease):
        report.stopped = "busy"
        return report
    try:
        _drain(engine, gateway, mappings, report, holder, limit, policy, force, clock)
    finally:
        _release_lease(engine, customer_id, holder)
    log.info(
        "sync.drained",
        customer_id=customer_id,
        sent=len(report.sent),
        stopped=report.stopped,
        error=report.error,
    )
    return report


def _drain(
    engine: Engine,
    gateway: Gateway,
    mappings: Mappings,
    report: DrainReport,
    holder: str,
    limit: int,
    policy: SyncPolicy,
    force: bool,
    clock: Clock,
) -> None:
    customer_id = report.customer_id
    while True:
        if len(report.sent) >= limit:
            report.stopped = "limit"
            return
        now = clock()
        if report.sent and not _take_lease(engine, customer_id, holder, now, policy.lease):
            report.stopped = "busy"  # our lease expired and another drain took over
            return
        row = _next_row(engine, customer_id)
        if row is None:
            report.stopped = "done"
            return
        if row.status == "failed":
            report.stopped = "blocked"
            report.error = f"message {row.seq} ({row.operation}) is a dead letter: {row.last_error}"
            report.failed_request = row.request_id
            return
        if not force and row.next_attempt_at is not None and row.next_attempt_at > now:
            report.stopped = "not_due"
            report.retry_at = row.next_attempt_at
            return
        try:
            links = send_message(engine, gateway, mappings, row)
        except PushFailed as failed:
            if failed.transient:
                report.retry_at = _postpone(engine, row, failed, policy, clock())
                report.stopped = "transient"
            else:
                _dead_letter(engine, row, failed, clock())
                report.stopped = "fault"
                report.failed_request = row.request_id
            report.error = f"{failed.code}: {failed.detail}"
            return
        _record_sent(engine, row, links, clock())
        report.sent.append(row.seq)


# ----------------------------------------------------------------------------- one message


def _as(model: type[M], snapshot: Mapping[str, Any]) -> M:
    return model.model_validate({k: v for k, v in snapshot.items() if k in model.model_fields})


def _at_change(conn: Connection, kind: str, entity_id: str, change_id: int) -> dict[str, Any]:
    """The entity as the change left it: its last version written by that change or before
    (an entity the message does not name, such as the contract of a service)."""
    v = t.entity_version.c
    snapshot = conn.execute(
        select(v.snapshot)
        .where(v.entity_type == kind, v.entity_id == entity_id, v.change_id <= change_id)
        .order_by(v.version.desc())
        .limit(1)
    ).scalar_one()
    found: dict[str, Any] = snapshot
    return found


def _known(conn: Connection, customer_id: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Billing's ids already linked to the customer's entities, by PushReport group."""
    link = t.legacy_link.c
    known: dict[str, dict[str, dict[str, Any]]] = {group: {} for group in LINK_KINDS}
    rows = conn.execute(
        select(link.kind, link.entity_id, link.ids).where(link.customer_id == customer_id)
    )
    for kind, entity_id, ids in rows:
        known[GROUP_OF_KIND[kind]][entity_id] = dict(ids)
    return known


def send_message(
    engine: Engine, gateway: Gateway, mappings: Mappings, row: Row[Any]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Send one outbox message with the push step its operation needs; return billing's ids
    after it (known before, plus the new ones). Raises :class:`PushFailed`."""
    entity = row.payload["entity"]
    kind, entity_id, version = entity["kind"], entity["id"], int(entity["version"])
    with read_connection(engine) as conn:
        snapshot = version_snapshot(conn, kind, entity_id, version)
        customer = _as(Customer, _at_change(conn, "customer", row.customer_id, row.change_id))
        known = _known(conn, row.customer_id)
        step = _prepare(conn, row, snapshot, customer, known)
    pusher = StepPusher(gateway, mappings, step.part)
    if step.run is None:
        subject = Subject(kind, entity_id, f"{kind} {entity_id}")
        raise PushFailed(
            row.operation,
            subject,
            UNSUPPORTED,
            f"the sync knows no outbox operation {row.operation} (for a {kind})",
            pusher.report,
        )
    step.run(pusher)
    return pusher.report.legacy_ids


@dataclass
class _Step:
    part: Slice
    run: Callable[[StepPusher], None] | None


def _prepare(
    conn: Connection,
    row: Row[Any],
    snapshot: dict[str, Any],
    customer: Customer,
    known: dict[str, dict[str, dict[str, Any]]],
) -> _Step:
    """The slice of the store one message needs, and the push step that sends it (``run``
    None: an operation the sync does not know)."""
    operation, change_id = row.operation, row.change_id
    kind = row.payload["entity"]["kind"]
    fields = list(row.payload.get("fields", []))
    if operation == "CustomerNew":
        account = _as(Account, snapshot)
        part = _node_slice(conn, row, account, customer, known)
        return _Step(part, lambda p: p.push_account(account))
    if operation == "ContractNew":
        contract = _as(Contract, snapshot)
        account = _as(Account, _at_change(conn, "account", contract.account_id, change_id))
        subscribers: list[Subscriber] = []
        sim = row.payload.get("subscriber")
        if sim is not None:
            subscribers.append(
                _as(Subscriber, version_snapshot(conn, sim["kind"], sim["id"], sim["version"]))
            )
        part = Slice(
            customer, accounts=[account], contracts=[contract], subscribers=subscribers, known=known
        )
        return _Step(part, lambda p: p.push_contract(contract))
    if operation == "ContractServicesAdd":
        service = _as(ServiceAssignment, snapshot)
        contract = _as(Contract, _at_change(conn, "contract", service.contract_id, change_id))
        subscriber = (
            _as(Subscriber, _at_change(conn, "subscriber", service.subscriber_id, change_id))
            if service.subscriber_id
            else None
        )
        part = Slice(
            customer,
            contracts=[contract],
            subscribers=[subscriber] if subscriber else [],
            services=[service],
            known=known,
        )
        return _Step(part, lambda p: p.push_services(contract, subscriber))
    if operation == "ContractServicesWrite":
        changed = _as(ServiceAssignment, snapshot)
        contract = _as(Contract, _at_change(conn, "contract", changed.contract_id, change_id))
        part = Slice(customer, contracts=[contract], services=[changed], known=known)
        return _Step(part, lambda p: p.write_service(contract, changed, fields))
    if operation in ("DiscountAssign", "DiscountRemove"):
        discount = _as(DiscountAssignment, snapshot)
        return _discount_step(conn, row, discount, customer, known)
    if operation == "ContractWrite":
        written = _as(Contract, snapshot)
        part = Slice(customer, contracts=[written], known=known)
        return _Step(part, lambda p: p.write_contract(written, fields))
    if operation in ("CustomerWrite", "AddressWrite") and kind == "customer":
        if "node" not in row.payload:  # the customer's data lives on its nodes
            subject = Subject(kind, row.customer_id, f"customer {customer.customer_number}")
            detail = "the message names no node of the customer to write to"
            return _Step(
                Slice(customer, known=known), _refuse(operation, subject, MISMATCH, detail)
            )
        node = _as(Account, _at_change(conn, "account", row.payload["node"]["id"], change_id))
        part = Slice(customer, accounts=[node], known=known)
        if operation == "AddressWrite":
            return _Step(part, lambda p: p.write_addresses(node))
        data = {f: snapshot.get(f) for f in fields if f in CUSTOMER_DATA_FIELDS}
        return _Step(part, lambda p: p.write_customer(data, node))
    if operation == "CustomerWrite" and kind == "account":
        account = _as(Account, snapshot)
        node_data = [f for f in fields if f in NODE_DATA_FIELDS]
        return _Step(
            Slice(customer, accounts=[account], known=known),
            lambda p: p.write_node(account, node_data),
        )
    if operation == "CustomerHierarchyWrite":
        account = _as(Account, snapshot)
        part = _node_slice(conn, row, account, customer, known)
        return _Step(part, lambda p: p.write_hierarchy(account))
    if operation == "CustomerInfoWrite":
        return _info_step(conn, row, _as(AttributeValue, snapshot), customer, known)
    return _Step(Slice(customer, known=known), None)


def _refuse(
    operation: str, subject: Subject, code: str, detail: str
) -> Callable[[StepPusher], None]:
    """A step that sends nothing and fails: stored data the message cannot be sent with."""

    def run(pusher: StepPusher) -> None:
        raise PushFailed(operation, subject, code, detail, pusher.report)

    return run


def _node_slice(
    conn: Connection,
    row: Row[Any],
    account: Account,
    customer: Customer,
    known: dict[str, dict[str, dict[str, Any]]],
) -> Slice:
    """A node with its parent as billing can be told it: a parent billing gave an id for
    (sent before, in this customer's order) by that id and number, any other (another
    customer's node) by its number, which is its public id."""
    accounts: list[Account] = []
    outside: dict[str, str] = {}
    if account.parent_id is not None:
        parent = _at_change(conn, "account", account.parent_id, row.change_id)
        mine = parent.get("customer_id") == row.customer_id
        if mine and account.parent_id in known["accounts"]:
            accounts.append(_as(Account, parent))
        else:
            outside[account.parent_id] = str(parent["number"])
    accounts.append(account)
    return Slice(customer, accounts=accounts, outside_parents=outside, known=known)


def _top_node(conn: Connection, customer_id: str, change_id: int) -> Account | None:
    """The customer's first top node as of a change (the node a whole push gives the
    customer's own info fields): its accounts as that change left them, depth first."""
    v = t.entity_version.c
    rows = conn.execute(
        select(v.entity_id, v.op, v.snapshot)
        .where(v.entity_type == "account", v.customer_id == customer_id, v.change_id <= change_id)
        .order_by(v.entity_id, v.version)
    )
    latest = {entity_id: (op, snapshot) for entity_id, op, snapshot in rows}
    accounts = [_as(Account, snap) for op, snap in latest.values() if op != "delete"]
    ordered = depth_first(accounts, lambda a: a.id, lambda a: a.parent_id, lambda a: a.number)
    return ordered[0][0] if ordered else None


def _info_step(
    conn: Connection,
    row: Row[Any],
    value: AttributeValue,
    customer: Customer,
    known: dict[str, dict[str, dict[str, Any]]],
) -> _Step:
    """One custom attribute value set or cleared, on the node billing keeps it on: an
    account's own node, or for the customer's attribute its top node. A customer without a
    node yet has nowhere in billing to keep it: nothing to send."""
    target = value.entity_kind.value
    if target == "account":
        node: Account | None = _as(
            Account, _at_change(conn, "account", value.entity_id, row.change_id)
        )
    else:
        node = _top_node(conn, row.customer_id, row.change_id)
    if node is None:
        return _Step(Slice(customer, known=known), lambda p: None)
    removed = row.payload["entity"].get("op") == "delete"
    attributes = {f"{target}:{value.entity_id}": {value.name: None if removed else value.value}}
    part = Slice(customer, accounts=[node], attributes=attributes, known=known)
    return _Step(part, lambda p: p.write_info_fields())


def _discount_step(
    conn: Connection,
    row: Row[Any],
    discount: DiscountAssignment,
    customer: Customer,
    known: dict[str, dict[str, dict[str, Any]]],
) -> _Step:
    """``DiscountAssign`` on the discount's node or contract, or ``DiscountRemove`` of it
    (the slice then only names where it is, for the operator)."""
    change_id = row.change_id
    remove = row.operation == "DiscountRemove"
    account = _as(Account, _at_change(conn, "account", discount.account_id, change_id))
    if discount.level is AssignmentLevel.ACCOUNT:
        part = Slice(customer, accounts=[account], discounts=[discount], known=known)
        if remove:
            return _Step(part, lambda p: p.remove_discount(discount))
        return _Step(part, lambda p: p.push_discount(discount, account))
    subscribers: list[Subscriber] = []
    contract_id = discount.contract_id
    if discount.subscriber_id:
        sim = _as(Subscriber, _at_change(conn, "subscriber", discount.subscriber_id, change_id))
        subscribers.append(sim)
        contract_id = contract_id or sim.contract_id
    if contract_id is None:
        subject = Subject("discount_assignment", discount.id, f"discount {discount.code}")
        detail = f"a {discount.level.value}-level discount without a contract"
        return _Step(
            Slice(customer, known=known), _refuse(row.operation, subject, MISMATCH, detail)
        )
    contract = _as(Contract, _at_change(conn, "contract", contract_id, change_id))
    part = Slice(
        customer,
        accounts=[account],
        contracts=[contract],
        subscribers=subscribers,
        discounts=[discount],
        known=known,
    )
    if remove:
        return _Step(part, lambda p: p.remove_discount(discount))
    return _Step(part, lambda p: p.push_discount(discount, contract))


# ----------------------------------------------------------------------------- recording


def _store_links(
    conn: Connection,
    customer_id: str,
    links: Mapping[str, Mapping[str, Mapping[str, Any]]],
    at: datetime,
) -> None:
    """Upsert billing's ids (portable: read, then update or insert, under the row's
    transaction; the lease makes this drain the customer's only writer)."""
    link = t.legacy_link.c
    for group, by_id in links.items():
        kind, internal, public = LINK_KINDS[group]
        for entity_id, ids in by_id.items():
            values = {
                "customer_id": customer_id,
                "legacy_id": str(ids[internal]),
                "public_id": str(ids[public]) if public and ids.get(public) is not None else None,
                "ids": dict(ids),
            }
            current = conn.execute(
                select(link.ids).where(link.kind == kind, link.entity_id == entity_id)
            ).first()
            if current is None:
                conn.execute(
                    insert(t.legacy_link).values(
                        kind=kind, entity_id=entity_id, linked_at=at, **values
                    )
                )
            elif current.ids != values["ids"]:
                conn.execute(
                    update(t.legacy_link)
                    .where(link.kind == kind, link.entity_id == entity_id)
                    .values(linked_at=at, **values)
                )


def _request_links(conn: Connection, request_id: str) -> dict[str, dict[str, Any]]:
    """Billing's ids of the entities a request's messages named, by PushReport group."""
    link = t.legacy_link.c
    named: set[tuple[str, str]] = set()
    payloads = conn.execute(select(_OUTBOX.payload).where(_OUTBOX.request_id == request_id))
    for (payload,) in payloads:
        for key in ("entity", "subscriber"):
            ref = payload.get(key)
            if ref is not None:
                named.add((ref["kind"], ref["id"]))
    found: dict[str, dict[str, Any]] = {}
    for kind, entity_id in sorted(named):
        ids = conn.execute(
            select(link.ids).where(link.kind == kind, link.entity_id == entity_id)
        ).scalar_one_or_none()
        if ids is not None:
            found.setdefault(GROUP_OF_KIND[kind], {})[entity_id] = ids
    return found


def _record_sent(engine: Engine, row: Row[Any], links: Mapping[str, Any], at: datetime) -> None:
    """The message sent, billing's ids linked, and its request ``synced`` with them when
    this was the request's last message still to send — one short transaction."""
    with engine.begin() as conn:
        conn.execute(
            update(t.outbox)
            .where(_OUTBOX.id == row.id, _OUTBOX.status == "pending")
            .values(status="sent", sent_at=at, last_error=None, next_attempt_at=None)
        )
        _store_links(conn, row.customer_id, links, at)
        if row.request_id is None:
            return
        unsent = conn.execute(
            select(func.count())
            .select_from(t.outbox)
            .where(_OUTBOX.request_id == row.request_id, _OUTBOX.status != "sent")
        ).scalar_one()
        if unsent == 0:
            request = t.request.c
            conn.execute(
                update(t.request)
                .where(request.request_id == row.request_id, request.status == "applied")
                .values(
                    status="synced",
                    synced_at=at,
                    legacy_ids=_request_links(conn, row.request_id),
                )
            )
    log.info("sync.sent", customer_id=row.customer_id, seq=row.seq, operation=row.operation)


def _postpone(
    engine: Engine, row: Row[Any], failed: PushFailed, policy: SyncPolicy, now: datetime
) -> datetime:
    attempts = row.attempts + 1
    due = now + timedelta(seconds=backoff_delay(attempts, policy))
    with engine.begin() as conn:
        conn.execute(
            update(t.outbox)
            .where(_OUTBOX.id == row.id, _OUTBOX.status == "pending")
            .values(attempts=attempts, next_attempt_at=due, last_error=str(failed)[:2000])
        )
    log.warning(
        "sync.postponed",
        customer_id=row.customer_id,
        seq=row.seq,
        operation=row.operation,
        attempts=attempts,
        code=failed.code,
        retry_at=due.isoformat(),
    )
    return due


def _dead_letter(engine: Engine, row: Row[Any], failed: PushFailed, now: datetime) -> None:
    """Billing refused the message: it and its request fail with billing's code (the
    request keeps its envelope, for a replay)."""
    reason = {
        "code": failed.code,
        "message": str(failed),
        "violations": [],
        "outbox_seq": row.seq,
        "billing_operation": row.operation,
    }
    with engine.begin() as conn:
        conn.execute(
            update(t.outbox)
            .where(_OUTBOX.id == row.id, _OUTBOX.status == "pending")
            .values(
                status="failed",
                attempts=row.attempts + 1,
                last_error=f"{failed.code}: {failed.detail}"[:2000],
            )
        )
        if row.request_id is not None:
            request = t.request.c
            conn.execute(
                update(t.request)
                .where(request.request_id == row.request_id, request.status == "applied")
                .values(status="failed", reason=reason, failed_at=now)
            )
    log.warning(
        "sync.dead_letter",
        customer_id=row.customer_id,
        seq=row.seq,
        operation=row.operation,
        request_id=row.request_id,
        code=failed.code,
    )


# ----------------------------------------------------------------------------- finding work


def due_customers(engine: Engine, *, now: datetime, limit: int = 1000) -> list[str]:
    """Customers whose next message is pending and due (never tried, or its backoff passed),
    not held by a dead letter: what the sweep sends a drain for."""
    with read_connection(engine) as conn:
        candidates = conn.execute(
            select(_OUTBOX.customer_id)
            .where(
                _OUTBOX.status == "pending",
                or_(_OUTBOX.next_attempt_at.is_(None), _OUTBOX.next_attempt_at <= now),
            )
            .group_by(_OUTBOX.customer_id)
            .order_by(func.min(_OUTBOX.created_at))
            .limit(limit)
        ).scalars()
        due: list[str] = []
        for customer_id in list(candidates):
            first = _first_unsent(conn, customer_id)
            if first is not None and first.status == "pending":
                due.append(str(customer_id))
        return due


def pending_counts(engine: Engine) -> list[tuple[str, str, int]]:
    """(customer, status, count) of the messages not yet sent, for operators."""
    with read_connection(engine) as conn:
        rows = conn.execute(
            select(_OUTBOX.customer_id, _OUTBOX.status, func.count())
            .where(_OUTBOX.status != "sent")
            .group_by(_OUTBOX.customer_id, _OUTBOX.status)
            .order_by(_OUTBOX.customer_id, _OUTBOX.status)
        )
        return [(str(c), str(s), int(n)) for c, s, n in rows]
