"""TMF666 Account Management v4: ``/tmf-api/accountManagement/v4/billingAccount``,
``…/billFormat`` and ``…/billingCycleSpecification``.

- ``GET …/billingAccount``: every account (a node of the organisation hierarchy) by number,
  filtered by ``id``, ``name``, ``state``, ``relatedParty.id`` (the owning customer) and
  ``accountRelationship.account.id`` (accounts whose parent or child that is); paged,
  ``fields=``.
- ``GET …/billingAccount/{id}`` (id or account number), ``ETag`` its version. The hierarchy
  is ``accountRelationship`` (``parent``; ``child`` for the first
  :data:`~adapter.api.tmf_models.party_account.CHILD_REFS` children, ``characteristic``
  ``childCount`` the number); the payer (``adapter.queries.hierarchy.payer``) is the
  ``relatedParty`` with role ``payer``, and ``characteristic`` ``paymentResponsible`` says
  whether the account pays itself.
- ``POST …/billingAccount`` → ``account.create`` (under the ``parent`` relationship's account
  when given); 201, ``Location``.
- ``PATCH …/billingAccount/{id}``: a changed ``parent`` relationship → ``account.move``
  (none: the account becomes a root), a changed ``paymentResponsible`` →
  ``account.set_payment_responsibility``. Both in one patch are two requests, applied in that
  order (the second's request id is the first's ``Idempotency-Key`` + ``#2``). No request
  operation changes an account's name, bill cycle, payment method or credit limit: a patch
  changing them is 422 naming the attribute.
- ``DELETE …/billingAccount/{id}``: 405 (no request operation closes or deletes an account).
- ``GET …/billFormat[/{id}]`` and ``GET …/billingCycleSpecification[/{id}]``: read only. The
  bill cycles are those the stored accounts use; the bill format is the one standard format
  (the canonical model keeps none per account).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Header, Path, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import ColumnElement, Connection, func, or_, select
from starlette.concurrency import run_in_threadpool

from adapter.api.access import Caller
from adapter.api.auth import require
from adapter.api.context import ApiContext, get_context
from adapter.api.errors import ApiError
from adapter.api.present import present
from adapter.api.privileges import Privilege
from adapter.api.routes.customers import expected_version
from adapter.api.routes.tmf_common import (
    Condition,
    base_of,
    customers_by_id,
    not_allowed,
    read_page,
    tmf_write,
)
from adapter.api.tmf import (
    FieldsParam,
    Paging,
    check_merge_patch_type,
    created,
    filters_from,
    matches,
    page_of,
    paging,
    project,
    set_paging_headers,
)
from adapter.api.tmf_models import party_account as m
from adapter.domain.errors import NotFound
from adapter.queries.customers import resolve
from adapter.queries.hierarchy import payer
from adapter.store import tables as t
from adapter.store.reading import read_connection

router = APIRouter(prefix="/tmf-api/accountManagement/v4", tags=["TMF666 account"])

a = t.account.c


def _related_to(values: list[str]) -> ColumnElement[bool]:
    parents_of_values = select(a.parent_id).where(a.id.in_(values))
    return or_(a.parent_id.in_(values), a.id.in_(parents_of_values))


ACCOUNT_FILTERS: dict[str, Condition] = {
    "id": lambda values: a.id.in_(values),
    "name": lambda values: a.data["name"].as_string().in_(values),
    "state": lambda values: a.data["status"].as_string().in_(values),
    "relatedParty.id": lambda values: a.customer_id.in_(values),
    "accountRelationship.account.id": _related_to,
}


# ------------------------------------------------------------------------------- reading


def _snapshot(conn: Connection, account_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(a.data, a.version).where(a.id == account_id)).first()
    return None if row is None else {**row.data, "_version": row.version}


def account_document(
    conn: Connection, account: dict[str, Any], base: str, customers: dict[str, Any]
) -> dict[str, Any]:
    """The TMF666 document of a canonical ACCOUNT (CUSTOMERS: owners already read, by id)."""
    parent = _snapshot(conn, account["parent_id"]) if account.get("parent_id") else None
    children = [
        dict(row.data)
        for row in conn.execute(
            select(a.data)
            .where(a.parent_id == account["id"])
            .order_by(a.number)
            .limit(m.CHILD_REFS)
        )
    ]
    child_count = conn.execute(
        select(func.count()).select_from(t.account).where(a.parent_id == account["id"])
    ).scalar_one()
    found = payer(conn, account["id"]).payer
    paying = None if found is None else {"id": found.id, "name": found.name}
    if account["customer_id"] not in customers:
        customers |= customers_by_id(conn, [account["customer_id"]])
    return m.billing_account_document(
        {k: v for k, v in account.items() if k != "_version"},
        base,
        customer=customers.get(account["customer_id"]),
        parent=parent,
        children=children,
        child_count=int(child_count),
        payer=paying,
    )


def read_account(context: ApiContext, ref: str, base: str) -> tuple[dict[str, Any], int]:
    """The TMF document of the account REF names (id or number) and its version."""
    with read_connection(context.engine) as conn:
        account_id = resolve(conn, "account", ref)
        account = _snapshot(conn, account_id)
        if account is None:
            raise NotFound("account", ref)
        return account_document(conn, account, base, {}), int(account["_version"])


def _translate(field: str) -> str:
    return m.tmf_field(field)


# -------------------------------------------------------------------------------- routes


@router.get("/billingAccount", summary="List billing accounts (TMF666)")
async def list_billing_accounts(
    request: Request,
    response: Response,
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    context: Annotated[ApiContext, Depends(get_context)],
    page: Annotated[Paging, Depends(paging)],
    fields: FieldsParam = None,
) -> list[dict[str, Any]]:
    filters = filters_from(request, ACCOUNT_FILTERS)
    base = base_of(request)

    def run() -> tuple[int, list[dict[str, Any]]]:
        with read_connection(context.engine) as conn:
            found = read_page(conn, t.account, (a.number,), filters, ACCOUNT_FILTERS, page)
            owners = customers_by_id(conn, [row["customer_id"] for row in found.rows])
            return found.total, [account_document(conn, r, base, owners) for r in found.rows]

    total, documents = await run_in_threadpool(run)
    set_paging_headers(response, total, len(documents))
    return [project(present(d, caller), fields) for d in documents]


@router.get("/billingAccount/{account_id}", summary="A billing account (TMF666)")
async def get_billing_account(
    request: Request,
    response: Response,
    account_id: Annotated[str, Path(max_length=200)],
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    context: Annotated[ApiContext, Depends(get_context)],
    fields: FieldsParam = None,
) -> dict[str, Any]:
    filters_from(request, ())
    document, version = await run_in_threadpool(read_account, context, account_id, base_of(request))
    response.headers["ETag"] = f'"{version}"'
    return project(present(document, caller), fields)


@router.post(
    "/billingAccount",
    summary="Create a billing account (TMF666)",
    description="`name`; `characteristic` `accountNumber` (required) and `paymentResponsible`; "
    "`relatedParty` with role `customer` (the owning customer, required); "
    "`accountRelationship` with one `parent` (optional: a root otherwise); "
    "`billStructure.cycleSpecification.id`; `defaultPaymentMethod.id` (invoice, direct_debit, "
    "card, prepaid); `creditLimit` {unit, value}. Applied as `account.create`.",
    status_code=201,
)
async def create_billing_account(
    request: Request,
    background: BackgroundTasks,
    body: Annotated[dict[str, Any], Body()],
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_WRITE))],
    context: Annotated[ApiContext, Depends(get_context)],
    idempotency_key: Annotated[str | None, Header(max_length=300)] = None,
) -> JSONResponse:
    filters_from(request, ())
    payload = m.account_create_payload(body)
    status = await tmf_write(
        context,
        caller,
        background,
        "account.create",
        payload,
        _translate,
        idempotency_key=idempotency_key,
    )
    account_id = str((status.result or {}).get("account_id"))
    document, version = await run_in_threadpool(read_account, context, account_id, base_of(request))
    answer = created(request, present(document, caller), f"{m.BILLING_ACCOUNT_PATH}/{account_id}")
    answer.headers["X-CRM-Request-Id"] = status.request_id
    answer.headers["ETag"] = f'"{version}"'
    return answer


@router.patch(
    "/billingAccount/{account_id}",
    summary="Move a billing account or change its payment responsibility (TMF666)",
    description="A JSON merge patch. `accountRelationship` (a list: it replaces; its "
    "`parent` item names the new parent, none makes the account a root; `child` items are "
    "read only) → `account.move`; `characteristic` `paymentResponsible` → "
    "`account.set_payment_responsibility`. Other attributes may only repeat their current "
    "value. `If-Match` names the version the account must be at.",
    dependencies=[Depends(check_merge_patch_type)],
)
async def patch_billing_account(
    request: Request,
    background: BackgroundTasks,
    account_id: Annotated[str, Path(max_length=200)],
    patch: Annotated[dict[str, Any], Body(media_type="application/merge-patch+json")],
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_WRITE))],
    context: Annotated[ApiContext, Depends(get_context)],
    if_match: Annotated[str | None, Header(max_length=100)] = None,
    idempotency_key: Annotated[str | None, Header(max_length=300)] = None,
) -> JSONResponse:
    filters_from(request, ())
    version = expected_version(if_match)
    base = base_of(request)
    current, now = await run_in_threadpool(read_account, context, account_id, base)
    operations = m.account_patch_operations(patch, current)
    if version is not None and not operations and version != now:
        raise ApiError(
            409, "stale_version", f"account {account_id!r} is at version {now}, not {version}"
        )
    customer_id = next(
        (p["id"] for p in current["relatedParty"] if p.get("role") == "customer"), None
    )
    request_ids: list[str] = []
    for n, (operation, payload) in enumerate(operations):
        status = await tmf_write(
            context,
            caller,
            background,
            operation,
            {"account": current["id"], **payload},
            _translate,
            idempotency_key=(
                idempotency_key
                if n == 0 or idempotency_key is None
                else f"{idempotency_key}#{n + 1}"
            ),
            expected_version=None if version is None else version + n,
            customer=customer_id,
        )
        request_ids.append(status.request_id)
    document, now = await run_in_threadpool(read_account, context, current["id"], base)
    headers = {"ETag": f'"{now}"'}
    if request_ids:
        headers["X-CRM-Request-Id"] = ",".join(request_ids)
    return JSONResponse(present(document, caller), headers=headers)


@router.delete(
    "/billingAccount/{account_id}",
    summary="Not allowed: no request closes an account",
    status_code=405,
)
async def delete_billing_account(
    account_id: Annotated[str, Path(max_length=200)],
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_WRITE))],
) -> None:
    raise not_allowed(
        "DELETE",
        "billingAccount",
        "no request operation closes or deletes an account; move it "
        "(PATCH accountRelationship) or close its customer",
        "GET, PATCH",
    )


# ---------------------------------------------------------------- bill format and cycles


def bill_cycles(context: ApiContext) -> list[str]:
    """The bill cycles the stored accounts use."""
    cycle = a.data["bill_cycle"].as_string()
    with read_connection(context.engine) as conn:
        rows = conn.execute(select(cycle).where(cycle.is_not(None)).distinct().order_by(cycle))
        return [str(row[0]) for row in rows if row[0]]


def _listing(
    documents: list[dict[str, Any]],
    request: Request,
    response: Response,
    page: Paging,
    fields: str | None,
) -> list[dict[str, Any]]:
    filters = filters_from(request, ("id", "name"))
    found = [d for d in documents if matches(d, filters)]
    items = page_of(found, page)
    set_paging_headers(response, len(found), len(items))
    return [project(d, fields) for d in items]


@router.get("/billFormat", summary="Bill formats (TMF666)")
async def list_bill_formats(
    request: Request,
    response: Response,
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    page: Annotated[Paging, Depends(paging)],
    fields: FieldsParam = None,
) -> list[dict[str, Any]]:
    return _listing(m.bill_format_documents(base_of(request)), request, response, page, fields)


@router.get("/billFormat/{format_id}", summary="A bill format (TMF666)")
async def get_bill_format(
    request: Request,
    format_id: Annotated[str, Path(max_length=64)],
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    fields: FieldsParam = None,
) -> dict[str, Any]:
    filters_from(request, ())
    for document in m.bill_format_documents(base_of(request)):
        if document["id"] == format_id:
            return project(document, fields)
    raise NotFound("bill format", format_id)


@router.get("/billingCycleSpecification", summary="Bill cycles (TMF666)")
async def list_billing_cycles(
    request: Request,
    response: Response,
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    context: Annotated[ApiContext, Depends(get_context)],
    page: Annotated[Paging, Depends(paging)],
    fields: FieldsParam = None,
) -> list[dict[str, Any]]:
    base = base_of(request)
    cycles = await run_in_threadpool(bill_cycles, context)
    documents = [m.cycle_document(code, base) for code in cycles]
    return _listing(documents, request, response, page, fields)


@router.get("/billingCycleSpecification/{cycle_id}", summary="A bill cycle (TMF666)")
async def get_billing_cycle(
    request: Request,
    cycle_id: Annotated[str, Path(max_length=64)],
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    context: Annotated[ApiContext, Depends(get_context)],
    fields: FieldsParam = None,
) -> dict[str, Any]:
    filters_from(request, ())
    if cycle_id not in await run_in_threadpool(bill_cycles, context):
        raise NotFound("bill cycle", cycle_id)
    return project(m.cycle_document(cycle_id, base_of(request)), fields)
