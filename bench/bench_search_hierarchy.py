"""Search and hierarchy benchmark (issue 3), on PostgreSQL.

Seeds ``--customers`` synthetic customers into a fresh database (or uses ``--existing`` as
it is), then measures, each beside the same query written directly in SQL so that the share of
the adapter's code is visible:

1. exact search by MSISDN, TIN and e-mail: p50/p95 (goal p95 <= 5 ms);
2. fuzzy name search with one typo: p95 (goal <= 50 ms), beside the whole-name trigram query
   that the vocabulary of name words replaced (revision 0009) as a baseline, and a two-word
   fragment (which still compares whole names);
3. payer of an account 10,000 levels deep: p95 (goal <= 50 ms), beside the recursive walk
   that the stored payer replaced (revision 0008) as a baseline;
4. the whole subtree of a 100,000-node tree: time (goal <= 1 s).

Run: ``.venv/bin/python bench/bench_search_hierarchy.py --customers 10000``; with
``--seed-only`` it seeds and reports the seeding alone (speed, CPU of each process, disk).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapter.domain import Actor
from adapter.domain.model import Account, Customer, Individual
from adapter.queries import hierarchy
from adapter.queries.search import SearchCriteria, search
from adapter.seed import seed
from adapter.store import tables as t
from adapter.store.database import analyze, make_engine, upgrade
from adapter.store.reading import read_connection
from adapter.store.uow import UnitOfWork
from bench.benchdb import fresh_database

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SAMPLES = 200
RNG = random.Random(11)


def out(*parts: Any) -> None:
    print(*parts, flush=True)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


def timed(engine: Engine, call: Callable[[Connection, Any], Any], args: list[Any]) -> list[float]:
    """Milliseconds of each call, each on a fresh read connection (checkout not timed)."""
    found: list[float] = []
    for arg in args[:5]:  # warm-up
        with read_connection(engine) as conn:
            call(conn, arg)
    for arg in args:
        with read_connection(engine) as conn:
            started = time.perf_counter()
            call(conn, arg)
            found.append(1000 * (time.perf_counter() - started))
    return found


def report(name: str, adapter_ms: list[float], direct_ms: list[float], goal: str) -> dict[str, Any]:
    a50, a95 = percentiles(adapter_ms)
    d50, d95 = percentiles(direct_ms)
    out(
        f"   {name:<28} adapter p50 {a50:7.2f} ms  p95 {a95:7.2f} ms | direct SQL p50 "
        f"{d50:7.2f} ms  p95 {d95:7.2f} ms | goal {goal}"
    )
    return {
        "name": name,
        "adapter_p50": a50,
        "adapter_p95": a95,
        "direct_p50": d50,
        "direct_p95": d95,
        "goal": goal,
    }


def sample_keys(engine: Engine) -> dict[str, list[str]]:
    with engine.connect() as conn:

        def pick(query: Any) -> list[str]:
            values = [str(v) for v in conn.execute(query).scalars()]
            RNG.shuffle(values)
            return values[:SAMPLES]

        return {
            "msisdn": pick(select(t.subscriber.c.msisdn).limit(20_000)),
            "tin": pick(
                select(t.customer_identification.c.value_key)
                .where(t.customer_identification.c.type == "tin")
                .limit(20_000)
            ),
            "email": pick(
                select(t.customer_contact.c.value_key)
                .where(t.customer_contact.c.type == "email")
                .limit(20_000)
            ),
            "name": pick(select(t.customer.c.name_key).limit(20_000)),
        }


def typo(name: str) -> str:
    word = max(name.split(), key=len)
    if len(word) < 5:
        return word
    i = RNG.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1 :]  # one letter dropped


DIRECT = {
    "msisdn": text(
        "SELECT c.id, c.customer_number FROM customer c JOIN subscriber s ON s.customer_id = c.id"
        " WHERE s.msisdn = :v ORDER BY c.name_key, c.id LIMIT 50"
    ),
    "tin": text(
        "SELECT c.id, c.customer_number FROM customer c JOIN customer_identification i"
        " ON i.customer_id = c.id WHERE i.type = 'tin' AND i.value_key = :v"
        " ORDER BY c.name_key, c.id LIMIT 50"
    ),
    "email": text(
        "SELECT c.id, c.customer_number FROM customer c JOIN customer_contact m"
        " ON m.customer_id = c.id WHERE m.value_key = :v ORDER BY c.name_key, c.id LIMIT 50"
    ),
    "fuzzy": text("SELECT set_config('pg_trgm.word_similarity_threshold', '0.5', true);"),
    # What the adapter runs for one word since revision 0009: the close words of the
    # vocabulary, the first 50 customers of each in name order, merged, and the count.
    "fuzzy_words": text(
        "SELECT word, word_similarity(:v, word) AS s FROM name_word"
        " WHERE word %> :v AND word_similarity(:v, word) >= 0.5"
    ),
    "fuzzy_page": text(
        "SELECT g.s, p.name_key, p.customer_id FROM unnest(CAST(:w AS text[]),"
        " CAST(:s AS float8[])) AS g(word, s) CROSS JOIN LATERAL (SELECT name_key, customer_id"
        " FROM customer_name_word cw WHERE cw.word = g.word ORDER BY name_key, customer_id"
        " LIMIT 50) p ORDER BY g.s DESC, p.name_key, p.customer_id LIMIT 50"
    ),
    # The page's items, by index only since revision 0010 (ix_customer_item).
    "fuzzy_items": text(
        "SELECT id, customer_number, party_kind, birth_date, status, segment, display_name"
        " FROM customer WHERE id = ANY(CAST(:ids AS varchar[]))"
    ),
    "fuzzy_count": text(
        "SELECT count(DISTINCT customer_id) FROM customer_name_word"
        " WHERE word = ANY(CAST(:w AS text[]))"
    ),
    # What it ran before: every close whole name through the trigram index, ranked: the
    # baseline the vocabulary replaced.
    "fuzzy_names": text(
        "SELECT id, customer_number, word_similarity(:v, name_key) AS s,"
        " count(*) OVER () FROM customer WHERE name_key %> :v"
        " AND word_similarity(:v, name_key) >= 0.5 ORDER BY s DESC, name_key, id LIMIT 50"
    ),
    # What the adapter reads since revision 0008: the payer kept on the account.
    "payer": text(
        "SELECT p.id, a.level - p.level FROM account a JOIN account p ON p.id = a.payer_id"
        " WHERE a.id = :v"
    ),
    # What it walked before: the baseline the stored payer replaced.
    "payer_walk": text(
        "WITH RECURSIVE up(id, parent_id, pays) AS ("
        " SELECT id, parent_id, payment_responsible FROM account WHERE id = :v"
        " UNION SELECT a.id, a.parent_id, a.payment_responsible FROM account a"
        " JOIN up ON a.id = up.parent_id WHERE NOT up.pays)"
        " SELECT id FROM up WHERE pays"
    ),
    "subtree": text(
        "WITH RECURSIVE down(id, number, name, parent_id, pays, depth, payer) AS ("
        " SELECT id, number, data->>'name', parent_id, payment_responsible, 0, id FROM account"
        " WHERE id = :v UNION ALL SELECT a.id, a.number, a.data->>'name', a.parent_id,"
        " a.payment_responsible, down.depth + 1,"
        " CASE WHEN a.payment_responsible THEN a.id ELSE down.payer END"
        " FROM account a JOIN down ON a.parent_id = down.id)"
        ' SELECT * FROM down ORDER BY depth, number COLLATE "C", id'
    ),
}


def direct(name: str) -> Callable[[Connection, Any], Any]:
    def call(conn: Connection, value: Any) -> Any:
        if name == "fuzzy":
            conn.execute(DIRECT["fuzzy"])
            words = conn.execute(DIRECT["fuzzy_words"], {"v": value}).all()
            chosen = {"w": [w for w, _ in words], "s": [s for _, s in words]}
            conn.execute(DIRECT["fuzzy_count"], chosen).scalar_one()
            page = conn.execute(DIRECT["fuzzy_page"], chosen).all()
            ids = list(dict.fromkeys(customer for _, _, customer in page))
            return conn.execute(DIRECT["fuzzy_items"], {"ids": ids}).all()
        if name == "fuzzy_names":
            conn.execute(DIRECT["fuzzy"])
            return conn.execute(DIRECT["fuzzy_names"], {"v": value}).all()
        return conn.execute(DIRECT[name], {"v": value}).all()

    return call


def actor() -> Actor:
    return Actor("bench", "bench", "bench", f"bench-{uuid.uuid4()}")


def build_tree(engine: Engine, nodes: int, width: int) -> list[Account]:
    """A customer with ``nodes`` accounts; width 1 makes a chain. Only the root pays."""
    owner = Customer(
        customer_number=f"B{uuid.uuid4().hex[:10]}",
        party=Individual(given_name="Bench", family_name="Tree"),
    )
    accounts = [
        Account(
            customer_id=owner.id,
            number=f"{owner.customer_number}.0",
            name="root",
            payment_responsible=True,
        )
    ]
    for i in range(1, nodes):
        accounts.append(
            Account(
                customer_id=owner.id,
                number=f"{owner.customer_number}.{i}",
                name=f"n{i}",
                parent_id=accounts[(i - 1) // width].id,
                payment_responsible=False,
            )
        )
    with UnitOfWork(engine, actor()) as uow:
        uow.add(owner)
        uow.add_all(accounts)
        uow.commit("bench.tree")
    analyze(engine)
    return accounts


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (Linux ``/proc/stat``)."""
    with open("/proc/stat") as stat:
        ticks = [int(v) for v in stat.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def _postgres_seconds() -> float:
    """CPU seconds of the local PostgreSQL processes alive now (0 if the server is not local);
    the seed's connections stay open until it ends, so their work is counted."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read()
        except OSError:
            continue
        if "(postgres)" in fields:
            after = fields.rsplit(")", 1)[1].split()
            total += int(after[11]) + int(after[12])
    return total / os.sysconf("SC_CLK_TCK")


def seed_and_report(engine: Engine, customers: int, batch: int) -> None:
    """Seed, and say how fast: wall time, customers/s, the CPU of this process, of the
    generator process and of the server, the machine's load, and the disk per table."""
    import resource

    load_before = os.getloadavg()[0]
    busy, server = _busy_seconds(), _postgres_seconds()
    cpu = time.process_time()
    started = time.perf_counter()
    seeded = seed(engine, customers, 1, batch=batch)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    generator = child.ru_utime + child.ru_stime
    server = _postgres_seconds() - server
    busy = _busy_seconds() - busy
    per = 1000 / customers
    out(
        f"seeded    {seeded.customers} customers ({seeded.entities} entities, "
        f"{seeded.usage_records} usage lines, {seeded.changes} changes) in {wall:.1f} s: "
        f"{customers / wall:.0f} customers/s"
    )
    out(
        f"  cpu     writer {cpu:.1f} s ({cpu * per:.2f} ms/customer), generator "
        f"{generator:.1f} s ({generator * per:.2f} ms), PostgreSQL {server:.1f} s "
        f"({server * per:.2f} ms), whole machine busy {busy:.1f} s of {2 * wall:.1f} s "
        f"(others {max(busy - cpu - generator - server, 0):.1f} s); load "
        f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    with engine.connect() as conn:
        sizes = conn.execute(
            text(
                "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                "WHERE c.relkind = 'r' AND pg_table_is_visible(c.oid) "
                "AND c.relnamespace <> 'pg_catalog'::regnamespace ORDER BY 2 DESC"
            )
        ).all()
    total = sum(size for _, size in sizes)
    out(f"  disk    {total / 1e9:.2f} GB, {total / customers / 1e3:.0f} kB per customer")
    for name, size in sizes[:6]:
        out(f"          {name:<24} {size / 1e9:6.2f} GB")


def run(
    url: str, customers: int, existing: bool, batch: int = 100, seed_only: bool = False
) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    engine = make_engine(url)
    with engine.connect() as conn:
        server = conn.exec_driver_sql("SHOW server_version").scalar_one()
    out(f"date      {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}")
    out(
        f"machine   {os.cpu_count()} CPUs, {platform.platform()}, Python "
        f"{platform.python_version()}, PostgreSQL {server}"
    )
    if not existing:
        upgrade(engine)
        seed_and_report(engine, customers, batch)
        if seed_only:
            engine.dispose()
            return
    with engine.connect() as conn:
        count = conn.execute(select(text("count(*)")).select_from(t.customer)).scalar_one()
    out(f"base      {count} customers")
    keys = sample_keys(engine)

    out("1. exact search")
    for key in ("msisdn", "tin", "email"):
        values = keys[key]
        adapter = timed(
            engine, lambda conn, v, k=key: search(conn, SearchCriteria(**{k: v})), values
        )
        report(f"search by {key}", adapter, timed(engine, direct(key), values), "p95 <= 5 ms")
    out("2. fuzzy name search (one letter dropped)")
    fragments = [typo(name) for name in keys["name"][:100]]
    adapter = timed(engine, lambda conn, v: search(conn, SearchCriteria(fuzzy_name=v)), fragments)
    report("fuzzy name", adapter, timed(engine, direct("fuzzy"), fragments), "p95 <= 50 ms")
    n50, n95 = percentiles(timed(engine, direct("fuzzy_names"), fragments))
    out(
        f"   baseline: whole names through the trigram index (before revision 0009), direct SQL"
        f" p50 {n50:7.2f} ms  p95 {n95:7.2f} ms"
    )
    pairs = [f"{name.split()[0]} {typo(name)}" for name in keys["name"][:100] if " " in name]
    adapter = timed(engine, lambda conn, v: search(conn, SearchCriteria(fuzzy_name=v)), pairs)
    a50, a95 = percentiles(adapter)
    out(
        f"   fuzzy, two words (first word + a typo of the longest; whole names, no goal):"
        f" adapter p50 {a50:7.2f} ms  p95 {a95:7.2f} ms"
    )
    out("3. payer at depth 10,000")
    chain = build_tree(engine, 10_000, 1)
    leaves = [chain[-1].id] * 50
    report(
        "payer, 10,000 levels up",
        timed(engine, lambda c, v: hierarchy.payer(c, v), leaves),
        timed(engine, direct("payer"), leaves),
        "p95 <= 50 ms",
    )
    walked = timed(engine, direct("payer_walk"), leaves)
    w50, w95 = percentiles(walked)
    out(
        f"   baseline: the recursive walk it replaced, direct SQL p50 {w50:7.2f} ms  "
        f"p95 {w95:7.2f} ms"
    )
    out("4. subtree of 100,000 nodes")
    tree = build_tree(engine, 100_000, 10)
    roots = [tree[0].id] * 5
    report(
        "subtree, 100,000 nodes",
        timed(engine, lambda c, v: hierarchy.subtree(c, v, limit=100_000), roots),
        timed(engine, direct("subtree"), roots),
        "<= 1000 ms",
    )
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("CRM_BENCH_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument(
        "--existing",
        action="store_true",
        help="use --database-url as it is (already seeded) instead of a fresh database",
    )
    parser.add_argument("--batch", type=int, default=100, help="customers per seed change")
    parser.add_argument(
        "--seed-only", action="store_true", help="seed and report the seeding, measure nothing"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the fresh database at the end (measure it again with --existing)",
    )
    parser.add_argument(
        "--tablespace",
        help="create the fresh database in this tablespace (a base bigger than the server's"
        " own disk; docs/benchmarks.md says where the million was measured)",
    )
    args = parser.parse_args()
    if args.existing:
        run(args.database_url, args.customers, existing=True)
    else:
        with fresh_database(args.database_url, keep=args.keep, tablespace=args.tablespace) as url:
            run(url, args.customers, False, args.batch, args.seed_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
