"""TMF635 Usage Management v4: ``/tmf-api/usageManagement/v4/usage`` and
``/usageSpecification``. Read-only: billing pushes usage (POST, PATCH, DELETE are 405).

A usage list is one subscriber's listing for one month (``subscriber``: its id or MSISDN,
required; ``month``: ``YYYY-MM``, default the current month, UTC), oldest first, with listing
suppression enforced through the same functions as the CRM listings endpoint
(``adapter.service.listings.read_listings`` / ``reveal_listings``):

- a suppressed month, read without ``listings.suppressed.read``: 200 with no items,
  ``X-Total-Count: 0`` and ``X-Listing-Suppressed: true``; a single suppressed line
  (``GET /usage/{id}``): 403 naming the privilege;
- read with the privilege: the lines, and the reveal recorded first in the change log in the
  caller's name (operation ``listing.reveal``; ``X-CRM-Reveal-Change-Id`` names the change).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from adapter.api.access import Caller
from adapter.api.auth import require
from adapter.api.context import ApiContext, get_context
from adapter.api.errors import ApiError, from_domain
from adapter.api.present import present
from adapter.api.privileges import Privilege
from adapter.api.tmf import (
    FieldsParam,
    Paging,
    filters_from,
    matches,
    page_of,
    paging,
    project,
    set_paging_headers,
)
from adapter.api.tmf_models import usage as tmf
from adapter.api.writes import CHANNEL, PRINCIPAL, request_id_from
from adapter.domain import Actor
from adapter.domain.errors import NotFound, ValidationFailed
from adapter.domain.model import UsageType
from adapter.queries.customers import resolve
from adapter.queries.inventory import entity, subscriber_msisdn, usage_position
from adapter.service.listings import (
    Listing,
    Month,
    month_suppressions,
    parse_month,
    read_listings,
    reveal_listings,
)
from adapter.store.reading import read_connection

router = APIRouter(prefix="/tmf-api/usageManagement/v4", tags=["TMF635 usage"])

FILTERS = ("usageType", "status", "usageSpecification.id")
SPEC_FILTERS = ("name", "lifecycleStatus")
MONTH_CAP = 10_000  # lines of one month read at once when filtering (listings' own cap)
SUPPRESSED_HEADER = "X-Listing-Suppressed"
REVEAL_HEADER = "X-CRM-Reveal-Change-Id"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def actor_of(caller: Caller) -> Actor:
    """The caller as the actor of an audited read (the shape writes use)."""
    return Actor(caller.name, PRINCIPAL, CHANNEL, request_id_from(None))


def _month(text: str | None) -> Month:
    try:
        return parse_month(text)
    except ValidationFailed as exc:
        raise from_domain(exc, invalid_status=400) from None


def _privileged(caller: Caller) -> bool:
    return caller.holds(Privilege.LISTINGS_SUPPRESSED_READ)


@router.get("/usage", summary="A subscriber's usage for one month (suppression enforced)")
async def list_usage(
    request: Request,
    response: Response,
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    context: Annotated[ApiContext, Depends(get_context)],
    page: Annotated[Paging, Depends(paging)],
    subscriber: Annotated[str, Query(max_length=64, description="The subscriber's id or MSISDN.")],
    month: Annotated[
        str | None, Query(max_length=7, description="YYYY-MM; default the current month (UTC).")
    ] = None,
    fields: FieldsParam = None,
) -> list[dict[str, Any]]:
    filters = filters_from(request, FILTERS)
    wanted = _month(month)
    base = _base(request)
    # Filters are applied to the whole month in memory; without any, SQL pages the month.
    limit, offset = (MONTH_CAP, 0) if filters else (page.limit, page.offset)

    def run() -> tuple[Listing, str]:
        with read_connection(context.engine) as conn:
            subscriber_id = resolve(conn, "subscriber", subscriber)
            listing = read_listings(conn, subscriber_id, wanted, limit=limit, offset=offset)
        if listing.suppressed and _privileged(caller):
            listing = reveal_listings(
                context.engine, actor_of(caller), subscriber_id, wanted, limit=limit, offset=offset
            )
        return listing, subscriber_id

    listing, _ = await run_in_threadpool(run)
    if listing.suppressed and not listing.revealed:
        response.headers[SUPPRESSED_HEADER] = "true"
        set_paging_headers(response, 0, 0)
        return []
    if listing.revealed:
        response.headers[SUPPRESSED_HEADER] = "true"
        response.headers[REVEAL_HEADER] = str(listing.reveal_change_id)
    documents = [tmf.usage(line, listing.msisdn, base) for line in listing.lines]
    if filters:
        documents = [d for d in documents if matches(d, filters)]
        total = len(documents)
        documents = page_of(documents, page)
    else:
        total = listing.total
    set_paging_headers(response, total, len(documents))
    return [project(present(d, caller), fields) for d in documents]


@router.get("/usage/{usage_id}", summary="One usage line (suppression enforced)")
async def get_usage(
    request: Request,
    response: Response,
    usage_id: Annotated[str, Path(max_length=64)],
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    context: Annotated[ApiContext, Depends(get_context)],
    fields: FieldsParam = None,
) -> dict[str, Any]:
    filters_from(request, ())
    base = _base(request)

    def run() -> tuple[dict[str, Any], str | None, int | None]:
        with read_connection(context.engine) as conn:
            try:
                record = entity(conn, "usage", usage_id)
            except NotFound:
                raise ApiError(404, "not_found", f"no usage {usage_id!r}") from None
            subscriber_id = str(record["subscriber_id"])
            started = datetime.fromisoformat(str(record["start_time"])).astimezone(UTC)
            month = parse_month(f"{started.year:04d}-{started.month:02d}")
            msisdn = subscriber_msisdn(conn, subscriber_id)
            if not month_suppressions(conn, subscriber_id, month):
                return record, msisdn, None
            if not _privileged(caller):
                raise ApiError(
                    403,
                    "forbidden",
                    f"the listing of this subscriber for {month.text} is suppressed; reading "
                    f"it needs the privilege {Privilege.LISTINGS_SUPPRESSED_READ.value}",
                )
            position = usage_position(conn, usage_id, month.start)
        revealed = reveal_listings(
            context.engine, actor_of(caller), subscriber_id, month, limit=1, offset=position
        )
        return record, msisdn, revealed.reveal_change_id

    record, msisdn, change_id = await run_in_threadpool(run)
    if change_id is not None:
        response.headers[SUPPRESSED_HEADER] = "true"
        response.headers[REVEAL_HEADER] = str(change_id)
    return project(present(tmf.usage(record, msisdn, base), caller), fields)


@router.get("/usageSpecification", summary="The usage types (voice, sms, data…)")
async def list_usage_specifications(
    request: Request,
    response: Response,
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    page: Annotated[Paging, Depends(paging)],
    fields: FieldsParam = None,
) -> list[dict[str, Any]]:
    filters = filters_from(request, SPEC_FILTERS)
    found = [d for d in tmf.usage_specifications(_base(request)) if matches(d, filters)]
    items = page_of(found, page)
    set_paging_headers(response, len(found), len(items))
    return [project(d, fields) for d in items]


@router.get("/usageSpecification/{specification_id}", summary="One usage type")
async def get_usage_specification(
    request: Request,
    specification_id: Annotated[str, Path(max_length=64)],
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    fields: FieldsParam = None,
) -> dict[str, Any]:
    filters_from(request, ())
    usage_type: UsageType | None = None
    with contextlib.suppress(ValueError):
        usage_type = UsageType(specification_id)
    if usage_type is None:
        known = ", ".join(u.value for u in UsageType)
        raise ApiError(
            404, "not_found", f"no usage specification {specification_id!r}; known: {known}"
        )
    return project(tmf.usage_specification(_base(request), usage_type), fields)


def _read_only(what: str) -> ApiError:
    return ApiError(
        405,
        "method_not_allowed",
        f"{what} is read-only here: billing pushes usage (SOAP notifications)",
        headers={"Allow": "GET"},
    )


@router.api_route("/usage", methods=["POST"], include_in_schema=False, response_model=None)
@router.api_route(
    "/usage/{usage_id}",
    methods=["PUT", "PATCH", "DELETE"],
    include_in_schema=False,
    response_model=None,
)
async def usage_is_read_only(_: Annotated[Caller, Depends(require())]) -> None:
    raise _read_only("usage")


@router.api_route(
    "/usageSpecification", methods=["POST"], include_in_schema=False, response_model=None
)
@router.api_route(
    "/usageSpecification/{specification_id}",
    methods=["PUT", "PATCH", "DELETE"],
    include_in_schema=False,
    response_model=None,
)
async def usage_specification_is_read_only(_: Annotated[Caller, Depends(require())]) -> None:
    raise _read_only("a usage specification")
