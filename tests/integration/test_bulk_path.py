"""The unit of work's trusted bulk path (``adapter.store.bulk``): the same stored result as the
normal path, and the same refusals."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from adapter.domain import Actor, Entity
from adapter.domain.attributes import AttributeDefinition, AttributeValue
from adapter.domain.errors import Conflict, ValidationFailed
from adapter.domain.model import Account, Contract, Customer, Individual
from adapter.seed import seed
from adapter.store import tables as t
from adapter.store.audit import verify
from adapter.store.bulk import copy_fields, copy_value, prepare
from adapter.store.database import make_engine, upgrade
from adapter.store.reading import read_connection
from adapter.store.uow import UnitOfWork
from tests.conftest import reset_postgres

DAY = date(2026, 11, 15)
NOON = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return NOON


def everything(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table, as sorted canonical text (JSON compared as values)."""
    with engine.connect() as conn:
        return {
            table.name: sorted(
                json.dumps(dict(row._mapping), sort_keys=True, default=str)
                for row in conn.execute(select(table))
            )
            for table in t.metadata.sorted_tables
        }


def fresh_store(engine: Engine, tmp_path: Path) -> Engine:
    """An empty store of the same kind as ``engine``."""
    if engine.dialect.name == "postgresql":
        reset_postgres(engine)
        return engine
    other = make_engine(f"sqlite:///{tmp_path}/other.sqlite3")
    upgrade(other)
    return other


def test_bulk_path_stores_exactly_what_the_normal_path_stores(
    engine: Engine, tmp_path: Path
) -> None:
    """Current rows, search keys, versions with snapshots and diffs, usage lines, change rows
    and their hashes, chain head: all identical for the same seed and clock."""
    seed(engine, 45, 4, as_of=DAY, batch=20, bulk=False, parallel=False, clock=fixed_clock)
    normal = everything(engine)
    other = fresh_store(engine, tmp_path)
    seed(other, 45, 4, as_of=DAY, batch=20, bulk=True, parallel=False, clock=fixed_clock)
    bulk = everything(other)
    assert normal["entity_version"] and normal["usage_record"] and normal["customer_address"]
    assert bulk == normal
    with read_connection(other) as conn:
        assert verify(conn).ok


def actor(request_id: str) -> Actor:
    return Actor(originating_user="loader", principal="test", channel="test", request_id=request_id)


def person(number: str) -> Customer:
    return Customer(
        customer_number=number,
        party=Individual(given_name="Ada", family_name="Tab\tBack\\slash"),
    )


def commit_prepared(engine: Engine, request_id: str, *entities: Entity) -> None:
    with UnitOfWork(engine, actor(request_id)) as uow:
        uow.add_prepared(prepare(entities))
        uow.commit("test.bulk")


def test_prepared_text_with_tabs_and_backslashes_is_stored_as_given(engine: Engine) -> None:
    customer = person("C1")
    commit_prepared(engine, "r1", customer)
    with engine.connect() as conn:
        row = conn.execute(select(t.customer.c.data, t.customer.c.name_key)).one()
    assert row.data == customer.snapshot()
    assert "\t" in row.data["party"]["family_name"] and "\\" in row.data["party"]["family_name"]


def test_a_customer_number_already_stored_is_refused_on_the_bulk_path(engine: Engine) -> None:
    commit_prepared(engine, "r1", person("C1"))
    with pytest.raises(ValidationFailed, match="customer number 'C1' is already used"):
        commit_prepared(engine, "r2", person("C1"))


def test_an_id_already_stored_is_a_conflict_on_the_bulk_path(engine: Engine) -> None:
    customer = person("C1")
    commit_prepared(engine, "r1", customer)
    again = customer.model_copy(update={"customer_number": "C2"})
    with pytest.raises(Conflict):
        commit_prepared(engine, "r2", again)


def test_a_contract_of_a_missing_account_is_refused_on_the_bulk_path(engine: Engine) -> None:
    customer = person("C1")
    lost = Contract(
        customer_id=customer.id, account_id="no-such-account", number="K1", rate_plan="RP_S"
    )
    with pytest.raises(ValidationFailed, match="no account 'no-such-account'"):
        commit_prepared(engine, "r1", customer, lost)
    with engine.connect() as conn:
        assert conn.execute(select(t.change.c.id)).first() is None


def test_a_missing_required_attribute_is_refused_on_the_bulk_path(engine: Engine) -> None:
    required = AttributeDefinition(
        name="vip", label="VIP", type="string", entity_kind="customer", required=True
    )
    commit_prepared(engine, "r1", required)
    with pytest.raises(ValidationFailed, match="needs the required attribute vip"):
        commit_prepared(engine, "r2", person("C1"))
    customer = person("C2")
    value = AttributeValue(
        name="vip", entity_kind="customer", entity_id=customer.id, value="yes",
        customer_id=customer.id,
    )  # fmt: skip
    commit_prepared(engine, "r3", customer, value)


def test_a_unit_with_prepared_entities_takes_no_other(engine: Engine) -> None:
    with UnitOfWork(engine, actor("r1")) as uow:
        uow.add_prepared(prepare([person("C1")]))
        with pytest.raises(Conflict, match="takes no other entity"):
            uow.add(person("C2"))


def test_the_copy_text_form_escapes_what_copy_reads_as_control() -> None:
    assert copy_value("a\tb\\c\nd\re") == b"a\\tb\\\\c\\nd\\re"
    assert copy_value(None) == b"\\N" and copy_value(True) == b"t" and copy_value(3) == b"3"
    assert copy_fields(["a\tb", None, False, date(2026, 1, 2)]) == b"a\\tb\t\\N\tf\t2026-01-02"
    with pytest.raises(ValueError, match="naive"):
        copy_value(datetime(2026, 1, 1))


def test_an_account_of_a_missing_customer_is_refused_on_the_bulk_path(engine: Engine) -> None:
    """A reference only a foreign key guards (an account has no owner to check): refused as
    on the normal path, also where the bulk path writes with the key's triggers off."""
    lost = Account(customer_id="no-such-customer", name="Lost", number="A1")
    with pytest.raises(Conflict, match="contradicts stored data"):
        commit_prepared(engine, "r1", lost)
    with engine.connect() as conn:
        assert conn.execute(select(t.account.c.id)).first() is None


def test_the_bulk_path_skips_key_triggers_only_when_no_other_trigger_would_be_skipped(
    pg_engine: Engine,
) -> None:
    """As a superuser, a load may write with the foreign keys' triggers off: the name-word
    triggers of revision 0009 are enabled ALWAYS and run all the same, so they do not stop it;
    any other trigger on a loaded table does."""
    with UnitOfWork(pg_engine, actor("r1")) as uow:
        assert uow._may_skip_foreign_key_triggers()
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION nothing() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL;"
            " END $$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER audit_elsewhere AFTER INSERT ON account FOR EACH ROW"
            " EXECUTE FUNCTION nothing()"
        )
    with UnitOfWork(pg_engine, actor("r2")) as uow:
        assert not uow._may_skip_foreign_key_triggers()


def test_a_bulk_load_with_key_triggers_off_still_lists_the_name_words(pg_engine: Engine) -> None:
    """Customers written by ``COPY`` in replica mode get their words (triggers ALWAYS)."""
    commit_prepared(pg_engine, "r1", person("C1"))
    with pg_engine.connect() as conn:
        words = (
            conn.exec_driver_sql("SELECT word FROM customer_name_word ORDER BY word")
            .scalars()
            .all()
        )
    assert words == ["ada", "back", "slash", "tab"]


def test_a_contract_whose_customer_is_not_its_accounts_is_refused_on_the_bulk_path(
    engine: Engine,
) -> None:
    """The owner's scope must agree with the entity's: a contract of C1's account that says it
    belongs to C2 names the field and both values, and nothing is written."""
    first, second = person("C1"), person("C2")
    account = Account(customer_id=first.id, number="A1", name="main", payment_responsible=True)
    stray = Contract(customer_id=second.id, account_id=account.id, number="K1", rate_plan="RP_S")
    with pytest.raises(ValidationFailed) as caught:
        commit_prepared(engine, "r1", first, second, account, stray)
    (violation,) = caught.value.violations
    assert (violation.field, violation.rule) == ("customer_id", "consistent")
    assert second.id in violation.message and first.id in violation.message
    with engine.connect() as conn:
        assert conn.execute(select(t.change.c.id)).first() is None
