"""The CIL service without HTTP: bytes in, a status and bytes out.

Order of the checks, each answered by a fault naming what is wrong: well-formed and safe XML
(``adapter.xmlsafe``), a SOAP 1.1 envelope with one CIL request in its Body, the SOAPAction (when
sent) matching that request, the WS-Security UsernameToken, the request element against
``cil.xsd``, the BU_ID session item; then the operation's handler in one transaction, rolled
back on a business fault. Every response is validated against ``cil.xsd`` too (a simulator that
answered outside its own contract would make the tests lie).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from lxml import etree

from adapter import xmlsafe
from adapter.paths import CIL_NS, CIL_XSD

from .codes import CmsError
from .config import SimConfig
from .context import Context
from .operations import HANDLERS
from .soap import (
    Envelope,
    Node,
    SoapFault,
    cms_fault,
    envelope,
    fault,
    peek_operation,
    session_values,
    unpack,
    username_token,
)
from .state import SimStore

log = structlog.get_logger("adapter.testing.billing_sim")
MAX_SCHEMA_ERRORS = 3
MAX_MESSAGE_CHARS = 300  # a schema message quotes the bad value, which may be huge


def _shorten(text: str) -> str:
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return f"{text[: MAX_MESSAGE_CHARS - 30]}… ({len(text)} characters)"


def load_schema() -> Any:
    """``cil.xsd`` as an lxml ``XMLSchema`` (read from disk, never from the network)."""
    tree = etree.parse(str(CIL_XSD), xmlsafe.parser())
    return etree.XMLSchema(tree)


@dataclass(frozen=True)
class Parsed:
    """A request body after parsing: the root, or why there is none; and the operation it
    names, when that can be told (fault rules are matched on it)."""

    root: Any
    error: CmsError | None
    operation: str | None


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    operation: str | None
    code: str | None = None  # the fault code, None for a normal response
    user: str | None = None


class CilService:
    """The simulated BSCS behind the CIL interface."""

    def __init__(
        self,
        config: SimConfig,
        store: SimStore,
        schema: Any,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.schema = schema
        self.clock = clock or (lambda: datetime.now(UTC))

    def parse(self, data: bytes) -> Parsed:
        try:
            root = xmlsafe.parse(data, max_bytes=self.config.max_body_bytes, what="SOAP request")
        except xmlsafe.XmlRejected as exc:
            return Parsed(None, CmsError("CMS.SOAP0001", str(exc)), None)
        return Parsed(root, None, peek_operation(root))

    def handle(self, parsed: Parsed, soap_action: str | None = None) -> Reply:
        """Answer one request: a response envelope, or a fault envelope (HTTP 500)."""
        operation = parsed.operation
        user: str | None = None
        try:
            if parsed.error is not None:
                raise parsed.error
            env = unpack(parsed.root)
            operation = env.operation
            self._check_action(env, soap_action)
            user = self._authenticate(env)
            self._validate(env.payload)
            business_unit = self._business_unit(env.payload)
            with self.store.begin() as conn:
                ctx = Context(conn, business_unit, self.clock(), self.config)
                result = HANDLERS[env.operation](ctx, Node(env.payload))
                if self.config.validate_responses:  # inside: an invalid answer rolls back
                    self._check_response(env.operation, result)
            return Reply(200, envelope(result), operation, None, user)
        except CmsError as exc:
            return Reply(exc.http_status, cms_fault(exc), operation, exc.code, user)
        except SoapFault as exc:
            body = fault(exc.faultcode, exc.message, code=exc.code)
            return Reply(500, body, operation, exc.code, user)
        except Exception:
            log.exception("cil.internal_error", operation=operation)
            body = fault("Server", "internal error of the billing simulator", code="CMS.SYS0001")
            return Reply(500, body, operation, "CMS.SYS0001", user)

    @staticmethod
    def _check_action(env: Envelope, soap_action: str | None) -> None:
        action = (soap_action or "").strip().strip('"')
        expected = f"{CIL_NS}/{env.operation}"
        if action and action != expected:
            raise CmsError(
                "CMS.SOAP0003",
                f"SOAPAction {action} does not match the request element (expected {expected})",
                action,
            )

    def _authenticate(self, env: Envelope) -> str:
        user, password = username_token(env.headers)
        known = self.config.users.get(user)
        # compare even for an unknown user, so that timing does not tell which users exist
        expected = known if known is not None else secrets.token_hex(16)
        if not hmac.compare_digest(expected.encode(), password.encode()) or known is None:
            raise CmsError("CMS.SEC0002", "authentication failed: unknown user or wrong password")
        return user

    def _validate(self, payload: Any) -> None:
        if self.schema.validate(payload):
            return
        errors = list(self.schema.error_log)[:MAX_SCHEMA_ERRORS]
        described = "; ".join(
            f"line {e.line}: {_shorten(e.message.replace('{' + CIL_NS + '}', 'cil:'))}"
            for e in errors
        )
        first = errors[0] if errors else None
        raise CmsError(
            "CMS.VAL0001",
            f"the request does not match cil.xsd: {described}",
            *([f"line {first.line}", first.path] if first is not None else []),
        )

    def _business_unit(self, payload: Any) -> str:
        values = session_values(payload)
        unit = values.get("BU_ID")
        if unit is None:
            raise CmsError(
                "CMS.SES0001", "sessionChangeRequest has no BU_ID item; every call needs one"
            )
        unit = unit.strip()
        if unit not in self.config.business_units:
            raise CmsError("CMS.SES0002", f"business unit {unit} is not known here", unit)
        return unit

    def _check_response(self, operation: str, result: Any) -> None:
        if not self.schema.validate(result):
            problem = self.schema.error_log.last_error
            log.error("cil.invalid_response", operation=operation, problem=str(problem))
            raise CmsError("CMS.SYS0001", f"the simulator built an invalid {operation} response")
