"""Compiled mapping rules and how they run.

The loader turns each rule of a file into one of the objects below once, at start-up; a call
then only walks them. Every rule reads a *source* (the canonical context outbound, the legacy
response inbound, an lxml element for documents) and writes a *target* (the inputAttributes
dict outbound, the canonical result inbound). A rule knows where it was written
(:attr:`FieldRule.where`), so a value that cannot be mapped is reported with its file, key and
line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol

from adapter.mapping import paths
from adapter.mapping.converters import Step
from adapter.mapping.enums import Direction, EnumTable
from adapter.mapping.errors import MappingFailed, TranslationError
from adapter.mapping.paths import MISSING, Path, absent


class SkipItem(Exception):
    """An ``unknown: skip`` rule met a value its enum table does not know: the item it
    belongs to (or, at top level, the field) is left out."""


# ----------------------------------------------------------------------------- reading


class Reader(Protocol):
    def read(self, node: Any, root: Any) -> Any: ...

    def items(self, node: Any, root: Any) -> list[Any]: ...


@dataclass(frozen=True)
class DictReader:
    """A dotted path into nested dicts and lists."""

    path: Path
    map_items: bool = False  # a dict is read as [{key, value}, …] (list rules of form map)

    def read(self, node: Any, root: Any) -> Any:
        return paths.read(node, self.path, root)

    def items(self, node: Any, root: Any) -> list[Any]:
        value = paths.read(node, self.path, root)
        if value is MISSING:
            return []
        if isinstance(value, Mapping):
            if self.map_items:
                return [{"key": k, "value": v} for k, v in value.items()]
            return [value]  # a repeated element that occurred once, not given as a list
        return list(value) if isinstance(value, list) else [value]


@dataclass(frozen=True)
class ConstReader:
    value: Any

    def read(self, node: Any, root: Any) -> Any:
        return self.value

    def items(self, node: Any, root: Any) -> list[Any]:
        return [self.value]


@dataclass(frozen=True)
class FirstOf:
    """Alternatives: the first that gives a value (``canonical: [a, b]``)."""

    readers: tuple[DictReader, ...]

    def read(self, node: Any, root: Any) -> Any:
        for reader in self.readers:
            value = reader.read(node, root)
            if not absent(value):
                return value
        return MISSING

    def items(self, node: Any, root: Any) -> list[Any]:
        for reader in self.readers:
            found = reader.items(node, root)
            if found:
                return found
        return []


@dataclass(frozen=True)
class XPathReader:
    """A compiled XPath expression evaluated on an lxml element (no smart strings, so that a
    value keeps no reference to the tree it came from)."""

    expression: str
    evaluate: Callable[[Any], Any]

    def read(self, node: Any, root: Any) -> Any:
        return xpath_value(self.evaluate(node))

    def items(self, node: Any, root: Any) -> list[Any]:
        found = self.evaluate(node)
        if found.__class__ is not list or (found and not hasattr(found[0], "tag")):
            raise MappingFailed(f"XPath {self.expression!r} must select elements for a list rule")
        return found


def xpath_value(result: Any) -> Any:
    """An XPath result as a mapping value: the text of the selected nodes (one value, or a
    list when several have text), a string, a number (integral ones as ``int``) or a
    boolean; nothing (or only empty text) is :data:`MISSING`."""
    if result.__class__ is list:
        if len(result) == 1:  # the common case: one element
            node = result[0]
            text = node if isinstance(node, str) else node.text
            return MISSING if text is None or text == "" else text
        values = []
        for node in result:
            text = node if isinstance(node, str) else getattr(node, "text", node)
            if text is None or text == "":
                continue
            values.append(text)
        if not values:
            return MISSING
        return values[0] if len(values) == 1 else values
    if isinstance(result, bool):
        return result
    if isinstance(result, float):
        if math.isnan(result):
            return MISSING
        return int(result) if result.is_integer() else Decimal(repr(result))
    if result is None or result == "":
        return MISSING
    return str(result)


# ----------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class Writer:
    """A writable dotted path of the target, knowing whether the field it ends in holds a
    list (a repeated legacy element, a list field of a model)."""

    path: Path
    leaf_list: bool = False
    allow_many: bool = False  # a scalar field that may hold several values for a while (multi)
    name: str = field(init=False)
    nested: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.path.segments[-1].name)
        object.__setattr__(self, "nested", len(self.path.segments) > 1)

    def read(self, node: Any, root: Any) -> Any:
        return paths.read(node, self.path, root)

    def write(self, node: dict[str, Any], value: Any, where: str) -> None:
        holder = paths.container(node, self.path) if self.nested else node
        if self.leaf_list:
            holder[self.name] = value if isinstance(value, list) else [value]
            return
        if isinstance(value, list):
            if len(value) == 1:
                value = value[0]
            elif not self.allow_many:
                raise MappingFailed(
                    f"{len(value)} values {value!r} for {self.path}, which holds one", where
                )
        holder[self.name] = value

    def extend(self, node: dict[str, Any], items: list[Any]) -> None:
        holder = paths.container(node, self.path)
        existing = holder.get(self.name)
        if existing is None:
            holder[self.name] = list(items)
        elif isinstance(existing, list):
            existing.extend(items)
        else:
            holder[self.name] = [existing, *items]

    def update(self, node: dict[str, Any], entries: dict[Any, Any]) -> None:
        holder = paths.container(node, self.path)
        existing = holder.get(self.name)
        if isinstance(existing, dict):
            existing.update(entries)
        else:
            holder[self.name] = dict(entries)


# ----------------------------------------------------------------------------- conditions


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(getattr(value, "value", value))


@dataclass(frozen=True)
class Condition:
    reader: Reader
    on_target: bool  # looks at what has been built so far rather than at the source
    test: Literal["equals", "not_equals", "in", "present"]
    expected: frozenset[str] = frozenset()
    present: bool = True

    def holds(self, source: Any, target: Any, source_root: Any, target_root: Any) -> bool:
        if self.on_target:
            value = self.reader.read(target, target_root)
        else:
            value = self.reader.read(source, source_root)
        if self.test == "present":
            return (not absent(value)) is self.present
        if absent(value):
            return self.test == "not_equals"
        values = value if isinstance(value, list) else [value]
        found = any(as_text(v) in self.expected for v in values)
        return not found if self.test == "not_equals" else found


# ----------------------------------------------------------------------------- value steps


@dataclass(frozen=True)
class EnumStep:
    table: EnumTable
    direction: Direction
    skip_unknown: bool = False

    def __str__(self) -> str:
        return f"enum {self.table.name}"

    def __call__(self, value: Any) -> Any:
        return self.table.translate(value, self.direction)


Transform = Step | EnumStep


# ----------------------------------------------------------------------------- rules


class Rule(Protocol):
    def apply(
        self, source: Any, target: dict[str, Any], source_root: Any, target_root: Any
    ) -> None: ...


@dataclass(frozen=True)
class FieldRule:
    """One value: read, default, convert and translate, write."""

    where: str
    source: Reader
    target: Writer
    transforms: tuple[Transform, ...] = ()
    conditions: tuple[Condition, ...] = ()
    default: Any = MISSING

    def apply(
        self, source: Any, target: dict[str, Any], source_root: Any, target_root: Any
    ) -> None:
        for condition in self.conditions:
            if not condition.holds(source, target, source_root, target_root):
                return
        value = self.source.read(source, source_root)
        if value is MISSING or value is None or value == "" or value == []:
            if self.default is MISSING:
                return
            value = self.default
        if self.transforms:
            value = self._transform(value)
            if value is None or value == "" or value == []:
                return
        self.target.write(target, value, self.where)

    def _transform(self, value: Any) -> Any:
        transform: Transform | None = None
        try:
            for transform in self.transforms:
                if value.__class__ is list:
                    value = [transform(v) for v in value]
                else:
                    value = transform(value)
        except TranslationError as exc:
            if isinstance(transform, EnumStep) and transform.skip_unknown:
                raise SkipItem from None
            raise TranslationError(exc.table, exc.value, exc.direction, self.where) from None
        except ValueError as exc:
            raise MappingFailed(
                f"converter {transform} refused {value!r}: {exc}", self.where
            ) from None
        return value


@dataclass(frozen=True)
class Multi:
    """See :class:`~adapter.mapping.schema.MultiSpec`: merge outbound items that differ only in
    ``legacy``; split inbound items whose ``canonical`` field got several values."""

    legacy: str
    canonical: str


@dataclass(frozen=True)
class ListRule:
    """A list: each source item is mapped with ``rules`` into one target item."""

    where: str
    source: Reader
    target: Writer
    rules: tuple[Rule, ...]
    direction: Direction
    conditions: tuple[Condition, ...] = ()
    form: Literal["list", "map"] = "list"
    multi: Multi | None = None
    keep_empty: bool = False  # make the target even without items (canonical results)

    def apply(
        self, source: Any, target: dict[str, Any], source_root: Any, target_root: Any
    ) -> None:
        for condition in self.conditions:
            if not condition.holds(source, target, source_root, target_root):
                return
        built: list[dict[str, Any]] = []
        for item in self.source.items(source, source_root):
            out: dict[str, Any] = {}
            try:
                for rule in self.rules:
                    rule.apply(item, out, source_root, target_root)
            except SkipItem:
                continue
            if out:
                built.append(out)
        if self.multi is not None:
            built = (
                _merge(built, self.multi.legacy)
                if self.direction == "outbound"
                else (_split(built, self.multi.canonical))
            )
        if self.form == "map" and self.direction == "inbound":
            entries = {i["key"]: i.get("value") for i in built if "key" in i}
            if entries or self.keep_empty:
                self.target.update(target, entries)
            return
        if built or self.keep_empty:
            self.target.extend(target, built)


def _merge(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for item in items:
        rest = {k: v for k, v in item.items() if k != key}
        signature = json.dumps(rest, sort_keys=True, default=str)
        values = item.get(key) or []
        values = values if isinstance(values, list) else [values]
        if signature in merged:
            known = merged[signature].setdefault(key, [])
            known.extend(v for v in values if v not in known)
        else:
            merged[signature] = {**item, key: list(values)} if values else dict(item)
    return list(merged.values())


def _split(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items:
        values = item.get(key)
        if isinstance(values, list):
            out.extend({**item, key: v} for v in values)
        else:
            out.append(item)
    return out


@dataclass(frozen=True)
class Group:
    """The rules of an included fragment, under the include's own conditions."""

    rules: tuple[Rule, ...]
    conditions: tuple[Condition, ...] = ()

    def apply(
        self, source: Any, target: dict[str, Any], source_root: Any, target_root: Any
    ) -> None:
        for condition in self.conditions:
            if not condition.holds(source, target, source_root, target_root):
                return
        for rule in self.rules:
            rule.apply(source, target, source_root, target_root)


@dataclass(frozen=True)
class Program:
    """The rules of one operation in one direction, or of one document."""

    label: str  # "CustomerNew outbound", "document customer"
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    def run(self, source: Any) -> dict[str, Any]:
        target: dict[str, Any] = {}
        self._each(self.rules, source, target)
        return target

    def _each(self, rules: tuple[Rule, ...], source: Any, target: dict[str, Any]) -> None:
        """At top level a skipped value leaves out its field only, also inside an include."""
        for rule in rules:
            if isinstance(rule, Group):
                if all(c.holds(source, target, source, target) for c in rule.conditions):
                    self._each(rule.rules, source, target)
                continue
            try:
                rule.apply(source, target, source, target)
            except SkipItem:
                continue
