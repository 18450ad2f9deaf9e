"""Fixtures for the CRM API's tests: a REAL server process (``crm-adapter serve``) on a free
port, a caller per role with its own token, and httpx clients.

- ``api_store``: the store the server uses, per backend (module scope): a migrated SQLite file
  of its own, and the PostgreSQL database of ``CRM_TEST_DATABASE_URL`` when it is set (tests
  then run ``[sqlite]`` and ``[postgresql]``). The store is shared by a module's tests: name
  what you create uniquely (``unique()``), do not count rows other tests may have written.
- ``api_engine``: an engine on that store, for setting data up and checking what was written.
- ``api_server``: the server process on that store (module scope), ``CRM_API_ENQUEUE_SYNC``
  off (no workers run; ``start_api`` starts one with other settings, function scope).
- ``caller``: ``caller("agent")`` makes a user of that role and returns an
  :class:`ApiCaller` with its token and an authenticated ``httpx.Client``.
- ``anonymous``: a client without a token.
- ``create_customer(api_engine, ...)``: a customer written through a real request, with a TIN,
  a personal id, a passport and a birth date (the PII the API masks).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from adapter.api.access import add_user
from adapter.requests.apply import submit
from adapter.store.database import make_engine
from tests.conftest import reset_postgres_at

START_TIMEOUT = 60.0  # seconds for the server process to answer /health (CPU is contended)
ANNOUNCED = re.compile(r"^api: (http://\S+) ", re.MULTILINE)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ------------------------------------------------------------------------------ store


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def api_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of a migrated store for one module's API tests, on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path_factory.mktemp("api-store") / "crm.sqlite3"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("pg_database")
    reset_postgres_at(url)
    yield url


@pytest.fixture(scope="module")
def api_engine(api_store: str) -> Iterator[Engine]:
    engine = make_engine(api_store)
    yield engine
    engine.dispose()


# ----------------------------------------------------------------------------- server


@dataclass
class RunningApi:
    """A ``crm-adapter serve`` process; ``base_url`` like http://127.0.0.1:PORT."""

    base_url: str
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(repr=False)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def client(self, token: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30, **kw)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def server_env(store_url: str, data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a server process: none of the caller's CRM_*, the store, a scratch
    data folder, INFO logs in JSON (tests read them), and SETTINGS as CRM_<NAME>."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CRM_")}
    env |= {
        "CRM_DATABASE_URL": store_url,
        "CRM_DATA_DIR": str(data_dir),
        "CRM_LOG_LEVEL": "INFO",
        "CRM_LOG_FORMAT": "json",
        "CRM_API_ENQUEUE_SYNC": "false",
    }
    env |= {f"CRM_{name.upper()}": value for name, value in settings.items()}
    return env


def launch(store_url: str, folder: Path, **settings: str) -> RunningApi:
    """Start ``crm-adapter serve --port 0`` and return once it answers /health."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "api.log"
    env = server_env(store_url, folder / "data", **settings)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "adapter.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = RunningApi("", process, log, env)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the API server exited with {process.returncode}:\n{running.log_text()}")
        found = ANNOUNCED.search(running.log_text())
        if found:
            running.base_url = found.group(1)
            try:
                if httpx.get(f"{running.base_url}/health", timeout=5).status_code == 200:
                    return running
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    running.stop()
    pytest.fail(f"the API server did not answer within {START_TIMEOUT} s:\n{running.log_text()}")


@pytest.fixture(scope="module")
def api_server(api_store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    """One server process per module and backend."""
    running = launch(api_store, tmp_path_factory.mktemp("api"))
    yield running
    running.stop()


@pytest.fixture
def start_api(api_store: str, tmp_path: Path) -> Iterator[Callable[..., RunningApi]]:
    """Starts a server of its own with other settings: ``start_api(api_max_body="2048")``;
    stopped after the test."""
    started: list[RunningApi] = []

    def start(**settings: str) -> RunningApi:
        started.append(launch(api_store, tmp_path / f"api{len(started)}", **settings))
        return started[-1]

    yield start
    for running in started:
        running.stop()


# ---------------------------------------------------------------------------- callers


@dataclass
class ApiCaller:
    name: str
    role: str
    token: str
    token_id: str
    client: httpx.Client


@pytest.fixture
def caller(api_server: RunningApi, api_engine: Engine) -> Iterator[Callable[[str], ApiCaller]]:
    """Makes a user of ROLE (a unique name) with a token and a client of the module's server."""
    made: list[ApiCaller] = []

    def make(role: str) -> ApiCaller:
        name = unique(role)
        issued = add_user(api_engine, name, role)
        made.append(
            ApiCaller(name, role, issued.token, issued.token_id, api_server.client(issued.token))
        )
        return made[-1]

    yield make
    for each in made:
        each.client.close()


@pytest.fixture
def anonymous(api_server: RunningApi) -> Iterator[httpx.Client]:
    with api_server.client() as client:
        yield client


# ---------------------------------------------------------------------------- data

PII = {
    "tin": "DE987654321",
    "personal_id": "T22000129",
    "passport": "C01X00T478",
    "birth_date": "1979-03-14",
}


def create_customer(engine: Engine, number: str | None = None) -> dict[str, Any]:
    """A customer written through a real request (as a provisioning system would), with the
    PII of :data:`PII`; its status's result."""
    number = number or unique("API")
    status = submit(
        engine,
        {
            "request_id": unique("api-test"),
            "originating_user": "api.test.setup",
            "channel": "test",
            "operation": "customer.create",
            "payload": {
                "customer_number": number,
                "party": {
                    "kind": "individual",
                    "given_name": "Ilse",
                    "family_name": f"Zweig{number[-6:]}",
                    "birth_date": PII["birth_date"],
                },
                "identifications": [
                    {"type": "tin", "value": PII["tin"]},
                    {"type": "personal_id", "value": PII["personal_id"]},
                    {"type": "passport", "value": PII["passport"]},
                ],
                "contact_media": [{"type": "email", "value": f"{number.lower()}@example.com"}],
                "account": {"number": f"{number}.1", "name": "Ilse Zweig"},
            },
        },
        principal="pytest",
    )
    assert status.status in ("applied", "synced"), status
    return {"number": number, "id": status.customer_id, "status": status}
