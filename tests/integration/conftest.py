"""A small customer tree most history tests start from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from adapter.domain import Actor
from adapter.domain.model import (
    Account,
    Contract,
    Customer,
    ServiceAssignment,
    Subscriber,
)
from adapter.store.uow import UnitOfWork
from tests import factories as f


@dataclass
class Tree:
    customer: Customer
    account: Account
    contract: Contract
    subscriber: Subscriber
    other_subscriber: Subscriber
    service: ServiceAssignment


@pytest.fixture
def tree(engine: Engine, actor: Callable[..., Actor]) -> Tree:
    """One customer, account and contract with two subscribers; the first has a service."""
    c = f.customer()
    a = f.account(c)
    k = f.contract(a)
    s1 = f.subscriber(k)
    s2 = f.subscriber(k)
    svc = f.service(s1)
    with UnitOfWork(engine, actor("agent.setup")) as uow:
        uow.add_all([c, a, k, s1, s2, svc])
        uow.commit("setup")
    return Tree(c, a, k, s1, s2, svc)
