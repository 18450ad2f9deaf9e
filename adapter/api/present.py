"""What leaves the API: documents masked per caller, and one log line per request.

:func:`present` is the last step of every route that answers a document: TIN, personal
identification number, passport number and birth date are masked unless the caller holds
``pii.read`` (``adapter.pii.mask_sensitive``). :class:`RequestLogging` binds a request id
(``X-Request-ID`` when the client sends a usable one, else a new one; echoed in the answer)
and the method to every log line of the request, and logs ``api.request`` with the route's
template (``/api/v1/customers/{customer_id}``, never the path itself, which may hold an MSISDN),
the caller's name, the status and the duration — never the token, the query string or a body.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapter.pii import mask_sensitive

from .access import Caller
from .privileges import Privilege

log = structlog.get_logger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def present(document: Any, caller: Caller) -> Any:
    """DOCUMENT as CALLER may see it."""
    if caller.holds(Privilege.PII_READ):
        return document
    return mask_sensitive(document)


class RequestLogging:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if given and _REQUEST_ID.match(given) else f"api-{uuid.uuid4()}"
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(
            http_request_id=request_id, method=scope["method"]
        ):
            try:
                await self.app(scope, receive, sending)
            finally:
                route = scope.get("route")
                log.info(
                    "api.request",
                    # The route's template, not the path: a path may hold an MSISDN or a TIN.
                    route=getattr(route, "path", None) or "(no route)",
                    status=status,
                    caller=state.get("caller"),
                    ms=round((time.perf_counter() - started) * 1000, 1),
                )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None
