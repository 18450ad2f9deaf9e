"""Discounts and promotions, balances, free units and usage records."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update

from .catalog import DISCOUNTS
from .codes import CmsError
from .context import Context, resolve_contract, resolve_customer
from .soap import Node, add, add_opt, element, need
from .state import (
    balance,
    contract,
    discount_assignment,
    free_unit,
    next_id,
    usage_record,
    utc_text,
)

USAGE_DEFAULT = 100
USAGE_MAX = 1000
CENT = Decimal("0.01")


def discount_assign(ctx: Context, req: Node) -> Any:
    """Assign a catalogue discount (D) or promotion (P) to a customer node (inherited by its
    subtree unless ``inherited`` is false) or to a contract; exactly one of the two."""
    ia = req.need("inputAttributes")
    customer_ref, contract_ref = ia.child("customer"), ia.child("contract")
    if (customer_ref is None) == (contract_ref is None):
        raise CmsError("CMS.RC6700", "discount assign: give either customer or contract")
    kind = need(ia.token("kind"), "kind")
    code = need(ia.token("pdCode"), "pdCode")
    known = DISCOUNTS.get(code)
    if known is None:
        raise CmsError("CMS.RC6751", f"no discount or promotion {code} in the catalogue", code)
    if known != kind:
        label = {"D": "discount", "P": "promotion"}
        raise CmsError("CMS.RC6751", f"{code} is a {label[known]}, not a {label[kind]}", code, kind)
    value = need(ia.decimal("value"), "value")
    value_type = ia.token("valueType")
    currency = ia.token("currency")
    if value < 0:
        raise CmsError("CMS.RC6700", "discount assign: value must not be negative")
    if value_type == "P" and value > 100:
        raise CmsError("CMS.RC6700", "discount assign: a percentage is at most 100")
    if value_type == "A" and currency is None:
        raise CmsError("CMS.RC6700", "discount assign: an amount (valueType A) needs currency")
    valid_from, valid_to = ia.date("validFrom"), ia.date("validTo")
    if valid_from and valid_to and valid_to < valid_from:
        raise CmsError("CMS.RC6700", "discount assign: validTo is before validFrom")
    cs_id = co_id = None
    if customer_ref is not None:
        owner = resolve_customer(ctx, customer_ref)
        if owner.cs_status == "d":
            raise CmsError(
                "CMS.RC6711", f"customer {owner.cs_id_pub} is deactivated", owner.cs_id_pub
            )
        cs_id = owner.cs_id
    else:
        target = resolve_contract(ctx, contract_ref)
        if target.co_status == "d":
            raise CmsError(
                "CMS.RC6715", f"contract {target.co_id_pub} is deactivated", target.co_id_pub
            )
        co_id = target.co_id
    inherited = ia.boolean("inherited")
    assign_id = next_id(ctx.conn, "assignment")
    ctx.conn.execute(
        insert(discount_assignment).values(
            assign_id=assign_id,
            cs_id=cs_id,
            co_id=co_id,
            kind=kind,
            pd_code=code,
            value=str(value),
            value_type=value_type,
            currency=currency,
            inherited=(cs_id is not None) if inherited is None else inherited,
            valid_from=valid_from.isoformat() if valid_from else None,
            valid_to=valid_to.isoformat() if valid_to else None,
            assigned_at=utc_text(ctx.now),
        )
    )
    out = element("discountAssignResponse")
    add(out, "assignId", assign_id)
    return out


def discount_remove(ctx: Context, req: Node) -> Any:
    """End an assignment. An unknown id is ``CMS.RC6750``; one removed before is
    ``CMS.RC6752``, so that a client retrying a removal can tell the two apart."""
    ia = req.need("inputAttributes")
    assign_id = ia.long("assignId")
    row = ctx.conn.execute(
        select(discount_assignment).where(discount_assignment.c.assign_id == assign_id)
    ).first()
    if row is None:
        raise CmsError("CMS.RC6750", f"no discount assignment {assign_id}", str(assign_id))
    if row.removed_at is not None:
        raise CmsError(
            "CMS.RC6752",
            f"discount assignment {assign_id} was removed at {row.removed_at}",
            str(assign_id),
        )
    ctx.conn.execute(
        update(discount_assignment)
        .where(discount_assignment.c.assign_id == assign_id)
        .values(removed_at=utc_text(ctx.now))
    )
    return element("discountRemoveResponse")


def _money(parent: Any, name: str, amount: Decimal, currency: str) -> None:
    node = add(parent, name)
    add(node, "amount", amount.quantize(CENT))
    add(node, "currency", currency)


def balances_read(ctx: Context, req: Node) -> Any:
    """The balance of a customer node: the balances of its own contracts (all statuses),
    summed per currency; no contracts, no balance."""
    owner = resolve_customer(ctx, req.child("inputAttributes"))
    rows = ctx.conn.execute(
        select(balance)
        .join(contract, contract.c.co_id == balance.c.co_id)
        .where(contract.c.cs_id == owner.cs_id)
    ).all()
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    as_of: dict[str, str] = {}
    for row in rows:
        sums = totals[row.currency]
        for i, value in enumerate((row.current, row.unbilled, row.outstanding)):
            sums[i] += Decimal(value)
        as_of[row.currency] = max(as_of.get(row.currency, ""), row.as_of)
    out = element("balancesReadResponse")
    holder = add(out, "balances")
    for currency in sorted(totals):
        current, unbilled, outstanding = totals[currency]
        item = add(holder, "balance")
        _money(item, "current", current, currency)
        _money(item, "unbilled", unbilled, currency)
        _money(item, "outstanding", outstanding, currency)
        add(item, "asOf", as_of[currency])
    return out


def contract_free_units_read(ctx: Context, req: Node) -> Any:
    row = resolve_contract(ctx, req.child("inputAttributes"))
    out = element("contractFreeUnitsReadResponse")
    holder = add(out, "freeUnits")
    for fu in ctx.conn.execute(
        select(free_unit).where(free_unit.c.co_id == row.co_id).order_by(free_unit.c.fu_pack_id)
    ):
        item = add(holder, "freeUnit")
        add(item, "fuPackId", fu.fu_pack_id)
        add(item, "fuType", fu.fu_type)
        add(item, "granted", fu.granted)
        add(item, "used", fu.used)
        add(item, "remaining", Decimal(fu.granted) - Decimal(fu.used))
        add(item, "periodStart", fu.period_start)
        add(item, "periodEnd", fu.period_end)
    return out


def usage_data_records_read(ctx: Context, req: Node) -> Any:
    """Usage records with ``from <= startTime < to``, oldest first, at most ``maxRecords``
    (default 100, at most 1000); ``moreRecords`` says whether some were left out."""
    ia = req.need("inputAttributes")
    row = resolve_contract(ctx, ia.child("contract"))
    start, end = need(ia.datetime("from"), "from"), need(ia.datetime("to"), "to")
    if end < start:
        raise CmsError("CMS.RC6700", "usage records: to is before from")
    limit = ia.long("maxRecords")
    if limit is not None and limit < 1:
        raise CmsError("CMS.RC6700", "usage records: maxRecords must be at least 1")
    limit = min(limit or USAGE_DEFAULT, USAGE_MAX)
    records = ctx.conn.execute(
        select(usage_record)
        .where(
            usage_record.c.co_id == row.co_id,
            usage_record.c.start_time >= utc_text(start),
            usage_record.c.start_time < utc_text(end),
        )
        .order_by(usage_record.c.start_time, usage_record.c.udr_id)
        .limit(limit + 1)
    ).all()
    out = element("usageDataRecordsReadResponse")
    holder = add(out, "records")
    for udr in records[:limit]:
        item = add(holder, "udr")
        add(item, "udrId", udr.udr_id)
        add(item, "startTime", udr.start_time)
        add(item, "usageType", udr.usage_type)
        add(item, "direction", udr.direction)
        add_opt(item, "otherParty", udr.other_party)
        add_opt(item, "durationSec", udr.duration_sec)
        add_opt(item, "volumeBytes", udr.volume_bytes)
        _money(item, "charge", Decimal(udr.charge_amount), udr.charge_currency)
        add_opt(item, "fuPackId", udr.fu_pack_id)
        add_opt(item, "fuConsumed", udr.fu_consumed)
        add_opt(item, "roamingCountry", udr.roaming_country)
    add(out, "moreRecords", len(records) > limit)
    return out
