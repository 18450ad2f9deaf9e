"""Pushing a stored customer to billing: the real gateway, the real ``mappings/`` and the
billing simulator over HTTP. What billing holds afterwards is read back through the gateway
and the inbound maps (CIL has no discount read: discounts are checked in the simulator's own
state file)."""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pybreaker
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from adapter.cli import main
from adapter.cli_billing_push import EXIT_FAULT, EXIT_UNREACHABLE
from adapter.domain import Actor, Entity
from adapter.domain.model import (
    Account,
    AssignmentLevel,
    ContactMedium,
    Contract,
    ContractStatusChange,
    Customer,
    DiscountAssignment,
    Organization,
    ServiceAssignment,
    ServiceLimit,
    Subscriber,
)
from adapter.legacy import Gateway
from adapter.legacy.push import PushFailed, PushReport, push_customer
from adapter.mapping import Mappings, load_mappings
from adapter.service import attributes as attribute_svc
from adapter.settings import Settings, get_settings
from adapter.store.uow import UnitOfWork
from adapter.testing.billing_sim import RunningSimulator
from tests import factories as f
from tests.integration.conftest import SIM_PASSWORD, SIM_USER

USER, PASSWORD = SIM_USER, SIM_PASSWORD
MakeActor = Callable[..., Actor]


@pytest.fixture
def gateway(sim: RunningSimulator, admin: httpx.Client) -> Gateway:
    settings = Settings(
        billing_url=sim.soap_url,
        billing_user=USER,
        billing_password=PASSWORD,
        billing_timeout=2.0,
        billing_retries=2,
        billing_backoff=0.01,
    )
    return Gateway(settings, breaker_storage=pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED))


@pytest.fixture(scope="module")
def mappings() -> Mappings:
    return load_mappings()


def store(engine: Engine, actor: MakeActor, *entities: Entity) -> None:
    with UnitOfWork(engine, actor("agent.setup")) as uow:
        uow.add_all(list(entities))
        uow.commit("setup")


def sim_rows(sim: RunningSimulator, sql: str) -> list[tuple[Any, ...]]:
    """Rows of the simulator's own state file (read only), for what CIL cannot read."""
    path = sim.config.data_dir / "billing-sim.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return list(conn.execute(sql))


def counts(sim: RunningSimulator) -> dict[str, int]:
    tables = ("customer", "contract", "contract_service", "discount_assignment")
    return {name: sim_rows(sim, f"SELECT count(*) FROM {name}")[0][0] for name in tables}


def plan_faults(admin: httpx.Client, document: dict[str, Any]) -> None:
    admin.put("/faults", json=document).raise_for_status()


def at(day: int) -> datetime:
    return datetime(2026, 10, day, 9, 0, tzinfo=UTC)


# ------------------------------------------------------------------------- an individual


@dataclass
class Person:
    customer: Customer
    account: Account
    contract: Contract
    subscriber: Subscriber
    services: list[ServiceAssignment]
    discount: DiscountAssignment


def a_person(engine: Engine, actor: MakeActor, contract_status: str = "active") -> Person:
    """A person with one contract, two services (data with a parameter and a limit), a
    contract discount and a loyalty tier (a custom attribute billing keeps as info field)."""
    customer = f.customer(
        contact_media=[
            ContactMedium(type="email", value="zofia@example.com"),
            ContactMedium(type="mobile", value="+48601000111"),
        ]
    )
    account = f.account(customer, bill_cycle="08", payment_method="direct_debit")
    history = [ContractStatusChange(status="active", at=at(1), reason="activated at sale")]
    if contract_status == "suspended":
        history.append(ContractStatusChange(status="suspended", at=at(9), reason="unpaid invoice"))
    contract = f.contract(account, rate_plan="RP_M", status=contract_status, status_history=history)
    subscriber = f.subscriber(contract)
    services = [
        f.service(
            subscriber,
            service_code="DATA",
            parameters={"apn": "internet"},
            limits=[ServiceLimit(name="data_cap", value=Decimal("20.5"), unit="GB")],
        ),
        f.service(subscriber, service_code="VOICE", limits=[]),
    ]
    discount = DiscountAssignment(
        customer_id=customer.id,
        account_id=account.id,
        contract_id=contract.id,
        code="LOYAL10",
        level=AssignmentLevel.CONTRACT,
        value=Decimal(10),
        valid_from=date(2026, 10, 1),
    )
    store(engine, actor, customer, account, contract, subscriber, *services, discount)
    with UnitOfWork(engine, actor("admin")) as uow:
        attribute_svc.define_attribute(
            uow,
            {
                "name": "loyalty_tier",
                "label": "Loyalty tier",
                "type": "enum",
                "enum_values": ["bronze", "silver", "gold"],
                "entity_kind": "customer",
            },
        )
        uow.commit("attributes.define")
    with UnitOfWork(engine, actor()) as uow:
        attribute_svc.set_attribute(uow, "customer", customer.id, "loyalty_tier", "gold")
        uow.commit("attributes.set")
    return Person(customer, account, contract, subscriber, services, discount)


@pytest.fixture
def pushed(
    engine: Engine, actor: MakeActor, gateway: Gateway, mappings: Mappings
) -> tuple[Person, PushReport]:
    person = a_person(engine, actor)
    return person, push_customer(engine, gateway, mappings, person.customer.customer_number)


def read(gateway: Gateway, mappings: Mappings, operation: str, context: dict[str, Any]) -> Any:
    return mappings.inbound(
        operation, gateway.call(operation, mappings.outbound(operation, context))
    )


def test_the_person_reads_back_from_billing_as_stored(
    pushed: tuple[Person, PushReport], gateway: Gateway, mappings: Mappings
) -> None:
    """Names, birth date, identifications, contact media, addresses, billing data and the
    custom attribute come back from CustomerRead equal to the stored ones."""
    person, _ = pushed
    back = read(gateway, mappings, "CustomerRead", {"account": person.account})
    customer = Customer.model_validate(
        {**back["customer"], "id": person.customer.id, "customer_number": "C-ANY"}
    )
    assert customer == person.customer.model_copy(update={"customer_number": "C-ANY"})
    assert back["account"]["bill_cycle"] == "08"
    assert back["account"]["payment_method"] == "direct_debit"
    assert back["attributes"] == {"loyalty_tier": "gold"}


def test_the_contract_reads_back_with_its_number_rate_plan_and_status(
    pushed: tuple[Person, PushReport], gateway: Gateway, mappings: Mappings
) -> None:
    person, _ = pushed
    back = read(gateway, mappings, "ContractRead", {"contract": person.contract})
    assert back["contract"]["rate_plan"] == "RP_M"
    assert back["contract"]["status"] == "active"
    assert back["account"]["number"] == person.account.number
    subscriber = back["subscriber"]
    assert (subscriber["msisdn"], subscriber["imsi"], subscriber["iccid"]) == (
        person.subscriber.msisdn,
        person.subscriber.imsi,
        person.subscriber.iccid,
    )


def test_the_services_read_back_with_parameters_and_limits(
    pushed: tuple[Person, PushReport], gateway: Gateway, mappings: Mappings
) -> None:
    person, report = pushed
    back = read(gateway, mappings, "ContractServicesRead", {"contract": person.contract})
    by_code = {s["service_code"]: s for s in back["services"]}
    for original in person.services:
        fields = {
            "id": original.id,
            "customer_id": original.customer_id,
            "account_id": original.account_id,
            "contract_id": original.contract_id,
            "subscriber_id": original.subscriber_id,
        }
        assert ServiceAssignment.model_validate({**by_code[original.service_code], **fields}) == (
            original
        )
    assert report.services == {
        person.services[0].id: {"sn_code": 104, "sn_code_pub": "DATA"},
        person.services[1].id: {"sn_code": 101, "sn_code_pub": "VOICE"},
    }


def test_the_discount_is_assigned_to_the_contract_once(
    pushed: tuple[Person, PushReport], sim: RunningSimulator
) -> None:
    person, report = pushed
    rows = sim_rows(
        sim,
        "SELECT d.assign_id, c.co_id_pub, d.kind, d.pd_code, d.value, d.value_type, d.valid_from "
        "FROM discount_assignment d JOIN contract c ON c.co_id = d.co_id",
    )
    assign_id = report.discounts[person.discount.id]["assign_id"]
    assert rows == [(assign_id, person.contract.number, "D", "LOYAL10", "10", "P", "2026-10-01")]


def test_the_report_gives_billings_ids_per_entity_and_the_calls_in_order(
    pushed: tuple[Person, PushReport],
) -> None:
    person, report = pushed
    assert report.accounts[person.account.id]["cs_id_pub"] == person.account.number
    assert report.contracts[person.contract.id]["co_id_pub"] == person.contract.number
    assert [c.operation for c in report.calls] == [
        "CustomerNew",
        "CustomerInfoWrite",
        "ContractNew",
        "DiscountAssign",
        "ContractServicesAdd",
    ]


# ----------------------------------------------------------------------- statuses, trees


def test_a_suspended_contract_reaches_s_through_a(
    engine: Engine, actor: MakeActor, gateway: Gateway, mappings: Mappings
) -> None:
    """BSCS creates a contract on hold or active only; the push then walks o → a → s, each
    change with the reason the CRM recorded."""
    person = a_person(engine, actor, contract_status="suspended")
    push_customer(engine, gateway, mappings, person.customer.id)
    history = gateway.call("ContractRead", {"coIdPub": person.contract.number})["statusHistory"]
    assert [(e["coStatus"], e["rsCode"]) for e in history["entry"]] == [
        ("o", None),
        ("a", "ACTIVATED_AT_SALE"),
        ("s", "UNPAID_INVOICE"),
    ]


def test_an_organisation_lands_with_its_parents_levels_and_payment_responsibility(
    engine: Engine, actor: MakeActor, gateway: Gateway, mappings: Mappings
) -> None:
    """Three levels: the group pays, its department does not (its parent pays for it), the
    department's cost centre pays for itself."""
    company = f.customer(
        party=Organization(name="Nordwind GmbH", legal_form="GmbH"),
        identifications=[],
        segment="corporate",
    )
    group = f.account(company, number="NW.1", name="Group")
    department = f.account(
        company, number="NW.2", name="Sales", parent_id=group.id, payment_responsible=False
    )
    centre = f.account(company, number="NW.3", name="Field", parent_id=department.id)
    store(engine, actor, company, centre, group, department)
    report = push_customer(engine, gateway, mappings, company.customer_number)
    nodes = {
        number: gateway.call("CustomerRead", {"csIdPub": number})
        for number in ("NW.1", "NW.2", "NW.3")
    }
    shape = {n: (r["parentCsIdPub"], r["csLevel"], r["paymentResp"]) for n, r in nodes.items()}
    assert shape == {
        "NW.1": (None, 1, True),
        "NW.2": ("NW.1", 2, False),
        "NW.3": ("NW.2", 3, True),
    }
    assert nodes["NW.3"]["parentCsId"] == report.accounts[department.id]["cs_id"]
    assert nodes["NW.2"]["customer"]["companyName"] == "Nordwind GmbH"


# ------------------------------------------------------------------ failures and re-runs


@dataclass
class Family:
    """A root node that pays and a child that does not, two contracts (one to deactivate)
    and a discount on each level."""

    customer: Customer
    accounts: list[Account]
    contracts: list[Contract]
    services: list[ServiceAssignment]
    discounts: list[DiscountAssignment]


def a_family(engine: Engine, actor: MakeActor) -> Family:
    customer = f.customer()
    root = f.account(customer)
    child = f.account(customer, parent_id=root.id, payment_responsible=False)
    live = f.contract(root, status="active")
    ended = f.contract(
        child,
        status="deactivated",
        status_history=[ContractStatusChange(status="deactivated", at=at(3), reason="moved")],
    )
    subscribers = [f.subscriber(live), f.subscriber(ended, status="deactivated")]
    services = [f.service(subscribers[0]), f.service(subscribers[1], service_code="SMS")]
    discounts = [
        DiscountAssignment(
            customer_id=customer.id,
            account_id=root.id,
            code="FAMILY",
            level=AssignmentLevel.ACCOUNT,
            value=Decimal(5),
        ),
        DiscountAssignment(
            customer_id=customer.id,
            account_id=root.id,
            contract_id=live.id,
            subscriber_id=subscribers[0].id,
            discount_kind="promotion",
            code="WELCOME_DATA",
            level=AssignmentLevel.SUBSCRIBER,
            value=Decimal("4.99"),
            value_type="amount",
            currency="EUR",
        ),
        DiscountAssignment(
            customer_id=customer.id,
            account_id=root.id,
            contract_id=live.id,
            code="STAFF",
            level=AssignmentLevel.CONTRACT,
            value=Decimal(50),
            status="removed",
        ),
    ]
    store(engine, actor, customer, root, child, live, ended, *subscribers, *services, *discounts)
    return Family(customer, [root, child], [live, ended], services, discounts)


FAMILY_IN_BILLING = {"customer": 2, "contract": 2, "contract_service": 2, "discount_assignment": 2}


def test_a_family_lands_whole_and_removed_discounts_stay_behind(
    engine: Engine, actor: MakeActor, gateway: Gateway, mappings: Mappings, sim: RunningSimulator
) -> None:
    family = a_family(engine, actor)
    report = push_customer(engine, gateway, mappings, family.customer.customer_number)
    assert counts(sim) == FAMILY_IN_BILLING
    assert [s.reason for s in report.skipped] == ["removed"]
    ended = gateway.call("ContractRead", {"coIdPub": family.contracts[1].number})
    assert [e["coStatus"] for e in ended["statusHistory"]["entry"]] == ["o", "d"]


@pytest.mark.parametrize(
    "operation", ["CustomerNew", "ContractNew", "ContractServicesAdd", "ContractWrite"]
)
def test_a_rerun_after_a_business_fault_completes_without_duplicates(
    operation: str,
    engine: Engine,
    actor: MakeActor,
    gateway: Gateway,
    mappings: Mappings,
    admin: httpx.Client,
    sim: RunningSimulator,
) -> None:
    """The first run stops at the refused call, naming the entity and the code; the second
    finds what the first created (CMS.RC6720, read back) and adds only what is missing."""
    family = a_family(engine, actor)
    fault = {"code": "CMS.RC6799", "message": "billing run in progress"}
    plan_faults(admin, {"rules": [{"operation": operation, "fault": fault, "times": 1}]})
    with pytest.raises(PushFailed) as failed:
        push_customer(engine, gateway, mappings, family.customer.customer_number)
    assert (failed.value.operation, failed.value.code) == (operation, "CMS.RC6799")
    assert failed.value.subject.label in str(failed.value)
    first = failed.value.report
    rerun = push_customer(engine, gateway, mappings, family.customer.customer_number)
    assert counts(sim) == FAMILY_IN_BILLING
    assert first.accounts.items() <= rerun.accounts.items()
    assert first.contracts.items() <= rerun.contracts.items()
    ended = gateway.call("ContractRead", {"coIdPub": family.contracts[1].number})
    assert ended["coStatus"] == "d"


def test_a_discount_refused_before_a_rerun_is_listed_to_check_and_nothing_doubles(
    engine: Engine,
    actor: MakeActor,
    gateway: Gateway,
    mappings: Mappings,
    admin: httpx.Client,
    sim: RunningSimulator,
) -> None:
    """The limit of a push without memory: CIL cannot read discounts, so the re-run cannot
    tell a refused assignment from a done one and names it for an operator instead of
    risking a second assignment."""
    family = a_family(engine, actor)
    fault = {"code": "CMS.RC6751", "message": "no such discount"}
    plan_faults(admin, {"rules": [{"operation": "DiscountAssign", "fault": fault, "times": 1}]})
    with pytest.raises(PushFailed) as failed:
        push_customer(engine, gateway, mappings, family.customer.customer_number)
    assert failed.value.subject.id == family.discounts[0].id
    rerun = push_customer(engine, gateway, mappings, family.customer.customer_number)
    assert counts(sim) == {**FAMILY_IN_BILLING, "discount_assignment": 1}
    assert [u.subject.id for u in rerun.unverified] == [family.discounts[0].id]


def test_a_discount_of_a_contract_already_in_billing_is_listed_to_check_not_sent_again(
    engine: Engine, actor: MakeActor, gateway: Gateway, mappings: Mappings, sim: RunningSimulator
) -> None:
    """CIL cannot read discounts: a re-run cannot know whether one was assigned, and sending
    it again could assign it twice."""
    family = a_family(engine, actor)
    push_customer(engine, gateway, mappings, family.customer.customer_number)
    again = push_customer(engine, gateway, mappings, family.customer.customer_number)
    assert counts(sim)["discount_assignment"] == 2
    assert {u.subject.id for u in again.unverified} == {d.id for d in family.discounts[:2]}
    assert not any(c.operation in ("DiscountAssign", "ContractServicesAdd") for c in again.calls)


def test_a_rerun_moves_a_node_whose_payment_responsibility_changed_since(
    engine: Engine, actor: MakeActor, gateway: Gateway, mappings: Mappings
) -> None:
    """A node already in billing is brought to the CRM's hierarchy with
    CustomerHierarchyWrite rather than left as the first push made it."""
    family = a_family(engine, actor)
    push_customer(engine, gateway, mappings, family.customer.customer_number)
    with UnitOfWork(engine, actor()) as uow:
        uow.get(Account, family.accounts[1].id).payment_responsible = True
        uow.commit("hierarchy.pays")
    again = push_customer(engine, gateway, mappings, family.customer.customer_number)
    assert [c.subject.id for c in again.calls if c.operation == "CustomerHierarchyWrite"] == [
        family.accounts[1].id
    ]
    child = gateway.call("CustomerRead", {"csIdPub": family.accounts[1].number})
    assert (child["parentCsIdPub"], child["paymentResp"]) == (family.accounts[0].number, True)


def test_a_transient_failure_is_retried_and_the_push_completes(
    engine: Engine,
    actor: MakeActor,
    gateway: Gateway,
    mappings: Mappings,
    admin: httpx.Client,
    sim: RunningSimulator,
) -> None:
    family = a_family(engine, actor)
    plan_faults(admin, {"rules": [{"kind": "http503", "operation": "ContractNew", "times": 1}]})
    report = push_customer(engine, gateway, mappings, family.customer.customer_number)
    assert admin.get("/faults").json()["injected"] == {"http503": 1}
    assert counts(sim) == FAMILY_IN_BILLING
    assert len(report.contracts) == 2


def test_billing_unreachable_stops_the_push_as_transient(
    engine: Engine, actor: MakeActor, mappings: Mappings
) -> None:
    family = a_family(engine, actor)
    settings = Settings(billing_url=f"http://127.0.0.1:{free_port()}/ws/cil", billing_retries=0)
    gateway = Gateway(
        settings, breaker_storage=pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
    )
    with pytest.raises(PushFailed) as failed:
        push_customer(engine, gateway, mappings, family.customer.customer_number)
    assert failed.value.transient and failed.value.code == "connection"
    assert failed.value.operation == "CustomerNew"


def test_a_contract_without_a_number_is_refused_before_any_call(
    engine: Engine, actor: MakeActor, gateway: Gateway, mappings: Mappings, sim: RunningSimulator
) -> None:
    customer = f.customer()
    account = f.account(customer)
    contract = f.contract(account)
    store(engine, actor, customer, account, contract)
    with pytest.raises(PushFailed) as failed:
        push_customer(engine, gateway, mappings, customer.id)
    assert failed.value.code == "ADAPTER.NO_NUMBER"
    assert contract.number in str(failed.value)
    assert counts(sim)["customer"] == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---------------------------------------------------------------------------------- CLI


@pytest.fixture
def cli(
    engine: Engine, sim: RunningSimulator, admin: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    monkeypatch.setenv("CRM_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CRM_BILLING_URL", sim.soap_url)
    monkeypatch.setenv("CRM_BILLING_USER", USER)
    monkeypatch.setenv("CRM_BILLING_PASSWORD", PASSWORD)
    monkeypatch.setenv("CRM_BILLING_BACKOFF", "0.01")
    monkeypatch.delenv("CRM_REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def run(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(main, list(args), catch_exceptions=False)


def test_cli_push_prints_each_call_and_billings_ids(
    cli: CliRunner, engine: Engine, actor: MakeActor
) -> None:
    person = a_person(engine, actor)
    result = run(cli, "billing", "push", person.subscriber.msisdn)  # found by its MSISDN
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["1", "CustomerNew", "account", person.account.number]
    assert "cs_id=100001" in lines[0]
    assert lines[-1].startswith(f"pushed customer {person.customer.customer_number}: 1 account")


def test_cli_push_json_gives_the_report(cli: CliRunner, engine: Engine, actor: MakeActor) -> None:
    person = a_person(engine, actor)
    result = run(cli, "billing", "push", person.customer.customer_number, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["legacy_ids"]["contracts"][person.contract.id]["co_id_pub"] == (
        person.contract.number
    )


def test_cli_push_exits_3_on_a_business_fault_naming_entity_and_code(
    cli: CliRunner, engine: Engine, actor: MakeActor, admin: httpx.Client
) -> None:
    person = a_person(engine, actor)
    plan_faults(
        admin, {"rules": [{"operation": "ContractServicesAdd", "fault": {"code": "CMS.RC6740"}}]}
    )
    result = cli.invoke(main, ["billing", "push", person.customer.id])
    assert result.exit_code == EXIT_FAULT == 3
    assert f"services of contract {person.contract.number}" in result.stderr
    assert "CMS.RC6740" in result.stderr
    assert "ContractNew" in result.stdout  # what was done before is listed


def test_cli_push_exits_4_when_billing_is_unreachable(
    cli: CliRunner, engine: Engine, actor: MakeActor, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = a_person(engine, actor)
    monkeypatch.setenv("CRM_BILLING_URL", f"http://127.0.0.1:{free_port()}/ws/cil")
    monkeypatch.setenv("CRM_BILLING_RETRIES", "1")
    get_settings.cache_clear()
    result = cli.invoke(main, ["billing", "push", person.customer.id])
    assert result.exit_code == EXIT_UNREACHABLE == 4
    assert "billing unreachable" in result.stderr


def test_cli_push_of_an_unknown_customer_is_bad_input(cli: CliRunner) -> None:
    result = cli.invoke(main, ["billing", "push", "NOBODY"])
    assert result.exit_code == 2
    assert "no customer 'NOBODY'" in result.stderr


def test_cli_call_sends_one_raw_operation_and_prints_the_answer(
    cli: CliRunner, tmp_path: Path
) -> None:
    request = tmp_path / "new.json"
    request.write_text(
        json.dumps(
            {
                "csIdPub": "OPS-1",
                "paymentResp": True,
                "customer": {"partyType": "O", "companyName": "Ops Test AG"},
                "addresses": {"address": []},
            }
        )
    )
    created = run(cli, "billing", "call", "CustomerNew", "--input", f"@{request}", "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["csIdPub"] == "OPS-1"
    shown = run(cli, "billing", "call", "CustomerRead", "--input", '{"csIdPub": "OPS-1"}')
    assert "customer.companyName = Ops Test AG" in shown.stdout.splitlines()


def test_cli_call_exit_codes_for_a_refusal_and_for_bad_input(cli: CliRunner) -> None:
    refused = cli.invoke(
        main, ["billing", "call", "CustomerRead", "--input", '{"csIdPub": "NOPE"}']
    )
    assert refused.exit_code == 3 and "CMS.RC6701" in refused.stderr
    assert cli.invoke(main, ["billing", "call", "CustomerRead", "--input", "{nope"]).exit_code == 2
    assert cli.invoke(main, ["billing", "call", "CustomerDelete"]).exit_code == 2
