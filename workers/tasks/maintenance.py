"""Tasks of the ``crm.maintenance`` queue."""

from __future__ import annotations

import os
import time
from typing import Any, Final

import structlog
from celery import Celery, Task

log = structlog.get_logger(__name__)

PING: Final = "crm.maintenance.ping"
#: Longest ``delay`` a ping accepts; the task's soft time limit still applies.
PING_DELAY_MAX: Final = 3600.0


def ping(task: Task[Any, Any], delay: float = 0.0) -> dict[str, Any]:
    """Answer "pong" with the worker's node name and process id: proof that a worker takes
    messages from ``crm.maintenance`` and that results come back (``crm-adapter ping``).

    ``delay`` makes the answer wait that many seconds first: a long task to check redelivery
    after a lost worker, or time limits, without any other side effect. Idempotent, like every
    task on late acks."""
    if not 0 <= delay <= PING_DELAY_MAX:
        raise ValueError(f"delay must be between 0 and {PING_DELAY_MAX:g} seconds")
    redelivered = bool((task.request.delivery_info or {}).get("redelivered"))
    log.info("ping.started", delay=delay, redelivered=redelivered)
    if delay:
        time.sleep(delay)
    return {
        "answer": "pong",
        "hostname": task.request.hostname,
        "pid": os.getpid(),
        "redelivered": redelivered,
    }


def register(app: Celery) -> None:
    # The ping keeps its result: it exists to be waited for.
    app.task(name=PING, bind=True, ignore_result=False)(ping)
