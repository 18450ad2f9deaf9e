"""Customer operations: new, read, write, search, hierarchy, addresses, info fields."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, select, update

from .codes import CmsError
from .context import (
    CUSTOMER_TRANSITIONS,
    Context,
    ancestors,
    resolve_customer,
)
from .soap import Node, add, add_opt, element, parse_xs_date
from .state import address, contract, customer, info_field, next_id, utc_text

# CustomerData elements in XSD order: element name -> column. creditLimit (Money) is apart.
_FIELDS: list[tuple[str, str]] = [
    ("partyType", "party_type"),
    ("firstName", "first_name"),
    ("lastName", "last_name"),
    ("companyName", "company_name"),
    ("legalForm", "legal_form"),
    ("birthDate", "birth_date"),
    ("nationality", "nationality"),
    ("email", "email"),
    ("phone", "phone"),
    ("taxNo", "tax_no"),
    ("idNo", "id_no"),
    ("passportNo", "passport_no"),
    ("companyRegNo", "company_reg_no"),
    ("segment", "segment"),
    ("billCycle", "bill_cycle"),
    ("paymentMethod", "payment_method"),
]
SEARCH_DEFAULT = 100
SEARCH_MAX = 1000


def _read_data(data: Node) -> dict[str, Any]:
    """The columns a ``CustomerData`` element sets (only those given)."""
    values: dict[str, Any] = {}
    for name, column in _FIELDS:
        value = data.text(name)
        if value is None:
            continue
        if name == "birthDate":
            value = parse_xs_date(value.strip()).isoformat()
        elif name in {"partyType", "nationality", "paymentMethod"}:
            value = value.strip()
        values[column] = value
    limit = data.child("creditLimit")
    if limit is not None:
        values["credit_limit_amount"] = str(limit.decimal("amount"))
        values["credit_limit_currency"] = limit.token("currency")
    status = data.token("csStatus")
    if status is not None:
        values["cs_status"] = status
    return values


def _check_party(values: dict[str, Any]) -> None:
    party = values.get("party_type")
    if party is None:
        raise CmsError("CMS.RC6700", "customer: partyType is required")
    if party == "I" and not values.get("last_name"):
        raise CmsError("CMS.RC6700", "customer: an individual (partyType I) needs lastName")
    if party == "O" and not values.get("company_name"):
        raise CmsError("CMS.RC6700", "customer: an organisation (partyType O) needs companyName")


def _write_data(parent: Any, row: Row[Any]) -> None:
    data = add(parent, "customer")
    m = row._mapping
    for name, column in _FIELDS:
        add_opt(data, name, m[column])
    if m["credit_limit_amount"] is not None:
        money = add(data, "creditLimit")
        add(money, "amount", m["credit_limit_amount"])
        add(money, "currency", m["credit_limit_currency"])
    add(data, "csStatus", m["cs_status"])


def _read_address(node: Node) -> dict[str, Any]:
    roles = list(dict.fromkeys(r.strip() for r in node.texts("adrRole")))
    return {
        "roles": "".join(roles),
        "lines": json.dumps(node.texts("adrLine"), ensure_ascii=False),
        "zip": node.text("adrZip"),
        "city": node.text("adrCity"),
        "state": node.text("adrState"),
        "country": node.token("adrCountry"),
    }


def _write_address(parent: Any, row: Row[Any]) -> None:
    m = row._mapping
    adr = add(parent, "address")
    add(adr, "adrSeq", m["adr_seq"])
    for role in m["roles"]:
        add(adr, "adrRole", role)
    for line in json.loads(m["lines"]):
        add(adr, "adrLine", line)
    add(adr, "adrZip", m["zip"])
    add(adr, "adrCity", m["city"])
    add_opt(adr, "adrState", m["state"])
    add(adr, "adrCountry", m["country"])


def _public_id_free(ctx: Context, pub: str) -> bool:
    found = ctx.conn.execute(select(customer.c.cs_id).where(customer.c.cs_id_pub == pub)).first()
    return found is None


def _new_public_id(ctx: Context, cs_id: int) -> str:
    """``CUST0100001``; should a client already have taken that, a suffix makes it unique."""
    base = f"CUST{cs_id:07d}"
    candidate, n = base, 1
    while not _public_id_free(ctx, candidate):
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def customer_new(ctx: Context, req: Node) -> Any:
    """Create a customer node under an optional parent, with its addresses."""
    ia = req.need("inputAttributes")
    data = ia.need("customer")
    values = _read_data(data)
    _check_party(values)
    status = values.pop("cs_status", "a")
    if status not in {"i", "a"}:
        raise CmsError(
            "CMS.RC6712", f"a new customer starts interested (i) or active (a), not {status}"
        )
    payment_resp = bool(ia.boolean("paymentResp"))
    parent_ref = ia.child("parent")
    parent_id: int | None = None
    if parent_ref is not None:
        parent = resolve_customer(ctx, parent_ref, "parent")
        if parent.cs_status == "d":
            raise CmsError(
                "CMS.RC6711", f"parent {parent.cs_id_pub} is deactivated", parent.cs_id_pub
            )
        parent_id = int(parent.cs_id)
    if not payment_resp and parent_id is None:
        raise CmsError("CMS.RC6731", "a customer that is not payment responsible needs a parent")
    pub = ia.token("csIdPub")
    if pub is not None and not _public_id_free(ctx, pub):
        raise CmsError("CMS.RC6720", f"customer public id {pub} is taken", pub)
    cs_id = next_id(ctx.conn, "customer")
    pub = pub or _new_public_id(ctx, cs_id)
    stamp = utc_text(ctx.now)
    ctx.conn.execute(
        insert(customer).values(
            cs_id=cs_id,
            cs_id_pub=pub,
            parent_cs_id=parent_id,
            payment_resp=payment_resp,
            business_unit=ctx.business_unit,
            cs_status=status,
            created_at=stamp,
            updated_at=stamp,
            **values,
        )
    )
    addresses = ia.child("addresses")
    for seq, node in enumerate(addresses.children("address") if addresses else [], start=1):
        ctx.conn.execute(insert(address).values(cs_id=cs_id, adr_seq=seq, **_read_address(node)))
    out = element("customerNewResponse")
    add(out, "csId", cs_id)
    add(out, "csIdPub", pub)
    return out


def customer_read(ctx: Context, req: Node) -> Any:
    """Everything about one customer node: party data, place in the hierarchy, addresses,
    info fields."""
    row = resolve_customer(ctx, req.child("inputAttributes"))
    out = element("customerReadResponse")
    add(out, "csId", row.cs_id)
    add(out, "csIdPub", row.cs_id_pub)
    if row.parent_cs_id is not None:
        parent_pub = ctx.conn.execute(
            select(customer.c.cs_id_pub).where(customer.c.cs_id == row.parent_cs_id)
        ).scalar_one()
        add(out, "parentCsId", row.parent_cs_id)
        add(out, "parentCsIdPub", parent_pub)
    add(out, "csLevel", len(ancestors(ctx.conn, int(row.cs_id))))
    add(out, "paymentResp", bool(row.payment_resp))
    _write_data(out, row)
    adrs = add(out, "addresses")
    for adr in ctx.conn.execute(
        select(address).where(address.c.cs_id == row.cs_id).order_by(address.c.adr_seq)
    ):
        _write_address(adrs, adr)
    fields = add(out, "infoFields")
    for field in ctx.conn.execute(
        select(info_field).where(info_field.c.cs_id == row.cs_id).order_by(info_field.c.name)
    ):
        f = add(fields, "field")
        add(f, "name", field.name)
        add(f, "value", field.value)
    return out


def customer_write(ctx: Context, req: Node) -> Any:
    """Change the fields given (only those); a status change follows the customer
    transitions, and deactivation needs every contract deactivated first."""
    ia = req.need("inputAttributes")
    row = resolve_customer(ctx, ia)
    data = ia.need("customer")
    values = _read_data(data)
    merged = {**dict(row._mapping), **values}
    _check_party(merged)
    new_status = values.get("cs_status", row.cs_status)
    if new_status != row.cs_status:
        if new_status not in CUSTOMER_TRANSITIONS[row.cs_status]:
            raise CmsError(
                "CMS.RC6712",
                f"customer {row.cs_id_pub} cannot go from status {row.cs_status} to {new_status}",
                row.cs_status,
                new_status,
            )
        if new_status == "d":
            live = ctx.conn.execute(
                select(func.count())
                .select_from(contract)
                .where(contract.c.cs_id == row.cs_id, contract.c.co_status != "d")
            ).scalar_one()
            if live:
                raise CmsError(
                    "CMS.RC6713",
                    f"customer {row.cs_id_pub} has {live} contract(s) not deactivated",
                    row.cs_id_pub,
                )
    if values:
        ctx.conn.execute(
            update(customer)
            .where(customer.c.cs_id == row.cs_id)
            .values(updated_at=utc_text(ctx.now), **values)
        )
    return element("customerWriteResponse")


def customers_search(ctx: Context, req: Node) -> Any:
    """Customers matching every criterion given: ``csIdPub``, ``taxNo``, ``idNo`` exactly,
    ``email`` ignoring case, ``lastName``/``companyName`` as a case-insensitive prefix,
    ``dnNum`` as the MSISDN of a contract that is not deactivated. Ordered by ``csId``."""
    ia = req.need("inputAttributes")
    conditions: list[Any] = []
    if (pub := ia.token("csIdPub")) is not None:
        conditions.append(customer.c.cs_id_pub == pub)
    for name, column in (
        ("lastName", customer.c.last_name),
        ("companyName", customer.c.company_name),
    ):
        if (value := ia.text(name)) is not None:
            conditions.append(func.casefold(column).startswith(value.casefold(), autoescape=True))
    if (email := ia.text("email")) is not None:
        conditions.append(func.casefold(customer.c.email) == email.casefold())
    if (tax := ia.text("taxNo")) is not None:
        conditions.append(customer.c.tax_no == tax)
    if (id_no := ia.text("idNo")) is not None:
        conditions.append(customer.c.id_no == id_no)
    if (dn := ia.token("dnNum")) is not None:
        holders = select(contract.c.cs_id).where(
            contract.c.dn_num == dn, contract.c.co_status != "d"
        )
        conditions.append(customer.c.cs_id.in_(holders))
    if not conditions:
        raise CmsError("CMS.RC6700", "customers search: give at least one criterion")
    limit = ia.long("searcherMaxResults")
    if limit is not None and limit < 1:
        raise CmsError("CMS.RC6700", "customers search: searcherMaxResults must be at least 1")
    limit = min(limit or SEARCH_DEFAULT, SEARCH_MAX)
    rows = ctx.conn.execute(
        select(customer).where(and_(*conditions)).order_by(customer.c.cs_id).limit(limit + 1)
    ).all()
    out = element("customersSearchResponse")
    found = add(out, "customers")
    for row in rows[:limit]:
        item = add(found, "customer")
        add(item, "csId", row.cs_id)
        add(item, "csIdPub", row.cs_id_pub)
        add(item, "name", display_name(row))
        add(item, "csStatus", row.cs_status)
    add(out, "searchIsComplete", len(rows) <= limit)
    return out


def display_name(row: Row[Any]) -> str:
    if row.party_type == "O":
        return str(row.company_name)
    return " ".join(part for part in (row.first_name, row.last_name) if part)


def customer_hierarchy_write(ctx: Context, req: Node) -> Any:
    """Move a node (with its subtree) under another node or to the top, and set its payment
    responsibility. Refused: a cycle, a deactivated parent, no parent and not paying."""
    ia = req.need("inputAttributes")
    node = resolve_customer(ctx, ia.child("customer"))
    payment_resp = bool(ia.boolean("paymentResp"))
    parent_ref = ia.child("parent")
    parent_id: int | None = None
    if parent_ref is not None:
        parent = resolve_customer(ctx, parent_ref, "parent")
        if node.cs_id in ancestors(ctx.conn, int(parent.cs_id)):
            raise CmsError(
                "CMS.RC6730",
                f"{parent.cs_id_pub} is {node.cs_id_pub} or below it; the move would make a cycle",
                node.cs_id_pub,
                parent.cs_id_pub,
            )
        if parent.cs_status == "d":
            raise CmsError(
                "CMS.RC6711", f"parent {parent.cs_id_pub} is deactivated", parent.cs_id_pub
            )
        parent_id = int(parent.cs_id)
    if not payment_resp and parent_id is None:
        raise CmsError(
            "CMS.RC6731",
            f"{node.cs_id_pub}: a node that is not payment responsible needs a parent",
            node.cs_id_pub,
        )
    ctx.conn.execute(
        update(customer)
        .where(customer.c.cs_id == node.cs_id)
        .values(parent_cs_id=parent_id, payment_resp=payment_resp, updated_at=utc_text(ctx.now))
    )
    return element("customerHierarchyWriteResponse")


def address_write(ctx: Context, req: Node) -> Any:
    """Add (the simulator numbers it), update (replace whole) or delete an address."""
    ia = req.need("inputAttributes")
    row = resolve_customer(ctx, ia.child("customer"))
    action = ia.token("action")
    node = ia.need("address")
    cs_id = int(row.cs_id)
    if action == "a":
        last = ctx.conn.execute(
            select(func.max(address.c.adr_seq)).where(address.c.cs_id == cs_id)
        ).scalar()
        seq = int(last or 0) + 1
        ctx.conn.execute(insert(address).values(cs_id=cs_id, adr_seq=seq, **_read_address(node)))
    else:
        given = node.long("adrSeq")
        if given is None:
            verb = "update" if action == "u" else "delete"
            raise CmsError("CMS.RC6700", f"address {verb}: give adrSeq")
        seq = given
        where = and_(address.c.cs_id == cs_id, address.c.adr_seq == seq)
        if ctx.conn.execute(select(address.c.adr_seq).where(where)).first() is None:
            raise CmsError(
                "CMS.RC6704",
                f"customer {row.cs_id_pub} has no address {seq}",
                row.cs_id_pub,
                str(seq),
            )
        if action == "u":
            ctx.conn.execute(update(address).where(where).values(**_read_address(node)))
        else:
            ctx.conn.execute(delete(address).where(where))
    ctx.conn.execute(
        update(customer).where(customer.c.cs_id == cs_id).values(updated_at=utc_text(ctx.now))
    )
    out = element("addressWriteResponse")
    add(out, "adrSeq", seq)
    return out


def customer_info_write(ctx: Context, req: Node) -> Any:
    """Set custom fields; a field sent without a value (or an empty one) is removed."""
    ia = req.need("inputAttributes")
    row = resolve_customer(ctx, ia.child("customer"))
    fields = ia.need("infoFields")
    for field in fields.children("field"):
        name = field.token("name")
        value = field.text("value")
        where = and_(info_field.c.cs_id == row.cs_id, info_field.c.name == name)
        ctx.conn.execute(delete(info_field).where(where))
        if value:
            ctx.conn.execute(insert(info_field).values(cs_id=row.cs_id, name=name, value=value))
    return element("customerInfoWriteResponse")
