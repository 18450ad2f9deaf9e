"""End-to-end pipeline benchmark (issue 5): provisioning requests enqueued on the broker,
applied by Celery workers to the store and synced to the billing simulator over SOAP, beside a
no-op Celery task measured in the same run; then usage records pushed by billing to
``POST /soap/notifications``.

Every part is the real thing, each in its own process: PostgreSQL (a ``crm_bench_*`` database
created and dropped by the run), Redis as broker and result backend (a database number of its
own, flushed at the start), the billing simulator, the push endpoint and two worker processes
(two worker nodes of concurrency 1, each listening on every queue). The bench process only
enqueues, posts and reads the store.

Figures, in order:

1. **No-op rate**: ``crm.maintenance.ping`` tasks (no side effect) enqueued at once, completion
   rate read from their results: the ceiling Celery and the broker set on this machine.
2. **Maximum request rate**: a backlog of requests (half ``customer.create`` of new customers,
   half ``service.add`` on contracts made in the set-up) enqueued at once, the rate at which
   they end ``synced`` (applied, and every outbox message sent to billing).
3. **Latency at 50% and 80% of that rate**: requests sent at a steady rate (open loop) for a
   while; enqueue → applied and enqueue → synced p50/p95/p99.
4. **Usage ingestion**: batches of usage records posted to the push endpoint by concurrent
   clients; records acknowledged per second (durably stored), and records applied per second by
   the workers (the events' ``crm.events.apply`` tasks).

Goals (issue 5): at least 300 requests/s and at least 0.3 of the no-op rate; at least 1,000
usage records/s ingested.

Usage::

    .venv/bin/python bench/bench_pipeline.py   # defaults: PostgreSQL test server, Redis db 13
    .venv/bin/python bench/bench_pipeline.py --requests 1000 --phase-seconds 20 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy import Engine, create_engine, func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdb import fresh_database

from adapter.cli_up import Part
from adapter.store import tables as t
from adapter.store.database import upgrade

DEFAULT_DB = os.environ.get(
    "CRM_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DEFAULT_BROKER = "redis://127.0.0.1:6379/13"
SERVICE_CODES = ["VOICE", "SMS", "MMS", "ROAMING", "VOICEMAIL", "CLIP", "CLIR", "CALL_FWD"]
NOTIFY_USER, NOTIFY_PASSWORD = "billing", "bench-notify-secret"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "n": 0}
    ordered = sorted(values)
    q = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else []

    def at(p: int) -> float:
        return ordered[0] if not q else q[p - 1]

    return {"p50": at(50), "p95": at(95), "p99": at(99), "n": len(ordered)}


# ----------------------------------------------------------------------------- envelopes


def envelope(request_id: str, operation: str, payload: dict[str, Any], **extra: Any) -> dict:
    return {
        "request_id": request_id,
        "originating_user": "bench",
        "channel": "bench",
        "operation": operation,
        "payload": payload,
        **extra,
    }


def create_customer(request_id: str, number: str) -> dict[str, Any]:
    return envelope(
        request_id,
        "customer.create",
        {
            "customer_number": number,
            "party": {"kind": "individual", "given_name": "Bench", "family_name": number},
            "contact_media": [{"type": "email", "value": f"{number.lower()}@example.com"}],
            "addresses": [
                {
                    "role": "billing",
                    "lines": ["Hauptstraße 1"],
                    "postcode": "10115",
                    "city": "Berlin",
                    "country": "DE",
                }
            ],
            "account": {"number": f"{number}.1", "name": f"Bench {number}"},
        },
    )


def create_contract(request_id: str, number: str, n: int) -> dict[str, Any]:
    from adapter.domain.identifiers import complete_iccid

    return envelope(
        request_id,
        "contract.create",
        {
            "account": f"{number}.1",
            "number": f"K-{number}",
            "rate_plan": "RP_M",
            "status": "active",
            "subscriber": {
                "msisdn": f"+4917{n:09d}",
                "imsi": f"26201{n:010d}",
                "iccid": complete_iccid("49", n),
            },
        },
        customer=number,
    )


def add_service(request_id: str, number: str, code: str) -> dict[str, Any]:
    return envelope(
        request_id,
        "service.add",
        {"contract": f"K-{number}", "service_code": code},
        customer=number,
    )


class Workload:
    """Measured requests: alternately a new customer and a service on a set-up contract (each
    contract takes each service code once)."""

    def __init__(self, run: str, contracts: list[str]) -> None:
        self.run = run
        self.contracts = contracts
        self.n = 0
        self.services: Iterator[tuple[str, str]] = (
            (number, code) for code in SERVICE_CODES for number in contracts
        )

    def next(self, phase: str) -> dict[str, Any]:
        self.n += 1
        request_id = f"{phase}-{self.n}"
        if self.n % 2:
            return create_customer(request_id, f"{self.run}N{self.n}")
        number, code = next(self.services)
        return add_service(request_id, number, code)


# ----------------------------------------------------------------------------- the parts


@contextmanager
def running_parts(url: str, broker: str, workers: int, folder: Path) -> Iterator[dict[str, Any]]:
    sim_port, push_port = free_port(), free_port()
    billing_url = f"http://127.0.0.1:{sim_port}/ws/cil"
    env = {
        **os.environ,
        "CRM_DATA_DIR": str(folder),
        "CRM_DATABASE_URL": url,
        "CRM_BROKER_URL": broker,
        "CRM_BILLING_URL": billing_url,
        "CRM_NOTIFY_USER": NOTIFY_USER,
        "CRM_NOTIFY_PASSWORD": NOTIFY_PASSWORD,
        "CRM_LOG_LEVEL": os.environ.get("CRM_LOG_LEVEL", "INFO"),
    }
    cli = [sys.executable, "-m", "adapter.cli"]
    logs = folder / "logs"
    logs.mkdir()
    parts = [
        Part("billing-sim", [*cli, "billing-sim", "--port", str(sim_port)], logs / "sim.log"),
        Part(
            "push endpoint",
            [*cli, "notifications", "serve", "--port", str(push_port)],
            logs / "push.log",
        ),
    ]
    from workers.config import QUEUES

    for n in range(1, workers + 1):
        parts.append(
            Part(
                f"worker {n}",
                [
                    *cli,
                    "worker",
                    f"--hostname=bench{n}@%h",
                    "--concurrency=1",
                    f"--queues={','.join(QUEUES)}",
                ],
                logs / f"worker{n}.log",
            )
        )
    for part in parts:
        part.start(env)
    try:
        deadline = time.monotonic() + 60
        for health in (
            f"http://127.0.0.1:{sim_port}/admin/health",
            f"http://127.0.0.1:{push_port}/health",
        ):
            while True:
                try:
                    if httpx.get(health, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{health} did not answer; logs in {logs}")
                time.sleep(0.2)
        yield {"push_url": f"http://127.0.0.1:{push_port}/soap/notifications", "parts": parts}
    finally:
        for part in parts:
            part.terminate()
        stop_by = time.monotonic() + 20
        for part in parts:
            part.finish(stop_by)


def worker_app(broker: str) -> Any:
    from adapter.settings import Settings
    from workers.app import create_app

    return create_app(Settings(broker_url=broker))


def wait_for_workers(app: Any, workers: int) -> None:
    deadline = time.monotonic() + 120
    seen: set[str] = set()
    while len(seen) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(seen)} of {workers} workers answered a ping")
        answers = [app.send_task("crm.maintenance.ping") for _ in range(workers * 2)]
        for answer in answers:
            try:
                seen.add(answer.get(timeout=30)["hostname"])
            except Exception as exc:
                say(f"   waiting for workers: {type(exc).__name__}")


# ----------------------------------------------------------------------------- measuring


def noop_rate(app: Any, count: int) -> dict[str, float]:
    start = time.perf_counter()
    results = [app.send_task("crm.maintenance.ping") for _ in range(count)]
    sent = time.perf_counter()
    for result in results:
        result.get(timeout=300)
    done = time.perf_counter()
    return {
        "tasks": count,
        "enqueue_s": sent - start,
        "total_s": done - start,
        "per_s": count / (done - start),
    }


def statuses(engine: Engine, prefix: str) -> dict[str, int]:
    r = t.request.c
    query = (
        select(r.status, func.count()).where(r.request_id.like(f"{prefix}-%")).group_by(r.status)
    )
    with engine.connect() as conn:
        return {status: n for status, n in conn.execute(query)}


def wait_done(engine: Engine, prefix: str, expected: int, timeout: float) -> dict[str, int]:
    """Wait until every request of ``prefix`` is synced or failed."""
    deadline = time.monotonic() + timeout
    while True:
        counts = statuses(engine, prefix)
        done = counts.get("synced", 0) + counts.get("failed", 0)
        if done >= expected:
            return counts
        if time.monotonic() > deadline:
            raise RuntimeError(f"{prefix}: only {counts} of {expected} after {timeout:g} s")
        time.sleep(0.25)


def times(
    engine: Engine, prefix: str
) -> list[tuple[str, datetime, datetime | None, datetime | None]]:
    r = t.request.c
    query = select(r.request_id, r.received_at, r.applied_at, r.synced_at).where(
        r.request_id.like(f"{prefix}-%")
    )
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]  # type: ignore[misc]


def max_rate(app: Any, engine: Engine, work: Workload, count: int) -> dict[str, Any]:
    phase = f"{work.run}-max"
    envelopes = [work.next(phase) for _ in range(count)]
    start_wall = datetime.now(UTC)
    start = time.perf_counter()
    for env in envelopes:
        app.send_task("crm.requests.apply", args=[env])
    enqueue_s = time.perf_counter() - start
    counts = wait_done(engine, phase, count, timeout=max(600.0, count))
    rows = times(engine, phase)
    last_applied = max(a for _, _, a, _ in rows if a is not None)
    last_synced = max(s for _, _, _, s in rows if s is not None)
    applied_s = (last_applied - start_wall).total_seconds()
    synced_s = (last_synced - start_wall).total_seconds()
    return {
        "requests": count,
        "statuses": counts,
        "enqueue_s": enqueue_s,
        "applied_per_s": count / applied_s,
        "synced_per_s": count / synced_s,
        "synced_s": synced_s,
    }


def steady(
    app: Any, engine: Engine, work: Workload, rate: float, seconds: float, label: str
) -> dict[str, Any]:
    phase = f"{work.run}-{label}"
    sent_at: dict[str, datetime] = {}
    interval = 1.0 / rate
    total = int(rate * seconds)
    start = time.perf_counter()
    for i in range(total):
        due = start + i * interval
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        env = work.next(phase)
        sent_at[env["request_id"]] = datetime.now(UTC)
        app.send_task("crm.requests.apply", args=[env])
    send_s = time.perf_counter() - start
    counts = wait_done(engine, phase, total, timeout=max(600.0, total))
    applied: list[float] = []
    synced: list[float] = []
    for request_id, _received, applied_at, synced_at in times(engine, phase):
        if applied_at is not None:
            applied.append((applied_at - sent_at[request_id]).total_seconds() * 1000)
        if synced_at is not None:
            synced.append((synced_at - sent_at[request_id]).total_seconds() * 1000)
    return {
        "target_per_s": rate,
        "sent": total,
        "sent_per_s": total / send_s,
        "statuses": counts,
        "applied_ms": percentiles(applied),
        "synced_ms": percentiles(synced),
    }


def usage_body(event_id: str, contract: str, first_udr: int, size: int) -> bytes:
    from decimal import Decimal

    from adapter.notifications.client import UsageLine, soap_request, usage_records

    at = datetime(2026, 11, 19, 8, 0, tzinfo=UTC)
    lines = [
        UsageLine(
            first_udr + i,
            at + timedelta(seconds=i),
            "VOICE",
            Decimal("0.09"),
            other_party="+4930123456",
            duration_sec=60,
        )
        for i in range(size)
    ]
    notification = usage_records(event_id, contract, lines, raised_at=at)
    return soap_request(notification, user=NOTIFY_USER, password=NOTIFY_PASSWORD)


def usage_ingest(
    engine: Engine, push_url: str, contracts: list[str], batches: int, size: int, clients: int
) -> dict[str, Any]:
    bodies = [
        (
            f"bench-usage-{n}",
            usage_body(
                f"bench-usage-{n}",
                f"K-{contracts[n % len(contracts)]}",
                10_000_000 + n * size,
                size,
            ),
        )
        for n in range(batches)
    ]
    errors: list[str] = []
    lock = threading.Lock()

    def post(item: tuple[str, bytes], client: httpx.Client) -> None:
        response = client.post(
            push_url, content=item[1], headers={"Content-Type": "text/xml; charset=utf-8"}
        )
        if response.status_code != 200:
            with lock:
                errors.append(f"{response.status_code}: {response.text[:200]}")

    local = threading.local()

    def task(item: tuple[str, bytes]) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=60)
        post(item, local.client)

    start_wall = datetime.now(UTC)
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(task, bodies))
    ack_s = time.perf_counter() - start
    e = t.inbound_event.c
    deadline = time.monotonic() + 900
    while True:
        with engine.connect() as conn:
            counts = dict(
                conn.execute(
                    select(e.status, func.count())
                    .where(e.event_id.like("bench-usage-%"))
                    .group_by(e.status)
                ).all()
            )
        if counts.get("received", 0) == 0 and sum(counts.values()) >= batches - len(errors):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"usage events not applied: {counts}")
        time.sleep(0.25)
    with engine.connect() as conn:
        last = conn.execute(
            select(func.max(e.applied_at)).where(e.event_id.like("bench-usage-%"))
        ).scalar_one()
    applied_s = (last - start_wall).total_seconds() if last else float("nan")
    records = batches * size
    return {
        "batches": batches,
        "records_per_batch": size,
        "clients": clients,
        "errors": errors[:5],
        "error_count": len(errors),
        "statuses": counts,
        "acknowledged_per_s": records / ack_s,
        "applied_per_s": records / applied_s,
    }


# ----------------------------------------------------------------------------- main


def setup_contracts(app: Any, engine: Engine, run: str, count: int) -> list[str]:
    numbers = [f"{run}S{n}" for n in range(1, count + 1)]
    for n, number in enumerate(numbers):
        app.send_task("crm.requests.apply", args=[create_customer(f"{run}-setupc-{n}", number)])
    wait_done(engine, f"{run}-setupc", count, timeout=900)
    for n, number in enumerate(numbers):
        app.send_task(
            "crm.requests.apply", args=[create_contract(f"{run}-setupk-{n}", number, n + 1)]
        )
    counts = wait_done(engine, f"{run}-setupk", count, timeout=900)
    if counts.get("failed"):
        raise RuntimeError(f"set-up contracts failed: {counts}")
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--broker-url", default=DEFAULT_BROKER)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--noop", type=int, default=3000, help="no-op tasks")
    parser.add_argument("--requests", type=int, default=1500, help="backlog for the max rate")
    parser.add_argument("--contracts", type=int, default=300, help="set-up contracts")
    parser.add_argument("--phase-seconds", type=float, default=30.0)
    parser.add_argument("--usage-batches", type=int, default=400)
    parser.add_argument("--usage-size", type=int, default=100)
    parser.add_argument("--usage-clients", type=int, default=4)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    # A SIGTERM (timeout, kill) unwinds like an error, so that the parts it started — each in
    # a session of its own — are stopped too and do not consume from the next run's broker.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    say(f"bench_pipeline: {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC, load {os.getloadavg()}")
    others = worker_app(args.broker_url).control.ping(timeout=2.0)
    if others:
        # A worker of another run would take this run's messages (against its own store).
        names = ", ".join(sorted(name for answer in others for name in answer))
        raise SystemExit(f"workers already consume from {args.broker_url}: {names}; stop them")
    redis.Redis.from_url(args.broker_url).flushdb()
    run = f"B{uuid.uuid4().hex[:6].upper()}"
    figures: dict[str, Any] = {"date": datetime.now(UTC).isoformat(), "workers": args.workers}
    # The parts' logs and state stay after the run (printed), for a look when a figure
    # surprises; bench/results/ is ignored by git.
    tmp = tempfile.mkdtemp(prefix="crm-bench-pipeline-")
    say(f"   logs and state in {tmp}")
    with fresh_database(args.database_url) as url:
        engine = create_engine(url, pool_pre_ping=True)
        upgrade(engine)
        with running_parts(url, args.broker_url, args.workers, Path(tmp)) as parts:
            app = worker_app(args.broker_url)
            wait_for_workers(app, args.workers)
            say(f"1. no-op: {args.noop} pings")
            figures["noop"] = noop = noop_rate(app, args.noop)
            say(f"   {noop['per_s']:.0f} tasks/s")
            say(f"   set-up: {args.contracts} customers with a contract, through the pipeline")
            contracts = setup_contracts(app, engine, run, args.contracts)
            work = Workload(run, contracts)
            say(f"2. maximum rate: backlog of {args.requests} requests")
            figures["max"] = peak = max_rate(app, engine, work, args.requests)
            say(
                f"   applied {peak['applied_per_s']:.0f}/s, synced {peak['synced_per_s']:.0f}/s "
                f"({peak['statuses']}); {peak['synced_per_s'] / noop['per_s']:.2f} of no-op"
            )
            for share in (0.5, 0.8):
                rate = peak["synced_per_s"] * share
                label = f"at{int(share * 100)}"
                say(f"3. steady {rate:.0f}/s ({share:.0%}) for {args.phase_seconds:g} s")
                figures[label] = result = steady(app, engine, work, rate, args.phase_seconds, label)
                a, s = result["applied_ms"], result["synced_ms"]
                say(
                    f"   applied p50/p95/p99 {a['p50']:.0f}/{a['p95']:.0f}/{a['p99']:.0f} ms; "
                    f"synced {s['p50']:.0f}/{s['p95']:.0f}/{s['p99']:.0f} ms ({result['statuses']})"
                )
            say(
                f"4. usage: {args.usage_batches} batches of {args.usage_size} records, "
                f"{args.usage_clients} clients"
            )
            figures["usage"] = usage = usage_ingest(
                engine,
                parts["push_url"],
                contracts,
                args.usage_batches,
                args.usage_size,
                args.usage_clients,
            )
            say(
                f"   acknowledged {usage['acknowledged_per_s']:.0f} records/s, applied "
                f"{usage['applied_per_s']:.0f} records/s ({usage['statuses']}, "
                f"{usage['error_count']} errors)"
            )
        engine.dispose()
    figures["load_end"] = os.getloadavg()
    say(f"load at the end {figures['load_end']}")
    ratio = figures["max"]["synced_per_s"] / figures["noop"]["per_s"]
    say(
        f"goals: >= 300 requests/s: {figures['max']['synced_per_s']:.0f}; >= 0.3 of no-op: "
        f"{ratio:.2f}; >= 1000 usage records/s: {figures['usage']['acknowledged_per_s']:.0f} "
        "acknowledged"
    )
    text = json.dumps(figures, indent=2, default=str)
    if args.json:
        args.json.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
