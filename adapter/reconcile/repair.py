"""Repairing drift through ordinary requests.

Each open finding becomes a request envelope whose originating user is the system actor
``reconciler`` and whose channel is ``reconciliation``; it is received and applied like any
other (:func:`adapter.requests.apply.submit`): audited, in the customer's order, and its
outbox messages reach billing through the sync. The CRM is the master of the data it owns, so
a repair makes billing match the CRM (:func:`plan_repair`, the rule per kind and field is in
docs/runbook.md, "Reconciliation with billing"):

- ``missing_in_billing`` (a node, contract or service billing lacks): ``billing.resync`` with
  ``as_new`` — the creation is sent again (``CustomerNew``, ``ContractNew`` with its
  subscriber, ``ContractServicesAdd``);
- ``field_mismatch`` / ``status_mismatch``: ``billing.resync`` of that field — the CRM's value
  is sent as a change of it would be;
- a contract status billing cannot step back from (billing deactivated a contract the CRM has
  live, or any status two steps away) and ``unknown_in_billing`` (something only billing has)
  are not repaired automatically: the finding stays open with the reason, for an operator
  (who may ``reconcile ignore`` it once handled).

The request id is ``reconcile-<finding id>`` (``-2``, ``-3``… after a failed attempt): a
repair interrupted before the finding was updated is recognised, not applied twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Engine, Row, select, update

from adapter.domain.errors import ValidationFailed
from adapter.domain.model import CONTRACT_TRANSITIONS, ContractStatus
from adapter.reconcile.compare import FIELD, MISSING, STATUS, WHOLE
from adapter.reconcile.run import RECONCILER
from adapter.requests.apply import submit
from adapter.store import tables as t
from adapter.store.reading import read_connection
from adapter.store.uow import utcnow

log = structlog.get_logger(__name__)

CHANNEL = "reconciliation"

Clock = Callable[[], datetime]


class NotRepairable(Exception):
    """No request can make billing match the CRM for this finding."""


@dataclass(frozen=True)
class RepairOutcome:
    finding_id: int
    request_id: str | None
    status: str  # the request's status, or not_open / not_repairable / unknown
    message: str

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def plan_repair(finding: Row[Any] | Any) -> dict[str, Any]:
    """The ``billing.resync`` payload that repairs ``finding``, or :class:`NotRepairable`."""
    kind, field = finding.entity_kind, finding.field
    if finding.entity_id is None:
        raise NotRepairable(
            f"only billing has this {kind} ({finding.billing_value}); the CRM sends nothing for "
            "it: remove it in billing or add it in the CRM, then ignore the finding"
        )
    payload: dict[str, Any] = {
        "kind": kind,
        "entity": finding.entity_id,
        "reason": f"reconciliation finding {finding.id}",
    }
    if finding.kind == MISSING and field == WHOLE:
        return payload | {"as_new": True}
    if finding.kind not in (FIELD, STATUS):
        raise NotRepairable(f"no repair for a finding of kind {finding.kind}")
    if kind == "contract" and field == "status":
        _contract_status_reachable(finding.billing_value, finding.crm_value)
    return payload | {"fields": [field.split(".")[0]]}


def _contract_status_reachable(billing: Any, crm: Any) -> None:
    try:
        start, target = ContractStatus(billing), ContractStatus(crm)
    except ValueError:
        raise NotRepairable(f"unknown contract status {billing!r} in billing") from None
    if target not in CONTRACT_TRANSITIONS[start]:
        raise NotRepairable(
            f"billing cannot take the contract from {start.value} to {target.value} in one "
            "step; decide with billing (adopt its status with a contract.change_status "
            "request, or re-create the contract) and ignore the finding"
        )


def _next_request_id(finding_id: int, previous: str | None) -> str:
    base = f"reconcile-{finding_id}"
    if previous is None:
        return base
    attempt = previous.removeprefix(base).lstrip("-")
    return f"{base}-{int(attempt) + 1 if attempt.isdigit() else 2}"


def _findings(engine: Engine, finding_ids: Iterable[int], run_id: int | None) -> list[Any]:
    f = t.reconcile_finding.c
    query = select(t.reconcile_finding).order_by(f.id)
    ids = list(finding_ids)
    if run_id is not None:
        query = query.where(f.state == "open", (f.run_id == run_id) | (f.last_run_id == run_id))
    else:
        query = query.where(f.id.in_(ids))
    with read_connection(engine) as conn:
        rows = list(conn.execute(query))
    if run_id is None:
        missing = sorted(set(ids) - {r.id for r in rows})
        if missing:
            raise ValidationFailed.one(
                "finding", "exists", f"no finding {', '.join(str(i) for i in missing)}"
            )
    return rows


def repair(
    engine: Engine,
    finding_ids: Iterable[int] = (),
    *,
    run_id: int | None = None,
    clock: Clock = utcnow,
) -> list[RepairOutcome]:
    """Submit a repair request for each open finding named (or each open one of ``run_id``)
    and record its id on the finding; a finding whose request applied becomes ``repaired``."""
    outcomes: list[RepairOutcome] = []
    for finding in _findings(engine, finding_ids, run_id):
        outcomes.append(_repair_one(engine, finding, clock))
    return outcomes


def _repair_one(engine: Engine, finding: Any, clock: Clock) -> RepairOutcome:
    if finding.state != "open":
        return RepairOutcome(finding.id, finding.repair_request_id, "not_open", finding.state)
    f = t.reconcile_finding.c
    try:
        payload = plan_repair(finding)
    except NotRepairable as exc:
        with engine.begin() as conn:
            conn.execute(
                update(t.reconcile_finding)
                .where(f.id == finding.id)
                .values(note=str(exc), updated_at=clock())
            )
        return RepairOutcome(finding.id, None, "not_repairable", str(exc))
    request_id = _next_request_id(finding.id, finding.repair_request_id)
    envelope = {
        "request_id": request_id,
        "originating_user": RECONCILER,
        "channel": CHANNEL,
        "operation": "billing.resync",
        "payload": payload,
        "customer": finding.customer_id,
    }
    status = submit(engine, envelope, principal=RECONCILER, clock=clock)
    done = status.status in ("applied", "synced")
    message = (status.reason or {}).get("message", "") if status.failed else status.status
    with engine.begin() as conn:
        conn.execute(
            update(t.reconcile_finding)
            .where(f.id == finding.id, f.state == "open")
            .values(
                state="repaired" if done else "open",
                repair_request_id=request_id,
                note=None if done else f"repair {request_id} failed: {message}",
                updated_at=clock(),
            )
        )
    log.info("reconcile.repair", finding_id=finding.id, request_id=request_id, status=status.status)
    return RepairOutcome(finding.id, request_id, status.status, message)


def ignore(engine: Engine, finding_ids: Iterable[int], note: str, *, clock: Clock = utcnow) -> int:
    """Mark open findings ``ignored`` with an operator's note; the number changed."""
    f = t.reconcile_finding.c
    ids = list(finding_ids)
    with engine.begin() as conn:
        done = conn.execute(
            update(t.reconcile_finding)
            .where(f.id.in_(ids), f.state == "open")
            .values(state="ignored", note=note, updated_at=clock())
        )
    return int(done.rowcount)
