"""The permission matrix: every route of the API by every role (and no token at all), called on
the real server process with a sample request.

- without a token: **401** (TMF error ``unauthorized``);
- a role lacking one of the privileges the route declares: **403**, a TMF error naming each
  missing privilege;
- a role holding them all: neither 401 nor 403 (nor a 5xx: a sample request the route cannot
  answer is a defect too).

Console pages (``/console``, docs/console.md) are routes of the same app and are checked the
same way through their session cookie: without one the sign-in page (a redirect with
``next=``), a 403 page naming each missing privilege, and neither for a holder (forms carry the
session's CSRF token).

The routes come from ``adapter.api.app.api_routes`` and their privileges from the ``require``
dependencies they declare (as ``tests/unit/api/test_routes.py`` reads them), so a route added
later is covered as soon as it exists: a route without a sample in :data:`SAMPLES` FAILS,
saying to add one. Writes go to throwaway data made for each call (a fresh customer), so that
the matrix changes nothing another call relies on.
"""

from __future__ import annotations

import itertools
import json
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import Engine, func, select

from adapter.api.access import add_user
from adapter.api.app import PUBLIC_PATHS, api_routes, create_app
from adapter.api.auth import PRIVILEGES_ATTRIBUTE
from adapter.api.privileges import ROLES, Privilege
from adapter.console.session import COOKIE, csrf_token
from adapter.requests.apply import submit
from adapter.seed import seed
from adapter.settings import Settings
from adapter.store import tables as t
from tests.integration.api.conftest import RunningApi, create_customer, unique

ANONYMOUS = "(anonymous)"
CONSOLE = "/console"
CALLERS = [ANONYMOUS, *ROLES]


# ------------------------------------------------------------------------------ routes


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    privileges: frozenset[Privilege]

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def _declared(route: APIRoute) -> frozenset[Privilege]:
    """Every privilege the route's ``require`` dependencies name (however deep)."""
    found: set[Privilege] = set()
    stack = [route.dependant]
    while stack:
        current = stack.pop()
        found.update(getattr(current.call, PRIVILEGES_ATTRIBUTE, ()))
        stack.extend(current.dependencies)
    return frozenset(found)


def app_routes() -> list[RouteInfo]:
    """Every method and path of the app as it is now (built without a store) but the public
    ones (health, documentation, the console's sign-in page and static files). A route that
    declares no privilege is included too: it must still refuse a caller without a token."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(data_dir=Path(folder), api_enqueue_sync=False))
        found = []
        for route in api_routes(app):
            path = getattr(route, "path", "")
            if path in PUBLIC_PATHS:
                continue
            if not isinstance(route, APIRoute):
                found += [RouteInfo("GET", path, frozenset())]  # a mount or a bare route
                continue
            for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}):
                found.append(RouteInfo(method, path, _declared(route)))
    return found


ROUTES = app_routes()


# ------------------------------------------------------------------------- sample data


@dataclass
class Data:
    """What the samples fill paths and bodies from: seeded customers (read-only here),
    throwaway customers made on demand for writes, and ids looked up through the API."""

    engine: Engine
    admin: httpx.Client  # an admin's client, to look ids up and to make throwaway data
    customer_id: str = ""  # an individual with a contract, a subscriber and usage
    customer_number: str = ""
    organization_id: str = ""
    account_id: str = ""  # an account with children (a hierarchy to walk)
    contract_id: str = ""
    subscriber_id: str = ""  # a subscriber with usage lines
    usage_month: str = ""
    attribute_name: str = ""
    request_id: str = ""
    failed_request_id: str = ""
    found: dict[str, str] = field(default_factory=dict)

    def entity(self, plural: str) -> str:
        """A seeded entity of a kind named as in the paths (customers, accounts…)."""
        return {
            "customers": self.customer_id,
            "accounts": self.account_id,
            "contracts": self.contract_id,
            "subscribers": self.subscriber_id,
        }[plural]

    def first_id(self, path: str, **query: str) -> str:
        """The id of the first item the API lists at PATH (as admin), looked up once; a
        placeholder when the list is empty (the route then answers 404, which is fine)."""
        key = f"{path}?{sorted(query.items())}"
        if key not in self.found:
            answer = self.admin.get(path, params=query)
            items = answer.json() if answer.status_code == 200 else []
            if isinstance(items, dict):
                items = items.get("items", [])
            self.found[key] = str(items[0]["id"]) if items else "no-such-id"
        return self.found[key]

    def fresh_customer(self) -> dict[str, str]:
        """A new individual with an account, an active contract and its subscriber."""
        made = create_customer(self.engine)
        number = made["number"]
        status = _submit(
            self.engine,
            "contract.create",
            {
                "account": f"{number}.1",
                "number": f"CO-{number}",
                "rate_plan": "RP_M",
                "status": "active",
                "subscriber": {"msisdn": f"+49170{next(_serials):07d}"},
            },
            customer=number,
        )
        with self.engine.connect() as conn:
            account = conn.scalar(select(t.account.c.id).where(t.account.c.number == f"{number}.1"))
            contract = status.result["contract_id"] if status.result else None
            contract = contract or conn.scalar(
                select(t.contract.c.id).where(t.contract.c.number == f"CO-{number}")
            )
            subscriber = conn.scalar(
                select(t.subscriber.c.id).where(t.subscriber.c.contract_id == contract)
            )
        return {
            "customers": str(made["id"]),
            "customer_number": number,
            "accounts": str(account),
            "contracts": str(contract),
            "subscribers": str(subscriber),
        }

    def fresh_organization(self) -> str:
        number = unique("ORG")
        status = _submit(
            self.engine,
            "customer.create",
            {
                "customer_number": number,
                "segment": "corporate",
                "party": {"kind": "organization", "name": f"Matrix {number} GmbH"},
                "account": {"number": f"{number}.1", "name": "head office"},
            },
        )
        return str(status.customer_id)

    def fresh_attribute(self) -> str:
        name = f"matrix_{uuid.uuid4().hex[:10]}"
        made = self.admin.post(
            "/api/v1/attributes",
            json={"name": name, "label": "Matrix", "type": "string", "entity_kind": "customer"},
        )
        assert made.status_code == 201, made.text
        return name


_serials = itertools.count(1)


def _submit(
    engine: Engine, operation: str, payload: dict[str, Any], customer: str | None = None
) -> Any:
    envelope = {
        "request_id": unique("matrix"),
        "originating_user": "matrix.setup",
        "channel": "test",
        "operation": operation,
        "payload": payload,
    }
    if customer:
        envelope["customer"] = customer
    status = submit(engine, envelope, principal="pytest")
    assert status.status in ("applied", "synced"), status
    return status


def _load(engine: Engine, admin: httpx.Client) -> Data:
    seed(engine, 6, 77, user="matrix.setup")
    data = Data(engine, admin)
    with engine.connect() as conn:
        parent = t.account.alias("parent")
        data.account_id = conn.execute(
            select(parent.c.id)
            .join(t.account, t.account.c.parent_id == parent.c.id)
            .order_by(parent.c.id)
            .limit(1)
        ).scalar_one()
        usage = conn.execute(
            select(
                t.usage_record.c.subscriber_id,
                t.usage_record.c.contract_id,
                t.usage_record.c.customer_id,
                func.min(t.usage_record.c.start_time).label("first"),
            )
            .join(t.customer, t.customer.c.id == t.usage_record.c.customer_id)
            .where(t.customer.c.party_kind == "individual")
            .group_by(
                t.usage_record.c.subscriber_id,
                t.usage_record.c.contract_id,
                t.usage_record.c.customer_id,
            )
            .order_by(t.usage_record.c.subscriber_id)
            .limit(1)
        ).one()
        data.subscriber_id = usage.subscriber_id
        data.contract_id = usage.contract_id
        data.customer_id = usage.customer_id
        first = usage.first
        data.usage_month = first[:7] if isinstance(first, str) else first.strftime("%Y-%m")
        data.customer_number = str(
            conn.scalar(
                select(t.customer.c.customer_number).where(t.customer.c.id == data.customer_id)
            )
        )
        data.organization_id = str(
            conn.scalar(
                select(t.customer.c.id)
                .where(t.customer.c.party_kind == "organization")
                .order_by(t.customer.c.id)
                .limit(1)
            )
        )
        data.attribute_name = str(
            conn.scalar(
                select(t.attribute_definition.c.name)
                .order_by(t.attribute_definition.c.name)
                .limit(1)
            )
        )
    for plural in KINDS:  # an attribute of each kind, for the values' samples
        made = admin.post(
            "/api/v1/attributes",
            json={
                "name": f"matrix_{plural}",
                "label": f"Matrix {plural}",
                "type": "string",
                "entity_kind": plural.removesuffix("s"),
            },
        )
        assert made.status_code == 201, made.text
    data.request_id = _submit(
        engine, "customer.update", {"customer": data.customer_id, "patch": {"segment": "matrix"}}
    ).request_id
    failed = submit(
        engine,
        {
            "request_id": unique("matrix-failed"),
            "originating_user": "matrix.setup",
            "channel": "test",
            "operation": "customer.update",
            "payload": {"customer": "no-such-customer", "patch": {"segment": "x"}},
        },
        principal="pytest",
    )
    assert failed.status == "failed", failed
    data.failed_request_id = failed.request_id
    return data


# ----------------------------------------------------------------------------- samples


@dataclass(frozen=True)
class Call:
    """One sample request, path parameters already filled."""

    path_params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    json: Any = None
    content_type: str = "application/json"
    form: dict[str, str] | None = None  # console POSTs (the CSRF token is added)


Sample = Callable[[Data], Call]
"""Makes the sample request of a route; called once per caller, so that a write gets fresh
throwaway data each time."""

MERGE = "application/merge-patch+json"
TMF_CUSTOMER = "/tmf-api/customerManagement/v4"
TMF_PARTY = "/tmf-api/partyManagement/v4"
TMF_ACCOUNT = "/tmf-api/accountManagement/v4"
TMF_PRODUCT = "/tmf-api/productInventory/v4"
TMF_USAGE = "/tmf-api/usageManagement/v4"
TMF_BUCKET = "/tmf-api/prepayBalanceManagement/v4"
KINDS = ("customers", "accounts", "contracts", "subscribers")


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _tmf_customer_body(d: Data) -> Call:
    number = unique("TMF")
    return Call(
        json={
            "name": "Matrix Person",
            "characteristic": [{"name": "customerNumber", "value": number}],
            "engagedParty": {
                "@referredType": "Individual",
                "givenName": "Mat",
                "familyName": f"Rix{number[-6:]}",
            },
        }
    )


def _tmf_account_body(d: Data) -> Call:
    fresh = d.fresh_customer()
    return Call(
        json={
            "name": "matrix branch",
            "characteristic": [{"name": "accountNumber", "value": f"{fresh['customer_number']}.2"}],
            "relatedParty": [{"id": fresh["customers"], "role": "customer"}],
            "accountRelationship": [
                {"relationshipType": "parent", "account": {"id": fresh["accounts"]}}
            ],
        }
    )


def _tmf_product_body(d: Data) -> Call:
    fresh = d.fresh_customer()
    return Call(
        json={
            "@type": "DiscountProduct",
            "productSpecification": {"id": "LOYAL10"},
            "productPrice": [{"productPriceAlteration": [{"price": {"percentage": 10}}]}],
            "productRelationship": [
                {"relationshipType": "appliesTo", "id": f"contract:{fresh['contracts']}"}
            ],
        }
    )


SAMPLES: dict[str, Sample] = {
    # -- system, search, customers
    "GET /api/v1/whoami": lambda d: Call(),
    "GET /api/v1/search": lambda d: Call(query={"customer_number": d.customer_number}),
    "GET /api/v1/customers/{customer_id}": lambda d: Call({"customer_id": d.customer_id}),
    "PATCH /api/v1/customers/{customer_id}": lambda d: Call(
        {"customer_id": d.fresh_customer()["customers"]},
        json={"segment": "matrix"},
        content_type=MERGE,
    ),
    # -- hierarchy
    "GET /api/v1/accounts/{account_id}/tree": lambda d: Call(
        {"account_id": d.account_id}, query={"depth": "1"}
    ),
    "GET /api/v1/accounts/{account_id}/children": lambda d: Call({"account_id": d.account_id}),
    "GET /api/v1/accounts/{account_id}/payer": lambda d: Call({"account_id": d.account_id}),
    "GET /api/v1/accounts/{account_id}/ancestors": lambda d: Call({"account_id": d.account_id}),
    "GET /api/v1/accounts/{account_id}/tree.svg": lambda d: Call(
        {"account_id": d.account_id}, query={"depth": "2"}
    ),
    # -- subscribers
    "GET /api/v1/subscribers/{subscriber_id}/listings": lambda d: Call(
        {"subscriber_id": d.subscriber_id}, query={"month": d.usage_month}
    ),
    "POST /api/v1/subscribers/{subscriber_id}/listings/reveal": lambda d: Call(
        {"subscriber_id": d.subscriber_id}, query={"month": d.usage_month}
    ),
    "GET /api/v1/subscribers/{subscriber_id}/effective": lambda d: Call(
        {"subscriber_id": d.subscriber_id}
    ),
    "GET /api/v1/subscribers/{subscriber_id}/balances": lambda d: Call(
        {"subscriber_id": d.subscriber_id}
    ),
    # -- attributes (definitions)
    "GET /api/v1/attributes": lambda d: Call(),
    "GET /api/v1/attributes/{name}": lambda d: Call({"name": d.attribute_name}),
    "POST /api/v1/attributes": lambda d: Call(
        json={
            "name": f"matrix_{uuid.uuid4().hex[:10]}",
            "label": "Matrix",
            "type": "string",
            "entity_kind": "customer",
        }
    ),
    "PATCH /api/v1/attributes/{name}": lambda d: Call(
        {"name": d.fresh_attribute()}, json={"label": "Matrix, changed"}, content_type=MERGE
    ),
    # -- audit, requests, dead letters
    "GET /api/v1/audit": lambda d: Call(
        query={"entity_type": "customer", "entity_id": d.customer_id}
    ),
    "POST /api/v1/requests": lambda d: Call(
        json={
            "operation": "customer.update",
            "payload": {"customer": d.fresh_customer()["customers"], "patch": {"segment": "m"}},
        }
    ),
    "GET /api/v1/requests/{request_id}": lambda d: Call({"request_id": d.request_id}),
    "GET /api/v1/deadletters": lambda d: Call(),
    "GET /api/v1/deadletters/{request_id}": lambda d: Call({"request_id": d.failed_request_id}),
    # -- TMF629 customer
    f"GET {TMF_CUSTOMER}/customer": lambda d: Call(query={"limit": "5"}),
    f"GET {TMF_CUSTOMER}/customer/{{customer_id}}": lambda d: Call({"customer_id": d.customer_id}),
    f"POST {TMF_CUSTOMER}/customer": _tmf_customer_body,
    f"PATCH {TMF_CUSTOMER}/customer/{{customer_id}}": lambda d: Call(
        {"customer_id": d.fresh_customer()["customers"]},
        json={"characteristic": [{"name": "segment", "value": "matrix"}]},
        content_type=MERGE,
    ),
    f"DELETE {TMF_CUSTOMER}/customer/{{customer_id}}": lambda d: Call(
        {"customer_id": d.fresh_customer()["customers"]}
    ),
    # -- TMF632 party
    f"GET {TMF_PARTY}/individual": lambda d: Call(query={"limit": "5"}),
    f"GET {TMF_PARTY}/individual/{{party_id}}": lambda d: Call({"party_id": d.customer_id}),
    f"PATCH {TMF_PARTY}/individual/{{party_id}}": lambda d: Call(
        {"party_id": d.fresh_customer()["customers"]},
        json={"nationality": "DE"},
        content_type=MERGE,
    ),
    f"POST {TMF_PARTY}/individual": lambda d: Call(json={"givenName": "Not", "familyName": "Made"}),
    f"DELETE {TMF_PARTY}/individual/{{party_id}}": lambda d: Call({"party_id": d.customer_id}),
    f"GET {TMF_PARTY}/organization": lambda d: Call(query={"limit": "5"}),
    f"GET {TMF_PARTY}/organization/{{party_id}}": lambda d: Call({"party_id": d.organization_id}),
    f"PATCH {TMF_PARTY}/organization/{{party_id}}": lambda d: Call(
        {"party_id": d.fresh_organization()}, json={"tradingName": "Matrix"}, content_type=MERGE
    ),
    f"POST {TMF_PARTY}/organization": lambda d: Call(json={"name": "Not Made GmbH"}),
    f"DELETE {TMF_PARTY}/organization/{{party_id}}": lambda d: Call(
        {"party_id": d.organization_id}
    ),
    # -- TMF666 account
    f"GET {TMF_ACCOUNT}/billingAccount": lambda d: Call(query={"limit": "5"}),
    f"GET {TMF_ACCOUNT}/billingAccount/{{account_id}}": lambda d: Call(
        {"account_id": d.account_id}
    ),
    f"POST {TMF_ACCOUNT}/billingAccount": _tmf_account_body,
    f"PATCH {TMF_ACCOUNT}/billingAccount/{{account_id}}": lambda d: Call(
        {"account_id": d.fresh_customer()["accounts"]},
        json={"characteristic": [{"name": "paymentResponsible", "value": True}]},
        content_type=MERGE,
    ),
    f"DELETE {TMF_ACCOUNT}/billingAccount/{{account_id}}": lambda d: Call(
        {"account_id": d.account_id}
    ),
    f"GET {TMF_ACCOUNT}/billFormat": lambda d: Call(),
    f"GET {TMF_ACCOUNT}/billFormat/{{format_id}}": lambda d: Call(
        {"format_id": d.first_id(f"{TMF_ACCOUNT}/billFormat")}
    ),
    f"GET {TMF_ACCOUNT}/billingCycleSpecification": lambda d: Call(),
    f"GET {TMF_ACCOUNT}/billingCycleSpecification/{{cycle_id}}": lambda d: Call(
        {"cycle_id": d.first_id(f"{TMF_ACCOUNT}/billingCycleSpecification")}
    ),
    # -- TMF637 product
    f"GET {TMF_PRODUCT}/product": lambda d: Call(query={"relatedParty.id": d.customer_id}),
    f"GET {TMF_PRODUCT}/product/{{product_id}}": lambda d: Call(
        {"product_id": f"contract:{d.contract_id}"}
    ),
    f"POST {TMF_PRODUCT}/product": _tmf_product_body,
    f"PATCH {TMF_PRODUCT}/product/{{product_id}}": lambda d: Call(
        {"product_id": f"contract:{d.fresh_customer()['contracts']}"},
        json={"status": "suspended"},
        content_type=MERGE,
    ),
    f"DELETE {TMF_PRODUCT}/product/{{product_id}}": lambda d: Call(
        {"product_id": f"contract:{d.fresh_customer()['contracts']}"}
    ),
    # -- TMF635 usage (read only: writes are 405 for every caller)
    f"GET {TMF_USAGE}/usage": lambda d: Call(
        query={"subscriber": d.subscriber_id, "month": d.usage_month}
    ),
    f"GET {TMF_USAGE}/usage/{{usage_id}}": lambda d: Call(
        {
            "usage_id": d.first_id(
                f"{TMF_USAGE}/usage", subscriber=d.subscriber_id, month=d.usage_month
            )
        }
    ),
    f"POST {TMF_USAGE}/usage": lambda d: Call(json={}),
    f"PUT {TMF_USAGE}/usage/{{usage_id}}": lambda d: Call({"usage_id": "x"}, json={}),
    f"PATCH {TMF_USAGE}/usage/{{usage_id}}": lambda d: Call(
        {"usage_id": "x"}, json={}, content_type=MERGE
    ),
    f"DELETE {TMF_USAGE}/usage/{{usage_id}}": lambda d: Call({"usage_id": "x"}),
    f"GET {TMF_USAGE}/usageSpecification": lambda d: Call(),
    f"GET {TMF_USAGE}/usageSpecification/{{specification_id}}": lambda d: Call(
        {"specification_id": d.first_id(f"{TMF_USAGE}/usageSpecification")}
    ),
    f"POST {TMF_USAGE}/usageSpecification": lambda d: Call(json={}),
    f"PUT {TMF_USAGE}/usageSpecification/{{specification_id}}": lambda d: Call(
        {"specification_id": "x"}, json={}
    ),
    f"PATCH {TMF_USAGE}/usageSpecification/{{specification_id}}": lambda d: Call(
        {"specification_id": "x"}, json={}, content_type=MERGE
    ),
    f"DELETE {TMF_USAGE}/usageSpecification/{{specification_id}}": lambda d: Call(
        {"specification_id": "x"}
    ),
    # -- TMF654 bucket (read only)
    f"GET {TMF_BUCKET}/bucket": lambda d: Call(query={"relatedParty.id": d.customer_id}),
    f"GET {TMF_BUCKET}/bucket/{{bucket_id}}": lambda d: Call(
        {"bucket_id": d.first_id(f"{TMF_BUCKET}/bucket", **{"relatedParty.id": d.customer_id})}
    ),
    f"POST {TMF_BUCKET}/bucket": lambda d: Call(json={}),
    f"PUT {TMF_BUCKET}/bucket/{{bucket_id}}": lambda d: Call({"bucket_id": "x"}, json={}),
    f"PATCH {TMF_BUCKET}/bucket/{{bucket_id}}": lambda d: Call(
        {"bucket_id": "x"}, json={}, content_type=MERGE
    ),
    f"DELETE {TMF_BUCKET}/bucket/{{bucket_id}}": lambda d: Call({"bucket_id": "x"}),
}
"""``METHOD path-template`` → how to call it. A route of the app missing here fails the test."""


def _kind_samples(plural: str) -> dict[str, Sample]:
    """History, versions, restore and attribute values: one route of each per entity kind."""
    base = f"/api/v1/{plural}/{{entity_id}}"

    def seeded(d: Data) -> dict[str, str]:
        return {"entity_id": d.entity(plural)}

    def fresh(d: Data) -> dict[str, str]:
        return {"entity_id": d.fresh_customer()[plural]}

    return {
        f"GET {base}/history": lambda d: Call(seeded(d)),
        f"GET {base}/as-of": lambda d: Call(seeded(d), query={"at": _now()}),
        f"GET {base}/versions": lambda d: Call(seeded(d)),
        f"GET {base}/versions/{{number}}": lambda d: Call({**seeded(d), "number": "1"}),
        f"POST {base}/restore": lambda d: Call(fresh(d), json={"version": 1}),
        f"GET {base}/attributes": lambda d: Call(seeded(d)),
        f"PUT {base}/attributes": lambda d: Call(fresh(d), json={f"matrix_{plural}": "x"}),
    }


for _plural in KINDS:
    SAMPLES |= _kind_samples(_plural)


def _console_restore(d: Data) -> Call:
    fresh = d.fresh_customer()["customers"]
    return Call(
        {"kind": "customers", "ref": fresh},
        form={"entity_type": "customer", "entity_id": fresh, "version": "1", "field": "segment"},
    )


SAMPLES |= {
    # -- the console (cookie session, HTML pages; docs/console.md)
    f"GET {CONSOLE}": lambda d: Call(),
    f"POST {CONSOLE}/sign-out": lambda d: Call(),
    f"GET {CONSOLE}/search": lambda d: Call(query={"customer_number": d.customer_number}),
    f"GET {CONSOLE}/customers/{{ref}}": lambda d: Call({"ref": d.customer_id}),
    f"GET {CONSOLE}/accounts/{{ref}}": lambda d: Call({"ref": d.account_id}),
    f"GET {CONSOLE}/api/accounts/{{account_id}}/children": lambda d: Call(
        {"account_id": d.account_id}
    ),
    f"GET {CONSOLE}/accounts/{{ref}}/tree": lambda d: Call({"ref": d.account_id}),
    f"GET {CONSOLE}/{{kind}}/{{ref}}/history": lambda d: Call(
        {"kind": "customers", "ref": d.customer_id}
    ),
    f"POST {CONSOLE}/{{kind}}/{{ref}}/restore": _console_restore,
    f"GET {CONSOLE}/subscribers/{{ref}}/listings": lambda d: Call(
        {"ref": d.subscriber_id}, query={"month": d.usage_month}
    ),
    f"POST {CONSOLE}/subscribers/{{ref}}/listings/reveal": lambda d: Call(
        {"ref": d.subscriber_id}, form={"month": d.usage_month}
    ),
    f"GET {CONSOLE}/attributes": lambda d: Call(),
    f"POST {CONSOLE}/attributes": lambda d: Call(
        form={
            "name": f"matrix_{uuid.uuid4().hex[:10]}",
            "label": "Matrix",
            "type": "string",
            "entity_kind": "customer",
        }
    ),
    f"POST {CONSOLE}/attributes/{{name}}/{{action}}": lambda d: Call(
        {"name": d.fresh_attribute(), "action": "retire"}
    ),
    f"GET {CONSOLE}/requests": lambda d: Call(),
    f"GET {CONSOLE}/deadletters": lambda d: Call(),
    f"GET {CONSOLE}/deadletters/{{request_id}}": lambda d: Call(
        {"request_id": d.failed_request_id}
    ),
    f"GET {CONSOLE}/{{path:path}}": lambda d: Call({"path": "no-such-page"}),
}


# ---------------------------------------------------------------------------- fixtures


@dataclass
class Who:
    """One caller: a role's user with its token (none: anonymous), as an API client (Bearer)
    and as a console session (the cookie)."""

    token: str | None
    api: httpx.Client
    console: httpx.Client


@pytest.fixture(scope="module")
def callers(api_server: RunningApi, api_engine: Engine) -> Iterator[dict[str, Who]]:
    """One caller per role and one without a token."""
    made = {ANONYMOUS: Who(None, api_server.client(), api_server.client())}
    for role in ROLES:
        token = add_user(api_engine, unique(f"matrix-{role}"), role).token
        made[role] = Who(token, api_server.client(token), api_server.client())
    yield made
    for who in made.values():
        who.api.close()
        who.console.close()


@pytest.fixture(scope="module")
def data(api_engine: Engine, callers: dict[str, Who]) -> Data:
    return _load(api_engine, callers["admin"].api)


# ------------------------------------------------------------------------------- tests


def _console(route: RouteInfo) -> bool:
    """Console pages authenticate with the session cookie and answer HTML (docs/console.md)."""
    return route.path == CONSOLE or route.path.startswith(f"{CONSOLE}/")


def _send(who: Who, route: RouteInfo, call: Call) -> httpx.Response:
    try:
        # "{name:converter}" (Starlette) fills like "{name}"
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path).format(**call.path_params)
    except KeyError as missing:
        pytest.fail(f"the sample of {route.key} fills no path parameter {missing}")
    if _console(route):
        form = dict(call.form or {})
        if route.method == "POST" and who.token:
            form["csrf"] = csrf_token(who.token)
        # The session cookie goes in each request's header: a sign-out's cookie deletion
        # lands in the client's jar, which an explicit header overrides.
        cookie = {"Cookie": f"{COOKIE}={who.token}"} if who.token else {}
        return who.console.request(
            route.method, path, params=call.query or None, data=form or None, headers=cookie
        )
    headers = {"Content-Type": call.content_type} if call.json is not None else {}
    return who.api.request(
        route.method,
        path,
        params=call.query or None,
        content=None if call.json is None else json.dumps(call.json).encode(),
        headers=headers,
    )


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def _signs_in(response: httpx.Response) -> bool:
    """Sent to the sign-in page to come back afterwards (``next=``): no usable session. A
    sign-out also ends there, without ``next``."""
    location = response.headers.get("location", "")
    return response.status_code in (302, 303, 307) and "/sign-in?next=" in location


def _verdict(role: str, route: RouteInfo, response: httpx.Response) -> str | None:
    """What is wrong with the answer to ROLE, or None. API routes: 401 (TMF error with a
    Bearer challenge) without a token, 403 TMF error naming each missing privilege. Console
    pages: the sign-in page without a session, a 403 page naming each missing privilege."""
    status = response.status_code
    seen = f"{status} {response.text[:300]}"
    console = _console(route)
    if role == ANONYMOUS:
        if console:
            return None if _signs_in(response) else f"no session: expected sign-in, got {seen}"
        if status != 401 or _error_code(response) != "unauthorized":
            return f"without a token expected 401 unauthorized, got {seen}"
        if "Bearer" not in response.headers.get("WWW-Authenticate", ""):
            return "401 without 'WWW-Authenticate: Bearer'"
        return None
    missing = sorted(p.value for p in route.privileges - ROLES[role])
    if missing:
        if console:
            if status != 403:
                return f"lacks {', '.join(missing)}: expected a 403 page, got {seen}"
            unnamed = [p for p in missing if p not in response.text]
            return f"403 page does not name {unnamed}" if unnamed else None
        if status != 403 or _error_code(response) != "forbidden":
            return f"lacks {', '.join(missing)}: expected 403 forbidden, got {seen}"
        body = response.json()
        named = {d.get("message") for d in body.get("details", [])}
        unnamed = [p for p in missing if p not in body.get("message", "") or p not in named]
        if unnamed:
            return f"403 does not name the missing privilege(s) {unnamed}: {seen}"
        return None
    if status in (401, 403) or (console and _signs_in(response)):
        return f"holds {sorted(p.value for p in route.privileges)} but was refused: {seen}"
    if status >= 500:
        return f"holds the privileges; the sample request failed on the server: {seen}"
    return None


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.key)
def test_route_answers_each_role_as_its_privileges_say(
    route: RouteInfo, data: Data, callers: dict[str, Who]
) -> None:
    """401 without a token, 403 naming the privilege for a role without it, and neither for
    a role that holds every privilege the route declares."""
    sample = SAMPLES.get(route.key)
    if sample is None:
        pytest.fail(
            f"{route.key} has no sample request in SAMPLES of "
            "tests/integration/api/test_permission_matrix.py: add one (how to fill its path, "
            "query and body) so that the permission matrix covers it"
        )
    wrong = {}
    for role in CALLERS:
        response = _send(callers[role], route, sample(data))
        problem = _verdict(role, route, response)
        if problem:
            wrong[role] = problem
    assert not wrong, f"{route.key} (declares {sorted(p.value for p in route.privileges)}):\n" + (
        "\n".join(f"  {role}: {problem}" for role, problem in wrong.items())
    )


def test_every_sample_names_a_route_that_exists() -> None:
    """A sample left behind for a route that was renamed or removed is reported, so the
    table stays the list of what the API serves."""
    keys = {r.key for r in ROUTES}
    assert sorted(set(SAMPLES) - keys) == []


def test_the_matrix_sees_the_routes_and_their_privileges() -> None:
    """The enumeration finds the API's routes with what they declare (the matrix cannot pass
    by seeing nothing)."""
    found = {r.key: r.privileges for r in ROUTES}
    assert found["GET /api/v1/whoami"] == frozenset()
    assert found["PATCH /api/v1/customers/{customer_id}"] == {Privilege.CUSTOMERS_WRITE}
    assert all(r.path not in PUBLIC_PATHS for r in ROUTES)


def test_the_verdict_catches_each_way_a_route_can_be_wrong() -> None:
    """The checks can fail: an open route, a refusal of the wrong kind, a 403 that names no
    privilege, a refused holder and a server error are all reported."""
    route = RouteInfo("GET", "/x", frozenset({Privilege.AUDIT_READ}))
    page = RouteInfo("GET", f"{CONSOLE}/x", frozenset({Privilege.AUDIT_READ}))

    def answer(status: int, body: dict[str, Any], **headers: str) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers)

    forbidden = {"code": "forbidden", "message": "needs audit.read", "details": []}
    assert _verdict(ANONYMOUS, route, answer(200, {}))
    assert _verdict(ANONYMOUS, route, answer(401, {"code": "unauthorized"}))  # no challenge
    assert _verdict("agent", route, answer(200, {}))
    assert _verdict("agent", route, answer(404, {"code": "not_found"}))
    assert _verdict("agent", route, answer(403, forbidden))  # not in details
    assert _verdict("supervisor", route, answer(403, forbidden))
    assert _verdict("supervisor", route, answer(500, {"code": "internal_error"}))
    named = {**forbidden, "details": [{"message": "audit.read"}]}
    assert _verdict("agent", route, answer(403, named)) is None
    assert _verdict("supervisor", route, answer(404, {"code": "not_found"})) is None
    challenge = {"WWW-Authenticate": 'Bearer realm="crm"'}
    assert _verdict(ANONYMOUS, route, answer(401, {"code": "unauthorized"}, **challenge)) is None
    sign_in = {"location": "/console/sign-in?next=%2Fconsole%2Fx"}
    assert _verdict(ANONYMOUS, page, answer(200, {}))
    assert _verdict(ANONYMOUS, page, answer(303, {}, **sign_in)) is None
    assert _verdict("supervisor", page, answer(303, {}, **sign_in))
    assert _verdict("agent", page, httpx.Response(403, text="forbidden"))
    assert _verdict("agent", page, httpx.Response(403, text="needs audit.read")) is None
