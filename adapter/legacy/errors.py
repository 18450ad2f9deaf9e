"""How a call to the billing system failed, in two kinds that decide what happens next.

- :class:`BusinessFault`: billing understood the request and refused it (a ``cmsFault`` with a
  CMS code, or a SOAP client fault: the request itself is wrong). Permanent: repeating it
  gives the same answer, so it is not retried and goes to the dead-letter store with its code.
- :class:`TransientFailure`: the call did not get an answer about the request (timeout,
  connection refused or dropped, HTTP 5xx without a business fault, an HTML page, a truncated
  or unreadable body, the circuit breaker open). Retried with backoff; when retries run out it
  is raised to the caller, whose message is retried later.

Both carry the operation, the number of attempts and, for diagnosis, the raw request and
response of the last attempt (never logged raw: see :mod:`adapter.legacy.diagnostics`).
"""

from __future__ import annotations


class BillingError(Exception):
    """A call to the billing system that did not succeed."""

    permanent: bool = False

    def __init__(self, operation: str, message: str) -> None:
        super().__init__(f"{operation}: {message}")
        self.operation = operation
        self.message = message
        self.attempts = 1
        self.request_xml: bytes | None = None
        self.response_xml: bytes | None = None
        self.http_status: int | None = None


class BusinessFault(BillingError):
    """Billing refused the request; ``code`` is its CMS code (``CMS.RC6701``…) or, for a SOAP
    fault without one, the SOAP fault code (``soap:Client``)."""

    permanent = True

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(operation, f"{code} {message}")
        self.code = code
        self.fault_message = message


class TransientFailure(BillingError):
    """No answer about the request this time; ``reason`` says which kind (``timeout``,
    ``connection``, ``http_503``, ``html_page``, ``malformed_response``, ``server_fault``,
    ``circuit_open``…)."""

    def __init__(self, operation: str, reason: str, message: str) -> None:
        super().__init__(operation, f"{reason}: {message}")
        self.reason = reason


class CircuitOpen(TransientFailure):
    """The breaker in front of billing is open: the call was not attempted."""

    def __init__(self, operation: str, retry_after: float | None = None) -> None:
        wait = f"; next trial in about {retry_after:.0f} s" if retry_after else ""
        super().__init__(
            operation,
            "circuit_open",
            f"billing failed repeatedly and is not being called for now{wait}",
        )
