"""Authentication (``Authorization: Bearer TOKEN``) and privilege checks, as dependencies.

Every route but ``/health`` and the documentation declares ``Depends(require(...))``:
``require(Privilege.X, …)`` admits a caller holding every privilege named, ``require()`` any
authenticated caller. A missing, unknown or revoked token is 401 with ``WWW-Authenticate:
Bearer``; a caller without a privilege is 403 naming it. The dependency returns the
:class:`~adapter.api.access.Caller`, which routes use as the originating user of their writes
and to mask what they answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from .access import Caller, authenticate
from .context import ApiContext, get_context
from .errors import ApiError
from .privileges import Privilege

_bearer = HTTPBearer(auto_error=False, description="An API token: `crm-adapter users add`.")

PRIVILEGES_ATTRIBUTE = "__crm_privileges__"
"""Set on every dependency ``require`` makes; the deny-by-default test looks for it."""


def _unauthorized(message: str) -> ApiError:
    return ApiError(
        401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="crm"'}
    )


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    context: Annotated[ApiContext, Depends(get_context)],
) -> Caller:
    if credentials is None:
        raise _unauthorized("this call needs an API token: send 'Authorization: Bearer TOKEN'")
    caller = await run_in_threadpool(authenticate, context.engine, credentials.credentials)
    if caller is None:
        raise _unauthorized("the API token is unknown or revoked")
    request.scope.setdefault("state", {})["caller"] = caller.name
    structlog.contextvars.bind_contextvars(caller=caller.name, token_id=caller.token_id)
    return caller


def require(*privileges: Privilege) -> Callable[..., Awaitable[Caller]]:
    """A dependency admitting callers that hold every one of PRIVILEGES (none: any caller)."""
    needed = tuple(privileges)

    async def dependency(caller: Annotated[Caller, Depends(authenticated)]) -> Caller:
        missing = [p for p in needed if not caller.holds(p)]
        if missing:
            names = ", ".join(p.value for p in missing)
            raise ApiError(
                403,
                "forbidden",
                f"this call needs the privilege {names}, which role {caller.role!r} of "
                f"{caller.name!r} does not hold",
                details=[
                    {"field": "privilege", "rule": "required", "message": p.value} for p in missing
                ],
            )
        return caller

    setattr(dependency, PRIVILEGES_ATTRIBUTE, needed)
    return dependency
