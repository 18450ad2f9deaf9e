"""The console's pages and its one JSON route (the children of an account, for the tree).

Every page reads through the same query and service functions as the API routes
(``adapter.queries``, ``adapter.service.listings``, ``adapter.requests``), masks through
``adapter.api.present.present`` and writes through ``adapter.api.writes.write`` (restore) or
``adapter.api.direct`` (attribute definitions, the audited listing reveal), always in the
signed-in user's name. A route stays thin: check the privilege, read or write, render.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from adapter.api.access import Caller, authenticate
from adapter.api.context import ApiContext, get_context
from adapter.api.direct import change_attribute, define_attribute, reveal
from adapter.api.present import present
from adapter.api.privileges import Privilege
from adapter.api.writes import request_id_from, write
from adapter.domain.errors import ValidationFailed
from adapter.queries.customers import attribute_definitions, customer_view, resolve
from adapter.queries.effective import effective_for_subscriber
from adapter.queries.hierarchy import Node, account_node, ancestors, payer
from adapter.queries.history import timeline
from adapter.queries.search import SearchCriteria, search
from adapter.queries.tree import child_count, children
from adapter.requests.apply import request_status
from adapter.requests.deadletters import list_dead_letters, show
from adapter.service.listings import parse_month, read_listings
from adapter.store.reading import read_connection

from .render import PREFIX, ConsoleRoute, page, safe_next
from .session import COOKIE, Refused, check_csrf, console_require

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

Context = Annotated[ApiContext, Depends(get_context)]
Reader = Annotated[Caller, Depends(console_require(Privilege.CUSTOMERS_READ))]
Anyone = Annotated[Caller, Depends(console_require())]
Auditor = Annotated[Caller, Depends(console_require(Privilege.AUDIT_READ))]
Csrf = Annotated[str, Form(max_length=100)]

PUBLIC_PATHS = frozenset({f"{PREFIX}/sign-in", f"{PREFIX}/static"})
"""Console paths that need no session (the sign-in page and the static files)."""

SEARCH_KEYS: tuple[tuple[str, str], ...] = (
    ("name", "Name (a fragment)"),
    ("fuzzy_name", "Name, spelled approximately"),
    ("msisdn", "MSISDN"),
    ("customer_number", "Customer number"),
    ("contract_number", "Contract number"),
    ("email", "E-mail"),
    ("address", "Street (a fragment)"),
    ("postcode", "Postcode"),
    ("city", "City"),
    ("birth_date", "Birth date (YYYY-MM-DD)"),
    ("tin", "TIN"),
    ("personal_id", "Personal id"),
    ("passport", "Passport"),
    ("imsi", "IMSI"),
    ("iccid", "ICCID"),
)
HISTORY_KINDS = {
    "customers": "customer",
    "accounts": "account",
    "contracts": "contract",
    "subscribers": "subscriber",
}
CHILDREN_PAGE = 100
# The customer view shows this many accounts and contracts (a large organisation is browsed in
# the hierarchy view) and works out what is in effect for this many subscribers.
SHOWN_ACCOUNTS = 200
SHOWN_CONTRACTS = 100
SHOWN_SUBSCRIBERS = 100


def _read(context: ApiContext, fn: Any, *args: Any, **kwargs: Any) -> Any:
    with read_connection(context.engine) as conn:
        return fn(conn, *args, **kwargs)


# ------------------------------------------------------------------------- signing in


@router.get("", response_class=HTMLResponse)
async def home(caller: Anyone) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/search", status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(
    request: Request,
    next: Annotated[str | None, Query(max_length=2000)] = None,
    reason: Annotated[str | None, Query(max_length=300)] = None,
) -> HTMLResponse:
    return page(
        request, "sign_in.html", None, title="Sign in", next=safe_next(next), message=reason
    )


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    context: Context,
    token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = PREFIX,
) -> Response:
    token = token.strip()
    caller = await run_in_threadpool(authenticate, context.engine, token) if token else None
    if caller is None:
        return page(
            request,
            "sign_in.html",
            None,
            status=401,
            title="Sign in",
            next=safe_next(next),
            message="That token is unknown or revoked. Paste the whole token, starting crm_ "
            "(an administrator issues one with `crm-adapter users token NAME`).",
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=PREFIX,
    )
    return response


@router.post("/sign-out")
async def sign_out(request: Request, caller: Anyone, csrf: Csrf = "") -> RedirectResponse:
    check_csrf(request, csrf)
    response = RedirectResponse(f"{PREFIX}/sign-in?reason=signed+out", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


# ----------------------------------------------------------------------------- search


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, caller: Reader, context: Context) -> HTMLResponse:
    given = {
        key: request.query_params.get(key, "").strip()[:400]
        for key, _ in SEARCH_KEYS
        if request.query_params.get(key, "").strip()
    }
    former = request.query_params.get("former_holders") == "on"
    try:
        offset = max(0, int(request.query_params.get("offset", "0") or 0))
    except ValueError:
        offset = 0
    results: list[dict[str, Any]] | None = None
    total = 0
    problems: list[str] = []
    if given:
        criteria = SearchCriteria(**given, former_holders=former)
        try:
            found = _read(context, search, criteria, limit=25, offset=offset)
        except ValidationFailed as exc:
            problems = [f"{v.field}: {v.message}" for v in exc.violations]
        else:
            results = present(found.as_dict()["items"], caller)
            total = found.total
    return page(
        request,
        "search.html",
        caller,
        title="Search",
        keys=SEARCH_KEYS,
        given=given,
        former=former,
        results=results,
        total=total,
        offset=offset,
        problems=problems,
        query_without_offset=urlencode(
            [(k, v) for k, v in request.query_params.multi_items() if k != "offset"]
        ),
    )


# ---------------------------------------------------------------------- customer view


def _gauge(bucket: dict[str, Any]) -> dict[str, Any]:
    try:
        granted = Decimal(str(bucket.get("granted", 0)))
        used = Decimal(str(bucket.get("used", 0)))
        left = Decimal(str(bucket.get("remaining", granted - used)))
    except (InvalidOperation, ValueError):
        granted = used = left = Decimal(0)
    percent = float(used / granted * 100) if granted > 0 else 0.0
    return {
        **bucket,
        "percent_used": round(min(percent, 100.0), 1),
        "percent_left": round(max(0.0, 100.0 - percent), 1),
        "granted_n": granted,
        "used_n": used,
        "left_n": left,
    }


def _customer_page_data(conn: Connection, ref: str, today: date) -> dict[str, Any]:
    view = customer_view(conn, ref)
    effective = {
        sub["id"]: effective_for_subscriber(conn, sub["id"], today).as_dict()
        for sub in view["subscribers"][:SHOWN_SUBSCRIBERS]
    }
    return {"view": view, "effective": effective}


@router.get("/customers/{ref}", response_class=HTMLResponse)
def customer_page(request: Request, ref: str, caller: Reader, context: Context) -> HTMLResponse:
    data = _read(context, _customer_page_data, ref[:200], datetime.now(UTC).date())
    view = present(data["view"], caller)
    effective = present(data["effective"], caller)
    customer = view["customer"]
    addresses: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for address in customer.get("addresses", []):
        addresses[address.get("role", "other")].append(address)
    by_contract: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for sub in view["subscribers"]:
        by_contract[sub["contract_id"]].append(sub)
    services: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for service in view["services"]:
        services[service.get("subscriber_id") or service["contract_id"]].append(service)
    party = customer.get("party", {})
    name = party.get("name") or " ".join(
        p for p in (party.get("given_name"), party.get("family_name")) if p
    )
    return page(
        request,
        "customer.html",
        caller,
        title=f"{name} ({customer['customer_number']})",
        name=name,
        customer=customer,
        party=party,
        addresses=dict(addresses),
        accounts=view["accounts"][:SHOWN_ACCOUNTS],
        account_count=len(view["accounts"]),
        accounts_by_id={a["id"]: a for a in view["accounts"]},
        contracts=view["contracts"][:SHOWN_CONTRACTS],
        contract_count=len(view["contracts"]),
        subscribers_by_contract=dict(by_contract),
        services=dict(services),
        effective=effective,
        balances=view["balances"],
        gauges=[_gauge(b) for b in view["free_units"]],
        suppressions=view["suppressions"],
        attributes=view["attributes"],
    )


# --------------------------------------------------------------------------- hierarchy


@router.get("/accounts/{ref}", response_class=HTMLResponse)
def account_page(ref: str, caller: Reader, context: Context) -> RedirectResponse:
    """An account opens as its customer's view, scrolled to the account."""

    def find(conn: Connection) -> Node:
        return account_node(conn, resolve(conn, "account", ref[:200]))

    node: Node = _read(context, find)
    return RedirectResponse(
        f"{PREFIX}/customers/{node.customer_id}#account-{node.id}", status_code=303
    )


def _node_json(node: Node, count: int) -> dict[str, Any]:
    return {
        "id": node.id,
        "number": node.number,
        "name": node.name,
        "customer_id": node.customer_id,
        "parent_id": node.parent_id,
        "payment_responsible": node.payment_responsible,
        "payer_id": node.payer_id,
        "child_count": count,
        "href": f"{PREFIX}/accounts/{node.id}",
    }


def _children(conn: Connection, account_id: str, offset: int, limit: int) -> dict[str, Any]:
    found = children(conn, account_id, limit=limit, offset=offset)  # the API's lazy query
    return {
        "parent": _node_json(found.parent, found.total),
        "offset": offset,
        "total": found.total,
        "items": [_node_json(child.node, child.child_count) for child in found.items],
    }


@router.get("/api/accounts/{account_id}/children")
def children_json(
    account_id: str,
    caller: Reader,
    context: Context,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = CHILDREN_PAGE,
) -> JSONResponse:
    """A page of an account's children, each with its number of children (loaded lazily)."""
    found = _read(context, _children, account_id[:200], offset, limit)
    return JSONResponse(present(found, caller), headers={"Cache-Control": "no-store"})


def _tree_page_data(conn: Connection, ref: str) -> dict[str, Any]:
    account_id = resolve(conn, "account", ref)
    found = payer(conn, account_id)
    root = found.account._replace(payer_id=found.payer.id if found.payer else None)
    up = ancestors(conn, account_id)
    return {
        "root": _node_json(root, child_count(conn, root.id)),
        "ancestors": [n.as_dict() for n in reversed(up)],
        "payer": found.as_dict(),
    }


@router.get("/accounts/{ref}/tree", response_class=HTMLResponse)
def tree_page(request: Request, ref: str, caller: Reader, context: Context) -> HTMLResponse:
    data = _read(context, _tree_page_data, ref[:200])
    root = data["root"]
    return page(
        request,
        "tree.html",
        caller,
        title=f"Hierarchy under {root['number']}",
        root=root,
        ancestors=data["ancestors"],
        payer=data["payer"],
        page_size=CHILDREN_PAGE,
    )


# ----------------------------------------------------------------------------- history


def _kind(kind: str) -> str:
    if kind not in HISTORY_KINDS:
        raise Refused(404, f"there is no history page for {kind!r}")
    return HISTORY_KINDS[kind]


def _history_data(
    conn: Connection, subject: str, ref: str, offset: int, limit: int
) -> dict[str, Any]:
    subject_id = resolve(conn, subject, ref)
    entries = timeline(conn, subject, subject_id, limit=limit + 1, offset=offset, newest_first=True)
    return {"id": subject_id, "entries": [e.as_dict() for e in entries]}


@router.get("/{kind}/{ref}/history", response_class=HTMLResponse)
def history_page(
    request: Request,
    kind: str,
    ref: str,
    caller: Reader,
    context: Context,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    subject = _kind(kind)
    limit = 50
    data = _read(context, _history_data, subject, ref[:200], offset, limit)
    entries = present(data["entries"], caller)
    return page(
        request,
        "history.html",
        caller,
        title=f"History of {subject} {ref}",
        kind=kind,
        subject=subject,
        ref=ref,
        subject_id=data["id"],
        entries=entries[:limit],
        more=len(entries) > limit,
        offset=offset,
        limit=limit,
        can_restore=caller.holds(Privilege.HISTORY_RESTORE),
        restored=request.query_params.get("restored"),
    )


@router.post("/{kind}/{ref}/restore")
async def restore(
    request: Request,
    background: BackgroundTasks,
    kind: str,
    ref: str,
    caller: Annotated[Caller, Depends(console_require(Privilege.HISTORY_RESTORE))],
    context: Context,
    entity_type: Annotated[str, Form(max_length=32)],
    entity_id: Annotated[str, Form(max_length=200)],
    version: Annotated[int, Form(ge=1)],
    csrf: Csrf = "",
    field: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """Restore an entity (or one field of it) to an old version: the request
    ``version.restore`` through the API's write path, in the signed-in user's name."""
    check_csrf(request, csrf)
    _kind(kind)
    payload: dict[str, Any] = {"kind": entity_type, "entity": entity_id, "version": version}
    if field.strip():
        payload["field"] = field.strip()
    status = await write(context, caller, background, "version.restore", payload)
    what = f"{entity_type} {entity_id} " + (
        f"field {payload['field']} " if "field" in payload else ""
    )
    done = f"restored {what}to version {version} (request {status.request_id})"
    return RedirectResponse(
        f"{PREFIX}/{kind}/{ref}/history?restored={_quote(done)}", status_code=303
    )


def _quote(text: str) -> str:
    return quote(text, safe="")


# ---------------------------------------------------------------------------- listings


def _listing(
    context: ApiContext, caller: Caller, ref: str, month: str | None, *, reveal_it: bool
) -> dict[str, Any]:
    """The month's listing as the API answers it (``adapter.service.listings``): suppressed
    lines only through the audited reveal."""
    chosen = parse_month(month or None)
    with read_connection(context.engine) as conn:
        subscriber_id = resolve(conn, "subscriber", ref)
        if not reveal_it:
            return dict(read_listings(conn, subscriber_id, chosen).as_dict())
    found = reveal(
        context.engine, caller, subscriber_id, chosen, request_id_from(None), limit=500, offset=0
    )
    return dict(found.as_dict())


def _listing_page(
    request: Request, caller: Caller, found: dict[str, Any], *, revealed: bool
) -> HTMLResponse:
    return page(
        request,
        "listings.html",
        caller,
        title=f"Listings of {found['msisdn']} for {found['month']}",
        listing=present(found, caller),
        can_reveal=caller.holds(Privilege.LISTINGS_SUPPRESSED_READ),
        revealed=revealed,
    )


@router.get("/subscribers/{ref}/listings", response_class=HTMLResponse)
def listings_page(
    request: Request,
    ref: str,
    caller: Reader,
    context: Context,
    month: Annotated[str | None, Query(max_length=7)] = None,
) -> HTMLResponse:
    found = _listing(context, caller, ref[:200], month, reveal_it=False)
    return _listing_page(request, caller, found, revealed=False)


@router.post("/subscribers/{ref}/listings/reveal", response_class=HTMLResponse)
def reveal_listings(
    request: Request,
    ref: str,
    caller: Annotated[Caller, Depends(console_require(Privilege.LISTINGS_SUPPRESSED_READ))],
    context: Context,
    csrf: Csrf = "",
    month: Annotated[str, Form(max_length=7)] = "",
) -> HTMLResponse:
    """Show a suppressed listing to a privileged user; the reveal itself is audited."""
    check_csrf(request, csrf)
    found = _listing(context, caller, ref[:200], month, reveal_it=True)
    return _listing_page(request, caller, found, revealed=True)


# -------------------------------------------------------------------------- attributes


@router.get("/attributes", response_class=HTMLResponse)
def attributes_page(request: Request, caller: Reader, context: Context) -> HTMLResponse:
    definitions = _read(context, attribute_definitions, True)
    return page(
        request,
        "attributes.html",
        caller,
        title="Custom attributes",
        definitions=definitions,
        can_admin=caller.holds(Privilege.ATTRIBUTES_ADMIN),
        done=request.query_params.get("done"),
    )


@router.post("/attributes")
def define_attribute_form(
    request: Request,
    caller: Annotated[Caller, Depends(console_require(Privilege.ATTRIBUTES_ADMIN))],
    context: Context,
    name: Annotated[str, Form(max_length=64)],
    label: Annotated[str, Form(max_length=200)],
    type: Annotated[str, Form(max_length=16)],
    entity_kind: Annotated[str, Form(max_length=32)],
    csrf: Csrf = "",
    required: Annotated[str, Form(max_length=8)] = "",
    pattern: Annotated[str, Form(max_length=500)] = "",
    enum_values: Annotated[str, Form(max_length=4000)] = "",
) -> RedirectResponse:
    check_csrf(request, csrf)
    data: dict[str, Any] = {
        "name": name.strip(),
        "label": label.strip(),
        "type": type,
        "entity_kind": entity_kind,
        "required": required == "on",
    }
    if pattern.strip():
        data["pattern"] = pattern.strip()
    values = [v.strip() for v in enum_values.split(",") if v.strip()]
    if values:
        data["enum_values"] = values
    define_attribute(context.engine, caller, data, request_id_from(None))
    return RedirectResponse(
        f"{PREFIX}/attributes?done={_quote('defined ' + data['name'])}", status_code=303
    )


@router.post("/attributes/{name}/{action}")
def change_attribute_form(
    request: Request,
    name: str,
    action: str,
    caller: Annotated[Caller, Depends(console_require(Privilege.ATTRIBUTES_ADMIN))],
    context: Context,
    csrf: Csrf = "",
) -> RedirectResponse:
    check_csrf(request, csrf)
    if action not in ("retire", "reinstate"):
        raise Refused(404, f"an attribute can be retired or reinstated, not {action!r}")
    status = "retired" if action == "retire" else "active"
    change_attribute(context.engine, caller, name[:64], {"status": status}, request_id_from(None))
    return RedirectResponse(
        f"{PREFIX}/attributes?done={_quote(f'{action}d {name}')}", status_code=303
    )


# ---------------------------------------------------------------- requests, dead letters


@router.get("/requests", response_class=HTMLResponse)
def requests_page(
    request: Request,
    caller: Auditor,
    context: Context,
    id: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    found = None
    if id and id.strip():
        found = present(request_status(context.engine, id.strip()).as_dict(), caller)
    return page(request, "requests.html", caller, title="Request status", found=found, id=id)


@router.get("/deadletters", response_class=HTMLResponse)
def deadletters_page(
    request: Request,
    caller: Auditor,
    context: Context,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    found = list_dead_letters(context.engine, limit=50, offset=offset)
    return page(
        request,
        "deadletters.html",
        caller,
        title="Dead letters",
        letters=present(found.as_dict(), caller),
        offset=offset,
    )


@router.get("/deadletters/{request_id}", response_class=HTMLResponse)
def deadletter_page(
    request: Request, request_id: str, caller: Auditor, context: Context
) -> HTMLResponse:
    detail = present(show(context.engine, request_id[:200]).as_dict(), caller)
    return page(request, "deadletter.html", caller, title=f"Request {request_id}", letter=detail)


@router.get("/{path:path}", response_class=HTMLResponse)
def not_found(path: str, caller: Anyone) -> RedirectResponse:
    if not path.strip("/"):
        return RedirectResponse(f"{PREFIX}/search", status_code=303)
    raise Refused(404, f"the console has no page {PREFIX}/{path[:100]}")
