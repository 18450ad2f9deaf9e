"""Receiving and applying provisioning requests, on each backend: one audited change per
request with the envelope's actor, recorded failures, idempotency, order per customer, and
the outbox written with the change."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import OperationalError

from adapter.domain import Actor
from adapter.domain.errors import ValidationFailed
from adapter.requests import handlers, outbox
from adapter.requests.apply import (
    DEFAULT_PRINCIPAL,
    RequestStatus,
    apply_request,
    receive,
    request_status,
    submit,
)
from adapter.service.attributes import define_attribute
from adapter.store import tables as t
from adapter.store.uow import UnitOfWork
from tests.integration.test_requests_docs import documented_examples


@pytest.fixture
def store(engine: Engine) -> Engine:
    """A store with the attribute the documented examples set."""
    with UnitOfWork(engine, Actor("admin.jane", "pytest", "test", "setup-attributes")) as uow:
        define_attribute(
            uow,
            {
                "name": "loyalty_tier",
                "label": "Loyalty tier",
                "type": "enum",
                "entity_kind": "customer",
                "enum_values": ["bronze", "silver", "gold"],
            },
        )
        uow.commit("attributes.define")
    return engine


def envelope(request_id: str, operation: str, payload: dict[str, Any], **extra: Any) -> Any:
    return {
        "request_id": request_id,
        "originating_user": "agent.ole",
        "channel": "selfcare",
        "operation": operation,
        "payload": payload,
        **extra,
    }


def new_customer(request_id: str, number: str, **payload: Any) -> Any:
    person = {"kind": "individual", "given_name": "Ana", "family_name": f"Müller {number}"}
    return envelope(
        request_id,
        "customer.create",
        {"customer_number": number, "party": person, **payload},
    )


def rename(request_id: str, number: str, segment: str = "premium", **extra: Any) -> Any:
    return envelope(
        request_id, "customer.update", {"customer": number, "patch": {"segment": segment}}, **extra
    )


def count(conn: Connection, table: Any, *where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def written(engine: Engine) -> tuple[int, int, int]:
    """Changes, versions and outbox rows in the store."""
    with engine.connect() as conn:
        return (
            count(conn, t.change),
            count(conn, t.entity_version),
            count(conn, t.outbox),
        )


# ------------------------------------------------------------------------ each operation


def test_each_operation_applies_as_one_change_with_the_envelopes_actor(store: Engine) -> None:
    """The examples of docs/requests.md, one per operation, applied in their order."""
    for example in documented_examples():
        op = example["operation"]
        status = submit(store, example, principal="pytest-submit")
        assert status.status in ("applied", "synced"), (op, status.reason)
        with store.connect() as conn:
            changes = conn.execute(
                select(t.change).where(t.change.c.request_id == example["request_id"])
            ).all()
            versions = count(conn, t.entity_version, t.entity_version.c.change_id == changes[0].id)
        assert len(changes) == 1, op
        change = changes[0]
        assert change.id == status.change_id, op
        assert (change.originating_user, change.channel, change.principal, change.operation) == (
            example["originating_user"],
            example["channel"],
            "pytest-submit",
            op,
        )
        if op == "billing.resync":  # sends to billing again, changes nothing in the CRM
            assert change.outcome == "unchanged" and versions == 0, op
            assert status.outbox, op
        else:
            assert change.outcome == "applied" and versions >= 1, op


# ------------------------------------------------------------------------------ bad input


def test_an_envelope_failing_the_schema_is_recorded_failed_and_writes_nothing(
    store: Engine,
) -> None:
    before = written(store)
    bad = new_customer("req-bad", "C-1", contact_media=[{"type": "email", "value": "nope"}])
    status = submit(store, bad)
    assert status.status == "failed"
    assert status.reason is not None
    assert status.reason["code"] == "invalid_envelope"
    assert [v["field"] for v in status.reason["violations"]] == ["payload.contact_media.0"]
    assert written(store) == before
    with store.connect() as conn:
        kept = conn.execute(select(t.request.c.envelope)).scalar_one()
    assert kept == bad  # the original message, for the dead-letter store


def test_an_unknown_operation_is_recorded_failed_naming_the_known_ones(store: Engine) -> None:
    status = submit(store, envelope("req-x", "contract.frobnicate", {}))
    assert status.status == "failed"
    assert status.operation == "contract.frobnicate"
    assert status.reason is not None
    assert status.reason["violations"][0]["rule"] == "known"
    assert "contract.change_status" in status.reason["message"]


def test_an_envelope_without_a_usable_request_id_is_refused_and_not_recorded(
    store: Engine,
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        receive(store, {"originating_user": "agent.ole", "operation": "customer.create"})
    assert refused.value.violations[0].field == "request_id"
    with pytest.raises(ValidationFailed, match="not JSON"):
        receive(store, "{not json")
    with store.connect() as conn:
        assert count(conn, t.request) == 0


def test_a_request_for_an_unknown_customer_fails_and_the_next_one_applies(store: Engine) -> None:
    failed = submit(store, rename("req-1", "C-404"))
    assert failed.status == "failed"
    assert failed.reason is not None
    assert failed.reason["code"] == "not_found"
    assert "C-404" in failed.reason["message"]
    assert submit(store, new_customer("req-2", "C-1")).change_id is not None
    assert written(store)[0] == 2  # the attribute definition and req-2


def test_a_stale_expected_version_fails_and_writes_nothing(store: Engine) -> None:
    submit(store, new_customer("req-1", "C-1"))
    assert submit(store, rename("req-2", "C-1", "gold", expected_version=1)).change_id
    before = written(store)
    stale = submit(store, rename("req-3", "C-1", "silver", expected_version=1))
    assert stale.status == "failed"
    assert stale.reason is not None
    assert stale.reason["code"] == "stale_version"
    assert "at version 2" in stale.reason["message"]
    assert written(store) == before


def test_a_defect_met_by_a_request_is_recorded_and_does_not_stop_the_next(
    store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poison message: recorded failed (internal_error) with its envelope."""

    def broken(_uow: UnitOfWork, _command: Any) -> dict[str, Any]:
        raise KeyError("a defect")

    monkeypatch.setitem(handlers.HANDLERS, "customer.update", broken)
    submit(store, new_customer("req-1", "C-1"))
    poisoned = submit(store, rename("req-2", "C-1"))
    assert poisoned.status == "failed"
    assert poisoned.reason is not None
    assert poisoned.reason["code"] == "internal_error"
    assert submit(store, new_customer("req-3", "C-2")).change_id is not None


# ---------------------------------------------------------------------------- idempotency


def test_the_same_request_applied_twice_makes_one_change_and_returns_the_first_outcome(
    store: Engine,
) -> None:
    first = submit(store, new_customer("req-1", "C-1"))
    before = written(store)
    again = submit(store, new_customer("req-1", "C-1"))
    assert apply_request(store, "req-1") == again == first
    assert written(store) == before


def test_receiving_a_known_request_id_keeps_the_first_record(store: Engine) -> None:
    submit(store, new_customer("req-1", "C-1"))
    other = submit(store, new_customer("req-1", "C-99"))
    assert other.result is not None
    assert other.result["customer_number"] == "C-1"
    with store.connect() as conn:
        assert count(conn, t.customer) == 1


def test_one_request_applied_from_two_threads_at_once_makes_one_change(store: Engine) -> None:
    receive(store, new_customer("req-1", "C-1"))
    start = threading.Barrier(2)
    outcomes: list[RequestStatus] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait(timeout=10)
            outcomes.append(apply_request(store, "req-1"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(outcomes) == 2
    assert outcomes[0].change_id == outcomes[1].change_id is not None
    assert outcomes[0].status == outcomes[1].status == "synced"  # nothing to tell billing
    with store.connect() as conn:
        assert count(conn, t.change, t.change.c.request_id == "req-1") == 1
        assert count(conn, t.customer) == 1
        assert count(conn, t.outbox) == 0  # a customer without accounts: nothing for billing


# --------------------------------------------------------------------------------- outbox


def test_outbox_rows_are_written_with_the_change(store: Engine) -> None:
    status = submit(store, new_customer("req-1", "C-1", account={"number": "A-1", "name": "Main"}))
    assert status.status == "applied"
    assert [(e.seq, e.operation, e.status) for e in status.outbox] == [
        (1, "CustomerNew", "pending")
    ]
    with store.connect() as conn:
        row = conn.execute(select(t.outbox)).one()
    assert row.change_id == status.change_id
    assert status.result is not None
    assert row.payload["entity"] == {
        "kind": "account",
        "id": status.result["account_id"],
        "version": 1,
        "op": "create",
    }


def test_a_failing_staged_write_leaves_neither_change_nor_outbox_and_a_retry_applies(
    store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("INSERT INTO outbox", {}, Exception("disk full"))

    monkeypatch.setattr(outbox, "write_messages", full)
    before = written(store)
    request = new_customer("req-1", "C-1", account={"number": "A-1", "name": "Main"})
    with pytest.raises(OperationalError):
        submit(store, request)
    assert written(store) == before
    assert request_status(store, "req-1").status == "received"
    monkeypatch.undo()
    assert apply_request(store, "req-1").status == "applied"
    assert written(store)[2] == 1


def test_outbox_sequence_numbers_increase_per_customer(store: Engine) -> None:
    account = {"number": "A-1", "name": "Main"}
    submit(store, new_customer("req-1", "C-1", account=account))
    submit(store, new_customer("req-2", "C-2", account={"number": "A-2", "name": "Main"}))
    submit(store, rename("req-3", "C-1"))
    submit(store, rename("req-4", "C-2"))
    submit(store, rename("req-5", "C-1", "gold"))
    with store.connect() as conn:
        rows = conn.execute(
            select(t.outbox.c.customer_id, t.outbox.c.seq).order_by(t.outbox.c.id)
        ).all()
    by_customer: dict[str, list[int]] = {}
    for customer, seq in rows:
        by_customer.setdefault(customer, []).append(seq)
    assert sorted(by_customer.values()) == [[1, 2], [1, 2, 3]]


# ---------------------------------------------------------------------------------- order


def test_a_request_applies_the_waiting_requests_of_its_customer_first(store: Engine) -> None:
    receive(store, new_customer("req-1", "C-1"))
    receive(store, rename("req-2", "C-1", "gold", customer="C-1"))
    receive(store, rename("req-3", "C-1", "silver", customer="C-1"))
    last = apply_request(store, "req-3")
    first, second = request_status(store, "req-1"), request_status(store, "req-2")
    assert first.customer_id == second.customer_id == last.customer_id is not None
    assert (first.status, second.status, last.status) == ("synced", "synced", "synced")
    assert first.change_id is not None and second.change_id is not None
    assert last.change_id is not None
    assert first.change_id < second.change_id < last.change_id
    with store.connect() as conn:
        assert conn.execute(select(t.customer.c.segment)).scalar_one() == "silver"


def test_a_failed_predecessor_does_not_hold_up_its_successors(store: Engine) -> None:
    submit(store, new_customer("req-1", "C-1"))
    receive(store, rename("req-2", "C-1", "gold", expected_version=7))
    assert apply_request(store, receive(store, rename("req-3", "C-1")).request_id).status == (
        "synced"
    )
    assert request_status(store, "req-2").status == "failed"


def test_another_customers_waiting_requests_are_left_to_their_own_turn(store: Engine) -> None:
    submit(store, new_customer("req-1", "C-1"))
    submit(store, new_customer("req-2", "C-2"))
    receive(store, rename("req-3", "C-2"))
    receive(store, rename("req-4", "C-1"))
    apply_request(store, "req-4")
    assert request_status(store, "req-3").status == "received"


def test_a_request_naming_a_customer_still_to_be_created_queues_behind_its_creation(
    store: Engine,
) -> None:
    receive(store, new_customer("req-1", "C-1", account={"number": "A-1", "name": "Main"}))
    contract = envelope(
        "req-2",
        "contract.create",
        {
            "account": "A-1",
            "number": "K-1",
            "rate_plan": "RP_S",
            "subscriber": {"msisdn": "+4917012340001"},
        },
        customer="C-1",
    )
    waiting = receive(store, contract)
    assert waiting.customer_id == request_status(store, "req-1").customer_id
    assert apply_request(store, "req-2").status == "applied"
    assert request_status(store, "req-1").status == "applied"


def test_receipt_numbers_requests_in_the_order_they_arrive(store: Engine) -> None:
    for request_id in ("req-c", "req-a", "req-b"):
        receive(store, new_customer(request_id, request_id.upper()))
    with store.connect() as conn:
        order = conn.execute(select(t.request.c.request_id).order_by(t.request.c.seq)).scalars()
        assert list(order) == ["req-c", "req-a", "req-b"]


def test_every_log_line_of_a_request_names_request_customer_and_actor(
    store: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """The store's own "change.committed" line carries the request's context too."""
    import logging

    from adapter.logs import configure_logging

    configure_logging("INFO")  # the product's chain: structlog through the stdlib
    caplog.set_level(logging.INFO)
    submit(store, new_customer("req-log-1", "C-LOG-1"))
    events = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    committed = [e for e in events if e.get("event") == "change.committed"]
    assert committed, events
    line = committed[0]
    assert line["request_id"] == "req-log-1" and line["customer_id"]
    assert (line["user"], line["channel"]) == ("agent.ole", "selfcare")
    assert line["principal"] == DEFAULT_PRINCIPAL  # from the bound context alone
