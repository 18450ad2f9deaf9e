"""The organisation hierarchy (``customers.read``), for clients that load it lazily:

- ``GET /api/v1/accounts/{id}/tree?depth=1&offset=&limit=``: the account with a page of its
  children (``offset``/``limit`` page the account's own children; ``depth`` 0 to 3 levels
  below it, each deeper node with its first ``limit`` children), every node with
  ``child_count`` and the href of its ``/children`` so that a client expands what it wants.
- ``GET /api/v1/accounts/{id}/children?offset=&limit=``: a page of the direct children.
- ``GET /api/v1/accounts/{id}/payer``: the nearest ancestor-or-self that pays, or why none.
- ``GET /api/v1/accounts/{id}/ancestors``: parent, grandparent… up to the root.
- ``GET /api/v1/accounts/{id}/tree.svg?depth=3``: the subtree drawn (``image/svg+xml``).

``{id}`` is the account's id or number. Every walk is bounded by the query (``depth``,
``limit``), never by the tree's size: a chain of any depth is walked one level per call.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from adapter.api.access import Caller
from adapter.api.auth import require
from adapter.api.context import ApiContext, get_context
from adapter.api.errors import from_domain
from adapter.api.present import present
from adapter.api.privileges import Privilege
from adapter.api.tmf import Paging, filters_from, href, paging, set_paging_headers
from adapter.domain.errors import ValidationFailed
from adapter.queries.customers import resolve
from adapter.queries.hierarchy import Node, ancestors, payer, subtree
from adapter.queries.tree import child_counts, children
from adapter.store.reading import read_connection
from adapter.tree_svg import render_svg

router = APIRouter(prefix="/api/v1", tags=["hierarchy"])

AccountRef = Annotated[str, Path(max_length=200, description="Account id or number.")]
Reader = Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))]
Context = Annotated[ApiContext, Depends(get_context)]

MAX_TREE_DEPTH = 3
MAX_TREE_NODES = 2000
"""A tree answer stops expanding nodes once it holds this many (their child_count stays)."""
MAX_SVG_DEPTH = 12
MAX_SVG_NODES = 500


def _node(request: Request, node: Node, count: int | None = None) -> dict[str, Any]:
    base = f"/api/v1/accounts/{node.id}"
    document: dict[str, Any] = {
        "@type": "AccountNode",
        "id": node.id,
        "href": href(request, base),
        "number": node.number,
        "name": node.name,
        "customer_id": node.customer_id,
        "parent_id": node.parent_id,
        "payment_responsible": node.payment_responsible,
        "payer_id": node.payer_id,
    }
    if count is not None:
        document["child_count"] = count
        document["children_href"] = href(request, f"{base}/children")
    return document


def _account_id(context: ApiContext, ref: str) -> str:
    with read_connection(context.engine) as conn:
        return resolve(conn, "account", ref)


@router.get(
    "/accounts/{account_id}/tree",
    summary="An account with a page of its children, each with child_count (lazy loading)",
)
async def get_tree(
    request: Request,
    response: Response,
    account_id: AccountRef,
    caller: Reader,
    context: Context,
    page: Annotated[Paging, Depends(paging)],
    depth: Annotated[int, Query(ge=0, le=MAX_TREE_DEPTH, description="Levels below.")] = 1,
) -> dict[str, Any]:
    filters_from(request, ())

    def run() -> tuple[dict[str, Any], int, int]:
        with read_connection(context.engine) as conn:
            found_id = resolve(conn, "account", account_id)
            top = children(conn, found_id, limit=page.limit, offset=page.offset)
            root = _node(request, top.parent, top.total)
            root["depth"] = 0
            budget = MAX_TREE_NODES
            # Breadth first with an explicit queue: (document, account id, level).
            queue: list[tuple[dict[str, Any], str, int]] = [(root, found_id, 0)]
            first = True
            while queue:
                document, node_id, level = queue.pop(0)
                if level >= depth or document["child_count"] == 0 or budget <= 0:
                    continue
                listed = top if first else children(conn, node_id, limit=page.limit)
                first = False
                document["children"] = []
                for child in listed.items:
                    item = _node(request, child.node, child.child_count)
                    item["depth"] = level + 1
                    document["children"].append(item)
                    queue.append((item, child.node.id, level + 1))
                budget -= len(listed.items)
            return root, top.total, len(top.items) if depth else 0

    try:
        document, total, count = await run_in_threadpool(run)
    except ValidationFailed as exc:
        raise from_domain(exc, invalid_status=400) from None
    set_paging_headers(response, total, count)
    return present(document, caller)  # type: ignore[no-any-return]


@router.get("/accounts/{account_id}/children", summary="A page of an account's direct children")
async def get_children(
    request: Request,
    response: Response,
    account_id: AccountRef,
    caller: Reader,
    context: Context,
    page: Annotated[Paging, Depends(paging)],
) -> list[dict[str, Any]]:
    filters_from(request, ())

    def run() -> tuple[list[dict[str, Any]], int]:
        with read_connection(context.engine) as conn:
            found = children(
                conn, resolve(conn, "account", account_id), limit=page.limit, offset=page.offset
            )
            return [
                {**_node(request, c.node, c.child_count), "depth": 1} for c in found.items
            ], found.total

    items, total = await run_in_threadpool(run)
    set_paging_headers(response, total, len(items))
    return present(items, caller)  # type: ignore[no-any-return]


@router.get("/accounts/{account_id}/payer", summary="Who pays for an account")
async def get_payer(
    request: Request, account_id: AccountRef, caller: Reader, context: Context
) -> dict[str, Any]:
    filters_from(request, ())

    def run() -> dict[str, Any]:
        with read_connection(context.engine) as conn:
            found = payer(conn, resolve(conn, "account", account_id))
        return {
            "@type": "AccountPayer",
            "id": found.account.id,
            "href": href(request, f"/api/v1/accounts/{found.account.id}/payer"),
            "account": _node(request, found.account),
            "payer": _node(request, found.payer) if found.payer else None,
            "levels_up": found.levels_up,
            "reason": found.reason,
        }

    return present(await run_in_threadpool(run), caller)  # type: ignore[no-any-return]


@router.get(
    "/accounts/{account_id}/ancestors", summary="Parent, grandparent… up to the root, nearest first"
)
async def get_ancestors(
    request: Request, response: Response, account_id: AccountRef, caller: Reader, context: Context
) -> list[dict[str, Any]]:
    filters_from(request, ())

    def run() -> list[dict[str, Any]]:
        with read_connection(context.engine) as conn:
            found = ancestors(conn, resolve(conn, "account", account_id))
        return [{**_node(request, n), "levels_up": n.depth} for n in found]

    items = await run_in_threadpool(run)
    set_paging_headers(response, len(items), len(items))
    return present(items, caller)  # type: ignore[no-any-return]


@router.get(
    "/accounts/{account_id}/tree.svg",
    summary="The subtree under an account drawn as SVG",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
async def get_tree_svg(
    request: Request,
    account_id: AccountRef,
    caller: Reader,
    context: Context,
    depth: Annotated[int, Query(ge=0, le=MAX_SVG_DEPTH, description="Levels drawn.")] = 3,
) -> Response:
    filters_from(request, ())

    def run() -> str:
        with read_connection(context.engine) as conn:
            found_id = resolve(conn, "account", account_id)
            tree = subtree(conn, found_id, max_depth=depth, limit=MAX_SVG_NODES)
            nodes = tree.nodes or [tree.root]
            counts = child_counts(conn, [n.id for n in nodes])
        return render_svg(
            nodes,
            title=f"Accounts under {tree.root.number}",
            total=tree.total,
            child_counts=counts,
        )

    svg = await run_in_threadpool(run)
    return Response(svg, media_type="image/svg+xml")
