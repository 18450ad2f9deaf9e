"""A reconciliation run: compare a batch of customers with billing and record the drift.

The batch is picked round robin (:func:`next_batch`): customers billing knows (a row in
``legacy_link``), by id, starting after the last customer the previous run reached
(``reconcile_run.last_customer``) and wrapping around, so successive runs cover everyone. A
customer with messages still in its outbox (pending, or a dead letter) is skipped and counted:
billing has not been told everything yet, so a difference is not drift.

For each customer the canonical state is read in a read-only connection that is closed before
the first billing call; billing is read (``CustomerRead`` per node, ``ContractRead`` and
``ContractServicesRead`` per contract); the differences (:mod:`adapter.reconcile.compare`) are
recorded in one short transaction per customer (:func:`record_findings`): a drift still open
from an earlier run is the same finding (its ``last_run_id`` moves on), a new one is inserted,
and an open finding this run no longer sees becomes ``resolved``.

Billing unreachable (a transient failure or the circuit breaker open) stops the run: it is
recorded ``failed`` (no customer checked) or ``partial`` with the reason, the findings of the
customers checked before stay, and the cursor stays at the last customer checked, so the next
run starts with the one that could not be read. A business fault or unmappable answer for one
customer is recorded in the run's error and the run goes on (``partial``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, insert, select, update

from adapter.domain.model import Account, Contract, Customer, ServiceAssignment
from adapter.legacy import BusinessFault, Gateway, TransientFailure
from adapter.mapping import MappingFailed, Mappings
from adapter.reconcile.compare import (
    Drift,
    compare_contract,
    compare_node,
    compare_services,
    unique,
)
from adapter.store import tables as t
from adapter.store.reading import read_connection
from adapter.store.uow import utcnow

log = structlog.get_logger(__name__)

RECONCILER = "reconciler"
"""The system actor of reconciliation: the principal of its runs and the originating user of
its repair requests."""

NO_CUSTOMER = "CMS.RC6701"
NO_CONTRACT = "CMS.RC6702"

Clock = Callable[[], datetime]


@dataclass
class RunReport:
    """What one run did; ``status`` is ``completed``, ``partial`` or ``failed``."""

    run_id: int
    status: str = "running"
    checked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    drift: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "checked": len(self.checked),
            "skipped": len(self.skipped),
            "drift": self.drift,
            "errors": list(self.errors),
        }


@dataclass(frozen=True)
class CustomerState:
    """The canonical entities of one customer that billing carries, and billing's ids."""

    customer: Customer
    accounts: list[Account]
    contracts: list[Contract]
    services: list[ServiceAssignment]
    legacy: dict[tuple[str, str], str]  # (kind, entity id) → billing's internal id


class _Stop(Exception):
    """Billing cannot be reached: the run stops here."""


# ------------------------------------------------------------------------------ picking


def _cursor(conn: Connection) -> str | None:
    r = t.reconcile_run.c
    return conn.execute(
        select(r.last_customer)
        .where(r.last_customer.is_not(None), r.customer_id.is_(None))
        .order_by(r.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def next_batch(conn: Connection, size: int) -> list[str]:
    """The next ``size`` customers billing knows, by id, after the cursor, wrapping around."""
    link = t.legacy_link.c
    known = select(link.customer_id).distinct().order_by(link.customer_id)
    cursor = _cursor(conn)
    first = list(
        conn.execute(
            known.where(link.customer_id > cursor).limit(size) if cursor else known.limit(size)
        ).scalars()
    )
    if cursor is None or len(first) >= size:
        return first
    rest = conn.execute(known.where(link.customer_id <= cursor).limit(size - len(first)))
    return first + [c for c in rest.scalars() if c not in first]


def _unsent(conn: Connection, customer_id: str) -> bool:
    o = t.outbox.c
    query = select(o.id).where(o.customer_id == customer_id, o.status != "sent").limit(1)
    return conn.execute(query).first() is not None


def read_state(conn: Connection, customer_id: str) -> CustomerState | None:
    """The customer's canonical state (None: no such customer any more)."""
    data = conn.execute(
        select(t.customer.c.data).where(t.customer.c.id == customer_id)
    ).scalar_one_or_none()
    if data is None:
        return None

    def rows(table: Any) -> Iterable[Any]:
        query = select(table.c.data).where(table.c.customer_id == customer_id)
        return conn.execute(query.order_by(table.c.id)).scalars()

    link = t.legacy_link.c
    legacy = {
        (row.kind, row.entity_id): row.legacy_id
        for row in conn.execute(
            select(link.kind, link.entity_id, link.legacy_id).where(link.customer_id == customer_id)
        )
    }
    return CustomerState(
        customer=Customer.model_validate(data),
        accounts=[Account.model_validate(d) for d in rows(t.account)],
        contracts=[Contract.model_validate(d) for d in rows(t.contract)],
        services=[ServiceAssignment.model_validate(d) for d in rows(t.service_assignment)],
        legacy=legacy,
    )


# ------------------------------------------------------------------------------ comparing


def _read(
    gateway: Gateway,
    mappings: Mappings,
    operation: str,
    context: dict[str, Any],
    absent: str | None = None,
) -> dict[str, Any] | None:
    """One CIL read mapped to canonical terms; None when billing answers ``absent``."""
    inputs = mappings.outbound(operation, context)
    try:
        response = gateway.call(operation, inputs)
    except BusinessFault as exc:
        if absent is not None and exc.code == absent:
            return None
        raise
    except TransientFailure as exc:  # CircuitOpen too
        raise _Stop(exc.message) from exc
    return mappings.inbound(operation, response) if response else {}


def compare_customer(gateway: Gateway, mappings: Mappings, state: CustomerState) -> list[Drift]:
    """Read one customer from billing and compare it with ``state``."""
    numbers = {a.id: a.number for a in state.accounts}
    found: list[Drift] = []
    for account in state.accounts:
        legacy = state.legacy.get(("account", account.id))
        read = _read(
            gateway, mappings, "CustomerRead", {"account": {"number": account.number}}, NO_CUSTOMER
        )
        parent = account.parent_id
        parent_number = numbers.get(parent) if parent else None
        if parent and parent_number is None:  # a parent in another customer's tree
            parent_number = (read or {}).get("parent_account", {}).get("number")
        found += compare_node(state.customer, account, parent_number, read, legacy)
    for contract in state.contracts:
        legacy = state.legacy.get(("contract", contract.id))
        context = {"contract": {"number": contract.number}}
        read = _read(gateway, mappings, "ContractRead", context, NO_CONTRACT)
        found += compare_contract(contract, read, legacy)
        if read is None:
            continue
        services = _read(gateway, mappings, "ContractServicesRead", context) or {}
        mine = [s for s in state.services if s.contract_id == contract.id]
        links = {
            s.id: state.legacy[("service_assignment", s.id)]
            for s in mine
            if ("service_assignment", s.id) in state.legacy
        }
        found += compare_services(contract, mine, services, links)
    return unique(found)


# ------------------------------------------------------------------------------ recording


def record_findings(
    conn: Connection, run_id: int, customer_id: str, drifts: list[Drift], at: datetime
) -> None:
    """Record one customer's drifts of this run (see the module's docstring)."""
    f = t.reconcile_finding.c
    open_rows = {
        (row.entity_kind, row.entity_id, row.legacy_id, row.field, row.kind): row.id
        for row in conn.execute(
            select(f.id, f.entity_kind, f.entity_id, f.legacy_id, f.field, f.kind).where(
                f.customer_id == customer_id, f.state == "open"
            )
        )
    }
    for drift in drifts:
        existing = open_rows.pop(drift.key(), None)
        values = {
            "last_run_id": run_id,
            "crm_value": drift.crm_value,
            "billing_value": drift.billing_value,
            "updated_at": at,
        }
        if existing is not None:
            conn.execute(update(t.reconcile_finding).where(f.id == existing).values(**values))
            continue
        conn.execute(
            insert(t.reconcile_finding).values(
                run_id=run_id,
                customer_id=customer_id,
                entity_kind=drift.entity_kind,
                entity_id=drift.entity_id,
                legacy_id=drift.legacy_id,
                field=drift.field,
                kind=drift.kind,
                state="open",
                found_at=at,
                **values,
            )
        )
    if open_rows:
        conn.execute(
            update(t.reconcile_finding)
            .where(f.id.in_(list(open_rows.values())))
            .values(state="resolved", updated_at=at, note=f"no longer seen by run {run_id}")
        )


# ------------------------------------------------------------------------------ running


def run_reconciliation(
    engine: Engine,
    gateway: Gateway,
    mappings: Mappings,
    *,
    batch: int = 100,
    customer_id: str | None = None,
    principal: str = RECONCILER,
    clock: Clock = utcnow,
) -> RunReport:
    """Compare the next ``batch`` customers (or only ``customer_id``) with billing; see the
    module's docstring. The run's row is written first, so even a run that dies is seen."""
    if batch < 1:
        raise ValueError("a reconciliation batch is at least one customer")
    with engine.begin() as conn:
        run_id = int(
            conn.execute(
                insert(t.reconcile_run)
                .values(
                    started_at=clock(),
                    batch=1 if customer_id else batch,
                    customer_id=customer_id,
                    checked=0,
                    skipped=0,
                    drift=0,
                    status="running",
                    principal=principal,
                )
                .returning(t.reconcile_run.c.id)
            ).scalar_one()
        )
    report = RunReport(run_id)
    bound = structlog.contextvars.bound_contextvars(reconcile_run=run_id)
    with bound:
        with read_connection(engine) as conn:
            customers = [customer_id] if customer_id else next_batch(conn, batch)
        last: str | None = None
        try:
            for current in customers:
                _check_one(engine, gateway, mappings, report, current, clock)
                last = current
        except _Stop as stop:
            report.errors.append(f"billing unreachable: {stop}")
            report.status = "partial" if report.checked else "failed"
        else:
            report.status = "partial" if report.errors else "completed"
        _finish(engine, report, last, clock)
    log.info("reconcile.finished", **report.as_dict())
    return report


def _check_one(
    engine: Engine,
    gateway: Gateway,
    mappings: Mappings,
    report: RunReport,
    customer_id: str,
    clock: Clock,
) -> None:
    with read_connection(engine) as conn:
        if _unsent(conn, customer_id):
            report.skipped.append(customer_id)
            return
        state = read_state(conn, customer_id)
    if state is None:
        report.skipped.append(customer_id)
        return
    try:
        drifts = compare_customer(gateway, mappings, state)
    except (BusinessFault, MappingFailed) as exc:
        report.errors.append(f"customer {customer_id}: {exc}")
        log.warning("reconcile.customer_failed", customer_id=customer_id, error=str(exc))
        return
    with engine.begin() as conn:
        record_findings(conn, report.run_id, customer_id, drifts, clock())
    report.checked.append(customer_id)
    report.drift += len(drifts)
    if drifts:
        log.info("reconcile.drift", customer_id=customer_id, findings=len(drifts))


def _finish(engine: Engine, report: RunReport, last: str | None, clock: Clock) -> None:
    r = t.reconcile_run.c
    with engine.begin() as conn:
        conn.execute(
            update(t.reconcile_run)
            .where(r.id == report.run_id)
            .values(
                finished_at=clock(),
                checked=len(report.checked),
                skipped=len(report.skipped),
                drift=report.drift,
                status=report.status,
                error="; ".join(report.errors) or None,
                last_customer=last,
            )
        )
