"""Plain-text views for the terminal."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from adapter.queries.history import TimelineEntry


def _short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def render_diff(changes: dict[str, dict[str, Any]], indent: str = "") -> str:
    return "\n".join(
        f"{indent}{path}: {_short(c['old'])} → {_short(c['new'])}" for path, c in changes.items()
    )


def render_timeline(entries: Iterable[TimelineEntry]) -> str:
    """One block per change (who, when, which request), one line per entity it touched."""
    lines: list[str] = []
    last_change: int | None = None
    for e in entries:
        if e.change_id != last_change:
            last_change = e.change_id
            lines.append(
                f"change {e.change_id}  {e.at.isoformat(timespec='seconds')}  "
                f"{e.originating_user} via {e.principal}/{e.channel}  {e.operation}  "
                f"[request {e.request_id}]"
            )
        lines.append(f"    {e.op} {e.entity_type} {e.entity_id[:8]} → v{e.version}")
        if e.op == "update":
            lines.append(render_diff(e.diff, indent="        "))
    return "\n".join(lines) if lines else "(no history)"


def _party_line(customer: dict[str, Any]) -> str:
    party = customer["party"]
    if party["kind"] == "individual":
        name = " ".join(
            p for p in (party["given_name"], party.get("middle_name"), party["family_name"]) if p
        )
        born = f", born {party['birth_date']}" if party.get("birth_date") else ""
        return f"{name} (individual{born})"
    legal = f", {party['legal_form']}" if party.get("legal_form") else ""
    return f"{party['name']} (organization{legal})"


def render_customer(view: dict[str, Any]) -> str:
    c = view["customer"]
    out = [
        f"Customer {c['customer_number']}  {_party_line(c)}",
        f"  id {c['id']}  status {c['status']}  segment {c['segment']}",
    ]
    if "as_of" in view:
        out.append(f"  as of {view['as_of']}")
    for ident in c["identifications"]:
        out.append(f"  {ident['type']}: {ident['value']}")
    for medium in c["contact_media"]:
        out.append(
            f"  {medium['type']}: {medium['value']}{' (preferred)' if medium['preferred'] else ''}"
        )
    for address in c["addresses"]:
        out.append(
            f"  {address['role']} address: {', '.join(address['lines'])}, "
            f"{address['postcode']} {address['city']}, {address['country']}"
        )
    for person in c["contact_persons"]:
        out.append(f"  {person['role']}: {person['given_name']} {person['family_name']}")
    for key, values in view.get("attributes", {}).items():
        for name, value in values.items():
            out.append(f"  attribute {name} = {value}  ({key})")
    accounts = view.get("accounts", [])
    by_id = {a["id"]: a for a in accounts}
    for account in accounts:
        depth, parent = 0, account["parent_id"]
        while parent in by_id and depth < 100:
            depth, parent = depth + 1, by_id[parent]["parent_id"]
        pays = "pays" if account["payment_responsible"] else "paid by parent"
        out.append(f"  {'  ' * depth}account {account['number']} {account['name']} ({pays})")
    for contract in view.get("contracts", []):
        out.append(
            f"  contract {contract['number']} rate plan {contract['rate_plan']} "
            f"{contract['status']}"
        )
        for sub in (s for s in view.get("subscribers", []) if s["contract_id"] == contract["id"]):
            out.append(
                f"    subscriber {sub['msisdn']} IMSI {sub['imsi']} ICCID {sub['iccid']} "
                f"{sub['status']}"
            )
        for svc in (s for s in view.get("services", []) if s["contract_id"] == contract["id"]):
            limits = ", ".join(
                f"{lim['name']} {lim['value']} {lim['unit']}" for lim in svc["limits"]
            )
            out.append(
                f"    service {svc['service_code']} {svc['status']}"
                f"{'  limits: ' + limits if limits else ''}"
            )
    for d in view.get("discounts", []):
        unit = "%" if d["value_type"] == "percent" else f" {d['currency']}"
        out.append(
            f"  {d['discount_kind']} {d['code']} {d['value']}{unit} at {d['level']} level "
            f"({d['status']})"
        )
    for b in view.get("balances", []):
        out.append(
            f"  balance {b['current']} {b['currency']} (unbilled {b['unbilled']}, "
            f"outstanding {b['outstanding']}) as of {b['as_of']}"
        )
    for f in view.get("free_units", []):
        out.append(
            f"  free units {f['package']}: granted {f['granted']} {f['unit']}, used "
            f"{f['used']}, left {f['remaining']} ({f['period_start']}..{f['period_end']})"
        )
    for s in view.get("suppressions", []):
        target = s.get("subscriber_id") or s.get("account_id") or s.get("group_name")
        out.append(f"  listing suppressed for {s['scope_type']} {target}: {s['reason']}")
    return "\n".join(out)
