"""What the PostgreSQL benchmarks share: a database of their own for one run.

``fresh_database(url)`` creates ``crm_bench_<random>`` (``<prefix>_<random>`` if given) on
the server of ``url`` (through an AUTOCOMMIT connection to the database the URL names, where
nothing is ever created), in ``tablespace`` if given (a base larger than the server's own disk
can live on another volume), yields its URL, and drops it at the end unless ``keep`` (then it
says how to reuse and drop it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@contextmanager
def fresh_database(
    url: str, keep: bool = False, prefix: str = "crm_bench", tablespace: str | None = None
) -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    base = make_url(url)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    where = f' TABLESPACE "{tablespace}"' if tablespace else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{where}'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        if keep:
            print(
                f"   kept database {name} (reuse it with --existing --database-url …/{name}; "
                f'drop it with DROP DATABASE "{name}" WITH (FORCE))',
                flush=True,
            )
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
