"""The Celery task ``crm.requests.apply`` run by a real worker (embedded broker): an enqueued
envelope is applied once, however often it is delivered."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from adapter.requests.apply import RequestStatus, request_status
from adapter.store import tables as t
from adapter.store.database import make_engine
from tests.integration.test_workers import CLI, Worker, _environment
from workers.app import WorkerApp
from workers.tasks.requests import APPLY


@pytest.fixture(scope="module")
def request_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """A worker of the crm.requests queue on a migrated SQLite store."""
    folder = tmp_path_factory.mktemp("requests")
    env = _environment(folder / "data")
    subprocess.run([*CLI, "db", "upgrade"], env=env, check=True, capture_output=True)
    worker = Worker("requests", env, folder / "worker.log", 1, queues="crm.requests")
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


def envelope(request_id: str, number: str) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "originating_user": "shop.backend",
        "channel": "shop",
        "operation": "customer.create",
        "payload": {
            "customer_number": number,
            "party": {"kind": "individual", "given_name": "Ana", "family_name": "Lange"},
        },
    }


def wait_for(worker: Worker, request_id: str, timeout: float = 30) -> RequestStatus:
    engine = make_engine(f"sqlite:///{worker.env['CRM_DATA_DIR']}/crm.sqlite3")
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status = request_status(engine, request_id)
            except Exception:
                status = None
            if status is not None and status.status != "received":
                return status
            time.sleep(0.2)
        log = Path(worker.log).read_text(errors="replace")
        pytest.fail(f"request {request_id} not applied within {timeout} s:\n{log[-3000:]}")
    finally:
        engine.dispose()


def changes_of(worker: Worker, request_id: str) -> int:
    engine = make_engine(f"sqlite:///{worker.env['CRM_DATA_DIR']}/crm.sqlite3")
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(t.change)
                    .where(t.change.c.request_id == request_id)
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_an_enqueued_request_is_applied_by_a_worker(
    request_worker: Worker, client: Callable[[dict[str, str]], WorkerApp]
) -> None:
    app = client(request_worker.env)
    app.send_task(APPLY, args=[envelope("task-req-1", "C-TASK-1")])
    status = wait_for(request_worker, "task-req-1")
    assert status.status in {"applied", "synced"} and status.change_id is not None


def test_a_request_delivered_twice_is_applied_once(
    request_worker: Worker, client: Callable[[dict[str, str]], WorkerApp]
) -> None:
    app = client(request_worker.env)
    for _ in range(2):
        app.send_task(APPLY, args=[envelope("task-req-2", "C-TASK-2")])
    wait_for(request_worker, "task-req-2")
    time.sleep(1.0)  # the second delivery has been taken by now (one worker, prefetch 1)
    assert changes_of(request_worker, "task-req-2") == 1


def test_a_refused_request_is_recorded_as_failed_with_its_reason(
    request_worker: Worker, client: Callable[[dict[str, str]], WorkerApp]
) -> None:
    app = client(request_worker.env)
    bad = envelope("task-req-3", "C-TASK-3")
    bad["payload"]["party"]["family_name"] = ""
    app.send_task(APPLY, args=[bad])
    status = wait_for(request_worker, "task-req-3")
    assert status.status == "failed" and status.reason is not None
