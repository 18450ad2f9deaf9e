"""TMF632 Party Management v4: ``/tmf-api/partyManagement/v4/individual`` and
``…/organization`` — the party of each customer (the resource's id is the customer's id).

- ``GET …/individual`` (filters ``id``, ``fullName``, ``givenName``, ``familyName``,
  ``gender``, ``nationality``) and ``GET …/organization`` (``id``, ``name``, ``tradingName``,
  ``organizationType``): paged, ``fields=``. Names in ``fullName`` and ``name`` compare case-
  and accent-insensitively; the others exactly.
- ``GET …/{id}``: one party (the customer's id or number), ``ETag`` its customer's version.
- ``PATCH …/{id}``: merge patch of the party's attributes, identifications and contact media →
  ``customer.update`` of its customer (``If-Match``).
- ``POST`` and ``DELETE``: 405. A party exists here only as a customer's party: create one with
  ``POST /tmf-api/customerManagement/v4/customer`` (its ``engagedParty`` by value); a party is
  never deleted (close the customer).

Birth date and identification numbers are masked without ``pii.read``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Header, Path, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import ColumnElement
from starlette.concurrency import run_in_threadpool

from adapter.api.access import Caller
from adapter.api.auth import require
from adapter.api.context import ApiContext, get_context
from adapter.api.errors import ApiError
from adapter.api.present import present
from adapter.api.privileges import Privilege
from adapter.api.routes.customers import expected_version
from adapter.api.routes.tmf_common import Condition, base_of, not_allowed, read_page, tmf_write
from adapter.api.routes.tmf_customer import customer_and_accounts
from adapter.api.tmf import (
    FieldsParam,
    Paging,
    check_merge_patch_type,
    filters_from,
    paging,
    project,
    set_paging_headers,
)
from adapter.api.tmf_models import party_account as m
from adapter.domain.errors import NotFound
from adapter.domain.identifiers import search_text
from adapter.store import tables as t
from adapter.store.reading import read_connection

router = APIRouter(prefix="/tmf-api/partyManagement/v4", tags=["TMF632 party"])

c = t.customer.c


def _party(name: str) -> Any:
    return c.data[("party", name)].as_string()


def _names(values: list[str]) -> ColumnElement[bool]:
    return c.name_key.in_([search_text(v)[:254] for v in values])


INDIVIDUAL_FILTERS: dict[str, Condition] = {
    "id": lambda values: c.id.in_(values),
    "fullName": _names,
    "givenName": lambda values: _party("given_name").in_(values),
    "familyName": lambda values: _party("family_name").in_(values),
    "gender": lambda values: _party("gender").in_(values),
    "nationality": lambda values: _party("nationality").in_(values),
}
ORGANIZATION_FILTERS: dict[str, Condition] = {
    "id": lambda values: c.id.in_(values),
    "name": _names,
    "tradingName": lambda values: _party("trading_name").in_(values),
    "organizationType": lambda values: _party("legal_form").in_(values),
}
FILTERS = {"individual": INDIVIDUAL_FILTERS, "organization": ORGANIZATION_FILTERS}


def render(customer: dict[str, Any], caller: Caller, request: Request) -> dict[str, Any]:
    masked = present({k: v for k, v in customer.items() if k != "_version"}, caller)
    return dict(present(m.party_document(masked, base_of(request)), caller))


def party_of(context: ApiContext, kind: str, ref: str) -> dict[str, Any]:
    """The canonical customer whose party of KIND the reference names (404 for another kind:
    an organization is not an individual)."""
    customer, _ = customer_and_accounts(context, ref)
    if customer["party"].get("kind") != kind:
        raise NotFound(kind, ref)
    return customer


async def _list(
    kind: str,
    request: Request,
    response: Response,
    caller: Caller,
    context: ApiContext,
    page: Paging,
    fields: str | None,
) -> list[dict[str, Any]]:
    filters = filters_from(request, FILTERS[kind])

    def run() -> tuple[int, list[dict[str, Any]]]:
        with read_connection(context.engine) as conn:
            found = read_page(
                conn,
                t.customer,
                (c.customer_number,),
                filters,
                FILTERS[kind],
                page,
                where=(c.party_kind == kind,),
            )
        return found.total, found.rows

    total, rows = await run_in_threadpool(run)
    set_paging_headers(response, total, len(rows))
    return [project(render(row, caller, request), fields) for row in rows]


async def _get(
    kind: str,
    ref: str,
    request: Request,
    response: Response,
    caller: Caller,
    context: ApiContext,
    fields: str | None,
) -> dict[str, Any]:
    filters_from(request, ())
    customer = await run_in_threadpool(party_of, context, kind, ref)
    response.headers["ETag"] = f'"{customer["_version"]}"'
    return project(render(customer, caller, request), fields)


async def _patch(
    kind: str,
    ref: str,
    patch: dict[str, Any],
    request: Request,
    background: BackgroundTasks,
    caller: Caller,
    context: ApiContext,
    if_match: str | None,
    idempotency_key: str | None,
) -> JSONResponse:
    filters_from(request, ())
    version = expected_version(if_match)
    customer = await run_in_threadpool(party_of, context, kind, ref)
    current = m.party_document(customer, base_of(request))
    canonical = m.party_patch(kind, patch, current)
    status = await tmf_write(
        context,
        caller,
        background,
        "customer.update",
        {"customer": customer["id"], "patch": canonical},
        lambda field: m.tmf_field(field, party_prefix="", kind=kind),
        idempotency_key=idempotency_key,
        expected_version=version,
        customer=customer["id"],
        field_prefix="patch.",
    )
    customer = await run_in_threadpool(party_of, context, kind, customer["id"])
    return JSONResponse(
        render(customer, caller, request),
        headers={"X-CRM-Request-Id": status.request_id, "ETag": f'"{customer["_version"]}"'},
    )


def _no_create(kind: str) -> ApiError:
    return not_allowed(
        "POST",
        kind,
        "a party exists only as a customer's party; create it with POST "
        f"{m.CUSTOMER_PATH} (engagedParty by value)",
        "GET",
    )


def _no_delete(kind: str) -> ApiError:
    return not_allowed(
        "DELETE",
        kind,
        f"a party is never deleted; close its customer (DELETE {m.CUSTOMER_PATH}/{{id}})",
        "GET, PATCH",
    )


Ref = Annotated[str, Path(max_length=200)]
Reader = Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))]
Writer = Annotated[Caller, Depends(require(Privilege.CUSTOMERS_WRITE))]
Context = Annotated[ApiContext, Depends(get_context)]
Page = Annotated[Paging, Depends(paging)]
Patch = Annotated[dict[str, Any], Body(media_type="application/merge-patch+json")]
IfMatch = Annotated[str | None, Header(max_length=100)]
IdempotencyKey = Annotated[str | None, Header(max_length=300)]
PATCH_DESCRIPTION = (
    "A JSON merge patch of the party: its name attributes, birthDate, gender, nationality "
    "(Individual) or name, tradingName, organizationType (Organization); the identification "
    "list and contactMedium (lists replace). Applied as `customer.update` of its customer."
)

# ----------------------------------------------------------------------------- individual


@router.get("/individual", summary="List individuals (TMF632)")
async def list_individuals(
    request: Request,
    response: Response,
    caller: Reader,
    context: Context,
    page: Page,
    fields: FieldsParam = None,
) -> list[dict[str, Any]]:
    return await _list("individual", request, response, caller, context, page, fields)


@router.get("/individual/{party_id}", summary="An individual (TMF632)")
async def get_individual(
    request: Request,
    response: Response,
    party_id: Ref,
    caller: Reader,
    context: Context,
    fields: FieldsParam = None,
) -> dict[str, Any]:
    return await _get("individual", party_id, request, response, caller, context, fields)


@router.patch(
    "/individual/{party_id}",
    summary="Change an individual (TMF632)",
    description=PATCH_DESCRIPTION,
    dependencies=[Depends(check_merge_patch_type)],
)
async def patch_individual(
    request: Request,
    background: BackgroundTasks,
    party_id: Ref,
    patch: Patch,
    caller: Writer,
    context: Context,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await _patch(
        "individual",
        party_id,
        patch,
        request,
        background,
        caller,
        context,
        if_match,
        idempotency_key,
    )


@router.post("/individual", summary="Not allowed: create a customer instead", status_code=405)
async def create_individual(caller: Writer) -> None:
    raise _no_create("individual")


@router.delete("/individual/{party_id}", summary="Not allowed: close the customer", status_code=405)
async def delete_individual(party_id: Ref, caller: Writer) -> None:
    raise _no_delete("individual")


# --------------------------------------------------------------------------- organization


@router.get("/organization", summary="List organizations (TMF632)")
async def list_organizations(
    request: Request,
    response: Response,
    caller: Reader,
    context: Context,
    page: Page,
    fields: FieldsParam = None,
) -> list[dict[str, Any]]:
    return await _list("organization", request, response, caller, context, page, fields)


@router.get("/organization/{party_id}", summary="An organization (TMF632)")
async def get_organization(
    request: Request,
    response: Response,
    party_id: Ref,
    caller: Reader,
    context: Context,
    fields: FieldsParam = None,
) -> dict[str, Any]:
    return await _get("organization", party_id, request, response, caller, context, fields)


@router.patch(
    "/organization/{party_id}",
    summary="Change an organization (TMF632)",
    description=PATCH_DESCRIPTION,
    dependencies=[Depends(check_merge_patch_type)],
)
async def patch_organization(
    request: Request,
    background: BackgroundTasks,
    party_id: Ref,
    patch: Patch,
    caller: Writer,
    context: Context,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await _patch(
        "organization",
        party_id,
        patch,
        request,
        background,
        caller,
        context,
        if_match,
        idempotency_key,
    )


@router.post("/organization", summary="Not allowed: create a customer instead", status_code=405)
async def create_organization(caller: Writer) -> None:
    raise _no_create("organization")


@router.delete(
    "/organization/{party_id}", summary="Not allowed: close the customer", status_code=405
)
async def delete_organization(party_id: Ref, caller: Writer) -> None:
    raise _no_delete("organization")
