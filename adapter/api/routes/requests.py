"""Provisioning requests over HTTP, and the dead letters they leave.

``POST /api/v1/requests`` (``requests.submit``): a request envelope (``docs/requests.md``:
``request_id``, ``operation``, ``payload``, optional ``expected_version``, ``customer``,
``originating_user``, ``channel``). The request is **recorded before the answer**
(``adapter.requests.apply.receive``: durable, in order per customer, idempotent on its id) and
answered **202** with ``Location: /api/v1/requests/{id}`` and its status (``received``). After
the answer, ``crm.requests.apply`` is sent for it through the configured broker, exactly as
other systems enqueue requests; a worker applies it (the same task, handlers and audit as
every queued request). If the broker cannot be reached the failure is logged
(``api.request_not_sent``) and the request stays ``received``, where beat's
``crm.requests.sweep`` finds it and sends it again: nothing accepted is lost.

- ``request_id``: from the body, else the ``Idempotency-Key`` header, else a new
  ``api-<uuid>``. A request id already received answers its recorded status (202) and applies
  nothing twice.
- ``originating_user``: the caller's name unless the body names another (a system submitting
  on behalf of its own user); ``channel`` defaults to ``api``. The principal recorded is
  ``crm-api:<caller>``, so the change log always names the API user that carried it.
- An envelope the schema refuses: 422 naming each field (recorded ``failed`` when its
  request id is usable, so that a status query finds the reason).

``GET /api/v1/requests/{id}`` (``requests.submit``): where it stands: received, applied,
synced, or failed with the reason; its change, result and outbox.

``GET /api/v1/deadletters`` and ``GET /api/v1/deadletters/{id}`` (``audit.read``): failed
requests (newest failure first; ``operation``, ``customer``, ``code`` filter; discarded ones
with ``include_discarded=true``), and one in full with its envelope as received, masked
without ``pii.read``. Replay and discard stay in the CLI (``crm-adapter dlq``).
"""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import (
    APIRouter,
    BackgroundTasks,
    Body,
    Depends,
    Header,
    Path,
    Query,
    Request,
    Response,
)
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from adapter.api.access import Caller
from adapter.api.auth import require
from adapter.api.context import ApiContext, get_context
from adapter.api.errors import ApiError, violations_details
from adapter.api.present import present
from adapter.api.privileges import Privilege
from adapter.api.tmf import Paging, filters_from, href, paging, set_paging_headers
from adapter.api.writes import CHANNEL, PRINCIPAL, request_id_from
from adapter.domain.errors import ValidationFailed
from adapter.requests import deadletters
from adapter.requests.apply import RequestStatus, receive, request_status

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/api/v1", tags=["requests"])

Context = Annotated[ApiContext, Depends(get_context)]
RequestRef = Annotated[str, Path(min_length=1, max_length=200)]


def principal_of(caller: Caller) -> str:
    return f"{PRINCIPAL}:{caller.name}"


def _document(request: Request, status: RequestStatus) -> dict[str, Any]:
    return {
        "@type": "ProvisioningRequest",
        "id": status.request_id,
        "href": href(request, f"/api/v1/requests/{status.request_id}"),
        **status.as_dict(),
    }


def _sender(request: Request, context: ApiContext) -> Any:
    """The Celery app that sends tasks, built on first use and kept with the API app."""
    state = request.app.state
    app = getattr(state, "request_sender", None)
    if app is None:
        from workers.app import create_app as create_worker_app

        app = create_worker_app(context.settings)
        state.request_sender = app
    return app


def _send_apply(app: Any, envelope: dict[str, Any], request_id: str) -> None:
    from workers.tasks.requests import APPLY

    try:
        app.send_task(APPLY, args=[envelope])
    except Exception as exc:  # the sweep sends it later; the request stays received
        log.warning("api.request_not_sent", request_id=request_id, error=type(exc).__name__)


@router.post(
    "/requests",
    summary="Submit a provisioning request (202: recorded, applied by a worker)",
    status_code=202,
)
async def submit_request(
    request: Request,
    background: BackgroundTasks,
    envelope: Annotated[dict[str, Any], Body(description="A request envelope.")],
    caller: Annotated[Caller, Depends(require(Privilege.REQUESTS_SUBMIT))],
    context: Context,
    idempotency_key: Annotated[str | None, Header(max_length=300)] = None,
) -> JSONResponse:
    filters_from(request, ())
    data = dict(envelope)
    if "request_id" not in data:
        data["request_id"] = request_id_from(idempotency_key)
    data.setdefault("originating_user", caller.name)
    data.setdefault("channel", CHANNEL)
    try:
        status = await run_in_threadpool(
            lambda: receive(context.engine, data, principal=principal_of(caller))
        )
    except ValidationFailed as exc:  # no usable request id: nothing could be recorded
        raise ApiError(
            422, "validation_failed", str(exc), details=violations_details(exc.violations)
        ) from None
    reason = status.reason or {}
    if status.failed and reason.get("code") == "invalid_envelope":
        details = [
            {
                "field": str(v.get("field")),
                "rule": str(v.get("rule")),
                "message": str(v.get("message")),
            }
            for v in reason.get("violations", [])
        ]
        message = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        raise ApiError(
            422, "validation_failed", message or str(reason.get("message")), details=details
        )
    location = href(request, f"/api/v1/requests/{status.request_id}")
    if status.status == "received":
        background.add_task(_send_apply, _sender(request, context), data, status.request_id)
    return JSONResponse(
        present(_document(request, status), caller),
        status_code=202,
        headers={"Location": location, "X-CRM-Request-Id": status.request_id},
    )


@router.get("/requests/{request_id}", summary="Where a provisioning request stands")
async def get_request(
    request: Request,
    request_id: RequestRef,
    caller: Annotated[Caller, Depends(require(Privilege.REQUESTS_SUBMIT))],
    context: Context,
) -> dict[str, Any]:
    filters_from(request, ())
    status = await run_in_threadpool(request_status, context.engine, request_id)
    return present(_document(request, status), caller)  # type: ignore[no-any-return]


@router.get("/deadletters", summary="Failed requests (dead letters), newest failure first")
async def list_dead_letters(
    request: Request,
    response: Response,
    caller: Annotated[Caller, Depends(require(Privilege.AUDIT_READ))],
    context: Context,
    page: Annotated[Paging, Depends(paging)],
    operation: Annotated[str | None, Query(max_length=100)] = None,
    customer: Annotated[str | None, Query(max_length=200)] = None,
    code: Annotated[str | None, Query(max_length=100)] = None,
    include_discarded: bool = False,
) -> list[dict[str, Any]]:
    filters_from(request, ())
    found = await run_in_threadpool(
        lambda: deadletters.list_dead_letters(
            context.engine,
            limit=page.limit,
            offset=page.offset,
            operation=operation,
            customer=customer,
            code=code,
            include_discarded=include_discarded,
        )
    )
    items = [
        {
            "@type": "DeadLetter",
            "id": letter.request_id,
            "href": href(request, f"/api/v1/deadletters/{letter.request_id}"),
            **letter.as_dict(),
        }
        for letter in found.items
    ]
    set_paging_headers(response, found.total, len(items))
    return present(items, caller)  # type: ignore[no-any-return]


@router.get("/deadletters/{request_id}", summary="A dead letter in full (envelope masked)")
async def get_dead_letter(
    request: Request,
    request_id: RequestRef,
    caller: Annotated[Caller, Depends(require(Privilege.AUDIT_READ))],
    context: Context,
) -> dict[str, Any]:
    filters_from(request, ())
    detail = await run_in_threadpool(deadletters.show, context.engine, request_id)
    document = {
        "@type": "DeadLetter",
        "id": detail.status.request_id,
        "href": href(request, f"/api/v1/deadletters/{detail.status.request_id}"),
        **detail.as_dict(),
    }
    return present(document, caller)  # type: ignore[no-any-return]
