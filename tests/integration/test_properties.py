"""Property-based: restore of version N yields N's values; any tampering breaks the chain."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text

from adapter.domain import Actor
from adapter.domain.model import Customer
from adapter.service.restore import restore
from adapter.store import tables as t
from adapter.store.audit import verify
from adapter.store.reading import read_connection
from adapter.store.uow import UnitOfWork
from tests import factories as f
from tests.conftest import reset_postgres

_ids = itertools.count(1)
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def actor() -> Actor:
    return Actor("prop", "hypothesis", "test", f"prop-{next(_ids)}")


edits = st.fixed_dictionaries(
    {
        "segment": st.sampled_from(["residential", "business", "corporate", "vip"]),
        "status": st.sampled_from(["prospect", "active", "suspended", "closed"]),
        "family_name": st.text(st.characters(categories=["L"]), min_size=1, max_size=12),
        "email": st.from_regex(r"[a-z]{1,8}@example\.(com|org)", fullmatch=True),
    }
)


def apply(customer: Customer, edit: dict[str, Any]) -> None:
    customer.segment = edit["segment"]
    customer.status = edit["status"]
    customer.party = customer.party.model_copy(update={"family_name": edit["family_name"]})
    customer.contact_media = [customer.contact_media[0].model_copy(update={"value": edit["email"]})]


def fresh(engine: Engine, template: Path, tmp: Path) -> Engine:
    """Each example on a clean store."""
    if engine.dialect.name == "postgresql":
        reset_postgres(engine)
        return engine
    import shutil

    from adapter.store.database import make_engine

    path = tmp / f"p{next(_ids)}.sqlite3"
    shutil.copy(template, path)
    return make_engine(f"sqlite:///{path}")


@SETTINGS
@given(history=st.lists(edits, min_size=1, max_size=6), data=st.data())
def test_restoring_version_n_yields_version_ns_values(
    engine: Engine,
    sqlite_template: Path,
    tmp_path: Path,
    history: list[dict[str, Any]],
    data: st.DataObject,
) -> None:
    store = fresh(engine, sqlite_template, tmp_path)
    c = f.customer()
    with UnitOfWork(store, actor()) as uow:
        uow.add(c)
        uow.commit("create")
    for edit in history:
        with UnitOfWork(store, actor()) as uow:
            apply(uow.get(Customer, c.id), edit)
            uow.commit("update")
    with store.connect() as conn:
        snapshots = dict(
            conn.execute(
                select(t.entity_version.c.version, t.entity_version.c.snapshot).where(
                    t.entity_version.c.entity_id == c.id
                )
            ).all()
        )
    target = data.draw(st.sampled_from(sorted(snapshots)), label="version")
    with UnitOfWork(store, actor()) as uow:
        restore(uow, "customer", c.id, target)
        uow.commit("restore")
    with UnitOfWork(store, actor()) as uow:
        assert uow.get(Customer, c.id).snapshot() == snapshots[target]


TAMPERING = st.sampled_from(
    [
        ("change", "originating_user", "'mallory'"),
        ("change", "operation", "'nothing.happened'"),
        ("change", "request_id", "'forged-request'"),
        ("change", "at", "at"),  # replaced below by a shifted instant
        ("entity_version", "entity_id", "'someone-else'"),
        ("entity_version", "op", "'forged'"),
        ("entity_version", "customer_id", "'other-customer'"),
        ("entity_version", "version", "version + 100"),
        ("change", "DELETE", ""),
        ("entity_version", "DELETE", ""),
    ]
)


@SETTINGS
@given(n_changes=st.integers(min_value=2, max_value=6), tampering=TAMPERING, data=st.data())
def test_any_tampering_breaks_the_chain(
    engine: Engine,
    sqlite_template: Path,
    tmp_path: Path,
    n_changes: int,
    tampering: tuple[str, str, str],
    data: st.DataObject,
) -> None:
    store = fresh(engine, sqlite_template, tmp_path)
    c = f.customer()
    with UnitOfWork(store, actor()) as uow:
        uow.add(c)
        uow.commit("create")
    for i in range(n_changes - 1):
        with UnitOfWork(store, actor()) as uow:
            uow.get(Customer, c.id).segment = f"s{i}"
            uow.commit("update")
    table, column, value = tampering
    victim = data.draw(st.integers(min_value=1, max_value=n_changes), label="change id")
    key = "id" if table == "change" else "change_id"
    with store.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE change DISABLE TRIGGER change_append_only"))
        else:
            conn.execute(text("DROP TRIGGER change_append_only_update"))
            conn.execute(text("DROP TRIGGER change_append_only_delete"))
        if column == "DELETE":
            if table == "change":
                conn.execute(text(f"DELETE FROM entity_version WHERE change_id = {victim}"))
            conn.execute(text(f"DELETE FROM {table} WHERE {key} = {victim}"))
        elif column == "at":
            stamp = conn.execute(select(t.change.c.at).where(t.change.c.id == victim)).scalar_one()
            conn.execute(
                t.change.update().where(t.change.c.id == victim).values(at=stamp.replace(year=2001))
            )
        else:
            conn.execute(text(f"UPDATE {table} SET {column} = {value} WHERE {key} = {victim}"))
    with read_connection(store) as conn:
        assert not verify(conn).ok
