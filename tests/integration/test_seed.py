"""The synthetic telco base: reproducible, realistic, audited."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, func, select

from adapter.domain.errors import Conflict
from adapter.queries import hierarchy as h
from adapter.seed import iter_customers, seed
from adapter.store import tables as t
from adapter.store.audit import verify
from adapter.store.reading import read_connection

DAY = date(2026, 11, 15)


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    seed(engine, 120, 5, as_of=DAY, batch=40)
    return engine


def count(engine: Engine, table: t.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_same_seed_makes_the_same_customers() -> None:
    first = [c.snapshot() for c in iter_customers(5, 30, DAY)]
    again = [c.snapshot() for c in iter_customers(5, 30, DAY)]
    other = [c.snapshot() for c in iter_customers(6, 30, DAY)]
    assert first == again and first != other


def test_seeded_base_has_every_kind_of_record(seeded: Engine) -> None:
    for table in (
        t.customer,
        t.account,
        t.contract,
        t.subscriber,
        t.service_assignment,
        t.discount_assignment,
        t.balance,
        t.free_unit_bucket,
        t.usage_record,
        t.listing_suppression,
        t.attribute_value,
        t.customer_address,
        t.customer_identification,
        t.customer_contact,
    ):
        assert count(seeded, table) > 0, table.name
    assert count(seeded, t.customer) == 120


def test_seeded_base_has_individuals_organisations_and_every_address_role(
    seeded: Engine,
) -> None:
    with seeded.connect() as conn:
        kinds = set(conn.execute(select(t.customer.c.party_kind)).scalars())
        roles = set(conn.execute(select(t.customer_address.c.role)).scalars())
    assert kinds == {"individual", "organization"}
    assert roles == {"residence", "registration", "billing", "shipment", "contract"}


def test_seeded_base_has_a_hierarchy_deeper_than_fifty(seeded: Engine) -> None:
    with read_connection(seeded) as conn:
        leaves = conn.execute(select(t.account.c.id)).scalars().all()
        deepest = max(len(h.ancestors(conn, leaf)) for leaf in leaves)
    assert deepest > 50


def test_every_seeded_entity_is_versioned_and_the_chain_verifies(seeded: Engine) -> None:
    with read_connection(seeded) as conn:
        report = verify(conn)
    assert report.ok, report.problems
    assert report.versions == report.entities and report.usage_records > 0
    assert report.changes == 1 + 3  # the definitions, then one change per batch of 40


def test_loading_the_same_seed_twice_is_refused(seeded: Engine) -> None:
    with pytest.raises(Conflict, match="already loaded"):
        seed(seeded, 120, 5, as_of=DAY, batch=40)
    assert count(seeded, t.customer) == 120
