"""SOAP 1.1 on the wire: the envelope checks, reading CIL request elements, writing responses
and faults. Only lxml elements and bytes here; no HTTP, no state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from lxml import etree

from adapter import soap
from adapter.paths import CIL_NS
from adapter.soap import (  # shared with the notification endpoint; re-exported
    PLAIN_TEXT_TYPE as PLAIN_TEXT_TYPE,
)
from adapter.soap import SOAP12_NS as SOAP12_NS
from adapter.soap import SOAP_NS as SOAP_NS
from adapter.soap import WSSE_NS as WSSE_NS
from adapter.soap import XML_CONTENT_TYPE as XML_CONTENT_TYPE
from adapter.soap import SoapError, split
from adapter.soap import envelope as envelope
from adapter.soap import fault as fault

from .codes import CODES, CmsError

T = TypeVar("T")
FAULT_PREFIX = "CMS"  # the shared SOAP checks raise CMS.SOAP0002, CMS.SEC0001, …

# The 18 operations of cil.wsdl, by operation name; the request element is derived from it.
OPERATIONS = (
    "CustomerNew",
    "CustomerRead",
    "CustomerWrite",
    "CustomersSearch",
    "CustomerHierarchyWrite",
    "AddressWrite",
    "CustomerInfoWrite",
    "ContractNew",
    "ContractRead",
    "ContractWrite",
    "ContractServicesAdd",
    "ContractServicesRead",
    "ContractServicesWrite",
    "DiscountAssign",
    "DiscountRemove",
    "BalancesRead",
    "ContractFreeUnitsRead",
    "UsageDataRecordsRead",
)


def request_element(operation: str) -> str:
    """``CustomerNew`` -> ``customerNewRequest``."""
    return operation[0].lower() + operation[1:] + "Request"


def response_element(operation: str) -> str:
    return operation[0].lower() + operation[1:] + "Response"


OPERATION_BY_ELEMENT = {request_element(op): op for op in OPERATIONS}


def q(local: str, ns: str = CIL_NS) -> str:
    """The Clark name ``{ns}local``."""
    return f"{{{ns}}}{local}"


# ------------------------------------------------------------------------------ requests


@dataclass(frozen=True)
class Envelope:
    """A checked SOAP 1.1 envelope: its header blocks and the one element in its Body."""

    headers: list[Any]
    payload: Any
    operation: str


def unpack(root: Any) -> Envelope:
    """Check that ``root`` is a SOAP 1.1 envelope holding one CIL request; say what is wrong
    otherwise (a ``soap:Client`` fault, or ``VersionMismatch`` for a SOAP 1.2 envelope). The
    envelope checks are the shared ones; the CIL namespace and the operation are checked here."""
    try:
        checked = soap.unpack(root, prefix=FAULT_PREFIX)
    except SoapError as exc:
        raise _translated(exc) from None
    payload = checked.payload
    pns, plocal = split(payload.tag)
    if pns != CIL_NS:
        raise CmsError(
            "CMS.SOAP0003",
            f"the request element {plocal} is in the namespace {pns or '(none)'}; expected "
            f"{CIL_NS}",
            pns or "",
        )
    operation = OPERATION_BY_ELEMENT.get(plocal)
    if operation is None:
        raise CmsError("CMS.SOAP0003", f"no operation takes the element {plocal}", plocal)
    return Envelope(headers=checked.headers, payload=payload, operation=operation)


def peek_operation(root: Any) -> str | None:
    """The operation a parsed request asks for, if it can be told; used before any check so
    that fault rules limited to an operation apply even to requests that will be refused."""
    for body in root.iterchildren(q("Body", SOAP_NS)):
        for payload in body:
            if isinstance(payload.tag, str):
                return OPERATION_BY_ELEMENT.get(split(payload.tag)[1])
    return None


def username_token(headers: Iterable[Any]) -> tuple[str, str]:
    """The user and PasswordText password of the one ``wsse:Security`` header, refusing
    anything else (``CMS.SEC0001``). Other headers marked ``mustUnderstand`` are refused with
    ``soap:MustUnderstand``, as SOAP 1.1 requires."""
    try:
        return soap.username_token(headers, prefix=FAULT_PREFIX)
    except SoapError as exc:
        raise _translated(exc) from None


def _translated(error: SoapError) -> CmsError | SoapFault:
    """The simulator's own exception for a refusal of the shared SOAP checks: a
    :class:`CmsError` when the code's faultcode in the table is the one the check chose, a
    :class:`SoapFault` otherwise (``VersionMismatch``, ``MustUnderstand``), so that the
    service turns either into the same fault as before."""
    if error.faultcode == CODES[error.code].faultcode:
        return CmsError(error.code, error.message, *error.parameters, http_status=error.http_status)
    return SoapFault(error.faultcode, error.message, code=error.code)


def session_values(payload: Any) -> dict[str, str]:
    """The ``sessionChangeRequest`` items of a (schema-valid) request, key -> value."""
    values: dict[str, str] = {}
    for item in payload.iterfind(f"{q('sessionChangeRequest')}/{q('values')}/{q('item')}"):
        values[item.findtext(q("key"))] = item.findtext(q("value"))
    return values


class Node:
    """Typed reading of a schema-valid CIL element: the XSD has already checked the lexical
    forms, so these conversions do not fail on a validated request."""

    def __init__(self, element: Any) -> None:
        self.element = element

    def child(self, name: str) -> Node | None:
        found = self.element.find(q(name))
        return None if found is None else Node(found)

    def need(self, name: str) -> Node:
        """A child the schema requires (so it is there in a validated request)."""
        found = self.child(name)
        if found is None:
            raise CmsError("CMS.VAL0001", f"the request has no {name}")
        return found

    def children(self, name: str) -> list[Node]:
        return [Node(e) for e in self.element.iterfind(q(name))]

    def has(self, name: str) -> bool:
        return self.element.find(q(name)) is not None

    def text(self, name: str) -> str | None:
        found = self.element.find(q(name))
        if found is None:
            return None
        return found.text or ""

    def texts(self, name: str) -> list[str]:
        return [e.text or "" for e in self.element.iterfind(q(name))]

    def token(self, name: str) -> str | None:
        """A value whose XSD type collapses whitespace (ids, codes, numbers)."""
        value = self.text(name)
        return None if value is None else value.strip()

    def long(self, name: str) -> int | None:
        value = self.token(name)
        return None if value is None else int(value)

    def boolean(self, name: str) -> bool | None:
        value = self.token(name)
        return None if value is None else value in {"true", "1"}

    def decimal(self, name: str) -> Decimal | None:
        value = self.token(name)
        return None if value is None else Decimal(value)

    def date(self, name: str) -> date | None:
        value = self.token(name)
        return None if value is None else parse_xs_date(value)

    def datetime(self, name: str) -> datetime | None:
        value = self.token(name)
        return None if value is None else parse_xs_datetime(value)


def need(value: T | None, name: str) -> T:
    """A value the schema requires, typed as present."""
    if value is None:
        raise CmsError("CMS.VAL0001", f"the request has no {name}")
    return value


def parse_xs_date(value: str) -> date:
    """An ``xs:date``, its optional time zone dropped (a day is a day in billing)."""
    for marker in ("Z", "+"):
        if marker in value:
            value = value.split(marker, 1)[0]
    if value.count("-") > 2:  # 2024-05-17-02:00
        value = value.rsplit("-", 1)[0]
    return date.fromisoformat(value)


def parse_xs_datetime(value: str) -> datetime:
    """An ``xs:dateTime``; one without a zone is taken as UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# ----------------------------------------------------------------------------- responses


def element(name: str) -> Any:
    """A new CIL element (the root of a response payload)."""
    return etree.Element(q(name), nsmap={"cil": CIL_NS})


def add(parent: Any, name: str, value: object = None) -> Any:
    """Append ``<cil:name>value</cil:name>`` to ``parent`` and return it; ``None`` adds an
    empty element (for containers)."""
    child = etree.SubElement(parent, q(name))
    if value is not None:
        child.text = xs_text(value)
    return child


def add_opt(parent: Any, name: str, value: object) -> None:
    """Append only when there is a value (optional elements)."""
    if value is not None:
        add(parent, name, value)


def xs_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class SoapFault(Exception):
    """A fault whose faultcode is none of Client/Server (VersionMismatch, MustUnderstand)."""

    def __init__(self, faultcode: str, message: str, *, code: str) -> None:
        super().__init__(message)
        self.faultcode = faultcode
        self.message = message
        self.code = code


def cms_fault(error: CmsError) -> bytes:
    return fault(error.faultcode, error.message, code=error.code, parameters=error.parameters)
