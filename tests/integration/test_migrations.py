"""Alembic migrations produce exactly the schema the code declares, and go back down."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from adapter.queries.search import DIALECT_ONLY_INDEXES, DIALECT_ONLY_TABLES
from adapter.store import tables as t
from adapter.store.database import current_revision, upgrade


def declared_in_metadata(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    """False for the search objects only one dialect has (migration 0002 creates them with SQL:
    PostgreSQL's trigram indexes, SQLite's FTS5 table and the shadow tables named after it)."""
    if type_ == "index":
        return name not in DIALECT_ONLY_INDEXES
    if type_ == "table" and name is not None:
        return not any(name == fts or name.startswith(f"{fts}_") for fts in DIALECT_ONLY_TABLES)
    return True


def test_migrated_schema_matches_the_declared_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": declared_in_metadata}
        )
        differences = compare_metadata(context, t.metadata)
    assert differences == []


def test_schema_comparison_skips_only_the_dialect_search_objects() -> None:
    """The filter above hides the trigram indexes and the FTS5 tables, not other objects."""
    assert not declared_in_metadata("ix_customer_name_key_trgm", "index", {})
    assert not declared_in_metadata("customer_name_fts", "table", {})
    assert not declared_in_metadata("customer_name_fts_data", "table", {})
    assert declared_in_metadata("ix_customer_name_key", "index", {})
    assert declared_in_metadata("customer", "table", {})
    assert declared_in_metadata("customer_name", "table", {})


def test_store_is_at_the_head_revision(engine: Engine) -> None:
    assert current_revision(engine) == "0010"


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
    assert current_revision(engine) == "0010"


def test_downgrade_removes_everything_and_upgrade_restores_it(sqlite_engine: Engine) -> None:
    from alembic import command

    from adapter.store.database import alembic_config

    command.downgrade(alembic_config(sqlite_engine), "base")
    assert set(inspect(sqlite_engine).get_table_names()) <= {"alembic_version"}
    upgrade(sqlite_engine)
    assert {"customer", "change", "entity_version"} <= set(inspect(sqlite_engine).get_table_names())
