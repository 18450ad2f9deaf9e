"""Serving a uvicorn server from a daemon thread, for the services that tests, benchmarks and
the demo start inside their own process (the billing push endpoint, the billing simulator).

The caller binds the socket itself, so that port 0 gives a free port whose number is known
before the thread starts; this module only runs the server and waits until it listens.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn


def start_in_thread(
    server: uvicorn.Server,
    sock: socket.socket,
    *,
    name: str,
    what: str,
    startup_timeout: float = 10.0,
) -> threading.Thread:
    """Run ``server`` on ``sock`` in a daemon thread called ``name`` and return the thread
    once the server accepts requests. A server that fails or does not start within
    ``startup_timeout`` seconds raises :class:`RuntimeError` naming ``what`` it is, so that a
    test fails at once instead of later on a refused connection."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported to the starting thread below
            failure.append(exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if failure or not thread.is_alive():
            sock.close()
            raise RuntimeError(f"{what} did not start: {failure[:1]}")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"{what} did not start in {startup_timeout} s")
        time.sleep(0.01)
    return thread
