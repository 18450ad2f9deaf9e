"""API benchmark (issue 6): the CRM HTTP API under 8 concurrent clients, on PostgreSQL.

Starts a real ``crm-adapter serve`` process (uvicorn, one worker; ``--workers N``: N of them)
on a database seeded with ``crm-adapter seed --customers N`` (a fresh ``crm_bench_api_*``
database created, migrated, seeded and dropped; or ``--existing`` to use an already seeded
one as it is), makes an ``agent`` token with ``crm-adapter users add``, and drives it with a
small asyncio client (one ``httpx.AsyncClient``, keep-alive, ``--clients`` concurrent loops).
For a fixed duration per endpoint it measures p50/p95/p99 latency and requests per second of:

- ``GET /health`` (the trivial endpoint of the same server: the floor set by HTTP, uvicorn and
  the client itself);
- ``GET /api/v1/customers/{id}`` (the customer view);
- ``GET /api/v1/search`` by exact keys (MSISDN, TIN, e-mail, customer number, in turn) and by
  a name prefix (the first 4 letters of a word of a name, first page of 20);
- ``GET /api/v1/subscribers/{id}/listings?month=`` (a subscriber's usage listing).

Samples are drawn at random from the seeded data. Goal (issue 6): p95 <= 30 ms and >= 500
reads/s with 8 clients at 100,000 customers.

Run::

    .venv/bin/python bench/bench_api.py --customers 10000
    .venv/bin/python bench/bench_api.py --existing --database-url postgresql+psycopg://…/crm_x
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapter.store import tables as t
from bench.benchdb import fresh_database

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CLI = [sys.executable, "-m", "adapter.cli"]
GOAL_P95_MS = 30.0
GOAL_RPS = 500.0
SAMPLES = 500
START_TIMEOUT = 120.0
ANNOUNCED = re.compile(r"^api: (http://\S+) ", re.MULTILINE)
RNG = random.Random(6)


def out(*parts: Any) -> None:
    print(*parts, flush=True)


def load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def cli_env(url: str, log_level: str, data_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CRM_")}
    env |= {
        "CRM_DATABASE_URL": url,
        "CRM_DATA_DIR": data_dir,
        "CRM_LOG_LEVEL": log_level,
        "CRM_LOG_FORMAT": "json",
        "CRM_API_ENQUEUE_SYNC": "false",  # reads only; no broker needed
    }
    return env


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"crm-adapter {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def seed(env: dict[str, str], customers: int) -> None:
    cli(env, "db", "upgrade")
    started = time.perf_counter()
    report = json.loads(cli(env, "seed", "--customers", str(customers), "--json"))
    out(
        f"seeded    {report['customers']} customers, {report['subscribers']} subscribers, "
        f"{report['usage_records']} usage lines in {time.perf_counter() - started:.0f} s "
        "(crm-adapter seed)"
    )


@dataclass
class Samples:
    customers: list[str]
    exact: list[dict[str, str]]  # one search criterion each, keys in turn
    prefixes: list[str]
    listings: list[tuple[str, str]]  # (subscriber id, month)


def samples(url: str) -> tuple[int, Samples]:
    engine = create_engine(url)

    def pick(conn: Any, query: Any) -> list[Any]:
        """SAMPLES rows drawn at random from the whole base (repeatably: setseed)."""
        conn.execute(text("SELECT setseed(0.6)"))
        return list(conn.execute(query.order_by(func.random()).limit(SAMPLES)).all())

    try:
        with engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(t.customer)).scalar_one()
            customers = [r.id for r in pick(conn, select(t.customer.c.id))]
            msisdns = [r.msisdn for r in pick(conn, select(t.subscriber.c.msisdn))]
            tins = [
                r.value_key
                for r in pick(
                    conn,
                    select(t.customer_identification.c.value_key).where(
                        t.customer_identification.c.type == "tin"
                    ),
                )
            ]
            emails = [
                r.value_key
                for r in pick(
                    conn,
                    select(t.customer_contact.c.value_key).where(
                        t.customer_contact.c.type == "email"
                    ),
                )
            ]
            numbers = [r.customer_number for r in pick(conn, select(t.customer.c.customer_number))]
            names = [r.name_key for r in pick(conn, select(t.customer.c.name_key))]
            usage = pick(
                conn,
                select(
                    t.usage_record.c.subscriber_id,
                    func.min(t.usage_record.c.start_time).label("first"),
                ).group_by(t.usage_record.c.subscriber_id),
            )
    finally:
        engine.dispose()
    exact: list[dict[str, str]] = []
    for row in zip(msisdns, tins, emails, numbers, strict=False):
        exact += [
            {"msisdn": row[0]},
            {"tin": row[1]},
            {"email": row[2]},
            {"customer_number": row[3]},
        ]
    # the first 4 letters of a name's words (given, family or company names; not the
    # serial numbers of the synthetic company names)
    prefixes = sorted({w[:4] for n in names for w in n.split() if w.isalpha() and len(w) >= 4})
    listings = [(r.subscriber_id, _month(r.first)) for r in usage]
    if not (customers and exact and prefixes and listings):
        raise SystemExit("the database holds too little to sample: seed it first")
    return count, Samples(customers, exact, prefixes, listings)


def _month(instant: datetime | str) -> str:
    if isinstance(instant, str):
        return instant[:7]
    return instant.strftime("%Y-%m")


# ------------------------------------------------------------------------------ server


def start_server(env: dict[str, str], log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """One ``crm-adapter serve`` process on a free port, once it answers /health."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*CLI, "serve", "--host", "127.0.0.1", "--port", "0"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text(errors='replace')}")
        found = ANNOUNCED.search(log.read_text(errors="replace"))
        if found:
            try:
                if httpx.get(f"{found.group(1)}/health", timeout=5).status_code == 200:
                    return found.group(1), process
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the server did not answer:\n{log.read_text(errors='replace')}")


@contextmanager
def servers(env: dict[str, str], count: int) -> Iterator[list[tuple[str, int]]]:
    """COUNT ``crm-adapter serve`` processes (one uvicorn worker each), as (base URL, pid).
    Several are spread over by the client (loop k uses server k mod COUNT): uvicorn's own
    ``--workers`` supervisor added a constant ~45 ms to every request on this machine
    (uvicorn 0.54, h11, /health with one client: 46 ms against 0.7 ms with one worker)."""
    started: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        for n in range(count):
            started.append(start_server(env, Path(env["CRM_DATA_DIR"]) / f"api{n}.log"))
        yield [(base, process.pid) for base, process in started]
    finally:
        for _, process in started:
            process.terminate()
        for _, process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# ------------------------------------------------------------------------------- load


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of the processes PIDS and their direct children, from /proc
    (Linux); 0 where /proc is not there."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    proc = Path("/proc")
    if not proc.is_dir():
        return 0.0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the name: state, ppid, … utime is the 14th field of the line, stime the 15th
        if int(entry.name) in pids or int(fields[1]) in pids:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


Request = tuple[str, dict[str, str]]  # path and query


@dataclass
class Result:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0
    server_cpu: float = 0.0  # CPU seconds the server processes used while counting
    client_cpu: float = 0.0  # and this process (the load client)

    def figures(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)

        def at(q: float) -> float:
            return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0

        ok = sum(n for s, n in self.statuses.items() if 200 <= s < 300)
        return {
            "name": self.name,
            "requests": len(ordered),
            "ok": ok,
            "statuses": dict(self.statuses),
            "p50_ms": statistics.median(ordered) if ordered else 0.0,
            "p95_ms": at(0.95),
            "p99_ms": at(0.99),
            "rps": len(ordered) / self.seconds if self.seconds else 0.0,
            "server_cpu_ms": 1000 * self.server_cpu / len(ordered) if ordered else 0.0,
            "client_cpu_ms": 1000 * self.client_cpu / len(ordered) if ordered else 0.0,
        }


async def drive(
    bases: list[str],
    client: httpx.AsyncClient,
    name: str,
    make: Callable[[], Request],
    clients: int,
    duration: float,
    warmup: float,
    pids: list[int],
) -> Result:
    """CLIENTS loops sending MAKE()'s requests back to back for WARMUP (not counted), then
    for DURATION seconds."""
    result = Result(name)
    window = [float("inf"), float("inf")]  # counted: requests started in [begin, end)

    async def loop(base: str) -> None:
        while True:
            started = time.perf_counter()
            if started >= window[1]:
                return
            path, query = make()
            response = await client.get(f"{base}{path}", params=query)
            await response.aread()
            took = time.perf_counter() - started
            if window[0] <= started < window[1]:
                result.latencies_ms.append(1000 * took)
                result.statuses[response.status_code] += 1

    tasks = [asyncio.create_task(loop(bases[k % len(bases)])) for k in range(clients)]
    await asyncio.sleep(warmup)
    cpu_before, client_before = cpu_seconds(pids), time.process_time()
    window[0] = time.perf_counter()
    window[1] = window[0] + duration
    await asyncio.gather(*tasks)
    result.server_cpu = cpu_seconds(pids) - cpu_before
    result.client_cpu = time.process_time() - client_before
    result.seconds = duration
    return result


def scenarios(s: Samples) -> list[tuple[str, Callable[[], Request]]]:
    exact = iter(_cycle(s.exact))
    return [
        ("health (trivial)", lambda: ("/health", {})),
        ("customer view", lambda: (f"/api/v1/customers/{RNG.choice(s.customers)}", {})),
        ("search, exact keys", lambda: ("/api/v1/search", {**next(exact), "limit": "20"})),
        (
            "search, name prefix",
            lambda: ("/api/v1/search", {"name": RNG.choice(s.prefixes), "limit": "20"}),
        ),
        ("listings", lambda: _listing(RNG.choice(s.listings))),
    ]


def _cycle(items: list[dict[str, str]]) -> Iterator[dict[str, str]]:
    while True:
        yield from items


def _listing(pick: tuple[str, str]) -> Request:
    subscriber, month = pick
    return f"/api/v1/subscribers/{subscriber}/listings", {"month": month}


async def measure(
    running: list[tuple[str, int]],
    token: str,
    s: Samples,
    clients: int,
    duration: float,
    warmup: float,
) -> list[dict[str, Any]]:
    bases = [base for base, _ in running]
    pids = [pid for _, pid in running]
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    found = []
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {token}"},
        limits=limits,
        timeout=30,
    ) as client:
        for name, make in scenarios(s):
            result = await drive(bases, client, name, make, clients, duration, warmup, pids)
            figures = result.figures()
            found.append(figures)
            met = figures["p95_ms"] <= GOAL_P95_MS and figures["rps"] >= GOAL_RPS
            bad = {k: v for k, v in figures["statuses"].items() if not 200 <= k < 300}
            out(
                f"   {name:<22} p50 {figures['p50_ms']:6.1f} ms  p95 {figures['p95_ms']:6.1f} ms"
                f"  p99 {figures['p99_ms']:6.1f} ms  {figures['rps']:6.0f} req/s"
                f"  CPU/req server {figures['server_cpu_ms']:4.1f} ms,"
                f" client {figures['client_cpu_ms']:4.1f} ms"
                f"  ({figures['requests']} requests{', NOT 2xx: ' + str(bad) if bad else ''})"
                f"  | goal p95 <= {GOAL_P95_MS:.0f} ms, >= {GOAL_RPS:.0f}/s: "
                f"{'met' if met else 'not met'}"
            )
    return found


# -------------------------------------------------------------------------------- run


def run(url: str, args: argparse.Namespace, existing: bool) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="crm-bench-api-") as folder:
        return measure_on(url, args, existing, cli_env(url, args.log_level, folder))


def measure_on(
    url: str, args: argparse.Namespace, existing: bool, env: dict[str, str]
) -> list[dict[str, Any]]:
    if not existing:
        seed(env, args.customers)
    count, s = samples(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        pg = conn.exec_driver_sql("SHOW server_version").scalar_one()
    engine.dispose()
    out(f"base      {count} customers on PostgreSQL {pg}")
    user = f"bench-{uuid.uuid4().hex[:8]}"
    added = json.loads(cli(env, "users", "add", user, "--role", "agent", "--json"))
    out(
        f"server    {args.workers} crm-adapter serve process(es) (uvicorn, one worker each), "
        f"CRM_LOG_LEVEL={args.log_level}; client: {args.clients} concurrent loops, one "
        f"httpx.AsyncClient (keep-alive), {args.warmup:.0f} s warm-up + {args.duration:.0f} s "
        "per endpoint; role agent (PII masked)"
    )
    out(f"before    {load_text()}")
    with servers(env, args.workers) as running:
        figures = asyncio.run(
            measure(running, added["token"], s, args.clients, args.duration, args.warmup)
        )
    out(f"after     {load_text()}")
    cli(env, "users", "revoke", user)  # users are kept (audit); its token is revoked
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("CRM_BENCH_DATABASE_URL", DEFAULT_URL),
        help="PostgreSQL server to create the benchmark database on (or, with --existing, "
        "the seeded database to use)",
    )
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument(
        "--existing",
        action="store_true",
        help="use --database-url as it is (migrated and seeded) instead of a fresh database",
    )
    parser.add_argument("--keep", action="store_true", help="keep the fresh database")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before each")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes: crm-adapter serve runs one uvicorn worker; N > 1 starts N "
        "of them on their own ports and spreads the client's loops over them (default 1: on "
        "2 cores the client and PostgreSQL take the rest)",
    )
    parser.add_argument("--log-level", default="WARNING", help="CRM_LOG_LEVEL of the server")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    out(f"date      {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}")
    out(
        f"machine   {os.cpu_count()} CPUs, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )
    if args.existing:
        figures = run(args.database_url, args, existing=True)
    else:
        with fresh_database(args.database_url, args.keep, prefix="crm_bench_api") as url:
            figures = run(url, args, existing=False)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
