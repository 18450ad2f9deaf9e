"""Legacy messages as they may be logged: personal data and credentials masked.

The raw request and response of a failed call stay on the exception (and in the gateway's
short list of recent failures) for whoever diagnoses it; a log line only ever gets the masked
text from here."""

from __future__ import annotations

from typing import Any

from lxml import etree

from adapter.pii import mask
from adapter.xmlsafe import XmlRejected, parse

# Local names of CIL and WS-Security elements whose text is personal data or a secret.
PII_ELEMENTS = frozenset(
    {
        "firstName",
        "lastName",
        "birthDate",
        "email",
        "phone",
        "taxNo",
        "idNo",
        "passportNo",
        "companyRegNo",
        "adrLine",
        "adrZip",
        "dnNum",
        "smNum",
        "imsi",
        "otherParty",
        "Username",
        "Password",
        "Nonce",
    }
)
SECRET_ELEMENTS = frozenset({"Password", "Nonce"})
MAX_LOGGED = 4000  # characters of a masked message in one log event


def masked(message: bytes | None) -> str | None:
    """``message`` with the text of personal and secret elements masked, shortened for a log
    line; a body that is not XML is described, not shown (an HTML page may echo anything)."""
    if message is None:
        return None
    try:
        root = parse(message, max_bytes=max(len(message), 1), what="message")
    except XmlRejected as exc:
        return f"<{len(message)} bytes, not readable XML: {str(exc)[:160]}>"
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions
        name = etree.QName(element).localname
        if name in PII_ELEMENTS and element.text:
            element.text = "***" if name in SECRET_ELEMENTS else mask(element.text)
    text: str = etree.tostring(root, encoding="unicode")
    if len(text) > MAX_LOGGED:
        return text[:MAX_LOGGED] + f"… ({len(text)} characters)"
    return text


def describe(error: Any) -> dict[str, Any]:
    """Log fields for a failed call: what failed, how, and the masked messages."""
    return {
        "operation": getattr(error, "operation", None),
        "attempts": getattr(error, "attempts", None),
        "http_status": getattr(error, "http_status", None),
        "request": masked(getattr(error, "request_xml", None)),
        "response": masked(getattr(error, "response_xml", None)),
    }
