"""Running the endpoint under uvicorn: in the foreground (``crm-adapter notifications
serve``) or in a daemon thread (tests, embedding), on a socket bound here so that port 0
gives a free port whose number is known before requests arrive."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from sqlalchemy import Engine

from adapter.httpthread import start_in_thread
from adapter.settings import Settings

from .endpoint import PATH, Enqueue, create_app


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _server(app: Any) -> uvicorn.Server:
    return uvicorn.Server(
        uvicorn.Config(app, lifespan="off", log_config=None, access_log=False, workers=1)
    )


def serve(
    settings: Settings,
    host: str,
    port: int,
    *,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve until interrupted; ``announce`` gets the endpoint URL once the socket is bound."""
    app = create_app(settings)
    sock = _bind(host, port)
    if announce is not None:
        announce(_base_url(host, int(sock.getsockname()[1])) + PATH)
    _server(app).run(sockets=[sock])


@dataclass
class RunningEndpoint:
    """An endpoint served from a daemon thread; ``stop()`` (or leaving ``with``) ends it."""

    base_url: str
    url: str
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> RunningEndpoint:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def run_in_thread(
    settings: Settings,
    *,
    engine: Engine | None = None,
    enqueue: Enqueue | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 10.0,
) -> RunningEndpoint:
    """Start the endpoint on ``host:port`` (0: a free port) and return once it listens."""
    app = create_app(settings, engine=engine, enqueue=enqueue)
    sock = _bind(host, port)
    port = int(sock.getsockname()[1])
    server = _server(app)
    thread = start_in_thread(
        server,
        sock,
        name=f"notifications-{port}",
        what="the notification endpoint",
        startup_timeout=startup_timeout,
    )
    base = _base_url(host, port)
    return RunningEndpoint(base, base + PATH, server, thread)
