"""What billing must be told about a change: outbox messages, in order per customer.

A message names a billing (CIL) operation and the canonical entities it concerns — kind, id
and the *version* this change wrote — not the CIL payload: the sync worker maps the entity as
of that version through ``mappings/`` when it sends, so a message sent late still says what
this change did, and a mapping change needs no rewrite of queued messages.

The messages are derived from the version rows the change wrote (:func:`plan`), whatever
operation made them: a request, a restore or any other unit of work. They are written in the
change's transaction (:func:`write_messages`, from a staged write of the unit of work), under
the audit chain's lock, which makes the per-customer sequence number gapless and race-free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from adapter.domain.history import stored_diff
from adapter.store import tables as t

# Customer fields CIL CustomerData carries (on every node of the customer), and the account
# fields it carries for the node itself (docs/legacy-interface.md, mappings/fragments).
CUSTOMER_DATA_FIELDS = frozenset({"party", "identifications", "contact_media", "segment", "status"})
NODE_DATA_FIELDS = frozenset({"bill_cycle", "payment_method", "credit_limit", "status"})
HIERARCHY_FIELDS = frozenset({"parent_id", "payment_responsible"})
CONTRACT_FIELDS = frozenset({"status", "rate_plan"})
INFO_FIELD_KINDS = frozenset({"customer", "account"})  # attributes billing keeps as info fields


@dataclass(frozen=True)
class Written:
    """One version row of a change, as the rules read it."""

    kind: str
    id: str
    version: int
    op: str  # create, update, delete
    snapshot: dict[str, Any]
    fields: frozenset[str]  # top-level fields the version changed
    customer_id: str | None

    def ref(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "version": self.version, "op": self.op}


@dataclass(frozen=True)
class Message:
    customer_id: str
    operation: str
    payload: dict[str, Any]


def read_written(conn: Connection, change_id: int) -> list[Written]:
    """The versions ``change_id`` wrote, in the order the unit of work wrote them."""
    v = t.entity_version.c
    rows = conn.execute(
        select(v.entity_type, v.entity_id, v.version, v.op, v.snapshot, v.diff, v.customer_id)
        .where(v.change_id == change_id)
        .order_by(v.id)
    )
    return [
        Written(
            kind=row.entity_type,
            id=row.entity_id,
            version=row.version,
            op=row.op,
            snapshot=row.snapshot,
            fields=frozenset(
                path.split(".")[0] for path in stored_diff(row.op, row.diff, row.snapshot)
            ),
            customer_id=row.customer_id,
        )
        for row in rows
    ]


RESEND = "resend"
"""The key of a ``billing.resync`` request's result that lists the entities to send again:
``[{kind, id, version, op, fields?}]``."""


def resent(conn: Connection, result: Mapping[str, Any] | None) -> list[Written]:
    """The versions a ``billing.resync`` request names in its result, as if its change had
    written them (with the fields it names), so that :func:`plan` gives the messages a change
    of them would have. Nothing for any other result."""
    found: list[Written] = []
    v = t.entity_version.c
    for item in (result or {}).get(RESEND) or []:
        row = conn.execute(
            select(v.snapshot, v.customer_id).where(
                v.entity_type == item["kind"],
                v.entity_id == item["id"],
                v.version == item["version"],
            )
        ).one()
        found.append(
            Written(
                kind=item["kind"],
                id=item["id"],
                version=int(item["version"]),
                op=item["op"],
                snapshot=row.snapshot,
                fields=frozenset(item.get("fields", ())),
                customer_id=row.customer_id,
            )
        )
    return found


def nodes_reader(conn: Connection) -> Callable[[str], list[str]]:
    """The ids of a customer's accounts (billing's nodes), read in the change's transaction."""

    def nodes_of(customer_id: str) -> list[str]:
        a = t.account.c
        query = select(a.id).where(a.customer_id == customer_id).order_by(a.id)
        return [str(i) for i in conn.execute(query).scalars()]

    return nodes_of


def _parents_first(accounts: list[Written]) -> list[Written]:
    """New accounts with each parent created in the same change before its children (billing
    needs the parent's node to exist)."""
    by_id = {w.id: w for w in accounts}
    ordered: list[Written] = []
    placed: set[str] = set()

    def place(w: Written, path: frozenset[str]) -> None:
        if w.id in placed or w.id in path:
            return
        parent = by_id.get(str(w.snapshot.get("parent_id")))
        if parent is not None:
            place(parent, path | {w.id})
        placed.add(w.id)
        ordered.append(w)

    for w in accounts:
        place(w, frozenset())
    return ordered


def plan(written: Sequence[Written], nodes_of: Callable[[str], list[str]]) -> list[Message]:
    """The billing operations a change needs, in the order billing must receive them: new
    nodes (parents first); customer and node data; custom info fields; new contracts;
    discounts; services; and contract status or rate plan changes last (billing refuses
    services and discounts on a deactivated contract). Subscribers travel with their contract;
    listing suppressions, contact persons, balances, free units and usage have no CIL write and
    need no message."""
    by_kind: dict[str, list[Written]] = {}
    for w in written:
        by_kind.setdefault(w.kind, []).append(w)
    accounts = by_kind.get("account", [])
    contracts = by_kind.get("contract", [])
    new_accounts = {w.id for w in accounts if w.op == "create"}
    deactivated = {
        w.id
        for w in contracts
        if w.op == "update" and "status" in w.fields and w.snapshot.get("status") == "deactivated"
    }
    messages: list[Message] = []

    def add(w: Written, operation: str, **extra: Any) -> None:
        customer = w.id if w.kind == "customer" else w.customer_id
        if customer is None:
            return
        payload: dict[str, Any] = {"entity": w.ref(), **extra}
        if w.op == "update":
            payload["fields"] = sorted(w.fields)
        messages.append(Message(customer, operation, payload))

    for w in _parents_first([w for w in accounts if w.op == "create"]):
        add(w, "CustomerNew")
    for w in by_kind.get("customer", []):
        if w.op != "update":
            continue  # a new customer reaches billing with its nodes (CustomerNew)
        nodes = [n for n in nodes_of(w.id) if n not in new_accounts]
        for node in nodes if w.fields & CUSTOMER_DATA_FIELDS else []:
            add(w, "CustomerWrite", node={"kind": "account", "id": node})
        for node in nodes if "addresses" in w.fields else []:
            add(w, "AddressWrite", node={"kind": "account", "id": node})
    for w in accounts:
        if w.op == "update" and w.fields & HIERARCHY_FIELDS:
            add(w, "CustomerHierarchyWrite")
        if w.op == "update" and w.fields & NODE_DATA_FIELDS:
            add(w, "CustomerWrite")
    for w in by_kind.get("attribute_value", []):
        if w.snapshot.get("entity_kind") in INFO_FIELD_KINDS:
            add(w, "CustomerInfoWrite")
    subscribers = {
        str(w.snapshot.get("contract_id")): w
        for w in by_kind.get("subscriber", [])
        if w.op == "create"
    }
    for w in contracts:
        if w.op == "create":
            sim = subscribers.get(w.id)
            add(w, "ContractNew", **({"subscriber": sim.ref()} if sim else {}))
    for w in by_kind.get("discount_assignment", []):
        operation = _discount_operation(w)
        if operation is not None:
            add(w, operation)
    for w in by_kind.get("service_assignment", []):
        if w.op == "create":
            add(w, "ContractServicesAdd")
        elif w.snapshot.get("contract_id") not in deactivated:
            add(w, "ContractServicesWrite")  # billing deactivates a contract's services itself
    for w in contracts:
        if w.op == "update" and w.fields & CONTRACT_FIELDS:
            add(w, "ContractWrite")
    return messages


def _discount_operation(w: Written) -> str | None:
    active = w.snapshot.get("status") == "active"
    if w.op == "create":
        return "DiscountAssign" if active else None
    if w.op == "delete":
        return "DiscountRemove" if active else None
    if "status" in w.fields:
        return "DiscountAssign" if active else "DiscountRemove"
    return None  # CIL cannot change an assignment in place


def write_messages(
    conn: Connection,
    messages: Iterable[Message],
    *,
    change_id: int,
    request_id: str | None,
    at: datetime,
) -> list[tuple[str, int]]:
    """Insert ``messages`` as pending outbox rows, numbering each customer's on from its last
    number. Runs inside the change's transaction, under the chain lock (a staged write), so no
    other transaction numbers the same customer at the same time. Returns (customer, seq)."""
    rows: list[dict[str, Any]] = []
    last: dict[str, int] = {}
    o = t.outbox.c
    for message in messages:
        customer = message.customer_id
        if customer not in last:
            query = select(func.coalesce(func.max(o.seq), 0)).where(o.customer_id == customer)
            last[customer] = int(conn.execute(query).scalar_one())
        last[customer] += 1
        rows.append(
            {
                "customer_id": customer,
                "seq": last[customer],
                "request_id": request_id,
                "change_id": change_id,
                "operation": message.operation,
                "payload": message.payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": None,
                "last_error": None,
                "created_at": at,
                "sent_at": None,
            }
        )
    if rows:
        conn.execute(insert(t.outbox), rows)
    return [(r["customer_id"], r["seq"]) for r in rows]
