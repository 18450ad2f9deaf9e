"""TMF654 Prepay Balance Management v4: ``/tmf-api/prepayBalanceManagement/v4/bucket``.

Free-unit buckets (granted, used, remaining for a period) and monetary balances of accounts
as Buckets (mapping: :mod:`adapter.api.tmf_models.bucket`). Read-only: billing pushes them
(POST, PUT, PATCH, DELETE are 405). A list names whose buckets it wants: ``relatedParty.id``
(a customer's id or number), ``partyAccount.id`` (an account's id or number) or
``product.id`` (a subscription product, ``contract:<id>``); without one it is 400.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from adapter.api.access import Caller
from adapter.api.auth import require
from adapter.api.context import ApiContext, get_context
from adapter.api.errors import ApiError
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
from adapter.api.tmf_models import bucket as tmf
from adapter.api.tmf_models.product import parse_product_id
from adapter.domain.errors import NotFound, ValidationFailed
from adapter.queries.inventory import (
    Holdings,
    account_number,
    customer_of,
    entity,
    holdings,
    resolve_known,
)
from adapter.store.reading import read_connection

router = APIRouter(prefix="/tmf-api/prepayBalanceManagement/v4", tags=["TMF654 bucket"])

SCOPES = ("relatedParty.id", "partyAccount.id", "product.id")
FILTERS = (*SCOPES, "usageType", "status", "name", "isShared", "@type")


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def buckets_of(found: Holdings, base: str) -> list[dict[str, Any]]:
    """A customer's buckets: monetary balances first, then free units by period."""
    today = datetime.now(UTC).date()
    numbers = found.account_numbers
    return [
        *(tmf.balance_bucket(b, numbers.get(b["account_id"]), base) for b in found.balances),
        *(
            tmf.free_unit_bucket(b, numbers.get(b["account_id"]), base, today)
            for b in sorted(found.free_units, key=lambda b: (b["period_start"], b["package"]))
        ),
    ]


def _customers_of_scope(conn: Connection, filters: dict[str, list[str]]) -> list[str]:
    """The customers whose buckets a list reads; ``partyAccount.id`` given as numbers becomes
    ids, so that it filters the documents too."""
    if "partyAccount.id" in filters:
        filters["partyAccount.id"] = resolve_known(conn, "account", filters["partyAccount.id"])
    if "relatedParty.id" in filters:
        return resolve_known(conn, "customer", filters.pop("relatedParty.id"))
    if "partyAccount.id" in filters:
        accounts = filters["partyAccount.id"]
        return sorted({customer_of(conn, "account", a) for a in accounts})
    customers: set[str] = set()
    for product in filters["product.id"]:
        try:
            kind, contract_id = parse_product_id(product)
            if kind == "contract":
                customers.add(customer_of(conn, "contract", contract_id))
        except (ValidationFailed, NotFound):
            continue
    return sorted(customers)


@router.get("/bucket", summary="Free-unit buckets and monetary balances")
async def list_buckets(
    request: Request,
    response: Response,
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    context: Annotated[ApiContext, Depends(get_context)],
    page: Annotated[Paging, Depends(paging)],
    fields: FieldsParam = None,
) -> list[dict[str, Any]]:
    filters = filters_from(request, FILTERS)
    if not any(scope in filters for scope in SCOPES):
        raise ApiError(
            400,
            "invalid_parameter",
            "name whose buckets: relatedParty.id (a customer), partyAccount.id (an account) "
            "or product.id (a subscription product)",
            details=[
                {"field": f"query.{s}", "rule": "required", "message": "one of these is required"}
                for s in SCOPES
            ],
        )
    base = _base(request)

    def run() -> list[dict[str, Any]]:
        with read_connection(context.engine) as conn:
            documents: list[dict[str, Any]] = []
            for customer_id in _customers_of_scope(conn, filters):
                documents.extend(buckets_of(holdings(conn, customer_id, buckets=True), base))
        return [d for d in documents if matches(d, filters)]

    found = await run_in_threadpool(run)
    items = page_of(found, page)
    set_paging_headers(response, len(found), len(items))
    return [project(present(d, caller), fields) for d in items]


@router.get("/bucket/{bucket_id}", summary="A bucket")
async def get_bucket(
    request: Request,
    response: Response,
    bucket_id: Annotated[str, Path(max_length=200)],
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    context: Annotated[ApiContext, Depends(get_context)],
    fields: FieldsParam = None,
) -> dict[str, Any]:
    filters_from(request, ())
    base = _base(request)
    missing = ApiError(
        404,
        "not_found",
        f"no bucket {bucket_id!r} (a bucket id is freeUnits:<id> or balance:<id>)",
    )
    try:
        kind, entity_id = tmf.parse_bucket_id(bucket_id)
    except ValidationFailed:
        raise missing from None

    def run() -> tuple[dict[str, Any], int]:
        with read_connection(context.engine) as conn:
            try:
                stored = entity(conn, "free_units" if kind == "freeUnits" else "balance", entity_id)
            except NotFound:
                raise missing from None
            number = account_number(conn, str(stored["account_id"]))
        if kind == "freeUnits":
            document = tmf.free_unit_bucket(stored, number, base, datetime.now(UTC).date())
        else:
            document = tmf.balance_bucket(stored, number, base)
        return document, int(stored["_version"])

    document, version = await run_in_threadpool(run)
    response.headers["ETag"] = f'"{version}"'
    return project(present(document, caller), fields)


@router.api_route("/bucket", methods=["POST"], include_in_schema=False, response_model=None)
@router.api_route(
    "/bucket/{bucket_id}",
    methods=["PUT", "PATCH", "DELETE"],
    include_in_schema=False,
    response_model=None,
)
async def bucket_is_read_only(_: Annotated[Caller, Depends(require())]) -> None:
    raise ApiError(
        405,
        "method_not_allowed",
        "buckets are read-only here: billing pushes balances and free units (SOAP notifications)",
        headers={"Allow": "GET"},
    )
