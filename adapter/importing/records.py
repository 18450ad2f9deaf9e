"""The reading side of an import: records of the export, mapped and validated, in batches.

:class:`Reader` streams the file through :func:`adapter.xmlsafe.iterparse`, maps each record
with the mapping engine and validates the entities it gives, and hands out one
:class:`Batch` per ``size`` records. It touches no database: :mod:`adapter.importing.bscs`
writes what it reads. :func:`batches` runs it here or, ``parallel``, in a second process (spawn:
it inherits no engine or pool) that reads ahead while this one writes, as ``seed`` does; the
batches are the same either way.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from adapter import xmlsafe
from adapter.background import ahead
from adapter.domain import Entity
from adapter.domain.attributes import AttributeDefinition, AttributeValue
from adapter.domain.errors import ValidationFailed, Violation
from adapter.domain.model import (
    Account,
    Contract,
    Customer,
    DiscountAssignment,
    ServiceAssignment,
    Subscriber,
)
from adapter.domain.validation import parse
from adapter.mapping import MappingFailed, Mappings, TranslationError, load_mappings
from adapter.service.attributes import check_settable

AHEAD = 4  # batches the second process may read ahead (bounds the memory of the queue)
# the bundle's entity lists and the models that validate them, parents first
_LISTS: tuple[tuple[str, type[Entity]], ...] = (
    ("accounts", Account),
    ("contracts", Contract),
    ("subscribers", Subscriber),
    ("services", ServiceAssignment),
    ("discounts", DiscountAssignment),
)


@dataclass
class Record:
    """One record of the file: its entities, or the reasons it cannot be imported."""

    position: int  # in the file, from 1
    line: int | None
    number: str | None  # billing's public customer id, when it could be read
    customer_id: str | None = None
    entities: list[Entity] = field(default_factory=list)
    reasons: list[Violation] = field(default_factory=list)


@dataclass
class Batch:
    number: int  # from 1
    done: bool  # committed by an earlier run: its records were counted, not mapped
    read: int = 0
    skipped: int = 0
    bytes_read: int = 0  # of the file, when the batch was complete
    records: list[Record] = field(default_factory=list)
    rejected: list[Record] = field(default_factory=list)
    definitions: list[AttributeDefinition] = field(default_factory=list)  # first needed here


@dataclass
class Reader:
    """What the reading needs, and nothing that cannot cross to another process: the
    mappings are loaded again there from ``folder``."""

    path: Path
    size: int
    done_batches: frozenset[int]
    done_records: frozenset[int]  # positions retried alone in a batch left unfinished
    definitions: dict[str, AttributeDefinition]  # stored, by name
    folder: Path
    mappings: Mappings | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "mappings": None}

    def batches(self) -> Iterator[Batch]:
        """The batches of the file, in order; :class:`~adapter.xmlsafe.XmlRejected` where it
        stops being acceptable XML (the unfinished batch is not handed out)."""
        maps = self.mappings or load_mappings(self.folder)
        tag = maps.record_tag("customer")
        builder = _Builder(maps, tag, dict(self.definitions))
        with self.path.open("rb") as raw:
            stream = _Counting(raw)
            current: Batch | None = None
            # _Counting has the one method iterparse calls (read)
            records = xmlsafe.iterparse(cast(IO[bytes], stream), tag, what=self.path.name)
            for position, element in enumerate(records, 1):
                if current is None:
                    number = (position - 1) // self.size + 1
                    current = Batch(number, done=number in self.done_batches)
                current.read += 1
                if current.done or position in self.done_records:
                    current.skipped += 1
                else:
                    current.records.append(builder.build(position, element))
                if position % self.size == 0:
                    yield builder.handed(current, stream.count)
                    current = None
            if current is not None:
                yield builder.handed(current, stream.count)


def batches(
    reader: Reader, parallel: bool, stats: dict[str, int] | None = None
) -> Generator[Batch, None, None]:
    """``reader``'s batches, read here or by a second process (see the module docstring);
    ``stats["reader_peak_rss_kib"]`` gets the second process's peak memory when it ends."""
    if not parallel:
        yield from reader.batches()
        return
    made = ahead(_read, (reader,), name="the import's reading process", depth=AHEAD)
    yield from made
    if stats is not None and made.peak_rss_kib is not None:
        stats["reader_peak_rss_kib"] = made.peak_rss_kib


def _read(reader: Reader) -> Iterator[Batch]:
    """The second process's work: every batch, in order."""
    yield from reader.batches()


class _Counting:
    """A binary stream that counts the bytes read through it (the progress bar's measure)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        self.count += len(chunk)
        return chunk


class _Builder:
    """Maps and validates records; knows which attribute definitions exist or are wanted."""

    def __init__(
        self, maps: Mappings, tag: str, definitions: dict[str, AttributeDefinition]
    ) -> None:
        self.maps = maps
        self.tag = tag
        self.definitions = definitions
        self.wanted: list[AttributeDefinition] = []  # new since the last batch handed out

    def handed(self, batch: Batch, bytes_read: int) -> Batch:
        batch.bytes_read = bytes_read
        batch.definitions, self.wanted = self.wanted, []
        return batch

    def build(self, position: int, element: Any) -> Record:
        """Map and validate one record now: iterparse clears the element once we move on."""
        line = getattr(element, "sourceline", None)
        try:
            bundle = self.maps.document("customer", element)
        except MappingFailed as exc:
            return Record(position, line, _public_id(element, self.tag), reasons=[_refused(exc)])
        customer = bundle.get("customer") or {}
        record = Record(position, line, customer.get("customer_number"))
        try:
            built = parse(Customer, customer, "customer.")
            record.customer_id = built.id
            record.entities.append(built)
        except ValidationFailed as exc:
            record.reasons.extend(exc.violations)
        for key, model in _LISTS:
            for index, data in enumerate(bundle.get(key) or []):
                try:
                    record.entities.append(parse(model, data, f"{key}[{index}]."))
                except ValidationFailed as exc:
                    record.reasons.extend(exc.violations)
        for index, data in enumerate(bundle.get("attribute_values") or []):
            try:
                value = self._attribute_value(data, f"attribute_values[{index}].")
            except ValidationFailed as exc:
                record.reasons.extend(exc.violations)
            else:
                if value is not None:
                    record.entities.append(value)
        return record

    def _attribute_value(self, data: dict[str, Any], prefix: str) -> AttributeValue | None:
        """The value of an info field, checked against its definition: the stored one, or a
        ``string`` one of the kind that carries it, which the import will store before the
        first batch that uses it. An empty field sets nothing."""
        name = str(data.get("name"))
        kind = str(data.get("entity_kind"))
        where = f"attributes.{name}"
        definition = self.definitions.get(name)
        if definition is None:
            definition = parse(
                AttributeDefinition,
                {
                    "name": name,
                    "label": name.replace("_", " ").capitalize(),
                    "type": "string",
                    "entity_kind": kind,
                },
                where + ".",
            )
            self.definitions[name] = definition
            self.wanted.append(definition)
        check_settable(definition, kind)
        value = definition.coerce(data.get("value"))
        if value is None:
            return None
        return parse(AttributeValue, {**data, "value": value}, prefix)


def _refused(exc: MappingFailed) -> Violation:
    rule = f"enum:{exc.table}" if isinstance(exc, TranslationError) else "mapping"
    return Violation("(mapping)", rule, str(exc))


def _public_id(element: Any, record_tag: str) -> str | None:
    """billing's public customer id of a record the mapping refused, for the reject report.
    The mapping gives no partial result when it fails, so this one child is read directly
    (``csIdPub``, the record's key in wsdl/cil-export.xsd)."""
    namespace = record_tag[1 : record_tag.index("}")] if record_tag.startswith("{") else ""
    text = element.findtext(f"{{{namespace}}}csIdPub" if namespace else "csIdPub")
    return text.strip() if isinstance(text, str) and text.strip() else None
