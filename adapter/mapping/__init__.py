"""The mapping engine: canonical data ⇄ the BSCS-style legacy interface, driven by data files.

What the legacy system calls a field, which code stands for which status, how a phone number is
written there: all of it lives in the YAML files of ``mappings/`` (see docs/mapping-guide.md),
checked against the WSDL/XSD and the canonical model when they are loaded, so that a new legacy
field or a renamed element is a mapping change and a broken file stops the start-up with its
name and line. This package is the only code that walks legacy XML; it imports no SOAP, HTTP or
database library.

Public API::

    mappings = load_mappings()                       # cached per folder and process
    payload = mappings.outbound("CustomerNew", {"customer": ..., "account": ...})
    fields = mappings.inbound("CustomerRead", response)
    bundle = mappings.document("customer", element)  # one record of an export file
    operation, document = mappings.request_document(body.tag)  # a request document's body
    code = mappings.enum("address_roles", "billing", "outbound")  # "B"

Outbound context (what ``outbound`` reads): a dict of canonical snapshots (``Entity.snapshot()``
or the entity itself) under fixed keys: ``customer``, ``account``, ``parent_account``,
``contract``, ``subscriber``, ``service``, ``services``, ``discount``, ``address``,
``attributes`` (name → value), ``legacy_ids`` (the billing system's own ids when known:
``cs_id``, ``co_id``, ``sn_code``, ``assign_id``, ``adr_seq``…), ``params`` (operation values
such as ``action``, ``reason``, ``from``, ``to``, ``max_records``) and ``search``. The inbound
result uses the same keys; see docs/mapping-guide.md for each operation.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from adapter import paths as project_paths
from adapter.mapping.enums import Direction, EnumTable
from adapter.mapping.errors import MappingError, MappingFailed, Problem, TranslationError
from adapter.mapping.loader import Loaded, load_folder
from adapter.mapping.xsd import (
    SchemaProblem,
    WsdlOperation,
    XsdElement,
    XsdSchema,
    load_operations,
    load_schema,
)

__all__ = [
    "EXPORT_NAMESPACE",
    "REQUESTS_NAMESPACE",
    "MappingError",
    "MappingFailed",
    "Mappings",
    "Problem",
    "TranslationError",
    "clear_cache",
    "load_mappings",
]

EXPORT_XSD_NAME = "cil-export.xsd"
EXPORT_NAMESPACE = "urn:bscs:export:v1"
REQUESTS_XSD_NAME = "requests.xsd"
REQUESTS_NAMESPACE = "urn:bscs:requests:v1"


class Mappings:
    """The compiled maps of one folder. Immutable and safe to share between threads."""

    def __init__(
        self,
        folder: Path,
        loaded: Loaded,
        cil: XsdSchema,
        operations: dict[str, WsdlOperation],
        export: XsdSchema,
        requests: XsdSchema | None = None,
    ) -> None:
        self.folder = folder
        self._loaded = loaded
        self.cil = cil
        self.export_schema = export
        self.requests_schema = requests
        self.wsdl_operations = operations

    # ------------------------------------------------------------------ what is mapped

    @property
    def operations(self) -> frozenset[str]:
        """Operations with at least one map."""
        return frozenset(self._loaded.outbound) | frozenset(self._loaded.inbound)

    @property
    def documents(self) -> frozenset[str]:
        return frozenset(self._loaded.documents)

    @property
    def enum_tables(self) -> Mapping[str, EnumTable]:
        return self._loaded.enums

    def has_outbound(self, operation: str) -> bool:
        return operation in self._loaded.outbound

    def has_inbound(self, operation: str) -> bool:
        return operation in self._loaded.inbound

    def request_element(self, operation: str) -> XsdElement:
        """The XSD declaration of the operation's request element."""
        return self.cil.element(self._operation(operation).request)

    def record_tag(self, document: str) -> str:
        """The Clark name (``{uri}local``) of the record element of a document, as
        :func:`adapter.xmlsafe.iterparse` takes it."""
        return self._document(document)[2]

    def root_tag(self, document: str) -> str:
        return self._document(document)[1]

    @property
    def request_bodies(self) -> Mapping[str, tuple[str, str]]:
        """The body elements of request documents (Clark names) → (operation, document)."""
        return dict(self._loaded.requests)

    def request_document(self, body_tag: str) -> tuple[str, str]:
        """The envelope operation and the document map of a request document whose body is
        ``body_tag`` (a Clark name), or :class:`MappingFailed` naming the mapped ones."""
        found = self._loaded.requests.get(body_tag)
        if found is None:
            known = ", ".join(sorted(t.rpartition("}")[2] for t in self._loaded.requests))
            raise MappingFailed(
                f"no request document maps the element {body_tag!r} (mapped: {known or 'none'})"
            )
        return found

    # ------------------------------------------------------------------ mapping

    def outbound(self, operation: str, context: Mapping[str, Any]) -> dict[str, Any]:
        """The ``inputAttributes`` of ``operation`` built from ``context`` (see the module
        docstring), nested as zeep takes it. A required element that the context did not
        provide raises :class:`MappingFailed` before anything is sent."""
        program = self._loaded.outbound.get(operation)
        if program is None:
            raise MappingFailed(f"no outbound map for operation {operation!r}")
        result = program.run(_plain(context))
        inputs = (self.request_element(operation).children or {})["inputAttributes"]
        missing = _check(inputs, result, "inputAttributes")
        if missing:
            raise MappingFailed("; ".join(missing), program.label)
        return result

    def inbound(self, operation: str, response: Any) -> dict[str, Any]:
        """Canonical fields read from the response of ``operation`` (plain dicts and lists, as
        zeep's ``serialize_object`` gives them; a response element with a single child may
        also be given as that child's value, as zeep returns it)."""
        program = self._loaded.inbound.get(operation)
        if program is None:
            raise MappingFailed(f"no inbound map for operation {operation!r}")
        declaration = self.cil.element(self._operation(operation).response)
        return program.run(_wrap_response(declaration, response))

    def document(self, name: str, element: Any) -> dict[str, Any]:
        """The canonical bundle of one record element of a legacy document (an lxml element,
        as :func:`adapter.xmlsafe.iterparse` hands it over)."""
        program, _root, record = self._document(name)
        if getattr(element, "tag", None) != record:
            found = getattr(element, "tag", element)
            raise MappingFailed(f"document {name!r} maps {record} elements, not {found!r}")
        result: dict[str, Any] = program.run(element)
        return result

    def enum(self, table: str, value: Any, direction: Direction = "outbound") -> Any:
        """``value`` translated by enum ``table``: canonical → legacy (``outbound``) or back
        (``inbound``); :class:`TranslationError` when the table has no entry."""
        found = self._loaded.enums.get(table)
        if found is None:
            raise MappingFailed(f"no enum table {table!r}")
        return found.translate(value, direction)

    # ------------------------------------------------------------------ helpers

    def _operation(self, operation: str) -> WsdlOperation:
        try:
            return self.wsdl_operations[operation]
        except KeyError:
            raise MappingFailed(f"the WSDL has no operation {operation!r}") from None

    def _document(self, name: str) -> tuple[Any, str, str]:
        try:
            return self._loaded.documents[name]
        except KeyError:
            raise MappingFailed(f"no document map {name!r}") from None


def _plain(context: Mapping[str, Any]) -> dict[str, Any]:
    """Entities given as models become their JSON snapshots, the form the maps read."""

    def plain(value: Any) -> Any:
        if isinstance(value, BaseModel):
            return value.model_dump(mode="json")
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return {key: plain(value) for key, value in context.items()}


def _wrap_response(declaration: XsdElement, response: Any) -> Any:
    """zeep returns the only child of a response element instead of the element (a bare
    ``adrSeq`` number, the ``services`` wrapper): put it back under its name."""
    children = declaration.children or {}
    if response is None:
        return {}
    if len(children) == 1:
        (name,) = children
        if not (isinstance(response, Mapping) and name in response):
            return {name: response}
    return response


def _check(declaration: XsdElement, value: Any, path: str) -> list[str]:
    """Required elements without a value, and repeated ones with too many items."""
    problems: list[str] = []
    for child in (declaration.children or {}).values():
        item = value.get(child.name) if isinstance(value, Mapping) else None
        where = f"{path}.{child.name}"
        if item is None or item == []:
            if child.min_occurs > 0:
                problems.append(f"{where} is required but the context gave no value for it")
            continue
        items = item if isinstance(item, list) else [item]
        if child.max_occurs is not None and len(items) > child.max_occurs:
            problems.append(f"{where} takes at most {child.max_occurs} items, got {len(items)}")
        if child.children is not None:
            for one in items:
                problems.extend(_check(child, one, where))
    return problems


@functools.lru_cache(maxsize=4)
def _schemas(
    wsdl_dir: Path,
) -> tuple[XsdSchema, XsdSchema, dict[str, WsdlOperation], XsdSchema | None]:
    try:
        cil = load_schema(wsdl_dir / project_paths.CIL_XSD.name)
        export = load_schema(wsdl_dir / EXPORT_XSD_NAME)
        operations = load_operations(wsdl_dir / project_paths.CIL_WSDL.name)
        # request documents are optional in a folder of schemas (tests keep small copies)
        requests_xsd = wsdl_dir / REQUESTS_XSD_NAME
        requests = load_schema(requests_xsd) if requests_xsd.exists() else None
    except (SchemaProblem, ValueError) as exc:
        raise MappingError([Problem(str(wsdl_dir), "", str(exc))]) from None
    return cil, export, operations, requests


@functools.lru_cache(maxsize=8)
def _load(folder: Path, wsdl_dir: Path) -> Mappings:
    cil, export, operations, requests = _schemas(wsdl_dir)
    schemas = {cil.namespace: cil, export.namespace: export}
    if requests is not None:
        schemas[requests.namespace] = requests
    loaded = load_folder(folder, cil, operations, schemas)
    return Mappings(folder, loaded, cil, operations, export, requests)


def load_mappings(
    folder: Path | str | None = None, *, wsdl_dir: Path | str | None = None
) -> Mappings:
    """The compiled mappings of ``folder`` (default: the project's ``mappings/``), checked
    against the WSDL/XSD in ``wsdl_dir`` (default: the project's ``wsdl/``). Loaded once per
    folder and process; :class:`MappingError` lists every problem of every file."""
    where = Path(folder) if folder is not None else project_paths.MAPPINGS_DIR
    schemas = Path(wsdl_dir) if wsdl_dir is not None else project_paths.WSDL_DIR
    return _load(where.resolve(), schemas.resolve())


def clear_cache() -> None:
    """Forget loaded mappings and schemas (a test that edits a folder in place loads it
    again)."""
    _load.cache_clear()
    _schemas.cache_clear()
