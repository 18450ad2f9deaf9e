"""Timelines, versions, as-of reads and diffs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from adapter.domain import Actor
from adapter.domain.attributes import AttributeDefinition
from adapter.domain.errors import NotFound, ValidationFailed
from adapter.domain.model import (
    AssignmentLevel,
    Contract,
    ContractStatus,
    Customer,
    DiscountAssignment,
    ListingSuppression,
    ServiceAssignment,
    ServiceLimit,
    Subscriber,
    SuppressionScope,
)
from adapter.queries import history
from adapter.service.attributes import set_attribute
from adapter.store.reading import read_connection
from adapter.store.uow import UnitOfWork
from tests.integration.conftest import Tree

MakeActor = Callable[..., Actor]


class Clock:
    """A clock the test moves, so that as-of instants are exact."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(hours=1)
        return self.now


def touch_subscriber_world(engine: Engine, actor: MakeActor, tree: Tree) -> None:
    """One change each to the subscriber's contract, service, discounts, suppressions and
    attributes, and one to the other subscriber on the same contract."""
    with UnitOfWork(engine, actor("agent.a")) as uow:
        uow.get(Contract, tree.contract.id).change_status(
            ContractStatus.ACTIVE, datetime(2026, 1, 2, tzinfo=UTC)
        )
        uow.commit("contract.activate")
    with UnitOfWork(engine, actor("agent.b")) as uow:
        svc = uow.get(ServiceAssignment, tree.service.id)
        svc.limits = [ServiceLimit(name="data_cap", value=Decimal(50), unit="GB")]
        uow.commit("service.change")
    with UnitOfWork(engine, actor("agent.c")) as uow:
        uow.add(
            DiscountAssignment(
                customer_id=tree.customer.id,
                account_id=tree.account.id,
                contract_id=tree.contract.id,
                subscriber_id=tree.subscriber.id,
                code="D1",
                level=AssignmentLevel.SUBSCRIBER,
                value=Decimal(5),
            )
        )
        uow.add(
            ListingSuppression(
                scope_type=SuppressionScope.SUBSCRIBER,
                customer_id=tree.customer.id,
                account_id=tree.account.id,
                contract_id=tree.contract.id,
                subscriber_id=tree.subscriber.id,
                reason="VIP",
            )
        )
        uow.add(
            AttributeDefinition(
                name="device", label="Device", type="string", entity_kind="subscriber"
            )
        )
        uow.commit("products.assign")
    with UnitOfWork(engine, actor("agent.d")) as uow:
        set_attribute(uow, "subscriber", tree.subscriber.id, "device", "Pixel 9")
        uow.commit("attributes.set")
    with UnitOfWork(engine, actor("agent.e")) as uow:
        uow.get(Subscriber, tree.other_subscriber.id).status = "suspended"
        uow.commit("subscriber.suspend")


def test_subscriber_timeline_covers_its_contract_services_discounts_suppressions_attributes(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    touch_subscriber_world(engine, actor, tree)
    with read_connection(engine) as conn:
        entries = history.timeline(conn, "subscriber", tree.subscriber.id)
    kinds = {(e.entity_type, e.operation) for e in entries}
    assert {
        ("contract", "contract.activate"),
        ("service_assignment", "service.change"),
        ("discount_assignment", "products.assign"),
        ("listing_suppression", "products.assign"),
        ("attribute_value", "attributes.set"),
        ("subscriber", "setup"),
    } <= kinds


def test_subscriber_timeline_leaves_out_the_other_subscriber(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    touch_subscriber_world(engine, actor, tree)
    with read_connection(engine) as conn:
        entries = history.timeline(conn, "subscriber", tree.subscriber.id)
    assert tree.other_subscriber.id not in {e.entity_id for e in entries}
    assert "subscriber.suspend" not in {e.operation for e in entries}


def test_timeline_entry_says_who_when_which_request_and_what(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    who = actor("agent.z", channel="care")
    with UnitOfWork(engine, who) as uow:
        uow.get(Customer, tree.customer.id).segment = "vip"
        uow.commit("customer.update")
    with read_connection(engine) as conn:
        last = history.timeline(conn, "customer", tree.customer.id)[-1]
    assert (last.originating_user, last.principal, last.channel, last.request_id) == (
        "agent.z",
        "pytest",
        "care",
        who.request_id,
    )
    assert last.diff == {"segment": {"old": "residential", "new": "vip"}}
    assert last.at.tzinfo is not None


def test_customer_timeline_includes_everything_below_it(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    touch_subscriber_world(engine, actor, tree)
    with read_connection(engine) as conn:
        entries = history.timeline(conn, "customer", tree.customer.id)
    assert {e.entity_id for e in entries} >= {
        tree.customer.id,
        tree.account.id,
        tree.other_subscriber.id,
        tree.service.id,
    }


def test_account_timeline_is_ordered_by_change(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    touch_subscriber_world(engine, actor, tree)
    with read_connection(engine) as conn:
        entries = history.timeline(conn, "account", tree.account.id)
    ids = [e.change_id for e in entries]
    assert ids == sorted(ids) and len(set(ids)) == 6


def test_timeline_pages(engine: Engine, actor: MakeActor, tree: Tree) -> None:
    touch_subscriber_world(engine, actor, tree)
    with read_connection(engine) as conn:
        whole = history.timeline(conn, "customer", tree.customer.id)
        page = history.timeline(conn, "customer", tree.customer.id, limit=3, offset=2)
    assert [e.as_dict() for e in page] == [e.as_dict() for e in whole[2:5]]


def test_timeline_newest_first_starts_with_the_last_change(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    touch_subscriber_world(engine, actor, tree)
    with read_connection(engine) as conn:
        oldest_first = history.timeline(conn, "subscriber", tree.subscriber.id)
        newest_first = history.timeline(conn, "subscriber", tree.subscriber.id, newest_first=True)
    assert newest_first == oldest_first[::-1]


def test_timeline_of_unknown_subject_is_not_found(engine: Engine) -> None:
    with read_connection(engine) as conn, pytest.raises(NotFound):
        history.timeline(conn, "subscriber", "nope")


def test_timeline_refuses_a_kind_without_timelines(engine: Engine) -> None:
    with read_connection(engine) as conn, pytest.raises(ValidationFailed, match="subject"):
        history.timeline(conn, "balance", "x")


def test_as_of_returns_the_state_at_each_instant(engine: Engine, actor: MakeActor) -> None:
    from tests import factories as f

    clock = Clock()
    c = f.customer(segment="s1")
    with UnitOfWork(engine, actor(), clock=clock) as uow:
        uow.add(c)
        uow.commit("customer.create")
    created = clock.now
    with UnitOfWork(engine, actor(), clock=clock) as uow:
        uow.get(Customer, c.id).segment = "s2"
        uow.commit("customer.update")
    updated = clock.now
    with UnitOfWork(engine, actor(), clock=clock) as uow:
        uow.remove(uow.get(Customer, c.id))
        uow.commit("customer.delete")
    deleted = clock.now
    with read_connection(engine) as conn:
        before = history.as_of(conn, "customer", c.id, created - timedelta(seconds=1))
        first = history.as_of(conn, "customer", c.id, created + timedelta(minutes=30))
        second = history.as_of(conn, "customer", c.id, updated)
        gone = history.as_of(conn, "customer", c.id, deleted + timedelta(days=1))
    assert before is None and gone is None
    assert first is not None and first["segment"] == "s1"
    assert second is not None and second["segment"] == "s2"


def test_as_of_needs_a_timezone(engine: Engine, tree: Tree) -> None:
    with read_connection(engine) as conn, pytest.raises(ValidationFailed, match="timezone"):
        history.as_of(conn, "customer", tree.customer.id, datetime(2026, 1, 1))


def test_diff_between_two_versions(engine: Engine, actor: MakeActor, tree: Tree) -> None:
    for segment in ("a", "b"):
        with UnitOfWork(engine, actor()) as uow:
            uow.get(Customer, tree.customer.id).segment = segment
            uow.commit("customer.update")
    with read_connection(engine) as conn:
        changes = history.diff_versions(conn, "customer", tree.customer.id, 1, 3)
        listed = history.versions(conn, "customer", tree.customer.id)
    assert changes == {"segment": {"old": "residential", "new": "b"}}
    assert [v.version for v in listed] == [1, 2, 3]


def test_diff_with_a_missing_version_names_it(engine: Engine, tree: Tree) -> None:
    with read_connection(engine) as conn, pytest.raises(ValidationFailed, match="no version 9"):
        history.diff_versions(conn, "customer", tree.customer.id, 1, 9)


def test_a_creation_is_stored_without_a_diff_and_read_with_one(engine: Engine, tree: Tree) -> None:
    """The version row of a creation keeps only its snapshot; timelines and version details
    show the diff it implies (every field set, from nothing)."""
    from sqlalchemy import select

    from adapter.domain.history import diff
    from adapter.queries.timeline import version_detail
    from adapter.store import tables as t

    v = t.entity_version.c
    with read_connection(engine) as conn:
        stored = conn.execute(
            select(v.diff, v.snapshot).where(
                v.entity_type == "customer", v.entity_id == tree.customer.id, v.version == 1
            )
        ).one()
        created = [
            e
            for e in history.timeline(conn, "customer", tree.customer.id)
            if e.entity_type == "customer" and e.version == 1
        ]
        detail = version_detail(conn, "customer", tree.customer.id, 1)
    assert stored.diff == {}
    assert created[0].diff == diff(None, stored.snapshot) != {}
    assert detail["diff"] == created[0].diff
