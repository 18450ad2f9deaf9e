"""``crm-adapter up`` as a user runs it: a subprocess on a scratch data folder and a free port,
waited for, checked from outside (store, simulator), stopped with SIGINT.

Every wait is bounded, and whatever the test's outcome every process ``up`` said it started
is killed afterwards, so that a failure leaves nothing running.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from adapter.cli_up import demo_billing_events, demo_envelopes
from adapter.legacy import Gateway
from adapter.notifications.apply import event_status
from adapter.requests.apply import request_status
from adapter.settings import Settings
from adapter.store.database import make_engine
from tests.integration.test_workers import CLI, _environment

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
STARTED = re.compile(r"^started (?P<name>.+?) \(pid (?P<pid>\d+),", re.MULTILINE)

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _alive(pid: int) -> bool:
    """Whether the process group PID (a part and its pool processes) still exists."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a reused id of someone else's group
        return True
    return True


class Up:
    """A ``crm-adapter up`` subprocess with its output in files."""

    def __init__(self, folder: Path, *args: str, broker_url: str = "") -> None:
        self.env = _environment(folder / "data")
        if broker_url:
            self.env["CRM_BROKER_URL"] = broker_url
        self.out = folder / "up.out"
        self.err = folder / "up.err"
        if "--push-port" not in args:  # never the default 8089 of a real run beside it
            self.push_port = _free_port()
            args = (*args, "--push-port", str(self.push_port))
        else:
            self.push_port = int(args[args.index("--push-port") + 1])
        if "--api-port" not in args:  # never the default 8080 of a real run beside it
            self.api_port = _free_port()
            args = (*args, "--api-port", str(self.api_port))
        else:
            self.api_port = int(args[args.index("--api-port") + 1])
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [*CLI, "up", *args], env=self.env, stdout=out, stderr=err
            )

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def output(self) -> str:
        return f"{self.stdout()}\n--- stderr\n{self.err.read_text(errors='replace')}"

    def pids(self) -> dict[str, int]:
        return {m["name"]: int(m["pid"]) for m in STARTED.finditer(self.stdout())}

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if "crm-adapter up: ready" in self.stdout():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        pytest.fail(f"`up` not ready within {READY_TIMEOUT} s:\n{self.output()}")

    def cleanup(self) -> None:
        """Kill whatever is left: `up` itself and every part it started."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for pid in self.pids().values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def start_up(tmp_path: Path) -> Iterator[type[Up]]:
    started: list[Up] = []

    class Tracked(Up):
        def __init__(self, folder: Path, *args: str, broker_url: str = "") -> None:
            super().__init__(folder, *args, broker_url=broker_url)
            started.append(self)

    yield Tracked
    for up in started:
        up.cleanup()


def test_up_runs_everything_loads_the_demo_through_requests_and_stops_on_ctrl_c(
    tmp_path: Path, start_up: type[Up]
) -> None:
    port = _free_port()
    up = start_up(tmp_path, "--sim-port", str(port))
    up.wait_ready()
    pids = up.pids()
    assert set(pids) == {"billing simulator", "push endpoint", "api", "worker 1", "beat"}, (
        up.output()
    )
    text = up.stdout()
    assert f"http://127.0.0.1:{port}/ws/cil?wsdl" in text
    push = f"http://127.0.0.1:{up.push_port}/soap/notifications"
    assert push in text
    assert b"BalanceUpdated" in httpx.get(f"{push}?wsdl", timeout=5).content
    assert "sqlite:///" in text and "filesystem://" in text

    assert httpx.get(f"http://127.0.0.1:{port}/admin/health", timeout=5).status_code == 200

    # The API answers with the demo users' tokens printed once by `up`.
    api = f"http://127.0.0.1:{up.api_port}"
    assert f"{api}/api/v1" in text
    tokens = dict(re.findall(r"^  (\w+) +role \w+ +token (crm_\S+)$", text, re.MULTILINE))
    assert set(tokens) == {"agent", "supervisor", "admin"}, up.output()
    bearer = {"Authorization": f"Bearer {tokens['agent']}"}
    who = httpx.get(f"{api}/api/v1/whoami", headers=bearer, timeout=10)
    assert (who.status_code, who.json()["role"]) == (200, "agent")
    shown = httpx.get(f"{api}/api/v1/customers/DEMO-1001", headers=bearer, timeout=10)
    assert shown.status_code == 200, shown.text

    data = Path(up.env["CRM_DATA_DIR"])
    engine = make_engine(f"sqlite:///{data}/crm.sqlite3")
    try:
        statuses = {
            e["request_id"]: request_status(engine, e["request_id"]).status
            for e in demo_envelopes()
        }
        events = {
            event_id: event_status(engine, event_id).status
            for event_id, _ in demo_billing_events(datetime.now(UTC))
        }
    finally:
        engine.dispose()
    assert set(statuses.values()) == {"synced"}, statuses
    # Balances, free units and usage reached the store the way billing sends them.
    assert set(events.values()) == {"applied"}, events

    gateway = Gateway(Settings(billing_url=f"http://127.0.0.1:{port}/ws/cil", billing_retries=0))
    person = gateway.call("CustomerRead", {"csIdPub": "DEMO-1001.1"})
    branch = gateway.call("CustomerRead", {"csIdPub": "DEMO-2001.2"})
    assert person["csIdPub"] == "DEMO-1001.1"
    assert (branch["parentCsIdPub"], branch["csLevel"]) == ("DEMO-2001.1", 2)
    for name in ("billing-sim.log", "push-endpoint.log", "worker1.log", "beat.log"):
        assert (data / "logs" / name).stat().st_size > 0

    up.process.send_signal(signal.SIGINT)
    try:
        code = up.process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`up` still running {STOP_TIMEOUT} s after SIGINT:\n{up.output()}")
    assert code == 0, up.output()
    assert "SIGINT received: stopping" in up.stdout()
    assert [name for name, pid in pids.items() if _alive(pid)] == []


def test_a_part_that_cannot_start_is_named_and_nothing_is_left_running(
    tmp_path: Path, start_up: type[Up]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        up = start_up(tmp_path, "--sim-port", str(port), "--no-demo")
        try:
            code = up.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`up` did not give up:\n{up.output()}")
    assert code != 0
    stderr = up.err.read_text()
    assert "billing simulator cannot start" in stderr and str(port) in stderr
    assert [name for name, pid in up.pids().items() if _alive(pid)] == []


def test_a_worker_that_cannot_start_stops_the_simulator_already_running(
    tmp_path: Path, start_up: type[Up]
) -> None:
    """The simulator is up when the worker fails (a broker transport that does not exist):
    `up` names the worker, stops the simulator again and exits non-zero."""
    up = start_up(
        tmp_path, "--sim-port", str(_free_port()), "--no-demo", broker_url="nosuch://nowhere"
    )
    try:
        code = up.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`up` did not give up:\n{up.output()}")
    assert code == 1, up.output()
    assert "worker 1 did not start" in up.err.read_text()
    pids = up.pids()
    assert set(pids) == {"billing simulator", "push endpoint", "api", "worker 1"}, up.output()
    assert "stopped billing simulator" in up.stdout()
    assert [name for name, pid in pids.items() if _alive(pid)] == []


def test_a_part_that_dies_while_running_stops_the_rest(tmp_path: Path, start_up: type[Up]) -> None:
    """Beat killed behind `up`'s back: reported by name, the others stopped, exit 1."""
    up = start_up(tmp_path, "--sim-port", str(_free_port()), "--no-demo")
    up.wait_ready()
    pids = up.pids()
    os.killpg(pids["beat"], signal.SIGKILL)
    try:
        code = up.process.wait(timeout=STOP_TIMEOUT + 5)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`up` still running after beat died:\n{up.output()}")
    assert code == 1, up.output()
    assert "beat exited unexpectedly" in up.err.read_text()
    assert [name for name, pid in pids.items() if _alive(pid)] == []
