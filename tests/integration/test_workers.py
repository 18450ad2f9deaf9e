"""Real workers (``crm-adapter worker`` subprocesses) on the embedded broker and on Redis.

Each worker runs in a session of its own so that it and its pool processes can be stopped,
or killed, as a group; every wait is bounded, and every worker is stopped however the test
ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from workers.app import WorkerApp
from workers.tasks.maintenance import PING

CLI = [sys.executable, "-m", "adapter.cli"]
READY_TIMEOUT = 30.0


class Worker:
    """A ``crm-adapter worker`` subprocess with its log file."""

    def __init__(
        self,
        name: str,
        env: dict[str, str],
        log: Path,
        concurrency: int,
        queues: str = "crm.maintenance",
    ) -> None:
        self.name = f"{name}@pytest"
        self.env = env
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    *CLI,
                    "worker",
                    f"--hostname={self.name}",
                    f"--concurrency={concurrency}",
                    f"--queues={queues}",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if f"{self.name} ready." in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"worker {self.name} did not start:\n{self.log.read_text(errors='replace')}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes: no warm shutdown, no message handed
        back."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM to the main process, as a supervisor or `docker stop` sends it (warm
        shutdown); the whole group is killed if that takes longer than 15 s."""
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def _environment(data_dir: Path) -> dict[str, str]:
    """The environment of a CLI subprocess: no CRM_* of the caller, a scratch data folder,
    the embedded broker."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CRM_")}
    env["CRM_DATA_DIR"] = str(data_dir)
    env["CRM_LOG_LEVEL"] = "INFO"
    return env


@pytest.fixture
def worker_env(tmp_path: Path) -> dict[str, str]:
    return _environment(tmp_path / "data")


@pytest.fixture(scope="module")
def embedded_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """One worker on the embedded broker for the tests of this module that need one (it
    takes seconds to start and stop)."""
    folder = tmp_path_factory.mktemp("embedded")
    worker = Worker("embedded", _environment(folder / "data"), folder / "worker.log", 1)
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def redis_env(worker_env: dict[str, str], redis_url: str) -> Iterator[dict[str, str]]:
    """As worker_env, on the test Redis, every key under a prefix of this test alone (deleted
    afterwards)."""
    import redis

    prefix = f"crm-test-{uuid.uuid4().hex[:12]}:"
    yield {**worker_env, "CRM_BROKER_URL": redis_url, "CRM_BROKER_KEY_PREFIX": prefix}
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(name: str, env: dict[str, str], concurrency: int = 1) -> Worker:
        worker = Worker(name, env, tmp_path / f"{name}.log", concurrency)
        started.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()


def _ping(env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "ping", "--json", f"--timeout={timeout}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout + 30,
        check=False,
    )


def _wait_started(app: WorkerApp, task_id: str, timeout: float = 20.0) -> dict[str, Any]:
    """The STARTED state's meta (``hostname``, ``pid`` of the pool process)."""
    result = app.AsyncResult(task_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result.state == "STARTED":
            info: dict[str, Any] = result.info
            return info
        time.sleep(0.05)
    pytest.fail(f"task {task_id} not started within {timeout} s (state {result.state})")


def test_worker_on_the_embedded_broker_answers_ping(embedded_worker: Worker) -> None:
    """With no broker configured, a worker and `crm-adapter ping` meet in CRM_DATA_DIR."""
    done = _ping(embedded_worker.env, timeout=20)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["answer"], answer["hostname"]) == ("pong", embedded_worker.name)
    assert answer["broker"].startswith("filesystem://")


def test_ping_without_a_worker_exits_4(worker_env: dict[str, str]) -> None:
    """Nobody answers: exit code 4 and a message that says so, once the timeout is over."""
    done = _ping(worker_env, timeout=1)
    assert done.returncode == 4
    assert "no worker answered within 1 s" in done.stderr


def test_ping_with_the_broker_down_exits_4_at_once(worker_env: dict[str, str]) -> None:
    """A broker that refuses connections is reported as such, without the tens of seconds
    Celery's own retries would take."""
    env = {**worker_env, "CRM_BROKER_URL": "redis://127.0.0.1:1/0"}
    started = time.monotonic()
    done = _ping(env, timeout=5)
    assert done.returncode == 4
    assert "broker redis://127.0.0.1:1/0 unreachable" in done.stderr
    assert time.monotonic() - started < 15


@pytest.mark.slow
def test_pool_process_killed_under_a_task_gives_the_message_back(
    embedded_worker: Worker, client: Callable[[dict[str, str]], WorkerApp]
) -> None:
    """Late acks with reject-on-worker-lost: when the pool process running a task dies, the
    worker requeues the message and runs it again in a new process (embedded broker). The
    worker first waits worker_lost_wait (10 s) for a result the process may have sent."""
    app = client(embedded_worker.env)
    result = app.send_task(PING, kwargs={"delay": 2.0})
    first = _wait_started(app, result.id)
    os.kill(first["pid"], signal.SIGKILL)
    answer = result.get(timeout=30, interval=0.1)
    assert answer["hostname"] == embedded_worker.name
    assert answer["pid"] != first["pid"]


@pytest.mark.slow
def test_worker_on_redis_answers_ping(
    redis_env: dict[str, str], start_worker: Callable[..., Worker]
) -> None:
    """On Redis (CRM_BROKER_URL), the ping goes through the broker and back through the
    result backend, which defaults to the same Redis."""
    worker = start_worker("redis", redis_env)
    done = _ping(redis_env, timeout=20)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["answer"], answer["hostname"]) == ("pong", worker.name)
    assert answer["broker"].startswith("redis://")


@pytest.mark.slow
def test_task_of_a_worker_killed_with_sigkill_is_redelivered_to_another(
    redis_env: dict[str, str],
    start_worker: Callable[..., Worker],
    client: Callable[[dict[str, str]], WorkerApp],
) -> None:
    """Late acks on Redis: a worker SIGKILLed mid-task never acknowledged the message, so
    once the visibility timeout has passed Redis hands it to another worker, which runs it.

    Settings keep the derived visibility timeout short: (1 s retry ceiling + 3 s time
    limit) x 1.25 = 5 s."""
    env = {
        **redis_env,
        "CRM_TASK_TIME_LIMIT": "3",
        "CRM_TASK_RETRY_CEILING": "1",
        "CRM_BILLING_RETRIES": "0",
    }
    app = client(env)
    assert app.conf.broker_transport_options["visibility_timeout"] == 5
    first = start_worker("first", env)
    result = app.send_task(PING, kwargs={"delay": 1.5})
    assert _wait_started(app, result.id)["hostname"] == first.name
    first.kill()
    second = start_worker("second", env)
    answer = result.get(timeout=30, interval=0.1)
    assert answer["hostname"] == second.name
    assert answer["redelivered"] is True
