"""What a subscriber has (``{id}``: the subscriber's id or MSISDN):

- ``GET /api/v1/subscribers/{id}/listings?month=YYYY-MM`` (``customers.read``): the month's
  traffic listing (default: the current month, UTC), a page of lines oldest first. When a
  suppression hides it (the subscriber's own, one of its account or an account above it, or
  one of a listing group it is in, active and valid at some day of the month) the answer is
  still 200: ``suppressed: true``, the suppressions with their origin, ``total`` lines and no
  items, and, for a caller allowed to see them, the ``reveal`` link.
- ``POST /api/v1/subscribers/{id}/listings/reveal?month=`` (``listings.suppressed.read``):
  the same month with the suppressed lines shown; the reveal is first recorded in the change
  log in the caller's name (operation ``listing.reveal``: who, which subscriber, which month,
  when), visible in ``GET /api/v1/audit``.
- ``GET /api/v1/subscribers/{id}/effective?at=DATE`` (``customers.read``): the discounts,
  promotions and suppressions in force on DATE (default today), own and inherited, each with
  its origin.
- ``GET /api/v1/subscribers/{id}/balances`` (``customers.read``): the account's monetary
  balances and the free units of the subscriber and its contract, with granted, used,
  remaining, the percentages used and left, and the period.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from adapter.api import direct
from adapter.api.access import Caller
from adapter.api.auth import require
from adapter.api.context import ApiContext, get_context
from adapter.api.errors import from_domain
from adapter.api.present import present
from adapter.api.privileges import Privilege
from adapter.api.tmf import filters_from, href, set_paging_headers
from adapter.api.writes import request_id_from
from adapter.domain.errors import ValidationFailed
from adapter.queries.balances import subscriber_balances
from adapter.queries.customers import resolve
from adapter.queries.effective import effective_for_subscriber
from adapter.service.listings import Listing, Month, parse_month, read_listings
from adapter.store.reading import read_connection

router = APIRouter(prefix="/api/v1", tags=["subscribers"])

SubscriberRef = Annotated[str, Path(max_length=200, description="Subscriber id or MSISDN.")]
Context = Annotated[ApiContext, Depends(get_context)]
MonthParam = Annotated[
    str | None, Query(max_length=7, description="YYYY-MM (default: the current month, UTC).")
]
Offset = Annotated[int, Query(ge=0, description="Skip this many lines.")]
Limit = Annotated[int, Query(ge=1, le=5000, description="At most this many lines (1-5000).")]


def _month(text: str | None) -> Month:
    try:
        return parse_month(text)
    except ValidationFailed as exc:
        raise from_domain(exc, invalid_status=400) from None


def _subscriber_id(context: ApiContext, ref: str) -> str:
    with read_connection(context.engine) as conn:
        return resolve(conn, "subscriber", ref)


def _document(request: Request, caller: Caller, listing: Listing) -> dict[str, Any]:
    base = f"/api/v1/subscribers/{listing.subscriber_id}/listings"
    document: dict[str, Any] = {
        "@type": "SubscriberListing",
        "id": f"{listing.subscriber_id}:{listing.month.text}",
        "href": href(request, f"{base}?month={listing.month.text}"),
        **listing.as_dict(),
    }
    for applied in document["suppressions"]:
        applied["suppression_id"] = applied["item"].get("id")
    if listing.suppressed and not listing.revealed:
        document["reveal"] = (
            {"href": href(request, f"{base}/reveal?month={listing.month.text}"), "method": "POST"}
            if caller.holds(Privilege.LISTINGS_SUPPRESSED_READ)
            else None
        )
    return document


@router.get("/subscribers/{subscriber_id}/listings", summary="A month of traffic listings")
async def get_listings(
    request: Request,
    response: Response,
    subscriber_id: SubscriberRef,
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    context: Context,
    month: MonthParam = None,
    offset: Offset = 0,
    limit: Limit = 500,
) -> dict[str, Any]:
    filters_from(request, ())
    wanted = _month(month)

    def run() -> Listing:
        with read_connection(context.engine) as conn:
            found_id = resolve(conn, "subscriber", subscriber_id)
            return read_listings(conn, found_id, wanted, limit=limit, offset=offset)

    listing = await run_in_threadpool(run)
    set_paging_headers(response, listing.total, len(listing.lines))
    return present(_document(request, caller, listing), caller)  # type: ignore[no-any-return]


@router.post(
    "/subscribers/{subscriber_id}/listings/reveal",
    summary="A month of listings with suppressed lines shown (the reveal is audited)",
)
async def reveal_listings(
    request: Request,
    subscriber_id: SubscriberRef,
    caller: Annotated[Caller, Depends(require(Privilege.LISTINGS_SUPPRESSED_READ))],
    context: Context,
    month: MonthParam = None,
    offset: Offset = 0,
    limit: Limit = 500,
    idempotency_key: Annotated[str | None, Header(max_length=300)] = None,
) -> JSONResponse:
    filters_from(request, ())
    wanted = _month(month)
    request_id = request_id_from(idempotency_key)
    found_id = await run_in_threadpool(_subscriber_id, context, subscriber_id)
    listing = await run_in_threadpool(
        lambda: direct.reveal(
            context.engine, caller, found_id, wanted, request_id, limit=limit, offset=offset
        )
    )
    headers = {"X-Total-Count": str(listing.total), "X-Result-Count": str(len(listing.lines))}
    if listing.reveal_change_id is not None:
        headers["X-CRM-Request-Id"] = request_id
        headers["X-CRM-Change-Id"] = str(listing.reveal_change_id)
    return JSONResponse(present(_document(request, caller, listing), caller), headers=headers)


@router.get(
    "/subscribers/{subscriber_id}/effective",
    summary="Discounts, promotions and suppressions in force on a date, with their origin",
)
async def get_effective(
    request: Request,
    subscriber_id: SubscriberRef,
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    context: Context,
    at: Annotated[date | None, Query(description="YYYY-MM-DD (default: today, UTC).")] = None,
) -> dict[str, Any]:
    filters_from(request, ())
    day = at or datetime.now(UTC).date()

    def run() -> dict[str, Any]:
        with read_connection(context.engine) as conn:
            found_id = resolve(conn, "subscriber", subscriber_id)
            return effective_for_subscriber(conn, found_id, day).as_dict()

    found = await run_in_threadpool(run)
    document = {
        "@type": "EffectiveAssignments",
        "id": found["subscriber_id"],
        "href": href(request, f"/api/v1/subscribers/{found['subscriber_id']}/effective?at={day}"),
        **found,
    }
    return present(document, caller)  # type: ignore[no-any-return]


@router.get(
    "/subscribers/{subscriber_id}/balances",
    summary="Monetary balances and free units: granted, used, remaining, percentages",
)
async def get_balances(
    request: Request,
    subscriber_id: SubscriberRef,
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    context: Context,
) -> dict[str, Any]:
    filters_from(request, ())

    def run() -> dict[str, Any]:
        with read_connection(context.engine) as conn:
            return subscriber_balances(conn, resolve(conn, "subscriber", subscriber_id))

    found = await run_in_threadpool(run)
    document = {
        "@type": "SubscriberBalances",
        "id": found["subscriber_id"],
        "href": href(request, f"/api/v1/subscribers/{found['subscriber_id']}/balances"),
        **found,
    }
    return present(document, caller)  # type: ignore[no-any-return]
