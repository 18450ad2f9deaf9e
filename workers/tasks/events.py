"""Tasks of the ``crm.events`` queue: notifications billing pushed (``adapter.notifications``).

The endpoint stores each event before acknowledging it and then sends ``crm.events.apply``
with its id; the message carries only the id, so the stored row stays the one source of truth.
"""

from __future__ import annotations

from typing import Any, Final

import structlog
from celery import Celery, Task
from sqlalchemy.exc import OperationalError

from adapter.domain.errors import NotFound
from adapter.notifications.apply import apply_event

log = structlog.get_logger(__name__)

APPLY: Final = "crm.events.apply"


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


def register(app: Celery) -> None:
    app.task(name=APPLY, bind=True, acks_late=True, reject_on_worker_lost=True)(apply)
