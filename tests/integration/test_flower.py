"""Flower, started by ``crm-adapter flower`` against the test Redis, shows the tasks a real
worker ran (issue 5: "Flower shows the tasks when run on Redis")."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_workers import (  # noqa: F401 - fixtures used by name below
    CLI,
    Worker,
    _ping,
    redis_env,
    start_worker,
    worker_env,
)

FLOWER_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def flower(redis_env: dict[str, str], tmp_path: Path) -> Iterator[str]:  # noqa: F811
    """A Flower process on a free port, on the same Redis (and key prefix) as the workers;
    its REST API open (FLOWER_UNAUTHENTICATED_API), as a test on loopback may have it."""
    port = _free_port()
    env = {**redis_env, "FLOWER_UNAUTHENTICATED_API": "true"}
    log = tmp_path / "flower.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*CLI, "flower", f"--port={port}", "--address=127.0.0.1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + FLOWER_TIMEOUT
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthcheck", timeout=2).text == "OK":
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"flower did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.2)
        yield url
    finally:
        if process.poll() is None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _tasks(url: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/api/tasks", timeout=10)
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


def test_flower_lists_a_task_a_worker_ran_on_redis(
    flower: str,
    redis_env: dict[str, str],  # noqa: F811
    start_worker: Callable[..., Worker],  # noqa: F811
) -> None:
    """A ping answered by a real worker appears in Flower's task list as succeeded, with the
    worker's name: Flower receives the workers' task events through Redis."""
    worker = start_worker("flowered", redis_env)
    done = _ping(redis_env, timeout=30)
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + FLOWER_TIMEOUT
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        seen = [t for t in _tasks(flower).values() if t.get("name") == "crm.maintenance.ping"]
        if any(t.get("state") == "SUCCESS" for t in seen):
            break
        time.sleep(0.5)
    assert seen, "Flower shows no crm.maintenance.ping task"
    done_task = next(t for t in seen if t.get("state") == "SUCCESS")
    assert done_task["worker"] == worker.name
