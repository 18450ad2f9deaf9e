"""Handlers that set and clear listing suppressions (DESIGN section 3): a subscriber's, an
account's (its whole subtree) or a named listing group's traffic listings hidden from anyone
without the privilege to view suppressed listings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, and_, func, or_, select

from adapter.domain import Actor
from adapter.domain.errors import Conflict, NotFound, ValidationFailed
from adapter.domain.model import Account, ListingSuppression, Subscriber, SuppressionScope
from adapter.domain.validation import parse, validating
from adapter.queries.effective import Applied, Origin
from adapter.queries.hierarchy import Node, account_node, ancestors
from adapter.store import tables as t
from adapter.store.reading import read_connection
from adapter.store.uow import UnitOfWork

log = structlog.get_logger(__name__)


def _target_columns(uow: UnitOfWork, scope_type: SuppressionScope, target: str) -> dict[str, Any]:
    """The suppression's target as the columns it is stored (and found) by; ``target`` is a
    subscriber id, an account id or a group name."""
    if scope_type is SuppressionScope.SUBSCRIBER:
        sim = uow.get(Subscriber, target)
        return {
            "customer_id": sim.customer_id,
            "account_id": sim.account_id,
            "contract_id": sim.contract_id,
            "subscriber_id": sim.id,
        }
    if scope_type is SuppressionScope.ACCOUNT:
        account = uow.get(Account, target)
        return {"customer_id": account.customer_id, "account_id": account.id}
    return {"group_name": target}


def active_suppressions(
    uow: UnitOfWork, scope_type: SuppressionScope, target: str
) -> list[ListingSuppression]:
    """The active suppressions of exactly this target (not those inherited from above)."""
    columns = _target_columns(uow, scope_type, target)
    key = {
        SuppressionScope.SUBSCRIBER: "subscriber_id",
        SuppressionScope.ACCOUNT: "account_id",
        SuppressionScope.GROUP: "group_name",
    }[scope_type]
    return uow.find_by(
        ListingSuppression, scope_type=scope_type.value, active=True, **{key: columns[key]}
    )


def set_listing_suppression(
    uow: UnitOfWork, scope_type: SuppressionScope, target: str, data: dict[str, Any]
) -> ListingSuppression:
    """Suppress the listings of a target. An active suppression of the same target takes the
    new ``reason`` and validity instead of a second one being made."""
    existing = active_suppressions(uow, scope_type, target)
    if existing:
        current = existing[0]
        with validating():
            for name in ("reason", "valid_from", "valid_to"):
                if name in data:
                    setattr(current, name, data[name])
        return current
    columns = _target_columns(uow, scope_type, target)
    created = parse(ListingSuppression, {**data, **columns, "scope_type": scope_type.value})
    uow.add(created)
    return created


def clear_listing_suppression(
    uow: UnitOfWork, suppression_id: str, expected_version: int | None = None
) -> ListingSuppression:
    """Lift a suppression (it stays in the record, inactive)."""
    found = uow.find(ListingSuppression, suppression_id)
    if found is None:
        raise NotFound("listing suppression", suppression_id)
    uow.expect_version(found, expected_version)
    if not found.active:
        raise Conflict(f"listing suppression {suppression_id} is already cleared")
    found.active = False
    return found


# --------------------------------------------------------------------------- reading listings
#
# A subscriber's traffic listing for one calendar month (UTC), with suppression enforced: a
# suppression of the subscriber, of its account or any account above it (the whole subtree),
# or of a listing group it is in, that is active and whose validity overlaps the month hides
# the month's lines. Only :func:`reveal_listings` shows them, and it records the reveal in the
# change log first (operation ``listing.reveal``, an entity-less change in the caller's name:
# who, which subscriber, which month, when), so that nobody sees a suppressed line unaudited.
# The CRM API (``/api/v1/subscribers/{id}/listings``) and TMF635 usage use these two functions.

LISTING_REVEAL = "listing.reveal"
"""The operation of the change that records a reveal of suppressed listing lines."""

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Month:
    """A calendar month: ``text`` ``YYYY-MM``; lines from ``start`` (incl.) to ``end`` (excl.),
    instants in UTC; ``first`` and ``last`` its days."""

    text: str
    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(0), UTC)


def parse_month(text: str | None, *, today: date | None = None) -> Month:
    """``YYYY-MM`` (None: the current month, UTC) as a :class:`Month`; ValidationFailed on
    the field ``month`` otherwise."""
    if text is None:
        today = today or datetime.now(UTC).date()
        text = f"{today.year:04d}-{today.month:02d}"
    found = _MONTH.match(text.strip())
    if found is None or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 1900:
        raise ValidationFailed.one("month", "format", "give the month as YYYY-MM (e.g. 2026-03)")
    year, number = int(found.group(1)), int(found.group(2))
    first = date(year, number, 1)
    following = date(year + 1, 1, 1) if number == 12 else date(year, number + 1, 1)
    return Month(f"{year:04d}-{number:02d}", first, following - timedelta(days=1))


@dataclass(frozen=True)
class Listing:
    """One month of a subscriber's listing. ``suppressed``: a suppression hides the month
    (``suppressions`` says which and where each comes from). ``lines`` is the page of usage
    lines (oldest first) when they may be shown (not suppressed, or revealed), else empty;
    ``total`` counts the month's lines either way (a count reveals nothing of a line);
    ``revealed``: suppressed lines shown by :func:`reveal_listings`, whose audit change is
    ``reveal_change_id``."""

    subscriber_id: str
    msisdn: str
    month: Month
    suppressed: bool
    suppressions: list[Applied]
    lines: list[dict[str, Any]]
    total: int
    revealed: bool = False
    reveal_change_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "subscriber_id": self.subscriber_id,
            "msisdn": self.msisdn,
            "month": self.month.text,
            "suppressed": self.suppressed,
            "suppressions": [s.as_dict() for s in self.suppressions],
            "revealed": self.revealed,
            "reveal_change_id": self.reveal_change_id,
            "total": self.total,
            "items": self.lines,
        }


def month_suppressions(conn: Connection, subscriber_id: str, month: Month) -> list[Applied]:
    """The active suppressions whose validity overlaps MONTH and that hide this subscriber's
    listing (its own, its account's or one above it, its listing groups'), each with its
    origin, nearest first. NotFound for an unknown subscriber."""
    row = conn.execute(
        select(t.subscriber.c.data).where(t.subscriber.c.id == subscriber_id)
    ).first()
    if row is None:
        raise NotFound("subscriber", subscriber_id)
    sub = Subscriber.model_validate(row.data)
    chain: list[Node] = [account_node(conn, sub.account_id), *ancestors(conn, sub.account_id)]
    levels = {node.id: i for i, node in enumerate(chain)}
    numbers = {node.id: node.number for node in chain}
    s = t.listing_suppression.c
    conditions = [
        and_(s.scope_type == "subscriber", s.subscriber_id == sub.id),
        and_(s.scope_type == "account", s.account_id.in_(list(levels))),
    ]
    if sub.listing_groups:
        conditions.append(and_(s.scope_type == "group", s.group_name.in_(sub.listing_groups)))
    found: list[Applied] = []
    for data in conn.execute(
        select(s.data).where(s.active.is_(True), or_(*conditions)).order_by(s.id)
    ).scalars():
        item = ListingSuppression.model_validate(data)
        if (item.valid_from is not None and item.valid_from > month.last) or (
            item.valid_to is not None and item.valid_to < month.first
        ):
            continue
        if item.scope_type is SuppressionScope.SUBSCRIBER:
            origin = Origin("own", "subscriber", sub.id, sub.msisdn)
        elif item.scope_type is SuppressionScope.GROUP:
            origin = Origin("group", "listing_group", item.group_name or "", item.group_name)
        else:
            up = levels[item.account_id or ""]
            origin = Origin(
                "account" if up == 0 else "inherited",
                "account",
                item.account_id or "",
                numbers[item.account_id or ""],
                up,
            )
        found.append(Applied(data, origin))
    order = {"own": 0, "account": 1, "inherited": 2, "group": 3}
    found.sort(key=lambda x: (order[x.origin.kind], x.origin.levels_up))
    return found


def _lines(
    conn: Connection, subscriber_id: str, month: Month, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    u = t.usage_record.c
    where = and_(
        u.subscriber_id == subscriber_id, u.start_time >= month.start, u.start_time < month.end
    )
    total = conn.execute(select(func.count()).select_from(t.usage_record).where(where)).scalar()
    if limit == 0:
        return [], int(total or 0)
    rows = conn.execute(
        select(u.data).where(where).order_by(u.start_time, u.id).limit(limit).offset(offset)
    ).scalars()
    return list(rows), int(total or 0)


def _msisdn(conn: Connection, subscriber_id: str) -> str:
    found = conn.execute(
        select(t.subscriber.c.msisdn).where(t.subscriber.c.id == subscriber_id)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("subscriber", subscriber_id)
    return str(found)


def _check_page(limit: int, offset: int) -> None:
    if not 0 <= limit <= 10_000:
        raise ValidationFailed.one("limit", "range", "limit must be between 0 and 10000")
    if offset < 0:
        raise ValidationFailed.one("offset", "range", "offset cannot be negative")


def read_listings(
    conn: Connection, subscriber_id: str, month: Month, *, limit: int = 500, offset: int = 0
) -> Listing:
    """The month's listing as anyone may see it: the lines, or none when suppressed."""
    _check_page(limit, offset)
    msisdn = _msisdn(conn, subscriber_id)
    suppressions = month_suppressions(conn, subscriber_id, month)
    if suppressions:
        _, total = _lines(conn, subscriber_id, month, 0, 0)
        return Listing(subscriber_id, msisdn, month, True, suppressions, [], total)
    lines, total = _lines(conn, subscriber_id, month, limit, offset)
    return Listing(subscriber_id, msisdn, month, False, [], lines, total)


def reveal_listings(
    engine: Engine,
    actor: Actor,
    subscriber_id: str,
    month: Month,
    *,
    limit: int = 500,
    offset: int = 0,
) -> Listing:
    """The month's listing with suppressed lines shown, for a caller entitled to see them
    (the caller checks the privilege). When the month is suppressed, the reveal is first
    committed to the change log as ACTOR (operation :data:`LISTING_REVEAL`, no entity
    changed, summary: subscriber id, month, the suppressions overridden, the lines shown);
    the lines are read only after that commit. A month that is not suppressed is answered
    as :func:`read_listings` does, without an audit change (nothing hidden is shown)."""
    _check_page(limit, offset)
    with read_connection(engine) as conn:
        listing = read_listings(conn, subscriber_id, month, limit=0)
    if not listing.suppressed:
        with read_connection(engine) as conn:
            return read_listings(conn, subscriber_id, month, limit=limit, offset=offset)
    with UnitOfWork(engine, actor) as uow:
        shown = max(0, min(limit, listing.total - offset))
        committed = uow.commit(
            LISTING_REVEAL,
            {
                "subscriber_id": subscriber_id,
                "month": month.text,
                "suppression_ids": [str(s.item.get("id")) for s in listing.suppressions],
                "lines_shown": shown,
                "offset": offset,
            },
        )
    log.info(
        "listing.revealed",
        subscriber_id=subscriber_id,
        month=month.text,
        change_id=committed.id,
        user=actor.originating_user,
    )
    with read_connection(engine) as conn:
        lines, total = _lines(conn, subscriber_id, month, limit, offset)
    return Listing(
        subscriber_id,
        listing.msisdn,
        month,
        True,
        listing.suppressions,
        lines,
        total,
        revealed=True,
        reveal_change_id=committed.id,
    )
