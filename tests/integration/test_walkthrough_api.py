"""The API tried as a new user would (issue 6, "done when"): with ``crm-adapter up`` running, a
new token from ``crm-adapter users add`` searches the demo customer, walks its hierarchy, reads
listings, changes and restores a field, sees the restored value and the changes in the history
with the user as actor, and finds every path it used documented in ``/openapi.json``. The
change made through the API reaches the billing simulator (workers and beat run under ``up``).

Everything runs as separate processes, as a user starts them: ``up`` (simulator, push
endpoint, API, a worker, beat, on the embedded broker) and the ``users add`` command. The store
is the embedded SQLite file, and a PostgreSQL database of its own when
``CRM_TEST_DATABASE_URL`` is set. Every process ``up`` started is killed afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapter.legacy import Gateway
from adapter.settings import Settings
from tests.conftest import reset_postgres_at
from tests.integration.test_up import STARTED, _free_port
from tests.integration.test_workers import CLI, _environment

READY_TIMEOUT = 120.0  # `up` starts five processes on a contended machine
SYNC_TIMEOUT = 90.0  # a change to reach the simulator: request, outbox, drain task, CIL call
STOP_TIMEOUT = 30.0
USER = "walk.through"

pytestmark = pytest.mark.slow


class Up:
    """``crm-adapter up`` on free ports, its output in files; ``cleanup`` kills every part."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.env = env
        self.sim_port, self.push_port, self.api_port = _free_port(), _free_port(), _free_port()
        self.out, self.err = folder / "up.out", folder / "up.err"
        args = ["--sim-port", str(self.sim_port), "--push-port", str(self.push_port)]
        args += ["--api-port", str(self.api_port)]
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen([*CLI, "up", *args], env=env, stdout=out, stderr=err)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def billing_url(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}/ws/cil"

    def output(self) -> str:
        return (
            f"{self.out.read_text(errors='replace')}\n--- stderr\n"
            f"{self.err.read_text(errors='replace')}"
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if "crm-adapter up: ready" in self.out.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.3)
        pytest.fail(f"`up` not ready within {READY_TIMEOUT} s:\n{self.output()}")

    def cleanup(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for found in STARTED.finditer(self.out.read_text(errors="replace")):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(found["pid"]), signal.SIGKILL)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def up(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Up]:
    """``up`` running on the backend's store, ready."""
    env = _environment(tmp_path / "data")
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_database")
        reset_postgres_at(url)
        env["CRM_DATABASE_URL"] = url
    running = Up(tmp_path, env)
    try:
        running.wait_ready()
        yield running
    finally:
        running.cleanup()


def _cli(up: Up, *args: str) -> str:
    done = subprocess.run(
        [*CLI, *args], env=up.env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"crm-adapter {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path} → {response.status_code}: "
        f"{response.text[:1000]}"
    )
    return response.json() if "json" in response.headers.get("content-type", "") else None


def _eventually(what: str, probe: Callable[[], Any], timeout: float = SYNC_TIMEOUT) -> Any:
    """PROBE's first truthy answer within TIMEOUT; else fail naming WHAT and the last answer."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.5)
    pytest.fail(f"{what} within {timeout} s; last seen: {last!r}")


def _billing_last_name(up: Up, account_number: str) -> Callable[[], str | None]:
    gateway = Gateway(Settings(billing_url=up.billing_url, billing_retries=0))

    def read() -> str | None:
        found = gateway.call("CustomerRead", {"csIdPub": account_number})
        customer = found.get("customer") or {}
        name = customer.get("lastName")
        return None if name is None else str(name)

    return read


def test_a_new_user_searches_walks_reads_restores_and_finds_it_all_documented(up: Up) -> None:
    """Issue 6 "done when", end to end over HTTP with a token from `users add`; the API's
    write reaches billing and so does its restore."""
    # A new user with a role that may do all of it, and its token (printed once).
    added = json.loads(_cli(up, "users", "add", USER, "--role", "admin", "--json"))
    assert added["user"] == USER and added["token"].startswith("crm_")
    api = httpx.Client(
        base_url=up.api, headers={"Authorization": f"Bearer {added['token']}"}, timeout=30
    )
    used: list[tuple[str, str]] = []  # (method, path) of every call, for the docs

    def call(method: str, template: str, /, status: int = 200, **kw: Any) -> Any:
        path = template.format(**kw.pop("path", {}))
        used.append((method.lower(), path))
        return _ok(api.request(method, path, **kw), status)

    with api:
        assert call("GET", "/api/v1/whoami")["name"] == USER

        # Search the demo customer: by name, then by its number.
        found = call("GET", "/api/v1/search", params={"name": "Müller"})
        numbers = {item["customer_number"] for item in found}
        assert "DEMO-1001" in numbers, found
        person = next(item for item in found if item["customer_number"] == "DEMO-1001")
        view = call("GET", "/api/v1/customers/{customer_id}", path={"customer_id": person["id"]})
        assert view["customer"]["party"]["family_name"] == "Müller"

        # Walk the organisation's hierarchy: its head office and the branch under it.
        org = call("GET", "/api/v1/search", params={"customer_number": "DEMO-2001"})[0]
        org_view = call("GET", "/api/v1/customers/{customer_id}", path={"customer_id": org["id"]})
        accounts = {a["number"]: a for a in org_view["accounts"]}
        head, branch = accounts["DEMO-2001.1"], accounts["DEMO-2001.2"]
        tree = call("GET", "/api/v1/accounts/{account_id}/tree", path={"account_id": head["id"]})
        children = tree.get("children", [])
        assert [c["id"] for c in children] == [branch["id"]], tree
        ancestors = call(
            "GET", "/api/v1/accounts/{account_id}/ancestors", path={"account_id": branch["id"]}
        )
        assert [a["id"] for a in ancestors] == [head["id"]], ancestors
        payer = call(
            "GET", "/api/v1/accounts/{account_id}/payer", path={"account_id": branch["id"]}
        )
        assert (payer["payer"]["id"], payer["levels_up"]) == (head["id"], 1), payer

        # Listings of the demo subscriber this month: the usage `up` pushed as billing, shown.
        subscriber = view["subscribers"][0]
        month = time.strftime("%Y-%m")
        listings = call(
            "GET",
            "/api/v1/subscribers/{subscriber_id}/listings",
            path={"subscriber_id": subscriber["id"]},
            params={"month": month},
        )
        assert listings.get("suppressed") is False, listings
        assert listings["total"] > 0, listings

        # Change the family name through the API…
        changed = call(
            "PATCH",
            "/api/v1/customers/{customer_id}",
            path={"customer_id": person["id"]},
            json={"party": {"family_name": "Walkthrough"}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert changed["customer"]["party"]["family_name"] == "Walkthrough"
        version_before = int(view["customer"]["_version"])
        # …which reaches the billing simulator (the worker drains the outbox).
        last_name = _billing_last_name(up, "DEMO-1001.1")
        _eventually("the changed name in billing", lambda: last_name() == "Walkthrough")

        # Restore that one field to the version before the change.
        call(
            "POST",
            "/api/v1/{kind}/{entity_id}/restore",
            path={"kind": "customers", "entity_id": person["id"]},
            json={"version": version_before, "field": "party.family_name"},
        )
        restored = call(
            "GET", "/api/v1/customers/{customer_id}", path={"customer_id": person["id"]}
        )
        assert restored["customer"]["party"]["family_name"] == "Müller"

        # The history shows both changes, made by the new user through the API.
        history = call(
            "GET",
            "/api/v1/{kind}/{entity_id}/history",
            path={"kind": "customers", "entity_id": person["id"]},
        )
        mine = [e for e in history if e["originating_user"] == USER]
        assert [(e["operation"], e["channel"]) for e in mine] == [
            ("customer.update", "api"),
            ("version.restore", "api"),
        ], history
        changed_name, restored_name = (e["diff"]["party.family_name"] for e in mine)
        assert (changed_name["old"], changed_name["new"]) == ("Müller", "Walkthrough")
        assert (restored_name["old"], restored_name["new"]) == ("Walkthrough", "Müller")
        _eventually("the restored name in billing", lambda: last_name() == "Müller")

        # The OpenAPI document describes every call used above (method, path, a summary and
        # the bearer security), and the documentation page that shows it answers.
        document = _ok(httpx.get(f"{up.api}/openapi.json", timeout=30))
        undocumented = [
            f"{method.upper()} {path}"
            for method, path in used
            if not (_operation(document, method, path) or {}).get("summary")
        ]
        assert undocumented == [], undocumented
        assert "bearer" in json.dumps(document["components"]["securitySchemes"]).lower()
        page = httpx.get(f"{up.api}/docs", timeout=30)
        assert page.status_code == 200 and "/openapi.json" in page.text


def _operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    """The OpenAPI DOCUMENT's operation METHOD on the path template matching the concrete
    PATH, or None."""
    for template, operations in document["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path) and method in operations:
            found: dict[str, Any] = operations[method]
            return found
    return None
