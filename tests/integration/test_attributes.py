"""Custom attributes defined at run time, with values validated and versioned."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, inspect

from adapter.domain import Actor
from adapter.domain.attributes import AttributeValue
from adapter.domain.errors import ValidationFailed
from adapter.queries import history
from adapter.queries.customers import attribute_definitions
from adapter.service import attributes as svc
from adapter.store.database import make_engine
from adapter.store.reading import read_connection
from adapter.store.uow import UnitOfWork
from tests import factories as f
from tests.integration.conftest import Tree

MakeActor = Callable[..., Actor]


def define(engine: Engine, actor: MakeActor, **data: object) -> None:
    with UnitOfWork(engine, actor("admin")) as uow:
        svc.define_attribute(uow, {"label": "L", "entity_kind": "customer", **data})
        uow.commit("attributes.define")


def set_value(
    engine: Engine, actor: MakeActor, kind: str, entity_id: str, name: str, raw: object
) -> None:
    with UnitOfWork(engine, actor()) as uow:
        svc.set_attribute(uow, kind, entity_id, name, raw)
        uow.commit("attributes.set")


def value_of(engine: Engine, kind: str, entity_id: str, name: str) -> object:
    with UnitOfWork(engine, Actor("r", "r", "r", "read")) as uow:
        found = uow.find_by(AttributeValue, entity_kind=kind, entity_id=entity_id, name=name)
    return found[0].value if found else None


def test_defined_attribute_can_be_set_and_read(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    define(engine, actor, name="credit_score", type="integer")
    set_value(engine, actor, "customer", tree.customer.id, "credit_score", "712")
    assert value_of(engine, "customer", tree.customer.id, "credit_score") == 712


def test_defining_needs_no_migration_and_no_restart(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    """An engine opened before the definition existed sets the new attribute at once, and the
    schema has the same tables before and after."""
    already_running = make_engine(engine.url.render_as_string(hide_password=False))
    tables_before = set(inspect(engine).get_table_names())
    define(engine, actor, name="churn_risk", type="enum", enum_values=["low", "high"])
    set_value(already_running, actor, "customer", tree.customer.id, "churn_risk", "high")
    assert value_of(engine, "customer", tree.customer.id, "churn_risk") == "high"
    assert set(inspect(engine).get_table_names()) == tables_before
    already_running.dispose()


def test_unknown_attribute_is_refused(engine: Engine, actor: MakeActor, tree: Tree) -> None:
    with pytest.raises(ValidationFailed) as caught:
        set_value(engine, actor, "customer", tree.customer.id, "nope", "x")
    assert caught.value.violations[0].rule == "defined"


def test_value_of_the_wrong_type_is_refused_and_nothing_written(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    define(engine, actor, name="seats", type="integer")
    with pytest.raises(ValidationFailed) as caught:
        set_value(engine, actor, "customer", tree.customer.id, "seats", "many")
    (violation,) = caught.value.violations
    assert (violation.field, violation.rule) == ("attributes.seats", "type:integer")
    assert value_of(engine, "customer", tree.customer.id, "seats") is None


def test_attribute_of_another_entity_kind_is_refused(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    define(engine, actor, name="vip", type="boolean")
    with pytest.raises(ValidationFailed, match="belongs to customers"):
        set_value(engine, actor, "subscriber", tree.subscriber.id, "vip", "yes")


def test_pattern_is_enforced(engine: Engine, actor: MakeActor, tree: Tree) -> None:
    define(engine, actor, name="sap_id", type="string", pattern=r"SAP-\d{6}")
    with pytest.raises(ValidationFailed, match="pattern"):
        set_value(engine, actor, "customer", tree.customer.id, "sap_id", "SAP-12")


def test_retired_attribute_refuses_new_values_and_reinstated_accepts(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    define(engine, actor, name="legacy_flag", type="boolean")
    set_value(engine, actor, "customer", tree.customer.id, "legacy_flag", "true")
    with UnitOfWork(engine, actor()) as uow:
        svc.retire_attribute(uow, "legacy_flag")
        uow.commit("attributes.retire")
    with pytest.raises(ValidationFailed, match="retired"):
        set_value(engine, actor, "customer", tree.customer.id, "legacy_flag", "false")
    assert value_of(engine, "customer", tree.customer.id, "legacy_flag") is True
    with UnitOfWork(engine, actor()) as uow:
        svc.reinstate_attribute(uow, "legacy_flag")
        uow.commit("attributes.reinstate")
    set_value(engine, actor, "customer", tree.customer.id, "legacy_flag", "false")
    assert value_of(engine, "customer", tree.customer.id, "legacy_flag") is False


def test_retired_definitions_are_listed_only_on_request(engine: Engine, actor: MakeActor) -> None:
    define(engine, actor, name="old_one", type="string")
    with UnitOfWork(engine, actor()) as uow:
        svc.retire_attribute(uow, "old_one")
        uow.commit("attributes.retire")
    with read_connection(engine) as conn:
        assert attribute_definitions(conn) == []
        assert [d["name"] for d in attribute_definitions(conn, include_retired=True)] == ["old_one"]


def test_duplicate_definition_is_refused(engine: Engine, actor: MakeActor) -> None:
    define(engine, actor, name="twice", type="string")
    with pytest.raises(ValidationFailed, match="attribute name 'twice' is already used"):
        define(engine, actor, name="twice", type="string")


def test_values_are_versioned_in_the_subscriber_timeline(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    define(engine, actor, name="device", type="string", entity_kind="subscriber")
    set_value(engine, actor, "subscriber", tree.subscriber.id, "device", "A")
    set_value(engine, actor, "subscriber", tree.subscriber.id, "device", "B")
    with read_connection(engine) as conn:
        entries = [
            e
            for e in history.timeline(conn, "subscriber", tree.subscriber.id)
            if e.entity_type == "attribute_value"
        ]
    assert [e.version for e in entries] == [1, 2]
    assert entries[1].diff == {"value": {"old": "A", "new": "B"}}


def test_required_attribute_must_come_with_a_new_entity(engine: Engine, actor: MakeActor) -> None:
    define(engine, actor, name="segment_code", type="string", required=True)
    with (
        pytest.raises(ValidationFailed, match="needs the required attribute segment_code"),
        UnitOfWork(engine, actor()) as uow,
    ):
        uow.add(f.customer())
        uow.commit("customer.create")
    with UnitOfWork(engine, actor()) as uow:
        c = f.customer()
        uow.add(c)
        svc.set_attribute(uow, "customer", c.id, "segment_code", "RES")
        uow.commit("customer.create")
    assert value_of(engine, "customer", c.id, "segment_code") == "RES"


def test_required_value_cannot_be_cleared(engine: Engine, actor: MakeActor, tree: Tree) -> None:
    define(engine, actor, name="must", type="string")
    set_value(engine, actor, "customer", tree.customer.id, "must", "x")
    with UnitOfWork(engine, actor()) as uow:
        definition = uow.find_by(svc.AttributeDefinition, name="must")[0]
        definition.required = True
        uow.commit("attributes.change")
    with pytest.raises(ValidationFailed, match="required"):
        set_value(engine, actor, "customer", tree.customer.id, "must", None)
