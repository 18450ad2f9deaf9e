"""Data for the CRM endpoint tests, written as the adapter writes it: requests through
``submit`` (customers, accounts, contracts, discounts, suppressions) and, for what only billing
reports (usage lines, balances, free units) and for a deep chain of accounts, one unit of work
with a test actor."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from adapter.domain import Actor
from adapter.domain.model import Account, Balance, FreeUnitBucket, UsageRecord
from adapter.requests.apply import submit
from adapter.store.uow import UnitOfWork

from .conftest import create_customer, unique


def request(engine: Engine, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
    status = submit(
        engine,
        {
            "request_id": unique("crm-test"),
            "originating_user": "crm.test.setup",
            "channel": "test",
            "operation": operation,
            "payload": payload,
        },
        principal="pytest",
    )
    assert status.status in ("applied", "synced"), status
    assert status.result is not None
    return status.result


def setup_actor() -> Actor:
    return Actor("crm.test.setup", "pytest", "test", unique("crm-setup"))


def msisdn() -> str:
    return f"+49170{random.randint(1_000_000, 9_999_999)}"


def subscriber(engine: Engine, account: str, *, groups: list[str] | None = None) -> dict[str, Any]:
    """A contract with one subscriber under ACCOUNT (id or number)."""
    number = msisdn()
    found = request(
        engine,
        "contract.create",
        {
            "account": account,
            "number": unique("CO"),
            "rate_plan": "RP_BASIC",
            "status": "active",
            "subscriber": {"msisdn": number, "listing_groups": groups or []},
        },
    )
    return {**found, "msisdn": number}


def account(engine: Engine, customer: str, number: str, *, parent: str | None, pays: bool) -> str:
    found = request(
        engine,
        "account.create",
        {
            "customer": customer,
            "number": number,
            "name": f"Dept {number[-6:]}",
            "parent": parent,
            "payment_responsible": pays,
        },
    )
    return str(found["account_id"])


def chain(engine: Engine, customer_id: str, top_id: str, depth: int, prefix: str) -> list[str]:
    """DEPTH accounts, each the child of the one before, under TOP (one change); only every
    tenth pays. Their ids, top down."""
    ids: list[str] = []
    with UnitOfWork(engine, setup_actor()) as uow:
        parent = top_id
        for level in range(1, depth + 1):
            node = Account(
                id=f"{prefix}-{level:04d}",
                customer_id=customer_id,
                number=f"{prefix}.{level:04d}",
                name=f"Level {level}",
                parent_id=parent,
                payment_responsible=level % 10 == 0,
            )
            uow.add(node)
            ids.append(node.id)
            parent = node.id
        uow.commit("test.chain")
    return ids


def usage(
    engine: Engine, sim: dict[str, Any], contract: dict[str, Any], when: list[datetime]
) -> list[str]:
    """A voice line at each instant for subscriber SIM (of contract CONTRACT: customer,
    account and contract ids)."""
    ids: list[str] = []
    with UnitOfWork(engine, setup_actor()) as uow:
        for at in when:
            line = UsageRecord(
                id=unique("udr"),
                customer_id=contract["customer_id"],
                account_id=contract["account_id"],
                contract_id=sim["contract_id"],
                subscriber_id=sim["subscriber_id"],
                start_time=at,
                type="voice",
                other_party="+4930123456",
                duration_seconds=60,
                charge={"amount": Decimal("0.19"), "currency": "EUR"},
            )
            uow.add(line)
            ids.append(line.id)
        uow.commit("test.usage")
    return ids


def balances(
    engine: Engine, ids: dict[str, Any], *, granted: str, used: str, shared_granted: str
) -> None:
    """A balance of the account, a bucket of the subscriber and one shared by its contract."""
    now = datetime.now(UTC)
    start, end = date(now.year, now.month, 1), date(now.year, now.month, 28)
    with UnitOfWork(engine, setup_actor()) as uow:
        uow.add(
            Balance(
                customer_id=ids["customer_id"],
                account_id=ids["account_id"],
                currency="EUR",
                current=Decimal("-12.50"),
                unbilled=Decimal("7.30"),
                outstanding=Decimal("0"),
                as_of=now,
            )
        )
        uow.add(
            FreeUnitBucket(
                customer_id=ids["customer_id"],
                account_id=ids["account_id"],
                contract_id=ids["contract_id"],
                subscriber_id=ids["subscriber_id"],
                package="DATA_5GB",
                unit="mb",
                granted=Decimal(granted),
                used=Decimal(used),
                period_start=start,
                period_end=end,
                as_of=now,
            )
        )
        uow.add(
            FreeUnitBucket(
                customer_id=ids["customer_id"],
                account_id=ids["account_id"],
                contract_id=ids["contract_id"],
                package="VOICE_SHARED",
                unit="minutes",
                granted=Decimal(shared_granted),
                used=Decimal(0),
                period_start=start,
                period_end=end,
                as_of=now,
            )
        )
        uow.commit("test.balances")


__all__ = ["create_customer", "unique"]
