"""TMF630 conventions every resource uses: projection, attribute filters, paging, merge patch,
hrefs and 201 answers.

- ``fields=a,b.c``: the answer keeps only those top-level attributes (a dotted name keeps its
  first segment) plus ``id``, ``href`` and ``@type``, which are always returned. A name that
  the resource does not have is ignored, as TMF630 allows. ``fields=none`` keeps only those
  three.
- Filters: any other query parameter ``attr=value`` (or ``a.b=value`` through nested objects)
  keeps the items whose attribute, as text, equals the value; a comma-separated value is a
  choice of several (``status=active,suspended``). Each resource names the attributes it can be
  filtered on; an unknown one is 400 naming it.
- Paging: ``offset`` (default 0) and ``limit`` (default :data:`DEFAULT_LIMIT`, at most
  :data:`MAX_LIMIT`). Every list answer carries ``X-Total-Count`` (all matches) and
  ``X-Result-Count`` (in this answer). The status is 200 even for a partial page: TMF630 allows
  206 there, but clients, caches and proxies treat 206 as a byte-range answer, and the headers
  already say whether more are left (a choice made once, for every resource).
- PATCH is JSON merge patch (RFC 7386, ``application/merge-patch+json``; plain
  ``application/json`` is accepted as the same): :func:`merge_patch`.
- POST answers 201 with the created resource and ``Location`` (its href): :func:`created`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse

from .errors import ApiError

ALWAYS_KEPT = ("id", "href", "@type")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
RESERVED_PARAMETERS = frozenset({"fields", "offset", "limit"})


# ---------------------------------------------------------------------------- projection


def parse_fields(fields: str | None) -> frozenset[str] | None:
    """The top-level attributes FIELDS asks for; None when every attribute is wanted."""
    if fields is None or not fields.strip():
        return None
    names = {part.strip().split(".")[0] for part in fields.split(",") if part.strip()}
    names.discard("none")
    return frozenset(names)


def project(document: Mapping[str, Any], fields: str | None) -> dict[str, Any]:
    """DOCUMENT with only the attributes FIELDS names, and ``id``, ``href``, ``@type``."""
    wanted = parse_fields(fields)
    if wanted is None:
        return dict(document)
    return {k: v for k, v in document.items() if k in wanted or k in ALWAYS_KEPT}


FieldsParam = Annotated[
    str | None,
    Query(
        description="Comma-separated attributes to return (id, href and @type always are).",
        max_length=2000,
    ),
]


# ------------------------------------------------------------------------------- filters


def filters_from(request: Request, allowed: Iterable[str]) -> dict[str, list[str]]:
    """The attribute filters of the query string: every parameter that is neither reserved
    nor named in the route's signature; 400 for one not in ALLOWED."""
    allowed_set = set(allowed)
    declared = {p.alias or p.name for p in _query_params(request)}
    found: dict[str, list[str]] = {}
    unknown: list[str] = []
    for name, value in request.query_params.multi_items():
        if name in RESERVED_PARAMETERS or name in declared:
            continue
        if name not in allowed_set:
            unknown.append(name)
            continue
        found.setdefault(name, []).extend(v for v in value.split(",") if v != "")
    if unknown:
        raise unknown_parameters(unknown, allowed_set | declared | RESERVED_PARAMETERS)
    return found


def unknown_parameters(unknown: Sequence[str], known: Iterable[str]) -> ApiError:
    names = ", ".join(sorted(set(unknown)))
    return ApiError(
        400,
        "invalid_parameter",
        f"unknown query parameter(s): {names}; known: {', '.join(sorted(set(known)))}",
        details=[
            {"field": f"query.{n}", "rule": "known", "message": "not a parameter of this call"}
            for n in sorted(set(unknown))
        ],
    )


def _query_params(request: Request) -> list[Any]:
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return []
    found: list[Any] = []
    stack = [dependant]
    while stack:
        current = stack.pop()
        found.extend(current.query_params)
        stack.extend(current.dependencies)
    return found


def _value_at(document: Mapping[str, Any], path: str) -> Any:
    current: Any = document
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def matches(document: Mapping[str, Any], filters: Mapping[str, Sequence[str]]) -> bool:
    """Whether DOCUMENT passes every filter (a list attribute passes when any item does)."""
    for path, choices in filters.items():
        value = _value_at(document, path)
        values = value if isinstance(value, list) else [value]
        if not any(_as_text(v) in choices for v in values):
            return False
    return True


# -------------------------------------------------------------------------------- paging


@dataclass(frozen=True)
class Paging:
    offset: int
    limit: int


def paging(
    offset: Annotated[int, Query(ge=0, description="Skip this many matches.")] = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"At most this many (1-{MAX_LIMIT}).")
    ] = DEFAULT_LIMIT,
) -> Paging:
    """A dependency: the ``offset`` and ``limit`` of the query (400 when out of range)."""
    return Paging(offset, limit)


def set_paging_headers(response: Response, total: int, count: int) -> None:
    response.headers["X-Total-Count"] = str(total)
    response.headers["X-Result-Count"] = str(count)


def page_of(items: Sequence[Any], page: Paging) -> list[Any]:
    """A page of an in-memory list (resources read from a query page in SQL instead)."""
    return list(items[page.offset : page.offset + page.limit])


# --------------------------------------------------------------------------- merge patch


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: the result of applying PATCH to TARGET (neither is modified). A ``null``
    member removes the member; an object merges recursively; anything else replaces."""
    if not isinstance(patch, Mapping):
        return patch
    result: dict[str, Any] = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


MERGE_PATCH_TYPES = ("application/merge-patch+json", "application/json")


def check_merge_patch_type(request: Request) -> None:
    """415 unless the body is declared a merge patch (or plain JSON)."""
    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if declared not in MERGE_PATCH_TYPES:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"PATCH takes a JSON merge patch (Content-Type: application/merge-patch+json), "
            f"not {declared or 'a body without a type'}",
        )


# ------------------------------------------------------------------------ href, created


def href(request: Request, path: str) -> str:
    """The absolute URL of PATH on this server, as the client addressed it."""
    return str(request.base_url).rstrip("/") + "/" + path.lstrip("/")


def created(request: Request, body: Mapping[str, Any], path: str) -> JSONResponse:
    """201 with BODY (given its ``href``) and ``Location``."""
    location = href(request, path)
    return JSONResponse({**body, "href": location}, status_code=201, headers={"Location": location})
