"""Tasks of the ``crm.sync`` queue: telling billing what the store's changes did.

``crm.sync.drain`` drains one customer's outbox (``adapter.sync.drain_customer``);
``crm.requests.apply`` sends it after a request is applied. ``crm.sync.sweep`` runs on beat's
schedule (``sync_sweep_interval``) and sends a drain for each customer with a message due:
what sends the outbox after a crash between a commit and the drain task, after a drain found
the customer busy, or after a retry was lost.
"""

from __future__ import annotations

from typing import Any, Final

import structlog
from celery import Celery, Task
from sqlalchemy.exc import OperationalError

from adapter.mapping import load_mappings
from adapter.store.uow import utcnow
from adapter.sync import SyncPolicy, drain_customer, due_customers

log = structlog.get_logger(__name__)

DRAIN: Final = "crm.sync.drain"
SWEEP: Final = "crm.sync.sweep"


def drain(task: Task[Any, Any], customer_id: str) -> dict[str, Any]:
    """Drain one customer's outbox. When billing could not be reached the task retries itself
    when the message is due (its ``next_attempt_at``); a dead letter or a busy customer ends
    it (an operator, or the lease holder, takes it from there). Safe to run twice: the lease
    lets one drain at a time send, and a message sent is not sent again."""
    app = task.app
    container = app.container  # type: ignore[attr-defined]
    policy = SyncPolicy.from_settings(app.settings)  # type: ignore[attr-defined]
    try:
        report = drain_customer(
            container.engine, container.gateway, load_mappings(), customer_id, policy=policy
        )
    except OperationalError as exc:  # the store unreachable or locked: try again later
        ceiling = app.settings.task_retry_ceiling  # type: ignore[attr-defined]
        countdown = min(2**task.request.retries, ceiling)
        raise task.retry(exc=exc, countdown=countdown, max_retries=None) from exc
    if report.stopped in ("transient", "not_due") and report.retry_at is not None:
        countdown = max((report.retry_at - utcnow()).total_seconds(), 0.0)
        log.info("sync.retry_scheduled", customer_id=customer_id, countdown=countdown)
        raise task.retry(countdown=countdown, max_retries=None)
    return report.as_dict()


def sweep(task: Task[Any, Any]) -> dict[str, Any]:
    """Send ``crm.sync.drain`` for every customer with a pending message due."""
    engine = task.app.container.engine  # type: ignore[attr-defined]
    customers = due_customers(engine, now=utcnow())
    for customer_id in customers:
        task.app.send_task(DRAIN, args=[customer_id])
    if customers:
        log.info("sync.swept", customers=len(customers))
    return {"customers": customers}


def register(app: Celery) -> None:
    app.task(name=DRAIN, bind=True, acks_late=True, reject_on_worker_lost=True)(drain)
    app.task(name=SWEEP, bind=True)(sweep)
