"""The one way a route writes: as a provisioning request, through the same handlers as the
queue (``adapter.requests.apply.submit``), so that every API write is validated, audited with
the caller as originating user, versioned, recorded as a request (queryable by its id) and
synced to billing through the outbox.

The envelope: ``request_id`` from the ``Idempotency-Key`` header (a retry with the same key is
answered with the first outcome and applies nothing twice) or ``api-<uuid>``; ``originating_user``
the caller's name; ``channel`` "api"; principal "crm-api".

Outcome → HTTP: applied or synced → the handler's result; ``not_found`` → 404; ``stale_version``
or ``conflict`` → 409; ``invalid_envelope``/``validation_failed`` → 422 naming each field (as
the client wrote it: ``party.birth_date``, not ``payload.party.birth_date``); an internal error
→ 500. Nothing is written for any of the failures (the request itself is recorded ``failed``
with its reason, queryable like any other).

Billing: once the request has committed, ``crm.sync.drain`` is sent for its customer as a
background task of the response (FastAPI runs it after the answer is sent), unless
``CRM_API_ENQUEUE_SYNC=false``. A send that fails is logged; the messages stay in the outbox,
and beat's ``crm.sync.sweep`` (or ``crm-adapter sync drain``) sends them: nothing is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import BackgroundTasks
from starlette.concurrency import run_in_threadpool

from adapter.domain.errors import ValidationFailed
from adapter.requests.apply import RequestStatus, submit
from adapter.requests.envelope import REQUEST_ID_MAX

from .access import Caller
from .context import ApiContext
from .errors import ApiError

log = structlog.get_logger(__name__)

CHANNEL = "api"
PRINCIPAL = "crm-api"
IDEMPOTENCY_HEADER = "Idempotency-Key"

_STATUS_OF_CODE = {
    "not_found": 404,
    "stale_version": 409,
    "conflict": 409,
    "invalid_envelope": 422,
    "validation_failed": 422,
    "internal_error": 500,
}


def request_id_from(key: str | None) -> str:
    """The request id for an ``Idempotency-Key`` (400 when unusable), or a new one."""
    import uuid

    if key is None:
        return f"api-{uuid.uuid4()}"
    if not key or len(key) > REQUEST_ID_MAX or any(ch.isspace() for ch in key):
        raise ApiError(
            400,
            "invalid_parameter",
            f"{IDEMPOTENCY_HEADER} must be 1-{REQUEST_ID_MAX} characters without whitespace",
            details=[{"field": "header.idempotency-key", "rule": "format", "message": "unusable"}],
        )
    return key


def envelope_for(
    caller: Caller,
    operation: str,
    payload: Mapping[str, Any],
    *,
    request_id: str,
    expected_version: int | None = None,
    customer: str | None = None,
) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "request_id": request_id,
        "originating_user": caller.name,
        "channel": CHANNEL,
        "operation": operation,
        "payload": dict(payload),
    }
    if expected_version is not None:
        envelope["expected_version"] = expected_version
    if customer is not None:
        envelope["customer"] = customer
    return envelope


def _client_field(field: str, prefix: str = "") -> str:
    """A field as the client wrote it: without the envelope's ``payload.`` and, for routes
    whose body is one member of the payload (a patch), without that member's name."""
    return (
        field.removeprefix("payload.").removeprefix(prefix)
        if prefix
        else field.removeprefix("payload.")
    )


def failure(status: RequestStatus, field_prefix: str = "") -> ApiError:
    """The HTTP answer to a request that failed."""
    reason = status.reason or {}
    code = str(reason.get("code", "internal_error"))
    http = _STATUS_OF_CODE.get(code, 422)
    details = [
        {
            "field": _client_field(str(v.get("field", "")), field_prefix),
            "rule": str(v.get("rule", "")),
            "message": str(v.get("message", "")),
        }
        for v in reason.get("violations", [])
    ]
    if http == 500:
        return ApiError(
            500,
            "internal_error",
            f"the write failed inside the server; request {status.request_id} records it",
        )
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details) or str(
        reason.get("message", code)
    )
    return ApiError(http, "validation_failed" if http == 422 else code, message, details=details)


async def write(
    context: ApiContext,
    caller: Caller,
    background: BackgroundTasks,
    operation: str,
    payload: Mapping[str, Any],
    *,
    idempotency_key: str | None = None,
    expected_version: int | None = None,
    customer: str | None = None,
    field_prefix: str = "",
) -> RequestStatus:
    """Submit one write as CALLER; its status when applied, else the matching ApiError.
    FIELD_PREFIX: the payload member the route's body is (``"patch."``), left out of the
    field names of a 422 so that they name what the client sent."""
    envelope = envelope_for(
        caller,
        operation,
        payload,
        request_id=request_id_from(idempotency_key),
        expected_version=expected_version,
        customer=customer,
    )
    try:
        status = await run_in_threadpool(submit, context.engine, envelope, principal=PRINCIPAL)
    except ValidationFailed as exc:  # no usable request id: nothing could be recorded
        raise ApiError(
            422,
            "validation_failed",
            str(exc),
            details=[
                {
                    "field": _client_field(v.field, field_prefix),
                    "rule": v.rule,
                    "message": v.message,
                }
                for v in exc.violations
            ],
        ) from None
    if status.failed:
        raise failure(status, field_prefix)
    if status.status == "applied" and status.customer_id is not None:
        background.add_task(_send_drain, context, status.customer_id, status.request_id)
    return status


def _send_drain(context: ApiContext, customer_id: str, request_id: str) -> None:
    if context.enqueue_drain is None:
        return
    try:
        context.enqueue_drain(customer_id)
    except Exception as exc:  # the sweep sends it later; the outbox keeps the messages
        log.warning(
            "api.drain_not_sent",
            customer_id=customer_id,
            request_id=request_id,
            error=type(exc).__name__,
        )
