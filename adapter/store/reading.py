"""Read-only connections (on SQLite, a deferred transaction that takes no write lock)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        conn = conn.execution_options(sqlite_begin="DEFERRED")
        try:
            yield conn
        finally:
            conn.rollback()
