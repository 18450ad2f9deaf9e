"""Reading, checking and compiling the mapping folder.

Every ``*.yaml`` under the folder is read (sub-folders included) and told apart by its top key:
``operation``, ``fragment``, ``document`` or ``enums``. Each file is validated against the
format (:mod:`adapter.mapping.schema`), then every rule against what it names: legacy paths
against the XSD element tree of the operation, canonical paths against the domain models,
XPath expressions by compiling them with the file's namespaces (and checking their element
names against the schema of that namespace), converters against the registry, enum tables
against the tables loaded. All problems of all files are collected and raised together as one
:class:`~adapter.mapping.errors.MappingError`, each naming its file, key path and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path as FilePath
from typing import Any, Literal

import yaml
from lxml import etree
from pydantic import BaseModel, ValidationError

from adapter.mapping import canonical
from adapter.mapping.canonical import CanonicalPathError, Keys, ListOf, MapOf, Open, Scalar, Shape
from adapter.mapping.converters import Step, inverse, parse_step
from adapter.mapping.engine import (
    Condition,
    ConstReader,
    DictReader,
    EnumStep,
    FieldRule,
    FirstOf,
    Group,
    ListRule,
    Multi,
    Program,
    Reader,
    Rule,
    Transform,
    Writer,
    XPathReader,
    as_text,
)
from adapter.mapping.enums import Direction, EnumTable
from adapter.mapping.errors import MappingError, Problem
from adapter.mapping.paths import MISSING, Path, PathSyntaxError, parse_path
from adapter.mapping.schema import (
    FILE_KINDS,
    ConditionSpec,
    DocumentFile,
    EnumsFile,
    FragmentFile,
    OperationFile,
    RuleSpec,
)
from adapter.mapping.xsd import WsdlOperation, XsdElement, XsdSchema

Key = tuple[str | int, ...]


class _Bad(Exception):
    def __init__(self, message: str, key: Key | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.key = key


# ----------------------------------------------------------------------------- YAML with lines


@dataclass
class SourceFile:
    """A mapping file as read: its name (relative to the folder), data, and the line of every
    key path."""

    name: str
    data: Any
    lines: dict[Key, int] = field(default_factory=dict)
    repeated: list[Key] = field(default_factory=list)  # keys given twice in one mapping

    def line(self, key: Key) -> int | None:
        probe = key
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return None


def key_text(key: Key) -> str:
    text = ""
    for part in key:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text


# libyaml's parser when PyYAML was built with it (ten times faster), the same safe subset
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: FilePath, name: str) -> SourceFile:
    """The file's data and the line of each key, or ``ValueError`` with the parser's message.
    Only the safe YAML subset is read: no tags that build Python objects."""
    text = path.read_text(encoding="utf-8")
    node = yaml.compose(text, Loader=_FAST_LOADER)
    if node is None:
        return SourceFile(name, None)
    loader = _FAST_LOADER(text)
    try:
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    source = SourceFile(name, data)
    _record_lines(node, (), source)
    return source


def _record_lines(node: yaml.Node, key: Key, source: SourceFile) -> None:
    source.lines.setdefault(key, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            sub = (*key, str(k.value))
            if sub in source.lines:
                source.repeated.append(sub)
            source.lines[sub] = k.start_mark.line + 1
            _record_lines(v, sub, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record_lines(item, (*key, i), source)


def _pydantic_problems(source: SourceFile, exc: ValidationError) -> Iterator[Problem]:
    for error in exc.errors():
        key = _data_key(source.data, error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            message = f"unknown key {key[-1]!r}" if key else "unknown key"
        elif kind == "missing":
            message = "is required"
        else:
            message = error["msg"]
        yield Problem(source.name, key_text(key), message, source.line(key))


def _data_key(data: Any, loc: tuple[Any, ...]) -> Key:
    """The part of a pydantic error location that exists in the data (pydantic adds names of
    union members and validators that are no keys of the file)."""
    key: list[str | int] = []
    node = data
    for part in loc:
        alias = "in" if part == "in_" else part
        if isinstance(node, dict) and alias in node:
            key.append(str(alias))
            node = node[alias]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            key.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and len(loc) and part == loc[-1]:
            key.append(part)  # a missing or unknown key: name it
    return tuple(key)


# ----------------------------------------------------------------------------- compile sites


@dataclass(frozen=True)
class Site:
    """Where rules are compiled: direction, the legacy world (dict paths checked against an
    XSD element, or XPath on a document), the scopes paths start from, and who asked."""

    label: str
    direction: Direction
    world: Literal["dict", "xpath"]
    canonical_scope: Shape
    legacy_scope: XsdElement | None = None
    legacy_root: XsdElement | None = None
    namespaces: dict[str, str] = field(default_factory=dict)
    record: str = ""  # Clark name of the document's record element
    fragment: bool = False
    legacy_prefix: Path | None = None
    canonical_prefix: Path | None = None
    allow_many: str | None = None  # canonical field name allowed several values (multi)
    chain: tuple[str, ...] = ()  # fragments being included, to refuse recursion
    canonical_root: Shape = canonical.ROOT  # what ``$.`` paths start from
    keep_empty: bool = True  # an inbound list rule without items writes an empty list


@dataclass
class Context:
    """What the compiler knows across files."""

    enums: dict[str, EnumTable]
    fragments: dict[str, tuple[FragmentFile, SourceFile]]
    schemas: dict[str, XsdSchema]  # by target namespace
    problems: list[Problem] = field(default_factory=list)

    seen: set[tuple[str, str, str]] = field(default_factory=set)

    def report(self, source: SourceFile, key: Key, message: str, site: Site | None = None) -> None:
        """Record a problem once (a fragment used by several operations has it only once)."""
        where = key_text(key)
        if (source.name, where, message) in self.seen:
            return
        self.seen.add((source.name, where, message))
        if site is not None and site.chain:
            message += f" (in the fragment as used by {site.label})"
        self.problems.append(Problem(source.name, where, message, source.line(key)))


class Compiler:
    def __init__(self, context: Context) -> None:
        self.ctx = context

    # ------------------------------------------------------------------ rule lists

    def rules(
        self, specs: list[RuleSpec], key: Key, source: SourceFile, site: Site
    ) -> tuple[Rule, ...]:
        compiled: list[Rule] = []
        for i, spec in enumerate(specs):
            at = (*key, i)
            try:
                rule = self.rule(spec, at, source, site)
            except _Bad as bad:
                self.ctx.report(source, bad.key or at, bad.message, site)
                continue
            if rule is not None:
                compiled.append(rule)
        return tuple(compiled)

    def rule(self, spec: RuleSpec, key: Key, source: SourceFile, site: Site) -> Rule | None:
        if spec.direction is not None and spec.direction != site.direction:
            if not site.fragment:
                raise _Bad(
                    f"direction {spec.direction} in an {site.direction} section",
                    (*key, "direction"),
                )
            return None
        if spec.legacy is not None and site.world == "xpath":
            raise _Bad("a document rule reads an xpath, not a legacy path", (*key, "legacy"))
        if spec.xpath is not None and site.world == "dict":
            raise _Bad("xpath belongs to document maps; use legacy here", (*key, "xpath"))
        conditions = tuple(
            self.condition(c, (*key, "when", i), site) for i, c in enumerate(spec.when)
        )
        if spec.include is not None:
            return self.include(spec, key, site, conditions)
        if spec.items is not None:
            return self.list_rule(spec, key, source, site, conditions)
        return self.field_rule(spec, key, source, site, conditions)

    def where(self, source: SourceFile, key: Key, site: Site) -> str:
        line = source.line(key)
        at = f" line {line}" if line is not None else ""
        return f"{site.label} ({source.name}{at}, {key_text(key)})"

    # ------------------------------------------------------------------ includes

    def include(
        self, spec: RuleSpec, key: Key, site: Site, conditions: tuple[Condition, ...]
    ) -> Rule:
        name = spec.include or ""
        found = self.ctx.fragments.get(name)
        if found is None:
            known = ", ".join(sorted(self.ctx.fragments)) or "none"
            raise _Bad(f"unknown fragment {name!r} (known: {known})", (*key, "include"))
        if name in site.chain:
            raise _Bad(f"fragment {name!r} includes itself", (*key, "include"))
        fragment, fragment_source = found
        inner = replace(site, fragment=True, chain=(*site.chain, name))
        if spec.legacy_prefix is not None:
            if site.world != "dict":
                raise _Bad("legacy_prefix is for operation maps", (*key, "legacy_prefix"))
            prefix = self.path(spec.legacy_prefix, (*key, "legacy_prefix"))
            outbound = site.direction == "outbound"
            element = self.legacy_leaf(prefix, site, (*key, "legacy_prefix"), write=outbound)
            selected = prefix.segments[-1].selector is not None
            if element.children is None or (element.repeated and not selected):
                raise _Bad(f"{prefix} is not a single complex element", (*key, "legacy_prefix"))
            inner = replace(
                inner,
                legacy_scope=element,
                legacy_prefix=self._join(site.legacy_prefix, prefix),
            )
        if spec.canonical_prefix is not None:
            prefix = self.path(spec.canonical_prefix, (*key, "canonical_prefix"))
            shape = self.canonical_shape(
                prefix, site, (*key, "canonical_prefix"), write=site.direction == "inbound"
            )
            inner = replace(
                inner,
                canonical_scope=shape,
                canonical_prefix=self._join(site.canonical_prefix, prefix),
            )
        rules = self.rules(fragment.rules, ("rules",), fragment_source, inner)
        return Group(rules, conditions)

    @staticmethod
    def _join(outer: Path | None, inner: Path) -> Path:
        return inner.prefixed(outer) if outer is not None else inner

    # ------------------------------------------------------------------ paths

    def path(self, text: str, key: Key) -> Path:
        try:
            return parse_path(text)
        except PathSyntaxError as exc:
            raise _Bad(str(exc), key) from None

    def legacy_leaf(self, path: Path, site: Site, key: Key, *, write: bool) -> XsdElement:
        """The XSD element ``path`` ends at, checked segment by segment."""
        element = site.legacy_root if path.from_root else site.legacy_scope
        if element is None:
            raise _Bad("no legacy element structure here", key)
        if write and not path.writable:
            raise _Bad(
                f"{path} cannot be written (only [key=value] selectors, not on the end)", key
            )
        for i, segment in enumerate(path.segments):
            last = i == len(path.segments) - 1
            if element.children is None:
                raise _Bad(f"{element.name} is a simple element; it has no {segment.name!r}", key)
            child = element.children.get(segment.name)
            if child is None:
                known = ", ".join(element.children) or "none"
                raise _Bad(
                    f"{segment.name!r} is not an element of {element.name} (elements: {known})",
                    key,
                )
            selector = segment.selector
            if selector is not None:
                if not child.repeated:
                    raise _Bad(f"{segment.name} does not repeat; it takes no selector", key)
                if selector.kind == "match":
                    field_ = (child.children or {}).get(selector.key)
                    if field_ is None or field_.children is not None:
                        raise _Bad(
                            f"selector key {selector.key!r} is not a simple element of "
                            f"{segment.name}",
                            key,
                        )
            elif child.repeated and not last:
                raise _Bad(
                    f"{segment.name} repeats; select one item ([key=value], [n]) or use [*]",
                    key,
                )
            element = child
        return element

    def canonical_shape(self, path: Path, site: Site, key: Key, *, write: bool) -> Shape:
        if write and not path.writable:
            raise _Bad(
                f"{path} cannot be written (only [key=value] selectors, not on the end)", key
            )
        try:
            shape = canonical.resolve(path, site.canonical_scope, site.canonical_root)
        except CanonicalPathError as exc:
            raise _Bad(f"{path}: {exc}", key) from None
        return shape

    def xpath(self, expression: str, site: Site, key: Key) -> XPathReader:
        try:
            compiled = etree.XPath(expression, namespaces=site.namespaces, smart_strings=False)
        except etree.XPathSyntaxError as exc:
            raise _Bad(f"XPath {expression!r} does not compile: {exc}", key) from None
        probe_root = etree.Element("probe")
        probe = etree.SubElement(probe_root, site.record or "probe")
        try:
            compiled(probe)
        except etree.XPathError as exc:
            raise _Bad(f"XPath {expression!r} cannot be evaluated: {exc}", key) from None
        for prefix, local in _qualified_names(expression):
            namespace = site.namespaces.get(prefix)
            if namespace is None:
                raise _Bad(f"XPath prefix {prefix!r} is not declared in namespaces", key)
            schema = self.ctx.schemas.get(namespace)
            if schema is not None and local not in schema.names:
                raise _Bad(
                    f"XPath {expression!r}: {schema.path.name} declares no element {local!r}",
                    key,
                )
        return XPathReader(expression, compiled)

    # ------------------------------------------------------------------ conditions

    def condition(self, spec: ConditionSpec, key: Key, site: Site) -> Condition:
        reader: Reader
        allowed: frozenset[str] | None = None
        if spec.canonical is not None:
            path = self.path(spec.canonical, (*key, "canonical"))
            shape = self.canonical_shape(path, site, (*key, "canonical"), write=False)
            allowed = shape.allowed if isinstance(shape, Scalar) else None
            reader = DictReader(path.prefixed(site.canonical_prefix))
            on_target = site.direction == "inbound"
        elif spec.legacy is not None:
            if site.world != "dict":
                raise _Bad("a document condition tests an xpath", (*key, "legacy"))
            path = self.path(spec.legacy, (*key, "legacy"))
            element = self.legacy_leaf(path, site, (*key, "legacy"), write=False)
            allowed = element.allowed
            reader = DictReader(path.prefixed(site.legacy_prefix))
            on_target = site.direction == "outbound"
        else:
            if site.world != "xpath":
                raise _Bad("xpath conditions belong to document maps", (*key, "xpath"))
            reader = self.xpath(spec.xpath or "", site, (*key, "xpath"))
            on_target = False
        given = spec._given()
        if "present" in given:
            return Condition(reader, on_target, "present", present=bool(spec.present))
        if "in" in given:
            values = spec.in_ or []
            test: Literal["equals", "not_equals", "in"] = "in"
        elif "equals" in given:
            values, test = [spec.equals], "equals"
        else:
            values, test = [spec.not_equals], "not_equals"
        texts = frozenset(as_text(v) for v in values)
        if allowed and not texts <= allowed:
            bad = ", ".join(sorted(texts - allowed))
            raise _Bad(f"{bad} can never occur here (one of: {', '.join(sorted(allowed))})", key)
        return Condition(reader, on_target, test, texts)

    # ------------------------------------------------------------------ list rules

    def list_rule(
        self,
        spec: RuleSpec,
        key: Key,
        source: SourceFile,
        site: Site,
        conditions: tuple[Condition, ...],
    ) -> Rule:
        assert spec.canonical is not None
        canonical_key = (*key, "canonical")
        path = self.path(spec.canonical[0], canonical_key)
        shape = self.canonical_shape(path, site, canonical_key, write=site.direction == "inbound")
        if isinstance(shape, Open):  # legacy_ids: free-form lists of ids
            item_shape: Shape = (
                Open() if spec.form == "list" else Keys({"key": Scalar(), "value": Open()})
            )
        elif spec.form == "map":
            if not isinstance(shape, MapOf):
                raise _Bad(f"{path} is not a mapping; form: map needs one", canonical_key)
            item_shape = shape.entry()
        else:
            if not isinstance(shape, ListOf):
                raise _Bad(f"{path} is not a list", canonical_key)
            item_shape = shape.of
        if site.world == "xpath":
            legacy_key = (*key, "xpath")
            reader: Reader = self.xpath(spec.xpath or "", site, legacy_key)
            item_element = None
        else:
            legacy_key = (*key, "legacy")
            legacy_path = self.path(spec.legacy or "", legacy_key)
            item_element = self.legacy_leaf(
                legacy_path, site, legacy_key, write=site.direction == "outbound"
            )
            if not item_element.repeated or item_element.children is None:
                raise _Bad(f"{legacy_path} is not a repeated complex element", legacy_key)
        multi = None
        if spec.multi is not None:
            multi_key = (*key, "multi")
            if item_element is not None and spec.multi.legacy not in (item_element.children or {}):
                raise _Bad(f"{spec.multi.legacy!r} is not an element of the items", multi_key)
            if item_shape.child(spec.multi.canonical) is None:
                raise _Bad(f"{spec.multi.canonical!r} is not a field of the items", multi_key)
            multi = Multi(spec.multi.legacy, spec.multi.canonical)
        inner = replace(
            site,
            canonical_scope=item_shape,
            legacy_scope=item_element,
            legacy_prefix=None,
            canonical_prefix=None,
            allow_many=multi.canonical if multi and site.direction == "inbound" else None,
        )
        rules = self.rules(spec.items or [], (*key, "items"), source, inner)
        canonical_path = path.prefixed(site.canonical_prefix)
        if site.direction == "outbound":
            legacy_path = self.path(spec.legacy or "", legacy_key).prefixed(site.legacy_prefix)
            return ListRule(
                self.where(source, key, site),
                DictReader(canonical_path, map_items=spec.form == "map"),
                Writer(legacy_path, leaf_list=True),
                rules,
                "outbound",
                conditions,
                spec.form,
                multi,
            )
        if site.world == "dict":
            legacy_path = self.path(spec.legacy or "", legacy_key).prefixed(site.legacy_prefix)
            reader = DictReader(legacy_path)
        return ListRule(
            self.where(source, key, site),
            reader,
            Writer(canonical_path, leaf_list=True),
            rules,
            "inbound",
            conditions,
            spec.form,
            multi,
            keep_empty=site.keep_empty,
        )

    # ------------------------------------------------------------------ field rules

    def field_rule(
        self,
        spec: RuleSpec,
        key: Key,
        source: SourceFile,
        site: Site,
        conditions: tuple[Condition, ...],
    ) -> Rule:
        outbound = site.direction == "outbound"
        if spec.has_const and site.fragment and spec.direction is None:
            raise _Bad("const in a fragment needs a direction", (*key, "const"))
        canonical_key = (*key, "canonical")
        legacy_key = (*key, "xpath" if site.world == "xpath" else "legacy")
        legacy_text = spec.xpath if site.world == "xpath" else spec.legacy
        canonical_texts = spec.canonical or []

        # the legacy side
        legacy_element: XsdElement | None = None
        legacy_reader: Reader | None = None
        legacy_writer: Writer | None = None
        if legacy_text is not None:
            if site.world == "xpath":
                legacy_reader = self.xpath(legacy_text, site, legacy_key)
            else:
                legacy_path = self.path(legacy_text, legacy_key)
                legacy_element = self.legacy_leaf(legacy_path, site, legacy_key, write=outbound)
                full = legacy_path.prefixed(site.legacy_prefix)
                if outbound:
                    legacy_writer = Writer(full, leaf_list=legacy_element.repeated)
                else:
                    legacy_reader = DictReader(full)
        elif not (outbound is False and spec.has_const):
            raise _Bad("names no legacy element" if site.world == "dict" else "names no xpath", key)

        # the canonical side
        canonical_shape: Shape | None = None
        canonical_reader: Reader | None = None
        canonical_writer: Writer | None = None
        if canonical_texts:
            if not outbound and len(canonical_texts) > 1 and not site.fragment:
                raise _Bad("an inbound rule writes one canonical field", canonical_key)
            parsed = [self.path(t, canonical_key) for t in canonical_texts]
            if outbound:
                readers = []
                for p in parsed:
                    shape = self.canonical_shape(p, site, canonical_key, write=False)
                    canonical_shape = canonical_shape or shape
                    readers.append(DictReader(p.prefixed(site.canonical_prefix)))
                canonical_reader = readers[0] if len(readers) == 1 else FirstOf(tuple(readers))
            else:
                target = parsed[0]
                canonical_shape = self.canonical_shape(target, site, canonical_key, write=True)
                many = site.allow_many == target.segments[-1].name and len(target.segments) == 1
                canonical_writer = Writer(
                    target.prefixed(site.canonical_prefix),
                    leaf_list=canonical_shape.is_list,
                    allow_many=many,
                )
        elif not (outbound and spec.has_const):
            raise _Bad("names no canonical field", key)

        # source, target and the steps between them
        transforms = self.transforms(spec, key, site)
        const = ConstReader(spec.const) if spec.has_const else None
        if outbound:
            read: Reader | None = const or canonical_reader
            write = legacy_writer
        else:
            read = const or legacy_reader
            write = canonical_writer
        if read is None or write is None:
            raise _Bad("has nothing to read or nowhere to write", key)
        self.check_enum_values(transforms, legacy_element, canonical_shape, site, key)
        default = spec.default if spec.has_default else MISSING
        return FieldRule(
            self.where(source, key, site), read, write, transforms, conditions, default
        )

    def transforms(self, spec: RuleSpec, key: Key, site: Site) -> tuple[Transform, ...]:
        steps: list[Step] = []
        for i, text in enumerate(spec.convert):
            try:
                steps.append(parse_step(text))
            except ValueError as exc:
                raise _Bad(
                    str(exc), (*key, "convert", i) if len(spec.convert) > 1 else (*key, "convert")
                ) from None
        enum: EnumStep | None = None
        if spec.enum is not None:
            table = self.ctx.enums.get(spec.enum)
            if table is None:
                known = ", ".join(sorted(self.ctx.enums)) or "none"
                raise _Bad(f"unknown enum table {spec.enum!r} (known: {known})", (*key, "enum"))
            enum = EnumStep(table, site.direction, skip_unknown=spec.unknown == "skip")
        elif spec.unknown == "skip":
            raise _Bad("unknown: skip needs an enum table", (*key, "unknown"))
        if site.fragment and site.direction == "inbound":
            try:
                undo = [inverse(s) for s in reversed(steps)]
            except ValueError as exc:
                raise _Bad(str(exc), (*key, "convert")) from None
            return tuple([enum, *undo] if enum else undo)
        return tuple([*steps, enum] if enum else steps)

    def check_enum_values(
        self,
        transforms: tuple[Transform, ...],
        element: XsdElement | None,
        shape: Shape | None,
        site: Site,
        key: Key,
    ) -> None:
        """An enum table whose codes the XSD type (or the canonical field) cannot hold is a
        load error, checked on the side the table's values reach directly."""
        if not transforms:
            return
        outbound = site.direction == "outbound"
        first, last = transforms[0], transforms[-1]
        legacy_adjacent = last if outbound else first
        canonical_adjacent = first if outbound else last
        if isinstance(legacy_adjacent, EnumStep) and element is not None and element.allowed:
            bad = legacy_adjacent.table.legacy_texts - element.allowed
            if bad:
                raise _Bad(
                    f"enum table {legacy_adjacent.table.name!r} has legacy values "
                    f"{sorted(bad)} that {element.simple_type} does not allow",
                    (*key, "enum"),
                )
        if isinstance(canonical_adjacent, EnumStep) and isinstance(shape, Scalar) and shape.allowed:
            bad = canonical_adjacent.table.canonical_texts - shape.allowed
            if bad:
                raise _Bad(
                    f"enum table {canonical_adjacent.table.name!r} has canonical values "
                    f"{sorted(bad)} that the field does not allow",
                    (*key, "enum"),
                )


_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_QNAME = re.compile(rf"(?<![\w:@$.\-])({_NAME}):({_NAME})(?![\w(:])")
_STRING = re.compile(r"'[^']*'|\"[^\"]*\"")
_AXIS = re.compile(r"[A-Za-z][A-Za-z-]*\s*::")


def _qualified_names(expression: str) -> Iterator[tuple[str, str]]:
    """``prefix:local`` element names in an XPath expression (not in string literals, not
    axes or functions)."""
    text = _AXIS.sub(" ", _STRING.sub("''", expression))
    for found in _QNAME.finditer(text):
        yield found.group(1), found.group(2)


def clark_name(qname: str, namespaces: dict[str, str]) -> str:
    """``prefix:local`` with the file's namespaces as ``{uri}local``, or ``ValueError``."""
    if ":" not in qname:
        return qname
    prefix, local = qname.split(":", 1)
    if prefix not in namespaces:
        raise ValueError(f"prefix {prefix!r} is not declared in namespaces")
    return f"{{{namespaces[prefix]}}}{local}"


# ----------------------------------------------------------------------------- the folder


@dataclass
class Loaded:
    """Everything compiled from one folder (see :class:`adapter.mapping.Mappings`)."""

    outbound: dict[str, Program] = field(default_factory=dict)
    inbound: dict[str, Program] = field(default_factory=dict)
    documents: dict[str, tuple[Program, str, str]] = field(default_factory=dict)
    # request documents: the Clark name of the body element → (operation, document)
    requests: dict[str, tuple[str, str]] = field(default_factory=dict)
    enums: dict[str, EnumTable] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # operation/document → file


def _parse(source: SourceFile) -> tuple[str, BaseModel] | list[Problem]:
    data = source.data
    if not isinstance(data, dict):
        return [Problem(source.name, "", "is not a YAML mapping", 1)]
    kinds = [k for k in FILE_KINDS if k in data]
    if len(kinds) != 1:
        message = "has none of the keys operation, fragment, document, enums"
        if kinds:
            message = f"has more than one of {', '.join(kinds)}"
        return [Problem(source.name, "", message, 1)]
    try:
        return kinds[0], FILE_KINDS[kinds[0]].model_validate(data)
    except ValidationError as exc:
        return list(_pydantic_problems(source, exc))


def load_folder(
    folder: FilePath,
    cil: XsdSchema,
    operations: dict[str, WsdlOperation],
    schemas: dict[str, XsdSchema],
) -> Loaded:
    """Compile every mapping file under ``folder``, or raise :class:`MappingError`."""
    problems: list[Problem] = []
    if not folder.is_dir():
        raise MappingError([Problem(str(folder), "", "is not a folder")])
    parsed: list[tuple[str, BaseModel, SourceFile]] = []
    for path in sorted(folder.rglob("*.yaml")):
        name = path.relative_to(folder).as_posix()
        try:
            source = read_yaml(path, name)
        except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
            line = None
            mark = getattr(exc, "problem_mark", None)
            if mark is not None:
                line = mark.line + 1
            problems.append(Problem(name, "", f"is not valid YAML: {exc}", line))
            continue
        for repeated in source.repeated:
            problems.append(
                Problem(name, key_text(repeated), "key given twice", source.line(repeated))
            )
        result = _parse(source)
        if isinstance(result, list):
            problems.extend(result)
        else:
            parsed.append((*result, source))

    enums: dict[str, EnumTable] = {}
    fragments: dict[str, tuple[FragmentFile, SourceFile]] = {}
    for _kind, model, source in parsed:
        if isinstance(model, EnumsFile):
            for table_name, table in model.enums.items():
                key: Key = ("enums", table_name)
                if table_name in enums:
                    problems.append(
                        Problem(
                            source.name, key_text(key), "enum table defined twice", source.line(key)
                        )
                    )
                    continue
                try:
                    enums[table_name] = EnumTable.build(
                        table_name, table.values, table.inbound_only, table.description or ""
                    )
                except ValueError as exc:
                    problems.append(Problem(source.name, key_text(key), str(exc), source.line(key)))
        elif isinstance(model, FragmentFile):
            if model.fragment in fragments:
                problems.append(
                    Problem(
                        source.name, "fragment", f"fragment {model.fragment!r} is defined twice", 1
                    )
                )
            fragments[model.fragment] = (model, source)

    context = Context(enums, fragments, schemas, problems)
    compiler = Compiler(context)
    loaded = Loaded(enums=enums)
    for _kind, model, source in parsed:
        if isinstance(model, OperationFile):
            _compile_operation(model, source, compiler, cil, operations, loaded)
        elif isinstance(model, DocumentFile):
            _compile_document(model, source, compiler, schemas, loaded)

    if context.problems:
        raise MappingError(context.problems)
    return loaded


def _compile_operation(
    model: OperationFile,
    source: SourceFile,
    compiler: Compiler,
    cil: XsdSchema,
    operations: dict[str, WsdlOperation],
    loaded: Loaded,
) -> None:
    ctx = compiler.ctx
    op = operations.get(model.operation)
    if op is None:
        known = ", ".join(sorted(operations))
        ctx.report(
            source, ("operation",), f"unknown operation {model.operation!r} (known: {known})"
        )
        return
    if model.operation in loaded.files:
        ctx.report(
            source,
            ("operation",),
            f"{model.operation} is already mapped in {loaded.files[model.operation]}",
        )
        return
    loaded.files[model.operation] = source.name
    request = cil.element(op.request)
    response = cil.element(op.response)
    if model.outbound is not None:
        inputs = (request.children or {}).get("inputAttributes")
        if inputs is None:
            ctx.report(source, ("outbound",), f"{op.request} has no inputAttributes")
        else:
            site = Site(
                f"{model.operation} outbound",
                "outbound",
                "dict",
                canonical.ROOT,
                legacy_scope=inputs,
                legacy_root=inputs,
            )
            rules = compiler.rules(model.outbound, ("outbound",), source, site)
            loaded.outbound[model.operation] = Program(site.label, rules)
    if model.inbound is not None:
        site = Site(
            f"{model.operation} inbound",
            "inbound",
            "dict",
            canonical.ROOT,
            legacy_scope=response,
            legacy_root=response,
        )
        rules = compiler.rules(model.inbound, ("inbound",), source, site)
        loaded.inbound[model.operation] = Program(site.label, rules)


def _compile_document(
    model: DocumentFile,
    source: SourceFile,
    compiler: Compiler,
    schemas: dict[str, XsdSchema],
    loaded: Loaded,
) -> None:
    ctx = compiler.ctx
    label = f"document {model.document}"
    if label in loaded.files:
        ctx.report(source, ("document",), f"{label} is already mapped in {loaded.files[label]}")
        return
    loaded.files[label] = source.name
    names: dict[str, str] = {}
    for field_name in ("root", "record"):
        qname = getattr(model, field_name)
        try:
            clark = clark_name(qname, model.namespaces)
        except ValueError as exc:
            ctx.report(source, (field_name,), str(exc))
            return
        namespace, _, local = clark[1:].partition("}") if clark.startswith("{") else ("", "", clark)
        schema = schemas.get(namespace)
        if schema is None:
            ctx.report(source, (field_name,), f"no schema in wsdl/ has the namespace {namespace!r}")
            return
        if local not in schema.names:
            ctx.report(source, (field_name,), f"{schema.path.name} declares no element {local!r}")
            return
        names[field_name] = clark
    site = Site(
        label,
        "inbound",
        "xpath",
        canonical.ROOT,
        namespaces=dict(model.namespaces),
        record=names["record"],
    )
    if model.request is not None:
        envelope = _request_envelope(model, source, ctx, loaded, names["record"])
        if envelope is None:
            return
        site = replace(site, canonical_scope=envelope, canonical_root=envelope, keep_empty=False)
    rules = compiler.rules(model.rules, ("rules",), source, site)
    loaded.documents[model.document] = (Program(label, rules), names["root"], names["record"])
    if model.request is not None:
        loaded.requests[names["record"]] = (model.request, model.document)


def _request_envelope(
    model: DocumentFile, source: SourceFile, ctx: Context, loaded: Loaded, record: str
) -> Shape | None:
    """The shape of the envelope of the operation a request document maps to, or None (and a
    problem reported) when the operation is unknown or already mapped."""
    from adapter.requests.envelope import OPERATIONS  # the envelope models, not the handlers

    operation = model.request or ""
    envelope = OPERATIONS.get(operation)
    if envelope is None:
        known = ", ".join(OPERATIONS)
        ctx.report(source, ("request",), f"unknown operation {operation!r} (known: {known})")
        return None
    for other_record, (other_operation, other_document) in loaded.requests.items():
        if other_operation == operation:
            where = loaded.files.get(f"document {other_document}", other_document)
            ctx.report(source, ("request",), f"{operation} is already mapped in {where}")
            return None
        if other_record == record:
            where = loaded.files.get(f"document {other_document}", other_document)
            ctx.report(source, ("record",), f"{model.record} is already mapped in {where}")
            return None
    return canonical.shape_of(envelope)
