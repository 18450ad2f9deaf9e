"""Tasks of the ``crm.events`` queue: notifications billing pushed (``adapter.notifications``).

The endpoint stores each event before acknowledging it and then sends ``crm.events.apply``
with its id; the message carries only the id, so the stored row stays the one source of truth.
``crm.events.sweep`` (beat) sends it again for an event whose message was lost.
"""

from __future__ import annotations

from typing import Any, Final

import structlog
from celery import Celery, Task
from sqlalchemy.exc import OperationalError

from adapter.domain.errors import NotFound
from adapter.notifications.apply import apply_event
from adapter.requests.sweep import stuck_events
from adapter.store.uow import utcnow

log = structlog.get_logger(__name__)

APPLY: Final = "crm.events.apply"
SWEEP: Final = "crm.events.sweep"


def apply(task: Task[Any, Any], event_id: str) -> dict[str, Any]:
    """Apply one stored event: the status it ends in (applied, rejected with its reason, or
    failed). Idempotent on the event id, so a redelivery applies nothing twice. An id the
    store does not hold is logged and acknowledged (nothing to apply); a store that cannot be
    reached is retried with backoff, the event staying ``received`` meanwhile."""
    engine = task.app.container.engine  # type: ignore[attr-defined]
    try:
        status = apply_event(engine, event_id)
    except NotFound:
        log.warning("event.unknown", event_id=event_id)
        return {"event_id": event_id, "status": "unknown"}
    except OperationalError as exc:
        ceiling = task.app.settings.task_retry_ceiling  # type: ignore[attr-defined]
        countdown = min(2**task.request.retries, ceiling)
        log.warning("event.store_unavailable", retry_in=countdown, error=type(exc).__name__)
        raise task.retry(exc=exc, countdown=countdown, max_retries=None) from exc
    return {"event_id": status.event_id, "status": status.status}


def sweep(task: Task[Any, Any]) -> dict[str, Any]:
    """Send ``crm.events.apply`` again for every event still ``received`` after
    ``resume_received_after`` seconds: the endpoint stored and acknowledged it, so billing
    will not push it again, but its message was lost (or never sent). Applying is
    idempotent on the event id."""
    app = task.app
    stuck = stuck_events(
        app.container.engine,  # type: ignore[attr-defined]
        now=utcnow(),
        older_than=app.settings.resume_received_after,  # type: ignore[attr-defined]
    )
    for event_id in stuck:
        app.send_task(APPLY, args=[event_id])
    if stuck:
        log.warning("events.resumed", events=len(stuck))
    return {"events": stuck}


def register(app: Celery) -> None:
    app.task(name=APPLY, bind=True, acks_late=True, reject_on_worker_lost=True)(apply)
    app.task(name=SWEEP, bind=True)(sweep)
