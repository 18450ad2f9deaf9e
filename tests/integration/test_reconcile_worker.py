"""``crm.reconcile.run`` in a real worker process: a request applied and synced by the worker,
billing changed behind the CRM's back, then the task (as beat sends it) records the drift."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pybreaker
import pytest
from sqlalchemy import select

from adapter.legacy import Gateway
from adapter.mapping import load_mappings
from adapter.settings import Settings
from adapter.store import tables as t
from adapter.store.database import make_engine
from adapter.testing.billing_sim import RunningSimulator
from tests.integration.conftest import SIM_PASSWORD, SIM_USER
from tests.integration.test_sync_worker import wait_synced
from tests.integration.test_workers import CLI, Worker, _environment
from workers.app import WorkerApp
from workers.tasks.reconcile import RUN
from workers.tasks.requests import APPLY


@pytest.fixture(params=["embedded", "redis"])
def reconcile_worker(
    request: pytest.FixtureRequest, tmp_path: Path, sim: RunningSimulator
) -> Iterator[Worker]:
    """A worker of the request, sync and maintenance queues on the embedded broker, or on the
    test Redis (under a key prefix of its own) when CRM_TEST_BROKER_URL is set."""
    env = _environment(tmp_path / "data")
    env |= {
        "CRM_BILLING_URL": sim.soap_url,
        "CRM_BILLING_USER": SIM_USER,
        "CRM_BILLING_PASSWORD": SIM_PASSWORD,
    }
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_url")
        env |= {"CRM_BROKER_URL": redis_url, "CRM_BROKER_KEY_PREFIX": f"crm-rc-{time.time_ns()}:"}
    subprocess.run([*CLI, "db", "upgrade"], env=env, check=True, capture_output=True)
    queues = "crm.requests,crm.sync,crm.maintenance"
    worker = Worker("reconcile", env, tmp_path / "worker.log", 1, queues=queues)
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


def wait_run(worker: Worker, timeout: float = 60) -> Any:
    """The first reconciliation run, once finished."""
    engine = make_engine(f"sqlite:///{worker.env['CRM_DATA_DIR']}/crm.sqlite3")
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                run = conn.execute(select(t.reconcile_run).order_by(t.reconcile_run.c.id)).first()
                if run is not None and run.status != "running":
                    found = list(conn.execute(select(t.reconcile_finding)))
                    return run, found
            time.sleep(0.2)
        log = Path(worker.log).read_text(errors="replace")
        pytest.fail(f"no reconciliation run finished within {timeout} s:\n{log[-3000:]}")
    finally:
        engine.dispose()


def test_the_task_records_drift_made_in_billing(
    reconcile_worker: Worker,
    client: Callable[[dict[str, str]], WorkerApp],
    admin: httpx.Client,
    sim: RunningSimulator,
) -> None:
    app = client(reconcile_worker.env)
    app.send_task(
        APPLY,
        args=[
            {
                "request_id": "rcw-1",
                "originating_user": "shop.backend",
                "channel": "shop",
                "operation": "customer.create",
                "payload": {
                    "customer_number": "RW00001",
                    "party": {"kind": "individual", "given_name": "Ana", "family_name": "Lange"},
                    "account": {"number": "RW00001.1", "name": "Ana Lange"},
                },
            }
        ],
    )
    assert wait_synced(reconcile_worker, "rcw-1").status == "synced"
    settings = Settings(
        billing_url=sim.soap_url, billing_user=SIM_USER, billing_password=SIM_PASSWORD
    )
    gateway = Gateway(settings, breaker_storage=pybreaker.CircuitMemoryStorage("closed"))
    mappings = load_mappings()
    gateway.call(
        "CustomerWrite",
        mappings.outbound(
            "CustomerWrite",
            {
                "account": {"number": "RW00001.1"},
                "customer": {"party": {"kind": "individual", "family_name": "Lang"}},
            },
        ),
    )
    app.send_task(RUN, kwargs={"batch": 10})
    run, found = wait_run(reconcile_worker)
    assert (run.status, run.checked, run.principal) == ("completed", 1, "reconciler")
    assert [(f.entity_kind, f.field, f.kind) for f in found] == [
        ("customer", "party.family_name", "field_mismatch")
    ]
