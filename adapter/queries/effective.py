"""What applies to a subscriber, and where it comes from: its own discounts, promotions and
listing suppressions, its contract's, and those of its account and every account above it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from adapter.domain.errors import NotFound
from adapter.domain.model import DiscountAssignment, ListingSuppression, Subscriber
from adapter.queries.hierarchy import Node, account_node, ancestors
from adapter.store import tables as t


@dataclass(frozen=True)
class Origin:
    """``own`` (the subscriber's), ``contract``, ``account`` (its own account), ``inherited``
    (from an account above, ``levels_up`` levels), or ``group`` (a listing group it is in)."""

    kind: str
    entity_kind: str
    entity_id: str
    number: str | None = None
    levels_up: int = 0


@dataclass(frozen=True)
class Applied:
    item: dict[str, Any]
    origin: Origin

    def as_dict(self) -> dict[str, Any]:
        return {"item": self.item, "origin": asdict(self.origin)}


@dataclass(frozen=True)
class Effective:
    subscriber_id: str
    msisdn: str
    on: date
    discounts: list[Applied]
    suppressions: list[Applied]

    @property
    def listing_suppressed(self) -> bool:
        return bool(self.suppressions)

    def as_dict(self) -> dict[str, Any]:
        return {
            "subscriber_id": self.subscriber_id,
            "msisdn": self.msisdn,
            "on": self.on.isoformat(),
            "listing_suppressed": self.listing_suppressed,
            "discounts": [d.as_dict() for d in self.discounts],
            "suppressions": [s.as_dict() for s in self.suppressions],
        }


def effective_for_subscriber(conn: Connection, subscriber_id: str, on: date) -> Effective:
    row = conn.execute(
        select(t.subscriber.c.data).where(t.subscriber.c.id == subscriber_id)
    ).first()
    if row is None:
        raise NotFound("subscriber", subscriber_id)
    sub = Subscriber.model_validate(row.data)
    own_account = account_node(conn, sub.account_id)
    chain: list[Node] = [own_account, *ancestors(conn, sub.account_id)]
    levels = {node.id: i for i, node in enumerate(chain)}
    numbers = {node.id: node.number for node in chain}
    contract_number = conn.execute(
        select(t.contract.c.number).where(t.contract.c.id == sub.contract_id)
    ).scalar_one_or_none()

    def account_origin(account_id: str) -> Origin:
        up = levels[account_id]
        return Origin(
            "account" if up == 0 else "inherited", "account", account_id, numbers[account_id], up
        )

    d = t.discount_assignment.c
    discounts: list[Applied] = []
    for data in conn.execute(
        select(d.data)
        .where(
            d.status == "active",
            or_(
                d.subscriber_id == sub.id,
                and_(d.contract_id == sub.contract_id, d.level == "contract"),
                and_(d.account_id.in_(list(levels)), d.level == "account"),
            ),
        )
        .order_by(d.id)
    ).scalars():
        item = DiscountAssignment.model_validate(data)
        if not item.valid_on(on):
            continue
        if item.level.value == "subscriber":
            origin = Origin("own", "subscriber", sub.id, sub.msisdn)
        elif item.level.value == "contract":
            origin = Origin("contract", "contract", sub.contract_id, contract_number)
        elif levels[item.account_id] > 0 and not item.inherited:
            continue  # an account-level discount that stays on its own account
        else:
            origin = account_origin(item.account_id)
        discounts.append(Applied(data, origin))

    s = t.listing_suppression.c
    suppressions: list[Applied] = []
    conditions = [
        and_(s.scope_type == "subscriber", s.subscriber_id == sub.id),
        and_(s.scope_type == "account", s.account_id.in_(list(levels))),
    ]
    if sub.listing_groups:
        conditions.append(and_(s.scope_type == "group", s.group_name.in_(sub.listing_groups)))
    for data in conn.execute(
        select(s.data).where(s.active.is_(True), or_(*conditions)).order_by(s.id)
    ).scalars():
        item_s = ListingSuppression.model_validate(data)
        if not item_s.valid_on(on):
            continue
        if item_s.scope_type.value == "subscriber":
            origin = Origin("own", "subscriber", sub.id, sub.msisdn)
        elif item_s.scope_type.value == "group":
            origin = Origin("group", "listing_group", item_s.group_name or "", item_s.group_name)
        else:
            origin = account_origin(item_s.account_id or "")
        suppressions.append(Applied(data, origin))
    order = {"own": 0, "contract": 1, "account": 2, "inherited": 3, "group": 4}
    discounts.sort(key=lambda x: (order[x.origin.kind], x.origin.levels_up))
    suppressions.sort(key=lambda x: (order[x.origin.kind], x.origin.levels_up))
    return Effective(sub.id, sub.msisdn, on, discounts, suppressions)
