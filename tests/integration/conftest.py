"""A small customer tree most history tests start from."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
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
from adapter.settings import Settings
from adapter.store.uow import UnitOfWork
from adapter.testing.billing_sim import RunningSimulator, SimConfig, run_in_thread
from tests import factories as f
from workers.app import WorkerApp, create_app


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


# ------------------------------------------------------------------ billing simulator

SIM_USER, SIM_PASSWORD = "crm-adapter", "sim-test-secret"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    """A billing simulator over real HTTP for the tests of one module."""
    config = SimConfig(data_dir=tmp_path_factory.mktemp("sim"), users={SIM_USER: SIM_PASSWORD})
    with run_in_thread(config) as running:
        yield running


@pytest.fixture
def admin(sim: RunningSimulator) -> Iterator[httpx.Client]:
    """The simulator's admin API; state and fault plan wiped before and after each test."""
    with httpx.Client(base_url=sim.admin_url, timeout=10) as client:
        client.post("/reset").raise_for_status()
        client.delete("/faults").raise_for_status()
        yield client
        client.delete("/faults").raise_for_status()


# ------------------------------------------------------------------ Celery clients


@pytest.fixture
def client() -> Iterator[Callable[[dict[str, str]], WorkerApp]]:
    """Makes apps in this process configured as the workers of ENV are (to send tasks and
    read their states); their connections are closed after the test."""
    apps: list[WorkerApp] = []

    def make(env: dict[str, str]) -> WorkerApp:
        fields = {
            name: env[f"CRM_{name.upper()}"]
            for name in Settings.model_fields
            if f"CRM_{name.upper()}" in env
        }
        apps.append(create_app(Settings(**fields)))
        return apps[-1]

    yield make
    for app in apps:
        app.close()
