"""The sync to billing: requests submitted through ``adapter.requests.apply.submit`` and their
outbox drained to the billing simulator over real HTTP, with the real gateway and mappings."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

import httpx
import pybreaker
import pytest
from sqlalchemy import Engine, select

from adapter.legacy import Gateway
from adapter.mapping import Mappings, load_mappings
from adapter.requests.apply import apply_request as apply_only
from adapter.requests.apply import receive, request_status, submit
from adapter.settings import Settings
from adapter.store import tables as t
from adapter.store.uow import utcnow
from adapter.sync import (
    SyncPolicy,
    backoff_delay,
    drain_customer,
    due_customers,
    pending_counts,
)
from adapter.testing.billing_sim import RunningSimulator
from tests.integration.conftest import SIM_PASSWORD, SIM_USER
from workers.tasks import sync as sync_tasks

FAST = SyncPolicy(backoff=0.01, backoff_cap=0.05, lease=60)


@pytest.fixture
def gateway(sim: RunningSimulator, admin: httpx.Client) -> Gateway:
    settings = Settings(
        billing_url=sim.soap_url,
        billing_user=SIM_USER,
        billing_password=SIM_PASSWORD,
        billing_timeout=2.0,
        billing_retries=0,
        billing_backoff=0.01,
        billing_breaker_failures=1000,
    )
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


def customer_requests(n: int = 1) -> list[Any]:
    """A new customer with its account, an active contract, a service and a discount."""
    number = f"SY{n:05d}"
    return [
        envelope(
            f"r{n}-customer",
            "customer.create",
            {
                "customer_number": number,
                "party": {"kind": "individual", "given_name": "Ana", "family_name": "Lange"},
                "account": {"number": f"{number}.1", "name": "Ana Lange"},
            },
        ),
        envelope(
            f"r{n}-contract",
            "contract.create",
            {
                "account": f"{number}.1",
                "number": f"CO{n:06d}",
                "rate_plan": "RP_M",
                "status": "active",
                "subscriber": {"msisdn": f"+4917055{n:05d}"},
            },
            customer=number,
        ),
        envelope(
            f"r{n}-service",
            "service.add",
            {"contract": f"CO{n:06d}", "service_code": "DATA", "parameters": {"apn": "internet"}},
            customer=number,
        ),
        envelope(
            f"r{n}-discount",
            "discount.assign",
            {"level": "contract", "contract": f"CO{n:06d}", "code": "LOYAL10", "value": "10"},
            customer=number,
        ),
    ]


def submit_all(engine: Engine, envelopes: list[Any]) -> str:
    """Apply each request (no drain); the customer's id."""
    statuses = [submit(engine, e) for e in envelopes]
    assert [s.status for s in statuses] == ["applied"] * len(envelopes), [
        s.reason for s in statuses
    ]
    customer = statuses[0].customer_id
    assert customer is not None
    return customer


def outbox(engine: Engine, customer_id: str) -> list[Any]:
    o = t.outbox.c
    with engine.connect() as conn:
        return list(
            conn.execute(select(t.outbox).where(o.customer_id == customer_id).order_by(o.seq))
        )


def faults(admin: httpx.Client, document: dict[str, Any]) -> None:
    admin.put("/faults", json=document).raise_for_status()


def billing_has(gateway: Gateway, mappings: Mappings, contract_number: str) -> dict[str, Any]:
    response = gateway.call(
        "ContractRead", mappings.outbound("ContractRead", {"contract": {"number": contract_number}})
    )
    return mappings.inbound("ContractRead", response)


def test_requests_drained_land_in_billing_and_become_synced(
    engine: Engine, gateway: Gateway, mappings: Mappings
) -> None:
    envelopes = customer_requests(1)
    customer = submit_all(engine, envelopes)
    report = drain_customer(engine, gateway, mappings, customer, policy=FAST)
    assert report.stopped == "done"
    assert report.sent == [r.seq for r in outbox(engine, customer)]
    read = billing_has(gateway, mappings, "CO000001")
    assert read["contract"]["status"] == "active"
    services = gateway.call(
        "ContractServicesRead",
        mappings.outbound("ContractServicesRead", {"contract": {"number": "CO000001"}}),
    )
    codes = [
        s["service_code"] for s in mappings.inbound("ContractServicesRead", services)["services"]
    ]
    assert "DATA" in codes
    statuses = [request_status(engine, e["request_id"]) for e in envelopes]
    assert [s.status for s in statuses] == ["synced"] * 4
    assert statuses[0].legacy_ids and statuses[0].legacy_ids["accounts"]
    assert statuses[1].legacy_ids and statuses[1].legacy_ids["contracts"]
    assert statuses[2].legacy_ids and statuses[2].legacy_ids["services"]
    assert statuses[3].legacy_ids and statuses[3].legacy_ids["discounts"]
    with engine.connect() as conn:
        kinds = sorted(conn.execute(select(t.legacy_link.c.kind)).scalars())
    assert kinds == ["account", "contract", "discount_assignment", "service_assignment"]


def test_rows_are_sent_strictly_in_seq_order(
    engine: Engine, gateway: Gateway, mappings: Mappings
) -> None:
    customer = submit_all(engine, customer_requests(2))
    calls: list[str] = []
    real = gateway.call

    def spy(operation: str, inputs: Any) -> Any:
        calls.append(operation)
        return real(operation, inputs)

    with mock.patch.object(gateway, "call", side_effect=spy):
        report = drain_customer(engine, gateway, mappings, customer, policy=FAST)
    rows = outbox(engine, customer)
    assert report.sent == [1, 2, 3, 4]
    assert calls == [r.operation for r in rows]
    sent_at = [r.sent_at for r in rows]
    assert sent_at == sorted(sent_at)


def wait_listening(sim: RunningSimulator, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{sim.admin_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.parametrize("kind", ["refuse", "http503"])
def test_billing_down_leaves_rows_pending_with_backoff_then_sends_them_in_order(
    engine: Engine,
    gateway: Gateway,
    mappings: Mappings,
    admin: httpx.Client,
    sim: RunningSimulator,
    kind: str,
) -> None:
    customer = submit_all(engine, customer_requests(3))
    if kind == "refuse":
        faults(admin, {"rules": [{"kind": "refuse", "seconds": 0.8, "times": 1}]})
    else:
        faults(admin, {"error_rate": 1.0, "error_kind": "http503"})
    before = utcnow()
    report = drain_customer(engine, gateway, mappings, customer, policy=FAST)
    assert report.stopped == "transient"
    assert report.sent == []
    assert report.retry_at is not None and report.retry_at > before
    rows = outbox(engine, customer)
    assert [r.status for r in rows] == ["pending"] * 4
    assert rows[0].attempts == 1
    assert rows[0].next_attempt_at == report.retry_at
    assert rows[0].last_error
    assert [r.attempts for r in rows[1:]] == [0, 0, 0]  # nothing after the first was tried
    if kind == "http503":
        again = drain_customer(engine, gateway, mappings, customer, policy=FAST, force=True)
        assert again.stopped == "transient"
        assert outbox(engine, customer)[0].attempts == 2
        admin.delete("/faults").raise_for_status()
    wait_listening(sim)
    done = drain_customer(engine, gateway, mappings, customer, policy=FAST, force=True)
    assert done.stopped == "done"
    assert done.sent == [1, 2, 3, 4]
    assert {r.status for r in outbox(engine, customer)} == {"sent"}


def test_a_business_fault_fails_that_request_and_later_rows_wait(
    engine: Engine, gateway: Gateway, mappings: Mappings, admin: httpx.Client
) -> None:
    envelopes = customer_requests(4)
    customer = submit_all(engine, envelopes)
    faults(
        admin,
        {
            "rules": [
                {
                    "kind": "cms_fault",
                    "operation": "ContractServicesAdd",
                    "fault": {"code": "CMS.RC6740", "message": "service not allowed"},
                    "times": 1,
                }
            ]
        },
    )
    report = drain_customer(engine, gateway, mappings, customer, policy=FAST)
    assert report.stopped == "fault"
    assert report.sent == [1, 2]
    assert report.failed_request == "r4-service"
    failed = request_status(engine, "r4-service")
    assert failed.status == "failed"
    assert failed.reason is not None and failed.reason["code"] == "CMS.RC6740"
    assert request_status(engine, "r4-discount").status == "applied"
    assert [r.status for r in outbox(engine, customer)] == ["sent", "sent", "failed", "pending"]
    blocked = drain_customer(engine, gateway, mappings, customer, policy=FAST)
    assert blocked.stopped == "blocked"
    assert blocked.sent == []
    assert customer not in due_customers(engine, now=utcnow())
    assert (customer, "failed", 1) in pending_counts(engine)


def test_a_crash_between_commit_and_the_drain_task_is_swept(
    engine: Engine, gateway: Gateway, mappings: Mappings
) -> None:
    envelopes = customer_requests(5)
    for e in envelopes:  # applied, committed, and no drain task ever sent
        apply_only(engine, receive(engine, e).request_id)
    sent: list[tuple[str, list[str]]] = []
    app = mock.Mock()
    app.container.engine = engine
    app.send_task.side_effect = lambda name, args: sent.append((name, args))
    task = mock.Mock(app=app)
    result = sync_tasks.sweep(task)
    customer = request_status(engine, envelopes[0]["request_id"]).customer_id
    assert customer is not None
    assert result["customers"] == [customer]
    assert sent == [(sync_tasks.DRAIN, [customer])]
    report = drain_customer(engine, gateway, mappings, customer, policy=FAST)
    assert report.sent == [1, 2, 3, 4]
    assert request_status(engine, "r5-discount").status == "synced"
    assert sync_tasks.sweep(task)["customers"] == []


def test_two_drains_of_one_customer_send_each_row_once(
    engine: Engine, gateway: Gateway, mappings: Mappings
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent drains are tested on PostgreSQL")
    customer = submit_all(engine, customer_requests(6))
    calls: list[str] = []
    lock = threading.Lock()
    real = gateway.call

    def spy(operation: str, inputs: Any) -> Any:
        with lock:
            calls.append(operation)
        return real(operation, inputs)

    reports = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        reports.append(drain_customer(engine, gateway, mappings, customer, policy=FAST))

    with mock.patch.object(gateway, "call", side_effect=spy):
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert sorted(seq for r in reports for seq in r.sent) == [1, 2, 3, 4]
    assert calls == [r.operation for r in outbox(engine, customer)]
    assert {r.status for r in outbox(engine, customer)} == {"sent"}


def test_an_expired_lease_is_taken_over(
    engine: Engine, gateway: Gateway, mappings: Mappings
) -> None:
    customer = submit_all(engine, customer_requests(7))
    stale = utcnow() - timedelta(seconds=5)
    with engine.begin() as conn:
        conn.execute(
            t.sync_lease.insert().values(customer_id=customer, holder="dead", expires_at=stale)
        )
    report = drain_customer(engine, gateway, mappings, customer, policy=FAST)
    assert report.sent == [1, 2, 3, 4]


def test_a_live_lease_makes_a_second_drain_busy(
    engine: Engine, gateway: Gateway, mappings: Mappings
) -> None:
    customer = submit_all(engine, customer_requests(8))
    later: datetime = utcnow() + timedelta(seconds=60)
    with engine.begin() as conn:
        conn.execute(
            t.sync_lease.insert().values(customer_id=customer, holder="other", expires_at=later)
        )
    report = drain_customer(engine, gateway, mappings, customer, policy=FAST)
    assert report.stopped == "busy"
    assert {r.status for r in outbox(engine, customer)} == {"pending"}


def test_a_replayed_dead_letter_is_sent_and_unblocks_the_customer(
    engine: Engine, gateway: Gateway, mappings: Mappings, admin: httpx.Client
) -> None:
    from adapter.requests import deadletters

    customer = submit_all(engine, customer_requests(9))
    rule = {"kind": "cms_fault", "operation": "DiscountAssign", "times": 1}
    faults(admin, {"rules": [{**rule, "fault": {"code": "CMS.RC6750", "message": "no"}}]})
    assert drain_customer(engine, gateway, mappings, customer, policy=FAST).stopped == "fault"
    deadletters.replay(engine, "r9-discount", user="ops.kim")
    assert customer in due_customers(engine, now=utcnow())
    report = drain_customer(engine, gateway, mappings, customer, policy=FAST)
    assert report.sent == [4]
    assert request_status(engine, "r9-discount").status == "synced"


def test_a_discarded_dead_letter_no_longer_holds_later_messages(
    engine: Engine, gateway: Gateway, mappings: Mappings, admin: httpx.Client
) -> None:
    from adapter.requests import deadletters

    customer = submit_all(engine, customer_requests(10))
    rule = {"kind": "cms_fault", "operation": "ContractServicesAdd", "times": 1}
    faults(admin, {"rules": [{**rule, "fault": {"code": "CMS.RC6740", "message": "no"}}]})
    assert drain_customer(engine, gateway, mappings, customer, policy=FAST).stopped == "fault"
    assert customer not in due_customers(engine, now=utcnow())
    deadletters.discard(engine, "r10-service", user="ops.kim", reason="not wanted")
    assert customer in due_customers(engine, now=utcnow())
    report = drain_customer(engine, gateway, mappings, customer, policy=FAST)
    assert report.sent == [4]
    assert request_status(engine, "r10-discount").status == "synced"


def test_a_contract_suspension_and_a_customer_update_reach_billing(
    engine: Engine, gateway: Gateway, mappings: Mappings
) -> None:
    customer = submit_all(engine, customer_requests(11))
    assert drain_customer(engine, gateway, mappings, customer, policy=FAST).stopped == "done"
    later = [
        envelope(
            "r11-suspend",
            "contract.change_status",
            {"contract": "CO000011", "action": "suspend", "reason": "unpaid invoice"},
            customer="SY00011",
        ),
        envelope(
            "r11-segment",
            "customer.update",
            {"customer": "SY00011", "patch": {"segment": "premium"}},
        ),
    ]
    submit_all(engine, later)
    report = drain_customer(engine, gateway, mappings, customer, policy=FAST)
    assert report.stopped == "done", report.error
    assert [r.operation for r in outbox(engine, customer)][4:] == ["ContractWrite", "CustomerWrite"]
    assert billing_has(gateway, mappings, "CO000011")["contract"]["status"] == "suspended"
    read = gateway.call(
        "CustomerRead", mappings.outbound("CustomerRead", {"account": {"number": "SY00011.1"}})
    )
    assert mappings.inbound("CustomerRead", read)["customer"]["segment"] == "premium"
    assert request_status(engine, "r11-segment").status == "synced"
    assert request_status(engine, "r11-suspend").status == "synced"


def test_an_operation_the_sync_does_not_know_is_a_dead_letter_not_a_silent_skip(
    engine: Engine, gateway: Gateway, mappings: Mappings
) -> None:
    """Every operation ``outbox.plan`` writes is sent (tests/integration/
    test_sync_operations.py); a message naming any other (a row from a newer release, a
    hand-edited one) fails as ``ADAPTER.UNSUPPORTED`` instead of being skipped."""
    customer = submit_all(engine, customer_requests(12))
    submit_all(
        engine,
        [
            envelope(
                "r12-remove",
                "service.remove",
                {"contract": "CO000012", "service_code": "DATA"},
                customer="SY00012",
            )
        ],
    )
    with engine.begin() as conn:
        conn.execute(
            t.outbox.update()
            .where(t.outbox.c.request_id == "r12-remove")
            .values(operation="ContractServicesTeleport")
        )
    report = drain_customer(engine, gateway, mappings, customer, policy=FAST)
    assert report.stopped == "fault"
    assert report.sent == [1, 2, 3, 4]
    failed = request_status(engine, "r12-remove")
    assert failed.reason is not None and failed.reason["code"] == "ADAPTER.UNSUPPORTED"


def test_backoff_doubles_per_attempt_with_jitter_up_to_the_cap() -> None:
    policy = SyncPolicy(backoff=2.0, backoff_cap=20.0)
    for attempts, base in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (5, 20.0), (9, 20.0)]:
        delays = [backoff_delay(attempts, policy) for _ in range(50)]
        assert all(base * 0.5 <= d <= base for d in delays)
        assert len(set(delays)) > 1
