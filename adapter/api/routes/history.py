"""History of customers, accounts, contracts and subscribers (``{kind}`` one of
``customers``, ``accounts``, ``contracts``, ``subscribers``; ``{id}`` the id or number, or
for a subscriber its MSISDN; an entity deleted since is found by its id):

- ``GET /api/v1/{kind}/{id}/history`` (``customers.read``): the timeline, oldest first
  (``newest_first=true`` to reverse), a page of it: who, when, which request and operation,
  the entity touched, its version and the diff of that version. A customer's or an
  account's timeline holds everything under it; a subscriber's its contract's too.
- ``GET /api/v1/{kind}/{id}/as-of?at=INSTANT`` (``customers.read``): the entity as it was at
  that instant (with a timezone); 404 when it did not exist then.
- ``GET /api/v1/{kind}/{id}/versions`` and ``…/versions/{n}`` (``customers.read``): the
  versions; one version with its snapshot, its diff from the one before and its change.
- ``POST /api/v1/{kind}/{id}/restore`` (``history.restore``), body ``{"version": N}`` or
  ``{"version": N, "field": "dotted.path"}``: the request ``version.restore`` through
  :mod:`adapter.api.writes`, applied as a new change in the caller's name (history is never
  rewritten); answers the entity's new state and version.

Diffs and snapshots are masked like every answer (birth dates and identity documents, in
``diff`` paths too) without ``pii.read``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Body,
    Depends,
    Header,
    Path,
    Query,
    Request,
    Response,
)
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from adapter.api.access import Caller
from adapter.api.auth import require
from adapter.api.context import ApiContext, get_context
from adapter.api.errors import ApiError, from_domain
from adapter.api.present import present
from adapter.api.privileges import Privilege
from adapter.api.tmf import Paging, filters_from, href, paging, set_paging_headers
from adapter.api.writes import write
from adapter.domain.errors import ValidationFailed
from adapter.queries import history as history_q
from adapter.queries.customers import resolve
from adapter.queries.timeline import timeline_count, version_detail
from adapter.store.reading import read_connection

router = APIRouter(prefix="/api/v1", tags=["history"])

KINDS = {
    "customers": "customer",
    "accounts": "account",
    "contracts": "contract",
    "subscribers": "subscriber",
}
"""The path segment of each kind → the entity kind."""

EntityRef = Annotated[str, Path(max_length=200, description="Id or number (MSISDN).")]
Reader = Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))]
Context = Annotated[ApiContext, Depends(get_context)]


class RestoreBody(BaseModel):
    """Which version to make current again: all of it, or the one dotted ``field``."""

    model_config = ConfigDict(extra="forbid")

    version: Annotated[int, Field(ge=1, description="The version whose values to restore.")]
    field: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=200,
            description="A dotted path (e.g. `segment`, `party.family_name`); omit for all.",
        ),
    ] = None


def _resolve(context: ApiContext, kind: str, ref: str) -> str:
    with read_connection(context.engine) as conn:
        return resolve(conn, kind, ref)


def _history(plural: str, kind: str) -> Callable[..., Awaitable[list[dict[str, Any]]]]:
    async def get_history(
        request: Request,
        response: Response,
        entity_id: EntityRef,
        caller: Reader,
        context: Context,
        page: Annotated[Paging, Depends(paging)],
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        filters_from(request, ())

        def run() -> tuple[list[dict[str, Any]], int]:
            with read_connection(context.engine) as conn:
                found_id = resolve(conn, kind, entity_id)
                entries = history_q.timeline(
                    conn,
                    kind,
                    found_id,
                    limit=page.limit,
                    offset=page.offset,
                    newest_first=newest_first,
                )
                total = timeline_count(conn, kind, found_id)
            return [e.as_dict() for e in entries], total

        items, total = await run_in_threadpool(run)
        set_paging_headers(response, total, len(items))
        return present(items, caller)  # type: ignore[no-any-return]

    get_history.__doc__ = f"The timeline of a {kind}, with the diff of each version."
    return get_history


def _as_of(plural: str, kind: str) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def get_as_of(
        request: Request,
        entity_id: EntityRef,
        caller: Reader,
        context: Context,
        at: Annotated[datetime, Query(description="An ISO 8601 instant with a timezone.")],
    ) -> dict[str, Any]:
        filters_from(request, ())

        def run() -> tuple[str, dict[str, Any] | None]:
            with read_connection(context.engine) as conn:
                found_id = resolve(conn, kind, entity_id)
                return found_id, history_q.as_of(conn, kind, found_id, at)

        try:
            found_id, snapshot = await run_in_threadpool(run)
        except ValidationFailed as exc:
            raise from_domain(exc, invalid_status=400) from None
        if snapshot is None:
            raise ApiError(
                404, "not_found", f"{kind} {entity_id} did not exist at {at.isoformat()}"
            )
        document = {
            "@type": "AsOf",
            "id": found_id,
            "href": href(request, f"/api/v1/{plural}/{found_id}/as-of?at={at.isoformat()}"),
            "kind": kind,
            "at": at.isoformat(),
            "snapshot": snapshot,
        }
        return present(document, caller)  # type: ignore[no-any-return]

    get_as_of.__doc__ = f"A {kind} as it was at an instant."
    return get_as_of


def _versions(plural: str, kind: str) -> Callable[..., Awaitable[list[dict[str, Any]]]]:
    async def get_versions(
        request: Request, response: Response, entity_id: EntityRef, caller: Reader, context: Context
    ) -> list[dict[str, Any]]:
        filters_from(request, ())

        def run() -> list[dict[str, Any]]:
            with read_connection(context.engine) as conn:
                found_id = resolve(conn, kind, entity_id)
                found = history_q.versions(conn, kind, found_id)
            return [
                {
                    **info.__dict__,
                    "valid_from": info.valid_from.isoformat(),
                    "valid_to": info.valid_to.isoformat() if info.valid_to else None,
                    "href": href(request, f"/api/v1/{plural}/{found_id}/versions/{info.version}"),
                }
                for info in found
            ]

        items = await run_in_threadpool(run)
        set_paging_headers(response, len(items), len(items))
        return present(items, caller)  # type: ignore[no-any-return]

    get_versions.__doc__ = f"The versions of a {kind}."
    return get_versions


def _version(plural: str, kind: str) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def get_version(
        request: Request,
        entity_id: EntityRef,
        number: Annotated[int, Path(ge=1, le=10_000_000)],
        caller: Reader,
        context: Context,
    ) -> dict[str, Any]:
        filters_from(request, ())

        def run() -> dict[str, Any]:
            with read_connection(context.engine) as conn:
                found_id = resolve(conn, kind, entity_id)
                return version_detail(conn, kind, found_id, number)

        detail = await run_in_threadpool(run)
        document = {
            "@type": "EntityVersion",
            "id": detail["entity_id"],
            "href": href(request, f"/api/v1/{plural}/{detail['entity_id']}/versions/{number}"),
            **detail,
        }
        return present(document, caller)  # type: ignore[no-any-return]

    get_version.__doc__ = f"One version of a {kind}: snapshot, diff and change."
    return get_version


def _restore(plural: str, kind: str) -> Callable[..., Awaitable[JSONResponse]]:
    async def restore(
        request: Request,
        background: BackgroundTasks,
        entity_id: EntityRef,
        body: Annotated[RestoreBody, Body()],
        caller: Annotated[Caller, Depends(require(Privilege.HISTORY_RESTORE))],
        context: Context,
        idempotency_key: Annotated[str | None, Header(max_length=300)] = None,
    ) -> JSONResponse:
        filters_from(request, ())
        found_id = await run_in_threadpool(_resolve, context, kind, entity_id)
        payload: dict[str, Any] = {"kind": kind, "entity": found_id, "version": body.version}
        if body.field is not None:
            payload["field"] = body.field
        status = await write(
            context, caller, background, "version.restore", payload, idempotency_key=idempotency_key
        )

        def current() -> tuple[int, dict[str, Any]]:
            with read_connection(context.engine) as conn:
                latest = history_q.versions(conn, kind, found_id)[-1].version
                return latest, history_q.version_snapshot(conn, kind, found_id, latest)

        latest, snapshot = await run_in_threadpool(current)
        document = {
            "@type": "Restore",
            "id": found_id,
            "href": href(request, f"/api/v1/{plural}/{found_id}/versions/{latest}"),
            "kind": kind,
            "restored_from": body.version,
            "field": body.field,
            "version": latest,
            "request_id": status.request_id,
            "change_id": status.change_id,
            "entity": snapshot,
        }
        return JSONResponse(
            present(document, caller),
            headers={"X-CRM-Request-Id": status.request_id, "ETag": f'"{latest}"'},
        )

    restore.__doc__ = f"Restore a {kind}, or one field of it, to an old version."
    return restore


for _plural, _kind in KINDS.items():
    _base = f"/{_plural}/{{entity_id}}"
    router.add_api_route(
        f"{_base}/history",
        _history(_plural, _kind),
        methods=["GET"],
        summary=f"History of a {_kind}",
        name=f"{_kind}_history",
    )
    router.add_api_route(
        f"{_base}/as-of",
        _as_of(_plural, _kind),
        methods=["GET"],
        summary=f"A {_kind} as of an instant",
        name=f"{_kind}_as_of",
    )
    router.add_api_route(
        f"{_base}/versions",
        _versions(_plural, _kind),
        methods=["GET"],
        summary=f"Versions of a {_kind}",
        name=f"{_kind}_versions",
    )
    router.add_api_route(
        f"{_base}/versions/{{number}}",
        _version(_plural, _kind),
        methods=["GET"],
        summary=f"One version of a {_kind}",
        name=f"{_kind}_version",
    )
    router.add_api_route(
        f"{_base}/restore",
        _restore(_plural, _kind),
        methods=["POST"],
        summary=f"Restore a {_kind} (or a field) to an old version",
        name=f"{_kind}_restore",
    )
