"""The synthetic telco base: reproducible, realistic, audited."""

from __future__ import annotations

import json
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


def test_same_seed_makes_the_same_customers_in_any_process() -> None:
    """String hashing differs between processes; the data must not (Faker builds some word
    lists from sets)."""
    import os
    import subprocess
    import sys

    script = (
        "import hashlib, json; from datetime import date; from adapter.seed import iter_customers;"
        "print(hashlib.sha256(json.dumps([c.snapshot() for c in "
        "iter_customers(5, 200, date(2026, 11, 15))], sort_keys=True).encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in (1, 2)
    }
    assert len(digests) == 1


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


def current_rows(engine: Engine) -> dict[str, list[str]]:
    with engine.connect() as conn:
        return {
            table.name: sorted(
                json.dumps(data, sort_keys=True)
                for data in conn.execute(select(table.c.data)).scalars()
            )
            for table in (t.customer, t.account, t.subscriber, t.usage_record)
        }


def test_batches_made_by_a_second_process_hold_the_same_data(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from adapter.store.database import make_engine, upgrade

    other = make_engine(f"sqlite:///{tmp_path_factory.mktemp('inline')}/crm.db")
    upgrade(other)
    seed(engine, 30, 9, as_of=DAY, batch=7, parallel=True)
    seed(other, 30, 9, as_of=DAY, batch=7, parallel=False)
    assert current_rows(engine) == current_rows(other)
    with read_connection(engine) as conn:
        assert verify(conn).ok


def test_same_seed_and_clock_make_the_same_chain(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Everything of a seed is reproducible, the ids of its attribute definitions included, so
    two stores seeded alike end on the same audit head."""
    from datetime import UTC, datetime

    from adapter.store.audit import read_head
    from adapter.store.database import make_engine, upgrade

    other = make_engine(f"sqlite:///{tmp_path_factory.mktemp('again')}/crm.db")
    upgrade(other)
    noon = datetime(2026, 11, 15, 12, tzinfo=UTC)
    heads = []
    for store in (engine, other):
        seed(store, 25, 8, as_of=DAY, batch=10, clock=lambda: noon)
        with store.connect() as conn:
            heads.append(read_head(conn))
    assert heads[0] == heads[1] and heads[0][0] == 1 + 3


def test_a_finished_seed_leaves_the_search_indexes_ready(pg_engine: Engine) -> None:
    """On PostgreSQL the seed ends with the trigram indexes' pending lists merged (nothing left
    for a search to read through) and ``customer_name_word`` and ``customer`` vacuumed
    (revisions 0009, 0010): every page all-visible, so a fuzzy search counts its entries and
    reads its page's items without visiting the tables. The vocabulary's own trigram index
    keeps no pending list at all."""
    seed(pg_engine, 60, 5, as_of=DAY, batch=30)
    with pg_engine.connect() as conn:
        pages, visible = conn.exec_driver_sql(
            "SELECT sum(relpages), sum(relallvisible) FROM pg_class"
            " WHERE relname IN ('customer_name_word', 'customer')"
        ).one()
        left = [
            conn.exec_driver_sql(f"SELECT gin_clean_pending_list('{index}')").scalar_one()
            for index in ("ix_customer_name_key_trgm", "ix_customer_address_line_key_trgm")
        ]
        options = conn.exec_driver_sql(
            "SELECT reloptions FROM pg_class WHERE relname = 'ix_name_word_trgm'"
        ).scalar_one()
    assert pages > 0 and visible == pages
    assert left == [0, 0]
    assert options == ["fastupdate=off"]
