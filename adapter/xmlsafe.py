"""Hardened XML reading: the one place that turns untrusted bytes into lxml trees.

Every inbound XML (SOAP requests at the simulator and the notification endpoint, legacy
exports at the importer, documents walked by the mapping engine) goes through here, so that
the rules hold everywhere:

- no DOCTYPE at all (refused before parsing: no DTD, no entity declaration, no XXE, no
  billion laughs), no entity expansion, no network access, no huge-tree mode (libxml2's
  limits on depth and text size stay on);
- a size cap on a whole document (``parse``) and, for streams, memory that does not grow with
  the file (``iterparse``: each finished element is handed out, then cleared);
- errors as :class:`XmlRejected` with a message that says what was wrong and where.

zeep has its own equivalent settings (``forbid_dtd``, ``forbid_entities``,
``forbid_external``), which the gateway turns on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

from lxml import etree

DEFAULT_MAX_BYTES = 1_048_576  # 1 MiB: far above any CIL message, far below harm
PROLOG_MAX = 65_536  # bytes before the root element that a stream may spend on its prolog

_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_ROOT_START = re.compile(rb"<[A-Za-z_]")


class XmlRejected(ValueError):
    """Untrusted XML that is not accepted; the message names the reason (and the line)."""


def parser() -> Any:
    """A parser that loads no DTD, expands no entity, reaches no network."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=True,
    )


def parse(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, what: str = "document") -> Any:
    """The root element of ``data``, or :class:`XmlRejected`."""
    if len(data) > max_bytes:
        raise XmlRejected(f"{what} is {len(data)} bytes, more than the {max_bytes} allowed")
    if not data.strip():
        raise XmlRejected(f"{what} is empty")
    _refuse_doctype(data, what)
    try:
        root = etree.fromstring(data, parser())
    except etree.XMLSyntaxError as exc:
        raise XmlRejected(f"{what} is not well-formed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:  # belt and braces: the scan above already refused
        raise XmlRejected(f"{what} has a DOCTYPE, which is not accepted")
    return root


def iterparse(source: IO[bytes], tag: str, *, what: str = "file") -> Iterator[Any]:
    """Each complete ``tag`` element of a (possibly huge) document, in order.

    The element is cleared, with the siblings before it, once the caller moves on, so memory
    stays flat whatever the file's size. ``tag`` is a Clark name (``{namespace}local``)."""
    head = source.read(PROLOG_MAX)
    root_at = _ROOT_START.search(head)
    prolog = head if root_at is None else head[: root_at.start()]
    if root_at is None and len(head) == PROLOG_MAX:
        raise XmlRejected(f"{what}: no root element in its first {PROLOG_MAX} bytes")
    _refuse_doctype(prolog, what)
    stream = _Chained(head, source)
    events = etree.iterparse(
        stream,
        events=("end",),
        tag=tag,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )
    try:
        for _event, element in events:
            yield element
            element.clear(keep_tail=False)
            parent = element.getparent()
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise XmlRejected(f"{what} is not well-formed XML: {exc}") from None


def _refuse_doctype(data: bytes, what: str) -> None:
    found = _DOCTYPE.search(data)
    if found:
        line = data.count(b"\n", 0, found.start()) + 1
        kind = found.group(1).decode().upper()
        raise XmlRejected(f"{what} has a {kind} declaration (line {line}), which is not accepted")


class _Chained:
    """A read-only stream: ``head`` (already read) and then the rest of ``source``."""

    def __init__(self, head: bytes, source: IO[bytes]) -> None:
        self._head = head
        self._source = source

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0 or size >= len(self._head):
                chunk, self._head = self._head, b""
                if size < 0:
                    return chunk + self._source.read()
                return chunk
            chunk, self._head = self._head[:size], self._head[size:]
            return chunk
        return self._source.read(size)
