"""TMF637 Product Inventory v4: ``/tmf-api/productInventory/v4/product``.

Subscriptions (a contract with its subscriber), services and discounts of a customer as
products (mapping: :mod:`adapter.api.tmf_models.product`). Reads need ``customers.read``;
writes need ``customers.write`` and go through :func:`adapter.api.writes.write` as the
requests ``contract.create``, ``service.add``, ``discount.assign`` (POST, by ``@type``),
``contract.change_status``, ``service.change``, ``service.remove``, ``discount.remove``
(PATCH, DELETE): audited in the caller's name, versioned and synced to billing like any
queued request. A subscription is not deleted (405): PATCH its status to ``terminated``.

A list names whose products it wants: ``relatedParty.id`` (the customer's id or number) or
``billingAccount.id`` (an account's id or number); without either it is 400.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Header, Path, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from adapter.api.access import Caller
from adapter.api.auth import require
from adapter.api.context import ApiContext, get_context
from adapter.api.errors import ApiError
from adapter.api.present import present
from adapter.api.privileges import Privilege
from adapter.api.routes.customers import expected_version
from adapter.api.tmf import (
    FieldsParam,
    Paging,
    check_merge_patch_type,
    created,
    filters_from,
    matches,
    merge_patch,
    page_of,
    paging,
    project,
    set_paging_headers,
)
from adapter.api.tmf_models import product as tmf
from adapter.api.writes import write
from adapter.domain.errors import NotFound, ValidationFailed
from adapter.queries.customers import resolve
from adapter.queries.inventory import customer_of, entity, holdings, resolve_known
from adapter.store.reading import read_connection

router = APIRouter(prefix="/tmf-api/productInventory/v4", tags=["TMF637 product"])

SCOPES = ("relatedParty.id", "billingAccount.id")
FILTERS = (
    *SCOPES,
    "status",
    "@type",
    "isBundle",
    "name",
    "productSerialNumber",
    "productSpecification.id",
)
_KIND_TABLE = {"contract": "contract", "service": "service", "discount": "discount"}
ProductId = Annotated[
    str, Path(max_length=200, description="contract:<id>, service:<id> or discount:<id>")
]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _customers_of_scope(conn: Connection, filters: dict[str, list[str]]) -> list[str]:
    """The customers whose products a list reads; ``billingAccount.id`` given as numbers
    becomes ids, so that it filters the documents too."""
    if "billingAccount.id" in filters:
        filters["billingAccount.id"] = resolve_known(conn, "account", filters["billingAccount.id"])
    if "relatedParty.id" in filters:
        return resolve_known(conn, "customer", filters.pop("relatedParty.id"))
    accounts = filters["billingAccount.id"]
    return sorted({customer_of(conn, "account", a) for a in accounts})


def _product(conn: Connection, product_id: str, base: str) -> tuple[dict[str, Any], int, str]:
    """The product, its entity's version and its customer id; 404 when there is none."""
    kind, entity_id = _parse(product_id)
    try:
        stored = entity(conn, _KIND_TABLE[kind], entity_id)
    except NotFound:
        raise _not_found_as_404(product_id) from None
    customer_id = str(stored["customer_id"])
    for document in tmf.products_of(holdings(conn, customer_id), base):
        if document["id"] == product_id:
            return document, int(stored["_version"]), customer_id
    raise NotFound("product", product_id)  # pragma: no cover - the entity was just read


def _not_found_as_404(product_id: str) -> ApiError:
    return ApiError(
        404,
        "not_found",
        f"no product {product_id!r} (a product id is contract:<id>, service:<id> or discount:<id>)",
    )


def _parse(product_id: str) -> tuple[str, str]:
    """(kind, canonical id) of a product id in a path; 404 for one of no known form."""
    try:
        return tmf.parse_product_id(product_id)
    except ValidationFailed:
        raise _not_found_as_404(product_id) from None


@router.get("/product", summary="List products (subscriptions, services, discounts)")
async def list_products(
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
            "name whose products: relatedParty.id (a customer's id or number) or "
            "billingAccount.id (an account's id or number)",
            details=[
                {"field": f"query.{s}", "rule": "required", "message": "one of these is required"}
                for s in SCOPES
            ],
        )
    base = _base(request)

    def run() -> list[dict[str, Any]]:
        with read_connection(context.engine) as conn:
            customers = _customers_of_scope(conn, filters)
            documents: list[dict[str, Any]] = []
            for customer_id in customers:
                documents.extend(tmf.products_of(holdings(conn, customer_id), base))
        return [d for d in documents if matches(d, filters)]

    found = await run_in_threadpool(run)
    items = page_of(found, page)
    set_paging_headers(response, len(found), len(items))
    return [project(present(d, caller), fields) for d in items]


@router.get("/product/{product_id}", summary="A product")
async def get_product(
    request: Request,
    response: Response,
    product_id: ProductId,
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    context: Annotated[ApiContext, Depends(get_context)],
    fields: FieldsParam = None,
) -> dict[str, Any]:
    filters_from(request, ())
    base = _base(request)

    def run() -> tuple[dict[str, Any], int, str]:
        with read_connection(context.engine) as conn:
            return _product(conn, product_id, base)

    document, version, _ = await run_in_threadpool(run)
    response.headers["ETag"] = f'"{version}"'
    return project(present(document, caller), fields)


def _customer_of_new(conn: Connection, operation: str, payload: dict[str, Any]) -> str:
    """The customer a new product's request concerns (404 for an unknown reference)."""
    if operation == "contract.create":
        return customer_of(conn, "account", resolve(conn, "account", payload["account"]))
    if "contract" in payload:
        return customer_of(conn, "contract", resolve(conn, "contract", payload["contract"]))
    if "subscriber" in payload:
        return customer_of(conn, "subscriber", resolve(conn, "subscriber", payload["subscriber"]))
    return customer_of(conn, "account", resolve(conn, "account", payload["account"]))


_CREATE = {
    tmf.CONTRACT_TYPE: ("contract.create", tmf.contract_request, "contract_id", "contract"),
    tmf.SERVICE_TYPE: ("service.add", tmf.service_request, "service_id", "service"),
    tmf.DISCOUNT_TYPE: ("discount.assign", tmf.discount_request, "discount_id", "discount"),
}


@router.post(
    "/product",
    summary="Create a product: a subscription, a service on one, or a discount",
    description="`@type` says which: `SubscriptionProduct` (contract.create: billingAccount, "
    "productSpecification.id = rate plan, characteristics contractNumber, msisdn, imsi, iccid), "
    "`ServiceProduct` (service.add: productSpecification.id = service code, productRelationship "
    "bundledIn a subscription, parameters and quantity limits as characteristics), "
    "`DiscountProduct` (discount.assign: productSpecification.id = code, the value as a "
    "productPriceAlteration, appliesTo a subscription, or level account/subscriber). Answers "
    "201 with the product and Location.",
    status_code=201,
)
async def create_product(
    request: Request,
    background: BackgroundTasks,
    body: Annotated[dict[str, Any], Body()],
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_WRITE))],
    context: Annotated[ApiContext, Depends(get_context)],
    idempotency_key: Annotated[str | None, Header(max_length=300)] = None,
) -> JSONResponse:
    filters_from(request, ())
    kind_type = body.get("@type")
    if kind_type not in _CREATE:
        raise ApiError(
            422,
            "validation_failed",
            f"@type must be one of {', '.join(_CREATE)}",
            details=[{"field": "@type", "rule": "choice", "message": "unknown product type"}],
        )
    operation, to_payload, result_key, kind = _CREATE[str(kind_type)]
    payload = to_payload(body)  # ValidationFailed → 422 naming the TMF field

    def customer() -> str:
        with read_connection(context.engine) as conn:
            return _customer_of_new(conn, operation, payload)

    customer_id = await run_in_threadpool(customer)
    status = await write(
        context,
        caller,
        background,
        operation,
        payload,
        idempotency_key=idempotency_key,
        customer=customer_id,
    )
    new_id = tmf.product_id(kind, str((status.result or {})[result_key]))
    base = _base(request)

    def read() -> dict[str, Any]:
        with read_connection(context.engine) as conn:
            return _product(conn, new_id, base)[0]

    document = await run_in_threadpool(read)
    answer = created(request, present(document, caller), f"{tmf.PRODUCT_PATH}/{new_id}")
    answer.headers["X-CRM-Request-Id"] = status.request_id
    return answer


@router.patch(
    "/product/{product_id}",
    summary="Change a product with a JSON merge patch (RFC 7386)",
    description="A subscription changes `status` (created→active, active⇄suspended, "
    "any→terminated: contract.change_status); a service its `status` (terminated removes it), "
    "`productCharacteristic` (parameters and limits, replaced whole) and `terminationDate` "
    "(service.change/service.remove); a discount only `status` → terminated "
    '(discount.remove). Other attributes are read-only (422 naming them). `If-Match: "N"` '
    "guards against a stale version.",
    dependencies=[Depends(check_merge_patch_type)],
)
async def patch_product(
    request: Request,
    background: BackgroundTasks,
    product_id: ProductId,
    patch: Annotated[dict[str, Any], Body(media_type="application/merge-patch+json")],
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_WRITE))],
    context: Annotated[ApiContext, Depends(get_context)],
    if_match: Annotated[str | None, Header(max_length=100)] = None,
    idempotency_key: Annotated[str | None, Header(max_length=300)] = None,
) -> JSONResponse:
    filters_from(request, ())
    version = expected_version(if_match)
    base = _base(request)
    kind, entity_id = _parse(product_id)

    def current() -> tuple[dict[str, Any], int, str]:
        with read_connection(context.engine) as conn:
            return _product(conn, product_id, base)

    document, stored_version, customer_id = await run_in_threadpool(current)
    merged = merge_patch(document, patch)
    mapper = {
        "contract": tmf.contract_patch,
        "service": tmf.service_patch,
        "discount": tmf.discount_patch,
    }[kind]
    change = mapper(entity_id, document, merged)
    headers: dict[str, str] = {}
    if change is not None:
        status = await write(
            context,
            caller,
            background,
            change.operation,
            change.payload,
            idempotency_key=idempotency_key,
            expected_version=version,
            customer=customer_id,
        )
        headers["X-CRM-Request-Id"] = status.request_id
        document, stored_version, _ = await run_in_threadpool(current)
    elif version is not None and version != stored_version:
        raise ApiError(
            409,
            "stale_version",
            f"product {product_id} is at version {stored_version}, not {version}",
        )
    headers["ETag"] = f'"{stored_version}"'
    return JSONResponse(present(document, caller), headers=headers)


@router.delete(
    "/product/{product_id}",
    summary="Remove a service or a discount (kept in the record as terminated)",
    status_code=204,
    response_class=Response,
)
async def delete_product(
    request: Request,
    background: BackgroundTasks,
    product_id: ProductId,
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_WRITE))],
    context: Annotated[ApiContext, Depends(get_context)],
    if_match: Annotated[str | None, Header(max_length=100)] = None,
    idempotency_key: Annotated[str | None, Header(max_length=300)] = None,
) -> Response:
    filters_from(request, ())
    version = expected_version(if_match)
    kind, entity_id = _parse(product_id)
    if kind == "contract":
        raise ApiError(
            405,
            "method_not_allowed",
            "a subscription product is not deleted: PATCH its status to terminated to "
            "deactivate the contract",
            headers={"Allow": "GET, PATCH"},
        )

    def customer() -> str:
        with read_connection(context.engine) as conn:
            try:
                return customer_of(conn, _KIND_TABLE[kind], entity_id)
            except NotFound:
                raise _not_found_as_404(product_id) from None

    customer_id = await run_in_threadpool(customer)
    operation, payload = (
        ("service.remove", {"service_id": entity_id})
        if kind == "service"
        else ("discount.remove", {"discount_id": entity_id})
    )
    status = await write(
        context,
        caller,
        background,
        operation,
        payload,
        idempotency_key=idempotency_key,
        expected_version=version,
        customer=customer_id,
    )
    return Response(status_code=204, headers={"X-CRM-Request-Id": status.request_id})
