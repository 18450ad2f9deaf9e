"""Tasks of the ``crm.requests`` queue: provisioning requests enqueued by other systems.

``crm.requests.apply`` receives and applies one envelope (``crm.requests.apply_document`` one
BSCS-style XML request document, mapped into its envelope); ``crm.requests.sweep`` (beat) sends it
again for a request still ``received`` long after its receipt, whose message was lost.
"""

from __future__ import annotations

from typing import Any, Final

import structlog
from celery import Celery, Task
from sqlalchemy.exc import OperationalError

from adapter.domain.errors import ValidationFailed
from adapter.requests.apply import reason_of, submit
from adapter.requests.sweep import stuck_requests
from adapter.requests.xmldoc import DocumentRejected, to_envelope
from adapter.store.uow import utcnow
from workers.tasks.sync import DRAIN as SYNC_DRAIN

log = structlog.get_logger(__name__)

APPLY: Final = "crm.requests.apply"
APPLY_DOCUMENT: Final = "crm.requests.apply_document"
SWEEP: Final = "crm.requests.sweep"
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
    return _submit(task, envelope)


def apply_document(task: Task[Any, Any], document: str) -> dict[str, Any]:
    """Map one BSCS-style XML request document (``wsdl/requests.xsd``) into its envelope
    (``adapter.requests.xmldoc.to_envelope``) and do what :func:`apply` does with it.

    A document that is refused (not XML, a DTD or entity, not valid against the schema, an
    unknown operation element) has no envelope to record: it is logged with the check that
    refused it and the line (not its content, which may hold personal data) and
    acknowledged, with the reason in the task's result."""
    try:
        envelope = to_envelope(document)
    except DocumentRejected as exc:
        log.warning("request.document_rejected", rule=exc.rule, line=exc.line)
        return {"status": "rejected", "reason": exc.as_reason()}
    return _submit(task, envelope)


def _submit(task: Task[Any, Any], envelope: Any) -> dict[str, Any]:
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


def sweep(task: Task[Any, Any]) -> dict[str, Any]:
    """Send ``crm.requests.apply`` again, with the envelope as received, for every request
    still ``received`` after ``resume_received_after`` seconds: its message was lost (a broker
    restarted without persistence, a worker killed between recording and applying it).
    Applying is idempotent on the request id, so a request that was only slow is still
    applied once (``adapter.requests.sweep``)."""
    app = task.app
    stuck = stuck_requests(
        app.container.engine,  # type: ignore[attr-defined]
        now=utcnow(),
        older_than=app.settings.resume_received_after,  # type: ignore[attr-defined]
    )
    for request in stuck:
        app.send_task(APPLY, args=[request.envelope])
    if stuck:
        log.warning("requests.resumed", requests=len(stuck))
    return {"requests": [request.request_id for request in stuck]}


def register(app: Celery) -> None:
    app.task(name=APPLY, bind=True, acks_late=True, reject_on_worker_lost=True)(apply)
    app.task(name=APPLY_DOCUMENT, bind=True, acks_late=True, reject_on_worker_lost=True)(
        apply_document
    )
    app.task(name=SWEEP, bind=True)(sweep)
