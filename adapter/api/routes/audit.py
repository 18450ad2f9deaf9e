"""``GET /api/v1/audit`` (``audit.read``): the change log, newest first, filtered by
``user`` (originating user), ``entity_type`` and/or ``entity_id`` (the changes that wrote a
version of it; for a subscriber also the reveals of its suppressed listings), ``request_id``,
``operation``, and a time range ``since`` (included) … ``until`` (excluded), ISO instants with
a timezone. Each change with who (originating user, principal, channel), when, the request,
the operation, its outcome and summary, its hash, and the entities it wrote. Paged as every
list. Masked like every answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from adapter.api.access import Caller
from adapter.api.auth import require
from adapter.api.context import ApiContext, get_context
from adapter.api.errors import from_domain
from adapter.api.present import present
from adapter.api.privileges import Privilege
from adapter.api.tmf import Paging, filters_from, paging, set_paging_headers
from adapter.domain.errors import ValidationFailed
from adapter.queries.audit import AuditFilter, AuditPage, query_changes
from adapter.store.reading import read_connection

router = APIRouter(prefix="/api/v1", tags=["audit"])

Text = Annotated[str | None, Query(min_length=1, max_length=200)]


@router.get("/audit", summary="The change log: who changed what, when, under which request")
async def get_audit(
    request: Request,
    response: Response,
    caller: Annotated[Caller, Depends(require(Privilege.AUDIT_READ))],
    context: Annotated[ApiContext, Depends(get_context)],
    page: Annotated[Paging, Depends(paging)],
    user: Text = None,
    entity_type: Text = None,
    entity_id: Text = None,
    request_id: Text = None,
    operation: Text = None,
    since: Annotated[datetime | None, Query(description="ISO instant, included.")] = None,
    until: Annotated[datetime | None, Query(description="ISO instant, excluded.")] = None,
) -> list[dict[str, Any]]:
    filters_from(request, ())
    query = AuditFilter(user, entity_type, entity_id, request_id, operation, since, until)

    def run() -> AuditPage:
        with read_connection(context.engine) as conn:
            return query_changes(conn, query, limit=page.limit, offset=page.offset)

    try:
        found = await run_in_threadpool(run)
    except ValidationFailed as exc:
        raise from_domain(exc, invalid_status=400) from None
    items = [{"@type": "Change", **entry.as_dict()} for entry in found.items]
    set_paging_headers(response, found.total, len(items))
    return present(items, caller)  # type: ignore[no-any-return]
