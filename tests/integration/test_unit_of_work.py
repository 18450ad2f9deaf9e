"""The unit of work: actors, change and version rows, concurrency, rollback, uniqueness."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select

from adapter.domain import Actor
from adapter.domain.errors import ConcurrencyConflict, Conflict, MissingActor, ValidationFailed
from adapter.domain.model import Customer, Money, UsageRecord, UsageType
from adapter.store import tables as t
from adapter.store.uow import DuplicateRequest, UnitOfWork
from tests import factories as f
from tests.factories import NOW

MakeActor = Callable[..., Actor]


def count(engine: Engine, table: t.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_write_without_actor_is_refused(engine: Engine) -> None:
    with pytest.raises(MissingActor, match="needs an actor"):
        UnitOfWork(engine, None)
    assert count(engine, t.change) == 0


def test_blank_actor_field_is_refused() -> None:
    with pytest.raises(MissingActor, match="originating_user"):
        Actor(originating_user=" ", principal="p", channel="c", request_id="r")


def test_create_writes_one_change_and_one_version_per_entity(
    engine: Engine, actor: MakeActor
) -> None:
    who = actor("agent.ana")
    c = f.customer()
    a = f.account(c)
    with UnitOfWork(engine, who) as uow:
        uow.add_all([c, a])
        change = uow.commit("customer.create")
    with engine.connect() as conn:
        row = conn.execute(select(t.change)).one()
        versions = conn.execute(select(t.entity_version).order_by(t.entity_version.c.id)).all()
    assert (row.originating_user, row.principal, row.channel, row.request_id) == (
        "agent.ana",
        "pytest",
        "test",
        who.request_id,
    )
    assert row.operation == "customer.create" and change.id == row.id == 1
    assert [(v.entity_type, v.version, v.op) for v in versions] == [
        ("customer", 1, "create"),
        ("account", 1, "create"),
    ]
    assert versions[1].customer_id == c.id and versions[1].account_id == a.id


def test_update_writes_version_with_snapshot_diff_and_context(
    engine: Engine, actor: MakeActor
) -> None:
    c = f.customer(segment="residential")
    with UnitOfWork(engine, actor()) as uow:
        uow.add(c)
        uow.commit("customer.create")
    with UnitOfWork(engine, actor()) as uow:
        uow.get(Customer, c.id).segment = "business"
        uow.commit("customer.update")
    with engine.connect() as conn:
        v2 = conn.execute(select(t.entity_version).where(t.entity_version.c.version == 2)).one()
        current = conn.execute(select(t.customer.c.version, t.customer.c.segment)).one()
    assert v2.diff == {"segment": {"old": "residential", "new": "business"}}
    assert v2.snapshot["segment"] == "business" and v2.customer_id == c.id
    assert tuple(current) == (2, "business")


def test_previous_version_is_closed_at_the_new_versions_start(
    engine: Engine, actor: MakeActor
) -> None:
    c = f.customer()
    with UnitOfWork(engine, actor()) as uow:
        uow.add(c)
        uow.commit("customer.create")
    with UnitOfWork(engine, actor()) as uow:
        uow.get(Customer, c.id).status = "suspended"
        uow.commit("customer.update")
    with engine.connect() as conn:
        v1, v2 = conn.execute(
            select(t.entity_version.c.valid_from, t.entity_version.c.valid_to).order_by(
                t.entity_version.c.version
            )
        ).all()
    assert v1.valid_to == v2.valid_from and v2.valid_to is None


def test_leaving_without_commit_writes_nothing(engine: Engine, actor: MakeActor) -> None:
    with UnitOfWork(engine, actor()) as uow:
        uow.add(f.customer())
    assert count(engine, t.customer) == 0 and count(engine, t.change) == 0


def test_error_inside_the_block_rolls_back(engine: Engine, actor: MakeActor) -> None:
    with pytest.raises(RuntimeError), UnitOfWork(engine, actor()) as uow:
        uow.add(f.customer())
        raise RuntimeError("boom")
    assert count(engine, t.customer) == 0


def test_duplicate_customer_number_names_the_field_and_writes_nothing(
    engine: Engine, actor: MakeActor
) -> None:
    with UnitOfWork(engine, actor()) as uow:
        uow.add(f.customer(customer_number="DUP-1"))
        uow.commit("customer.create")
    with pytest.raises(ValidationFailed) as caught, UnitOfWork(engine, actor()) as uow:
        other = f.customer(customer_number="DUP-1")
        uow.add_all([other, f.account(other)])
        uow.commit("customer.create")
    (violation,) = caught.value.violations
    assert (violation.field, violation.rule) == ("customer_number", "unique")
    assert count(engine, t.customer) == 1 and count(engine, t.account) == 0
    assert count(engine, t.change) == 1


def test_msisdn_of_a_live_subscriber_cannot_be_reused(engine: Engine, actor: MakeActor) -> None:
    c = f.customer()
    a = f.account(c)
    k = f.contract(a)
    first = f.subscriber(k, msisdn="+491701111111")
    with UnitOfWork(engine, actor()) as uow:
        uow.add_all([c, a, k, first])
        uow.commit("setup")
    with pytest.raises(ValidationFailed, match="MSISDN"), UnitOfWork(engine, actor()) as uow:
        uow.add(f.subscriber(k, msisdn="+491701111111"))
        uow.commit("subscriber.create")


def test_msisdn_of_a_deactivated_subscriber_can_be_recycled(
    engine: Engine, actor: MakeActor
) -> None:
    c = f.customer()
    a = f.account(c)
    k = f.contract(a)
    old = f.subscriber(k, msisdn="+491702222222", status="deactivated")
    with UnitOfWork(engine, actor()) as uow:
        uow.add_all([c, a, k, old])
        uow.commit("setup")
    with UnitOfWork(engine, actor()) as uow:
        uow.add(f.subscriber(k, msisdn="+491702222222"))
        uow.commit("subscriber.create")
    assert count(engine, t.subscriber) == 2


def test_stale_version_is_refused(engine: Engine, actor: MakeActor) -> None:
    c = f.customer()
    with UnitOfWork(engine, actor()) as uow:
        uow.add(c)
        uow.commit("customer.create")
    with UnitOfWork(engine, actor()) as slow:
        mine = slow.get(Customer, c.id)
        with UnitOfWork(engine, actor()) as fast:
            fast.get(Customer, c.id).segment = "business"
            fast.commit("customer.update")
        mine.segment = "corporate"
        with pytest.raises(
            ConcurrencyConflict, match="expected at version 1 but it is at version 2"
        ):
            slow.commit("customer.update")
    with engine.connect() as conn:
        assert conn.execute(select(t.customer.c.segment)).scalar_one() == "business"


def test_expected_version_is_checked(engine: Engine, actor: MakeActor) -> None:
    c = f.customer()
    with UnitOfWork(engine, actor()) as uow:
        uow.add(c)
        uow.commit("customer.create")
    with UnitOfWork(engine, actor()) as uow:
        loaded = uow.get(Customer, c.id)
        uow.expect_version(loaded, 1)
        with pytest.raises(ConcurrencyConflict):
            uow.expect_version(loaded, 7)


def test_same_request_id_is_not_applied_twice(engine: Engine, actor: MakeActor) -> None:
    who = actor()
    with UnitOfWork(engine, who) as uow:
        uow.add(f.customer())
        uow.commit("customer.create")
    with pytest.raises(DuplicateRequest), UnitOfWork(engine, who) as uow:
        uow.add(f.customer())
        uow.commit("customer.create")
    assert count(engine, t.customer) == 1


def test_commit_without_changes_records_an_unchanged_change(
    engine: Engine, actor: MakeActor
) -> None:
    c = f.customer()
    with UnitOfWork(engine, actor()) as uow:
        uow.add(c)
        uow.commit("customer.create")
    with UnitOfWork(engine, actor()) as uow:
        uow.get(Customer, c.id)
        change = uow.commit("customer.update")
    assert change.outcome == "unchanged" and count(engine, t.entity_version) == 1


def test_in_place_list_edit_is_validated_at_commit(engine: Engine, actor: MakeActor) -> None:
    """Appending to a list does not pass through pydantic's assignment validation; commit does."""
    c = f.customer()
    with UnitOfWork(engine, actor()) as uow:
        uow.add(c)
        uow.commit("customer.create")
    with pytest.raises(ValidationFailed, match="repeated"), UnitOfWork(engine, actor()) as uow:
        loaded = uow.get(Customer, c.id)
        loaded.identifications.append(loaded.identifications[0])
        uow.commit("customer.update")


def test_remove_writes_a_delete_version_and_recreate_continues_numbering(
    engine: Engine, actor: MakeActor
) -> None:
    c = f.customer()
    with UnitOfWork(engine, actor()) as uow:
        uow.add(c)
        uow.commit("customer.create")
    with UnitOfWork(engine, actor()) as uow:
        uow.remove(uow.get(Customer, c.id))
        uow.commit("customer.delete")
    assert count(engine, t.customer) == 0 and count(engine, t.customer_identification) == 0
    with UnitOfWork(engine, actor()) as uow:
        uow.add(Customer.model_validate(c.snapshot()), recreate=True)
        change = uow.commit("customer.recreate")
    assert change.versions == (("customer", c.id, 3, "create"),)


def test_usage_records_are_appended_without_versions(engine: Engine, actor: MakeActor) -> None:
    c = f.customer()
    a = f.account(c)
    k = f.contract(a)
    s = f.subscriber(k)
    with UnitOfWork(engine, actor()) as uow:
        uow.add_all([c, a, k, s])
        uow.commit("setup")
    with UnitOfWork(engine, actor("billing")) as uow:
        for minute in range(3):
            uow.add(
                UsageRecord(
                    customer_id=c.id,
                    account_id=a.id,
                    contract_id=k.id,
                    subscriber_id=s.id,
                    start_time=NOW.replace(minute=minute),
                    type=UsageType.VOICE,
                    duration_seconds=60,
                    charge=Money(amount=Decimal("0.10"), currency="EUR"),
                )
            )
        change = uow.commit("usage.record")
    with engine.connect() as conn:
        summary = conn.execute(select(t.change.c.summary).where(t.change.c.id == change.id))
        summary_row = summary.scalar_one()
        change_ids = set(conn.execute(select(t.usage_record.c.change_id)).scalars())
    assert summary_row["appended"] == {"usage_record": 3} and "usage_digest" in summary_row
    assert change_ids == {change.id} and count(engine, t.entity_version) == 4


def test_customer_search_keys_follow_the_customer(engine: Engine, actor: MakeActor) -> None:
    c = f.customer()
    with UnitOfWork(engine, actor()) as uow:
        uow.add(c)
        uow.commit("customer.create")
    with UnitOfWork(engine, actor()) as uow:
        loaded = uow.get(Customer, c.id)
        loaded.contact_media = [
            loaded.contact_media[0].model_copy(update={"value": "new@example.com"})
        ]
        uow.commit("customer.update")
    with engine.connect() as conn:
        keys = conn.execute(select(t.customer_contact.c.value_key)).scalars().all()
    assert keys == ["new@example.com"]


def test_change_log_refuses_update_and_delete(engine: Engine, actor: MakeActor) -> None:
    with UnitOfWork(engine, actor()) as uow:
        uow.add(f.customer())
        uow.commit("customer.create")
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(t.change.update().values(originating_user="mallory"))
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(t.change.delete())


def test_adding_an_entity_whose_id_exists_is_refused(engine: Engine, actor: MakeActor) -> None:
    c = f.customer()
    with UnitOfWork(engine, actor()) as uow:
        uow.add(c)
        uow.commit("customer.create")
    twin = f.customer(id=c.id)
    with (
        pytest.raises(Conflict, match="has the id of one that exists"),
        UnitOfWork(engine, actor()) as uow,
    ):
        uow.add(twin)
        uow.commit("customer.create")
    assert count(engine, t.customer) == 1


def test_recreating_an_entity_that_exists_is_refused(engine: Engine, actor: MakeActor) -> None:
    c = f.customer()
    with UnitOfWork(engine, actor()) as uow:
        uow.add(c)
        uow.commit("customer.create")
    with pytest.raises(Conflict, match="already exists"), UnitOfWork(engine, actor()) as uow:
        uow.add(Customer.model_validate(c.snapshot()), recreate=True)
        uow.commit("customer.recreate")


def test_number_freed_by_a_removal_can_be_taken_in_the_same_unit(
    engine: Engine, actor: MakeActor
) -> None:
    from adapter.domain.model import Account

    c = f.customer()
    old = f.account(c, number="ACC-1")
    with UnitOfWork(engine, actor()) as uow:
        uow.add_all([c, old])
        uow.commit("setup")
    with UnitOfWork(engine, actor()) as uow:
        uow.remove(uow.get(Account, old.id))
        uow.add(f.account(c, number="ACC-1"))
        change = uow.commit("account.replace")
    assert sorted(op for *_, op in change.versions) == ["create", "delete"]


def test_child_account_added_before_its_new_parent_is_written_after_it(
    engine: Engine, actor: MakeActor
) -> None:
    c = f.customer()
    parent = f.account(c)
    child = f.account(c, parent_id=parent.id)
    with UnitOfWork(engine, actor()) as uow:
        uow.add_all([c, child, parent])
        change = uow.commit("accounts.create")
    assert len(change.versions) == 3


def test_plain_add_of_a_deleted_id_points_to_restore(engine: Engine, actor: MakeActor) -> None:
    c = f.customer()
    with UnitOfWork(engine, actor()) as uow:
        uow.add(c)
        uow.commit("customer.create")
    with UnitOfWork(engine, actor()) as uow:
        uow.remove(uow.get(Customer, c.id))
        uow.commit("customer.delete")
    with (
        pytest.raises(Conflict, match="comes back through restore"),
        UnitOfWork(engine, actor()) as uow,
    ):
        uow.add(Customer.model_validate(c.snapshot()))
        uow.commit("customer.create")


def test_key_violation_in_a_bulk_unit_is_a_clear_conflict(engine: Engine, actor: MakeActor) -> None:
    """600 new rows go through COPY on PostgreSQL; a taken id among them is still reported
    as a conflict, and nothing of the unit is written."""
    c = f.customer()
    first = f.account(c)
    with UnitOfWork(engine, actor()) as uow:
        uow.add_all([c, first])
        uow.commit("setup")
    many = [f.account(c) for _ in range(599)] + [f.account(c, id=first.id)]
    with (
        pytest.raises(Conflict, match="has the id of one that exists"),
        UnitOfWork(engine, actor()) as uow,
    ):
        uow.add_all(many)
        uow.commit("accounts.create")
    from adapter.domain.model import Account

    with UnitOfWork(engine, actor()) as uow:
        assert len(uow.find_by(Account, customer_id=c.id)) == 1


def count_changes(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.change)).scalar_one())


def test_a_staged_write_runs_in_the_commit_and_sees_the_change(
    engine: Engine, actor: MakeActor
) -> None:
    seen: list[tuple[int, str, int]] = []
    with UnitOfWork(engine, actor("agent.stage")) as uow:
        uow.add(f.customer())
        uow.stage(
            lambda conn, change: seen.append(
                (
                    change.id,
                    change.request_id,
                    int(conn.execute(select(func.count()).select_from(t.change)).scalar_one()),
                )
            )
        )
        committed = uow.commit("customer.create")
    assert seen == [(committed.id, committed.request_id, committed.id)]


def test_a_failing_staged_write_leaves_nothing_written(engine: Engine, actor: MakeActor) -> None:
    def broken(_conn: object, _change: object) -> None:
        raise RuntimeError("outbox full")

    before = count_changes(engine)
    with UnitOfWork(engine, actor("agent.stage")) as uow, pytest.raises(RuntimeError):
        uow.add(f.customer())
        uow.stage(broken)
        uow.commit("customer.create")
    assert count_changes(engine) == before
