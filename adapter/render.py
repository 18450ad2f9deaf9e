"""Plain-text views for the terminal."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from adapter.queries.effective import Applied, Effective
from adapter.queries.hierarchy import Node, Subtree, depth_first, draw_order
from adapter.queries.history import TimelineEntry


def _compact(value: Any) -> Any:
    """Drop empty fields so that an item of a list reads as what it says."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v not in (None, [], {}, False)}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def _short(value: Any, width: int = 90) -> str:
    text = value if isinstance(value, str) else json.dumps(_compact(value), ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def render_diff(changes: dict[str, dict[str, Any]], indent: str = "") -> str:
    """One line per changed field; for lists, the items removed (-) and added (+)."""
    lines = []
    for path, change in changes.items():
        old, new = change["old"], change["new"]
        if isinstance(old, list) and isinstance(new, list):
            lines.append(f"{indent}{path}:")
            lines.extend(f"{indent}  - {_short(item)}" for item in old if item not in new)
            lines.extend(f"{indent}  + {_short(item)}" for item in new if item not in old)
        else:
            lines.append(f"{indent}{path}: {_short(old)} → {_short(new)}")
    return "\n".join(lines)


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
        # The id's end: its start is the creation time (UUIDv7), shared by a whole change.
        lines.append(f"    {e.op} {e.entity_type} …{e.entity_id[-8:]} → v{e.version}")
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
    out.extend(_account_tree(view.get("accounts", [])))
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


def _payer_mark(pays: bool, payer: str | None, paying: str = "pays") -> str:
    if pays:
        return paying
    return f"paid by {payer}" if payer else "NO PAYER"


def _account_tree(accounts: list[dict[str, Any]]) -> list[str]:
    """The customer's accounts drawn depth first from their roots."""
    return [
        f"  {'  ' * depth}account {account['number']} {account['name']} "
        f"({_payer_mark(account['payment_responsible'], account.get('payer'))})"
        for account, depth in depth_first(
            accounts, lambda a: a["id"], lambda a: a["parent_id"], lambda a: a["number"]
        )
    ]


def render_tree(tree: Subtree, ancestors: list[Node]) -> str:
    """The subtree drawn depth first with box-drawing branches; [pays] marks a payment
    responsible node, "paid by N" names the payer of the others."""
    numbers = {n.id: n.number for n in [*ancestors, *tree.nodes]}
    lines: list[str] = []
    if ancestors:
        lines.append("above: " + " ← ".join(n.number for n in ancestors))
    ordered = draw_order(tree.nodes)
    last_child: dict[str | None, str] = {}
    for node in ordered:
        last_child[node.parent_id] = node.id
    open_levels: list[bool] = []  # per depth: does the branch above still continue?
    for node in ordered:
        depth = node.depth
        del open_levels[depth:]
        payer = numbers.get(node.payer_id, node.payer_id) if node.payer_id else None
        mark = _payer_mark(node.payment_responsible, payer, paying="[pays]")
        if depth == 0:
            prefix = ""
        else:
            is_last = last_child.get(node.parent_id) == node.id
            prefix = "".join("│  " if more else "   " for more in open_levels[1:depth])
            prefix += "└─ " if is_last else "├─ "
        lines.append(f"{prefix}{node.number}  {node.name}  {mark}")
        open_levels.append(depth > 0 and last_child.get(node.parent_id) != node.id)
    shown = len(tree.nodes)
    levels = ", ".join(f"{d}:{c}" for d, c in tree.per_level)
    depth_note = f" within {tree.max_depth} level(s)" if tree.max_depth is not None else ""
    lines.append(f"{shown} of {tree.total} node(s){depth_note}; per level {levels}")
    return "\n".join(lines)


def render_effective(found: Effective) -> str:
    def origin(applied: Applied) -> str:
        o = applied.origin
        if o.kind == "inherited":
            return f"inherited from account {o.number} ({o.levels_up} level(s) up)"
        if o.kind == "account":
            return f"from its account {o.number}"
        if o.kind == "group":
            return f"listing group {o.number}"
        return {"own": "own", "contract": "from its contract"}[o.kind]

    lines = [f"subscriber {found.msisdn} on {found.on.isoformat()}"]
    lines.append("discounts and promotions:" if found.discounts else "no discounts or promotions")
    for d in found.discounts:
        item = d.item
        unit = "%" if item["value_type"] == "percent" else f" {item['currency']}"
        lines.append(
            f"  {item['discount_kind']} {item['code']} {item['value']}{unit}  ({origin(d)})"
        )
    if found.suppressions:
        lines.append("listings SUPPRESSED:")
        for x in found.suppressions:
            lines.append(f"  {x.item['reason']}  ({origin(x)})")
    else:
        lines.append("listings not suppressed")
    return "\n".join(lines)
