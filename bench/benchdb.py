"""What the PostgreSQL benchmarks share: a database of their own for one run.

``fresh_database(url)`` creates ``crm_bench_<random>`` on the server of ``url`` (through an
AUTOCOMMIT connection to the database the URL names, where nothing is ever created), yields
its URL, and drops it at the end unless ``keep`` (then it says how to drop it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@contextmanager
def fresh_database(url: str, keep: bool = False) -> Iterator[str]:
    base = make_url(url)
    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        if keep:
            print(f'   kept database {name} (drop it with DROP DATABASE "{name}")', flush=True)
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
