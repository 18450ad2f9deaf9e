"""Concurrent writers: the chain stays gap-free and verifiable, and nobody's change is lost."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import Engine, func, select

from adapter.domain import Actor
from adapter.domain.errors import ConcurrencyConflict
from adapter.domain.model import Customer
from adapter.store import tables as t
from adapter.store.audit import verify
from adapter.store.reading import read_connection
from adapter.store.uow import UnitOfWork
from tests import factories as f

MakeActor = Callable[..., Actor]
WRITERS = 4
CHANGES = 15


def test_parallel_writers_build_one_intact_chain(engine: Engine, actor: MakeActor) -> None:
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for _ in range(CHANGES):
                with UnitOfWork(engine, actor(f"writer.{n}")) as uow:
                    uow.add(f.customer())
                    uow.commit("customer.create")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with read_connection(engine) as conn:
        report = verify(conn)
        ids = conn.execute(select(t.change.c.id).order_by(t.change.c.id)).scalars().all()
    assert report.ok, report.problems
    assert ids == list(range(1, WRITERS * CHANGES + 1))


def test_racing_updates_of_one_customer_lose_nothing_silently(
    engine: Engine, actor: MakeActor
) -> None:
    """Each racing writer either commits or is told its read was stale; every committed
    change is a version."""
    c = f.customer()
    with UnitOfWork(engine, actor()) as uow:
        uow.add(c)
        uow.commit("customer.create")
    outcomes: list[str] = []
    lock = threading.Lock()

    def bump(n: int) -> None:
        for i in range(CHANGES):
            try:
                with UnitOfWork(engine, actor(f"writer.{n}")) as uow:
                    uow.get(Customer, c.id).segment = f"w{n}-{i}"
                    uow.commit("customer.update")
                result = "committed"
            except ConcurrencyConflict:
                result = "stale"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=bump, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    with engine.connect() as conn:
        versions = conn.execute(select(func.count()).select_from(t.entity_version)).scalar_one()
        current = conn.execute(select(t.customer.c.version)).scalar_one()
    committed = outcomes.count("committed")
    assert len(outcomes) == WRITERS * CHANGES
    assert versions == current == committed + 1
