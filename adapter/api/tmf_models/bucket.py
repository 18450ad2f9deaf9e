"""TMF654 Prepay Balance Management (v4) ``Bucket`` from free units and monetary balances.

- A **free-unit bucket** (``FreeUnitBucket``: a package's units for one period) is a Bucket of
  ``@type`` ``FreeUnitBucket``: ``remainingValue`` the units left (Quantity ``{amount,
  units}``), ``validFor`` the period, ``usageType`` from the unit (voice, sms, mms, data,
  events, monetary), ``product`` the subscription product, ``partyAccount`` the account;
  extensions for what care needs: ``grantedValue``, ``usedValue`` (Quantities) and
  ``usedPercentage``. ``status``: ``active`` within the period, ``expired`` after it,
  ``pending`` before it. ``reservedValue`` is 0: billing reserves nothing it reports.
- A **monetary balance** of an account is a Bucket of ``@type`` ``MonetaryBalanceBucket``,
  ``usageType`` ``monetary``: ``remainingValue`` the current balance in its currency, and
  ``unbilledAmount``, ``outstandingAmount`` (Money ``{unit, value}``) as extensions.

Bucket ids: ``freeUnits:<id>`` and ``balance:<id>``. Pure: documents in, documents out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from adapter.domain.errors import ValidationFailed

from .product import (
    billing_account,
    customer_party,
    day_end,
    day_start,
    moment,
    number,
    product_ref,
)

BUCKET_PATH = "/tmf-api/prepayBalanceManagement/v4/bucket"
BUCKET_KINDS = ("freeUnits", "balance")

USAGE_TYPE_OF_UNIT = {
    "seconds": "voice",
    "minutes": "voice",
    "sms": "sms",
    "mms": "mms",
    "bytes": "data",
    "kb": "data",
    "mb": "data",
    "gb": "data",
    "events": "events",
    "money": "monetary",
}


def bucket_id(kind: str, entity_id: str) -> str:
    return f"{kind}:{entity_id}"


def parse_bucket_id(value: str) -> tuple[str, str]:
    kind, sep, entity_id = value.partition(":")
    if not sep or kind not in BUCKET_KINDS or not entity_id:
        raise ValidationFailed.one("id", "format", "a bucket id is freeUnits:<id> or balance:<id>")
    return kind, entity_id


def _quantity(amount: Any, units: str) -> dict[str, Any]:
    return {"amount": number(amount), "units": units}


def used_percentage(granted: Any, used: Any) -> float | None:
    """Used as a percentage of granted, rounded to 0.1; None when nothing was granted."""
    total = Decimal(str(granted))
    if total <= 0:
        return None
    return float(round(Decimal(str(used)) * 100 / total, 1))


def period_status(start: str, end: str, today: date) -> str:
    if today < date.fromisoformat(start):
        return "pending"
    if today > date.fromisoformat(end):
        return "expired"
    return "active"


def free_unit_bucket(
    bucket: Mapping[str, Any], account_number: str | None, base: str, today: date
) -> dict[str, Any]:
    unit = bucket["unit"]
    identifier = bucket_id("freeUnits", bucket["id"])
    return {
        "id": identifier,
        "href": f"{base}{BUCKET_PATH}/{identifier}",
        "@type": "FreeUnitBucket",
        "@baseType": "Bucket",
        "name": bucket["package"],
        "description": f"free units of {bucket['package']} from {bucket['period_start']} "
        f"to {bucket['period_end']}",
        "isShared": bucket.get("subscriber_id") is None,
        "usageType": USAGE_TYPE_OF_UNIT.get(unit, unit),
        "status": period_status(bucket["period_start"], bucket["period_end"], today),
        "remainingValue": _quantity(bucket["remaining"], unit),
        "remainingValueName": f"{number(bucket['remaining'])} {unit}",
        "reservedValue": _quantity(0, unit),
        "grantedValue": _quantity(bucket["granted"], unit),
        "usedValue": _quantity(bucket["used"], unit),
        "usedPercentage": used_percentage(bucket["granted"], bucket["used"]),
        "validFor": {
            "startDateTime": day_start(bucket["period_start"]),
            "endDateTime": day_end(bucket["period_end"]),
        },
        "lastUpdate": moment(bucket["as_of"]),
        "product": product_ref(base, "contract", bucket["contract_id"]),
        "partyAccount": billing_account(base, bucket["account_id"], account_number),
        "relatedParty": customer_party(base, bucket["customer_id"]),
    }


def balance_bucket(
    balance: Mapping[str, Any], account_number: str | None, base: str
) -> dict[str, Any]:
    currency = balance["currency"]
    identifier = bucket_id("balance", balance["id"])
    return {
        "id": identifier,
        "href": f"{base}{BUCKET_PATH}/{identifier}",
        "@type": "MonetaryBalanceBucket",
        "@baseType": "Bucket",
        "name": f"{currency} balance of account {account_number or balance['account_id']}",
        "description": "current balance as last reported by billing",
        "isShared": True,
        "usageType": "monetary",
        "status": "active",
        "remainingValue": _quantity(balance.get("current", "0"), currency),
        "remainingValueName": f"{number(balance.get('current', '0'))} {currency}",
        "reservedValue": _quantity(0, currency),
        "unbilledAmount": {"unit": currency, "value": number(balance.get("unbilled", "0"))},
        "outstandingAmount": {"unit": currency, "value": number(balance.get("outstanding", "0"))},
        "lastUpdate": moment(balance["as_of"]),
        "partyAccount": billing_account(base, balance["account_id"], account_number),
        "relatedParty": customer_party(base, balance["customer_id"]),
    }
