"""Engines and migrations. Nothing here runs at import time; callers build what they need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from adapter.store import jsontext

MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the settings the store relies on.

    On SQLite: foreign keys on, WAL, a busy timeout, and write transactions that start with
    ``BEGIN IMMEDIATE`` so that two writers queue instead of failing on a lock upgrade. Read-only
    work passes ``execution_options(sqlite_begin="DEFERRED")``; a unit of work reads with
    ``"NONE"`` (no transaction, no lock) and opens its write transaction only at commit."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=jsontext.dumps,
        )
        _sqlite_behaviour(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, json_serializer=jsontext.dumps)


def _sqlite_behaviour(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode == "NONE":
            return  # autocommit reads: each statement sees the latest committed state
        connection.exec_driver_sql(f"BEGIN {'DEFERRED' if mode == 'DEFERRED' else 'IMMEDIATE'}")


def analyze(engine: Engine) -> None:
    """Refresh the planner's statistics after a bulk load. Until autovacuum gets there,
    PostgreSQL takes a freshly filled table for an empty one and, for example, walks a deep
    hierarchy with a hash join per level (34 s instead of 0.1 s for 10,000 levels)."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("ANALYZE")


# The trigram indexes of the search (revision 0002) that keep a pending list.
_GIN_INDEXES = ("ix_customer_name_key_trgm", "ix_customer_address_line_key_trgm")


def after_load(engine: Engine) -> None:
    """What a finished bulk load leaves behind, on PostgreSQL ready to search at full speed:
    fresh statistics (:func:`analyze`); the trigram indexes' pending lists merged (a GIN index
    takes new entries into a list that every search reads whole until a vacuum merges it: after
    a load, megabytes per search); and the visibility map of ``customer_name_word``
    (revision 0009), which a one-word fuzzy search counts by index only (until a vacuum sets
    it, each of the tens of thousands of entries a common name's typo counts is looked up in
    the table too: p95 69 ms instead of 23 at a million imported customers); and that of
    ``customer``, whose covering index ``ix_customer_item`` (revision 0010) serves a search's
    page of items by index only. Autovacuum gets to all of it, but not right after a load."""
    analyze(engine)
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for index in _GIN_INDEXES:
            if conn.exec_driver_sql(f"SELECT to_regclass('{index}')").scalar() is not None:
                conn.exec_driver_sql(f"SELECT gin_clean_pending_list('{index}')")
        for table in ("customer_name_word", "customer"):
            if conn.exec_driver_sql(f"SELECT to_regclass('{table}')").scalar() is not None:
                conn.exec_driver_sql(f"VACUUM {table}")


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (``crm-adapter db upgrade``)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
