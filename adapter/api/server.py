"""Running the API under uvicorn (``crm-adapter serve``), on a socket bound here so that port 0
gives a free port whose address is announced before requests arrive."""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn

from adapter.settings import Settings

from .app import create_app


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve(
    settings: Settings,
    host: str,
    port: int,
    *,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM; ``announce`` gets the base URL once the socket is bound."""
    app = create_app(settings)
    sock = bind(host, port)
    if announce is not None:
        announce(base_url(host, int(sock.getsockname()[1])))
    config = uvicorn.Config(
        app, lifespan="off", log_config=None, access_log=False, workers=1, server_header=False
    )
    uvicorn.Server(config).run(sockets=[sock])
