"""TMF629 Customer Management v4: ``/tmf-api/customerManagement/v4/customer``.

- ``GET …/customer``: customers by customer number, filtered by ``id``, ``name`` (the party's
  name, compared case- and accent-insensitively), ``status``, ``engagedParty.id``,
  ``engagedParty.name``, ``engagedParty.@referredType`` (Individual, Organization); paged,
  ``fields=``.
- ``GET …/customer/{id}`` (id or customer number), with ``ETag`` (the customer's version).
- ``POST …/customer``: a new customer with its party by value → ``customer.create``; 201,
  ``Location``.
- ``PATCH …/customer/{id}``: merge patch → ``customer.update`` (``If-Match``).
- ``DELETE …/customer/{id}``: the canonical model never deletes a customer (history and
  billing keep it); DELETE closes it (``status`` ``closed`` through ``customer.update``), 204.

The mapping is :mod:`adapter.api.tmf_models.party_account`; PII is masked on the canonical
snapshot (``present``) before it is mapped, so identifications and the birth date are masked
in the TMF document as everywhere else.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Header, Path, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import ColumnElement, select
from starlette.concurrency import run_in_threadpool

from adapter.api.access import Caller
from adapter.api.auth import require
from adapter.api.context import ApiContext, get_context
from adapter.api.present import present
from adapter.api.privileges import Privilege
from adapter.api.routes.customers import expected_version
from adapter.api.routes.tmf_common import (
    Condition,
    accounts_of,
    base_of,
    read_page,
    tmf_write,
)
from adapter.api.tmf import (
    FieldsParam,
    Paging,
    check_merge_patch_type,
    created,
    filters_from,
    paging,
    project,
    set_paging_headers,
)
from adapter.api.tmf_models import party_account as m
from adapter.domain.errors import NotFound
from adapter.domain.identifiers import search_text
from adapter.queries.customers import resolve
from adapter.store import tables as t
from adapter.store.reading import read_connection

router = APIRouter(prefix="/tmf-api/customerManagement/v4", tags=["TMF629 customer"])

c = t.customer.c


def _names(values: list[str]) -> ColumnElement[bool]:
    return c.name_key.in_([search_text(v)[:254] for v in values])


CUSTOMER_FILTERS: dict[str, Condition] = {
    "id": lambda values: c.id.in_(values),
    "name": _names,
    "status": lambda values: c.status.in_(values),
    "engagedParty.id": lambda values: c.id.in_(values),
    "engagedParty.name": _names,
    "engagedParty.@referredType": lambda values: c.party_kind.in_(
        [m.PARTY_KINDS.get(v, v) for v in values]
    ),
}


def customer_and_accounts(context: ApiContext, ref: str) -> tuple[dict[str, Any], list[Any]]:
    """The canonical customer REF names (id or number, 404 otherwise) and its accounts."""
    with read_connection(context.engine) as conn:
        customer_id = resolve(conn, "customer", ref)
        row = conn.execute(select(c.data, c.version).where(c.id == customer_id)).first()
        if row is None:  # known only from history: deleted
            raise NotFound("customer", ref)
        accounts = accounts_of(conn, [customer_id])[customer_id]
    return {**row.data, "_version": row.version}, accounts


def render(
    customer: dict[str, Any], accounts: list[Any], caller: Caller, request: Request
) -> dict[str, Any]:
    """The TMF629 document CALLER may see."""
    masked = present({k: v for k, v in customer.items() if k != "_version"}, caller)
    return dict(present(m.customer_document(masked, accounts, base_of(request)), caller))


def _translate(field: str) -> str:
    return m.tmf_field(field)


@router.get("/customer", summary="List customers (TMF629)")
async def list_customers(
    request: Request,
    response: Response,
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    context: Annotated[ApiContext, Depends(get_context)],
    page: Annotated[Paging, Depends(paging)],
    fields: FieldsParam = None,
) -> list[dict[str, Any]]:
    filters = filters_from(request, CUSTOMER_FILTERS)

    def run() -> tuple[int, list[tuple[dict[str, Any], list[Any]]]]:
        with read_connection(context.engine) as conn:
            found = read_page(
                conn, t.customer, (c.customer_number,), filters, CUSTOMER_FILTERS, page
            )
            accounts = accounts_of(conn, [row["id"] for row in found.rows])
        return found.total, [(row, accounts[row["id"]]) for row in found.rows]

    total, items = await run_in_threadpool(run)
    set_paging_headers(response, total, len(items))
    return [project(render(cu, acc, caller, request), fields) for cu, acc in items]


@router.get("/customer/{customer_id}", summary="A customer (TMF629)")
async def get_customer(
    request: Request,
    response: Response,
    customer_id: Annotated[str, Path(max_length=200)],
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    context: Annotated[ApiContext, Depends(get_context)],
    fields: FieldsParam = None,
) -> dict[str, Any]:
    filters_from(request, ())
    customer, accounts = await run_in_threadpool(customer_and_accounts, context, customer_id)
    response.headers["ETag"] = f'"{customer["_version"]}"'
    return project(render(customer, accounts, caller, request), fields)


@router.post(
    "/customer",
    summary="Create a customer with its party (TMF629)",
    description="`engagedParty` carries the party by value: `@referredType` Individual "
    "(givenName, familyName, birthDate, gender, nationality, individualIdentification…) or "
    "Organization (name, tradingName, organizationType, organizationIdentification). "
    "`characteristic` `customerNumber` is required, `segment` optional. Applied as the "
    "request `customer.create`; answers 201 with the customer and `Location`.",
    status_code=201,
)
async def create_customer(
    request: Request,
    background: BackgroundTasks,
    body: Annotated[dict[str, Any], Body()],
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_WRITE))],
    context: Annotated[ApiContext, Depends(get_context)],
    idempotency_key: Annotated[str | None, Header(max_length=300)] = None,
) -> JSONResponse:
    filters_from(request, ())
    payload = m.customer_create_payload(body)  # ValidationFailed → 422 naming the attribute
    status = await tmf_write(
        context,
        caller,
        background,
        "customer.create",
        payload,
        _translate,
        idempotency_key=idempotency_key,
    )
    customer_id = str((status.result or {}).get("customer_id") or status.customer_id)
    customer, accounts = await run_in_threadpool(customer_and_accounts, context, customer_id)
    answer = created(
        request,
        render(customer, accounts, caller, request),
        f"{m.CUSTOMER_PATH}/{customer_id}",
    )
    answer.headers["X-CRM-Request-Id"] = status.request_id
    answer.headers["ETag"] = f'"{customer["_version"]}"'
    return answer


@router.patch(
    "/customer/{customer_id}",
    summary="Change a customer with a JSON merge patch (TMF629)",
    description="Writable: `status`, `characteristic` (customerNumber, segment), "
    "`engagedParty` (the party's attributes), `contactMedium` (replaces e-mail, phones and "
    "postal addresses), `relatedParty` (replaces the contact persons). Other attributes may "
    "only repeat their current value. Applied as `customer.update`; `If-Match` as everywhere.",
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
    customer, accounts = await run_in_threadpool(customer_and_accounts, context, customer_id)
    current = m.customer_document(customer, accounts, base_of(request))
    canonical = m.customer_patch(patch, current)
    status = await tmf_write(
        context,
        caller,
        background,
        "customer.update",
        {"customer": customer["id"], "patch": canonical},
        _translate,
        idempotency_key=idempotency_key,
        expected_version=version,
        customer=customer["id"],
        field_prefix="patch.",
    )
    customer, accounts = await run_in_threadpool(customer_and_accounts, context, customer["id"])
    return JSONResponse(
        render(customer, accounts, caller, request),
        headers={"X-CRM-Request-Id": status.request_id, "ETag": f'"{customer["_version"]}"'},
    )


@router.delete(
    "/customer/{customer_id}",
    summary="Close a customer (TMF629)",
    description="A customer is never deleted (its history, contracts and billing records keep "
    "it): DELETE sets its status to `closed` through `customer.update` and answers 204. "
    "`If-Match` and `Idempotency-Key` as for PATCH.",
    status_code=204,
)
async def delete_customer(
    request: Request,
    background: BackgroundTasks,
    customer_id: Annotated[str, Path(max_length=200)],
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_WRITE))],
    context: Annotated[ApiContext, Depends(get_context)],
    if_match: Annotated[str | None, Header(max_length=100)] = None,
    idempotency_key: Annotated[str | None, Header(max_length=300)] = None,
) -> Response:
    filters_from(request, ())
    version = expected_version(if_match)
    customer, _ = await run_in_threadpool(customer_and_accounts, context, customer_id)
    status = await tmf_write(
        context,
        caller,
        background,
        "customer.update",
        {"customer": customer["id"], "patch": {"status": "closed"}},
        _translate,
        idempotency_key=idempotency_key,
        expected_version=version,
        customer=customer["id"],
        field_prefix="patch.",
    )
    return Response(status_code=204, headers={"X-CRM-Request-Id": status.request_id})
