"""Restore of a whole entity or one field, always as a new audited change."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, func, select

from adapter.domain import Actor
from adapter.domain.errors import Conflict, ValidationFailed
from adapter.domain.model import Customer, Individual
from adapter.queries import history
from adapter.service.restore import restore
from adapter.store import tables as t
from adapter.store.reading import read_connection
from adapter.store.uow import UnitOfWork
from tests.integration.conftest import Tree

MakeActor = Callable[..., Actor]


def rename(engine: Engine, actor: MakeActor, customer_id: str, family: str, segment: str) -> None:
    with UnitOfWork(engine, actor()) as uow:
        c = uow.get(Customer, customer_id)
        assert isinstance(c.party, Individual)
        c.party = c.party.model_copy(update={"family_name": family})
        c.segment = segment
        uow.commit("customer.update")


def current(engine: Engine, customer_id: str) -> dict[str, object]:
    with UnitOfWork(engine, Actor("r", "r", "r", "read")) as uow:
        return uow.get(Customer, customer_id).snapshot()


def test_restore_whole_entity_brings_back_old_values_as_a_new_version(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    rename(engine, actor, tree.customer.id, "Schmidt", "business")
    who = actor("supervisor.kim")
    with UnitOfWork(engine, who) as uow:
        restore(uow, "customer", tree.customer.id, 1)
        change = uow.commit("restore")
    assert current(engine, tree.customer.id) == tree.customer.snapshot()
    assert change.versions == (("customer", tree.customer.id, 3, "update"),)
    with read_connection(engine) as conn:
        last = history.timeline(conn, "customer", tree.customer.id)[-1]
    assert last.originating_user == "supervisor.kim" and last.operation == "restore"


def test_restore_one_field_keeps_the_others(engine: Engine, actor: MakeActor, tree: Tree) -> None:
    rename(engine, actor, tree.customer.id, "Schmidt", "business")
    with UnitOfWork(engine, actor()) as uow:
        restore(uow, "customer", tree.customer.id, 1, field="party.family_name")
        uow.commit("restore")
    now = current(engine, tree.customer.id)
    assert now["party"]["family_name"] == tree.customer.party.family_name  # type: ignore[index]
    assert now["segment"] == "business"


def test_restore_does_not_rewrite_history(engine: Engine, actor: MakeActor, tree: Tree) -> None:
    rename(engine, actor, tree.customer.id, "Schmidt", "business")
    with engine.connect() as conn:
        before = (
            conn.execute(select(t.entity_version.c.snapshot).order_by(t.entity_version.c.id))
            .scalars()
            .all()
        )
    with UnitOfWork(engine, actor()) as uow:
        restore(uow, "customer", tree.customer.id, 1)
        uow.commit("restore")
    with engine.connect() as conn:
        after = (
            conn.execute(select(t.entity_version.c.snapshot).order_by(t.entity_version.c.id))
            .scalars()
            .all()
        )
    assert after[: len(before)] == before and len(after) == len(before) + 1


def test_restore_of_a_missing_version_names_it_and_writes_nothing(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    with pytest.raises(ValidationFailed) as caught, UnitOfWork(engine, actor()) as uow:
        restore(uow, "customer", tree.customer.id, 5)
        uow.commit("restore")
    (violation,) = caught.value.violations
    assert violation.field == "version" and "has no version 5" in violation.message
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.change)).scalar_one() == 1


def test_restore_of_an_unknown_field_is_refused(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    with (
        pytest.raises(ValidationFailed, match=r"no field 'party\.shoe_size'"),
        UnitOfWork(engine, actor()) as uow,
    ):
        restore(uow, "customer", tree.customer.id, 1, field="party.shoe_size")


def test_restore_brings_back_a_deleted_entity(engine: Engine, actor: MakeActor) -> None:
    from tests import factories as f

    lone = f.customer()
    with UnitOfWork(engine, actor()) as uow:
        uow.add(lone)
        uow.commit("customer.create")
    with UnitOfWork(engine, actor()) as uow:
        uow.remove(uow.get(Customer, lone.id))
        uow.commit("customer.delete")
    with UnitOfWork(engine, actor()) as uow:
        restore(uow, "customer", lone.id, 1)
        change = uow.commit("restore")
    assert change.versions == (("customer", lone.id, 3, "create"),)
    assert current(engine, lone.id) == lone.snapshot()


def test_removing_a_customer_that_still_has_accounts_is_refused(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    with (
        pytest.raises(Conflict, match="other records still refer to it"),
        UnitOfWork(engine, actor()) as uow,
    ):
        uow.remove(uow.get(Customer, tree.customer.id))
        uow.commit("customer.delete")


def test_restore_that_breaks_a_unique_key_is_refused(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    with UnitOfWork(engine, actor()) as uow:
        uow.get(Customer, tree.customer.id).customer_number = "NEW-1"
        uow.commit("customer.update")
    from tests import factories as f

    with UnitOfWork(engine, actor()) as uow:
        uow.add(f.customer(customer_number=tree.customer.customer_number))
        uow.commit("customer.create")
    with (
        pytest.raises(ValidationFailed, match="customer_number"),
        UnitOfWork(engine, actor()) as uow,
    ):
        restore(uow, "customer", tree.customer.id, 1)
        uow.commit("restore")


def test_restoring_a_deactivated_contract_to_active_is_refused(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    from datetime import UTC, datetime

    from adapter.domain.model import Contract, ContractStatus

    with UnitOfWork(engine, actor()) as uow:
        contract = uow.get(Contract, tree.contract.id)
        contract.change_status(ContractStatus.ACTIVE, datetime(2026, 1, 1, tzinfo=UTC))
        uow.commit("contract.activate")
    with UnitOfWork(engine, actor()) as uow:
        contract = uow.get(Contract, tree.contract.id)
        contract.change_status(ContractStatus.DEACTIVATED, datetime(2026, 2, 1, tzinfo=UTC))
        uow.commit("contract.deactivate")
    with (
        pytest.raises(Conflict, match="cannot go from deactivated to active"),
        UnitOfWork(engine, actor()) as uow,
    ):
        restore(uow, "contract", tree.contract.id, 2)


def test_restoring_a_contract_status_keeps_and_extends_its_history(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    from datetime import UTC, datetime

    from adapter.domain.model import Contract, ContractStatus

    for status in (ContractStatus.ACTIVE, ContractStatus.SUSPENDED):
        with UnitOfWork(engine, actor()) as uow:
            uow.get(Contract, tree.contract.id).change_status(
                status, datetime(2026, 1, 1, tzinfo=UTC)
            )
            uow.commit("contract.status")
    with UnitOfWork(engine, actor()) as uow:
        restore(uow, "contract", tree.contract.id, 2, field="status")
        uow.commit("restore")
    with UnitOfWork(engine, actor()) as uow:
        contract = uow.get(Contract, tree.contract.id)
    assert contract.status is ContractStatus.ACTIVE
    assert [c.status.value for c in contract.status_history] == ["active", "suspended", "active"]
    assert contract.status_history[-1].reason == "restored from version 2"


def test_restoring_a_contracts_status_history_is_refused(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    with (
        pytest.raises(ValidationFailed, match="cannot be restored; restore its status"),
        UnitOfWork(engine, actor()) as uow,
    ):
        restore(uow, "contract", tree.contract.id, 1, field="status_history")
