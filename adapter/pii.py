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
# Items like {"type": "email", "value": …} carry PII in "value" when their type is one of these.
PII_TYPES = frozenset(
    {
        "email",
        "phone",
        "mobile",
        "fax",
        "tin",
        "personal_id",
        "passport",
        "company_registration",
    }
)


def mask(value: Any) -> str:
    """Keep the last two characters of a text, hide the rest; hide anything else whole."""
    if value is None:
        return "null"
    text = str(value)
    if len(text) <= 4 or not isinstance(value, str):
        return "***"
    return "*" * (len(text) - 2) + text[-2:]


def is_pii_key(key: str) -> bool:
    """A plain key or a dotted diff path ('party.family_name', 'contact_media.0.value')."""
    return any(part in PII_KEYS for part in str(key).split("."))


def _masked(value: Any) -> Any:
    if isinstance(value, Mapping) and set(value) <= {"old", "new"}:
        return {k: _masked(v) for k, v in value.items()}  # a diff entry: mask both sides
    if isinstance(value, list | tuple | Mapping):
        return "***"
    return mask(value)


def _walk(value: Any) -> Any:
    if isinstance(value, Mapping):
        return mask_mapping(value)
    if isinstance(value, list | tuple):
        return [_walk(v) for v in value]
    return value


def mask_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``data`` with PII masked: values under PII keys or dotted paths through
    one, and the ``value`` of typed items such as contact media and identifications."""
    typed_pii = data.get("type") in PII_TYPES
    result: dict[str, Any] = {}
    for key, value in data.items():
        if is_pii_key(key) or (typed_pii and key == "value"):
            result[key] = _masked(value)
        else:
            result[key] = _walk(value)
    return result


# What the CRM API masks in its answers unless the caller holds pii.read: identity documents
# and the birth date. (Names, addresses, e-mail and MSISDN are what a care agent works with;
# they stay visible to every reader but are still masked in logs by mask_mapping.)
SENSITIVE_KEYS = frozenset(
    {"birth_date", "tin", "personal_id", "passport", "passport_number", "value_key"}
)
SENSITIVE_TYPES = frozenset({"tin", "personal_id", "passport"})


def _sensitive_path(key: str) -> bool:
    parts = str(key).split(".")
    # A diff path through an identification ('identifications.0.value') may carry any type.
    return any(p in SENSITIVE_KEYS for p in parts) or (
        len(parts) > 1 and parts[0] == "identifications"
    )


def mask_sensitive(data: Any) -> Any:
    """A deep copy of ``data`` with the identity documents and birth dates masked: values
    under a sensitive key (or dotted path through one), and the ``value`` of an item whose
    ``type`` is TIN, personal id or passport. Everything else is left as it is."""
    if isinstance(data, list | tuple):
        return [mask_sensitive(v) for v in data]
    if not isinstance(data, Mapping):
        return data
    typed = data.get("type") in SENSITIVE_TYPES
    result: dict[str, Any] = {}
    for key, value in data.items():
        if _sensitive_path(key) or (typed and key == "value"):
            result[key] = None if value is None else _masked(value)
        else:
            result[key] = mask_sensitive(value)
    return result
