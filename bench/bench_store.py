"""Store benchmark (issue 2): audited write rate, subscriber timeline and as-of reads.

Runs against a database of its own, created for the run and dropped afterwards:

* PostgreSQL: ``CREATE DATABASE crm_bench_<random>`` on the server of ``--database-url``
  (through an AUTOCOMMIT connection), migrated with ``adapter.store.database.upgrade``,
  ``DROP DATABASE … WITH (FORCE)`` at the end.
* SQLite: a migrated file in a temporary directory, removed at the end.

Measured, in one run:

1. audited changes per second (``UnitOfWork`` creating or updating one customer per change)
   against a bare Core insert of the same customer, version and change rows;
2. ``timeline(conn, "subscriber", id)`` over a subscriber with 1,000 versions;
3. ``as_of`` of that subscriber at random instants across its history.

Usage::

    .venv/bin/python bench/bench_store.py [--database-url URL] [--changes N] [--json [PATH]]
"""

from __future__ import annotations

import argparse
import bisect
import gc
import hashlib
import json
import os
import platform
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert, text, update
from sqlalchemy.engine import make_url

from adapter.domain import Actor
from adapter.domain.history import diff
from adapter.domain.identifiers import complete_iccid
from adapter.domain.model import (
    Account,
    Address,
    ContactMedium,
    Contract,
    Customer,
    Identification,
    Individual,
    ServiceAssignment,
    ServiceLimit,
    Subscriber,
)
from adapter.logs import configure_logging
from adapter.queries.history import as_of, timeline
from adapter.store import tables as t
from adapter.store.database import make_engine, upgrade
from adapter.store.entities import mapping_for
from adapter.store.reading import read_connection
from adapter.store.uow import UnitOfWork

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOAL_CHANGES_PER_S = 1000.0
GOAL_TIMELINE_P95_MS = 20.0
UPDATES_PER_CUSTOMER = 4  # each customer: one create, then this many updates
HISTORY_VERSIONS = 1000
TIMELINE_CALLS = 200
TIMELINE_PAGE = 50
TIMELINE_WARMUP = 20
AS_OF_CALLS = 1000
WARMUP_CHANGES = 50
BARE_CHANGE_IDS = 1_000_000_000  # change ids of the bare rows: far above the audited chain
SEED = 20261101


def out(*parts: Any) -> None:
    """Human-readable output: stdout, or stderr when the JSON goes to stdout."""
    print(*parts, file=_HUMAN, flush=True)


_HUMAN = sys.stdout


# ------------------------------------------------------------------------------ machine


def machine_info(engine: Engine) -> dict[str, Any]:
    cpu = "unknown"
    memory = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "load_average": load_average(),
        "adapter_sha256": adapter_fingerprint(),
        "backend": engine.dialect.name,
    }
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            info["server"] = "PostgreSQL " + str(conn.execute(text("SHOW server_version")).scalar())
            for name in ("fsync", "synchronous_commit", "shared_buffers"):
                info[name] = conn.execute(text(f"SHOW {name}")).scalar()
        else:
            info["server"] = f"SQLite {sqlite3.sqlite_version}"
            info["journal_mode"] = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        conn.rollback()
    return info


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def adapter_fingerprint() -> str:
    """sha256 over the adapter's sources, to tell which code a result belongs to."""
    root = Path(__file__).resolve().parent.parent / "adapter"
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


# ----------------------------------------------------------------------------- database


@contextmanager
def bench_database(url: str) -> Iterator[str]:
    """A fresh, migrated database for this run only; removed afterwards."""
    base = make_url(url)
    if base.get_backend_name() == "sqlite":
        folder = tempfile.mkdtemp(prefix="crm_bench_")
        try:
            yield f"sqlite:///{folder}/crm_bench.sqlite3"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    if base.get_backend_name() != "postgresql":
        raise SystemExit(f"unsupported backend {base.get_backend_name()!r}")
    name = f"crm_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@dataclass
class StatementCounter:
    """Counts SQL statements sent through the engine (BEGIN, COMMIT and pings not included)."""

    count: int = 0

    def attach(self, engine: Engine) -> None:
        @event.listens_for(engine, "before_cursor_execute")
        def _count(*_args: Any) -> None:
            self.count += 1


# ------------------------------------------------------------------------------ helpers


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.4999)))
    return ordered[rank - 1]


_requests = iter(range(1, 10**9))


def actor(run: str) -> Actor:
    return Actor(
        originating_user="bench.agent",
        principal="crm-adapter-bench",
        channel="bench",
        request_id=f"bench-{run}-{next(_requests)}",
    )


def new_customer(n: int, prefix: str, customer_id: str) -> Customer:
    """The shape of ``tests.factories.customer``."""
    return Customer(
        id=customer_id,
        customer_number=f"{prefix}{n:07d}",
        party=Individual(
            given_name="Ana", family_name=f"Müller{n}", birth_date=date(1980, 1, 1 + n % 28)
        ),
        identifications=[Identification(type="tin", value=f"DE{n:09d}")],
        contact_media=[ContactMedium(type="email", value=f"ana{n}@example.com")],
        addresses=[
            Address(
                role="residence",
                lines=[f"Hauptstraße {n}"],
                postcode="10115",
                city="Berlin",
                country="DE",
            )
        ],
    )


def apply_update(c: Customer, n: int, step: int) -> None:
    """Update number ``step`` (1…) of customer ``n``: a segment or a contact medium."""
    match step % 4:
        case 1:
            c.segment = "soho"
        case 2:
            c.contact_media = [ContactMedium(type="email", value=f"ana{n}.{step}@example.com")]
        case 3:
            c.segment = "business"
        case _:
            c.contact_media = [
                *c.contact_media,
                ContactMedium(type="mobile", value=f"+49171{n:07d}"),
            ]


@dataclass(frozen=True)
class Step:
    n: int  # customer number within the run
    step: int  # 0 = create, 1… = update number


def plan(changes: int) -> list[Step]:
    per_customer = 1 + UPDATES_PER_CUSTOMER
    return [Step(i // per_customer, i % per_customer) for i in range(changes)]


# --------------------------------------------------------------------- 1. write throughput


def audited_changes(engine: Engine, steps: list[Step], prefix: str) -> tuple[float, float]:
    """Each step one UnitOfWork and one audited change; returns (wall, client CPU) seconds."""
    ids = {s.n: str(uuid.uuid4()) for s in steps if s.step == 0}
    started, cpu = time.perf_counter(), time.process_time()
    for s in steps:
        with UnitOfWork(engine, actor(prefix)) as uow:
            if s.step == 0:
                uow.add(new_customer(s.n, prefix, ids[s.n]))
                uow.commit("customer.create")
            else:
                c = uow.get(Customer, ids[s.n])
                apply_update(c, s.n, s.step)
                uow.commit("customer.update")
    return time.perf_counter() - started, time.process_time() - cpu


@dataclass
class BareRowSet:
    create: bool
    customer: dict[str, Any]
    change: dict[str, Any]
    version: dict[str, Any]


def bare_row_sets(steps: list[Step], prefix: str, first_change_id: int) -> list[BareRowSet]:
    """The customer, change and version rows the same steps write, built before timing."""
    mapping = mapping_for("customer")
    live: dict[int, tuple[Customer, dict[str, Any]]] = {}
    rows: list[BareRowSet] = []
    at = datetime.now(UTC)
    for i, s in enumerate(steps):
        change_id = first_change_id + i
        if s.step == 0:
            c = new_customer(s.n, prefix, str(uuid.uuid4()))
            before: dict[str, Any] | None = None
        else:
            c, before = live[s.n]
            apply_update(c, s.n, s.step)
        after = c.snapshot()
        version = s.step + 1
        live[s.n] = (c, after)
        rows.append(
            BareRowSet(
                create=s.step == 0,
                customer={
                    "id": c.id,
                    "version": version,
                    "updated_at": at,
                    "data": after,
                    **mapping.columns(c),
                },
                change={
                    "id": change_id,
                    "at": at,
                    "originating_user": "bench.agent",
                    "principal": "crm-adapter-bench",
                    "channel": "bench",
                    "request_id": f"bench-{prefix}-{change_id}",
                    "operation": "customer.create" if s.step == 0 else "customer.update",
                    "outcome": "applied",
                    "summary": {},
                    "prev_hash": "0" * 64,
                    "hash": "0" * 64,
                },
                version={
                    "change_id": change_id,
                    "entity_type": "customer",
                    "entity_id": c.id,
                    "version": version,
                    "op": "create" if s.step == 0 else "update",
                    "valid_from": at,
                    "valid_to": None,
                    "snapshot": after,
                    "diff": diff(before, after),
                    "customer_id": c.id,
                    "account_id": None,
                    "contract_id": None,
                    "subscriber_id": None,
                },
            )
        )
    return rows


def bare_inserts(engine: Engine, rows: list[BareRowSet]) -> tuple[float, float]:
    """Plain Core writes, one transaction per row set; returns (wall, client CPU) seconds."""
    customer = t.customer
    started, cpu = time.perf_counter(), time.process_time()
    for r in rows:
        with engine.begin() as conn:
            if r.create:
                conn.execute(insert(customer), [r.customer])
            else:
                conn.execute(
                    update(customer).where(customer.c.id == r.customer["id"]).values(r.customer)
                )
            conn.execute(insert(t.change), [r.change])
            conn.execute(insert(t.entity_version), [r.version])
    return time.perf_counter() - started, time.process_time() - cpu


def bench_writes(engine: Engine, changes: int, counter: StatementCounter) -> dict[str, Any]:
    steps = plan(changes)
    warm = plan(WARMUP_CHANGES)
    audited_changes(engine, warm, "W")
    bare_inserts(engine, bare_row_sets(warm, "X", BARE_CHANGE_IDS))

    counter.count = 0
    audited_s, audited_cpu = audited_changes(engine, steps, "A")
    audited_statements = counter.count / changes
    rows = bare_row_sets(steps, "B", BARE_CHANGE_IDS + WARMUP_CHANGES)
    counter.count = 0
    bare_s, bare_cpu = bare_inserts(engine, rows)
    bare_statements = counter.count / changes
    audited_rate = changes / audited_s
    bare_rate = changes / bare_s
    creates = sum(1 for s in steps if s.step == 0)
    return {
        "changes": changes,
        "creates": creates,
        "updates": changes - creates,
        "audited_per_s": audited_rate,
        "audited_ms_per_change": 1000 * audited_s / changes,
        "audited_client_cpu_ms_per_change": 1000 * audited_cpu / changes,
        "audited_statements_per_change": audited_statements,
        "bare_per_s": bare_rate,
        "bare_ms_per_change": 1000 * bare_s / changes,
        "bare_client_cpu_ms_per_change": 1000 * bare_cpu / changes,
        "bare_statements_per_change": bare_statements,
        "ratio_bare_over_audited": bare_rate / audited_rate,
        "goal_per_s": GOAL_CHANGES_PER_S,
        "goal_met": audited_rate >= GOAL_CHANGES_PER_S,
    }


# ------------------------------------------------------------------------ 2 and 3. history


@dataclass
class History:
    subscriber_id: str
    created_at: datetime
    last_at: datetime
    # (valid_from, listing_groups) of every subscriber version, in order
    subscriber_versions: list[tuple[datetime, list[str]]] = field(default_factory=list)
    versions_touching: int = 0


def build_history(engine: Engine, versions: int) -> History:
    """One subscriber (customer, account, contract, subscriber, data service) and ``versions``
    later changes touching it: three in four change its listing groups, one in four the
    data cap of its service, each in a unit of work of its own."""
    with UnitOfWork(engine, actor("H")) as uow:
        c = new_customer(9_000_000, "H", str(uuid.uuid4()))
        a = Account(customer_id=c.id, number="AH0000001", name="Main")
        k = Contract(customer_id=c.id, account_id=a.id, number="COH0000001", rate_plan="RP_S")
        s = Subscriber(
            customer_id=c.id,
            account_id=a.id,
            contract_id=k.id,
            msisdn="+491709000001",
            imsi="262019000000001",
            iccid=complete_iccid("49", 9_000_001),
        )
        svc = ServiceAssignment(
            customer_id=c.id,
            account_id=a.id,
            contract_id=k.id,
            subscriber_id=s.id,
            service_code="DATA",
            limits=[ServiceLimit(name="data_cap", value=Decimal(10), unit="GB")],
        )
        uow.add_all([c, a, k, s, svc])
        created = uow.commit("customer.create")
    history = History(s.id, created.at, created.at, [(created.at, [])], versions_touching=3)
    for i in range(versions):
        with UnitOfWork(engine, actor("H")) as uow:
            if i % 4 == 3:
                service = uow.get(ServiceAssignment, svc.id)
                service.limits = [ServiceLimit(name="data_cap", value=Decimal(11 + i), unit="GB")]
                done = uow.commit("service.change")
            else:
                sub = uow.get(Subscriber, s.id)
                groups = ["DIRECTORY", f"G{i}"]
                sub.listing_groups = groups
                done = uow.commit("subscriber.update")
                history.subscriber_versions.append((done.at, groups))
        history.versions_touching += 1
        history.last_at = done.at
    return history


def timed(call: Callable[[Any], Any], engine: Engine) -> tuple[float, Any]:
    """Milliseconds of one call on a fresh read connection (checkout not timed)."""
    with read_connection(engine) as conn:
        started = time.perf_counter()
        result = call(conn)
        return 1000 * (time.perf_counter() - started), result


def bench_timeline(
    engine: Engine, history: History, page: int | None = None, decode: bool = False
) -> dict[str, Any]:
    """The whole timeline (oldest first), or with ``page`` its newest ``page`` entries, as a
    care agent's first screen reads it; with ``decode`` every entry's diff is decoded too (a
    timeline keeps diffs as JSON text until they are asked for)."""
    sid = history.subscriber_id

    def call(conn: Any) -> Any:
        if page is None:
            entries = timeline(conn, "subscriber", sid)
        else:
            entries = timeline(conn, "subscriber", sid, limit=page, newest_first=True)
        if decode:
            for entry in entries:
                entry.diff  # noqa: B018 - decoding is what is measured
        return entries

    for _ in range(TIMELINE_WARMUP):
        timed(call, engine)
    samples: list[float] = []
    entries: list[Any] = []
    for _ in range(TIMELINE_CALLS):
        ms, entries = timed(call, engine)
        samples.append(ms)
    changes = [e.change_id for e in entries]
    ordered = changes == sorted(changes)
    p95 = percentile(samples, 95)
    return {
        "calls": TIMELINE_CALLS,
        "history_entries": history.versions_touching,
        "entries_returned": len(entries),
        "entries_ok": len(entries) >= 1000 and ordered if page is None else len(entries) == page,
        "p50_ms": percentile(samples, 50),
        "p95_ms": p95,
        "max_ms": max(samples),
        "goal_p95_ms": GOAL_TIMELINE_P95_MS,
        "goal_met": p95 <= GOAL_TIMELINE_P95_MS and len(entries) >= 1000,
    }


def bench_as_of(engine: Engine, history: History) -> dict[str, Any]:
    rng = random.Random(SEED)
    sid = history.subscriber_id
    start = history.created_at.timestamp()
    span = history.last_at.timestamp() - start
    moments = [datetime.fromtimestamp(start + rng.random() * span, UTC) for _ in range(AS_OF_CALLS)]
    starts = [at for at, _ in history.subscriber_versions]
    for at in moments[:20]:
        timed(lambda conn, at=at: as_of(conn, "subscriber", sid, at), engine)
    samples: list[float] = []
    wrong = 0
    for at in moments:
        ms, snapshot = timed(lambda conn, at=at: as_of(conn, "subscriber", sid, at), engine)
        samples.append(ms)
        expected = history.subscriber_versions[bisect.bisect_right(starts, at) - 1][1]
        if snapshot is None or snapshot["listing_groups"] != expected:
            wrong += 1
    return {
        "calls": AS_OF_CALLS,
        "subscriber_versions": len(history.subscriber_versions),
        "wrong_results": wrong,
        "p50_ms": percentile(samples, 50),
        "p95_ms": percentile(samples, 95),
        "max_ms": max(samples),
    }


# ---------------------------------------------------------------------------------- report


def print_machine(info: dict[str, Any]) -> None:
    out("== crm-adapter store benchmark (issue 2) ==")
    out(f"date      {info['date']}")
    out(f"machine   {info['nproc']} CPUs ({info['cpu']}), {info['memory']} RAM")
    server = info["server"]
    if "fsync" in info:
        server += (
            f" (fsync={info['fsync']}, synchronous_commit={info['synchronous_commit']}, "
            f"shared_buffers={info['shared_buffers']})"
        )
    elif "journal_mode" in info:
        server += f" (journal_mode={info['journal_mode']}, synchronous=NORMAL)"
    out(f"database  {server}")
    out(f"python    {info['python']} ({platform.platform()})")
    out(
        f"load      {info['load_average']} (1/5/15 min) at start; adapter sources sha256 "
        f"{info['adapter_sha256']}"
    )
    out()


def summary_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    w, tl, ao = result["writes"], result["timeline"], result["as_of"]
    ok = {True: "met", False: "MISSED"}
    return [
        (
            "audited changes/s (1 process)",
            f"{w['audited_per_s']:,.0f}",
            f">= {w['goal_per_s']:,.0f}",
            ok[w["goal_met"]],
        ),
        ("bare inserts/s (baseline)", f"{w['bare_per_s']:,.0f}", "-", "-"),
        ("bare / audited", f"{w['ratio_bare_over_audited']:.1f}x", "-", "-"),
        (
            f"timeline p95 ({tl['entries_returned']} entries)",
            f"{tl['p95_ms']:.1f} ms",
            f"<= {tl['goal_p95_ms']:.0f} ms",
            ok[tl["goal_met"]],
        ),
        ("timeline p50 / max", f"{tl['p50_ms']:.1f} / {tl['max_ms']:.1f} ms", "-", "-"),
        (
            "timeline p95, every diff decoded",
            f"{result['timeline_decoded']['p95_ms']:.1f} ms",
            f"<= {tl['goal_p95_ms']:.0f} ms",
            ok[result["timeline_decoded"]["goal_met"]],
        ),
        (
            "timeline p95, heap frozen",
            f"{result['timeline_gc_frozen']['p95_ms']:.1f} ms",
            f"<= {tl['goal_p95_ms']:.0f} ms",
            ok[result["timeline_gc_frozen"]["goal_met"]],
        ),
        (
            f"timeline first page ({TIMELINE_PAGE}) p95",
            f"{result['timeline_first_page']['p95_ms']:.1f} ms",
            "-",
            "-",
        ),
        ("as_of p50 / p95", f"{ao['p50_ms']:.2f} / {ao['p95_ms']:.2f} ms", "-", "-"),
    ]


def print_summary(result: dict[str, Any]) -> None:
    rows = [("figure", "result", "goal", ""), *summary_rows(result)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    out(f"== summary ({result['machine']['server']}) ==")
    for i, row in enumerate(rows):
        out("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(row)).rstrip())
        if i == 0:
            out("  ".join("-" * wd for wd in widths))


def run(url: str, changes: int) -> dict[str, Any]:
    with bench_database(url) as db_url:
        engine = make_engine(db_url)
        try:
            started = time.perf_counter()
            upgrade(engine)
            info = machine_info(engine)
            print_machine(info)
            counter = StatementCounter()
            counter.attach(engine)

            out(
                f"1. audited writes: {changes} units of work (per customer one create, then "
                f"{UPDATES_PER_CUSTOMER} updates), then the same rows as bare Core writes …"
            )
            writes = bench_writes(engine, changes, counter)
            out(
                f"   audited  {writes['audited_per_s']:8,.0f} changes/s "
                f"({writes['audited_ms_per_change']:.2f} ms, of it "
                f"{writes['audited_client_cpu_ms_per_change']:.2f} ms client CPU, "
                f"{writes['audited_statements_per_change']:.1f} statements each)"
                f"   goal >= {GOAL_CHANGES_PER_S:,.0f}/s: "
                f"{'met' if writes['goal_met'] else 'MISSED'}"
            )
            out(
                f"   bare     {writes['bare_per_s']:8,.0f} row sets/s "
                f"({writes['bare_ms_per_change']:.2f} ms, of it "
                f"{writes['bare_client_cpu_ms_per_change']:.2f} ms client CPU, "
                f"{writes['bare_statements_per_change']:.1f} statements each)"
                f"   baseline; bare/audited = {writes['ratio_bare_over_audited']:.1f}x"
            )

            out(f"2. timeline: building a subscriber with {HISTORY_VERSIONS} versions …")
            history = build_history(engine, HISTORY_VERSIONS)
            tl = bench_timeline(engine, history)
            out(
                f"   timeline(subscriber) x{tl['calls']}: p50 {tl['p50_ms']:.1f} ms, "
                f"p95 {tl['p95_ms']:.1f} ms, max {tl['max_ms']:.1f} ms; "
                f"{tl['entries_returned']} of {tl['history_entries']} entries returned"
                f"   goal p95 <= {GOAL_TIMELINE_P95_MS:.0f} ms: "
                f"{'met' if tl['goal_met'] else 'MISSED'}"
            )

            # The same read once the start-up heap is frozen out of the collector's way, as a
            # long-running service does after boot: the tail above is full collections.
            gc.collect()
            gc.freeze()
            tl_frozen = bench_timeline(engine, history)
            gc.unfreeze()
            out(
                f"   after gc.freeze(): p50 {tl_frozen['p50_ms']:.1f} ms, "
                f"p95 {tl_frozen['p95_ms']:.1f} ms, max {tl_frozen['max_ms']:.1f} ms"
            )
            tl_decoded = bench_timeline(engine, history, decode=True)
            out(
                f"   with every diff decoded: p50 {tl_decoded['p50_ms']:.1f} ms, "
                f"p95 {tl_decoded['p95_ms']:.1f} ms, max {tl_decoded['max_ms']:.1f} ms"
            )
            tl_page = bench_timeline(engine, history, page=TIMELINE_PAGE)
            out(
                f"   first page ({TIMELINE_PAGE} newest entries): p50 {tl_page['p50_ms']:.1f} ms, "
                f"p95 {tl_page['p95_ms']:.1f} ms, max {tl_page['max_ms']:.1f} ms"
            )

            ao = bench_as_of(engine, history)
            out(
                f"3. as_of(subscriber) x{ao['calls']} at random instants over "
                f"{ao['subscriber_versions']} versions: p50 {ao['p50_ms']:.2f} ms, "
                f"p95 {ao['p95_ms']:.2f} ms, max {ao['max_ms']:.2f} ms; "
                f"{ao['wrong_results']} wrong results"
            )
            out()
            result = {
                "machine": info,
                "writes": writes,
                "timeline": tl,
                "timeline_gc_frozen": tl_frozen,
                "timeline_decoded": tl_decoded,
                "timeline_first_page": tl_page,
                "as_of": ao,
                "runtime_s": time.perf_counter() - started,
            }
            print_summary(result)
            result["load_average_end"] = load_average()
            out(f"runtime {result['runtime_s']:.0f} s; load {result['load_average_end']} at end")
            return result
        finally:
            engine.dispose()


def main(argv: list[str] | None = None) -> int:
    global _HUMAN
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("CRM_BENCH_DATABASE_URL", DEFAULT_URL),
        help="server to create the benchmark database on (PostgreSQL), or any sqlite URL "
        "for a temporary SQLite file (default: $CRM_BENCH_DATABASE_URL or %(default)s)",
    )
    parser.add_argument(
        "--changes", type=int, default=3000, help="audited changes to time (default 3000)"
    )
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="PATH",
        help="also write the results as JSON to PATH (to stdout without PATH, the "
        "human-readable report then goes to stderr)",
    )
    args = parser.parse_args(argv)
    if args.changes < 1:
        parser.error("--changes must be positive")
    if args.json == "-":
        _HUMAN = sys.stderr
    # The CLI's logging set-up, at WARNING: the one INFO line per change is built by structlog
    # but not rendered or written, so log I/O is not part of the figures.
    configure_logging("WARNING")
    result = run(args.database_url, args.changes)
    if args.json:
        document = json.dumps(result, indent=2, default=str)
        if args.json == "-":
            print(document)
        else:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(document + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
