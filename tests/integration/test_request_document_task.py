"""The Celery task ``crm.requests.apply_document`` run by a real worker, on SQLite with the
embedded broker and on PostgreSQL with Redis: an enqueued BSCS-style XML request document is
mapped and applied like an envelope; a refused one is acknowledged, logged without its
content, and writes nothing."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from adapter.requests.apply import RequestStatus, request_status
from adapter.store import tables as t
from adapter.store.database import make_engine
from tests.integration.test_workers import CLI, Worker, _environment
from tests.unit.requests.xml_examples import document
from workers.app import WorkerApp
from workers.config import REQUESTS
from workers.tasks.requests import APPLY_DOCUMENT, PRINCIPAL

TIMEOUT = 60.0  # seconds for a worker on a contended machine


class Running:
    """A worker of the crm.requests queue and an engine on its store."""

    def __init__(self, worker: Worker, engine: Engine) -> None:
        self.worker = worker
        self.engine = engine

    def status(self, request_id: str) -> RequestStatus:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                status = request_status(self.engine, request_id)
            except Exception:  # not recorded yet
                status = None
            if status is not None and status.status != "received":
                return status
            time.sleep(0.2)
        pytest.fail(f"{request_id} not applied within {TIMEOUT} s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return Path(self.worker.log).read_text(errors="replace")

    def wait_log(self, text: str) -> str:
        """The worker's log once it holds ``text``."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            log = self.log()
            if text in log:
                return log
            time.sleep(0.2)
        pytest.fail(f"no {text!r} in the worker's log within {TIMEOUT} s:\n{self.log()[-3000:]}")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def running(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp(f"documents-{request.param}")
    env = _environment(folder / "data")
    prefix = ""
    if request.param == "sqlite":
        subprocess.run(
            [*CLI, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=180
        )
        url = f"sqlite:///{env['CRM_DATA_DIR']}/crm.sqlite3"
    else:
        url = request.getfixturevalue("pg_database")
        prefix = f"crm-test-{uuid.uuid4().hex[:12]}:"
        env |= {
            "CRM_DATABASE_URL": url,
            "CRM_BROKER_URL": request.getfixturevalue("redis_url"),
            "CRM_BROKER_KEY_PREFIX": prefix,
        }
    worker = Worker(f"documents-{request.param}", env, folder / "worker.log", 1, queues=REQUESTS)
    engine = make_engine(url)
    try:
        worker.wait_ready()
        yield Running(worker, engine)
    finally:
        worker.stop()
        engine.dispose()
        if prefix:
            import redis

            client = redis.Redis.from_url(env["CRM_BROKER_URL"])
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)
            client.close()


def new_customer(request_id: str, number: str, family_name: str = "Lange") -> str:
    body = f"""
  <customerNew>
    <custCode>{number}</custCode>
    <individual><firstName>Ana</firstName><lastName>{family_name}</lastName></individual>
    <account><csIdPub>A{number}</csIdPub><name>Ana {family_name}</name></account>
  </customerNew>"""
    return document(request_id, body, user="shop.backend")


def test_the_task_is_registered_and_goes_to_the_requests_queue(
    running: Running, client: Callable[[dict[str, str]], WorkerApp]
) -> None:
    app = client(running.worker.env)
    assert APPLY_DOCUMENT in app.tasks
    assert app.amqp.router.route({}, APPLY_DOCUMENT, (), {})["queue"].name == REQUESTS


def test_an_enqueued_xml_document_is_applied_by_a_worker(
    running: Running, client: Callable[[dict[str, str]], WorkerApp]
) -> None:
    suffix = uuid.uuid4().hex[:8]
    request_id = f"xml-task-{suffix}"
    app = client(running.worker.env)
    app.send_task(APPLY_DOCUMENT, args=[new_customer(request_id, f"X-{suffix}")])
    status = running.status(request_id)
    assert status.status in ("applied", "synced"), status.reason
    assert status.operation == "customer.create"
    with running.engine.connect() as conn:
        change = conn.execute(select(t.change).where(t.change.c.request_id == request_id)).one()
        envelope = conn.execute(
            select(t.request.c.envelope).where(t.request.c.request_id == request_id)
        ).scalar_one()
    assert (change.originating_user, change.channel, change.principal) == (
        "shop.backend",
        "shop",
        PRINCIPAL,
    )
    assert envelope["payload"]["party"] == {
        "kind": "individual",
        "given_name": "Ana",
        "family_name": "Lange",
    }


def test_a_refused_document_is_acknowledged_logged_without_content_and_writes_nothing(
    running: Running, client: Callable[[dict[str, str]], WorkerApp]
) -> None:
    suffix = uuid.uuid4().hex[:8]
    request_id = f"xml-bad-{suffix}"
    secret = f"Geheimname{suffix}"
    bad = new_customer(request_id, f"X-{suffix}", family_name=secret).replace(
        "<custCode>", "<custCode>not a code "
    )
    app = client(running.worker.env)
    app.send_task(APPLY_DOCUMENT, args=[bad])
    log = running.wait_log("request.document_rejected")
    # a good request sent after it is applied: the bad one was acknowledged, not retried
    after = f"xml-after-{suffix}"
    app.send_task(APPLY_DOCUMENT, args=[new_customer(after, f"Y-{suffix}")])
    assert running.status(after).status in ("applied", "synced")
    assert secret not in running.log()
    assert "rule=schema" in log or '"rule": "schema"' in log
    with running.engine.connect() as conn:
        recorded = conn.execute(
            select(func.count()).select_from(t.request).where(t.request.c.request_id == request_id)
        ).scalar_one()
    assert recorded == 0
