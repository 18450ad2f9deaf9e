"""``crm-adapter up``: run the whole adapter on one machine with one command.

``adapter.cli`` registers the command; the CLI's helpers, Celery and the workers are imported
when it runs. ``up`` migrates the store, then starts each part as a child process in a
session (process group) of its own — the billing simulator, the billing push endpoint, N
workers, beat — and points the
children at the simulator it started (``CRM_BILLING_URL``). Own sessions matter twice: a
Ctrl-C in the terminal reaches ``up`` alone, which then stops the parts in order (beat and
workers first, so a warm shutdown can still finish a sync against the simulator), and a part's
pool processes can be killed as a group when its main process does not stop in time.

The demo data is loaded through real requests: envelopes enqueued as the Celery task
``crm.requests.apply``, applied by a worker and drained to the simulator by the sync, exactly
as a provisioning system's requests are. Their final status is printed as it is, ``failed``
included.

Every wait is bounded. A part that does not become ready is named, the tail of its log shown,
and every part already started is stopped again before ``up`` exits non-zero.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from adapter.settings import Settings

EXIT_FAILED = 1  # a part did not start, or died while running
STOP_GRACE = 15.0  # seconds a part gets to stop after SIGTERM before its group is killed
SIM_READY_TIMEOUT = 30.0
WORKER_READY_TIMEOUT = 60.0
BEAT_READY_TIMEOUT = 30.0
DEMO_TIMEOUT = 90.0
PERSON_CONTRACT = "CO-1001-1"
ORG_CONTRACT = "CO-2001-1"
ORG_MSISDN = "+4917012340002"
DEMO_DEPTH = 12  # levels of the demo organisation's account chain
POLL = 0.2

DEMO_CHANNEL = "demo"
DEMO_USER = "demo.loader"


class _StopRequested(BaseException):
    """SIGINT or SIGTERM arrived: stop every part and exit 0. A BaseException so that no
    ``except Exception`` on the way swallows it."""


class PartFailed(Exception):
    """A part did not start or died; the message names it."""


@dataclass
class Part:
    """One child process: its name, command, log file and process (own session)."""

    name: str
    argv: list[str]
    log: Path
    details: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, env: dict[str, str]) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def failure(self, why: str) -> PartFailed:
        return PartFailed(f"{self.name} {why} (log {self.log}):\n{self.tail()}")

    def terminate(self) -> None:
        """SIGTERM to the main process only: Celery's warm shutdown, uvicorn's graceful stop;
        the main process takes its own pool processes down."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()

    def finish(self, deadline: float) -> None:
        """Wait for the main process until DEADLINE, then SIGKILL the whole group (pool
        processes left behind included) and reap."""
        if self.process is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def _say(message: str) -> None:
    click.echo(message)
    sys.stdout.flush()


def _wait(part: Part, what: str, timeout: float, ready: Callable[[], bool]) -> None:
    """Poll READY until true; PartFailed when the part exits or TIMEOUT passes."""
    deadline = time.monotonic() + timeout
    while True:
        code = part.exit_code()
        if code is not None:
            raise part.failure(f"did not start: exited with code {code} before {what}")
        if ready():
            return
        if time.monotonic() > deadline:
            raise part.failure(f"did not start: no {what} within {timeout:g} s")
        time.sleep(POLL)


def _sim_healthy(admin_url: str) -> Callable[[], bool]:
    import httpx

    def check() -> bool:
        try:
            return httpx.get(f"{admin_url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def _log_has(part: Part, text: str) -> Callable[[], bool]:
    return lambda: text in part.log_text()


def _port_free(port: int) -> bool:
    """Whether 127.0.0.1:PORT can be listened on: checked before the simulator starts so
    that a port in use is named as such, and not mistaken for a running simulator."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the simulator binds: connections of an earlier run in TIME_WAIT do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _logs_info_level(settings: Settings) -> bool:
    return settings.log_level in ("DEBUG", "INFO")


def _ping_any_worker(settings: Settings, timeout: float) -> None:
    """`crm-adapter ping` semantics, for log levels that hide the workers' ready line."""
    from workers.app import create_app
    from workers.tasks.maintenance import PING

    app = create_app(settings)
    with app:
        result = app.send_task(PING, expires=timeout)
        try:
            result.get(timeout=timeout, interval=0.2)
        finally:
            result.forget()


# --------------------------------------------------------------------------------- demo


def _envelope(
    request_id: str, operation: str, payload: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "originating_user": DEMO_USER,
        "channel": DEMO_CHANNEL,
        "operation": operation,
        "payload": payload,
        **extra,
    }


def demo_envelopes() -> list[dict[str, Any]]:
    """The demo data as provisioning requests: an individual with an active contract, a data
    service and a discount, and an organisation with a twelve-level account chain whose fourth
    node has a contract, and a listing suppression on the port office's subtree (so its
    usage is hidden from agents and revealed to supervisors). The same customer numbers as
    ``crm-adapter demo``, so the README's examples work after either."""
    from adapter.demo import DEMO_CUSTOMER, DEMO_MSISDN, DEMO_ORGANISATION
    from adapter.domain.identifiers import complete_iccid

    contract = PERSON_CONTRACT
    person, org = DEMO_CUSTOMER, DEMO_ORGANISATION
    return [
        _envelope(
            "up-demo-1",
            "customer.create",
            {
                "customer_number": person,
                "party": {
                    "kind": "individual",
                    "given_name": "Ana",
                    "family_name": "Müller",
                    "birth_date": "1984-05-17",
                },
                "contact_media": [
                    {"type": "email", "value": "ana.mueller@example.com", "preferred": True}
                ],
                "addresses": [
                    {
                        "role": "billing",
                        "lines": ["Hauptstraße 1"],
                        "postcode": "10115",
                        "city": "Berlin",
                        "country": "DE",
                    }
                ],
                "account": {"number": f"{person}.1", "name": "Ana Müller"},
            },
        ),
        _envelope(
            "up-demo-2",
            "contract.create",
            {
                "account": f"{person}.1",
                "number": contract,
                "rate_plan": "RP_M",
                "status": "active",
                "subscriber": {
                    "msisdn": DEMO_MSISDN,
                    "imsi": "262011234500001",
                    "iccid": complete_iccid("49", 1),
                },
            },
            customer=person,
        ),
        _envelope(
            "up-demo-3",
            "service.add",
            {"contract": contract, "service_code": "DATA", "parameters": {"apn": "internet"}},
            customer=person,
        ),
        _envelope(
            "up-demo-4",
            "discount.assign",
            {"level": "contract", "contract": contract, "code": "LOYAL10", "value": "10"},
            customer=person,
        ),
        _envelope(
            "up-demo-5",
            "customer.create",
            {
                "customer_number": org,
                "segment": "corporate",
                "party": {
                    "kind": "organization",
                    "name": "Nordwind Logistik GmbH",
                    "legal_form": "GmbH",
                },
                "account": {"number": f"{org}.1", "name": "Nordwind head office"},
            },
        ),
        _envelope(
            "up-demo-6",
            "account.create",
            {
                "customer": org,
                "number": f"{org}.2",
                "name": "Nordwind branch Hamburg",
                "parent": f"{org}.1",
                "payment_responsible": False,
            },
        ),
        _envelope(
            "up-demo-7",
            "account.create",
            {
                "customer": org,
                "number": f"{org}.3",
                "name": "Nordwind port office",
                "parent": f"{org}.2",
                "payment_responsible": False,
            },
        ),
        _envelope(
            "up-demo-8",
            "account.create",
            {
                "customer": org,
                "number": f"{org}.4",
                "name": "Nordwind port night shift",
                "parent": f"{org}.3",
                "payment_responsible": False,
            },
        ),
        _envelope(
            "up-demo-9",
            "contract.create",
            {
                "account": f"{org}.4",
                "number": ORG_CONTRACT,
                "rate_plan": "RP_M",
                "status": "active",
                "subscriber": {
                    "msisdn": ORG_MSISDN,
                    "imsi": "262011234500002",
                    "iccid": complete_iccid("49", 2),
                },
            },
            customer=org,
        ),
        _envelope(
            "up-demo-10",
            "suppression.set",
            {
                "scope_type": "account",
                "account": f"{org}.3",
                "id": "up-demo-suppression",
                "reason": "works council agreement: no itemised listings for the port office",
            },
            customer=org,
        ),
        # Teams below the night shift, each under the one before: a tree deep enough to
        # expand level by level in the console (their costs go to the head office).
        *(
            _envelope(
                f"up-demo-{6 + level}",
                "account.create",
                {
                    "customer": org,
                    "number": f"{org}.{level}",
                    "name": f"Nordwind port night shift, team level {level}",
                    "parent": f"{org}.{level - 1}",
                    "payment_responsible": False,
                },
            )
            for level in range(5, DEMO_DEPTH + 1)
        ),
    ]


def _already_there(engine: Engine, envelopes: list[dict[str, Any]]) -> str | None:
    """Why the demo must not be loaded again, or None: its requests were sent before (they
    are idempotent, but their customers would be reported twice), or ``crm-adapter demo``
    wrote the same customers directly."""
    from adapter.demo import DEMO_CUSTOMER
    from adapter.domain.errors import NotFound
    from adapter.queries.customers import resolve
    from adapter.requests.apply import request_status
    from adapter.store.reading import read_connection

    try:
        request_status(engine, envelopes[0]["request_id"])
    except NotFound:
        pass
    else:
        return "demo requests sent by an earlier `up`"
    with read_connection(engine) as conn:
        try:
            resolve(conn, "customer", DEMO_CUSTOMER)
        except NotFound:
            return None
    return "demo customers written by `crm-adapter demo`"


def _wait_received(
    engine: Engine, request_id: str, check: Callable[[], None], deadline: float
) -> None:
    """Until the request is recorded, or DEADLINE (then the final report says so)."""
    from adapter.domain.errors import NotFound
    from adapter.requests.apply import request_status

    while time.monotonic() < deadline:
        check()
        try:
            request_status(engine, request_id)
        except NotFound:
            time.sleep(0.05)
        else:
            return


def load_demo_requests(settings: Settings, engine: Engine, check: Callable[[], None]) -> bool:
    """Enqueue the demo requests and wait (bounded) until each is synced or failed; print
    each outcome. CHECK is called while waiting (it raises if a part died). False when
    any request did not end ``synced``."""
    from adapter.domain.errors import NotFound
    from adapter.requests.apply import RequestStatus, request_status
    from workers.app import create_app
    from workers.tasks.requests import APPLY

    envelopes = demo_envelopes()
    reason = _already_there(engine, envelopes)
    if reason is not None:
        _say(f"demo data: already loaded ({reason})")
        return True
    deadline = time.monotonic() + DEMO_TIMEOUT  # for sending and syncing together
    app = create_app(settings)
    with app:
        for envelope in envelopes:
            # One at a time, each sent once the previous one is received: a request's place
            # among its customer's requests is its order of receipt, and two pool processes
            # receiving at once could otherwise put a service before its contract.
            app.send_task(APPLY, args=[envelope])
            _wait_received(engine, envelope["request_id"], check, deadline)
    _say(f"demo data: {len(envelopes)} requests enqueued ({APPLY}); waiting for the sync")
    pending = [e["request_id"] for e in envelopes]
    final: dict[str, RequestStatus | None] = dict.fromkeys(pending)
    while pending and time.monotonic() < deadline:
        check()
        for request_id in list(pending):
            try:
                status = request_status(engine, request_id)
            except NotFound:
                continue
            final[request_id] = status
            if status.status in ("synced", "failed"):
                pending.remove(request_id)
        if pending:
            time.sleep(POLL)
    all_synced = True
    for envelope in envelopes:
        found = final[envelope["request_id"]]
        state = found.status if found is not None else "not received"
        line = f"  {envelope['request_id']}  {envelope['operation']:<16} {state}"
        if found is not None and found.reason:
            line += f": {found.reason.get('message', found.reason)}"
        all_synced = all_synced and state == "synced"
        _say(line)
    if not all_synced:
        _say(
            f"demo data: not every request synced within {DEMO_TIMEOUT:g} s; "
            "see `crm-adapter requests status ID` and the worker logs"
        )
    return all_synced


def demo_billing_events(now: datetime) -> list[tuple[str, Any]]:
    """What billing pushes about the demo customers, as (event id, notification): balances of
    both top accounts, free units and this month's usage of both contracts (the organisation's
    usage is the suppressed listing)."""
    from decimal import Decimal

    from adapter.demo import DEMO_CUSTOMER, DEMO_ORGANISATION
    from adapter.notifications.client import (
        FreeUnit,
        UsageLine,
        balance_updated,
        free_units_updated,
        usage_records,
    )

    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    period = (month_start.date(), (next_month - timedelta(days=1)).date())
    # Usage spread over the month so far (at least the last hours on the 1st).
    span = max(now - month_start, timedelta(hours=1))
    start = max(month_start, now - span)

    def lines(first_id: int, count: int) -> list[UsageLine]:
        kinds: list[tuple[str, Decimal, dict[str, Any]]] = [
            ("VOICE", Decimal("0.09"), {"duration_sec": 180, "other_party": "+4930901820"}),
            ("SMS", Decimal("0.05"), {"other_party": "+4915112345678"}),
            ("DATA", Decimal("0.00"), {"volume_bytes": 52_428_800}),
        ]
        made = []
        for n in range(count):
            usage_type, charge, extra = kinds[n % len(kinds)]
            at = start + span * (n + 1) / (count + 1)
            made.append(
                UsageLine(first_id + n, at.replace(microsecond=0), usage_type, charge, **extra)
            )
        return made

    def units(used_mb: str, used_min: str) -> list[FreeUnit]:
        return [
            FreeUnit("FU_DATA", "MB", Decimal(10240), Decimal(used_mb), *period),
            FreeUnit("FU_VOICE", "MIN", Decimal(300), Decimal(used_min), *period),
        ]

    as_of = now.replace(microsecond=0)
    return [
        (
            "up-demo-balance-1",
            balance_updated(
                "up-demo-balance-1",
                f"{DEMO_CUSTOMER}.1",
                current=Decimal("19.99"),
                unbilled=Decimal("4.37"),
                outstanding=Decimal("0"),
                as_of=as_of,
            ),
        ),
        (
            "up-demo-balance-2",
            balance_updated(
                "up-demo-balance-2",
                f"{DEMO_ORGANISATION}.1",
                current=Decimal("1249.00"),
                unbilled=Decimal("312.40"),
                outstanding=Decimal("120.00"),
                as_of=as_of,
            ),
        ),
        (
            "up-demo-freeunits-1",
            free_units_updated(
                "up-demo-freeunits-1", PERSON_CONTRACT, units("3584", "95"), as_of=as_of
            ),
        ),
        (
            "up-demo-freeunits-2",
            free_units_updated(
                "up-demo-freeunits-2", ORG_CONTRACT, units("9216", "240"), as_of=as_of
            ),
        ),
        (
            "up-demo-usage-1",
            usage_records(
                "up-demo-usage-1", PERSON_CONTRACT, lines(9_100_001, 12), raised_at=as_of
            ),
        ),
        (
            "up-demo-usage-2",
            usage_records("up-demo-usage-2", ORG_CONTRACT, lines(9_200_001, 9), raised_at=as_of),
        ),
    ]


def load_demo_billing_events(
    settings: Settings, engine: Engine, push_url: str, check: Callable[[], None]
) -> bool:
    """Push the demo's billing events through the push endpoint (as billing would) and wait
    (bounded) until the workers applied each; print each outcome. False when one was not
    applied."""
    import httpx

    from adapter.domain.errors import NotFound
    from adapter.notifications.apply import event_status
    from adapter.notifications.client import NotificationRefused, send

    events = demo_billing_events(datetime.now(UTC))
    password = settings.notify_password.get_secret_value()
    try:
        with httpx.Client(timeout=30) as client:
            for _event_id, notification in events:
                send(client, push_url, notification, user=settings.notify_user, password=password)
    except (NotificationRefused, httpx.HTTPError) as exc:
        _say(f"demo billing events: not accepted by the push endpoint: {exc}")
        return False
    _say(f"demo billing events: {len(events)} pushed to {push_url}; waiting for the workers")
    deadline = time.monotonic() + DEMO_TIMEOUT
    final: dict[str, str] = {}
    while len(final) < len(events) and time.monotonic() < deadline:
        check()
        for event_id, _ in events:
            if event_id in final:
                continue
            try:
                state = event_status(engine, event_id)
            except NotFound:
                continue
            if state.status != "received":
                final[event_id] = state.status + (
                    f": {state.reason.get('message')}" if state.reason else ""
                )
        if len(final) < len(events):
            time.sleep(POLL)
    for event_id, _ in events:
        _say(f"  {event_id:<22} {final.get(event_id, 'not applied in time')}")
    return all(final.get(e, "").startswith("applied") for e, _ in events)


# ---------------------------------------------------------------------------- API users

DEMO_USERS = (("agent", "agent"), ("supervisor", "supervisor"), ("admin", "admin"))


def _demo_users(engine: Engine, api: str) -> None:
    """On a store without API users: create one per demo role and print its token (shown
    once; only its hash is stored). Later starts leave users alone."""
    from adapter.api.access import add_user, list_users

    existing = list_users(engine)
    if existing:
        _say(
            f"api users: {len(existing)} exist (`crm-adapter users list`; a new token: "
            "`crm-adapter users token NAME`)"
        )
        return
    _say(
        f"api users created (tokens shown once; sign in with one at {api}/console, or try: "
        f"curl -H 'Authorization: Bearer …' {api}/api/v1/whoami):"
    )
    for name, role in DEMO_USERS:
        issued = add_user(engine, name, role)
        _say(f"  {name:<11} role {role:<11} token {issued.token}")


# ------------------------------------------------------------------------------ running


class Runner:
    """The started parts, in start order; stops them in reverse groups."""

    def __init__(self) -> None:
        self.parts: list[Part] = []

    def start(self, part: Part, env: dict[str, str]) -> Part:
        self.parts.append(part)  # first: a signal right after the fork still finds it
        part.start(env)
        _say(f"started {part.name} (pid {part.pid}, log {part.log})")
        return part

    def check(self) -> None:
        """PartFailed if a started part has exited."""
        for part in self.parts:
            if part.process is None:
                continue
            code = part.exit_code()
            if code is not None:
                raise part.failure(f"exited unexpectedly with code {code}")

    def stop(self) -> None:
        """Beat and workers first (SIGTERM, warm shutdown, up to STOP_GRACE), then the
        simulator, so that a sync still running can reach it."""
        consumers = [p for p in self.parts if not p.name.startswith("billing simulator")]
        sims = [p for p in self.parts if p.name.startswith("billing simulator")]
        for group in (consumers, sims):
            for part in reversed(group):
                part.terminate()
            deadline = time.monotonic() + STOP_GRACE
            for part in reversed(group):
                part.finish(deadline)
        for part in self.parts:
            if part.process is None:
                continue
            code = part.exit_code()
            how = f"exit code {code}" if code is None or code >= 0 else f"signal {-code}"
            _say(f"stopped {part.name} (pid {part.pid}, {how})")


@contextlib.contextmanager
def _signals_stop() -> Iterator[None]:
    """SIGINT and SIGTERM raise _StopRequested (once); while stopping, further signals are
    ignored so that the stop itself is not cut short."""

    def handler(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise _StopRequested(signal.Signals(signum).name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@click.command("up")
@click.option("--no-demo", is_flag=True, help="Do not load the demo data.")
@click.option(
    "--workers",
    "worker_count",
    type=click.IntRange(1, 32),
    default=1,
    show_default=True,
    help="Worker processes (each takes every queue, concurrency 2).",
)
@click.option(
    "--sim-port",
    type=click.IntRange(1, 65535),
    default=8088,
    show_default=True,
    help="Port of the billing simulator (on 127.0.0.1).",
)
@click.option(
    "--push-port",
    type=click.IntRange(1, 65535),
    default=8089,
    show_default=True,
    help="Port of the billing push endpoint, POST /soap/notifications (on 127.0.0.1).",
)
@click.option(
    "--api-port",
    type=click.IntRange(1, 65535),
    default=8080,
    show_default=True,
    help="Port of the CRM API, /api/v1 and /docs (on 127.0.0.1).",
)
def up_cmd(no_demo: bool, worker_count: int, sim_port: int, push_port: int, api_port: int) -> None:
    """Run everything on this machine: migrate the store, start the billing simulator, the
    push endpoint, the CRM API, workers and beat (each logging to CRM_DATA_DIR/logs/), create
    demo API users (agent, supervisor, admin) when there are none and print their tokens, load
    the demo data through real requests, print what runs where, and stop it all on Ctrl-C or
    SIGTERM."""
    from adapter.cli import _container
    from adapter.cli_workers import safe_url
    from adapter.settings import get_settings
    from adapter.store.database import current_revision, upgrade
    from workers.config import QUEUES, broker_dir, broker_url, is_embedded

    settings = get_settings()
    data_dir = settings.ensure_data_dir().resolve()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    engine = _container().engine
    upgrade(engine)
    store_url = engine.url.render_as_string()
    _say(f"store at revision {current_revision(engine)}: {store_url}")

    base = f"http://127.0.0.1:{sim_port}"
    billing_url = f"{base}/ws/cil"
    env = {**os.environ, "CRM_DATA_DIR": str(data_dir), "CRM_BILLING_URL": billing_url}
    child_settings = settings.model_copy(update={"billing_url": billing_url})
    cli = [sys.executable, "-m", "adapter.cli"]
    host = socket.gethostname()
    runner = Runner()
    code = 0
    with _signals_stop():
        try:
            # ---- billing simulator
            sim = Part(
                "billing simulator",
                [*cli, "billing-sim", "--host", "127.0.0.1", "--port", str(sim_port)],
                logs / "billing-sim.log",
                f"{billing_url} (WSDL {billing_url}?wsdl, admin {base}/admin)",
            )
            if not _port_free(sim_port):
                raise PartFailed(
                    f"billing simulator cannot start: port {sim_port} is already in use "
                    "(choose another with --sim-port)"
                )
            runner.start(sim, env)
            _wait(sim, "answer on /admin/health", SIM_READY_TIMEOUT, _sim_healthy(f"{base}/admin"))

            # ---- the billing push endpoint (and later the API and console): started like
            # the simulator, waited for on its health URL, stopped with the workers.
            push = f"http://127.0.0.1:{push_port}"
            endpoint = Part(
                "push endpoint",
                [*cli, "notifications", "serve", "--host", "127.0.0.1", "--port", str(push_port)],
                logs / "push-endpoint.log",
                f"{push}/soap/notifications (WSDL {push}/soap/notifications?wsdl)",
            )
            if not _port_free(push_port):
                raise PartFailed(
                    f"push endpoint cannot start: port {push_port} is already in use "
                    "(choose another with --push-port)"
                )
            runner.start(endpoint, env)
            _wait(endpoint, "answer on /health", SIM_READY_TIMEOUT, _sim_healthy(push))

            # ---- the CRM API (docs/api.md)
            api = f"http://127.0.0.1:{api_port}"
            api_part = Part(
                "api",
                [*cli, "serve", "--host", "127.0.0.1", "--port", str(api_port)],
                logs / "api.log",
                f"{api}/api/v1 (docs {api}/docs, OpenAPI {api}/openapi.json; "
                f"care-agent console {api}/console)",
            )
            if not _port_free(api_port):
                raise PartFailed(
                    f"api cannot start: port {api_port} is already in use "
                    "(choose another with --api-port)"
                )
            runner.start(api_part, env)
            _wait(api_part, "answer on /health", SIM_READY_TIMEOUT, _sim_healthy(api))
            _demo_users(engine, api)

            # ---- workers
            workers: list[Part] = []
            for n in range(1, worker_count + 1):
                node = f"worker{n}@{host}"
                workers.append(
                    runner.start(
                        Part(
                            f"worker {n}",
                            [
                                *cli,
                                "worker",
                                f"--hostname={node}",
                                "--concurrency=2",
                                f"--queues={','.join(QUEUES)}",
                            ],
                            logs / f"worker{n}.log",
                            f"{node}, queues {','.join(QUEUES)}, concurrency 2",
                        ),
                        env,
                    )
                )
            for n, worker in enumerate(workers, 1):
                if _logs_info_level(settings):
                    line = f"worker{n}@{host} ready."
                    _wait(worker, "ready line", WORKER_READY_TIMEOUT, _log_has(worker, line))
            if not _logs_info_level(settings):
                try:
                    _ping_any_worker(child_settings, WORKER_READY_TIMEOUT)
                except Exception as exc:
                    raise workers[0].failure(f"did not answer a ping: {exc}") from None

            # ---- beat
            beat = runner.start(
                Part("beat", [*cli, "beat"], logs / "beat.log", "periodic tasks"), env
            )
            if _logs_info_level(settings):
                _wait(
                    beat,
                    "'beat: Starting' line",
                    BEAT_READY_TIMEOUT,
                    _log_has(beat, "beat: Starting"),
                )
            else:
                time.sleep(2)
                runner.check()

            # ---- demo data
            demo_ok = True
            if no_demo:
                _say("demo data: skipped (--no-demo)")
            else:
                demo_ok = load_demo_requests(child_settings, engine, runner.check)
                if demo_ok:
                    push_url = f"{push}/soap/notifications"
                    demo_ok = load_demo_billing_events(
                        child_settings, engine, push_url, runner.check
                    )

            # ---- summary
            broker = safe_url(broker_url(settings))
            if is_embedded(settings):
                broker += f" (embedded, folder {broker_dir(settings)})"
            _say("")
            _say("crm-adapter up: what runs where")
            _say(f"  store              {store_url}")
            _say(f"  broker             {broker}")
            for part in runner.parts:
                _say(f"  {part.name:<18} {part.details}; pid {part.pid}; log {part.log}")
            _say(f"  logs               {logs}")
            if not demo_ok:
                _say("  demo data          NOT fully synced (see above)")
            _say("")
            _say(
                f"crm-adapter up: ready; stop with Ctrl-C (or kill -TERM {os.getpid()}); "
                f"stopping takes up to {STOP_GRACE:g} s per group"
            )

            while True:
                runner.check()
                time.sleep(0.5)
        except _StopRequested as stop:
            _say(f"\n{stop.args[0] if stop.args else 'signal'} received: stopping")
        except PartFailed as exc:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            click.echo(f"error: {exc}", err=True)
            _say("stopping the parts already started")
            code = EXIT_FAILED
        finally:
            runner.stop()
    if code:
        sys.exit(code)
