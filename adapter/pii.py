"""Personal data that must not be shown or logged raw, and how it is masked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Keys whose values are PII wherever they appear (log events, snapshots, diffs).
PII_KEYS = frozenset(
    {
        "birth_date",
        "tin",
        "personal_id",
        "passport",
        "identifications",
        "value_key",
        "email",
        "phone",
        "msisdn",
        "imsi",
        "iccid",
        "given_name",
        "family_name",
        "lines",
    }
)


def mask(value: Any) -> str:
    """Keep the last two characters of a short text, hide the rest; hide anything else whole."""
    if value is None:
        return "null"
    text = str(value)
    if len(text) <= 4 or not isinstance(value, str):
        return "***"
    return "*" * (len(text) - 2) + text[-2:]


def mask_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``data`` with the values under PII keys masked."""
    result: dict[str, Any] = {}
    for key, value in data.items():
        if key in PII_KEYS:
            result[key] = mask(value) if not isinstance(value, list | dict) else "***"
        elif isinstance(value, Mapping):
            result[key] = mask_mapping(value)
        elif isinstance(value, list):
            result[key] = [mask_mapping(v) if isinstance(v, Mapping) else v for v in value]
        else:
            result[key] = value
    return result
