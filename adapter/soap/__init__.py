"""SOAP 1.1 on the wire, shared by the services the adapter *serves* (the billing push
endpoint, and the billing simulator, which adds its CIL-specific checks on top).

Only lxml elements and bytes here: no HTTP, no state, no service vocabulary. Fault codes are
built from a prefix the caller gives (``NTF`` → ``NTF.SEC0001``), so that each service keeps
its own code space while the checks, and their messages, are the same everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lxml import etree

from adapter.paths import CIL_NS

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
# The URI naming the plain-text password type of the UsernameToken profile (not a secret).
PLAIN_TEXT_TYPE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordText"
)
XML_CONTENT_TYPE = "text/xml; charset=utf-8"


class SoapError(Exception):
    """A request refused with a SOAP fault: ``faultcode`` (Client, Server, VersionMismatch,
    MustUnderstand), a service ``code`` for the ``cmsFault`` detail and the HTTP status."""

    def __init__(
        self,
        faultcode: str,
        code: str,
        message: str,
        *parameters: str,
        http_status: int = 500,
    ) -> None:
        super().__init__(message)
        self.faultcode = faultcode
        self.code = code
        self.message = message
        self.parameters = parameters
        self.http_status = http_status


def q(local: str, ns: str) -> str:
    """The Clark name ``{ns}local``."""
    return f"{{{ns}}}{local}"


def split(tag: str) -> tuple[str | None, str]:
    """``{ns}local`` → (ns, local); (None, tag) for an unqualified name."""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return None, tag


@dataclass(frozen=True)
class Envelope:
    """A checked SOAP 1.1 envelope: its header blocks and the one element in its Body."""

    headers: list[Any]
    payload: Any


def unpack(root: Any, *, prefix: str) -> Envelope:
    """Check that ``root`` is a SOAP 1.1 envelope with one element in its Body; say exactly
    what is wrong otherwise (``VersionMismatch`` for SOAP 1.2, ``Client`` for the rest)."""
    ns, local = split(root.tag) if isinstance(root.tag, str) else (None, "?")
    if local != "Envelope" or ns != SOAP_NS:
        if local == "Envelope" and ns == SOAP12_NS:
            raise SoapError(
                "VersionMismatch",
                f"{prefix}.SOAP0002",
                f"the envelope is SOAP 1.2 ({SOAP12_NS}); this service speaks SOAP 1.1 ({SOAP_NS})",
            )
        raise SoapError(
            "Client",
            f"{prefix}.SOAP0002",
            f"the root element is {{{ns or ''}}}{local}; expected {{{SOAP_NS}}}Envelope",
            ns or "",
        )
    header: Any = None
    body: Any = None
    for child in root:
        if not isinstance(child.tag, str):
            continue  # comments and processing instructions
        child_ns, child_local = split(child.tag)
        if child_ns == SOAP_NS and child_local == "Header" and header is None and body is None:
            header = child
        elif child_ns == SOAP_NS and child_local == "Body" and body is None:
            body = child
        else:
            raise SoapError(
                "Client",
                f"{prefix}.SOAP0002",
                f"unexpected element {{{child_ns or ''}}}{child_local} in the envelope (line "
                f"{child.sourceline}); expected an optional soap:Header and a soap:Body",
                child_ns or "",
            )
    if body is None:
        raise SoapError("Client", f"{prefix}.SOAP0002", "the envelope has no soap:Body")
    payloads = [child for child in body if isinstance(child.tag, str)]
    if len(payloads) != 1:
        raise SoapError(
            "Client",
            f"{prefix}.SOAP0002",
            f"the Body holds {len(payloads)} elements; expected exactly one",
        )
    headers = [h for h in header if isinstance(h.tag, str)] if header is not None else []
    return Envelope(headers=headers, payload=payloads[0])


def username_token(headers: Iterable[Any], *, prefix: str) -> tuple[str, str]:
    """The user and PasswordText password of the one ``wsse:Security`` header, refusing
    anything else (``<prefix>.SEC0001``). Other headers marked ``mustUnderstand`` are refused
    with ``soap:MustUnderstand``, as SOAP 1.1 requires."""
    security = None
    for block in headers:
        ns, local = split(block.tag)
        if ns == WSSE_NS and local == "Security":
            if security is not None:
                raise SoapError(
                    "Client", f"{prefix}.SEC0001", "the header holds more than one wsse:Security"
                )
            security = block
        elif block.get(q("mustUnderstand", SOAP_NS)) in {"1", "true"}:
            raise SoapError(
                "MustUnderstand",
                f"{prefix}.SOAP0005",
                f"the header {{{ns or ''}}}{local} is marked mustUnderstand and is not "
                "understood here",
            )
    if security is None:
        raise SoapError(
            "Client",
            f"{prefix}.SEC0001",
            f"no wsse:Security header ({WSSE_NS}) with a UsernameToken; every operation needs one",
        )
    token = security.find(q("UsernameToken", WSSE_NS))
    if token is None:
        raise SoapError("Client", f"{prefix}.SEC0001", "wsse:Security holds no UsernameToken")
    user = token.findtext(q("Username", WSSE_NS))
    password_el = token.find(q("Password", WSSE_NS))
    if not user or password_el is None:
        raise SoapError(
            "Client",
            f"{prefix}.SEC0001",
            "the UsernameToken needs wsse:Username and wsse:Password",
        )
    kind = password_el.get("Type", PLAIN_TEXT_TYPE)
    if kind != PLAIN_TEXT_TYPE:
        raise SoapError(
            "Client",
            f"{prefix}.SEC0001",
            f"password type {kind} is not supported; send PasswordText",
            kind,
        )
    return user.strip(), password_el.text or ""


def envelope(payload: Any) -> bytes:
    """A SOAP 1.1 envelope around ``payload``, serialised with an XML declaration."""
    env = etree.Element(q("Envelope", SOAP_NS), nsmap={"soap": SOAP_NS})
    etree.SubElement(env, q("Header", SOAP_NS))
    body = etree.SubElement(env, q("Body", SOAP_NS))
    body.append(payload)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="UTF-8"))


def fault(
    faultcode: str,
    faultstring: str,
    *,
    code: str | None = None,
    parameters: Iterable[str] = (),
) -> bytes:
    """A SOAP 1.1 fault envelope; with ``code``, a ``cil:cmsFault`` detail carries it (the
    one fault detail type of both the CIL and the notification WSDL)."""
    env = etree.Element(q("Envelope", SOAP_NS), nsmap={"soap": SOAP_NS})
    body = etree.SubElement(env, q("Body", SOAP_NS))
    node = etree.SubElement(body, q("Fault", SOAP_NS))
    # faultcode, faultstring and detail are unqualified (SOAP 1.1, section 4.4)
    etree.SubElement(node, "faultcode").text = f"soap:{faultcode}"
    etree.SubElement(node, "faultstring").text = faultstring
    if code is not None:
        detail = etree.SubElement(node, "detail")
        cms = etree.SubElement(detail, q("cmsFault", CIL_NS), nsmap={"cil": CIL_NS})
        etree.SubElement(cms, q("code", CIL_NS)).text = code
        etree.SubElement(cms, q("message", CIL_NS)).text = faultstring
        for parameter in parameters:
            etree.SubElement(cms, q("parameter", CIL_NS)).text = parameter
    return bytes(etree.tostring(env, xml_declaration=True, encoding="UTF-8"))


def error_fault(error: SoapError) -> bytes:
    return fault(error.faultcode, error.message, code=error.code, parameters=error.parameters)
