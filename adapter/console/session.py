"""Who is using the console: the API token kept in a cookie, checked on every request by the
API's own authentication (``adapter.api.access.authenticate``), and the privilege checks of the
console's routes.

The cookie holds the token itself (``HttpOnly``: no script can read it; ``SameSite=Strict``: a
page of another site cannot make the browser send it; ``Secure`` when the console is reached
over HTTPS). Revoking the token (``crm-adapter users revoke``) ends the session at the next
click. POST forms carry a per-session CSRF token as well: an HMAC of the session's token, so it
cannot be computed without the cookie and needs no server-side state.

Deny by default, as in the API: every console route but the sign-in page declares
:func:`console_require` (which carries the same marker as ``adapter.api.auth.require``, so the
route-enumeration test checks console routes too).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

import structlog
from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from adapter.api.access import Caller, authenticate
from adapter.api.auth import PRIVILEGES_ATTRIBUTE
from adapter.api.context import ApiContext, get_context
from adapter.api.privileges import Privilege

COOKIE = "crm_console"
_CSRF_MESSAGE = b"crm-console-csrf-v1"


class SignInNeeded(Exception):
    """No usable session: the browser is sent to the sign-in page (with ``reason``)."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class Refused(Exception):
    """The signed-in user lacks a privilege, or a form came without a valid CSRF token."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def csrf_token(token: str) -> str:
    """The CSRF token of the session whose API token is TOKEN."""
    return hmac.new(token.encode("utf-8"), _CSRF_MESSAGE, hashlib.sha256).hexdigest()[:40]


def check_csrf(request: Request, given: str | None) -> None:
    """Refuse (403) a POST whose form lacks the session's CSRF token."""
    token = request.cookies.get(COOKIE, "")
    if not token or not given or not hmac.compare_digest(csrf_token(token), given):
        raise Refused(
            403,
            "the form was not sent from this console session (its security token is missing "
            "or stale); reload the page and try again",
        )


async def console_caller(
    request: Request, context: Annotated[ApiContext, Depends(get_context)]
) -> Caller:
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignInNeeded()
    caller = await run_in_threadpool(authenticate, context.engine, token)
    if caller is None:
        raise SignInNeeded("your token is unknown or was revoked; sign in with a valid one")
    state = request.scope.setdefault("state", {})
    state["caller"] = caller.name
    state["console_caller"] = caller
    structlog.contextvars.bind_contextvars(caller=caller.name, token_id=caller.token_id)
    return caller


def console_require(*privileges: Privilege) -> Callable[..., Awaitable[Caller]]:
    """A dependency admitting signed-in users holding every one of PRIVILEGES (none: any)."""
    needed = tuple(privileges)

    async def dependency(caller: Annotated[Caller, Depends(console_caller)]) -> Caller:
        missing = [p.value for p in needed if not caller.holds(p)]
        if missing:
            raise Refused(
                403,
                f"this needs the privilege {', '.join(missing)}, which your role "
                f"{caller.role!r} does not hold",
            )
        return caller

    setattr(dependency, PRIVILEGES_ATTRIBUTE, needed)
    return dependency
