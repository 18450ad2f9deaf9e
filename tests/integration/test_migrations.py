"""Alembic migrations produce exactly the schema the code declares, and go back down."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from adapter.store import tables as t
from adapter.store.database import current_revision, upgrade


def test_migrated_schema_matches_the_declared_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, t.metadata)
    assert differences == []


def test_store_is_at_the_head_revision(engine: Engine) -> None:
    assert current_revision(engine) == "0001"


def test_every_search_key_has_an_index(engine: Engine) -> None:
    """Name, birth date, address line/postcode/city, e-mail, TIN and personal id, MSISDN,
    IMSI, ICCID, contract number and customer number are all indexed."""
    inspector = inspect(engine)

    def indexed(table: str) -> set[str]:
        columns = {c for ix in inspector.get_indexes(table) for c in ix["column_names"][:1]}
        columns |= {
            c for uq in inspector.get_unique_constraints(table) for c in uq["column_names"][:1]
        }
        return columns

    assert {"name_key", "birth_date", "customer_number"} <= indexed("customer")
    assert {"line_key", "postcode_key", "city_key"} <= indexed("customer_address")
    assert "value_key" in indexed("customer_contact")
    assert "value_key" in indexed("customer_identification")
    assert {"msisdn", "imsi", "iccid"} <= indexed("subscriber")
    assert "number" in indexed("contract")


def test_upgrade_is_idempotent(engine: Engine) -> None:
    upgrade(engine)
    assert current_revision(engine) == "0001"


def test_downgrade_removes_everything_and_upgrade_restores_it(sqlite_engine: Engine) -> None:
    from alembic import command

    from adapter.store.database import alembic_config

    command.downgrade(alembic_config(sqlite_engine), "base")
    assert set(inspect(sqlite_engine).get_table_names()) <= {"alembic_version"}
    upgrade(sqlite_engine)
    assert {"customer", "change", "entity_version"} <= set(inspect(sqlite_engine).get_table_names())
