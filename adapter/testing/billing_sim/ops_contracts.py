"""Contract operations: new, read, write (status, rate plan) and the services on a contract."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row, and_, insert, select, update

from .catalog import SERVICES, SERVICES_BY_CODE
from .codes import CmsError
from .context import (
    CONTRACT_TRANSITIONS,
    SERVICE_TRANSITIONS,
    Context,
    resolve_contract,
    resolve_customer,
)
from .generate import populate
from .soap import Node, add, add_opt, element, need
from .state import contract, contract_service, contract_status, customer, next_id, utc_text


def _public_id_free(ctx: Context, pub: str) -> bool:
    found = ctx.conn.execute(select(contract.c.co_id).where(contract.c.co_id_pub == pub)).first()
    return found is None


def _check_number_free(ctx: Context, dn_num: str, but: int | None = None) -> None:
    query = select(contract.c.co_id_pub).where(
        contract.c.dn_num == dn_num, contract.c.co_status != "d"
    )
    if but is not None:
        query = query.where(contract.c.co_id != but)
    holder = ctx.conn.execute(query).scalar()
    if holder is not None:
        # the holder's id is a parameter; the number itself stays out of the message (PII)
        raise CmsError(
            "CMS.RC6721",
            "the MSISDN is in use by another contract that is not deactivated",
            holder,
        )


def _record_status(ctx: Context, co_id: int, status: str, reason: str | None) -> None:
    ctx.conn.execute(
        insert(contract_status).values(
            co_id=co_id, co_status=status, valid_from=utc_text(ctx.now), rs_code=reason
        )
    )


def contract_new(ctx: Context, req: Node) -> Any:
    """A contract for a customer that is not deactivated, with a number no live contract
    holds; starts on hold (or active when asked). Generates its usage, free units, balance."""
    ia = req.need("inputAttributes")
    owner = resolve_customer(ctx, ia.child("customer"))
    if owner.cs_status == "d":
        raise CmsError(
            "CMS.RC6711",
            f"customer {owner.cs_id_pub} is deactivated; no new contract for it",
            owner.cs_id_pub,
        )
    status = ia.token("coStatus") or "o"
    if status not in {"o", "a"}:
        raise CmsError(
            "CMS.RC6710", f"a new contract starts on hold (o) or active (a), not {status}", status
        )
    dn_num = need(ia.token("dnNum"), "dnNum")
    _check_number_free(ctx, dn_num)
    pub = ia.token("coIdPub")
    if pub is not None and not _public_id_free(ctx, pub):
        raise CmsError("CMS.RC6720", f"contract public id {pub} is taken", pub)
    co_id = next_id(ctx.conn, "contract")
    if pub is None:
        pub, n = f"CONTR{co_id:07d}", 1
        while not _public_id_free(ctx, pub):
            pub, n = f"CONTR{co_id:07d}-{n}", n + 1
    stamp = utc_text(ctx.now)
    ctx.conn.execute(
        insert(contract).values(
            co_id=co_id,
            co_id_pub=pub,
            cs_id=owner.cs_id,
            rp_code=ia.token("rpCode"),
            dn_num=dn_num,
            sm_num=ia.text("smNum"),
            imsi=ia.text("imsi"),
            co_status=status,
            created_at=stamp,
            updated_at=stamp,
        )
    )
    _record_status(ctx, co_id, status, None)
    populate(ctx.conn, co_id, ctx.now, ctx.config.usage_records_per_contract)
    out = element("contractNewResponse")
    add(out, "coId", co_id)
    add(out, "coIdPub", pub)
    return out


def contract_read(ctx: Context, req: Node) -> Any:
    row = resolve_contract(ctx, req.child("inputAttributes"))
    owner_pub = ctx.conn.execute(
        select(customer.c.cs_id_pub).where(customer.c.cs_id == row.cs_id)
    ).scalar_one()
    out = element("contractReadResponse")
    add(out, "coId", row.co_id)
    add(out, "coIdPub", row.co_id_pub)
    add(out, "csId", row.cs_id)
    add(out, "csIdPub", owner_pub)
    add(out, "rpCode", row.rp_code)
    add(out, "coStatus", row.co_status)
    add(out, "dnNum", row.dn_num)
    add_opt(out, "smNum", row.sm_num)
    add_opt(out, "imsi", row.imsi)
    history = add(out, "statusHistory")
    for entry in ctx.conn.execute(
        select(contract_status)
        .where(contract_status.c.co_id == row.co_id)
        .order_by(contract_status.c.id)
    ):
        item = add(history, "entry")
        add(item, "coStatus", entry.co_status)
        add(item, "validFrom", entry.valid_from)
        add_opt(item, "rsCode", entry.rs_code)
    return out


def contract_write(ctx: Context, req: Node) -> Any:
    """Change status (o→a, o→d, a→s, s→a, a→d, s→d; nothing leaves d; staying in the same
    status is refused too) and/or rate plan. Deactivation deactivates the services."""
    ia = req.need("inputAttributes")
    row = resolve_contract(ctx, ia)
    new_status = ia.token("coStatus")
    rp_code = ia.token("rpCode")
    if new_status is None and rp_code is None:
        raise CmsError("CMS.RC6700", "contract write: give coStatus and/or rpCode")
    if row.co_status == "d":
        raise CmsError(
            "CMS.RC6710" if new_status else "CMS.RC6715",
            f"contract {row.co_id_pub} is deactivated; nothing leaves status d",
            row.co_id_pub,
        )
    values: dict[str, Any] = {}
    if new_status is not None:
        if new_status not in CONTRACT_TRANSITIONS[row.co_status]:
            raise CmsError(
                "CMS.RC6710",
                f"contract {row.co_id_pub} cannot go from status {row.co_status} to {new_status}",
                row.co_status,
                new_status,
            )
        values["co_status"] = new_status
        _record_status(ctx, int(row.co_id), new_status, ia.token("rsCode"))
        if new_status == "d":
            ctx.conn.execute(
                update(contract_service)
                .where(contract_service.c.co_id == row.co_id)
                .values(status="D")
            )
    if rp_code is not None:
        values["rp_code"] = rp_code
    ctx.conn.execute(
        update(contract)
        .where(contract.c.co_id == row.co_id)
        .values(updated_at=utc_text(ctx.now), **values)
    )
    return element("contractWriteResponse")


def _service_code(node: Node) -> tuple[int, str]:
    """The catalogue entry a ``Service`` element names by ``snCode`` and/or ``snCodePub``."""
    code = node.long("snCode")
    pub = node.token("snCodePub")
    if code is None and pub is None:
        raise CmsError("CMS.RC6700", "service: give snCode or snCodePub")
    if code is not None:
        known = SERVICES_BY_CODE.get(code)
        if known is None:
            raise CmsError("CMS.RC6740", f"no service with snCode {code}", str(code))
        if pub is not None and pub != known:
            raise CmsError("CMS.RC6703", f"snCode {code} is {known}, not {pub}", str(code), pub)
        return code, known
    if pub not in SERVICES:
        raise CmsError("CMS.RC6740", f"no service {pub} in the catalogue", str(pub))
    return SERVICES[str(pub)], str(pub)


def _parameters(node: Node) -> list[list[str]] | None:
    holder = node.child("parameters")
    if holder is None:
        return None
    return [[p.token("prmCode") or "", p.text("value") or ""] for p in holder.children("parameter")]


def _limits(node: Node) -> list[list[str]] | None:
    holder = node.child("limits")
    if holder is None:
        return None
    return [
        [lim.token("name") or "", str(lim.decimal("value")), lim.text("unit") or ""]
        for lim in holder.children("limit")
    ]


def _write_service(parent: Any, row: Row[Any]) -> None:
    svc = add(parent, "service")
    add(svc, "snCode", row.sn_code)
    add(svc, "snCodePub", row.sn_code_pub)
    add(svc, "status", row.status)
    params = add(svc, "parameters")
    for code, value in json.loads(row.parameters):
        p = add(params, "parameter")
        add(p, "prmCode", code)
        add(p, "value", value)
    limits = add(svc, "limits")
    for name, value, unit in json.loads(row.limits):
        lim = add(limits, "limit")
        add(lim, "name", name)
        add(lim, "value", value)
        add(lim, "unit", unit)


def _live_contract(ctx: Context, ref: Node | None) -> Row[Any]:
    row = resolve_contract(ctx, ref)
    if row.co_status == "d":
        raise CmsError("CMS.RC6715", f"contract {row.co_id_pub} is deactivated", row.co_id_pub)
    return row


def contract_services_add(ctx: Context, req: Node) -> Any:
    """Add catalogue services (active unless ``S`` is asked) to a contract that is not
    deactivated; a service deactivated earlier is added again afresh."""
    ia = req.need("inputAttributes")
    row = _live_contract(ctx, ia.child("contract"))
    services = ia.need("services")
    added: list[int] = []
    for node in services.children("service"):
        code, pub = _service_code(node)
        status = node.token("status") or "A"
        if status == "D":
            raise CmsError("CMS.RC6743", f"service {pub} cannot be added deactivated", pub)
        where = and_(contract_service.c.co_id == row.co_id, contract_service.c.sn_code == code)
        existing = ctx.conn.execute(select(contract_service.c.status).where(where)).scalar()
        if (existing is not None and existing != "D") or code in added:
            raise CmsError(
                "CMS.RC6741", f"service {pub} is already on contract {row.co_id_pub}", pub
            )
        values = {
            "sn_code_pub": pub,
            "status": status,
            "parameters": json.dumps(_parameters(node) or []),
            "limits": json.dumps(_limits(node) or []),
        }
        if existing is None:
            ctx.conn.execute(
                insert(contract_service).values(co_id=row.co_id, sn_code=code, **values)
            )
        else:
            ctx.conn.execute(update(contract_service).where(where).values(**values))
        added.append(code)
    out = element("contractServicesAddResponse")
    holder = add(out, "services")
    for svc in ctx.conn.execute(
        select(contract_service)
        .where(contract_service.c.co_id == row.co_id, contract_service.c.sn_code.in_(added))
        .order_by(contract_service.c.sn_code)
    ):
        _write_service(holder, svc)
    return out


def contract_services_read(ctx: Context, req: Node) -> Any:
    """Every service of the contract, deactivated ones included, by snCode."""
    row = resolve_contract(ctx, req.child("inputAttributes"))
    out = element("contractServicesReadResponse")
    holder = add(out, "services")
    for svc in ctx.conn.execute(
        select(contract_service)
        .where(contract_service.c.co_id == row.co_id)
        .order_by(contract_service.c.sn_code)
    ):
        _write_service(holder, svc)
    return out


def contract_services_write(ctx: Context, req: Node) -> Any:
    """Change one service: status (A⇄S, A/S→D; nothing leaves D), and the parameter and limit
    lists, each replaced whole when given."""
    ia = req.need("inputAttributes")
    row = _live_contract(ctx, ia.child("contract"))
    node = ia.need("service")
    code, pub = _service_code(node)
    where = and_(contract_service.c.co_id == row.co_id, contract_service.c.sn_code == code)
    current = ctx.conn.execute(select(contract_service).where(where)).first()
    if current is None:
        raise CmsError("CMS.RC6742", f"service {pub} is not on contract {row.co_id_pub}", pub)
    values: dict[str, Any] = {}
    status = node.token("status")
    if status is not None and status != current.status:
        if status not in SERVICE_TRANSITIONS[current.status]:
            raise CmsError(
                "CMS.RC6743",
                f"service {pub} cannot go from status {current.status} to {status}",
                current.status,
                status,
            )
        values["status"] = status
    elif current.status == "D":
        raise CmsError("CMS.RC6743", f"service {pub} is deactivated; it cannot change", pub)
    params = _parameters(node)
    if params is not None:
        values["parameters"] = json.dumps(params)
    limits = _limits(node)
    if limits is not None:
        values["limits"] = json.dumps(limits)
    if values:
        ctx.conn.execute(update(contract_service).where(where).values(**values))
    return element("contractServicesWriteResponse")
