"""Tasks of the ``crm.requests`` queue: provisioning requests enqueued by other systems."""

from __future__ import annotations

from typing import Any, Final

import structlog
from celery import Celery, Task
from sqlalchemy.exc import OperationalError

from adapter.domain.errors import ValidationFailed
from adapter.requests.apply import reason_of, submit
from workers.tasks.sync import DRAIN as SYNC_DRAIN

log = structlog.get_logger(__name__)

APPLY: Final = "crm.requests.apply"
#: Who carried a request that came through the broker (the envelope names the user).
PRINCIPAL: Final = "crm-adapter-worker"


def apply(task: Task[Any, Any], envelope: dict[str, Any]) -> dict[str, Any]:
    """Receive and apply one envelope (``adapter.requests.apply.submit``): the status it ends
    in, which is also queryable with ``crm-adapter requests status``.

    Idempotent on the envelope's ``request_id``, so a redelivery after a lost worker applies
    nothing twice. A refused request is recorded as failed, with its reason, and acknowledged:
    retrying cannot change the answer. An envelope without a usable ``request_id`` cannot be
    recorded at all; it is logged (without its content) and acknowledged. A database that
    cannot be reached is retried with backoff."""
    engine = task.app.container.engine  # type: ignore[attr-defined]
    try:
        status = submit(engine, envelope, principal=PRINCIPAL)
    except ValidationFailed as exc:
        reason = reason_of(exc)
        log.warning("request.unrecordable", reason=reason)
        return {"status": "rejected", "reason": reason}
    except OperationalError as exc:  # the store unreachable or locked: try again later
        ceiling = task.app.settings.task_retry_ceiling  # type: ignore[attr-defined]
        countdown = min(2**task.request.retries, ceiling)
        log.warning("request.store_unavailable", retry_in=countdown, error=type(exc).__name__)
        raise task.retry(exc=exc, countdown=countdown, max_retries=None) from exc
    if status.status == "applied" and status.customer_id is not None:
        # Committed (submit has returned): billing is told by the customer's drain. Were this
        # send lost (a crash just now), the sweep finds the pending messages.
        task.app.send_task(SYNC_DRAIN, args=[status.customer_id])
    return {"request_id": status.request_id, "status": status.status}


def register(app: Celery) -> None:
    app.task(name=APPLY, bind=True, acks_late=True, reject_on_worker_lost=True)(apply)
