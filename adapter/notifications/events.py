"""The notification operations and the stored form of a notification.

A notification is stored as JSON (``inbound_event.payload``), not as XML: the XML has been
validated against ``notifications.xsd`` once, at the door, and the worker then reads plain
values. The conversion is generic (local names, repeated elements as lists, text stripped, as
the schema's types collapse whitespace), so the stored form follows the XSD without a second
description of it.
"""

from __future__ import annotations

from typing import Any, Final

from adapter.soap import split

from . import NOTIFY_NS

#: Operation name (the WSDL's) by request element.
OPERATIONS: Final[dict[str, str]] = {
    "balanceUpdatedNotification": "BalanceUpdated",
    "freeUnitsUpdatedNotification": "FreeUnitsUpdated",
    "usageRecordsNotification": "UsageRecords",
    "customerChangedNotification": "CustomerChanged",
    "contractStatusChangedNotification": "ContractStatusChanged",
}
#: Elements the schema lets repeat: always lists in the stored form, even with one item.
REPEATED: Final = frozenset({"freeUnit", "udr"})


def operation_of(payload: Any) -> str | None:
    """The operation a Body element asks for; None when it is none of ours."""
    ns, local = split(payload.tag)
    return OPERATIONS.get(local) if ns == NOTIFY_NS else None


def to_json(element: Any) -> Any:
    """A (schema-valid) element as JSON: a leaf is its stripped text, a container an object
    of its children by local name, with :data:`REPEATED` children as lists."""
    children = [c for c in element if isinstance(c.tag, str)]
    if not children:
        return (element.text or "").strip()
    result: dict[str, Any] = {}
    for child in children:
        name = split(child.tag)[1]
        value = to_json(child)
        if name in REPEATED:
            result.setdefault(name, []).append(value)
        else:
            result[name] = value
    return result
