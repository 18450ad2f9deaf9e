"""TMF635 Usage Management (v4) from the canonical usage lines and usage types.

- A **usage line** (``UsageRecord``, pushed by billing) is a ``Usage``: ``usageDate`` its
  start, ``usageType`` its type, ``status`` ``rated`` (billing sends rated lines), its
  ``usageSpecification`` the type's, the subscriber's MSISDN, direction, other party,
  duration, volume, free units and roaming country as ``usageCharacteristic``, the charge as
  a ``ratedProductUsage`` (``taxIncludedRatingAmount``, Money ``{unit, value}``) for the
  subscription product (``productRef``), the customer as ``relatedParty``.
- A **usage type** (voice, sms, data…) is a ``UsageSpecification`` with the characteristics
  its usages carry (``specCharacteristic``).

Pure: documents in, documents out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapter.domain.model import UsageType

from .product import characteristic, customer_party, moment, number, product_ref

USAGE_PATH = "/tmf-api/usageManagement/v4/usage"
SPECIFICATION_PATH = "/tmf-api/usageManagement/v4/usageSpecification"

_DESCRIPTIONS = {
    UsageType.VOICE: "national voice calls",
    UsageType.SMS: "national short messages",
    UsageType.MMS: "multimedia messages",
    UsageType.DATA: "national mobile data",
    UsageType.ROAMING_VOICE: "voice calls while roaming",
    UsageType.ROAMING_SMS: "short messages while roaming",
    UsageType.ROAMING_DATA: "mobile data while roaming",
    UsageType.PREMIUM: "premium-rate services",
}

# name, valueType, description: the characteristics a usage of any type may carry.
SPEC_CHARACTERISTICS: list[tuple[str, str, str]] = [
    ("msisdn", "string", "the subscriber's number (E.164)"),
    ("direction", "string", "outgoing or incoming"),
    ("otherParty", "string", "the number or address on the other side"),
    ("durationSeconds", "integer", "duration of a call or session, seconds"),
    ("volumeBytes", "integer", "data volume, bytes"),
    ("freeUnitsConsumed", "number", "free units this usage consumed"),
    ("freeUnitPackage", "string", "the free-unit package they came from"),
    ("roamingCountry", "string", "ISO 3166 country of the visited network"),
]


def specification_ref(base: str, usage_type: str) -> dict[str, Any]:
    return {
        "id": usage_type,
        "href": f"{base}{SPECIFICATION_PATH}/{usage_type}",
        "name": usage_type,
        "@referredType": "UsageSpecification",
    }


def usage_specification(base: str, usage_type: UsageType) -> dict[str, Any]:
    return {
        "id": usage_type.value,
        "href": f"{base}{SPECIFICATION_PATH}/{usage_type.value}",
        "@type": "UsageSpecification",
        "name": usage_type.value,
        "description": _DESCRIPTIONS[usage_type],
        "lifecycleStatus": "active",
        "specCharacteristic": [
            {"name": name, "valueType": value_type, "description": text}
            for name, value_type, text in SPEC_CHARACTERISTICS
        ],
    }


def usage_specifications(base: str) -> list[dict[str, Any]]:
    return [usage_specification(base, each) for each in UsageType]


def usage(record: Mapping[str, Any], msisdn: str | None, base: str) -> dict[str, Any]:
    """One usage line as a TMF635 Usage."""
    charge = record.get("charge") or {}
    values = [
        characteristic("msisdn", msisdn),
        characteristic("direction", record.get("direction")),
        characteristic("otherParty", record.get("other_party")),
        characteristic("durationSeconds", record.get("duration_seconds"), "integer"),
        characteristic("volumeBytes", record.get("volume_bytes"), "integer"),
        characteristic(
            "freeUnitsConsumed", number(record.get("free_units_consumed", "0")), "number"
        ),
        characteristic("freeUnitPackage", record.get("free_unit_package")),
        characteristic("roamingCountry", record.get("roaming_country")),
    ]
    return {
        "id": record["id"],
        "href": f"{base}{USAGE_PATH}/{record['id']}",
        "@type": "Usage",
        "usageDate": moment(record["start_time"]),
        "usageType": record["type"],
        "description": f"{record.get('direction', 'outgoing')} {record['type']}",
        "status": "rated",
        "usageSpecification": specification_ref(base, record["type"]),
        "usageCharacteristic": [c for c in values if c["value"] is not None],
        "ratedProductUsage": [
            {
                "@type": "RatedProductUsage",
                "ratingAmountType": "total",
                "isBilled": False,
                "currencyCode": charge.get("currency"),
                "taxIncludedRatingAmount": {
                    "unit": charge.get("currency"),
                    "value": number(charge.get("amount")),
                },
                "productRef": product_ref(base, "contract", record["contract_id"]),
            }
        ],
        "relatedParty": customer_party(base, record["customer_id"]),
    }
