"""Rules across rows: owners exist and agree, the account hierarchy has no cycles, a replayed
request is recognised before anything else."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from adapter.domain import Actor
from adapter.domain.errors import ValidationFailed
from adapter.domain.model import Account, ServiceAssignment, Subscriber
from adapter.store.uow import DuplicateRequest, UnitOfWork
from tests import factories as f
from tests.integration.conftest import Tree

MakeActor = Callable[..., Actor]


def violation_of(caught: pytest.ExceptionInfo[ValidationFailed]) -> tuple[str, str]:
    (violation,) = caught.value.violations
    return violation.field, violation.rule


def test_subscriber_of_an_unknown_contract_is_refused(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    with pytest.raises(ValidationFailed) as caught, UnitOfWork(engine, actor()) as uow:
        uow.add(f.subscriber(tree.contract, contract_id="no-such-contract"))
        uow.commit("subscriber.create")
    assert violation_of(caught) == ("contract_id", "exists")


def test_subscriber_whose_account_is_not_its_contracts_is_refused(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    other = f.account(tree.customer)
    with UnitOfWork(engine, actor()) as uow:
        uow.add(other)
        uow.commit("account.create")
    with pytest.raises(ValidationFailed) as caught, UnitOfWork(engine, actor()) as uow:
        uow.add(f.subscriber(tree.contract, account_id=other.id))
        uow.commit("subscriber.create")
    assert violation_of(caught) == ("account_id", "consistent")


def test_owner_created_in_the_same_unit_is_recognised(engine: Engine, actor: MakeActor) -> None:
    c = f.customer()
    a = f.account(c)
    k = f.contract(a)
    s = f.subscriber(k)
    with UnitOfWork(engine, actor()) as uow:
        uow.add_all([c, a, k, s])
        change = uow.commit("customer.create")
    assert len(change.versions) == 4


def test_moving_a_subscriber_to_a_contract_of_another_account_needs_its_account_too(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    other_account = f.account(tree.customer)
    other_contract = f.contract(other_account)
    with UnitOfWork(engine, actor()) as uow:
        uow.add_all([other_account, other_contract])
        uow.commit("setup")
    with pytest.raises(ValidationFailed, match="account_id"), UnitOfWork(engine, actor()) as uow:
        uow.get(Subscriber, tree.subscriber.id).contract_id = other_contract.id
        uow.commit("subscriber.move")
    with UnitOfWork(engine, actor()) as uow:
        moved = uow.get(Subscriber, tree.subscriber.id)
        moved.contract_id = other_contract.id
        moved.account_id = other_account.id
        service = uow.get(ServiceAssignment, tree.service.id)
        service.contract_id = other_contract.id
        service.account_id = other_account.id
        change = uow.commit("subscriber.move")
    assert len(change.versions) == 2


def test_account_cannot_go_under_its_own_descendant(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    child = f.account(tree.customer, parent_id=tree.account.id)
    grandchild = f.account(tree.customer, parent_id=child.id)
    with UnitOfWork(engine, actor()) as uow:
        uow.add_all([child, grandchild])
        uow.commit("accounts.create")
    with pytest.raises(ValidationFailed) as caught, UnitOfWork(engine, actor()) as uow:
        uow.get(Account, tree.account.id).parent_id = grandchild.id
        uow.commit("account.move")
    assert violation_of(caught) == ("parent_id", "acyclic")
    with UnitOfWork(engine, actor()) as uow:
        assert uow.get(Account, tree.account.id).parent_id is None


def test_a_cycle_made_within_one_unit_is_refused(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    first = f.account(tree.customer)
    second = f.account(tree.customer, parent_id=first.id)
    with UnitOfWork(engine, actor()) as uow:
        uow.add_all([first, second])
        uow.commit("accounts.create")
    with pytest.raises(ValidationFailed, match="cycle"), UnitOfWork(engine, actor()) as uow:
        uow.get(Account, first.id).parent_id = second.id
        uow.commit("account.move")


def test_a_deep_chain_is_checked_without_recursion_limits(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    chain = [tree.account]
    for _ in range(300):
        chain.append(f.account(tree.customer, parent_id=chain[-1].id))
    with UnitOfWork(engine, actor()) as uow:
        uow.add_all(chain[1:])
        uow.commit("accounts.create")
    with pytest.raises(ValidationFailed, match="cycle"), UnitOfWork(engine, actor()) as uow:
        uow.get(Account, tree.account.id).parent_id = chain[-1].id
        uow.commit("account.move")


def test_replayed_create_is_a_duplicate_request_not_a_duplicate_number(
    engine: Engine, actor: MakeActor
) -> None:
    who = actor()
    with UnitOfWork(engine, who) as uow:
        uow.add(f.customer(customer_number="R-1"))
        uow.commit("customer.create")
    with pytest.raises(DuplicateRequest), UnitOfWork(engine, who) as uow:
        uow.add(f.customer(customer_number="R-1"))
        uow.commit("customer.create")


def test_moving_a_contract_without_its_subscribers_is_refused(
    engine: Engine, actor: MakeActor, tree: Tree
) -> None:
    from adapter.domain.model import Contract

    other = f.account(tree.customer)
    with UnitOfWork(engine, actor()) as uow:
        uow.add(other)
        uow.commit("account.create")
    with pytest.raises(ValidationFailed) as caught, UnitOfWork(engine, actor()) as uow:
        uow.get(Contract, tree.contract.id).account_id = other.id
        uow.commit("contract.move")
    assert {v.rule for v in caught.value.violations} == {"consistent"}
    assert "subscriber row(s)" in str(caught.value)
    with UnitOfWork(engine, actor()) as uow:
        uow.get(Contract, tree.contract.id).account_id = other.id
        for sub in uow.find_by(Subscriber, contract_id=tree.contract.id):
            sub.account_id = other.id
        for svc in uow.find_by(ServiceAssignment, contract_id=tree.contract.id):
            svc.account_id = other.id
        change = uow.commit("contract.move")
    assert len(change.versions) == 4
