"""A real worker (embedded broker) applies an enqueued request, sends the drain, and the
request becomes ``synced`` with the customer in the billing simulator."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from adapter.requests.apply import RequestStatus, request_status
from adapter.store.database import make_engine
from adapter.testing.billing_sim import RunningSimulator
from tests.integration.conftest import SIM_PASSWORD, SIM_USER
from tests.integration.test_workers import CLI, Worker, _environment
from workers.app import WorkerApp
from workers.tasks.requests import APPLY


@pytest.fixture(scope="module")
def sync_worker(
    tmp_path_factory: pytest.TempPathFactory, sim: RunningSimulator
) -> Iterator[Worker]:
    """A worker of the crm.requests and crm.sync queues, billing being the simulator."""
    folder = tmp_path_factory.mktemp("sync")
    env = _environment(folder / "data")
    env |= {
        "CRM_BILLING_URL": sim.soap_url,
        "CRM_BILLING_USER": SIM_USER,
        "CRM_BILLING_PASSWORD": SIM_PASSWORD,
    }
    subprocess.run([*CLI, "db", "upgrade"], env=env, check=True, capture_output=True)
    worker = Worker("sync", env, folder / "worker.log", 1, queues="crm.requests,crm.sync")
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


def wait_synced(worker: Worker, request_id: str, timeout: float = 40) -> RequestStatus:
    engine = make_engine(f"sqlite:///{worker.env['CRM_DATA_DIR']}/crm.sqlite3")
    status: RequestStatus | None = None
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status = request_status(engine, request_id)
            except Exception:
                status = None
            if status is not None and status.status in ("synced", "failed"):
                return status
            time.sleep(0.2)
        log = Path(worker.log).read_text(errors="replace")
        pytest.fail(
            f"request {request_id} not synced ({status}) within {timeout} s:\n{log[-3000:]}"
        )
    finally:
        engine.dispose()


def test_an_enqueued_request_is_applied_and_synced_to_billing(
    sync_worker: Worker,
    client: Callable[[dict[str, str]], WorkerApp],
    admin: httpx.Client,
) -> None:
    app = client(sync_worker.env)
    envelope = {
        "request_id": "sync-task-1",
        "originating_user": "shop.backend",
        "channel": "shop",
        "operation": "customer.create",
        "payload": {
            "customer_number": "SW00001",
            "party": {"kind": "individual", "given_name": "Ana", "family_name": "Lange"},
            "account": {"number": "SW00001.1", "name": "Ana Lange"},
        },
    }
    app.send_task(APPLY, args=[envelope])
    status = wait_synced(sync_worker, "sync-task-1")
    assert status.status == "synced", status.reason
    assert status.legacy_ids is not None
    account_ids = next(iter(status.legacy_ids["accounts"].values()))
    assert account_ids["cs_id_pub"] == "SW00001.1"
