"""Custom attributes, defined at run time (no migration, no release):

- ``GET /api/v1/attributes`` (``customers.read``): the definitions; ``status`` (``active``
  by default, ``retired``, or ``active,retired``) and ``entity_kind`` filter them.
- ``GET /api/v1/attributes/{name}`` (``customers.read``): one definition.
- ``POST /api/v1/attributes`` (``attributes.admin``): a new definition (``name``, ``label``,
  ``type``, ``entity_kind``, optional ``required``, ``pattern``, ``enum_values``); 201 with
  ``Location``.
- ``PATCH /api/v1/attributes/{name}`` (``attributes.admin``): a merge patch of ``label``
  and ``status`` (``retired`` retires it: its values stay readable, no new value is taken;
  ``active`` reinstates it).
- ``GET|PUT /api/v1/{kind}/{id}/attributes`` (``customers.read`` / ``customers.write``):
  an entity's values; PUT takes ``{"name": value, …}`` (``null`` clears one) and applies it as
  the request ``attributes.set`` through :mod:`adapter.api.writes`.

Definitions have no request operation: :mod:`adapter.api.direct` writes them in a unit of work
with the caller as actor (audited like every change, operations ``attributes.define``,
``attributes.retire``, ``attributes.reinstate``, ``attributes.relabel``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Header, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from adapter.api import direct
from adapter.api.access import Caller
from adapter.api.auth import require
from adapter.api.context import ApiContext, get_context
from adapter.api.present import present
from adapter.api.privileges import Privilege
from adapter.api.tmf import (
    check_merge_patch_type,
    created,
    filters_from,
    href,
    matches,
    set_paging_headers,
)
from adapter.api.writes import request_id_from, write
from adapter.domain.errors import NotFound
from adapter.queries.customers import resolve
from adapter.store import tables as t
from adapter.store.reading import read_connection

from .history import KINDS

router = APIRouter(prefix="/api/v1", tags=["attributes"])

Context = Annotated[ApiContext, Depends(get_context)]
Reader = Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))]
Admin = Annotated[Caller, Depends(require(Privilege.ATTRIBUTES_ADMIN))]
Name = Annotated[str, Path(max_length=64)]


class NewAttribute(BaseModel):
    """A new attribute definition."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
    label: Annotated[str, Field(min_length=1, max_length=200)]
    type: Literal["string", "integer", "decimal", "date", "boolean", "enum"]
    entity_kind: Literal["customer", "account", "contract", "subscriber"]
    required: bool = False
    pattern: Annotated[str, Field(max_length=500)] | None = None
    enum_values: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=200
    )


def _definition_document(request: Request, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "@type": "AttributeDefinition",
        **data,
        "href": href(request, f"/api/v1/attributes/{data['name']}"),
    }


def _definitions(context: ApiContext) -> list[dict[str, Any]]:
    with read_connection(context.engine) as conn:
        d = t.attribute_definition.c
        return [dict(row) for row in conn.execute(select(d.data).order_by(d.name)).scalars()]


@router.get("/attributes", summary="Custom attribute definitions")
async def list_attributes(
    request: Request, response: Response, caller: Reader, context: Context
) -> list[dict[str, Any]]:
    filters = filters_from(request, ("status", "entity_kind", "type", "required", "name"))
    filters.setdefault("status", ["active"])
    found = [
        _definition_document(request, d)
        for d in await run_in_threadpool(_definitions, context)
        if matches(d, filters)
    ]
    set_paging_headers(response, len(found), len(found))
    return present(found, caller)  # type: ignore[no-any-return]


@router.get("/attributes/{name}", summary="One custom attribute definition")
async def get_attribute(
    request: Request, name: Name, caller: Reader, context: Context
) -> dict[str, Any]:
    filters_from(request, ())
    for data in await run_in_threadpool(_definitions, context):
        if data["name"] == name:
            return present(_definition_document(request, data), caller)  # type: ignore[no-any-return]
    raise NotFound("attribute definition", name)


@router.post("/attributes", summary="Define a custom attribute", status_code=201)
async def define_attribute(
    request: Request,
    body: Annotated[NewAttribute, Body()],
    caller: Admin,
    context: Context,
    idempotency_key: Annotated[str | None, Header(max_length=300)] = None,
) -> JSONResponse:
    filters_from(request, ())
    request_id = request_id_from(idempotency_key)
    data, change_id = await run_in_threadpool(
        direct.define_attribute, context.engine, caller, body.model_dump(), request_id
    )
    answer = created(
        request, _definition_document(request, data), f"/api/v1/attributes/{data['name']}"
    )
    answer.headers["X-CRM-Request-Id"] = request_id
    answer.headers["X-CRM-Change-Id"] = str(change_id)
    return answer


@router.patch(
    "/attributes/{name}",
    summary="Relabel, retire or reinstate a custom attribute (merge patch)",
    dependencies=[Depends(check_merge_patch_type)],
)
async def change_attribute(
    request: Request,
    name: Name,
    patch: Annotated[dict[str, Any], Body(media_type="application/merge-patch+json")],
    caller: Admin,
    context: Context,
    idempotency_key: Annotated[str | None, Header(max_length=300)] = None,
) -> JSONResponse:
    filters_from(request, ())
    request_id = request_id_from(idempotency_key)
    data, change_id = await run_in_threadpool(
        direct.change_attribute, context.engine, caller, name, patch, request_id
    )
    headers = {}
    if change_id is not None:
        headers = {"X-CRM-Request-Id": request_id, "X-CRM-Change-Id": str(change_id)}
    return JSONResponse(present(_definition_document(request, data), caller), headers=headers)


def _values(context: ApiContext, kind: str, ref: str) -> tuple[str, dict[str, Any]]:
    with read_connection(context.engine) as conn:
        entity_id = resolve(conn, kind, ref)
        v = t.attribute_value.c
        rows = conn.execute(
            select(v.data).where(v.entity_kind == kind, v.entity_id == entity_id).order_by(v.name)
        ).scalars()
        return entity_id, {row["name"]: row["value"] for row in rows}


def _values_document(
    request: Request, plural: str, kind: str, entity_id: str, values: dict[str, Any]
) -> dict[str, Any]:
    return {
        "@type": "AttributeValues",
        "id": entity_id,
        "href": href(request, f"/api/v1/{plural}/{entity_id}/attributes"),
        "entity_kind": kind,
        "values": values,
    }


def _get_values(plural: str, kind: str) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def get_values(
        request: Request,
        entity_id: Annotated[str, Path(max_length=200)],
        caller: Reader,
        context: Context,
    ) -> dict[str, Any]:
        filters_from(request, ())
        found_id, values = await run_in_threadpool(_values, context, kind, entity_id)
        return present(  # type: ignore[no-any-return]
            _values_document(request, plural, kind, found_id, values), caller
        )

    get_values.__doc__ = f"The custom attribute values of a {kind}."
    return get_values


def _put_values(plural: str, kind: str) -> Callable[..., Awaitable[JSONResponse]]:
    async def put_values(
        request: Request,
        background: BackgroundTasks,
        entity_id: Annotated[str, Path(max_length=200)],
        values: Annotated[dict[str, str | int | bool | None], Body()],
        caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_WRITE))],
        context: Context,
        idempotency_key: Annotated[str | None, Header(max_length=300)] = None,
    ) -> JSONResponse:
        filters_from(request, ())
        found_id, _ = await run_in_threadpool(_values, context, kind, entity_id)
        status = await write(
            context,
            caller,
            background,
            "attributes.set",
            {"entity_kind": kind, "entity": found_id, "values": values},
            idempotency_key=idempotency_key,
            field_prefix="values.",
        )
        _, now = await run_in_threadpool(_values, context, kind, found_id)
        return JSONResponse(
            present(_values_document(request, plural, kind, found_id, now), caller),
            headers={"X-CRM-Request-Id": status.request_id},
        )

    put_values.__doc__ = (
        f"Set custom attribute values of a {kind}: {{name: value}}, null clears a value."
    )
    return put_values


for _plural, _kind in KINDS.items():
    router.add_api_route(
        f"/{_plural}/{{entity_id}}/attributes",
        _get_values(_plural, _kind),
        methods=["GET"],
        summary=f"Custom attribute values of a {_kind}",
        name=f"{_kind}_attributes",
    )
    router.add_api_route(
        f"/{_plural}/{{entity_id}}/attributes",
        _put_values(_plural, _kind),
        methods=["PUT"],
        summary=f"Set custom attribute values of a {_kind}",
        name=f"{_kind}_set_attributes",
    )
