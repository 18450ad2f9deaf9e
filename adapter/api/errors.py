"""Every error the API answers is a TMF630 Error body::

    {"@type": "Error", "code": "not_found", "reason": "Not Found",
     "message": "no customer '42'", "status": "404", "details": [...]}

``code`` is stable and machine-readable, ``reason`` the HTTP phrase, ``message`` a sentence
naming what is wrong, ``status`` the HTTP status as text (TMF630 types it a string);
``details`` (an extension) lists ``{"field", "rule", "message"}`` for each broken rule.

Status use: 400 malformed JSON, bad query or header parameters; 401 missing, unknown or revoked
token (with ``WWW-Authenticate: Bearer``); 403 missing privilege (named); 404 unknown id or
route; 405 wrong method; 409 stale version or conflict with stored state; 413 body over
``CRM_API_MAX_BODY``; 422 a well-formed body (or query) that breaks the schema or a rule,
naming the field; 500 without internals (the request id is in the message and the log).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapter.domain.errors import (
    ConcurrencyConflict,
    Conflict,
    DomainError,
    NotFound,
    ValidationFailed,
    Violation,
)

log = structlog.get_logger(__name__)

ERROR_MEDIA_TYPE = "application/json"


class ApiError(Exception):
    """An answer other than success, raised anywhere below a route."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Iterable[Mapping[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = [dict(d) for d in details]
        self.headers = dict(headers or {})


def error_body(
    status: int, code: str, message: str, details: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    body: dict[str, Any] = {
        "@type": "Error",
        "code": code,
        "reason": reason,
        "message": message,
        "status": str(status),
    }
    if details:
        body["details"] = [dict(d) for d in details]
    return body


def error_response(
    status: int,
    code: str,
    message: str,
    details: Sequence[Mapping[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(status, code, message, details),
        status_code=status,
        headers=dict(headers or {}),
        media_type=ERROR_MEDIA_TYPE,
    )


def violations_details(violations: Iterable[Violation]) -> list[dict[str, str]]:
    return [{"field": v.field, "rule": v.rule, "message": v.message} for v in violations]


def from_domain(error: DomainError, *, invalid_status: int = 422) -> ApiError:
    """The HTTP answer to a domain error: 404, 409 or (``invalid_status``) 422."""
    if isinstance(error, NotFound):
        return ApiError(404, error.code, str(error))
    if isinstance(error, ConcurrencyConflict | Conflict):
        return ApiError(409, error.code, str(error))
    if isinstance(error, ValidationFailed):
        return ApiError(
            invalid_status, error.code, str(error), details=violations_details(error.violations)
        )
    return ApiError(422, error.code, str(error))


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
}


def _field(loc: Sequence[Any]) -> str:
    """'body.party.birth_date', 'query.limit', 'header.idempotency-key'."""
    return ".".join(str(part) for part in loc) or "(request)"


def _validation(exc: RequestValidationError) -> ApiError:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        first = next(e for e in errors if e.get("type") == "json_invalid")
        position = first.get("loc", ("body", "?"))[-1]
        why = (first.get("ctx") or {}).get("error", "not JSON")
        return ApiError(
            400,
            "malformed_json",
            f"the request body is not valid JSON: {why} (at character {position})",
        )
    # Never the rejected input itself in the answer's details: it may be PII.
    details = [
        {"field": _field(e.get("loc", ())), "rule": str(e.get("type")), "message": str(e["msg"])}
        for e in errors
    ]
    in_body = any(str(d["field"]).startswith("body") for d in details)
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details)
    if in_body:
        return ApiError(422, "validation_failed", message, details=details)
    return ApiError(400, "invalid_parameter", message, details=details)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into a TMF Error body."""

    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and message == "Not Found":
            message = f"no resource at {request.url.path}"
        if exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return error_response(exc.status_code, code, message, headers=exc.headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        error = _validation(exc)
        return error_response(error.status, error.code, error.message, error.details)

    async def on_domain(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        error = from_domain(exc)
        return error_response(error.status, error.code, error.message, error.details)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = request.scope.get("state", {}).get("request_id", "?")
        log.error("api.internal_error", error=type(exc).__name__, exc_info=exc)
        return error_response(
            500,
            "internal_error",
            f"the server failed to answer; quote request id {request_id} to an operator",
        )

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(DomainError, on_domain)
    app.add_exception_handler(Exception, on_unexpected)
