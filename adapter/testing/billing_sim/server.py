"""Running the simulator: in the foreground (the CLI) or in a background thread (tests,
benchmarks, the demo), on a socket this module binds itself so that port 0 gives a free port
with no race, and so that the ``refuse`` fault can stop and restart listening."""

from __future__ import annotations

import asyncio
import functools
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import structlog
import uvicorn

from adapter.httpthread import start_in_thread

from .app import Simulator, create_app
from .config import SimConfig

BACKLOG = 128
REOPEN_ATTEMPTS = 20
log = structlog.get_logger("adapter.testing.billing_sim")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP (not 0): asyncio turns Nagle off only on sockets that say so,
    # and with Nagle on every answer on a kept-alive connection waits 40 ms for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class _Listeners:
    """Stops listening for a while and starts again on the same address (``refuse``)."""

    def __init__(self, server: uvicorn.Server, host: str, port: int) -> None:
        self.server = server
        self.host = host
        self.port = port
        self._reopen: asyncio.TimerHandle | None = None

    def refuse_for(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        for listener in self.server.servers:
            listener.close()
        if self._reopen is not None:
            self._reopen.cancel()
        self._reopen = loop.call_later(seconds, lambda: loop.create_task(self._listen_again()))

    async def _listen_again(self, attempt: int = 1) -> None:
        self._reopen = None
        if self.server.should_exit:
            return
        try:
            await self._listen()
        except OSError as exc:  # the port taken meanwhile: try again, say so
            log.error("sim.listen_failed", port=self.port, attempt=attempt, error=str(exc))
            if attempt < REOPEN_ATTEMPTS:
                loop = asyncio.get_running_loop()
                self._reopen = loop.call_later(
                    0.5, lambda: loop.create_task(self._listen_again(attempt + 1))
                )

    async def _listen(self) -> None:
        config = self.server.config
        # The same protocol factory uvicorn's startup() builds for its own listeners.
        factory = functools.partial(
            config.http_protocol_class,  # type: ignore[call-arg]
            config=config,
            server_state=self.server.server_state,
            app_state=self.server.lifespan.state,
        )
        sock = _bind(self.host, self.port)
        listener = await asyncio.get_running_loop().create_server(
            factory, sock=sock, backlog=BACKLOG
        )
        self.server.servers[:] = [listener]


def _server(
    config: SimConfig, host: str, port: int
) -> tuple[uvicorn.Server, socket.socket, Simulator]:
    app = create_app(config)
    sim: Simulator = app.state.simulator
    sock = _bind(host, port)
    actual_port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=actual_port,
            http="h11",
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=2,
            backlog=BACKLOG,
        )
    )
    sim.listener = _Listeners(server, host, actual_port)
    return server, sock, sim


def serve(
    config: SimConfig,
    host: str = "127.0.0.1",
    port: int = 8088,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Run in the foreground until interrupted (Ctrl-C / SIGTERM); ``announce`` gets the base
    URL once the socket is bound (the only way to learn it when ``port`` is 0)."""
    server, sock, _sim = _server(config, host, port)
    if announce is not None:
        announce(_base_url(host, int(sock.getsockname()[1])))
    server.run(sockets=[sock])


def _base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@dataclass
class RunningSimulator:
    """A simulator serving in a background thread; ``stop()`` (or leaving the ``with``
    block) shuts it down, ending any injected hang at once."""

    url: str
    port: int
    config: SimConfig
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _sim: Simulator = field(repr=False)

    @property
    def soap_url(self) -> str:
        return f"{self.url}/ws/cil"

    @property
    def wsdl_url(self) -> str:
        return f"{self.url}/ws/cil?wsdl"

    @property
    def admin_url(self) -> str:
        return f"{self.url}/admin"

    def stop(self, timeout: float = 10.0) -> None:
        if not self._thread.is_alive():
            return
        self._sim.release_waiters()
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_in_thread(
    config: SimConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: Mapping[str, Any] | None = None,
    startup_timeout: float = 10.0,
) -> RunningSimulator:
    """Start a simulator on ``host:port`` (0: a free port) in a daemon thread and return
    once it accepts requests. ``faults`` is an initial fault plan (as ``PUT /admin/faults``
    takes it)."""
    server, sock, sim = _server(config, host, port)
    if faults is not None:
        sim.faults.set_plan(faults, source="api")
    port = int(sock.getsockname()[1])
    thread = start_in_thread(
        server,
        sock,
        name=f"billing-sim-{port}",
        what="the billing simulator",
        startup_timeout=startup_timeout,
    )
    return RunningSimulator(_base_url(host, port), port, config, server, thread, sim)
