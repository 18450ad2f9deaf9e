"""``GET /api/v1/customers/{customer_id}``: the customer view (``customer_view``): the customer
with its accounts (and payers), contracts, subscribers, services, discounts, balances, free
units, listing suppressions and custom attribute values. ``customer_id`` is the id or the
customer number. PII masked without ``pii.read``; ``fields=`` keeps parts of the view. The
answer's ``ETag`` is the customer's version.

``PATCH /api/v1/customers/{customer_id}``: a JSON merge patch of the customer, applied as the
request ``customer.update`` through :mod:`adapter.api.writes` (audited with the caller as
originating user, versioned, synced to billing); ``If-Match`` guards against a stale version."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Header, Path, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from adapter.api.access import Caller
from adapter.api.auth import require
from adapter.api.context import ApiContext, get_context
from adapter.api.errors import ApiError
from adapter.api.present import present
from adapter.api.privileges import Privilege
from adapter.api.tmf import FieldsParam, check_merge_patch_type, filters_from, href, project
from adapter.api.writes import write
from adapter.queries.customers import customer_view, resolve
from adapter.store.reading import read_connection

router = APIRouter(prefix="/api/v1", tags=["customers"])


@router.get("/customers/{customer_id}", summary="A customer with everything under it")
async def get_customer(
    request: Request,
    response: Response,
    customer_id: Annotated[str, Path(max_length=200)],
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    context: Annotated[ApiContext, Depends(get_context)],
    fields: FieldsParam = None,
) -> dict[str, Any]:
    filters_from(request, ())

    def run() -> dict[str, Any]:
        with read_connection(context.engine) as conn:
            return customer_view(conn, customer_id)

    view = await run_in_threadpool(run)  # NotFound → 404 by the app's handler
    found_id = view["customer"]["id"]
    document = {
        "@type": "CustomerView",
        "id": found_id,
        "href": href(request, f"/api/v1/customers/{found_id}"),
        **view,
    }
    response.headers["ETag"] = f'"{_version(document)}"'
    return project(present(document, caller), fields)


def expected_version(if_match: str | None) -> int | None:
    """The version an ``If-Match`` header names ("3" or W/"3"), or None without one."""
    if if_match is None:
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or int(text) < 1:
        raise ApiError(
            400,
            "invalid_parameter",
            f'If-Match must name a version number (for example "3"), not {if_match[:40]!r}',
            details=[{"field": "header.if-match", "rule": "format", "message": "not a version"}],
        )
    return int(text)


@router.patch(
    "/customers/{customer_id}",
    summary="Change a customer with a JSON merge patch (RFC 7386)",
    description="The body is a merge patch of the customer's data (customer_number, status, "
    "segment, party, identifications, contact_media, addresses, attributes…): objects merge, "
    'lists replace, null removes. `If-Match: "N"` refuses the change (409) unless the '
    "customer is at version N. `Idempotency-Key` makes a retry safe. Answers the customer view "
    "after the change.",
    dependencies=[Depends(check_merge_patch_type)],
)
async def patch_customer(
    request: Request,
    background: BackgroundTasks,
    customer_id: Annotated[str, Path(max_length=200)],
    patch: Annotated[dict[str, Any], Body(media_type="application/merge-patch+json")],
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_WRITE))],
    context: Annotated[ApiContext, Depends(get_context)],
    if_match: Annotated[str | None, Header(max_length=100)] = None,
    idempotency_key: Annotated[str | None, Header(max_length=300)] = None,
) -> JSONResponse:
    filters_from(request, ())
    version = expected_version(if_match)

    def resolved() -> str:
        with read_connection(context.engine) as conn:
            return resolve(conn, "customer", customer_id)

    found_id = await run_in_threadpool(resolved)  # 404 before anything is written
    status = await write(
        context,
        caller,
        background,
        "customer.update",
        {"customer": found_id, "patch": patch},
        idempotency_key=idempotency_key,
        expected_version=version,
        customer=found_id,
        field_prefix="patch.",
    )

    def view() -> dict[str, Any]:
        with read_connection(context.engine) as conn:
            return customer_view(conn, found_id)

    document = {
        "@type": "CustomerView",
        "id": found_id,
        "href": href(request, f"/api/v1/customers/{found_id}"),
        **(await run_in_threadpool(view)),
    }
    return JSONResponse(
        present(document, caller),
        headers={"X-CRM-Request-Id": status.request_id, "ETag": f'"{_version(document)}"'},
    )


def _version(document: dict[str, Any]) -> int:
    return int(document["customer"]["_version"])
