"""Reconciliation with billing against the simulator over real HTTP: customers synced through
requests and the outbox, billing changed behind the CRM's back with direct CIL calls, runs
that record the drift, repairs that go through ordinary requests and the sync."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pybreaker
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from adapter.cli import main
from adapter.legacy import Gateway
from adapter.mapping import Mappings, load_mappings
from adapter.reconcile import run_reconciliation
from adapter.reconcile.repair import repair
from adapter.requests.apply import request_status, submit
from adapter.settings import Settings, get_settings
from adapter.store import tables as t
from adapter.sync import SyncPolicy, drain_customer
from adapter.testing.billing_sim import RunningSimulator
from tests.integration.conftest import SIM_PASSWORD, SIM_USER

FAST = SyncPolicy(backoff=0.01, backoff_cap=0.05, lease=60)


@pytest.fixture
def settings(sim: RunningSimulator) -> Settings:
    return Settings(
        billing_url=sim.soap_url,
        billing_user=SIM_USER,
        billing_password=SIM_PASSWORD,
        billing_timeout=2.0,
        billing_retries=0,
        billing_backoff=0.01,
        billing_breaker_failures=1000,
    )


@pytest.fixture
def gateway(settings: Settings, admin: httpx.Client) -> Gateway:
    return Gateway(settings, breaker_storage=pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED))


@pytest.fixture(scope="module")
def mappings() -> Mappings:
    return load_mappings()


def envelope(request_id: str, operation: str, payload: dict[str, Any], **extra: Any) -> Any:
    return {
        "request_id": request_id,
        "originating_user": "agent.ole",
        "channel": "selfcare",
        "operation": operation,
        "payload": payload,
        **extra,
    }


def synced_customer(
    engine: Engine, gateway: Gateway, mappings: Mappings, n: int, *, service: bool = True
) -> str:
    """A customer with an account, an active contract (and a service), applied and synced."""
    number = f"RC{n:05d}"
    requests = [
        envelope(
            f"rc{n}-customer",
            "customer.create",
            {
                "customer_number": number,
                "party": {"kind": "individual", "given_name": "Ana", "family_name": "Lange"},
                "account": {"number": f"{number}.1", "name": "Ana Lange"},
            },
        ),
        envelope(
            f"rc{n}-contract",
            "contract.create",
            {
                "account": f"{number}.1",
                "number": f"RK{n:06d}",
                "rate_plan": "RP_M",
                "status": "active",
                "subscriber": {"msisdn": f"+4917066{n:05d}"},
            },
            customer=number,
        ),
    ]
    if service:
        requests.append(
            envelope(
                f"rc{n}-service",
                "service.add",
                {"contract": f"RK{n:06d}", "service_code": "DATA"},
                customer=number,
            )
        )
    statuses = [submit(engine, e) for e in requests]
    assert [s.status for s in statuses] == ["applied"] * len(requests), statuses
    customer = statuses[0].customer_id
    assert customer is not None
    assert drain_customer(engine, gateway, mappings, customer, policy=FAST).stopped == "done"
    return customer


def cil(gateway: Gateway, mappings: Mappings, operation: str, context: dict[str, Any]) -> Any:
    """A call straight to billing, past the CRM (its store knows nothing of it)."""
    return gateway.call(operation, mappings.outbound(operation, context))


def findings(engine: Engine, **where: Any) -> list[Any]:
    f = t.reconcile_finding.c
    query = select(t.reconcile_finding).order_by(f.id)
    for name, value in where.items():
        query = query.where(getattr(f, name) == value)
    with engine.connect() as conn:
        return list(conn.execute(query))


def summary(rows: list[Any]) -> list[tuple[str, str, str]]:
    return [(r.entity_kind, r.field, r.kind) for r in rows]


def test_a_customer_in_step_with_billing_has_no_drift(
    engine: Engine, gateway: Gateway, mappings: Mappings
) -> None:
    synced_customer(engine, gateway, mappings, 1)
    report = run_reconciliation(engine, gateway, mappings, batch=10)
    assert (report.status, len(report.checked), report.drift) == ("completed", 1, 0)
    assert findings(engine) == []


def test_changes_made_directly_in_billing_are_reported_as_drift(
    engine: Engine, gateway: Gateway, mappings: Mappings
) -> None:
    customer = synced_customer(engine, gateway, mappings, 2)
    cil(
        gateway,
        mappings,
        "CustomerWrite",
        {
            "account": {"number": "RC00002.1"},
            "customer": {"party": {"kind": "individual", "family_name": "Lang"}},
        },
    )
    cil(
        gateway,
        mappings,
        "ContractWrite",
        {"contract": {"number": "RK000002", "status": "suspended"}},
    )
    report = run_reconciliation(engine, gateway, mappings, batch=10)
    assert report.status == "completed"
    rows = findings(engine, customer_id=customer)
    assert summary(rows) == [
        ("customer", "party.family_name", "field_mismatch"),
        ("contract", "status", "status_mismatch"),
    ]
    assert (rows[0].crm_value, rows[0].billing_value) == ("Lange", "Lang")
    assert (rows[1].crm_value, rows[1].billing_value) == ("active", "suspended")
    assert {r.state for r in rows} == {"open"}
    assert rows[1].legacy_id is not None


def test_a_second_run_keeps_one_finding_per_drift(
    engine: Engine, gateway: Gateway, mappings: Mappings
) -> None:
    synced_customer(engine, gateway, mappings, 3)
    cil(
        gateway,
        mappings,
        "ContractWrite",
        {"contract": {"number": "RK000003", "rate_plan": "RP_L"}},
    )
    first = run_reconciliation(engine, gateway, mappings, batch=10)
    second = run_reconciliation(engine, gateway, mappings, batch=10)
    rows = findings(engine)
    assert summary(rows) == [("contract", "rate_plan", "field_mismatch")]
    assert (rows[0].run_id, rows[0].last_run_id) == (first.run_id, second.run_id)


def test_repair_sends_the_crm_values_through_a_request_and_the_next_run_is_clean(
    engine: Engine, gateway: Gateway, mappings: Mappings
) -> None:
    customer = synced_customer(engine, gateway, mappings, 4)
    cil(
        gateway,
        mappings,
        "CustomerWrite",
        {
            "account": {"number": "RC00004.1"},
            "customer": {"party": {"kind": "individual", "family_name": "Lang"}},
        },
    )
    cil(
        gateway,
        mappings,
        "ContractWrite",
        {"contract": {"number": "RK000004", "status": "suspended"}},
    )
    run = run_reconciliation(engine, gateway, mappings, batch=10)
    outcomes = repair(engine, run_id=run.run_id)
    assert [o.status for o in outcomes] == ["applied", "applied"]
    rows = findings(engine)
    assert [r.state for r in rows] == ["repaired", "repaired"]
    assert [r.repair_request_id for r in rows] == [f"reconcile-{r.id}" for r in rows]
    status = request_status(engine, rows[0].repair_request_id)
    assert status.operation == "billing.resync"
    with engine.connect() as conn:
        change = conn.execute(select(t.change).where(t.change.c.id == status.change_id)).one()
    assert (change.originating_user, change.channel, change.principal) == (
        "reconciler",
        "reconciliation",
        "reconciler",
    )
    assert drain_customer(engine, gateway, mappings, customer, policy=FAST).stopped == "done"
    assert request_status(engine, rows[0].repair_request_id).status == "synced"
    again = run_reconciliation(engine, gateway, mappings, batch=10)
    assert (again.status, again.drift) == ("completed", 0)
    read = mappings.inbound(
        "ContractRead", cil(gateway, mappings, "ContractRead", {"contract": {"number": "RK000004"}})
    )
    assert read["contract"]["status"] == "active"


def test_a_drift_gone_by_itself_is_resolved_by_the_next_run(
    engine: Engine, gateway: Gateway, mappings: Mappings
) -> None:
    synced_customer(engine, gateway, mappings, 5)
    cil(
        gateway,
        mappings,
        "ContractWrite",
        {"contract": {"number": "RK000005", "rate_plan": "RP_L"}},
    )
    run_reconciliation(engine, gateway, mappings, batch=10)
    cil(
        gateway,
        mappings,
        "ContractWrite",
        {"contract": {"number": "RK000005", "rate_plan": "RP_M"}},
    )
    run_reconciliation(engine, gateway, mappings, batch=10)
    assert [r.state for r in findings(engine)] == ["resolved"]


def test_what_billing_lost_is_missing_and_repair_creates_it_again(
    engine: Engine, gateway: Gateway, mappings: Mappings, admin: httpx.Client
) -> None:
    customer = synced_customer(engine, gateway, mappings, 6, service=False)
    admin.post("/reset").raise_for_status()  # billing's state is gone
    run = run_reconciliation(engine, gateway, mappings, batch=10)
    rows = findings(engine)
    assert summary(rows) == [
        ("account", "(entity)", "missing_in_billing"),
        ("contract", "(entity)", "missing_in_billing"),
    ]
    assert [o.status for o in repair(engine, run_id=run.run_id)] == ["applied", "applied"]
    report = drain_customer(engine, gateway, mappings, customer, policy=FAST)
    assert report.stopped == "done", report.error
    assert run_reconciliation(engine, gateway, mappings, batch=10).drift == 0


def test_only_billing_has_it_is_not_repaired_automatically(
    engine: Engine, gateway: Gateway, mappings: Mappings
) -> None:
    synced_customer(engine, gateway, mappings, 7, service=False)
    cil(
        gateway,
        mappings,
        "ContractServicesAdd",
        {
            "contract": {"number": "RK000007"},
            "services": [{"service_code": "DATA", "status": "active"}],
        },
    )
    run = run_reconciliation(engine, gateway, mappings, batch=10)
    rows = findings(engine)
    assert summary(rows) == [("service_assignment", "service_code", "unknown_in_billing")]
    (outcome,) = repair(engine, run_id=run.run_id)
    assert outcome.status == "not_repairable"
    assert findings(engine)[0].state == "open"
    assert "only billing has" in (findings(engine)[0].note or "")


def test_customers_with_unsent_messages_are_skipped(
    engine: Engine, gateway: Gateway, mappings: Mappings
) -> None:
    customer = synced_customer(engine, gateway, mappings, 8, service=False)
    pending = envelope(
        "rc8-suspend",
        "contract.change_status",
        {"contract": "RK000008", "action": "suspend"},
        customer="RC00008",
    )
    assert submit(engine, pending).status == "applied"  # its ContractWrite is still in the outbox
    report = run_reconciliation(engine, gateway, mappings, batch=10)
    assert (report.checked, report.skipped) == ([], [customer])
    assert findings(engine) == []


def test_runs_go_round_robin_over_every_customer(
    engine: Engine, gateway: Gateway, mappings: Mappings
) -> None:
    customers = sorted(
        synced_customer(engine, gateway, mappings, n, service=False) for n in (11, 12, 13)
    )
    first = run_reconciliation(engine, gateway, mappings, batch=2)
    second = run_reconciliation(engine, gateway, mappings, batch=2)
    assert first.checked == customers[:2]
    assert second.checked == [customers[2], customers[0]]


@pytest.mark.parametrize("kind", ["refuse", "http503"])
def test_billing_down_records_the_run_failed_and_loses_no_finding(
    engine: Engine,
    gateway: Gateway,
    mappings: Mappings,
    admin: httpx.Client,
    sim: RunningSimulator,
    kind: str,
) -> None:
    synced_customer(engine, gateway, mappings, 9, service=False)
    cil(
        gateway,
        mappings,
        "ContractWrite",
        {"contract": {"number": "RK000009", "rate_plan": "RP_L"}},
    )
    before = run_reconciliation(engine, gateway, mappings, batch=10)
    if kind == "refuse":
        rule = {"kind": "refuse", "seconds": 0.8, "times": 1}
        admin.put("/faults", json={"rules": [rule]}).raise_for_status()
    else:
        admin.put("/faults", json={"error_rate": 1.0, "error_kind": "http503"}).raise_for_status()
    down = run_reconciliation(engine, gateway, mappings, batch=10)
    assert (down.status, down.checked) == ("failed", [])
    with engine.connect() as conn:
        row = conn.execute(select(t.reconcile_run).where(t.reconcile_run.c.id == down.run_id)).one()
    assert row.status == "failed" and "billing unreachable" in (row.error or "")
    assert row.last_customer is None  # the cursor stays: the next run starts there again
    (finding,) = findings(engine)
    assert (finding.state, finding.last_run_id) == ("open", before.run_id)
    wait_listening(sim)


def wait_listening(sim: RunningSimulator, timeout: float = 10) -> None:
    """The simulator takes connections again (after a refuse fault)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{sim.admin_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the simulator did not come back"
        time.sleep(0.05)


@pytest.fixture
def cli(
    engine: Engine, sim: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    """The CLI on the test's store and simulator (through CRM_* like any process)."""
    monkeypatch.setenv("CRM_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CRM_BILLING_URL", sim.soap_url)
    monkeypatch.setenv("CRM_BILLING_USER", SIM_USER)
    monkeypatch.setenv("CRM_BILLING_PASSWORD", SIM_PASSWORD)
    monkeypatch.setenv("CRM_BILLING_RETRIES", "0")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_cli_report_lists_the_findings_with_pii_masked(
    engine: Engine, gateway: Gateway, mappings: Mappings, cli: CliRunner
) -> None:
    synced_customer(engine, gateway, mappings, 10, service=False)
    name = {"party": {"kind": "individual", "family_name": "Lang"}}
    cil(gateway, mappings, "CustomerWrite", {"account": {"number": "RC00010.1"}, "customer": name})
    run = run_reconciliation(engine, gateway, mappings, batch=10)
    text = cli.invoke(main, ["reconcile", "report"])
    assert text.exit_code == 0, text.output
    assert f"run {run.run_id}  completed" in text.output
    assert "party.family_name" in text.output and "field_mismatch" in text.output
    assert "Lange" not in text.output and 'crm "***ge", billing "***"' in text.output
    as_json = cli.invoke(main, ["reconcile", "report", "--open", "--json"])
    assert as_json.exit_code == 0, as_json.output
    (finding,) = json.loads(as_json.output)["findings"]
    assert (finding["crm_value"], finding["billing_value"]) == ("***ge", "***")


def test_cli_run_then_repair_by_finding_id(
    engine: Engine, gateway: Gateway, mappings: Mappings, cli: CliRunner
) -> None:
    synced_customer(engine, gateway, mappings, 14, service=False)
    rate_plan = {"contract": {"number": "RK000014", "rate_plan": "RP_L"}}
    cil(gateway, mappings, "ContractWrite", rate_plan)
    ran = cli.invoke(main, ["reconcile", "run", "--customer", "RC00014", "--json"])
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.output)["drift"] == 1
    (finding,) = findings(engine)
    fixed = cli.invoke(main, ["reconcile", "repair", str(finding.id)])
    assert fixed.exit_code == 0, fixed.output
    assert f"#{finding.id}  applied  request reconcile-{finding.id}" in fixed.output
    again = cli.invoke(main, ["reconcile", "repair", str(finding.id)])
    assert "not_open" in again.output  # a repaired finding is not repaired twice


def test_cli_repair_needs_findings_or_a_run(cli: CliRunner) -> None:
    result = cli.invoke(main, ["reconcile", "repair"])
    assert result.exit_code == 2
    assert "give finding ids or --run ID" in result.output
