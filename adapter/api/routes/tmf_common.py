"""What the TMF629/632/666 routers share: reading customers and accounts page by page with SQL
filters, the base of hrefs, TMF field names in refusals, and writes whose 422 names TMF
attributes. The canonical → TMF mapping itself is
:mod:`adapter.api.tmf_models.party_account`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import BackgroundTasks, Request
from sqlalchemy import ColumnElement, Connection, Table, func, select

from adapter.api.access import Caller
from adapter.api.context import ApiContext
from adapter.api.errors import ApiError
from adapter.api.tmf import Paging
from adapter.api.writes import write
from adapter.requests.apply import RequestStatus
from adapter.store import tables as t

Condition = Callable[[list[str]], ColumnElement[bool]]
"""A filter's SQL condition for its choices (any of them matches)."""


def base_of(request: Request) -> str:
    """Scheme and host as the client addressed the server (hrefs are absolute)."""
    return str(request.base_url).rstrip("/")


@dataclass(frozen=True)
class Page:
    total: int
    rows: list[dict[str, Any]]  # canonical snapshots, each with ``_version``


def read_page(
    conn: Connection,
    table: Table,
    order: Sequence[ColumnElement[Any]],
    filters: Mapping[str, list[str]],
    conditions: Mapping[str, Condition],
    page: Paging,
    *,
    where: Sequence[ColumnElement[bool]] = (),
) -> Page:
    """One page of TABLE's entities matching every filter (each through its SQL condition),
    in ORDER, with the number of all matches."""
    clauses = [*where, *(conditions[name](values) for name, values in filters.items())]
    total = conn.execute(select(func.count()).select_from(table).where(*clauses)).scalar_one()
    rows = conn.execute(
        select(table.c.data, table.c.version)
        .where(*clauses)
        .order_by(*order)
        .limit(page.limit)
        .offset(page.offset)
    )
    return Page(int(total), [{**row.data, "_version": row.version} for row in rows])


def customers_by_id(conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    rows = conn.execute(select(t.customer.c.data).where(t.customer.c.id.in_(set(ids))))
    return {row.data["id"]: dict(row.data) for row in rows}


def accounts_of(conn: Connection, customer_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The accounts of each customer, by number."""
    found: dict[str, list[dict[str, Any]]] = {c: [] for c in customer_ids}
    if not customer_ids:
        return found
    rows = conn.execute(
        select(t.account.c.data)
        .where(t.account.c.customer_id.in_(set(customer_ids)))
        .order_by(t.account.c.number)
    )
    for row in rows:
        found.setdefault(row.data["customer_id"], []).append(dict(row.data))
    return found


def refusal_in_tmf_terms(
    error: ApiError, translate: Callable[[str], str], *, fallback: str | None = None
) -> ApiError:
    """ERROR with every field named as the TMF resource names it (FALLBACK: the field for a
    refusal that names none)."""
    if not error.details:
        return error
    details = []
    for detail in error.details:
        field = str(detail.get("field", ""))
        details.append({**detail, "field": translate(field) if field else (fallback or field)})
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details)
    return ApiError(error.status, error.code, message, details=details, headers=error.headers)


async def tmf_write(
    context: ApiContext,
    caller: Caller,
    background: BackgroundTasks,
    operation: str,
    payload: Mapping[str, Any],
    translate: Callable[[str], str],
    *,
    idempotency_key: str | None = None,
    expected_version: int | None = None,
    customer: str | None = None,
    field_prefix: str = "",
) -> RequestStatus:
    """:func:`adapter.api.writes.write`, its refusals naming TMF attributes."""
    try:
        return await write(
            context,
            caller,
            background,
            operation,
            payload,
            idempotency_key=idempotency_key,
            expected_version=expected_version,
            customer=customer,
            field_prefix=field_prefix,
        )
    except ApiError as exc:
        raise refusal_in_tmf_terms(exc, translate) from None


def not_allowed(method: str, resource: str, instead: str, allow: str) -> ApiError:
    """405 naming what to do instead; ALLOW: the methods the resource takes."""
    return ApiError(
        405,
        "method_not_allowed",
        f"{method} is not allowed on {resource}: {instead}",
        headers={"Allow": allow},
    )
