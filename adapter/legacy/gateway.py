"""The one way to the billing system: zeep, built once per process from the local WSDL.

``Gateway.call(operation, input_attributes)`` sends one CIL operation and returns its response
as plain dicts and lists (no zeep object leaves this module), or raises
:class:`~adapter.legacy.errors.BusinessFault` (permanent) or
:class:`~adapter.legacy.errors.TransientFailure` (after the retries are spent).

Around every attempt: a timeout (connect and read), a cap on the response size, and the
circuit breaker, whose state lives in Redis when ``CRM_REDIS_URL`` is set, so that all worker
processes stop calling a backend that is down, not each on its own. Transient failures are
retried with exponential backoff and full jitter; business faults are not (nor do they count
against the breaker: billing answered).

Retrying a write whose outcome is unknown (a timeout after the request left) may apply it
twice on the billing side unless the request is recognisable: write operations carry the
public ids the adapter chose (``csIdPub``, ``coIdPub``), so a repeat is refused by billing as
a duplicate (``CMS.RC6720``) and the caller reads the object back instead.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pybreaker
import requests
import structlog
import urllib3
import zeep
import zeep.exceptions
from lxml import etree
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)
from zeep.helpers import serialize_object
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from adapter.legacy.diagnostics import describe
from adapter.legacy.errors import BillingError, BusinessFault, CircuitOpen, TransientFailure
from adapter.paths import CIL_NS, CIL_WSDL
from adapter.settings import Settings

log = structlog.get_logger("adapter.legacy")

BINDING = f"{{{CIL_NS}}}CilBinding"
MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # a usage read of thousands of records fits easily
RECENT_FAILURES = 50
TRANSIENT_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class FailedCall:
    """A failed call as kept for diagnosis: raw messages, not for logs."""

    at: datetime
    operation: str
    kind: str  # "business" or the transient reason
    message: str
    attempts: int
    http_status: int | None
    request_xml: bytes | None
    response_xml: bytes | None


@dataclass
class _Exchange:
    request: bytes | None = None
    response: bytes | None = None
    status: int | None = None
    content_type: str = ""


class _RecordingTransport(Transport):
    """zeep's transport, recording each exchange of this thread and reading at most
    ``MAX_RESPONSE_BYTES`` of a response (a runaway body cannot exhaust memory)."""

    def __init__(self, timeout: float, session: requests.Session | None = None) -> None:
        super().__init__(session=session, timeout=timeout, operation_timeout=timeout)
        self.local = threading.local()

    @property
    def exchange(self) -> _Exchange:
        current: _Exchange | None = getattr(self.local, "exchange", None)
        if current is None:
            current = self.local.exchange = _Exchange()
        return current

    def reset(self) -> None:
        self.local.exchange = _Exchange()

    def post(self, address: str, message: bytes | str, headers: dict[str, str]) -> Any:
        exchange = self.exchange
        exchange.request = message.encode() if isinstance(message, str) else message
        response = self.session.post(
            address, data=message, headers=headers, timeout=self.operation_timeout, stream=True
        )
        exchange.status = response.status_code
        try:
            body = response.raw.read(MAX_RESPONSE_BYTES + 1, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise requests.Timeout(str(exc)) from exc
        except urllib3.exceptions.HTTPError as exc:  # cut off mid-body
            exchange.response = b""
            raise _Truncated(str(exc)) from exc
        finally:
            response.close()
        exchange.status = response.status_code
        exchange.content_type = response.headers.get("Content-Type", "")
        exchange.response = body
        if len(body) > MAX_RESPONSE_BYTES:
            raise _TooLarge(len(body))
        response._content = body  # what zeep reads
        response._content_consumed = True
        return response


class _Truncated(Exception):
    """The connection ended before the body announced was complete."""


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"response larger than {MAX_RESPONSE_BYTES} bytes")
        self.size = size


@dataclass
class Gateway:
    """A client of the billing system's CIL service. Build one per process
    (:func:`build_gateway`); calls may come from several threads."""

    settings: Settings
    breaker_storage: Any = None  # a pybreaker storage; None: memory, or Redis from settings
    session: requests.Session | None = None
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    recent_failures: deque[FailedCall] = field(
        default_factory=lambda: deque(maxlen=RECENT_FAILURES)
    )

    def __post_init__(self) -> None:
        s = self.settings
        self.transport = _RecordingTransport(timeout=s.billing_timeout, session=self.session)
        client_settings = zeep.Settings(
            strict=True,
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
            xml_huge_tree=False,
        )
        self.client = zeep.Client(
            wsdl=str(CIL_WSDL),
            transport=self.transport,
            settings=client_settings,
            wsse=UsernameToken(s.billing_user, s.billing_password.get_secret_value()),
        )
        self.service = self.client.create_service(BINDING, s.billing_url)
        binding_operations = self.client.service._binding._operations
        self.operations = frozenset(binding_operations)
        self._response_types = {
            name: operation.output.body.type for name, operation in binding_operations.items()
        }
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=s.billing_breaker_failures,
            reset_timeout=s.billing_breaker_reset,
            exclude=[BusinessFault],
            state_storage=self.breaker_storage or _storage(s),
            throw_new_error_on_trip=False,  # the call that trips it keeps its own error
            name="billing",
        )
        self.session_values = {
            "values": {"item": [{"key": "BU_ID", "value": s.billing_business_unit}]}
        }

    # ------------------------------------------------------------------ calling

    def call(self, operation: str, input_attributes: Mapping[str, Any]) -> dict[str, Any]:
        """Send ``operation`` with ``input_attributes`` (the request's ``inputAttributes``,
        as nested dicts and lists) and return the response as nested dicts and lists (an
        operation with an empty response returns ``{}``)."""
        if operation not in self.operations:
            raise BusinessFault(operation, "ADAPTER.UNKNOWN_OPERATION", "not a CIL operation")
        s = self.settings
        retrying = Retrying(
            stop=stop_after_attempt(s.billing_retries + 1),
            retry=retry_if_exception(_retryable),
            wait=self._backoff,
            sleep=self.sleep,
            reraise=True,
        )
        attempts = 0
        started = time.perf_counter()
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    result = self._attempt(operation, input_attributes)
        except BillingError as error:
            error.attempts = attempts
            self._record(error)
            raise
        log.info(
            "billing.call",
            operation=operation,
            attempts=attempts,
            ms=round(1000 * (time.perf_counter() - started), 1),
        )
        return result

    def _attempt(self, operation: str, input_attributes: Mapping[str, Any]) -> dict[str, Any]:
        try:
            result: dict[str, Any] = self.breaker.call(self._send, operation, input_attributes)
        except pybreaker.CircuitBreakerError:
            raise CircuitOpen(operation, self._retry_after()) from None
        return result

    def _send(self, operation: str, input_attributes: Mapping[str, Any]) -> dict[str, Any]:
        self.transport.reset()
        method = getattr(self.service, operation)
        try:
            result = method(
                inputAttributes=dict(input_attributes), sessionChangeRequest=self.session_values
            )
        except Exception as exc:  # classified below; nothing is swallowed
            raise self._classified(operation, exc) from exc
        if result is None:
            return {}
        response_type = self._response_types[operation]
        plain = _plain(serialize_object(result, dict))
        if len(response_type.elements) == 1:  # zeep returned the only child, not the response
            plain = {response_type.elements[0][0]: plain}
        shaped: dict[str, Any] = _shaped(plain, response_type)
        return shaped

    # ------------------------------------------------------------------ classification

    def _classified(self, operation: str, exc: Exception) -> BillingError:
        exchange = self.transport.exchange
        error = _classify(operation, exc, exchange)
        error.request_xml = exchange.request
        error.response_xml = exchange.response
        error.http_status = exchange.status
        return error

    def _record(self, error: BillingError) -> None:
        kind = "business" if isinstance(error, BusinessFault) else getattr(error, "reason", "")
        self.recent_failures.append(
            FailedCall(
                at=datetime.now(UTC),
                operation=error.operation,
                kind=kind,
                message=error.message,
                attempts=error.attempts,
                http_status=error.http_status,
                request_xml=error.request_xml,
                response_xml=error.response_xml,
            )
        )
        # A refusal is billing's answer, routine for the caller to handle; a transient failure
        # is billing not answering, which operations want to see.
        emit = log.info if isinstance(error, BusinessFault) else log.warning
        emit("billing.call_failed", kind=kind, error=error.message, **describe(error))

    # ------------------------------------------------------------------ backoff and breaker

    def _backoff(self, state: RetryCallState) -> float:
        """Exponential backoff with full jitter: uniform(0, base * 2^(n-1)), capped."""
        ceiling = min(self.settings.billing_backoff * 2 ** (state.attempt_number - 1), 30.0)
        return self.rng.uniform(0, ceiling)

    def _retry_after(self) -> float | None:
        opened = self.breaker._state_storage.opened_at  # pybreaker exposes no public getter
        if opened is None:
            return None
        return max(0.0, self.settings.billing_breaker_reset - _age(opened))


def build_gateway(settings: Settings, **overrides: Any) -> Gateway:
    """The process's gateway (the composition root keeps one)."""
    return Gateway(settings, **overrides)


def _storage(settings: Settings) -> Any:
    if settings.redis_url:
        import redis

        client = redis.Redis.from_url(settings.redis_url, socket_timeout=2)
        return pybreaker.CircuitRedisStorage(
            pybreaker.STATE_CLOSED, client, namespace="crm-adapter:billing"
        )
    return pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)


def _age(opened: datetime) -> float:
    if opened.tzinfo is None:
        opened = opened.replace(tzinfo=UTC)
    return (datetime.now(UTC) - opened).total_seconds()


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, TransientFailure) and not isinstance(exc, CircuitOpen)


def _classify(operation: str, exc: Exception, exchange: _Exchange) -> BillingError:
    """Business fault or transient failure, from what zeep or requests raised and what came
    back over HTTP."""
    if isinstance(exc, zeep.exceptions.Fault):
        code, text = _cms_fault(exc.detail)
        if code:
            return BusinessFault(operation, code, text or exc.message or "")
        faultcode = str(exc.code or "")
        if faultcode.rsplit(":", 1)[-1] == "Client":
            return BusinessFault(operation, "soap:Client", exc.message or "request refused")
        return TransientFailure(
            operation, "server_fault", f"{faultcode or 'fault'} without a business code: {exc}"
        )
    if isinstance(exc, _TooLarge):
        return TransientFailure(operation, "response_too_large", str(exc))
    if isinstance(exc, _Truncated):
        return TransientFailure(operation, "malformed_response", f"body cut off: {exc}")
    if isinstance(exc, requests.Timeout):
        return TransientFailure(operation, "timeout", f"no answer within the timeout ({exc})")
    if isinstance(exc, requests.ConnectionError):
        return TransientFailure(operation, "connection", str(exc))
    if isinstance(exc, requests.RequestException):
        return TransientFailure(operation, "connection", f"{type(exc).__name__}: {exc}")
    status = exchange.status or 0
    if isinstance(exc, zeep.exceptions.TransportError):
        status = exc.status_code or status
    if status in TRANSIENT_HTTP or status >= 500:  # and no SOAP fault (handled above)
        return TransientFailure(operation, f"http_{status}", f"HTTP {status}: {str(exc)[:300]}")
    if _is_html(exchange):
        return TransientFailure(operation, "html_page", f"HTTP {status} with an HTML page")
    if isinstance(exc, zeep.exceptions.TransportError):
        if status == 200:
            return TransientFailure(operation, "malformed_response", str(exc.message)[:300])
        return BusinessFault(operation, f"HTTP.{status}", str(exc.message)[:300])
    if isinstance(exc, zeep.exceptions.DTDForbidden | zeep.exceptions.EntitiesForbidden):
        return TransientFailure(operation, "unsafe_response", f"{type(exc).__name__}: {exc}")
    if isinstance(exc, zeep.exceptions.XMLSyntaxError | etree.XMLSyntaxError):
        return TransientFailure(operation, "malformed_response", str(exc)[:300])
    if isinstance(exc, zeep.exceptions.ValidationError | TypeError):
        # zeep refused to build the request from the payload: a mapping defect, permanent.
        return BusinessFault(operation, "ADAPTER.INVALID_REQUEST", str(exc)[:500])
    if isinstance(exc, zeep.exceptions.Error):
        return TransientFailure(operation, "malformed_response", f"{type(exc).__name__}: {exc}")
    raise exc


def _is_html(exchange: _Exchange) -> bool:
    head = (exchange.response or b"").lstrip()[:15].lower()
    return "html" in exchange.content_type.lower() or head.startswith((b"<!doctype html", b"<html"))


def _cms_fault(detail: Any) -> tuple[str | None, str | None]:
    if detail is None:
        return None, None
    for element in detail.iter(f"{{{CIL_NS}}}cmsFault"):
        code = element.findtext(f"{{{CIL_NS}}}code")
        message = element.findtext(f"{{{CIL_NS}}}message")
        return (code.strip() if code else None), message
    return None, None


def _shaped(value: Any, xsd_type: Any) -> Any:
    """``value`` in the shape of the XSD: zeep gives a wrapper element that holds only a
    repeated element (``<services><service/>…</services>``) as the bare list, which would make
    the caller guess; the list is put back under its element's name, at every depth."""
    elements = getattr(xsd_type, "elements", None)
    if not elements:
        return value
    if isinstance(value, list) and len(elements) == 1:
        name, element = elements[0]
        return {name: [_shaped(item, element.type) for item in value]}
    if not isinstance(value, dict):
        return value
    shaped = dict(value)
    for name, element in elements:
        item = value.get(name)
        if item is None:
            continue
        if isinstance(item, list) and element.max_occurs != 1:
            shaped[name] = [_shaped(i, element.type) for i in item]
        else:
            shaped[name] = _shaped(item, element.type)
    return shaped


def _plain(value: Any) -> Any:
    """zeep's ordered dicts as plain dicts, recursively."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
