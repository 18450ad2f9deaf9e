"""Rendering: the Jinja2 environment (autoescaped), the page helper every route ends with, and
the route class that turns every failure of a console route into a readable HTML page (or,
for a missing session, a redirect to the sign-in page) instead of the API's JSON errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException

from adapter.api.access import Caller
from adapter.api.errors import ApiError, from_domain
from adapter.domain.errors import DomainError

from .session import COOKIE, Refused, SignInNeeded, csrf_token

log = structlog.get_logger(__name__)

PREFIX = "/console"


def _number(value: Any) -> str:
    """A quantity without trailing zeros (1500, 2.5), or the value as text."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not number.is_finite():
        return str(value)
    text = f"{number.normalize():f}"
    return text


def _money(value: Any) -> str:
    """An amount with two decimals (-23.40)."""
    try:
        return f"{Decimal(str(value)):.2f}"
    except (InvalidOperation, ValueError):
        return str(value)


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and "T" in value:
        return value.replace("T", " ")[:19]
    return "" if value is None else str(value)


def _shown(value: Any) -> str:
    """A value of a diff or an attribute, compactly."""
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


@cache
def environment() -> Environment:
    folder = files("adapter.console") / "templates"
    env = Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=select_autoescape(["html", "svg"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = _number
    env.filters["money"] = _money
    env.filters["when"] = _when
    env.filters["shown"] = _shown
    env.filters["urlpart"] = lambda v: quote(str(v), safe="")
    return env


def page(
    request: Request,
    template: str,
    caller: Caller | None,
    *,
    status: int = 200,
    title: str = "",
    **context: Any,
) -> HTMLResponse:
    """Render TEMPLATE with what every page shows (the user, its privileges, the CSRF token)."""
    token = request.cookies.get(COOKIE, "")
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            caller=caller,
            privileges={p.value for p in caller.privileges} if caller else set(),
            csrf=csrf_token(token) if token and caller else "",
            title=title,
            prefix=PREFIX,
            **context,
        )
    )
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            # Scripts and styles only from the console itself; no frames, no form posts away.
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
            "style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


def error_page(
    request: Request, status: int, message: str, caller: Caller | None = None
) -> Response:
    return page(
        request,
        "error.html",
        caller,
        status=status,
        title={403: "Not allowed", 404: "Not found"}.get(status, "Something went wrong"),
        status_code=status,
        message=message,
        request_id=request.scope.get("state", {}).get("request_id", ""),
    )


def _caller_of(request: Request) -> Caller | None:
    found = request.scope.get("state", {}).get("console_caller")
    return found if isinstance(found, Caller) else None


def sign_in_redirect(request: Request, reason: str = "") -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = request.headers.get("referer", "") or PREFIX
        target = PREFIX if not _local(target, request) else _local(target, request)
    location = f"{PREFIX}/sign-in?next={quote(target, safe='')}"
    if reason:
        location += f"&reason={quote(reason, safe='')}"
    response = RedirectResponse(location, status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


def _local(url: str, request: Request) -> str:
    """URL's path and query when it points into the console, else an empty string."""
    base = str(request.base_url).rstrip("/")
    if url.startswith(base):
        url = url[len(base) :]
    return url if url.startswith(PREFIX) and not url.startswith("//") else ""


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path, never another site."""
    if (
        value
        and (value == PREFIX or value.startswith((f"{PREFIX}/", f"{PREFIX}?")))
        and "\\" not in value
        and "//" not in value
        and not any(ord(ch) < 32 for ch in value)
    ):
        return value
    return PREFIX


class ConsoleRoute(APIRoute):
    """A console route: failures become HTML pages; a missing session, a redirect to sign in."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except SignInNeeded as exc:
                return sign_in_redirect(request, exc.reason)
            except Refused as exc:
                return error_page(request, exc.status, exc.message, _caller_of(request))
            except ApiError as exc:
                message = exc.message
                if exc.details:
                    message = "; ".join(
                        f"{d.get('field')}: {d.get('message')}" for d in exc.details
                    )
                return error_page(request, exc.status, message, _caller_of(request))
            except DomainError as exc:
                api = from_domain(exc, invalid_status=400)
                return error_page(request, api.status, api.message, _caller_of(request))
            except RequestValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'input'}: {e.get('msg')}"
                    for e in exc.errors()
                )
                return error_page(request, 400, problems, _caller_of(request))
            except HTTPException as exc:
                return error_page(request, exc.status_code, str(exc.detail), _caller_of(request))
            except Exception:  # a defect: logged with its traceback, answered as a page
                log.exception("console.failed", route=self.path)
                return error_page(
                    request,
                    500,
                    "the console failed on this page; quote the reference below to support",
                    _caller_of(request),
                )

        return handler
