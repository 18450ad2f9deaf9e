"""Shared fixtures: a migrated store on SQLite always, and on PostgreSQL when
``CRM_TEST_DATABASE_URL`` is set (CI sets it and then requires it)."""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from adapter.domain import Actor
from adapter.store import tables as t
from adapter.store.database import make_engine, upgrade

PG_URL = os.environ.get("CRM_TEST_DATABASE_URL", "")
BROKER_URL = os.environ.get("CRM_TEST_BROKER_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"

# Property tests check behaviour; time is the benchmarks' business (bench/). Hypothesis' default
# 200 ms deadline per example fails them on a loaded 2-core machine for no fault of the code.
settings.register_profile("crm", deadline=None)
settings.load_profile("crm")


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = (
        [f"PostgreSQL tests: on ({make_url(PG_URL).render_as_string()})"]
        if PG_URL
        else ["PostgreSQL tests: SKIPPED, because CRM_TEST_DATABASE_URL is not set"]
    )
    lines.append(
        f"Redis tests: on ({make_url_safe(BROKER_URL)})"
        if BROKER_URL
        else "Redis tests: SKIPPED, because CRM_TEST_BROKER_URL is not set"
    )
    return lines


def pytest_configure(config: pytest.Config) -> None:
    if IN_CI and not PG_URL:
        raise pytest.UsageError(
            "CI=true but CRM_TEST_DATABASE_URL is not set: the PostgreSQL tests must run in CI"
        )
    if IN_CI and not BROKER_URL:
        raise pytest.UsageError(
            "CI=true but CRM_TEST_BROKER_URL is not set: the Redis tests must run in CI"
        )


# ----------------------------------------------------------------------------- SQLite


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "crm.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "crm.sqlite3"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


# ------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh database on the server of CRM_TEST_DATABASE_URL, migrated, dropped at the end.
    Unreachable server: an error, never a skip."""
    if not PG_URL:
        pytest.skip("CRM_TEST_DATABASE_URL is not set (PostgreSQL tests run in CI)")
    base = make_url(PG_URL)
    name = f"crm_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        raise RuntimeError(
            f"PostgreSQL at {base.render_as_string()} is unreachable: {exc}"
        ) from exc
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def reset_postgres(engine: Engine) -> None:
    names = ", ".join(
        f'"{table.name}"' for table in t.metadata.sorted_tables if table is not t.audit_head
    )
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        conn.execute(t.audit_head.update().values(seq=0, hash=t.GENESIS_HASH, at=None))
        # Tamper tests disable the append-only guard; every test starts with it on.
        conn.execute(text("ALTER TABLE change ENABLE TRIGGER change_append_only"))


def reset_postgres_at(url: str) -> None:
    """``reset_postgres`` for a store known by its URL (for tests that hand the URL to another
    process)."""
    engine = make_engine(url)
    try:
        reset_postgres(engine)
    finally:
        engine.dispose()


@pytest.fixture
def pg_engine(pg_database: str) -> Iterator[Engine]:
    engine = make_engine(pg_database)
    reset_postgres(engine)
    yield engine
    engine.dispose()


# ------------------------------------------------------------------------------ Redis


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis of CRM_TEST_BROKER_URL, checked to answer. Unreachable: an error, not a skip."""
    if not BROKER_URL:
        pytest.skip("CRM_TEST_BROKER_URL is not set (Redis tests run in CI)")
    if not BROKER_URL.startswith(("redis://", "rediss://")):
        pytest.skip(f"CRM_TEST_BROKER_URL is not a Redis URL ({make_url_safe(BROKER_URL)})")
    import redis

    try:
        redis.Redis.from_url(BROKER_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        raise RuntimeError(f"Redis at {make_url_safe(BROKER_URL)} is unreachable: {exc}") from exc
    return BROKER_URL


def make_url_safe(url: str) -> str:
    """A URL without its password, for messages."""
    head, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    return f"{head}://{credentials.split(':')[0] + ':***' if at else ''}{at}{host}"


# -------------------------------------------------------------------------- either


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The store on each backend: every test using it runs on SQLite and on PostgreSQL."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


_counter = itertools.count(1)


@pytest.fixture
def actor() -> Callable[..., Actor]:
    """Makes actors with a fresh request id each time."""

    def make(user: str = "agent.test", channel: str = "test") -> Actor:
        return Actor(
            originating_user=user,
            principal="pytest",
            channel=channel,
            request_id=f"req-{next(_counter)}-{uuid.uuid4().hex[:8]}",
        )

    return make
