"""The hash-chained change log and `audit verify`: any edited or deleted row is detected."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy import Connection, Engine, text

from adapter.domain import Actor
from adapter.domain.model import Customer, Money, UsageRecord
from adapter.store import tables as t
from adapter.store.audit import read_head, verify
from adapter.store.reading import read_connection
from adapter.store.uow import UnitOfWork
from tests import factories as f
from tests.factories import NOW
from tests.integration.conftest import Tree

MakeActor = Callable[..., Actor]


def drop_append_only_guard(conn: Connection) -> None:
    """What an attacker with DDL rights would do first."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE change DISABLE TRIGGER change_append_only"))
    else:
        conn.execute(text("DROP TRIGGER change_append_only_update"))
        conn.execute(text("DROP TRIGGER change_append_only_delete"))


@pytest.fixture
def history(engine: Engine, actor: MakeActor, tree: Tree) -> Tree:
    """Four changes: setup, two updates, and a batch of usage lines."""
    for segment in ("a", "b"):
        with UnitOfWork(engine, actor()) as uow:
            uow.get(Customer, tree.customer.id).segment = segment
            uow.commit("customer.update")
    with UnitOfWork(engine, actor("billing")) as uow:
        for minute in range(2):
            uow.add(
                UsageRecord(
                    customer_id=tree.customer.id,
                    account_id=tree.account.id,
                    contract_id=tree.contract.id,
                    subscriber_id=tree.subscriber.id,
                    start_time=NOW.replace(minute=minute),
                    type="sms",
                    charge=Money(amount=Decimal("0.09"), currency="EUR"),
                )
            )
        uow.commit("usage.record")
    return tree


def problems(engine: Engine) -> list[str]:
    with read_connection(engine) as conn:
        return verify(conn).problems


def tamper(engine: Engine, *statements: str) -> None:
    with engine.begin() as conn:
        drop_append_only_guard(conn)
        for statement in statements:
            conn.execute(text(statement))


def test_untouched_log_verifies(engine: Engine, history: Tree) -> None:
    with read_connection(engine) as conn:
        report = verify(conn)
    assert report.ok, report.problems
    assert (report.changes, report.versions, report.usage_records) == (4, 8, 2)


def test_edited_change_row_is_detected(engine: Engine, history: Tree) -> None:
    tamper(engine, "UPDATE change SET originating_user = 'mallory' WHERE id = 2")
    assert any("change 2: content does not match" in p for p in problems(engine))


def test_edited_version_snapshot_is_detected(engine: Engine, history: Tree) -> None:
    with engine.begin() as conn:
        row = conn.execute(t.entity_version.select().where(t.entity_version.c.version == 2)).first()
        assert row is not None
        conn.execute(
            t.entity_version.update()
            .where(t.entity_version.c.id == row.id)
            .values(snapshot={**row.snapshot, "segment": "forged"})
        )
    assert any(f"change {row.change_id}: content" in p for p in problems(engine))


def test_deleted_version_row_is_detected(engine: Engine, history: Tree) -> None:
    tamper(engine, "DELETE FROM entity_version WHERE change_id = 3")
    found = problems(engine)
    assert any("change 3: content" in p for p in found)


def test_deleted_change_in_the_middle_is_detected(engine: Engine, history: Tree) -> None:
    tamper(
        engine, "DELETE FROM entity_version WHERE change_id = 2", "DELETE FROM change WHERE id = 2"
    )
    found = problems(engine)
    assert any("change 2: missing" in p for p in found)
    assert any("change 3: prev_hash" in p for p in found)


def test_deleted_last_change_is_detected_by_the_head(engine: Engine, history: Tree) -> None:
    tamper(
        engine, "DELETE FROM usage_record WHERE change_id = 4", "DELETE FROM change WHERE id = 4"
    )
    assert any("audit head says change 4" in p for p in problems(engine))


def test_rewound_head_is_detected_against_a_head_kept_outside(
    engine: Engine, history: Tree
) -> None:
    with read_connection(engine) as conn:
        kept = read_head(conn)
    with engine.begin() as conn:
        prior = conn.execute(t.change.select().where(t.change.c.id == 3)).one()
        drop_append_only_guard(conn)
        conn.execute(text("DELETE FROM usage_record WHERE change_id = 4"))
        conn.execute(text("DELETE FROM change WHERE id = 4"))
        conn.execute(t.audit_head.update().values(seq=3, hash=prior.hash, at=prior.at))
    assert problems(engine) == []  # an attacker who rewinds the head too hides from the chain…
    with read_connection(engine) as conn:
        report = verify(conn, expect_head=kept)
    assert not report.ok
    assert "expected 4" in report.problems[0]  # …but not from a head kept outside


def test_head_instant_that_disagrees_with_the_last_change_is_detected(
    engine: Engine, history: Tree
) -> None:
    with engine.begin() as conn:
        prior = conn.execute(t.change.select().where(t.change.c.id == 3)).one()
        drop_append_only_guard(conn)
        conn.execute(text("DELETE FROM usage_record WHERE change_id = 4"))
        conn.execute(text("DELETE FROM change WHERE id = 4"))
        conn.execute(t.audit_head.update().values(seq=3, hash=prior.hash))
    assert any("instant differs" in p for p in problems(engine))


def test_edited_usage_line_is_detected(engine: Engine, history: Tree) -> None:
    with engine.begin() as conn:
        row = conn.execute(t.usage_record.select()).first()
        assert row is not None
        forged = {**row.data, "charge": {"amount": "0", "currency": "EUR"}}
        conn.execute(
            t.usage_record.update().where(t.usage_record.c.id == row.id).values(data=forged)
        )
    assert any("usage lines were edited" in p for p in problems(engine))


def test_edited_current_row_is_detected(engine: Engine, history: Tree) -> None:
    with engine.begin() as conn:
        row = conn.execute(t.customer.select()).first()
        assert row is not None
        conn.execute(t.customer.update().values(data={**row.data, "segment": "forged"}))
    assert any("current row differs from its last version" in p for p in problems(engine))


def test_altered_valid_to_is_detected(engine: Engine, history: Tree) -> None:
    tamper(
        engine,
        "UPDATE entity_version SET valid_to = NULL WHERE version = 1 AND entity_type = 'customer'",
    )
    assert any("valid_to was altered" in p for p in problems(engine))


def test_each_change_hash_links_to_the_previous(engine: Engine, history: Tree) -> None:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT prev_hash, hash FROM change ORDER BY id")).all()
    assert rows[0].prev_hash == t.GENESIS_HASH
    assert all(rows[i].prev_hash == rows[i - 1].hash for i in range(1, len(rows)))


def test_new_customer_after_verification_keeps_the_chain_intact(
    engine: Engine, actor: MakeActor, history: Tree
) -> None:
    with UnitOfWork(engine, actor()) as uow:
        uow.add(f.customer())
        uow.commit("customer.create")
    assert problems(engine) == []


def test_edited_lookup_column_is_detected(engine: Engine, history: Tree) -> None:
    with engine.begin() as conn:
        conn.execute(t.customer.update().values(customer_number="EVIL-1"))
    assert any("column customer_number does not match" in p for p in problems(engine))


def test_edited_search_key_row_is_detected(engine: Engine, history: Tree) -> None:
    with engine.begin() as conn:
        conn.execute(t.customer_contact.update().values(value_key="evil@example.com"))
    assert any("customer_contact rows do not match" in p for p in problems(engine))
