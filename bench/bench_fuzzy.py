"""Fuzzy name search at a million customers (issue 3), on PostgreSQL, in minutes.

The seeded profile at a million customers does not fit this machine's disk (docs/benchmarks.md,
"Seeding speed"), and the lean import base takes ~40 minutes to build. The fuzzy search only
reads customers' names, so this script builds a store of ``--customers`` customers whose names
are made the way the seed makes them (Faker, the seed's five locales, 15% organisations named
"<company> <number>"), with customer rows of the seed's shape and size, written by ``COPY``
into a migrated store (the triggers of revision 0009 list the name words as they do for the
seed), then ``ANALYZE``. It then measures, on ``--samples`` fragments made like
bench_search_hierarchy's (the longest word of a random name, one letter dropped):

1. the adapter's ``search(fuzzy_name=…)`` (page of 50 with its total), beside the same
   statements written directly in SQL (``bench_search_hierarchy.DIRECT``);
2. the baseline it replaced: every close whole name through the trigram index, ranked;
3. two-word fragments (a name's first word and a typo of its longest), which still compare
   whole names; no goal, for the record.

Run: ``.venv/bin/python bench/bench_fuzzy.py`` (a million customers: about 3 minutes to build
here); ``--customers 100000`` for a quicker look, ``--keep`` / ``--existing`` to measure again.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from faker import Faker
from sqlalchemy import Engine, text

from adapter.domain.identifiers import search_text
from adapter.queries.search import SearchCriteria, search
from adapter.seed import LOCALES
from adapter.store.database import make_engine, upgrade
from bench.bench_search_hierarchy import DEFAULT_URL, direct, out, percentiles, timed, typo
from bench.benchdb import fresh_database

RNG = random.Random(7)
COPY_CHUNK = 100_000
COLUMNS = (
    "id, version, customer_number, party_kind, status, segment, name_key, birth_date,"
    " display_name, updated_at, data"
)


def rows(count: int) -> Any:
    """Customer rows of the seed's shape: its locales, names, and a document of its size."""
    fakers = {locale: Faker(locale) for locale in LOCALES}
    for position, fake in enumerate(fakers.values()):
        fake.seed_instance(position)
    locales = list(LOCALES)
    for index in range(count):
        locale = RNG.choice(locales)
        fake, country = fakers[locale], LOCALES[locale]
        cid = str(uuid.UUID(int=(0x01A21526E400 + index) << 80 | 0x7 << 76 | 2 << 62 | index))
        number = f"C{index:08d}"
        born: date | None = None
        if RNG.random() < 0.15:
            name = f"{fake.company()} {index}"
            kind = "organization"
            party: dict[str, Any] = {"kind": kind, "name": name, "legal_form": "GmbH"}
        else:
            given, family = fake.first_name(), fake.last_name()
            name, kind = f"{given} {family}", "individual"
            born = date(1940, 1, 1) + timedelta(days=RNG.randrange(25_000))
            party = {
                "kind": kind,
                "given_name": given,
                "family_name": family,
                "birth_date": born.isoformat(),
                "nationality": country,
            }
        address = {"city": fake.city(), "country": country, "lines": [fake.street_address()]}
        document = {
            "id": cid,
            "customer_number": number,
            "party": party,
            "addresses": [{**address, "role": r} for r in ("residence", "billing")],
            "contact_media": [{"type": "email", "value": f"c{index}@example.com"}],
            "identifications": [{"type": "tin", "value": f"{country}{index:09d}"}],
            "segment": "residential",
            "status": "active",
        }
        yield (
            cid,
            1,
            number,
            kind,
            "active",
            "residential",
            search_text(name),
            born,
            name,
            "2026-11-01T00:00:00Z",
            json.dumps(document),
        )


def build(engine: Engine, count: int) -> None:
    upgrade(engine)
    started = time.perf_counter()
    made = rows(count)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for _chunk in range(0, count, COPY_CHUNK):
            with cursor.copy(f"COPY customer ({COLUMNS}) FROM STDIN") as copy:
                for _row_number, row in zip(range(COPY_CHUNK), made, strict=False):
                    copy.write_row(row)
            raw.commit()
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        words = conn.execute(text("SELECT count(*) FROM name_word")).scalar_one()
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    out(
        f"built     {count} customers, {words} distinct name words, in "
        f"{time.perf_counter() - started:.0f} s ({size / 1e9:.1f} GB)"
    )


def measure(engine: Engine, samples: int) -> None:
    with engine.connect() as conn:
        names = list(
            conn.execute(
                text("SELECT name_key FROM customer TABLESAMPLE SYSTEM (1) REPEATABLE (1)")
            ).scalars()
        )
    RNG.shuffle(names)
    fragments = [typo(name) for name in names[:samples]]

    def adapter_call(conn: Any, fragment: str) -> Any:
        return search(conn, SearchCriteria(fuzzy_name=fragment))

    found = timed(engine, adapter_call, fragments)
    mine = timed(engine, direct("fuzzy"), fragments)
    before = timed(engine, direct("fuzzy_names"), fragments)
    out(f"1. fuzzy name, one word with one letter dropped ({len(fragments)} fragments)")
    for label, figures in (
        ("adapter", found),
        ("direct SQL, the same statements", mine),
        ("baseline: whole names (before 0009)", before),
    ):
        p50, p95 = percentiles(figures)
        out(
            f"   {label:<38} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  max {max(figures):7.1f} ms"
            + ("  | goal p95 <= 50 ms" if label == "adapter" else "")
        )
    with engine.connect() as conn:
        totals = sorted(
            adapter_call(conn, fragment).total for fragment in fragments[: min(samples, 50)]
        )
    out(f"   median total of matches {totals[len(totals) // 2]}, largest {totals[-1]}")
    pairs = [f"{name.split()[0]} {typo(name)}" for name in names[:samples] if " " in name]
    two = timed(engine, adapter_call, pairs)
    p50, p95 = percentiles(two)
    out(
        f"2. fuzzy name, two words (whole names; no goal): adapter p50 {p50:7.2f} ms"
        f"  p95 {p95:7.2f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("CRM_BENCH_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=150)
    parser.add_argument("--existing", action="store_true", help="measure --database-url as it is")
    parser.add_argument("--keep", action="store_true", help="keep the built database")
    args = parser.parse_args()
    out(f"date      {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}")
    out(
        f"machine   {os.cpu_count()} CPUs, {platform.platform()},"
        f" Python {platform.python_version()}"
    )
    if args.existing:
        engine = make_engine(args.database_url)
        measure(engine, args.samples)
        engine.dispose()
        return 0
    with fresh_database(args.database_url, keep=args.keep, prefix="crm_bench_fuzzy") as url:
        engine = make_engine(url)
        build(engine, args.customers)
        measure(engine, args.samples)
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
