"""Billing's side of ``POST /soap/notifications``: notifications built as billing sends them,
with a WS-Security UsernameToken, and a small sender.

Used where the product itself plays billing: the demo data ``crm-adapter up`` loads (balances,
free units and a month of usage arrive the way production data does, through the push
endpoint) and the pipeline benchmark. The endpoint's tests keep their own hand-written XML, so
that they check the wire format independently of this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
from lxml import etree

from adapter.notifications import NOTIFY_NS as NTF_NS
from adapter.paths import CIL_NS
from adapter.soap import SOAP_NS, WSSE_NS, XML_CONTENT_TYPE, q

NSMAP = {"soap": SOAP_NS, "wsse": WSSE_NS, "ntf": NTF_NS, "cil": CIL_NS}


@dataclass(frozen=True)
class FreeUnit:
    pack: str  # fuPackId
    unit: str  # fuType: MB, MIN, SMS…
    granted: Decimal
    used: Decimal
    period_start: date
    period_end: date


@dataclass(frozen=True)
class UsageLine:
    udr_id: int
    start: datetime
    usage_type: str  # VOICE, SMS, DATA…
    charge: Decimal
    direction: str = "MO"
    other_party: str | None = None
    duration_sec: int | None = None
    volume_bytes: int | None = None


def _sub(parent: Any, name: str, text: object | None = None, ns: str = NTF_NS) -> Any:
    element = etree.SubElement(parent, q(name, ns))
    if text is not None:
        element.text = text.isoformat() if isinstance(text, date | datetime) else str(text)
    return element


def _notification(name: str, event_id: str, raised_at: datetime, user: str | None) -> Any:
    root = etree.Element(q(name, NTF_NS), nsmap={"ntf": NTF_NS, "cil": CIL_NS})
    _sub(root, "eventId", event_id)
    _sub(root, "raisedAt", raised_at)
    if user is not None:
        _sub(root, "billingUser", user)
    return root


def _money(parent: Any, name: str, amount: Decimal, currency: str) -> None:
    money = _sub(parent, name)
    _sub(money, "amount", amount, CIL_NS)
    _sub(money, "currency", currency, CIL_NS)


def balance_updated(
    event_id: str,
    account_number: str,
    *,
    current: Decimal,
    unbilled: Decimal,
    outstanding: Decimal,
    as_of: datetime,
    currency: str = "EUR",
    billing_user: str | None = None,
) -> Any:
    root = _notification("balanceUpdatedNotification", event_id, as_of, billing_user)
    _sub(_sub(root, "customer"), "csIdPub", account_number, CIL_NS)
    _money(root, "current", current, currency)
    _money(root, "unbilled", unbilled, currency)
    _money(root, "outstanding", outstanding, currency)
    _sub(root, "asOf", as_of)
    return root


def free_units_updated(
    event_id: str, contract_number: str, units: Sequence[FreeUnit], *, as_of: datetime
) -> Any:
    root = _notification("freeUnitsUpdatedNotification", event_id, as_of, None)
    _sub(_sub(root, "contract"), "coIdPub", contract_number, CIL_NS)
    _sub(root, "asOf", as_of)
    for unit in units:
        item = _sub(root, "freeUnit")
        _sub(item, "fuPackId", unit.pack)
        _sub(item, "fuType", unit.unit)
        _sub(item, "granted", unit.granted)
        _sub(item, "used", unit.used)
        _sub(item, "remaining", unit.granted - unit.used)
        _sub(item, "periodStart", unit.period_start)
        _sub(item, "periodEnd", unit.period_end)
    return root


def usage_records(
    event_id: str,
    contract_number: str,
    lines: Sequence[UsageLine],
    *,
    raised_at: datetime,
    currency: str = "EUR",
) -> Any:
    root = _notification("usageRecordsNotification", event_id, raised_at, None)
    _sub(_sub(root, "contract"), "coIdPub", contract_number, CIL_NS)
    for line in lines:
        udr = _sub(root, "udr")
        _sub(udr, "udrId", line.udr_id)
        _sub(udr, "startTime", line.start)
        _sub(udr, "usageType", line.usage_type)
        _sub(udr, "direction", line.direction)
        if line.other_party is not None:
            _sub(udr, "otherParty", line.other_party)
        if line.duration_sec is not None:
            _sub(udr, "durationSec", line.duration_sec)
        if line.volume_bytes is not None:
            _sub(udr, "volumeBytes", line.volume_bytes)
        _money(udr, "charge", line.charge, currency)
    return root


def soap_request(notification: Any, *, user: str, password: str) -> bytes:
    """The SOAP 1.1 request carrying ``notification``, signed in with a UsernameToken."""
    env = etree.Element(q("Envelope", SOAP_NS), nsmap=NSMAP)
    token = _sub(
        _sub(_sub(env, "Header", ns=SOAP_NS), "Security", ns=WSSE_NS), "UsernameToken", ns=WSSE_NS
    )
    _sub(token, "Username", user, WSSE_NS)
    _sub(token, "Password", password, WSSE_NS)
    _sub(env, "Body", ns=SOAP_NS).append(notification)
    body: bytes = etree.tostring(env, xml_declaration=True, encoding="UTF-8")
    return body


class NotificationRefused(Exception):
    """The endpoint answered with a fault or an HTTP error; the message says which."""


def send(client: httpx.Client, url: str, notification: Any, *, user: str, password: str) -> None:
    """POST one notification; raises :class:`NotificationRefused` unless acknowledged."""
    response = client.post(
        url,
        content=soap_request(notification, user=user, password=password),
        headers={"Content-Type": XML_CONTENT_TYPE, "SOAPAction": '""'},
    )
    if response.status_code != 200:
        raise NotificationRefused(f"HTTP {response.status_code}: {response.text[:300]}")
