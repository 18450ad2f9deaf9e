"""Valid domain objects for tests, with a few fields to override."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from adapter.domain import Actor
from adapter.domain.identifiers import complete_iccid
from adapter.domain.model import (
    Account,
    Address,
    ContactMedium,
    Contract,
    Customer,
    Identification,
    Individual,
    ServiceAssignment,
    ServiceLimit,
    Subscriber,
)

_seq = itertools.count(1)
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def customer(**over: Any) -> Customer:
    n = next(_seq)
    data: dict[str, Any] = {
        "customer_number": f"C{n:06d}",
        "party": Individual(
            given_name="Ana", family_name=f"Müller{n}", birth_date=date(1980, 1, 1 + n % 28)
        ),
        "identifications": [Identification(type="tin", value=f"DE{n:09d}")],
        "contact_media": [ContactMedium(type="email", value=f"ana{n}@example.com")],
        "addresses": [
            Address(
                role="residence",
                lines=[f"Hauptstraße {n}"],
                postcode="10115",
                city="Berlin",
                country="DE",
            )
        ],
    }
    data.update(over)
    return Customer(**data)


def account(c: Customer, **over: Any) -> Account:
    return Account(**{"customer_id": c.id, "number": f"A{next(_seq):06d}", "name": "Main", **over})


def forest(parents: list[int], pays: list[bool]) -> tuple[Customer, list[Account]]:
    """A customer and the random forest a property test drew: account ``i`` goes under
    account ``parents[i] % i``, or is a root when that number is a multiple of 3; it pays when
    ``pays[i]``."""
    c = customer()
    accounts: list[Account] = []
    for i, pick in enumerate(parents):
        parent = accounts[pick % i].id if i and pick % 3 else None
        accounts.append(account(c, parent_id=parent, payment_responsible=pays[i]))
    return c, accounts


def property_actor() -> Actor:
    """An actor with a request id of its own, for the many changes of a property test."""
    return Actor("prop", "hypothesis", "test", uuid.uuid4().hex)


def contract(a: Account, **over: Any) -> Contract:
    return Contract(
        **{
            "customer_id": a.customer_id,
            "account_id": a.id,
            "number": f"CO{next(_seq):06d}",
            "rate_plan": "RP_S",
            **over,
        }
    )


def subscriber(k: Contract, **over: Any) -> Subscriber:
    n = next(_seq)
    return Subscriber(
        **{
            "customer_id": k.customer_id,
            "account_id": k.account_id,
            "contract_id": k.id,
            "msisdn": f"+49170{n:07d}",
            "imsi": f"26201{n:010d}",
            "iccid": complete_iccid("49", n),
            **over,
        }
    )


def service(s: Subscriber, **over: Any) -> ServiceAssignment:
    return ServiceAssignment(
        **{
            "customer_id": s.customer_id,
            "account_id": s.account_id,
            "contract_id": s.contract_id,
            "subscriber_id": s.id,
            "service_code": "DATA",
            "limits": [ServiceLimit(name="data_cap", value=Decimal(10), unit="GB")],
            **over,
        }
    )
