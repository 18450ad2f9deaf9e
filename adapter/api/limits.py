"""The request body cap (``CRM_API_MAX_BODY``), as ASGI middleware in front of every route.

A declared ``Content-Length`` over the cap is answered 413 at once, before any byte of the body
is read by the app; the bytes the client is still sending are discarded (never kept) up to
:data:`DISCARD_LIMIT`, so that it receives the 413 rather than a reset connection. A body
without a declared length (chunked) is counted as it streams and refused the moment it passes
the cap; what was read of it is dropped with it, so nothing of it is written.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response

DISCARD_LIMIT = 64 * 1_048_576  # bytes of an oversized body read and dropped, at most


def too_large_message(cap: int, size: int | None = None) -> str:
    what = f"the request body is {size} bytes" if size is not None else "the request body is"
    return f"{what} over the limit of {cap} bytes (CRM_API_MAX_BODY)"


class BodyLimit:
    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            if declared <= DISCARD_LIMIT:
                await _discard(receive)
            response = error_response(
                413,
                "body_too_large",
                too_large_message(self.max_body, declared),
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)
            return
        seen = 0
        cap = self.max_body

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    # FastAPI re-raises an HTTPException met while reading the body; the
                    # app's handler renders it as a TMF error.
                    raise HTTPException(413, too_large_message(cap))
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def _discard(receive: Receive) -> None:
    more: Any = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return
        more = message.get("more_body", False)
