"""``POST /soap/notifications``: where billing pushes what changed on its side.

The order of the checks, each refused by a SOAP fault that names the problem (and nothing
stored): the body size cap (HTTP 413), safe and well-formed XML (``adapter.xmlsafe``: no
DOCTYPE, no entities, no network), a SOAP 1.1 envelope with one notification in its Body, the
SOAPAction when sent, the WS-Security UsernameToken against the configured billing
credentials, the notification against ``notifications.xsd``. Then the event is written to
``inbound_event`` and committed, and only then acknowledged: an acknowledged event is never
lost. A repeated ``eventId`` is acknowledged again (status ``duplicate``) and not stored twice,
so billing may resend whatever it is unsure about. Applying is a worker's job
(``crm.events.apply``); the endpoint never waits for it, so billing is not slowed down by the
CRM's own work, and a rejection (unknown subscriber, stale event) is recorded on the event.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import structlog
from lxml import etree
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from adapter import xmlsafe
from adapter.paths import WSDL_DIR
from adapter.settings import Settings
from adapter.soap import (
    XML_CONTENT_TYPE,
    SoapError,
    envelope,
    error_fault,
    fault,
    q,
    unpack,
    username_token,
)
from adapter.store import tables as t

from . import FAULT_PREFIX, NOTIFY_NS
from .events import operation_of, to_json

log = structlog.get_logger("adapter.notifications")

PATH: Final = "/soap/notifications"
NOTIFY_WSDL: Final = WSDL_DIR / "notifications.wsdl"
NOTIFY_XSD: Final = WSDL_DIR / "notifications.xsd"
SCHEMAS: Final = {"notifications.xsd": NOTIFY_XSD, "cil.xsd": WSDL_DIR / "cil.xsd"}
DRAIN_LIMIT: Final = 16 * 1_048_576  # read (and drop) this much of an oversized body
MAX_SCHEMA_ERRORS: Final = 3
MAX_MESSAGE_CHARS: Final = 300  # a schema message quotes the bad value, which may be huge

Enqueue = Callable[[str], None]


def load_schema() -> Any:
    """``notifications.xsd`` (with the ``cil.xsd`` it imports) as an lxml ``XMLSchema``, read
    from disk with the hardened parser (no network)."""
    return etree.XMLSchema(etree.parse(str(NOTIFY_XSD), xmlsafe.parser()))


def _shorten(text: str) -> str:
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return f"{text[: MAX_MESSAGE_CHARS - 30]}… ({len(text)} characters)"


def _client(code: str, message: str, *parameters: str) -> SoapError:
    return SoapError("Client", f"{FAULT_PREFIX}.{code}", message, *parameters)


class NotificationService:
    """The endpoint without HTTP: checked bytes in, a stored event and its acknowledgement
    out. ``enqueue`` is called with the id of every newly stored event, after its commit."""

    def __init__(self, settings: Settings, engine: Engine, enqueue: Enqueue | None) -> None:
        self.settings = settings
        self.engine = engine
        self.enqueue = enqueue
        self.schema = load_schema()

    # ------------------------------------------------------------------ checks

    def check(self, body: bytes, soap_action: str | None) -> tuple[str, Any, str]:
        """(operation, notification element, authenticated user), or :class:`SoapError`."""
        try:
            root = xmlsafe.parse(
                body, max_bytes=self.settings.notify_max_body_bytes, what="SOAP request"
            )
        except xmlsafe.XmlRejected as exc:
            raise _client("SOAP0001", str(exc)) from None
        env = unpack(root, prefix=FAULT_PREFIX)
        user = self._authenticate(env.headers)
        operation = operation_of(env.payload)
        if operation is None:
            raise _client(
                "SOAP0003",
                f"no operation takes the element {env.payload.tag}; expected one of the "
                f"notifications of {NOTIFY_NS}",
            )
        action = (soap_action or "").strip().strip('"')
        expected = f"{NOTIFY_NS}/{operation}"
        if action and action != expected:
            raise _client(
                "SOAP0003",
                f"SOAPAction {action} does not match the notification (expected {expected})",
                action,
            )
        self._validate(env.payload)
        return operation, env.payload, user

    def _authenticate(self, headers: list[Any]) -> str:
        user, password = username_token(headers, prefix=FAULT_PREFIX)
        expected_user = self.settings.notify_user.encode()
        expected_password = self.settings.notify_password.get_secret_value().encode()
        # both compared whatever the first says, so timing tells nothing about which is wrong
        user_ok = hmac.compare_digest(user.encode(), expected_user)
        password_ok = hmac.compare_digest(password.encode(), expected_password)
        if not (user_ok and password_ok):
            raise _client("SEC0002", "authentication failed: unknown user or wrong password")
        return user

    def _validate(self, payload: Any) -> None:
        if self.schema.validate(payload):
            return
        errors = list(self.schema.error_log)[:MAX_SCHEMA_ERRORS]
        described = "; ".join(
            f"line {e.line}: {_shorten(e.message.replace('{' + NOTIFY_NS + '}', 'ntf:'))}"
            for e in errors
        )
        raise _client("VAL0001", f"the notification does not match notifications.xsd: {described}")

    # ------------------------------------------------------------------ storing

    def store(self, operation: str, payload: Any) -> tuple[str, str]:
        """Commit the event (or find it stored before): (event id, ``received``|``duplicate``).
        The commit happens here, before any acknowledgement is built."""
        data = to_json(payload)
        event_id = data["eventId"]
        row = {
            "event_id": event_id,
            "operation": operation,
            "received_at": datetime.now(UTC),
            "status": "received",
            "reason": None,
            "payload": data,
            "billing_user": data.get("billingUser"),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(t.inbound_event).values(**row))
        except IntegrityError:
            with self.engine.connect() as conn:
                stored = conn.execute(
                    select(t.inbound_event.c.operation).where(
                        t.inbound_event.c.event_id == event_id
                    )
                ).scalar_one_or_none()
            if stored is None:
                raise  # not a duplicate: a real failure of the store
            if stored != operation:
                raise _client(
                    "EVT0001",
                    f"eventId {event_id} was already used for a {stored} notification",
                    event_id,
                ) from None
            return event_id, "duplicate"
        return event_id, "received"

    def acknowledgement(self, event_id: str, status: str) -> bytes:
        ack = etree.Element(q("notificationAck", NOTIFY_NS), nsmap={"ntf": NOTIFY_NS})
        etree.SubElement(ack, q("eventId", NOTIFY_NS)).text = event_id
        etree.SubElement(ack, q("status", NOTIFY_NS)).text = status
        return envelope(ack)

    def handle(self, body: bytes, soap_action: str | None) -> tuple[int, bytes, str | None]:
        """Answer one request (blocking: run in a thread): HTTP status, body, the id of a
        newly stored event (to enqueue) or None."""
        try:
            operation, payload, user = self.check(body, soap_action)
            event_id, status = self.store(operation, payload)
        except SoapError as exc:
            log.info("notify.refused", code=exc.code, message=exc.message)
            return exc.http_status, error_fault(exc), None
        except Exception:
            log.exception("notify.store_failed")
            body = fault(
                "Server",
                "the event could not be stored; it is not acknowledged, send it again",
                code=f"{FAULT_PREFIX}.SYS0001",
            )
            return 500, body, None
        log.info(
            "notify.received", operation=operation, event_id=event_id, status=status, user=user
        )
        return (
            200,
            self.acknowledgement(event_id, status),
            event_id if status == "received" else None,
        )

    def after_ack(self, event_id: str) -> None:
        """Hand a stored event to the workers; a failure leaves it ``received`` (logged), to
        be applied by ``crm-adapter notifications apply``: it is stored, so nothing is lost."""
        if self.enqueue is None:
            return
        try:
            self.enqueue(event_id)
        except Exception as exc:
            log.warning("notify.enqueue_failed", event_id=event_id, error=type(exc).__name__)


class _Documents:
    """The WSDL (its address pointing where it was asked from) and the schemas it imports."""

    def __init__(self) -> None:
        self._wsdl = NOTIFY_WSDL.read_bytes()
        self._by_base: dict[str, bytes] = {}

    def wsdl(self, base: str) -> bytes:
        if base not in self._by_base:
            root = etree.fromstring(self._wsdl, xmlsafe.parser())
            for node in root.iterfind(".//{http://schemas.xmlsoap.org/wsdl/soap/}address"):
                node.set("location", f"{base}{PATH}")
            for node in root.iterfind(".//{http://www.w3.org/2001/XMLSchema}import"):
                node.set("schemaLocation", f"{base}{PATH}?xsd=notifications.xsd")
            self._by_base[base] = bytes(
                etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
            )
        return self._by_base[base]

    def schema(self, name: str, base: str) -> bytes | None:
        """A schema by file name, its imports pointing back here (``notifications.xsd``
        imports ``cil.xsd``); None for a name not served."""
        path = SCHEMAS.get(name)
        if path is None:
            return None
        root = etree.fromstring(path.read_bytes(), xmlsafe.parser())
        for node in root.iterfind("{http://www.w3.org/2001/XMLSchema}import"):
            location = node.get("schemaLocation")
            if location in SCHEMAS:
                node.set("schemaLocation", f"{base}{PATH}?xsd={location}")
        return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


async def _read(request: Request, cap: int) -> tuple[bytes, int | None]:
    """The body, or (b"", size) when it is over the cap. An oversized body is read (and
    dropped) up to a bound, so that the client gets the 413 rather than a reset connection."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > DRAIN_LIMIT:
        return b"", int(declared)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= cap:
            chunks.append(chunk)
        else:
            chunks.clear()
            if size > DRAIN_LIMIT:
                break
    return (b"", size) if size > cap else (b"".join(chunks), None)


def _worker_enqueue(settings: Settings) -> Enqueue:
    """``crm.events.apply`` through the configured broker; the Celery app is built on first
    use (importing Celery costs time the endpoint need not spend at start)."""
    holder: list[Any] = []

    def send(event_id: str) -> None:
        from workers.app import create_app
        from workers.tasks.events import APPLY

        if not holder:
            holder.append(create_app(settings))
        holder[0].send_task(APPLY, args=[event_id])

    return send


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    enqueue: Enqueue | None = None,
) -> Starlette:
    """The endpoint's ASGI app. ``engine``: the store (default: ``settings.database_url``,
    which must be migrated); ``enqueue``: how a stored event reaches the workers (default:
    ``crm.events.apply`` when ``settings.notify_enqueue``, else nothing)."""
    if engine is None:
        from adapter.store.database import make_engine

        engine = make_engine(settings.database_url)
    if enqueue is None and settings.notify_enqueue:
        enqueue = _worker_enqueue(settings)
    service = NotificationService(settings, engine, enqueue)
    documents = _Documents()

    async def notifications(request: Request) -> Response:
        if request.method in {"GET", "HEAD"}:
            query = request.query_params
            if "wsdl" in query or request.url.query.lower() == "wsdl":
                base = str(request.base_url).rstrip("/")
                return Response(documents.wsdl(base), media_type=XML_CONTENT_TYPE)
            if "xsd" in query:
                base = str(request.base_url).rstrip("/")
                schema = documents.schema(query["xsd"], base)
                if schema is None:
                    return PlainTextResponse("no such schema; try ?xsd=notifications.xsd", 404)
                return Response(schema, media_type=XML_CONTENT_TYPE)
            return PlainTextResponse("NotificationService (billing push, SOAP 1.1). WSDL: ?wsdl\n")
        try:
            body, oversize = await _read(request, settings.notify_max_body_bytes)
        except ClientDisconnect:
            return Response(status_code=499)
        if oversize is not None:
            error = SoapError(
                "Client",
                f"{FAULT_PREFIX}.SOAP0004",
                f"the request body is {oversize} bytes or more; at most "
                f"{settings.notify_max_body_bytes} are accepted",
                http_status=413,
            )
            return Response(
                error_fault(error),
                413,
                {"Connection": "close"},
                media_type=XML_CONTENT_TYPE,
            )
        status, answer, stored = await run_in_threadpool(
            service.handle, body, request.headers.get("soapaction")
        )
        if stored is not None:
            await run_in_threadpool(service.after_ack, stored)
        return Response(answer, status, media_type=XML_CONTENT_TYPE)

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok\n")

    app = Starlette(
        routes=[
            Route(PATH, notifications, methods=["GET", "HEAD", "POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )
    app.state.notifications = service
    return app
