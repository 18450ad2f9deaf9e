"""The simulator as an ASGI application: the CIL endpoint, the served WSDL/XSD, the admin API.

``create_app(config)`` builds everything (state file, schema, fault plan); nothing happens at
import. The SOAP endpoint is a plain ASGI callable rather than a Starlette request handler
because some injected faults need the connection itself: closing it without an answer, or in
the middle of one.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

import structlog
from lxml import etree
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from adapter import xmlsafe
from adapter.paths import CIL_WSDL, CIL_XSD

from .codes import CmsError
from .config import SimConfig
from .faults import FaultInjector, FaultPlanError, Rule
from .service import CilService, Parsed, Reply, load_schema
from .soap import XML_CONTENT_TYPE, cms_fault, fault
from .state import SimStore

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = structlog.get_logger("adapter.testing.billing_sim")

DRAIN_LIMIT = 16 * 1_048_576  # read (and drop) this much of an oversized body before the 413
ADMIN_BODY_MAX = 65_536
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_WSDL_NS = {
    "soap": "http://schemas.xmlsoap.org/wsdl/soap/",
    "xs": "http://www.w3.org/2001/XMLSchema",
}
_NOT_FOUND_PAGE = (
    "<!DOCTYPE html><html><head><title>404 Not Found</title></head><body>"
    "<h1>Not Found</h1><p>The requested URL was not found on this server.</p>"
    "<hr><address>Apache Server</address></body></html>"
)
_UNAVAILABLE_PAGE = (
    "<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body>"
    "<h1>Service Unavailable</h1><p>The server is temporarily unable to service your "
    "request.</p></body></html>"
)


class ListenerControl(Protocol):
    """What the server running the app offers to the ``refuse`` fault."""

    def refuse_for(self, seconds: float) -> None: ...


class Simulator:
    """Everything one simulator instance holds; the routes below are its thin edges."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.store = SimStore(config.state_path)
        self.store.open()
        self.service = CilService(config, self.store, load_schema())
        self.faults = FaultInjector(config.max_hang_seconds, config.faults_file)
        if config.faults_file is not None:
            self.faults.reload()
        self.listener: ListenerControl | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._wsdl_source = CIL_WSDL.read_bytes()
        self._xsd = CIL_XSD.read_bytes()
        self._wsdl_by_base: dict[str, bytes] = {}

    # ------------------------------------------------------------------ lifecycle

    def started(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()

    def release_waiters(self) -> None:
        """End every injected hang and latency now (called from any thread on stop)."""
        if self.loop is not None and self._stopping is not None:
            self.loop.call_soon_threadsafe(self._stopping.set)

    async def pause(self, seconds: float, receive: Receive | None = None) -> bool:
        """Sleep ``seconds``; stop early when the simulator stops or (given ``receive``) the
        client goes away. True when the whole time passed."""
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(asyncio.sleep(seconds))]
        if self._stopping is not None:
            waiters.append(asyncio.ensure_future(self._stopping.wait()))
        if receive is not None:
            waiters.append(asyncio.ensure_future(_until_disconnect(receive)))
        done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return waiters[0] in done

    # ----------------------------------------------------------------------- WSDL

    def base_url(self, request: Request) -> str:
        if self.config.public_url:
            return self.config.public_url.rstrip("/")
        host = request.headers.get("host", "")
        if not _HOST.match(host):
            server = request.scope.get("server") or ("127.0.0.1", 80)
            host = f"{server[0]}:{server[1]}"
        return f"{request.url.scheme}://{host}"

    def wsdl(self, base: str) -> bytes:
        """cil.wsdl with its service address and schema location pointing at ``base``."""
        if base not in self._wsdl_by_base:
            root = etree.fromstring(self._wsdl_source, xmlsafe.parser())
            for node in root.iterfind(".//soap:address", _WSDL_NS):
                node.set("location", f"{base}/ws/cil")
            for node in root.iterfind(".//xs:import", _WSDL_NS):
                node.set("schemaLocation", f"{base}/ws/cil?xsd=cil.xsd")
            self._wsdl_by_base[base] = bytes(
                etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
            )
        return self._wsdl_by_base[base]

    def xsd(self) -> bytes:
        return self._xsd


async def _until_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


def _connection(receive: Receive) -> Any:
    """uvicorn's request cycle behind ``receive``, whose transport a fault may close; None
    under another server (those faults then answer 502 instead)."""
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    return cycle if isinstance(transport, asyncio.BaseTransport) else None


async def _close(receive: Receive) -> bool:
    """Close the client's connection now (after what was sent so far); False if the server
    gives no way to."""
    cycle = _connection(receive)
    if cycle is None:
        return False
    cycle.transport.close()
    for _ in range(200):  # let uvicorn see the connection gone, so it adds no 500 of its own
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0.005)
    return True


class CilEndpoint:
    """``/ws/cil``: GET serves the WSDL and XSD, POST takes SOAP requests."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method == "POST":
            await self.soap(request, scope, receive, send)
            return
        if request.method in {"GET", "HEAD"}:
            response = self.documents(request)
        else:
            response = PlainTextResponse("use GET or POST", 405, headers={"Allow": "GET, POST"})
        await response(scope, receive, send)

    def documents(self, request: Request) -> Response:
        query = request.query_params
        if "wsdl" in query or request.url.query.lower() == "wsdl":
            return Response(self.sim.wsdl(self.sim.base_url(request)), media_type=XML_CONTENT_TYPE)
        if "xsd" in query:
            if query["xsd"] != "cil.xsd":
                return PlainTextResponse("no such schema; try ?xsd=cil.xsd", 404)
            return Response(self.sim.xsd(), media_type=XML_CONTENT_TYPE)
        return PlainTextResponse(
            "CilService (BSCS-style CIL v7, SOAP 1.1). WSDL: ?wsdl, schema: ?xsd=cil.xsd\n"
        )

    async def soap(self, request: Request, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        try:
            body, oversize = await self._read(request)
        except ClientDisconnect:
            log.info("cil.client_gone", stage="reading")
            return
        parsed = self.sim.service.parse(body) if oversize is None else Parsed(None, None, None)
        decision = self.sim.faults.decide(parsed.operation)
        if decision.delay and not await self.sim.pause(decision.delay):
            return
        rule = decision.rule
        runs_first = rule is not None and (
            rule.kind == "truncated" or (rule.kind == "drop" and rule.execute)
        )
        if rule is not None and not runs_first:
            status = await self._inject(rule, receive, send, scope)
            self._log(parsed.operation, started, injected=rule.kind, status=status)
            return
        if oversize is not None:
            error = CmsError(
                "CMS.SOAP0004",
                f"the request body is {oversize} bytes or more; at most "
                f"{self.sim.config.max_body_bytes} are accepted",
                http_status=413,
            )
            reply = Reply(413, cms_fault(error), None, error.code)
        else:
            reply = self.sim.service.handle(parsed, request.headers.get("soapaction"))
        if rule is not None:
            await self._cut(rule, reply, scope, receive, send)
            self._log(reply.operation, started, reply=reply, injected=rule.kind)
            return
        headers = {"Connection": "close"} if oversize is not None else None
        response = Response(reply.body, reply.status, headers, media_type=XML_CONTENT_TYPE)
        await response(scope, receive, send)
        self._log(reply.operation, started, reply=reply)

    async def _read(self, request: Request) -> tuple[bytes, int | None]:
        """The body, or (b"", size) when it is over the cap; an oversized body is drained up
        to a bound so that the client reads the 413 instead of a reset connection."""
        cap = self.sim.config.max_body_bytes
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

    async def _inject(self, rule: Rule, receive: Receive, send: Send, scope: Scope) -> int | None:
        """Answer with the fault ``rule`` names instead of running the request; the HTTP
        status sent, None when the connection closed without one."""
        response: Response | None = None
        if rule.kind == "cms_fault" and rule.fault is not None:
            f = rule.fault
            body = fault(f.faultcode, f.message, code=f.code, parameters=f.parameters)
            response = Response(body, 500, media_type=XML_CONTENT_TYPE)
        elif rule.kind == "http500":
            body = fault("Server", "Internal Server Error")
            response = Response(body, 500, media_type=XML_CONTENT_TYPE)
        elif rule.kind == "http503":
            headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after else None
            response = HTMLResponse(_UNAVAILABLE_PAGE, 503, headers)
        elif rule.kind == "html404":
            response = HTMLResponse(_NOT_FOUND_PAGE, 404)
        elif rule.kind == "hang":
            await self.sim.pause(rule.seconds, receive)
        elif rule.kind == "refuse" and self.sim.listener is not None:
            self.sim.listener.refuse_for(rule.seconds)
        if response is None and not await _close(receive):
            response = PlainTextResponse(f"{rule.kind}: not possible under this server", 502)
        if response is None:
            return None
        await response(scope, receive, send)
        return response.status_code

    async def _cut(
        self, rule: Rule, reply: Reply, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """``truncated``: half the answer, then the connection closes; ``drop`` with
        ``execute``: the request ran, nothing comes back."""
        if rule.kind == "truncated" and _connection(receive) is not None:
            await send(
                {
                    "type": "http.response.start",
                    "status": reply.status,
                    "headers": [
                        (b"content-type", XML_CONTENT_TYPE.encode()),
                        (b"content-length", str(len(reply.body)).encode()),
                    ],
                }
            )
            half = reply.body[: len(reply.body) // 2]
            await send({"type": "http.response.body", "body": half, "more_body": True})
        if not await _close(receive):
            response = PlainTextResponse(f"{rule.kind}: not possible under this server", 502)
            await response(scope, receive, send)

    def _log(
        self,
        operation: str | None,
        started: float,
        *,
        reply: Reply | None = None,
        injected: str | None = None,
        status: int | None = None,
    ) -> None:
        log.info(
            "cil.request",
            operation=operation,
            status=reply.status if reply else status,
            code=reply.code if reply else None,
            user=reply.user if reply else None,
            injected=injected,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )


# ------------------------------------------------------------------------------- admin


def _admin_routes(sim: Simulator) -> list[Route]:
    async def health(_: Request) -> Response:
        counts = sim.store.counts()
        plan = sim.faults.describe()
        return JSONResponse(
            {
                "status": "ok",
                "state_file": str(sim.config.state_path),
                **counts,
                "fault_rules": len(plan["rules"]),
                "faults_source": plan["source"],
            }
        )

    async def faults(request: Request) -> Response:
        try:
            if request.method == "PUT":
                body = await request.body()
                if len(body) > ADMIN_BODY_MAX:
                    return _problem(413, f"a fault plan is at most {ADMIN_BODY_MAX} bytes")
                try:
                    document = json.loads(body or b"{}")
                except json.JSONDecodeError as exc:
                    return _problem(400, f"the fault plan is not JSON: {exc}")
                sim.faults.set_plan(document, source="api")
            elif request.method == "DELETE":
                sim.faults.clear()
        except FaultPlanError as exc:
            return _problem(400, str(exc))
        if request.method != "GET":
            log.info("sim.faults_set", source=sim.faults.describe()["source"])
        return JSONResponse(sim.faults.describe())

    async def reload(_: Request) -> Response:
        if sim.faults.plan_file is None:
            return _problem(409, "the simulator was started without a fault plan file")
        try:
            sim.faults.reload()
        except FaultPlanError as exc:
            return _problem(400, str(exc))
        log.info("sim.faults_reloaded", file=str(sim.faults.plan_file))
        return JSONResponse(sim.faults.describe())

    async def reset(_: Request) -> Response:
        sim.store.reset()
        log.info("sim.reset")
        return JSONResponse({"status": "reset", **sim.store.counts()})

    return [
        Route("/admin/health", health, methods=["GET"]),
        Route("/admin/faults", faults, methods=["GET", "PUT", "DELETE"]),
        Route("/admin/faults/reload", reload, methods=["POST"]),
        Route("/admin/reset", reset, methods=["POST"]),
    ]


def _problem(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status)


def create_app(config: SimConfig) -> Starlette:
    """The simulator's ASGI app. Opens (or creates) the state file and reads the fault plan
    file now, so that a bad one stops the start with a clear error."""
    sim = Simulator(config)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        sim.started()
        log.info("sim.started", state_file=str(config.state_path))
        try:
            yield
        finally:
            sim.store.close()
            log.info("sim.stopped")

    app = Starlette(
        routes=[
            Route("/ws/cil", CilEndpoint(sim), methods=["GET", "HEAD", "POST"]),
            *_admin_routes(sim),
        ],
        lifespan=lifespan,
    )
    app.state.simulator = sim
    return app
