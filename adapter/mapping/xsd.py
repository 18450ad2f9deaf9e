"""The element structure of the legacy XSDs, read with lxml, and XML built from nested dicts.

The mapping loader checks every legacy path of a mapping file against this structure (an
element that the schema does not declare is a load error, not a fault at the first call), and
it knows from it which elements repeat (a value for those is a list, as zeep wants it), which
are required, and which codes an enumerated simple type allows. The schemas are trusted files
of the project; they are still read through :mod:`adapter.xmlsafe` so that no DTD or entity is
ever expanded.

:func:`to_element` goes the other way: a nested dict (the shape zeep accepts) becomes an lxml
element with its children in schema order. Tests use it to validate outbound payloads against
the XSD, and the export generator to write records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree

from adapter import xmlsafe

XS = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
_MAX_SCHEMA_BYTES = 4 * 1_048_576


class SchemaProblem(ValueError):
    """A schema or WSDL the mapping engine cannot make sense of."""


@dataclass
class XsdElement:
    """One element declaration: its occurrence bounds, and either a simple type (by local
    name, e.g. ``decimal`` for xs:decimal or ``AddressRole``) or children in schema order."""

    name: str
    min_occurs: int = 1
    max_occurs: int | None = 1  # None: unbounded
    simple_type: str | None = None
    builtin: str | None = None  # the XML Schema built-in type the simple type restricts
    allowed: frozenset[str] | None = None  # enumeration facets, when the type has them
    children: dict[str, XsdElement] | None = None

    @property
    def repeated(self) -> bool:
        return self.max_occurs is None or self.max_occurs > 1

    @property
    def complex(self) -> bool:
        return self.children is not None


@dataclass
class XsdSchema:
    """The global elements of one schema and every element name it declares anywhere."""

    path: Path
    namespace: str
    elements: dict[str, XsdElement] = field(default_factory=dict)
    names: frozenset[str] = frozenset()

    def element(self, name: str) -> XsdElement:
        try:
            return self.elements[name]
        except KeyError:
            raise SchemaProblem(f"{self.path.name} declares no global element {name!r}") from None


@dataclass(frozen=True)
class WsdlOperation:
    name: str
    request: str  # global element of the input message
    response: str  # global element of the output message


def _local(qname: str) -> str:
    return qname.rsplit(":", 1)[-1]


def _occurs(node: Any, attribute: str) -> int | None:
    raw = node.get(attribute, "1")
    return None if raw == "unbounded" else int(raw)


class _Reader:
    """Turns the xs: declarations of one schema document into :class:`XsdElement` trees."""

    def __init__(self, root: Any, path: Path) -> None:
        self.path = path
        self.namespace = root.get("targetNamespace", "")
        self.complex_types = {
            n.get("name"): n for n in root.iterfind(f"{{{XS}}}complexType") if n.get("name")
        }
        self.simple_types = {
            n.get("name"): n for n in root.iterfind(f"{{{XS}}}simpleType") if n.get("name")
        }
        self._building: set[str] = set()
        self._complex_cache: dict[str, dict[str, XsdElement]] = {}

    def element(self, node: Any) -> XsdElement:
        name = node.get("name")
        if name is None:
            raise SchemaProblem(f"{self.path.name}: element references (ref=) are not supported")
        element = XsdElement(
            name=name,
            min_occurs=int(node.get("minOccurs", "1")),
            max_occurs=_occurs(node, "maxOccurs"),
        )
        type_name = node.get("type")
        inline_complex = node.find(f"{{{XS}}}complexType")
        inline_simple = node.find(f"{{{XS}}}simpleType")
        if inline_complex is not None:
            element.children = self._children(inline_complex)
        elif inline_simple is not None:
            self._simple(element, inline_simple)
        elif type_name is not None:
            local = _local(type_name)
            if type_name.startswith(("xs:", "xsd:")):
                element.simple_type = element.builtin = local
            elif local in self.complex_types:
                element.children = self._named_complex(local)
            elif local in self.simple_types:
                element.simple_type = local
                self._simple(element, self.simple_types[local])
            else:
                raise SchemaProblem(f"{self.path.name}: type {type_name!r} of {name!r} is unknown")
        else:
            element.simple_type = element.builtin = "string"
        return element

    def _named_complex(self, name: str) -> dict[str, XsdElement]:
        if name in self._complex_cache:
            return self._complex_cache[name]
        if name in self._building:
            raise SchemaProblem(f"{self.path.name}: recursive complex type {name!r}")
        self._building.add(name)
        try:
            children = self._children(self.complex_types[name])
        finally:
            self._building.discard(name)
        self._complex_cache[name] = children
        return children

    def _children(self, complex_type: Any) -> dict[str, XsdElement]:
        children: dict[str, XsdElement] = {}

        def walk(group: Any) -> None:
            for node in group:
                if not isinstance(node.tag, str):
                    continue  # comments
                tag = etree.QName(node).localname
                if tag == "element":
                    child = self.element(node)
                    children[child.name] = child
                elif tag in ("sequence", "choice", "all"):
                    walk(node)

        walk(complex_type)
        return children

    def _simple(self, element: XsdElement, simple_type: Any) -> None:
        restriction = simple_type.find(f"{{{XS}}}restriction")
        if restriction is None:
            element.builtin = "string"
            return
        base = _local(restriction.get("base", "xs:string"))
        if base in self.simple_types:
            self._simple(element, self.simple_types[base])
        else:
            element.builtin = base
        values = [n.get("value") for n in restriction.iterfind(f"{{{XS}}}enumeration")]
        if values:
            element.allowed = frozenset(v for v in values if v is not None)


def _read_xml(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SchemaProblem(f"cannot read {path}: {exc}") from None
    return xmlsafe.parse(data, max_bytes=_MAX_SCHEMA_BYTES, what=str(path))


def load_schema(path: Path) -> XsdSchema:
    """Every global element of the schema at ``path`` with its whole element tree."""
    root = _read_xml(path)
    reader = _Reader(root, path)
    schema = XsdSchema(path=path, namespace=reader.namespace)
    for node in root.iterfind(f"{{{XS}}}element"):
        element = reader.element(node)
        schema.elements[element.name] = element
    schema.names = frozenset(
        n.get("name") for n in root.iter(f"{{{XS}}}element") if n.get("name") is not None
    )
    return schema


def load_operations(path: Path) -> dict[str, WsdlOperation]:
    """The operations of the WSDL's port types, with their request and response elements."""
    root = _read_xml(path)
    messages: dict[str, str] = {}
    for message in root.iterfind(f"{{{WSDL}}}message"):
        part = message.find(f"{{{WSDL}}}part")
        if part is not None and part.get("element"):
            messages[message.get("name")] = _local(part.get("element"))
    operations: dict[str, WsdlOperation] = {}
    for port_type in root.iterfind(f"{{{WSDL}}}portType"):
        for op in port_type.iterfind(f"{{{WSDL}}}operation"):
            sent = op.find(f"{{{WSDL}}}input")
            received = op.find(f"{{{WSDL}}}output")
            if sent is None or received is None:
                continue
            name = op.get("name")
            operations[name] = WsdlOperation(
                name=name,
                request=messages[_local(sent.get("message"))],
                response=messages[_local(received.get("message"))],
            )
    return operations


# ----------------------------------------------------------------------------- dict → XML


def lexical(value: Any) -> str:
    """The XML Schema lexical form of a Python value (booleans as true/false, decimals
    without exponent, dates and date-times in ISO 8601)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def to_element(
    declaration: XsdElement, value: Any, namespace: str, *, default_namespace: bool = False
) -> Any:
    """``value`` (a dict for a complex element, a scalar for a simple one) as an lxml
    element named after ``declaration``; children come out in schema order whatever the
    dict's order. A key the schema does not declare raises :class:`SchemaProblem`. With
    ``default_namespace`` the element declares ``namespace`` as its default (no prefix)."""
    nsmap = {None: namespace} if default_namespace else None
    element = etree.Element(f"{{{namespace}}}{declaration.name}", nsmap=nsmap)
    _fill(element, declaration, value, namespace)
    return element


def _fill(element: Any, declaration: XsdElement, value: Any, namespace: str) -> None:
    if declaration.children is None:
        element.text = lexical(value)
        return
    if not isinstance(value, dict):
        raise SchemaProblem(f"{declaration.name} is a complex element; got {value!r}")
    unknown = set(value) - set(declaration.children)
    if unknown:
        raise SchemaProblem(f"{declaration.name} has no child element {sorted(unknown)}")
    for child in declaration.children.values():
        item = value.get(child.name)
        if item is None:
            continue
        for one in item if isinstance(item, list) else [item]:
            if one is None:
                continue
            sub = etree.SubElement(element, f"{{{namespace}}}{child.name}")
            _fill(sub, child, one, namespace)
