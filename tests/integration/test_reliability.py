"""Reliability of the pipeline with real parts: ``crm-adapter worker`` and ``crm-adapter
beat`` subprocesses, a real broker (the test Redis of CRM_TEST_BROKER_URL when set, else the
embedded broker; a private ``redis-server`` for the restart tests), the store on SQLite and on
PostgreSQL, billing being the simulator over HTTP (issue 5).

Each of issue 5's eight behaviours has a test here; docs/runbook.md ("Reliability: what is
tested") maps them, and the narrower tests of the same behaviours elsewhere. Also here: the
received sweeps (``adapter.requests.sweep``, ``crm.requests.sweep``, ``crm.events.sweep``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, insert, select

from adapter.notifications.apply import event_status
from adapter.notifications.server import RunningEndpoint
from adapter.requests.apply import receive, submit
from adapter.requests.sweep import stuck_events, stuck_requests
from adapter.settings import Settings
from adapter.store import tables as t
from adapter.store.uow import utcnow
from adapter.testing.billing_sim import RunningSimulator
from tests.conftest import BROKER_URL, IN_CI
from tests.integration.conftest import SIM_PASSWORD, SIM_USER, Tree
from tests.integration.test_notifications import NS, ack, balance, endpoint, enqueued, post
from tests.integration.test_notifications import envelope as notify_envelope
from tests.integration.test_workers import CLI, Worker, _environment, redis_env, worker_env
from workers.app import WorkerApp, create_app
from workers.tasks.events import APPLY as EVENTS_APPLY
from workers.tasks.events import SWEEP as EVENTS_SWEEP
from workers.tasks.requests import APPLY
from workers.tasks.requests import SWEEP as REQUESTS_SWEEP

# Fixtures of other modules this one uses.
__all__ = ["endpoint", "enqueued", "redis_env", "worker_env"]

#: Generous: two cores are shared by the whole test run.
SETTLE_TIMEOUT = 240.0

# ------------------------------------------------------------------------------ fixtures


def _store_env(engine: Engine) -> dict[str, str]:
    return {"CRM_DATABASE_URL": engine.url.render_as_string(hide_password=False)}


def _billing_env(sim: RunningSimulator) -> dict[str, str]:
    return {
        "CRM_BILLING_URL": sim.soap_url,
        "CRM_BILLING_USER": SIM_USER,
        "CRM_BILLING_PASSWORD": SIM_PASSWORD,
    }


@pytest.fixture
def broker_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The environment of worker processes on the test broker: the test Redis (under a key
    prefix of this test) when CRM_TEST_BROKER_URL is set, else the embedded broker."""
    if BROKER_URL:
        env: dict[str, str] = request.getfixturevalue("redis_env")
        return env
    return _environment(tmp_path / "data")


class Beat:
    """A ``crm-adapter beat`` subprocess: sends the periodic sweeps."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [*CLI, "beat"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


class Processes:
    """Workers and beat started by a test, all stopped however it ends."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[Worker | Beat] = []

    def worker(self, name: str, env: dict[str, str], queues: str, concurrency: int = 1) -> Worker:
        worker = Worker(name, env, self.folder / f"{name}.log", concurrency, queues=queues)
        self.started.append(worker)
        worker.wait_ready()
        return worker

    def beat(self, env: dict[str, str]) -> Beat:
        beat = Beat(env, self.folder / "beat.log")
        self.started.append(beat)
        return beat

    def logs(self) -> str:
        parts = []
        for process in self.started:
            text = process.log.read_text(errors="replace")
            parts.append(f"--- {process.log.name}\n{text[-4000:]}")
        return "\n".join(parts)

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    running = Processes(tmp_path)
    yield running
    running.stop_all()


def redis_server_binary() -> str:
    """The redis-server binary; in CI its absence is an error, elsewhere a skip."""
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if found is None:
        message = "redis-server is not installed: the Redis restart tests need a private one"
        if IN_CI:
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    """A ``redis-server`` of one test, on a free port, its files in a folder of the test;
    stopped and started again on the same port and folder (the shared Redis is never
    touched). ``aof``: append-only file with fsync at every write, as a production broker
    that must not lose a message runs; without it, a restart empties every queue."""

    def __init__(self, binary: str, folder: Path, *, aof: bool) -> None:
        self.binary = binary
        self.folder = folder
        self.aof = aof
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.folder),
            "--save", "",
            "--appendonly", "yes" if self.aof else "no",
            "--appendfsync", "always",
            "--protected-mode", "no",
            "--logfile", str(self.folder / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, start_new_session=True)
        import redis

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if redis.Redis.from_url(self.url, socket_timeout=1).ping():
                    return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        log = (self.folder / "redis.log").read_text(errors="replace")
        pytest.fail(f"private redis-server on port {self.port} did not start:\n{log[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed beyond what AOF already wrote."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Callable[[bool], PrivateRedis]]:
    binary = redis_server_binary()
    servers: list[PrivateRedis] = []

    def start(aof: bool) -> PrivateRedis:
        folder = tmp_path / "redis"
        folder.mkdir()
        server = PrivateRedis(binary, folder, aof=aof)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


# ------------------------------------------------------------------------------- helpers


def create_envelope(request_id: str, number: str) -> dict[str, Any]:
    """A customer.create with an account, so that billing has something to be told."""
    return {
        "request_id": request_id,
        "originating_user": "shop.backend",
        "channel": "shop",
        "operation": "customer.create",
        "payload": {
            "customer_number": number,
            "party": {"kind": "individual", "given_name": "Ana", "family_name": "Lange"},
            "account": {"number": f"{number}.1", "name": "Ana Lange"},
        },
    }


def update_envelope(
    request_id: str, number: str, segment: str, expected: int | None
) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "request_id": request_id,
        "originating_user": "agent.ole",
        "channel": "selfcare",
        "operation": "customer.update",
        "payload": {"customer": number, "patch": {"segment": segment}},
    }
    if expected is not None:
        envelope["expected_version"] = expected
    return envelope


def statuses(engine: Engine, request_ids: Iterable[str]) -> dict[str, str]:
    """Status of each request the store holds (a request it does not hold is left out)."""
    ids = list(request_ids)
    r = t.request.c
    with engine.connect() as conn:
        rows = conn.execute(select(r.request_id, r.status).where(r.request_id.in_(ids)))
        return {row.request_id: row.status for row in rows}


def changes_per_request(engine: Engine, request_ids: Iterable[str]) -> dict[str, int]:
    """Audit changes per request id (every id listed, zero when it has none)."""
    ids = list(request_ids)
    c = t.change.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(c.request_id, func.count()).where(c.request_id.in_(ids)).group_by(c.request_id)
        )
        found = {row[0]: int(row[1]) for row in rows}
    return {request_id: found.get(request_id, 0) for request_id in ids}


def wait_until(
    condition: Callable[[], bool], what: str, processes: Processes, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    pytest.fail(f"{what} not reached within {timeout:.0f} s\n{processes.logs()}")


def wait_decided(
    engine: Engine, request_ids: list[str], processes: Processes, timeout: float = SETTLE_TIMEOUT
) -> dict[str, str]:
    """Wait until no request of ``request_ids`` is missing or ``received``."""

    def decided() -> bool:
        now = statuses(engine, request_ids)
        return len(now) == len(request_ids) and "received" not in now.values()

    wait_until(decided, f"an outcome for each of {len(request_ids)} requests", processes, timeout)
    return statuses(engine, request_ids)


# ---------------------------------------------------------- the same request, twice at once


@pytest.mark.slow
def test_the_same_request_delivered_twice_at_once_to_two_workers_is_applied_once(
    engine: Engine,
    broker_env: dict[str, str],
    processes: Processes,
    client: Callable[[dict[str, str]], WorkerApp],
) -> None:
    """Each of eight requests is enqueued twice, back to back, and two worker processes take
    the two copies at the same time: each request is applied once, with one audit change."""
    env = broker_env | _store_env(engine)
    workers = [processes.worker(name, env, "crm.requests") for name in ("dup-a", "dup-b")]
    app = client(env)
    ids = [f"dup-{n}" for n in range(8)]
    for n, request_id in enumerate(ids):
        for _ in range(2):
            app.send_task(APPLY, args=[create_envelope(request_id, f"DP{n:05d}")])

    outcome = wait_decided(engine, ids, processes)
    assert set(outcome.values()) <= {"applied", "synced"}, outcome
    time.sleep(2.0)  # every second copy has been taken by now (two idle workers)
    assert changes_per_request(engine, ids) == dict.fromkeys(ids, 1)
    with engine.connect() as conn:
        customers = conn.execute(select(func.count()).select_from(t.customer)).scalar_one()
    assert customers == len(ids)
    for worker in workers:  # both took copies: the pairs really met two workers
        assert "crm.requests.apply[" in worker.log.read_text(errors="replace")


# ----------------------------------------------------------------- out of order versions


@pytest.mark.slow
def test_a_stale_expected_version_reaching_a_worker_after_a_newer_one_is_rejected(
    engine: Engine,
    broker_env: dict[str, str],
    processes: Processes,
    client: Callable[[dict[str, str]], WorkerApp],
) -> None:
    """Two updates written against version 1 of a customer reach the workers one after the
    other: the first applies (version 2), the second, now stale, fails with stale_version
    and writes nothing; the customer keeps the first one's value."""
    env = broker_env | _store_env(engine)
    processes.worker("versions", env, "crm.requests")
    app = client(env)
    app.send_task(APPLY, args=[create_envelope("ver-create", "VR00001")])
    wait_decided(engine, ["ver-create"], processes)
    app.send_task(APPLY, args=[update_envelope("ver-newer", "VR00001", "gold", expected=1)])
    wait_decided(engine, ["ver-newer"], processes)
    app.send_task(APPLY, args=[update_envelope("ver-stale", "VR00001", "silver", expected=1)])
    wait_decided(engine, ["ver-stale"], processes)

    r = t.request.c
    with engine.connect() as conn:
        newer, stale = (
            conn.execute(select(t.request).where(r.request_id == rid)).one()
            for rid in ("ver-newer", "ver-stale")
        )
        segment = conn.execute(
            select(t.customer.c.segment).where(t.customer.c.customer_number == "VR00001")
        ).scalar_one()
    assert newer.status in {"applied", "synced"}
    assert stale.status == "failed"
    assert stale.reason["code"] == "stale_version"
    assert "at version 2" in stale.reason["message"]
    assert changes_per_request(engine, ["ver-stale"]) == {"ver-stale": 0}
    assert segment == "gold"


# ----------------------------------------------------------------- Redis restarted mid-run

BATCH = 24


def _restart_env(
    engine: Engine, sim: RunningSimulator, redis_url: str, data_dir: Path, resume_after: float
) -> dict[str, str]:
    """Workers and beat on the private Redis. The derived visibility timeout stays short
    ((2 s retry ceiling + 20 s time limit) x 1.25 = 28 s) so that a message a worker held
    when the connection dropped comes back within the test; beat sweeps every second."""
    return (
        _environment(data_dir)
        | _store_env(engine)
        | _billing_env(sim)
        | {
            "CRM_BROKER_URL": redis_url,
            "CRM_TASK_TIME_LIMIT": "20",
            "CRM_TASK_RETRY_CEILING": "2",
            "CRM_SYNC_SWEEP_INTERVAL": "1",
            "CRM_SYNC_BACKOFF": "1",
            "CRM_SYNC_BACKOFF_CAP": "2",
            "CRM_RESUME_RECEIVED_AFTER": str(resume_after),
        }
    )


def _kill_redis_mid_run(
    server: PrivateRedis, engine: Engine, ids: list[str], processes: Processes
) -> None:
    """Kill Redis once a few requests are applied and most are not, and start it again on
    the same port and folder after a pause long enough for the workers to notice."""

    def some_applied() -> bool:
        return sum(s != "received" for s in statuses(engine, ids).values()) >= 3

    wait_until(some_applied, "three requests applied", processes, SETTLE_TIMEOUT)
    server.kill()
    done = sum(s in ("applied", "synced") for s in statuses(engine, ids).values())
    assert done < len(ids), "the whole batch finished before Redis was killed: not mid-run"
    time.sleep(3.0)
    server.start()


def _assert_all_applied_once_and_synced(
    engine: Engine, ids: list[str], processes: Processes
) -> None:
    def all_synced() -> bool:
        now = statuses(engine, ids)
        return len(now) == len(ids) and set(now.values()) == {"synced"}

    wait_until(all_synced, f"all {len(ids)} requests synced", processes, SETTLE_TIMEOUT)
    assert changes_per_request(engine, ids) == dict.fromkeys(ids, 1)
    r = t.request.c
    with engine.connect() as conn:
        legacy = conn.execute(select(r.legacy_ids).where(r.request_id.in_(ids))).scalars().all()
    assert all(ids_ and ids_.get("accounts") for ids_ in legacy)


@pytest.mark.slow
def test_redis_with_aof_restarted_mid_run_workers_resume_and_every_request_completes(
    engine: Engine,
    sim: RunningSimulator,
    admin: httpx.Client,
    private_redis: Callable[[bool], PrivateRedis],
    processes: Processes,
    client: Callable[[dict[str, str]], WorkerApp],
    tmp_path: Path,
) -> None:
    """A batch enqueued on a Redis with an append-only file; Redis is killed mid-run and
    started again. The queued messages are still there, the workers reconnect by themselves,
    and every request is applied exactly once and synced to billing. The received sweep is
    kept out of it (an hour's threshold): the broker's persistence alone brings the requests
    back; the outbox sweep sends the drains lost with the connection."""
    server = private_redis(True)
    env = _restart_env(engine, sim, server.url, tmp_path / "data", resume_after=3600)
    worker = processes.worker("aof", env, "crm.requests,crm.sync", concurrency=2)
    processes.beat(env)
    app = client(env)
    ids = [f"aof-{n}" for n in range(BATCH)]
    for n, request_id in enumerate(ids):
        app.send_task(APPLY, args=[create_envelope(request_id, f"AO{n:05d}")])
    app.close()  # its connection would not survive the restart either

    _kill_redis_mid_run(server, engine, ids, processes)

    _assert_all_applied_once_and_synced(engine, ids, processes)
    assert worker.process.poll() is None, "the worker exited instead of reconnecting"
    assert "Connection to broker lost" in worker.log.read_text(errors="replace")


@pytest.mark.slow
def test_redis_without_persistence_restarted_mid_run_the_sweeps_complete_every_request(
    engine: Engine,
    sim: RunningSimulator,
    admin: httpx.Client,
    private_redis: Callable[[bool], PrivateRedis],
    processes: Processes,
    client: Callable[[dict[str, str]], WorkerApp],
    tmp_path: Path,
) -> None:
    """Requests the store accepted (recorded ``received``, then enqueued, as ``POST
    /api/v1/requests`` does) are sent to workers on a Redis without persistence, which is
    killed mid-run and comes back empty: the queued messages, the one a worker held and the
    drains are gone. Beat's crm.requests.sweep resends the requests still received, the
    outbox sweep the drains, and every request is applied exactly once and synced."""
    server = private_redis(False)
    env = _restart_env(engine, sim, server.url, tmp_path / "data", resume_after=3)
    worker = processes.worker("no-aof", env, "crm.requests,crm.sync", concurrency=2)
    app = client(env)
    ids = [f"noaof-{n}" for n in range(BATCH)]
    for n, request_id in enumerate(ids):
        envelope = create_envelope(request_id, f"NA{n:05d}")
        receive(engine, envelope, principal="crm-api:pytest")
        app.send_task(APPLY, args=[envelope])
    app.close()

    _kill_redis_mid_run(server, engine, ids, processes)
    lost = [rid for rid, status in statuses(engine, ids).items() if status == "received"]
    assert lost, "no request was left received: the test did not lose any message"
    processes.beat(env)

    _assert_all_applied_once_and_synced(engine, ids, processes)
    assert worker.process.poll() is None, "the worker exited instead of reconnecting"


# ------------------------------------------------------------------- the received sweeps

AN_HOUR_AGO = timedelta(hours=1)


def _old(clock_offset: timedelta) -> Callable[[], datetime]:
    return lambda: utcnow() - clock_offset


def test_only_requests_received_longer_than_the_threshold_are_stuck(engine: Engine) -> None:
    """The request sweep takes requests still ``received`` after the threshold, in the
    order of receipt; a recent one, an applied one and a failed one are left alone."""
    receive(engine, create_envelope("old-2", "OL00002"), clock=_old(AN_HOUR_AGO))
    receive(engine, create_envelope("old-1", "OL00001"), clock=_old(AN_HOUR_AGO))
    receive(engine, create_envelope("recent", "OL00003"))
    submit(engine, create_envelope("applied", "OL00004"), clock=_old(AN_HOUR_AGO))
    broken = create_envelope("failed", "OL00005") | {"operation": "customer.nope"}
    receive(engine, broken, clock=_old(AN_HOUR_AGO))

    stuck = stuck_requests(engine, now=utcnow(), older_than=60)
    assert [s.request_id for s in stuck] == ["old-2", "old-1"]
    assert stuck[0].envelope == create_envelope("old-2", "OL00002")


def _store_event(engine: Engine, event_id: str, status: str, age: timedelta) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(t.inbound_event).values(
                event_id=event_id,
                operation="BalanceUpdated",
                received_at=utcnow() - age,
                status=status,
                payload={"eventId": event_id},
            )
        )


def test_only_events_received_longer_than_the_threshold_are_stuck(engine: Engine) -> None:
    """The event sweep takes stored notifications still ``received`` after the threshold,
    oldest first; a recent one and a decided one are left alone."""
    _store_event(engine, "ev-older", "received", timedelta(hours=2))
    _store_event(engine, "ev-old", "received", AN_HOUR_AGO)
    _store_event(engine, "ev-recent", "received", timedelta(seconds=5))
    _store_event(engine, "ev-applied", "applied", AN_HOUR_AGO)
    assert stuck_events(engine, now=utcnow(), older_than=60) == ["ev-older", "ev-old"]


def _eager_app(engine: Engine, tmp_path: Path) -> tuple[WorkerApp, list[tuple[str, Any]]]:
    """An app on ENGINE whose sends are recorded instead of published."""
    settings = Settings(
        data_dir=tmp_path,
        database_url=engine.url.render_as_string(hide_password=False),
        resume_received_after=60,
    )
    app = create_app(settings)
    sent: list[tuple[str, Any]] = []
    app.send_task = lambda name, args=None, **_: sent.append((name, args))  # type: ignore[method-assign,assignment,misc]
    return app, sent


def test_the_request_sweep_task_resends_each_stuck_request_with_its_envelope(
    engine: Engine, tmp_path: Path
) -> None:
    """crm.requests.sweep sends crm.requests.apply with the envelope as received, once per
    stuck request, and nothing for a recent one."""
    receive(engine, create_envelope("stuck", "ST00001"), clock=_old(AN_HOUR_AGO))
    receive(engine, create_envelope("fresh", "ST00002"))
    app, sent = _eager_app(engine, tmp_path)
    result = app.tasks[REQUESTS_SWEEP].apply().get()
    assert result == {"requests": ["stuck"]}
    assert sent == [(APPLY, [create_envelope("stuck", "ST00001")])]


def test_the_event_sweep_task_resends_each_stuck_event_by_id(
    engine: Engine, tmp_path: Path
) -> None:
    """crm.events.sweep sends crm.events.apply with the id of each stuck event."""
    _store_event(engine, "ev-stuck", "received", AN_HOUR_AGO)
    _store_event(engine, "ev-fresh", "received", timedelta(seconds=1))
    app, sent = _eager_app(engine, tmp_path)
    assert app.tasks[EVENTS_SWEEP].apply().get() == {"events": ["ev-stuck"]}
    assert sent == [(EVENTS_APPLY, ["ev-stuck"])]


@pytest.mark.slow
def test_a_billing_event_whose_message_was_lost_is_applied_by_the_sweep(
    endpoint: RunningEndpoint,
    engine: Engine,
    tree: Tree,
    broker_env: dict[str, str],
    processes: Processes,
) -> None:
    """The endpoint stored and acknowledged a balance event but its crm.events.apply never
    reached the broker (here: the endpoint enqueues nowhere). Beat's crm.events.sweep sends
    it once it has stayed received for the threshold, and a worker applies it."""
    response = post(
        endpoint,
        notify_envelope(balance("ev-lost", tree.account.number, "2026-11-20T10:00:00Z")),
        SOAPAction=f'"{NS}/BalanceUpdated"',
    )
    assert ack(response) == ("ev-lost", "received")
    env = (
        broker_env
        | _store_env(engine)
        | {
            "CRM_RESUME_RECEIVED_AFTER": "1",
            "CRM_SYNC_SWEEP_INTERVAL": "1",
        }
    )
    processes.worker("events", env, "crm.events")
    processes.beat(env)

    wait_until(
        lambda: event_status(engine, "ev-lost").status != "received",
        "the lost event applied",
        processes,
        SETTLE_TIMEOUT,
    )
    assert event_status(engine, "ev-lost").status == "applied"
    assert changes_per_request(engine, ["event-ev-lost"]) == {"event-ev-lost": 1}


# ------------------------------------------------------ a worker SIGKILLed mid-request


@pytest.fixture
def redis_broker_env(
    request: pytest.FixtureRequest, private_redis: Callable[[bool], PrivateRedis], tmp_path: Path
) -> dict[str, str]:
    """Worker environment on Redis: the test Redis (under a key prefix of this test) when
    CRM_TEST_BROKER_URL is set, else a private redis-server (redelivery after a lost worker
    needs Redis; the embedded broker does not redeliver)."""
    if BROKER_URL:
        env: dict[str, str] = request.getfixturevalue("redis_env")
        return env
    return _environment(tmp_path / "data") | {"CRM_BROKER_URL": private_redis(False).url}


@contextlib.contextmanager
def store_locked(engine: Engine) -> Iterator[None]:
    """Hold the store's write lock (SQLite: the database's; PostgreSQL: the audit chain's row,
    which every unit of work takes before it writes), so that a request stops mid-way."""
    with engine.begin() as conn:  # BEGIN IMMEDIATE on SQLite (adapter.store.database)
        if conn.dialect.name == "postgresql":
            conn.execute(select(t.audit_head).with_for_update())
        else:
            conn.execute(t.audit_head.update().values(seq=t.audit_head.c.seq))
        yield
        conn.rollback()


def wait_in_log(worker: Worker, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in worker.log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    pytest.fail(f"{text!r} not in {worker.name}'s log:\n{worker.log.read_text()[-3000:]}")


@pytest.mark.slow
def test_a_request_whose_worker_is_sigkilled_mid_way_is_applied_once_by_another(
    engine: Engine,
    redis_broker_env: dict[str, str],
    processes: Processes,
    client: Callable[[dict[str, str]], WorkerApp],
) -> None:
    """A worker is killed with SIGKILL while it runs a request (held mid-way on the store's
    write lock: on PostgreSQL after the request was recorded, inside its unit of work). Its
    message was never acknowledged, so Redis hands it to another worker after the visibility
    timeout ((2 s + 10 s) x 1.25 = 15 s here), which applies it exactly once."""
    env = (
        redis_broker_env
        | _store_env(engine)
        | {"CRM_TASK_TIME_LIMIT": "10", "CRM_TASK_RETRY_CEILING": "2", "CRM_BILLING_RETRIES": "0"}
    )
    first = processes.worker("first", env, "crm.requests")
    app = client(env)
    with store_locked(engine):
        task_id = app.send_task(APPLY, args=[create_envelope("kill-1", "KL00001")]).id
        wait_in_log(first, f"crm.requests.apply[{task_id}] received")
        time.sleep(1.5)  # running now, waiting for the lock
        first.kill()
    second = processes.worker("second", env, "crm.requests")

    outcome = wait_decided(engine, ["kill-1"], processes)
    assert outcome["kill-1"] in {"applied", "synced"}
    wait_in_log(second, f"crm.requests.apply[{task_id}] succeeded")
    assert changes_per_request(engine, ["kill-1"]) == {"kill-1": 1}


# ------------------------------------------------------------- billing down for a while


@pytest.mark.slow
def test_billing_down_for_a_while_requests_queue_then_sync_in_order_once_it_returns(
    engine: Engine,
    sim: RunningSimulator,
    admin: httpx.Client,
    broker_env: dict[str, str],
    processes: Processes,
    client: Callable[[dict[str, str]], WorkerApp],
) -> None:
    """With billing answering 503 to everything, a customer's requests are applied and their
    messages wait (pending, retried with backoff); once billing is back they are all sent,
    in the customer's order, and every request becomes synced."""
    admin.put("/faults", json={"error_rate": 1.0, "error_kind": "http503"}).raise_for_status()
    env = (
        broker_env
        | _store_env(engine)
        | _billing_env(sim)
        | {
            "CRM_BILLING_RETRIES": "0",
            "CRM_BILLING_BREAKER_RESET": "1",
            "CRM_SYNC_BACKOFF": "0.5",
            "CRM_SYNC_BACKOFF_CAP": "1",
        }
    )
    processes.worker("billing-down", env, "crm.requests,crm.sync")
    app = client(env)
    ids = ["down-create", "down-1", "down-2", "down-3"]
    app.send_task(APPLY, args=[create_envelope("down-create", "BD00001")])
    # The embedded broker orders messages sent within one millisecond at random.
    wait_decided(engine, ["down-create"], processes)
    for n, request_id in enumerate(ids[1:], start=1):
        update = update_envelope(request_id, "BD00001", f"seg{n}", expected=None)
        app.send_task(APPLY, args=[update])

    outcome = wait_decided(engine, ids, processes)
    assert set(outcome.values()) == {"applied"}, outcome
    o = t.outbox.c

    def tried() -> bool:
        with engine.connect() as conn:
            return (conn.execute(select(func.max(o.attempts))).scalar_one() or 0) >= 2

    wait_until(tried, "the first message retried", processes, SETTLE_TIMEOUT)
    assert set(statuses(engine, ids).values()) == {"applied"}
    admin.delete("/faults").raise_for_status()

    wait_until(
        lambda: set(statuses(engine, ids).values()) == {"synced"},
        "all requests synced",
        processes,
        SETTLE_TIMEOUT,
    )
    with engine.connect() as conn:
        rows = conn.execute(select(o.seq, o.status, o.sent_at).order_by(o.seq)).all()
    assert {row.status for row in rows} == {"sent"}
    sent_order = [row.seq for row in sorted(rows, key=lambda row: row.sent_at)]
    assert sent_order == [row.seq for row in rows]
    assert changes_per_request(engine, ids) == dict.fromkeys(ids, 1)


# ---------------------------------------------- poison, business fault, lost drain: workers


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=env | {"CRM_USER": "ops.kim"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_a_poison_message_is_dead_lettered_while_the_others_flow_through_a_worker(
    engine: Engine,
    broker_env: dict[str, str],
    processes: Processes,
    client: Callable[[dict[str, str]], WorkerApp],
) -> None:
    """A message whose envelope is garbage (operation a list, payload a string) sits between
    two good ones: it is recorded failed (invalid_envelope) with what was received, listed
    as a dead letter, and the requests around it are applied."""
    env = broker_env | _store_env(engine)
    processes.worker("poison", env, "crm.requests")
    app = client(env)
    poison = {"request_id": "poison-1", "operation": ["customer.update"], "payload": "?"}
    app.send_task(APPLY, args=[create_envelope("before-poison", "PO00001")])
    app.send_task(APPLY, args=[poison])
    app.send_task(APPLY, args=[create_envelope("after-poison", "PO00002")])

    ids = ["before-poison", "poison-1", "after-poison"]
    outcome = wait_decided(engine, ids, processes)
    assert outcome["poison-1"] == "failed"
    assert outcome["before-poison"] in {"applied", "synced"}
    assert outcome["after-poison"] in {"applied", "synced"}
    listed = run_cli(env, "dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [item] = json.loads(listed.stdout)["items"]
    assert (item["request_id"], item["code"]) == ("poison-1", "invalid_envelope")
    assert changes_per_request(engine, ids) == {
        "before-poison": 1,
        "poison-1": 0,
        "after-poison": 1,
    }


@pytest.mark.slow
def test_a_business_fault_is_a_dead_letter_then_replayed_once_the_cause_is_fixed(
    engine: Engine,
    sim: RunningSimulator,
    admin: httpx.Client,
    tmp_path: Path,
    broker_env: dict[str, str],
    processes: Processes,
    client: Callable[[dict[str, str]], WorkerApp],
) -> None:
    """Billing refuses a new customer with a business fault: the worker's drain makes the
    request a dead letter with billing's code (no retry can change the answer). Once the
    cause is gone, `crm-adapter dlq replay` puts its message back, beat's sweep has a
    worker send it, and the request ends synced, its change applied once."""
    fault = {"code": "CMS.RC6740", "message": "customer number not allowed"}
    rules = [{"kind": "cms_fault", "operation": "CustomerNew", "fault": fault}]
    admin.put("/faults", json={"rules": rules}).raise_for_status()
    env = (
        broker_env
        | _store_env(engine)
        | _billing_env(sim)
        | {"CRM_SYNC_SWEEP_INTERVAL": "1", "CRM_RESUME_RECEIVED_AFTER": "3600"}
    )
    processes.worker("fault", env, "crm.requests,crm.sync")
    processes.beat(env)
    app = client(env)
    app.send_task(APPLY, args=[create_envelope("fault-1", "BF00001")])

    wait_until(
        lambda: statuses(engine, ["fault-1"]) == {"fault-1": "failed"},
        "the request failed by billing",
        processes,
        SETTLE_TIMEOUT,
    )
    [item] = json.loads(run_cli(env, "dlq", "list", "--json").stdout)["items"]
    assert (item["request_id"], item["code"]) == ("fault-1", "CMS.RC6740")
    admin.delete("/faults").raise_for_status()  # the cause fixed
    replayed = run_cli(env, "dlq", "replay", "fault-1")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr

    wait_until(
        lambda: statuses(engine, ["fault-1"]) == {"fault-1": "synced"},
        "the replayed request synced",
        processes,
        SETTLE_TIMEOUT,
    )
    assert changes_per_request(engine, ["fault-1"]) == {"fault-1": 1}
    assert json.loads(run_cli(env, "dlq", "list", "--json").stdout)["items"] == []


@pytest.mark.slow
def test_requests_committed_without_their_drain_task_are_synced_by_beats_sweep(
    engine: Engine,
    sim: RunningSimulator,
    admin: httpx.Client,
    broker_env: dict[str, str],
    processes: Processes,
) -> None:
    """A crash between the commit and sending crm.sync.drain: here the requests are applied
    in this process and no drain is ever sent. Beat's crm.sync.sweep finds their pending
    outbox messages and a worker sends them: every request ends synced."""
    ids = [f"nodrain-{n}" for n in range(3)]
    for n, request_id in enumerate(ids):
        assert submit(engine, create_envelope(request_id, f"ND{n:05d}")).status == "applied"
    env = broker_env | _store_env(engine) | _billing_env(sim) | {"CRM_SYNC_SWEEP_INTERVAL": "1"}
    processes.worker("sweep", env, "crm.sync")
    processes.beat(env)

    wait_until(
        lambda: set(statuses(engine, ids).values()) == {"synced"},
        "every request synced by the sweep",
        processes,
        SETTLE_TIMEOUT,
    )
