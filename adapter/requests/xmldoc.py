"""BSCS-style XML request documents (``wsdl/requests.xsd``), mapped into the request envelope.

A provisioning system that speaks BSCS rather than JSON sends one ``<request>`` document per
request: a header (``requestId``, ``user``, ``channel``, optionally ``expectedVersion`` and
``customer``) and one body element naming the operation (``<customerNew>``,
``<contractStatusWrite>``…). :func:`to_envelope` turns such a document into the envelope the
JSON path takes, in this order, refusing it with :class:`DocumentRejected` (which names the
line and what is wrong) at the first step that fails:

1. hardened parsing (:mod:`adapter.xmlsafe`: no DOCTYPE, no entity, no network, a size cap);
2. the root is ``<request>`` of ``urn:bscs:requests:v1`` and its body element is one that a
   request document map of ``mappings/documents/requests/`` maps (else: the known ones);
3. validation against ``wsdl/requests.xsd``;
4. the body mapped by that file's XPath rules into the envelope (operation from the map's
   ``request:`` key).

The envelope then goes the way of any envelope (:func:`adapter.requests.apply.submit`): the
JSON Schema validates it, and a request it refuses is recorded ``failed`` under its request
id. A rejected document writes nothing: without a valid document there is no envelope to
record.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Final

from lxml import etree

from adapter import xmlsafe
from adapter.mapping import REQUESTS_NAMESPACE, MappingFailed, Mappings, load_mappings
from adapter.paths import WSDL_DIR

REQUESTS_XSD: Final = WSDL_DIR / "requests.xsd"
ROOT_TAG: Final = f"{{{REQUESTS_NAMESPACE}}}request"
HEADER: Final = frozenset(
    f"{{{REQUESTS_NAMESPACE}}}{name}"
    for name in ("requestId", "user", "channel", "expectedVersion", "customer")
)
MAX_SCHEMA_ERRORS: Final = 3
MAX_MESSAGE_CHARS: Final = 300  # a schema message quotes the bad value, which may be long

_LINE = re.compile(r"\bline (\d+)")


class DocumentRejected(ValueError):
    """A request document that is not accepted. ``rule`` says which check refused it
    (``xml``, ``root``, ``operation``, ``schema``, ``mapping``), ``line`` where (when known);
    the message says what is wrong."""

    def __init__(self, rule: str, message: str, line: int | None = None) -> None:
        self.rule = rule
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)

    def as_reason(self) -> dict[str, Any]:
        """The rejection in the shape of a request failure's ``reason``."""
        return {
            "code": "invalid_document",
            "message": str(self),
            "violations": [
                {
                    "field": f"line {self.line}" if self.line is not None else "(document)",
                    "rule": self.rule,
                    "message": str(self),
                }
            ],
        }


def is_xml(data: str | bytes) -> bool:
    """Whether ``data`` looks like an XML document: its first non-blank character (after a
    byte order mark) is ``<``; a JSON envelope starts with ``{`` or ``[``."""
    if isinstance(data, bytes):
        return data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"<"
    return data.removeprefix("\ufeff").lstrip()[:1] == "<"


@functools.cache
def request_schema(path: Path = REQUESTS_XSD) -> Any:
    """``wsdl/requests.xsd`` as an lxml ``XMLSchema``, read once from disk with the hardened
    parser."""
    return etree.XMLSchema(etree.parse(str(path), xmlsafe.parser()))


def to_envelope(data: str | bytes, *, mappings: Mappings | None = None) -> dict[str, Any]:
    """The request envelope (decoded JSON: text, numbers and booleans only) of the request
    document ``data``, or :class:`DocumentRejected`."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        root = xmlsafe.parse(raw, what="request document")
    except xmlsafe.XmlRejected as exc:
        found = _LINE.search(str(exc))
        raise DocumentRejected("xml", str(exc), int(found.group(1)) if found else None) from None
    if root.tag != ROOT_TAG:
        raise DocumentRejected(
            "root",
            f"the root element is {_name(root.tag)}; a request document's root is <request> "
            f"in the namespace {REQUESTS_NAMESPACE}",
            root.sourceline,
        )
    maps = mappings or load_mappings()
    body = _body(root, maps)
    operation, document = maps.request_document(body.tag)
    _validate(root)
    try:
        mapped = maps.document(document, body)
    except MappingFailed as exc:
        raise DocumentRejected("mapping", str(exc), body.sourceline) from None
    return _envelope(operation, mapped)


def _body(root: Any, maps: Mappings) -> Any:
    """The operation element: the first child that is not part of the header. One the maps
    do not know is refused here, naming the known ones, before the schema's less direct
    message."""
    bodies = maps.request_bodies
    for child in root:
        if not isinstance(child.tag, str) or child.tag in HEADER:
            continue
        if child.tag not in bodies:
            known = ", ".join(
                f"{_name(tag)} ({operation})" for tag, (operation, _doc) in bodies.items()
            )
            raise DocumentRejected(
                "operation",
                f"{_name(child.tag)} is not an operation of a request document; one of: {known}",
                child.sourceline,
            )
        return child
    raise DocumentRejected(
        "operation", "the request has no operation element after its header", root.sourceline
    )


def _validate(root: Any) -> None:
    schema = request_schema()
    if schema.validate(root):
        return
    errors = list(schema.error_log)[:MAX_SCHEMA_ERRORS]
    first = errors[0]
    described = "; ".join(
        (f"line {e.line}: " if e is not first else "") + _shorten(_prefixed(e.message))
        for e in errors
    )
    raise DocumentRejected(
        "schema", f"the document does not match requests.xsd: {described}", first.line
    )


def _envelope(operation: str, mapped: dict[str, Any]) -> dict[str, Any]:
    """The mapped fields in the envelope's order, with the operation the map is for."""
    envelope: dict[str, Any] = {}
    for key in ("request_id", "originating_user", "channel"):
        if key in mapped:
            envelope[key] = mapped.pop(key)
    envelope["operation"] = operation
    envelope.update(mapped)
    return envelope


def _name(tag: str) -> str:
    namespace, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    if namespace == REQUESTS_NAMESPACE:
        return f"<{local}>"
    return f"<{local}> (namespace {namespace or 'none'})"


def _prefixed(message: str) -> str:
    return message.replace("{" + REQUESTS_NAMESPACE + "}", "req:")


def _shorten(text: str) -> str:
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return f"{text[: MAX_MESSAGE_CHARS - 30]}… ({len(text)} characters)"
