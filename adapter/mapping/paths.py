"""Dotted field paths with list selectors, read from and written into nested dicts.

One small language serves both sides of a mapping: canonical paths
(``customer.identifications[type=tin].value``) and legacy element paths
(``infoFields.field[name=LOYALTY_TIER].value``). A segment is a name, optionally followed by a
selector:

- ``[key=value]`` the first list item whose ``key`` is ``value`` (compared as text); written
  to, it is found or appended as ``{key: value}``, so one rule can fill one item of a list;
- ``[*]`` every item (reading only): the rest of the path is read from each item, giving a
  list with one entry per item that has a value;
- ``[n]`` / ``[-n]`` the item at that position (reading only).

A path that starts with ``$.`` is read from the root of the document even inside the items of
a list rule. ``None`` and empty strings count as absent: a rule whose source is absent writes
nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal


class _Missing:
    """The value of a path that leads nowhere (distinct from an explicit ``None``)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


class PathSyntaxError(ValueError):
    """A path that does not follow the grammar above."""


@dataclass(frozen=True)
class Selector:
    kind: Literal["match", "all", "index"]
    key: str = ""
    value: str = ""
    index: int = 0

    def __str__(self) -> str:
        if self.kind == "match":
            return f"[{self.key}={self.value}]"
        if self.kind == "all":
            return "[*]"
        return f"[{self.index}]"


@dataclass(frozen=True)
class Segment:
    name: str
    selector: Selector | None = None

    def __str__(self) -> str:
        return self.name + (str(self.selector) if self.selector else "")


@dataclass(frozen=True)
class Path:
    text: str
    segments: tuple[Segment, ...]
    from_root: bool = False

    def __str__(self) -> str:
        return self.text

    @property
    def writable(self) -> bool:
        """Only ``[key=value]`` selectors, and none on the last segment, can be written."""
        last = self.segments[-1]
        inner_ok = all(s.selector is None or s.selector.kind == "match" for s in self.segments)
        return not self.from_root and last.selector is None and inner_ok

    def prefixed(self, prefix: Path | None) -> Path:
        if prefix is None or self.from_root:
            return self
        return Path(f"{prefix.text}.{self.text}", prefix.segments + self.segments)


_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[([^\]]*)\])?(\.|$)")
_MATCH = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*")
_INDEX = re.compile(r"\s*(-?[0-9]+)\s*")


def parse_path(text: str) -> Path:
    """The parsed form of ``text``, or :class:`PathSyntaxError` saying what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise PathSyntaxError("a path must be a non-empty string")
    body = text.strip()
    from_root = body.startswith("$.")
    if from_root:
        body = body[2:]
    segments: list[Segment] = []
    at = 0
    while at < len(body):
        found = _SEGMENT.match(body, at)
        if not found or found.end() == at:
            raise PathSyntaxError(f"cannot read {text!r} from {body[at:]!r} on")
        name, raw, dot = found.groups()
        segments.append(Segment(name, _selector(raw, text) if raw is not None else None))
        at = found.end()
        if dot == "." and at == len(body):
            raise PathSyntaxError(f"{text!r} ends with a dot")
    if not segments:
        raise PathSyntaxError(f"{text!r} names no field")
    return Path(text.strip(), tuple(segments), from_root)


def _selector(raw: str, text: str) -> Selector:
    if raw.strip() == "*":
        return Selector("all")
    index = _INDEX.fullmatch(raw)
    if index:
        return Selector("index", index=int(index.group(1)))
    match = _MATCH.fullmatch(raw)
    if match and match.group(2):
        return Selector("match", key=match.group(1), value=match.group(2))
    raise PathSyntaxError(f"selector [{raw}] in {text!r} is not [key=value], [*] or [n]")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def absent(value: Any) -> bool:
    return value is MISSING or value is None or value == "" or value == []


def read(node: Any, path: Path, root: Any = None) -> Any:
    """The value at ``path`` under ``node`` (or under ``root`` for a ``$.`` path), or
    :data:`MISSING`. A ``[*]`` selector gives a list of what each item holds."""
    start = root if path.from_root and root is not None else node
    found = _read(start, path.segments, 0)
    return MISSING if absent(found) else found


def _read(node: Any, segments: tuple[Segment, ...], i: int) -> Any:
    if i == len(segments):
        return node
    if not isinstance(node, Mapping):
        return MISSING
    segment = segments[i]
    child = node.get(segment.name)
    if child is None:
        return MISSING
    selector = segment.selector
    if selector is None:
        return _read(child, segments, i + 1)
    items = child if isinstance(child, list) else [child]
    if selector.kind == "match":
        for item in items:
            if isinstance(item, Mapping):
                value = item.get(selector.key)
                if value is not None and _text(value) == selector.value:
                    return _read(item, segments, i + 1)
        return MISSING
    if selector.kind == "index":
        try:
            return _read(items[selector.index], segments, i + 1)
        except IndexError:
            return MISSING
    found: list[Any] = []
    for item in items:
        value = _read(item, segments, i + 1)
        if not absent(value):
            found.append(value)
    return found


def container(node: dict[str, Any], path: Path) -> dict[str, Any]:
    """The dict that holds the last segment of ``path``, made (with the selected list items)
    on the way where missing. Only for paths that are :attr:`Path.writable`."""
    for segment in path.segments[:-1]:
        selector = segment.selector
        if selector is None:
            child = node.get(segment.name)
            if not isinstance(child, dict):
                child = node[segment.name] = {}
            node = child
            continue
        items = node.get(segment.name)
        if not isinstance(items, list):
            items = node[segment.name] = [] if items is None else [items]
        for item in items:
            if isinstance(item, dict) and _text(item.get(selector.key)) == selector.value:
                node = item
                break
        else:
            item = {selector.key: selector.value}
            items.append(item)
            node = item
    return node
