"""Bulk import benchmark (``crm-adapter import bscs-xml``), on PostgreSQL.

For each size of ``--customers`` (comma-separated, e.g. ``2000,20000``) it writes a synthetic
BSCS export (``--profile lean``, the default: one person with one contract and three services
per customer, the volume case; ``full``: organisations with hierarchies, discounts, custom
attributes), creates a fresh database ``crm_bench_<random>`` on the server of
``--database-url``, migrates it, imports the file in a child process of its own (so that its
peak resident size is the import's alone; from 1 MB of file the records are read and mapped
by a second process of its own, whose peak is shown beside it), and drops the database at
the end. Nothing is ever created in the database named by the URL itself.

It prints, per size: file size, seconds, customers per second against the goal (>= 2,000/s,
``met`` or ``MISSED``), the peak RSS of the importing process; then the peak RSS of the
largest size against the smallest, to show that memory does not grow with the file.

Run: ``.venv/bin/python bench/bench_import.py --customers 2000,20000``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapter.importing import DEFAULT_BATCH, import_bscs_xml  # noqa: E402
from adapter.logs import configure_logging  # noqa: E402
from adapter.store.database import make_engine, upgrade  # noqa: E402
from adapter.testing.export import write_customer_export  # noqa: E402
from bench.benchdb import fresh_database  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOAL = 2_000  # customers per second


def out(*parts: Any) -> None:
    print(*parts, flush=True)


def child(path: str, url: str, batch: int) -> None:
    """The importing process: migrate, import, print the report as JSON on stdout."""
    configure_logging("WARNING")
    engine = make_engine(url)
    upgrade(engine)
    report = import_bscs_xml(engine, path, user="bench", batch=batch)
    engine.dispose()
    print(json.dumps(report.as_dict()))


def one_size(
    customers: int, profile: str, batch: int, url: str, folder: Path, keep: bool = False
) -> dict[str, Any]:
    path = folder / f"export-{customers}.xml"
    started = time.perf_counter()
    summary = write_customer_export(
        path, customers, seed=1, profile="lean" if profile == "lean" else "mixed"
    )
    written = time.perf_counter() - started
    size = path.stat().st_size
    out(
        f"\n{customers} customers ({profile}): export of {size / 1e6:.1f} MB written in "
        f"{written:.1f} s ({summary.accounts} accounts, {summary.contracts} contracts, "
        f"{summary.services} services)"
    )
    with fresh_database(url, keep) as database:
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(path), database, str(batch)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"the import of {customers} customers failed:\n{done.stderr}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    rate = report["customers_per_second"]
    out(
        f"   imported {report['imported']} of {report['read']} (rejected {report['rejected']}) "
        f"in {report['batches']} batches of {batch}: {report['seconds']:.1f} s, "
        f"{rate:,.0f} customers/s (goal >= {GOAL:,}/s: {'met' if rate >= GOAL else 'MISSED'}), "
        f"peak RSS {report['peak_rss_mib']:.0f} MiB (reading process "
        f"{report['reader_peak_rss_mib']:.0f} MiB)"
    )
    path.unlink()
    return {**report, "file_mb": round(size / 1e6, 1), "profile": profile}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", default="2000,20000", help="sizes, comma-separated")
    parser.add_argument("--profile", choices=["lean", "full"], default="lean")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    parser.add_argument(
        "--database-url", default=os.environ.get("CRM_BENCH_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument(
        "--keep-largest",
        action="store_true",
        help="keep the database of the largest size (e.g. for bench_search_hierarchy --existing)",
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("FILE", "URL", "BATCH"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    if not args.database_url.startswith("postgresql"):
        parser.error("the benchmark runs on PostgreSQL (give a postgresql+psycopg:// URL)")
    sizes = [int(s) for s in args.customers.split(",") if s.strip()]
    admin = create_engine(make_url(args.database_url))
    with admin.connect() as conn:
        server = conn.exec_driver_sql("SHOW server_version").scalar_one()
    admin.dispose()
    out(f"date      {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}")
    out(
        f"machine   {os.cpu_count()} CPUs, {platform.platform()}, Python "
        f"{platform.python_version()}, PostgreSQL {server}; load {os.getloadavg()[0]:.2f}"
    )
    out(f"import    profile {args.profile}, batch {args.batch}, sizes {sizes}")
    results = []
    with tempfile.TemporaryDirectory(prefix="crm-bench-import-") as folder:
        for customers in sizes:
            keep = args.keep_largest and customers == max(sizes)
            results.append(
                one_size(customers, args.profile, args.batch, args.database_url, Path(folder), keep)
            )
    if len(results) > 1:
        small = min(results, key=lambda r: r["read"])
        large = max(results, key=lambda r: r["read"])
        ratio = large["peak_rss_mib"] / small["peak_rss_mib"]
        out(
            f"\nmemory    peak RSS {small['peak_rss_mib']:.0f} MiB for {small['read']:,} customers "
            f"({small['file_mb']} MB), {large['peak_rss_mib']:.0f} MiB for {large['read']:,} "
            f"({large['file_mb']} MB): x{ratio:.2f} for x{large['read'] / small['read']:.0f} "
            f"the customers ({'flat' if ratio < 1.25 else 'GROWS'})"
        )
    out(f"load      {os.getloadavg()[0]:.2f} at the end")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
